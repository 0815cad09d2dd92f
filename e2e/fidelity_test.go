package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// The fidelity harness compares the lake with the source itself, not with
// a model: after every step (a statement or a few, run against the real
// MariaDB) it reads each table of the source back with SELECT and keeps
// its CSV (the oracle of query_test.go, from the values the snapshot
// decoder gives); at the end `binlake query` must give the same CSV as of
// each step's GTID set and as of its time, at the latest point, and again
// after `binlake compact` and `binlake vacuum`. Each step runs with its own
// session timestamp (one second apart), so "as of a time" names exactly one
// step, and CURRENT_TIMESTAMP defaults are known.

type fidelity struct {
	t      *testing.T
	e      *env
	conn   *sql.Conn
	store  tableformat.Store
	base   int64 // the first step's session timestamp, seconds
	stamps int64 // session timestamps given out, one a second from base
	tables []string
	steps  []fstep
	daemon *daemonRun
}

type fstep struct {
	what string
	gtid string
	at   time.Time
	csv  map[string]string // db.table → CSV of SELECT * ORDER BY the key
	// feeds holds, for a statement that writes no rows (ddl), the change
	// feed the re-snapshot it caused must show for each table it changed:
	// db.table → sorted "op,record" lines.
	feeds map[string][]string
}

// newFidelity starts a source with database shop, an empty lake and the
// daemon; tables lists the db.table names compared after every step.
func newFidelity(t *testing.T, tables ...string) *fidelity { return newFidelityWith(t, "", tables...) }

// newFidelityWith is newFidelity with sourceYAML (indented keys) in the
// config's source section.
func newFidelityWith(t *testing.T, sourceYAML string, tables ...string) *fidelity {
	e := newEnvOn(t, testenv.StartMariaDB(t), sourceYAML)
	conn, err := e.db.RootDB(t, "").Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Steps are stamped an hour ahead of the clock: after the initial
	// snapshot (stamped with the server's clock), so each step's effective
	// time is its own.
	f := &fidelity{t: t, e: e, conn: conn, store: e.store(), tables: tables, base: time.Now().Add(time.Hour).Unix()}
	f.sql("SET sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'")
	return f
}

func (f *fidelity) sql(stmts ...string) {
	f.t.Helper()
	for _, s := range stmts {
		if _, err := f.conn.ExecContext(context.Background(), s); err != nil {
			f.t.Fatalf("%s: %v", s, err)
		}
	}
}

// start runs the daemon from the server's current position (a new lake
// snapshots what the source holds).
func (f *fidelity) start() {
	d := &daemonRun{cmd: f.e.ingest(), done: make(chan error, 1)}
	f.daemon = d
	go func() { d.done <- d.cmd.Wait() }()
	f.t.Cleanup(func() { d.term() })
	f.settle(binlogPos(f.t, f.e.db)) // the initial snapshot is committed before any step
}

// stop ends the daemon with SIGTERM: a clean exit.
func (f *fidelity) stop() {
	f.t.Helper()
	if err := f.daemon.term(); err != nil {
		f.t.Fatalf("binlake ingest exited with %v on SIGTERM, want 0", err)
	}
}

// step runs stmts at the next session timestamp, then records the GTID
// set and every table's contents, and waits until the lake has the step
// (and any re-snapshot it caused) committed.
func (f *fidelity) step(what string, stmts ...string) { f.run(false, what, stmts...) }

// ddl is step for DDL that changes rows without row events: the
// re-snapshot it causes must commit exactly the rows that changed, as the
// change feed shows them.
func (f *fidelity) ddl(what string, stmts ...string) { f.run(true, what, stmts...) }

func (f *fidelity) run(ddl bool, what string, stmts ...string) {
	f.t.Helper()
	f.action(ddl, what, func() { f.sql(stmts...) })
}

