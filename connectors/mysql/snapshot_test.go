package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// parityColumns adds to the all-types table the variants whose TableMap
// encoding differs (pack lengths, multi-byte charsets, old-style widths,
// spatial subtypes, labels in latin1).
func parityColumns() [][2]string {
	return append(allTypesColumns(),
		[2]string{"tt", "TINYTEXT"}, [2]string{"mt", "MEDIUMTEXT"}, [2]string{"lt", "LONGTEXT CHARACTER SET latin1"},
		[2]string{"tb", "TINYBLOB"}, [2]string{"mb", "MEDIUMBLOB"}, [2]string{"lb", "LONGBLOB"},
		[2]string{"c255", "CHAR(255) CHARACTER SET utf8mb4"}, [2]string{"v3", "VARCHAR(100) CHARACTER SET utf8mb3"},
		[2]string{"uc", "VARCHAR(10) CHARACTER SET ucs2"}, [2]string{"cb", "CHAR(3) CHARACTER SET binary"},
		[2]string{"fu", "FLOAT UNSIGNED"}, [2]string{"d2", "DOUBLE(10,2)"}, [2]string{"dd", "DECIMAL"},
		[2]string{"dtm0", "DATETIME"}, [2]string{"ts3", "TIMESTAMP(3) NULL DEFAULT NULL"}, [2]string{"tm3", "TIME(3)"},
		[2]string{"bo", "BOOL NOT NULL DEFAULT 0"}, [2]string{"ls", "LINESTRING"}, [2]string{"gm", "GEOMETRY"},
		[2]string{"b8", "BIT(8)"}, [2]string{"y4", "YEAR(4)"},
		[2]string{"el", `ENUM('é','b\\c','x''y') CHARACTER SET latin1`}, [2]string{"sl", "SET('x','ÿ') CHARACTER SET latin1"},
	)
}