// action runs act (statements, a command) at the next session timestamp
// and records the step: see step; with ddl, the re-snapshots committed
// meanwhile must hold exactly the rows that changed.
func (f *fidelity) action(ddl bool, what string, act func()) {
	f.t.Helper()
	at := f.nextAt()
	before := f.source()
	v0 := f.version()
	f.sql(fmt.Sprintf("SET timestamp = %d", at.Unix()))
	act()
	f.sql("SET timestamp = DEFAULT")
	st := fstep{what: what, gtid: binlogPos(f.t, f.e.db), at: at, csv: f.source()}
	f.steps = append(f.steps, st)
	f.settle(st.gtid)
	if ddl {
		f.checkFeeds(what, v0, before, st.csv)
	}
}

// nextAt is the session timestamp of the next statements: one second
// after the last's.
func (f *fidelity) nextAt() time.Time {
	f.stamps++
	return time.Unix(f.base+f.stamps-1, 0).UTC()
}

// peekAt is the session timestamp nextAt gives next.
func (f *fidelity) peekAt() time.Time { return time.Unix(f.base+f.stamps, 0).UTC() }

// unrecorded runs stmts at the next session timestamp without recording a
// step: the lake is not compared with the source there (a point inside a
// re-snapshot's window, docs/guarantees.md), and nothing waits for it.
func (f *fidelity) unrecorded(stmts ...string) {
	f.t.Helper()
	f.sql(fmt.Sprintf("SET timestamp = %d", f.nextAt().Unix()))
	f.sql(stmts...)
	f.sql("SET timestamp = DEFAULT")
}

// source reads every compared table of the source.
func (f *fidelity) source() map[string]string {
	out := map[string]string{}
	for _, name := range f.tables {
		out[name] = sourceCSV(f.t, f.e.db.Addr(), f.e.db.RootUser, f.e.db.RootPassword, name)
	}
	return out
}