// TestSnapshotColumnsMatchTableMap checks that information_schema and the
// TableMap event describe every column identically (Type including SQL,
// nullability, collation) and name the same key, so the binlog that follows
// a snapshot records no spurious schema change; and that the SnapshotSource
// reads the all-types rows as the binlog path decodes them.
func TestSnapshotColumnsMatchTableMap(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	root := rootConn(t, m)
	var defs []string
	for _, cd := range parityColumns() {
		defs = append(defs, QuoteIdent(cd[0])+" "+cd[1])
	}
	execAll(t, root, "CREATE DATABASE types",
		"CREATE TABLE types.t ("+strings.Join(defs, ", ")+")",
		// The promoted key: a unique index of NOT NULL columns, no PRIMARY.
		"CREATE TABLE types.u (a INT, b VARCHAR(5) NOT NULL, c INT NOT NULL, UNIQUE KEY n (a), UNIQUE KEY k (c, b))",
		// A composite key in an order other than the columns'.
		"CREATE TABLE types.k (a INT, b VARCHAR(5), c DATETIME(3), PRIMARY KEY (c, a))",
		"CREATE TABLE types.n (a INT, b TEXT)",
		"SET SESSION sql_mode = ''",
		fmt.Sprintf("SET SESSION time_zone = '+%02d:%02d'", int(insertZone.Hours()), int(insertZone.Minutes())%60))

	names := make([]string, len(allTypesColumns()))
	for i, cd := range allTypesColumns() {
		names[i] = cd[0]
	}
	start := masterPos(t, root)
	for _, row := range allTypesRows() {
		var cols, vals []string
		for _, n := range names {
			if cl, ok := row[n]; ok {
				cols = append(cols, QuoteIdent(n))
				vals = append(vals, cl.sql)
			}
		}
		execAll(t, root, fmt.Sprintf("INSERT INTO types.t (%s) VALUES (%s)", strings.Join(cols, ", "), strings.Join(vals, ", ")))
	}
	execAll(t, root, "INSERT INTO types.u VALUES (1, 'x', 2)", "INSERT INTO types.k VALUES (1, 'x', NOW())", "INSERT INTO types.n VALUES (1, 'x')")
	end := masterPos(t, root)

	user := connect(t, m, m.User, m.UserPassword)
	seen := map[string]bool{}
	var fromBinlog [][]any
	var binlogCols []TableColumn
	for _, ev := range readBinlog(t, m, start, end) {
		tm := ev.table
		name := string(tm.Table)
		want, wantKey, err := ColumnsFromTableMap(tm)
		if err != nil {
			t.Fatalf("table map of %s: %v", name, err)
		}
		if name == "t" {
			binlogCols = want
			for _, raw := range ev.rows {
				row, _, err := decodeBinlogRow(want, raw)
				if err != nil {
					t.Fatalf("binlog row: %v", err)
				}
				fromBinlog = append(fromBinlog, row)
			}
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		got, gotKey, err := InfoSchemaColumns(user, "types", name)
		if err != nil {
			t.Fatalf("information_schema columns of %s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d columns from information_schema, %d from the table map", name, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Name != w.Name || g.Nullable != w.Nullable || g.Collation != w.Collation || !typesEqual(g.Type, w.Type) {
				t.Errorf("%s column %d:\ninformation_schema %+v\n         table map %+v", name, i, g, w)
			}
		}
		if !slices.Equal(gotKey, wantKey) {
			t.Errorf("%s key: information_schema %v, table map %v", name, gotKey, wantKey)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("table maps seen for %v, want t, u, k, n", seen)
	}

	// The snapshot source reads the same values (TIMESTAMPs too, with a
	// session zone that is not UTC by default).
	execAll(t, root, "SET GLOBAL time_zone = '-07:00'")
	cfg := sourceConfig(m, 0)
	cfg.Include = func(db, table string) bool { return db == "types" && table == "t" }
	snap, err := NewSnapshotSource(ctx, cfg)
	if err != nil {
		t.Fatalf("new snapshot source: %v", err)
	}
	defer snap.Close()
	events := drain(t, ctx, snap)
	var fromSnapshot [][]any
	for _, ev := range events[:len(events)-1] {
		r, ok := ev.(*ingest.Rows)
		if !ok {
			continue
		}
		for i, c := range r.Table.Columns {
			if c.Name != binlogCols[i].Name || !typesEqual(c.Type, binlogCols[i].Type) || c.Nullable != binlogCols[i].Nullable {
				t.Errorf("snapshot column %d %+v, table map %+v", i, c, binlogCols[i])
			}
		}
		fromSnapshot = append(fromSnapshot, r.After...)
	}
	compareRows(t, "snapshot source vs binlog", fromSnapshot, fromBinlog, binlogCols)
	if got := snap.ZeroDates(); got != allTypesZeroDates {
		t.Errorf("zero dates: %d, want %d", got, allTypesZeroDates)
	}
}

// drain reads a snapshot source to its end, checking the event shapes: Rows
// of RowSnapshot with one *Table per table, each table's rows together and
// followed by its TableComplete, then exactly one Commit at Position(),
// then io.EOF (twice).
func drain(t *testing.T, ctx context.Context, snap *SnapshotSource) []ingest.Event {
	t.Helper()
	var out []ingest.Event
	tables := map[string]*ingest.Table{}
	complete := map[string]bool{}
	var reading string // the table whose rows came last, until complete
	for {
		ev, err := snap.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("snapshot next: %v", err)
		}
		out = append(out, ev)
		switch e := ev.(type) {
		case *ingest.Rows:
			if e.Op != ingest.RowSnapshot || len(e.Before) != 0 || len(e.After) == 0 || e.Time <= 0 {
				t.Errorf("rows event op %d, %d before, %d after, time %d", e.Op, len(e.Before), len(e.After), e.Time)
			}
			n := e.Table.DB + "." + e.Table.Name
			if p, ok := tables[n]; ok && p != e.Table {
				t.Errorf("table %s: a new *Table for a later chunk", n)
			}
			if complete[n] || reading != "" && reading != n {
				t.Errorf("rows of %s while reading %q (complete: %v)", n, reading, complete[n])
			}
			tables[n], reading = e.Table, n
		case *ingest.TableComplete:
			n := e.Table.DB + "." + e.Table.Name
			if tables[n] != e.Table || reading != n {
				t.Errorf("%s complete while reading %q", n, reading)
			}
			complete[n], reading = true, ""
		case *ingest.DDL:
			if e.Op != ingest.DDLCreate || e.Table == nil {
				t.Errorf("ddl %+v: want the create of an empty table", e)
			}
		case *ingest.Commit:
			if e.End != snap.Position() || e.Time <= 0 {
				t.Errorf("commit %+v, want end %+v and a time", e, snap.Position())
			}
		default:
			t.Errorf("unexpected event %T", ev)
		}
	}
	if len(out) == 0 {
		t.Fatal("no events")
	}
	if _, ok := out[len(out)-1].(*ingest.Commit); !ok {
		t.Fatalf("last event %T, want *ingest.Commit", out[len(out)-1])
	}
	if reading != "" {
		t.Errorf("%s never complete", reading)
	}
	if _, err := snap.Next(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("next after the end: %v, want io.EOF", err)
	}
	return out
}

// writer keeps changing s.big and s.nokey until stopped.
type writer struct {
	ops  atomic.Int64
	stop chan struct{}
	done chan error
}

func startWriter(conn *client.Conn, seed uint64) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan error, 1)}
	rng := rand.New(rand.NewPCG(seed, 1))
	next := 30_000
	go func() {
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			default:
			}
			var q string
			switch rng.IntN(7) {
			case 0, 1:
				next++
				q = fmt.Sprintf("INSERT INTO s.big VALUES (%d, %d, 'new %d')", next, rng.IntN(1000), next)
			case 2:
				q = fmt.Sprintf("UPDATE s.big SET v = v + 1, s = 'upd' WHERE id = %d", 1+rng.IntN(next))
			case 3:
				q = fmt.Sprintf("DELETE FROM s.big WHERE id = %d", 1+rng.IntN(next))
			case 4:
				q = fmt.Sprintf("INSERT INTO s.nokey VALUES (%d, 'w')", rng.IntN(50))
			case 5:
				q = fmt.Sprintf("UPDATE s.nokey SET b = 'u' WHERE a = %d LIMIT 1", rng.IntN(50))
			default:
				q = fmt.Sprintf("DELETE FROM s.nokey WHERE a = %d LIMIT 1", rng.IntN(50))
			}
			if _, err := conn.Execute(q); err != nil {
				w.done <- fmt.Errorf("%s: %w", q, err)
				return
			}
			w.ops.Add(1)
		}
	}()
	return w
}

// waitOps polls until the writer has done at least n operations.
func (w *writer) waitOps(t *testing.T, n int64) {
	t.Helper()
	testenv.Eventually(t, 5*time.Minute, fmt.Sprintf("%d operations of the writer", n), func() error {
		if done := w.ops.Load(); done < n {
			return fmt.Errorf("it did %d", done)
		}
		return nil
	})
}

// grantFor gives the least-privilege user what a snapshot strategy needs,
// and no more: RELOAD for the global read lock, LOCK TABLES on the mirrored
// database for table locks.
func grantFor(t *testing.T, m *testenv.MariaDB, st SnapshotStrategy, db string) {
	t.Helper()
	switch st {
	case SnapshotGlobalReadLock:
		m.Exec(t, fmt.Sprintf("GRANT RELOAD ON *.* TO '%s'@'%%'", m.User))
	case SnapshotTableLocks:
		m.Exec(t, fmt.Sprintf("GRANT LOCK TABLES ON %s.* TO '%s'@'%%'", QuoteIdent(db), m.User))
	}
}

// lockingStrategies are the strategies that work on MariaDB, each forced.
var lockingStrategies = []SnapshotStrategy{SnapshotBinlogSnapshot, SnapshotGlobalReadLock, SnapshotTableLocks}

// TestSnapshotThenBinlog snapshots two tables while a writer changes them,
// then streams the binlog from the snapshot's position: the lake must equal
// the tables, and the snapshot must be one commit; with each strategy.
// With three readers each table is read on a connection of its own, each
// in a transaction of the same read view.
func TestSnapshotThenBinlog(t *testing.T) {
	for _, st := range lockingStrategies {
		for _, readers := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/readers=%d", st, readers), func(t *testing.T) { testSnapshotThenBinlog(t, st, readers) })
		}
	}
}