func (f *fidelity) version() int64 {
	st, err := tableformat.NewLog(f.store, tableformat.LogOptions{}).Latest(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return st.Version
}

// checkFeeds compares the change feed of each re-snapshot committed after
// version v0 with the difference of its table's contents before and after
// the step: rows gone are deletes, new rows inserts, changed rows an
// update_before (the old row as the lake read it under the new schema, see
// feedColumns) and an update_after. A table that changed must have had its
// re-snapshot.
func (f *fidelity) checkFeeds(what string, v0 int64, before, after map[string]string) {
	f.t.Helper()
	l := tableformat.NewLog(f.store, tableformat.LogOptions{})
	st, err := l.Latest(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	st0, err := l.StateAt(context.Background(), v0)
	if err != nil {
		f.t.Fatal(err)
	}
	seen := map[string]bool{}
	q := newQuerier(f.t, f.e)
	for v := v0 + 1; v <= st.Version; v++ {
		e, err := l.Entry(context.Background(), v)
		if err != nil {
			f.t.Fatal(err)
		}
		if e.Kind != tableformat.KindResnapshot {
			continue
		}
		for _, op := range e.Resnapshot {
			name := op.DB + "." + op.Name
			seen[name] = true
			want := feedOf(before[name], after[name], feedColumns(st, op.DB, op.Name, st0.Progress.MaxSeq, e.Progress.PrevSeq))
			out, errOut, code := q.query(fmt.Sprintf("SELECT _binlake_op, * EXCLUDE (_binlake_op, _binlake_seq, _binlake_ts) FROM %s.%s(%d, %d)",
				dq(op.DB), dq(op.Name+"_changes"), e.Progress.PrevSeq, e.Progress.MaxSeq))
			if code != 0 {
				f.t.Fatalf("after %q: the change feed of %s: exit %d: %s", what, name, code, errOut)
			}
			recs := csvRecords(out)
			got := slices.Sorted(slices.Values(recs[1:]))
			if !slices.Equal(got, want) {
				f.t.Errorf("after %q: the re-snapshot of %s (version %d) changed\n%s\nwant\n%s", what, name, v,
					strings.Join(got, ""), strings.Join(want, ""))
			}
		}
	}
	for name := range after {
		db, table, _ := strings.Cut(name, ".")
		if len(feedOf(before[name], after[name], feedColumns(st, db, table, st0.Progress.MaxSeq, st.Progress.MaxSeq))) > 0 && !seen[name] {
			f.t.Errorf("after %q: %s changed without row events and was not re-snapshotted", what, name)
		}
	}
}

// feedColumns maps each column of db.name's schema at seq (the lake's
// schema when the re-snapshot's changes apply) to the name the column had
// at seq0, before the step: a column keeps its id through a rename and
// through a type change whose new type reads the stored values; a column
// added, or one whose values the new type cannot read (FORMAT.md §12: it
// took a new id, its old rows read NULL), maps to "". Names are CSV header
// fields. nil: the table is not in the lake at both points.
func feedColumns(st *tableformat.State, db, name string, seq0, seq int64) map[string]string {
	t, ok := st.TableByName(db, name, seq)
	if !ok || !t.ExistsAt(seq0) {
		return nil
	}
	old := t.SchemaAt(seq0)
	m := map[string]string{}
	for _, c := range t.SchemaAt(seq).Columns {
		m[csvField(c.Name, false)] = ""
		if o, ok := old.ColumnByID(c.ID); ok {
			m[csvField(c.Name, false)] = csvField(o.Name, false)
		}
	}
	return m
}

// feedOf is the change feed, as sorted "op,record" lines, that turns the
// CSV before into after (records keyed by their first field, or a
// multiset when keyless). cols maps the new header's columns to the old
// header's (see feedColumns); nil: by name.
func feedOf(before, after string, cols map[string]string) []string {
	if before == "" || after == "" {
		return nil
	}
	keyless := strings.HasSuffix(after, "\x00keyless")
	b, a := csvRecords(strings.TrimSuffix(before, "\x00keyless")), csvRecords(strings.TrimSuffix(after, "\x00keyless"))
	hdrB, hdrA := csvFields(b[0]), csvFields(a[0])
	// Old records in the new header's columns: NULL in a column added.
	project := func(rec string) string {
		fs := csvFields(rec)
		out := make([]string, len(hdrA))
		for i, h := range hdrA {
			if cols != nil {
				h = cols[h]
			}
			if j := slices.Index(hdrB, h); j >= 0 && h != "" {
				out[i] = fs[j]
			}
		}
		return strings.Join(out, ",") + "\n"
	}
	var feed []string
	if keyless {
		count := map[string]int{}
		for _, r := range b[1:] {
			count[project(r)]--
		}
		for _, r := range a[1:] {
			count[r]++
		}
		for r, n := range count {
			op := "insert,"
			if n < 0 {
				op, n = "delete,", -n
			}
			for range n {
				feed = append(feed, op+r)
			}
		}
		slices.Sort(feed)
		return feed
	}
	key := func(rec string) string { return csvFields(rec)[0] }
	old := map[string]string{}
	for _, r := range b[1:] {
		old[key(r)] = project(r)
	}
	for _, r := range a[1:] {
		o, ok := old[key(r)]
		switch {
		case !ok:
			feed = append(feed, "insert,"+r)
		case o != r:
			feed = append(feed, "update_before,"+o, "update_after,"+r)
		}
		delete(old, key(r))
	}
	for _, o := range old {
		feed = append(feed, "delete,"+o)
	}
	slices.Sort(feed)
	return feed
}

// requested returns, in log order, the reasons of the re-snapshots the lake
// was asked for of db.table (FORMAT.md §15: request operations).
func (f *fidelity) requested(name string) []string {
	f.t.Helper()
	l := tableformat.NewLog(f.store, tableformat.LogOptions{})
	st, err := l.Latest(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for v := int64(1); v <= st.Version; v++ {
		e, err := l.Entry(context.Background(), v)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, op := range e.Resnapshot {
			if op.Op == tableformat.ResnapshotRequest && op.DB+"."+op.Name == name {
				out = append(out, op.Reason)
			}
		}
	}
	return out
}

// settle waits until the lake holds gtid and no re-snapshot is pending.
func (f *fidelity) settle(gtid string) {
	f.t.Helper()
	waitForGTID(f.t, f.store, gtid, 90*time.Second)
	testenv.Eventually(f.t, 3*time.Minute, "the lake's re-snapshots committed", func() error {
		st, err := tableformat.NewLog(f.store, tableformat.LogOptions{}).Latest(context.Background())
		if err == nil && len(st.Resnapshots) > 0 {
			err = fmt.Errorf("%d pending, the first of %s.%s", len(st.Resnapshots), st.Resnapshots[0].DB, st.Resnapshots[0].Name)
		}
		return err
	})
}

// check compares the lake with every step's recorded contents, through
// `binlake query` as of each step's GTID set and time, and at the latest
// point.
func (f *fidelity) check(label string) {
	f.t.Helper()
	q := newQuerier(f.t, f.e)
	var diffs []string
	compare := func(st fstep, point string, args ...string) {
		for _, name := range f.tables {
			want, ok := st.csv[name]
			if !ok {
				continue
			}
			out, errOut, code := q.query(sourceOrder(f.t, f.e.db.Addr(), f.e.db.RootUser, f.e.db.RootPassword, name, want), args...)
			if want == "" { // the table does not exist at this step
				if code == 0 {
					diffs = append(diffs, fmt.Sprintf("%s, %s, %s: the lake has the table, the source has none", label, st.what, point))
				}
				continue
			}
			if code != 0 {
				diffs = append(diffs, fmt.Sprintf("%s, %s, %s: %s: exit %d: %s", label, st.what, point, name, code, strings.TrimSpace(errOut)))
				continue
			}
			if !strings.Contains(want, "\x00keyless") {
				if out != want {
					diffs = append(diffs, fmt.Sprintf("%s, after %q, %s: %s differs:\n%s", label, st.what, point, name, csvDiff(out, want)))
				}
				continue
			}
			want = strings.TrimSuffix(want, "\x00keyless")
			if sortRecords(out) != want {
				diffs = append(diffs, fmt.Sprintf("%s, after %q, %s: %s differs:\n%s", label, st.what, point, name, csvDiff(sortRecords(out), want)))
			}
		}
	}
	for _, st := range f.steps {
		compare(st, "as of GTID "+st.gtid, "--as-of-gtid", st.gtid)
		compare(st, "as of "+st.at.Format(time.RFC3339), "--as-of", st.at.Format(time.RFC3339))
	}
	compare(f.steps[len(f.steps)-1], "latest")
	if len(diffs) > 0 {
		f.t.Fatalf("the lake differs from the source:\n%s", strings.Join(diffs, "\n"))
	}
}

// checkAll checks, then compacts and vacuums (keeping every point) and
// checks again.
func (f *fidelity) checkAll() {
	f.t.Helper()
	f.check("ingested")
	if _, errOut, code := f.e.runCmd("compact", "-c", f.e.config, "--force"); code != 0 {
		f.t.Fatalf("binlake compact: exit %d: %s", code, errOut)
	}
	f.check("after compact")
	if _, errOut, code := f.e.runCmd("vacuum", "-c", f.e.config, "--retain", "8760h"); code != 0 {
		f.t.Fatalf("binlake vacuum: exit %d: %s", code, errOut)
	}
	f.check("after vacuum")
}

// sourceCSV reads db.table from the source as `binlake query --format csv
// "SELECT * FROM db.table ORDER BY key"` must print it: each value decoded
// as the snapshot reads it, rendered by the CSV oracle. A keyless table's
// records are sorted and marked; a missing table is "".
func sourceCSV(t *testing.T, addr, user, password, name string) string {
	t.Helper()
	db, table, _ := strings.Cut(name, ".")
	conn, err := client.Connect(addr, user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Execute(mysql.SnapshotSessionSetup); err != nil {
		t.Fatal(err)
	}
	cols, key, err := mysql.InfoSchemaColumns(conn, db, table)
	if err != nil {
		if strings.Contains(err.Error(), "no columns") {
			return ""
		}
		t.Fatal(err)
	}
	exprs := make([]string, len(cols))
	hdr := make([]string, len(cols))
	for i, c := range cols {
		exprs[i], hdr[i] = mysql.SnapshotSelectExpr(c), csvField(c.Name, false)
	}
	q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + mysql.QuoteIdent(db) + "." + mysql.QuoteIdent(table)
	var order []string
	for _, k := range key {
		order = append(order, mysql.QuoteIdent(cols[k].Name))
	}
	if len(order) > 0 {
		q += " ORDER BY " + strings.Join(order, ", ")
	}
	r, err := conn.Execute(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var recs []string
	for i := range r.RowNumber() {
		f := make([]string, len(cols))
		for j, c := range cols {
			raw, err := r.GetValue(i, j)
			if err != nil {
				t.Fatal(err)
			}
			var b []byte
			switch x := raw.(type) {
			case nil:
			case []byte:
				b = append([]byte{}, x...) // go-mysql gives '' as a nil slice, NULL to the decoder
			case string:
				b = []byte(x)
			default:
				b = fmt.Append(nil, x)
			}
			v, err := mysql.DecodeSnapshotValue(c.Type, b)
			if err != nil && v != nil {
				t.Fatalf("%s.%s: %v", name, c.Name, err)
			}
			if v == nil {
				f[j] = csvField(nil, true)
			} else {
				f[j] = csvField(csvText(string(c.Type.Kind), v), false)
			}
		}
		recs = append(recs, csvLine(f))
	}
	if len(key) == 0 {
		slices.Sort(recs)
		return csvLine(hdr) + strings.Join(recs, "") + "\x00keyless"
	}
	return csvLine(hdr) + strings.Join(recs, "")
}

// sourceOrder is the SELECT the lake is read with: ordered by the first
// column for keyed tables (their key comes first in every test table).
func sourceOrder(t *testing.T, addr, user, password, name, want string) string {
	db, table, _ := strings.Cut(name, ".")
	q := "SELECT * FROM " + dq(db) + "." + dq(table)
	if want != "" && !strings.Contains(want, "\x00keyless") {
		first, _, _ := strings.Cut(want, "\n")
		col, _, _ := strings.Cut(first, ",")
		q += " ORDER BY " + dq(strings.Trim(col, `"`))
	}
	return q
}

// TestDDLAddedColumnDefaults: rows that were in a table when a column was
// added read the value the server gave them — a constant DEFAULT, the
// implicit default of a NOT NULL column, NULL — at every point after the
// ALTER, and rows written later read their own values.
func TestDDLAddedColumnDefaults(t *testing.T) {
	f := newFidelity(t, "shop.accounts", "shop.events")
	f.sql("CREATE DATABASE shop",
		"CREATE TABLE shop.accounts (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)",
		"CREATE TABLE shop.events (kind VARCHAR(10) NOT NULL, n INT)",
		"USE shop", "INSERT INTO shop.accounts SELECT seq, CONCAT('a', seq) FROM seq_1_to_50",
		"INSERT INTO shop.events VALUES ('x', 1), ('x', 1), ('y', NULL)")
	f.start()
	f.step("note DEFAULT 'none'", "ALTER TABLE shop.accounts ADD COLUMN note VARCHAR(20) DEFAULT 'none'")
	f.step("writes", "UPDATE shop.accounts SET note = 'set' WHERE id <= 3", "INSERT INTO shop.accounts (id, name) VALUES (51, 'n')",
		"DELETE FROM shop.accounts WHERE id = 4")
	f.step("flags INT NOT NULL", "ALTER TABLE shop.accounts ADD COLUMN flags INT NOT NULL")
	f.step("typed defaults", "ALTER TABLE shop.accounts ADD COLUMN d DATE NOT NULL DEFAULT '2020-02-29', "+
		"ADD COLUMN amount DECIMAL(8,2) NOT NULL DEFAULT 12.5, ADD COLUMN e ENUM('lo','hi') NOT NULL, "+
		"ADD COLUMN b BINARY(4) DEFAULT 'ab', ADD COLUMN dt DATETIME(3) NOT NULL, ADD COLUMN y YEAR DEFAULT 2024, "+
		"ADD COLUMN s SET('a','b','c') DEFAULT 'c,a', ADD COLUMN bits BIT(5) NOT NULL DEFAULT b'101', ADD COLUMN f DOUBLE DEFAULT -0.5")
	f.step("more writes", "UPDATE shop.accounts SET flags = 7, e = 'hi' WHERE id BETWEEN 10 AND 12", "DELETE FROM shop.accounts WHERE id = 20")
	// A keyless table: its deletes name whole rows, the added column's
	// default included.
	f.step("keyless default", "ALTER TABLE shop.events ADD COLUMN tag VARCHAR(5) NOT NULL DEFAULT 't'")
	f.step("keyless delete", "DELETE FROM shop.events WHERE kind = 'x' LIMIT 1", "INSERT INTO shop.events VALUES ('z', 2, 'u')")
	f.stop()
	f.checkAll()
}

// TestDDLResnapshot: statements that change rows without row events — a
// partition truncated or dropped, a column added with CURRENT_TIMESTAMP or
// an expression, a generated column — are followed by a re-snapshot of the
// table: the lake equals the source after each, and the change feed of the
// re-snapshot holds exactly the rows that changed.
func TestDDLResnapshot(t *testing.T) {
	f := newFidelity(t, "shop.parts", "shop.items", "shop.log")
	f.sql("CREATE DATABASE shop", "USE shop",
		"CREATE TABLE shop.parts (id INT NOT NULL, v VARCHAR(10), PRIMARY KEY (id)) PARTITION BY RANGE (id) "+
			"(PARTITION p0 VALUES LESS THAN (20), PARTITION p1 VALUES LESS THAN (40), PARTITION p2 VALUES LESS THAN MAXVALUE)",
		"INSERT INTO shop.parts SELECT seq, CONCAT('v', seq) FROM seq_0_to_60",
		"CREATE TABLE shop.items (id INT PRIMARY KEY, price DECIMAL(8,2) NOT NULL)",
		"INSERT INTO shop.items SELECT seq, seq * 1.5 FROM seq_1_to_30",
		"CREATE TABLE shop.log (msg VARCHAR(10), n INT)",
		"INSERT INTO shop.log VALUES ('a', 1), ('a', 1), ('b', 2)")
	f.start()
	f.ddl("truncate p1", "ALTER TABLE shop.parts TRUNCATE PARTITION p1")
	f.step("reinsert into p1", "INSERT INTO shop.parts VALUES (25, 'again')", "UPDATE shop.parts SET v = 'x' WHERE id = 5")
	f.ddl("drop p0", "ALTER TABLE shop.parts DROP PARTITION p0")
	f.ddl("added at", "ALTER TABLE shop.items ADD COLUMN added DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP")
	f.ddl("code", "ALTER TABLE shop.items ADD COLUMN code VARCHAR(30) NOT NULL DEFAULT (CONCAT('c-', 42))")
	f.ddl("twice", "ALTER TABLE shop.items ADD COLUMN twice INT AS (id * 2) STORED, ADD COLUMN half DECIMAL(9,3) AS (price / 2) VIRTUAL")
	f.step("writes", "UPDATE shop.items SET price = price + 1 WHERE id < 5", "DELETE FROM shop.items WHERE id = 30")
	f.ddl("keyless convert", "ALTER TABLE shop.log MODIFY n BIGINT AS (LENGTH(msg)) STORED")
	f.stop()
	f.checkAll()
}

// TestResnapshotOnDemand: `binlake resnapshot` beside the running daemon
// brings a table back to the source's rows after changes the binlog never
// saw (a session with sql_log_bin=0), committing just those; a table that
// starts to match source.include is read when the daemon starts again.
func TestResnapshotOnDemand(t *testing.T) {
	f := newFidelity(t, "shop.a", "shop.b")
	f.sql("CREATE DATABASE shop", "USE shop",
		"CREATE TABLE shop.a (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO shop.a SELECT seq, 'x' FROM seq_1_to_100",
		"CREATE TABLE shop.b (k VARCHAR(5) NOT NULL, n INT, PRIMARY KEY (k))", "INSERT INTO shop.b VALUES ('a', 1), ('b', 2)")
	// The lake mirrors shop.a only, at first.
	f.e.setInclude(t, "shop.a")
	f.start()
	f.step("writes", "UPDATE shop.a SET v = 'y' WHERE id <= 10", "INSERT INTO shop.b VALUES ('c', 3)")
	f.action(true, "unlogged changes, then binlake resnapshot", func() {
		f.sql("SET sql_log_bin = 0", "DELETE FROM shop.a WHERE id BETWEEN 50 AND 59", "UPDATE shop.a SET v = 'hidden' WHERE id = 5",
			"INSERT INTO shop.a VALUES (500, 'new')", "SET sql_log_bin = 1")
		out, errOut, code := f.e.runCmd("resnapshot", "-c", f.e.config, "--table", "shop.a")
		if code != 0 || !strings.Contains(out, "shop.a: committed at lake version") {
			t.Fatalf("binlake resnapshot: exit %d\n%s%s", code, out, errOut)
		}
	})
	if _, errOut, code := f.e.runCmd("resnapshot", "-c", f.e.config, "--table", "shop.b"); code != 2 || !strings.Contains(errOut, "does not mirror it") {
		t.Fatalf("binlake resnapshot of a table the lake does not mirror: exit %d: %s", code, errOut)
	}
	// shop.b starts to match source.include: the next daemon reads it.
	f.stop()
	f.e.setInclude(t, "shop.*")
	f.start()
	f.step("more writes", "UPDATE shop.b SET n = n + 1", "DELETE FROM shop.a WHERE id = 1")
	f.stop()
	// shop.b was not mirrored before it was read: compare from there on.
	for i := range f.steps[:2] {
		delete(f.steps[i].csv, "shop.b")
	}
	// The unlogged changes have no place in the binlog: the re-snapshot's
	// changes take the place of the last transaction before them ("writes",
	// by GTID and time), so that step reads as the one after it.
	f.steps[0].csv["shop.a"] = f.steps[1].csv["shop.a"]
	f.checkAll()
}

// TestResnapshotWideRows: a re-snapshot holds a bounded amount of a
// table in memory — rows of about 450 KB end a keyed table's chunk at
// about 16 MB of values (more chunks than the row limit makes), and a
// keyless table, read whole in one consistent read, is written in parts
// as it is read — and the lake equals the source afterwards. (Compaction
// and vacuum of such tables are checked elsewhere: the comparisons here
// are of 18 MB each.)
func TestResnapshotWideRows(t *testing.T) {
	f := newFidelity(t, "shop.wide", "shop.heap")
	f.sql("CREATE DATABASE shop", "USE shop",
		"CREATE TABLE shop.wide (id INT PRIMARY KEY, body MEDIUMTEXT)",
		"INSERT INTO shop.wide SELECT seq, CONCAT(seq, REPEAT(CHAR(65 + seq % 26), 450000)) FROM seq_1_to_60",
		"CREATE TABLE shop.heap (body MEDIUMTEXT, n INT)",
		"INSERT INTO shop.heap SELECT REPEAT(CHAR(97 + seq % 3), 450000), seq % 3 FROM seq_1_to_60")
	f.start()
	f.action(true, "unlogged changes, then binlake resnapshot", func() {
		f.sql("SET sql_log_bin = 0", "DELETE FROM shop.wide WHERE id IN (3, 30)", "UPDATE shop.wide SET body = 'short' WHERE id = 20",
			"DELETE FROM shop.heap WHERE n = 1 LIMIT 2", "INSERT INTO shop.heap VALUES ('new', 7)", "SET sql_log_bin = 1")
		for _, table := range []string{"shop.wide", "shop.heap"} {
			if out, errOut, code := f.e.runCmd("resnapshot", "-c", f.e.config, "--table", table); code != 0 {
				t.Fatalf("binlake resnapshot --table %s: exit %d\n%s%s", table, code, out, errOut)
			}
		}
	})
	f.stop()
	// How the two were read, from the log's chunk records.
	l := tableformat.NewLog(f.e.store(), tableformat.LogOptions{})
	st, err := l.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	chunks, files := map[string]int{}, map[string]int{}
	for v := int64(1); v <= st.Version; v++ {
		e, err := l.Entry(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range e.Resnapshot {
			if op.Op == tableformat.ResnapshotChunkRead {
				chunks[op.Name]++
				files[op.Name] += len(op.Chunk.Files)
			}
		}
	}
	if chunks["wide"] < 2 {
		t.Errorf("shop.wide (about 27 MB) was read in %d chunk(s); want its chunks ended by size", chunks["wide"])
	}
	if chunks["heap"] != 1 || files["heap"] < 2 {
		t.Errorf("shop.heap (keyless, about 27 MB) was read in %d chunk(s) of %d file(s); want one chunk written in parts", chunks["heap"], files["heap"])
	}
	f.check("ingested")
}

// setInclude rewrites the config's source.include.
func (e *env) setInclude(t *testing.T, patterns ...string) {
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	var quoted []string
	for _, p := range patterns {
		quoted = append(quoted, fmt.Sprintf("%q", p))
	}
	re := regexp.MustCompile(`(?m)^  include: .*$`)
	if err := os.WriteFile(e.config, re.ReplaceAll(b, []byte("  include: ["+strings.Join(quoted, ", ")+"]")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPositionLostHeals: with source.on_position_lost: resnapshot, a lake
// whose binlog the source purged while the daemon was down goes on from the
// source's position and re-reads every table — rows changed, a table
// dropped, one created meanwhile — and records the gap: points before it
// answer as they did, points inside it are refused naming it, points after
// it equal the source.
func TestPositionLostHeals(t *testing.T) {
	f := newFidelityWith(t, "  on_position_lost: resnapshot\n", "shop.a", "shop.b", "shop.c")
	f.sql("CREATE DATABASE shop", "USE shop",
		"CREATE TABLE shop.a (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO shop.a SELECT seq, 'x' FROM seq_1_to_50",
		"CREATE TABLE shop.b (k INT PRIMARY KEY)", "INSERT INTO shop.b VALUES (1), (2)")
	f.start()
	// Steps on the server's own clock (the gap ends at its time when the
	// lake goes on): from the second after the snapshot.
	f.base = serverClock(t, f) + 1
	f.step("before", "UPDATE shop.a SET v = 'y' WHERE id <= 5")
	f.stop()
	first := strings.Fields(f.e.db.Query(t, "SHOW MASTER STATUS"))[0]
	inGap := f.peekAt()
	f.sql(fmt.Sprintf("SET timestamp = %d", inGap.Unix()),
		"DELETE FROM shop.a WHERE id > 40", "UPDATE shop.a SET v = 'z' WHERE id = 1", "DROP TABLE shop.b",
		"CREATE TABLE shop.c (id INT PRIMARY KEY, n INT)", "INSERT INTO shop.c VALUES (1, 1)",
		"SET timestamp = DEFAULT", "FLUSH BINARY LOGS")
	purgeBinlog(t, f.e.db, first)
	f.base++ // the gap's second belongs to no step
	testenv.Eventually(t, time.Minute, "the server's clock past the gap's changes", func() error {
		if now := serverClock(t, f); now <= inGap.Unix() {
			return fmt.Errorf("it reads %d, the gap's changes %d", now, inGap.Unix())
		}
		return nil
	})
	f.start()
	f.base = serverClock(t, f) + 1 - f.stamps // the next step after the lake went on
	f.step("after the gap", "INSERT INTO shop.c VALUES (2, 2)", "UPDATE shop.a SET v = 'w' WHERE id = 2")
	f.stop()
	// Inside the gap: refused, naming it.
	q := newQuerier(t, f.e)
	_, errOut, code := q.query("SELECT count(*) FROM shop.a", "--as-of", inGap.Format(time.RFC3339))
	if code == 0 || !strings.Contains(errOut, "inside a gap in the lake's history") || !strings.Contains(errOut, first) {
		t.Fatalf("as of a time inside the gap: exit %d: %s", code, errOut)
	}
	f.checkAll()
}

// serverClock is the source's clock, in seconds.
func serverClock(t *testing.T, f *fidelity) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(f.e.db.Query(t, "SELECT UNIX_TIMESTAMP()")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