func testSnapshotThenBinlog(t *testing.T, strategy SnapshotStrategy, readers int) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	grantFor(t, m, strategy, "s")
	m.Exec(t, "CREATE DATABASE s",
		"CREATE TABLE s.big (id INT PRIMARY KEY, v INT, s VARCHAR(40))",
		"CREATE TABLE s.nokey (a INT, b VARCHAR(10))",
		"CREATE TABLE s.empty (id BIGINT UNSIGNED PRIMARY KEY, t TEXT)",
		"INSERT INTO s.big SELECT seq, seq % 1000, CONCAT('row ', seq) FROM s.seq_1_to_20000",
		"INSERT INTO s.nokey SELECT seq % 50, 'init' FROM s.seq_1_to_500")
	w := startWriter(rootConn(t, m), 42)
	var stopOnce sync.Once
	stopWriter := func() {
		stopOnce.Do(func() {
			close(w.stop)
			if err := <-w.done; err != nil {
				t.Errorf("writer: %v", err)
			}
		})
	}
	defer stopWriter()
	w.waitOps(t, 50)

	l := newLake(t, ctx)
	cfg := sourceConfig(m, 0)
	cfg.Include = func(db, _ string) bool { return db == "s" }
	cfg.SnapshotStrategy = strategy
	cfg.SnapshotReaders = readers

	// Closing a snapshot in the middle of a table stops its readers.
	early, err := NewSnapshotSource(ctx, cfg)
	if err != nil {
		t.Fatalf("new snapshot source: %v", err)
	}
	if ev, err := early.Next(ctx); err != nil {
		t.Fatalf("first snapshot event: %v", err)
	} else if r, ok := ev.(*ingest.Rows); !ok || r.Table.Name != "big" || len(r.After) != snapshotChunkRows {
		t.Errorf("first snapshot event %T: want a full chunk of s.big", ev)
	}
	if err := early.Close(); err != nil {
		t.Errorf("close mid-table: %v", err)
	}

	var logs lockedBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	began := time.Now()
	snap, err := NewSnapshotSource(ctx, cfg)
	if err != nil {
		t.Fatalf("new snapshot source: %v", err)
	}
	defer snap.Close()
	pos := snap.Position()
	if pos.GTIDSet == "" || pos.File == "" || pos.Pos == 0 {
		t.Fatalf("snapshot position %+v: want a GTID set and a file position", pos)
	}
	if got := snap.Strategy(); got != strategy {
		t.Errorf("strategy %q, want %q", got, strategy)
	}
	// Under a lock every reader starts in the same read view; without one
	// only those the server places at the same position read (the writer's
	// commits may leave fewer).
	if got := snap.Readers(); got != readers && (strategy != SnapshotBinlogSnapshot || got < 1 || got > readers) {
		t.Errorf("%d readers, want %d", got, readers)
	}
	t.Logf("%d of %d readers share the read view", snap.Readers(), readers)
	// Progress is read while the readers run (as the daemon's follower
	// does), and ends with every table read.
	polled := make(chan struct{})
	stopPolling := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stopPolling:
				return
			case <-time.After(time.Millisecond): // a follower's pace, not synchronisation
				snap.Progress()
			}
		}
	}()
	if err := ingest.New(l, ingest.Options{MemoryBudget: 1 << 20, CommitInterval: 50 * time.Millisecond}).Run(ctx, snap); err != nil {
		t.Fatalf("ingest snapshot: %v", err)
	}
	close(stopPolling)
	<-polled
	final := snap.Progress()
	t.Logf("snapshot at %s ingested in %v", pos, time.Since(began))
	opsAfter := w.ops.Load()
	w.waitOps(t, opsAfter+50)
	stopWriter()

	st, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 2 {
		t.Errorf("lake at version %d after the snapshot, want 2 (create, one snapshot commit)", st.Version)
	}
	e, err := l.Entry(ctx, 2)
	if err != nil {
		t.Fatalf("entry 2: %v", err)
	}
	if e.Progress.Position != pos {
		t.Errorf("snapshot commit position %+v, want %+v", e.Progress.Position, pos)
	}
	var files, rows int64
	perTable := map[int64]int{}
	for _, a := range e.Add {
		files++
		rows += a.Rows
		perTable[a.TableID]++
	}
	most := 0
	for _, n := range perTable {
		most = max(most, n)
	}
	if len(perTable) != 2 || most < 2 {
		t.Errorf("snapshot commit files per table %v: want both tables, s.big spilled in parts", perTable)
	}
	pinned := `msg="snapshot lock released" strategy=` + string(strategy)
	if strategy == SnapshotBinlogSnapshot {
		pinned = `msg="snapshot position pinned without a lock" strategy=binlog_snapshot`
	}
	for _, want := range []string{
		pinned,
		`msg="snapshot table started" table=s.big estimated_rows=`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("snapshot log lacks %q:\n%s", want, logs.String())
		}
	}
	// The tables' rows in the log are the commit's (how many the writer
	// added before the pin depends on the machine's speed).
	var logged int64
	for _, table := range []string{"s.big", "s.nokey"} {
		m := regexp.MustCompile(`msg="snapshot table done" table=` + regexp.QuoteMeta(table) + ` rows=(\d+)`).FindStringSubmatch(logs.String())
		if m == nil {
			t.Errorf("snapshot log lacks the rows of %s:\n%s", table, logs.String())
			continue
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		logged += n
	}
	if logged != rows {
		t.Errorf("the snapshot log counts %d rows of s.big and s.nokey, the commit holds %d", logged, rows)
	}
	if final.Tables != 3 || final.TablesDone != 3 || final.Rows != rows || len(final.Reading) != 0 || final.Started.IsZero() {
		t.Errorf("progress at the end %+v: want 3 tables read, %d rows, none reading", final, rows)
	}
	// The total, at the end of the read (s.empty has none).
	if m := regexp.MustCompile(`msg="snapshot read" tables_done=3 tables=3 rows=(\d+) `).FindStringSubmatch(logs.String()); m == nil || m[1] != fmt.Sprint(rows) {
		t.Errorf("the snapshot log's total %v, want the commit's %d rows", m, rows)
	}
	t.Logf("snapshot log:\n%s", logs.String())
	t.Logf("snapshot commit: kind %s, %d files, %d rows, %d ops by the writer so far", e.Kind, files, rows, opsAfter)

	if got, want := lakeTableNames(t, ctx, l), []string{"s.big", "s.empty", "s.nokey"}; !slices.Equal(got, want) {
		t.Errorf("lake tables after the snapshot %v, want %v", got, want)
	}
	if n := assertMirrors(t, ctx, l, m, "s", "empty"); n != 0 {
		t.Errorf("s.empty: %d rows, want 0", n)
	}

	src := openSource(t, ctx, m, 700, pos)
	if err := ingest.New(l, ingest.Options{CommitInterval: 50 * time.Millisecond}).Run(ctx, src); err != nil {
		t.Fatalf("ingest binlog: %v", err)
	}
	big := assertMirrors(t, ctx, l, m, "s", "big")
	nokey := assertMirrors(t, ctx, l, m, "s", "nokey")
	if big < 19_000 || nokey == 0 {
		t.Errorf("big %d rows, nokey %d: want about 20000 and some", big, nokey)
	}
	t.Logf("lake mirrors s.big (%d rows) and s.nokey (%d rows) after %d writer ops", big, nokey, w.ops.Load())
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSnapshotConfigRefused: an unknown flavour or strategy is refused
// before connecting.
func TestSnapshotConfigRefused(t *testing.T) {
	_, err := NewSnapshotSource(context.Background(), SourceConfig{Flavor: "postgres"})
	if !errors.Is(err, ErrSnapshotUnsupported) {
		t.Errorf("postgres flavor: %v, want ErrSnapshotUnsupported", err)
	}
	_, err = NewSnapshotSource(context.Background(), SourceConfig{Flavor: "mysql", SnapshotStrategy: "backup_lock"})
	if err == nil || !strings.Contains(err.Error(), "global_read_lock") {
		t.Errorf("unknown strategy: %v, want an error listing the strategies", err)
	}
}

// TestTypeFromColumnType covers the COLUMN_TYPE spellings the server test
// does not produce and the refusals.
func TestTypeFromColumnType(t *testing.T) {
	const utf8mb4 = 45 // utf8mb4_general_ci
	tests := []struct {
		colType string
		coll    uint64
		want    tableformat.Type
	}{
		{"int(8) unsigned zerofill", 0, tableformat.Type{Kind: tableformat.KindInt, Unsigned: true, SQL: "int unsigned"}},
		{"tinyint(1)", 0, tableformat.Type{Kind: tableformat.KindTinyInt, SQL: "tinyint"}},
		{"DECIMAL(65,30) UNSIGNED", 0, tableformat.Type{Kind: tableformat.KindDecimal, Unsigned: true, Precision: 65, Scale: 30, SQL: "decimal(65,30) unsigned"}},
		{"double precision", 0, tableformat.Type{Kind: tableformat.KindDouble, SQL: "double"}},
		{"float(7,4) unsigned", 0, tableformat.Type{Kind: tableformat.KindFloat, Unsigned: true, SQL: "float unsigned"}},
		{"datetime(3)", 0, tableformat.Type{Kind: tableformat.KindDatetime, FSP: 3, SQL: "datetime(3)"}},
		{"time", 0, tableformat.Type{Kind: tableformat.KindTime, SQL: "time"}},
		{"year", 0, tableformat.Type{Kind: tableformat.KindYear, SQL: "year(4)"}},
		{"varchar(20)", utf8mb4, tableformat.Type{Kind: tableformat.KindVarchar, Charset: "utf8mb4", SQL: "varchar(20)"}},
		{"binary(4)", 0, tableformat.Type{Kind: tableformat.KindBinary, Length: 4, SQL: "binary(4)"}},
		{"mediumblob", 0, tableformat.Type{Kind: tableformat.KindBlob, SQL: "mediumblob"}},
		{"multipolygon", 0, tableformat.Type{Kind: tableformat.KindGeometry, SQL: "geometry"}},
		{"uuid", 0, tableformat.Type{Kind: tableformat.KindUUID, SQL: "uuid"}},
		{"inet4", 0, tableformat.Type{Kind: tableformat.KindInet4, SQL: "inet4"}},
		{"INET6", 0, tableformat.Type{Kind: tableformat.KindInet6, SQL: "inet6"}},
		{`enum('a,b','it''s','\\x',')')`, utf8mb4, tableformat.Type{Kind: tableformat.KindEnum, Charset: "utf8mb4",
			Elems: []string{"a,b", "it's", `\x`, ")"}, SQL: `enum('a,b','it''s','\x',')')`}},
		{"set('A','b')", utf8mb4, tableformat.Type{Kind: tableformat.KindSet, Charset: "utf8mb4", Elems: []string{"A", "b"}, SQL: "set('A','b')"}},
	}
	for _, tc := range tests {
		got, _, err := typeFromColumnType(tc.colType, tc.coll)
		if err != nil {
			t.Errorf("%q: %v", tc.colType, err)
			continue
		}
		if !typesEqual(got, tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.colType, got, tc.want)
		}
	}
	for _, bad := range []string{"vector(3)", "enum('a'", "decimal(x,2)", "enum(a)"} {
		if _, _, err := typeFromColumnType(bad, utf8mb4); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestSnapshotSkipsTableDroppedMeanwhile: a table dropped after the
// snapshot planned it but before it was read is skipped with a warning (its
// DROP follows in the binlog from the snapshot's position); the others are
// read whole.
func TestSnapshotSkipsTableDroppedMeanwhile(t *testing.T) {
	ctx := context.Background()
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE g", "CREATE TABLE g.a (id INT PRIMARY KEY) DEFAULT CHARSET cp1251", "CREATE TABLE g.b (id INT PRIMARY KEY)",
		"INSERT INTO g.a VALUES (1), (2)", "INSERT INTO g.b VALUES (3)")
	cfg := sourceConfig(m, 0)
	cfg.Include = func(db, _ string) bool { return db == "g" }
	var logs lockedBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	snap, err := NewSnapshotSource(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if n := len(snap.Tables()); n != 2 {
		t.Fatalf("planned %d tables, want 2", n)
	}
	// The tables' default charsets come with them (the server's default
	// for g.b: utf8mb4 on these servers).
	if a, b := snap.Tables()[0].Charset, snap.Tables()[1].Charset; a != "cp1251" || b == "" {
		t.Errorf("table charsets %q, %q: want cp1251 and the server's default", a, b)
	}
	m.Exec(t, "DROP TABLE g.b") // before the first Next reads anything
	var rows int
	for _, ev := range drain(t, ctx, snap) {
		if r, ok := ev.(*ingest.Rows); ok {
			if r.Table.Name != "a" {
				t.Errorf("rows of %s.%s", r.Table.DB, r.Table.Name)
			}
			rows += len(r.After)
		}
	}
	if rows != 2 {
		t.Errorf("%d rows of g.a, want 2", rows)
	}
	if !strings.Contains(logs.String(), "g.b") {
		t.Errorf("no warning naming g.b: %s", logs.String())
	}
}

// TestSnapshotETA: the time left is estimated from the rate of rows against
// the estimates or the rate of tables, whichever is further.
func TestSnapshotETA(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	now := start.Add(10 * time.Second)
	for _, c := range []struct {
		sp   SnapshotProgress
		want time.Duration
	}{
		{SnapshotProgress{Tables: 10000, TablesDone: 2000, Rows: 6000, EstimatedRows: 30000, Started: start}, 40 * time.Second},
		{SnapshotProgress{Tables: 4, TablesDone: 2, Rows: 1000, EstimatedRows: 10000, Started: start}, 90 * time.Second},
		{SnapshotProgress{Tables: 4, TablesDone: 0, Rows: 0, EstimatedRows: 0, Started: start}, 0},
		{SnapshotProgress{Tables: 4, TablesDone: 4, Rows: 5000, EstimatedRows: 4000, Started: start}, 0},
		{SnapshotProgress{Tables: 4}, 0},
	} {
		if got := c.sp.ETA(now); got != c.want {
			t.Errorf("%+v: ETA %v, want %v", c.sp, got, c.want)
		}
	}
}
