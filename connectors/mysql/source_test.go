package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	_ "github.com/go-mysql-org/go-mysql/driver" // the "mysql" database/sql driver testenv's DB opens
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// Helpers shared by the tests against a real MariaDB: connections, binlog
// positions, streaming row events, snapshot reads, Parquet round trips.

func connect(t testing.TB, m *testenv.MariaDB, user, password string) *client.Conn {
	t.Helper()
	conn, err := client.Connect(m.Addr(), user, password, "", func(c *client.Conn) error {
		return c.SetCharset("utf8mb4")
	})
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func rootConn(t testing.TB, m *testenv.MariaDB) *client.Conn {
	return connect(t, m, m.RootUser, m.RootPassword)
}

func execAll(t testing.TB, conn *client.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.Execute(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func masterPos(t testing.TB, conn *client.Conn) gomysql.Position {
	t.Helper()
	r, err := conn.Execute("SHOW MASTER STATUS")
	if err != nil {
		t.Fatalf("show master status: %v", err)
	}
	name, _ := r.GetString(0, 0)
	pos, _ := r.GetUint(0, 1)
	return gomysql.Position{Name: name, Pos: uint32(pos)}
}

// rowsEvent is one decoded row event: the table map in force and the rows
// with go-mysql's raw values.
type rowsEvent struct {
	table *replication.TableMapEvent
	kind  replication.EventType
	rows  [][]any
}

// readBinlog streams the binlog as the least-privilege user, with the syncer
// configured the way the source is, from `from` until an event ends at or
// after `to`.
func readBinlog(t testing.TB, m *testenv.MariaDB, from, to gomysql.Position) []rowsEvent {
	t.Helper()
	cfg := SyncerConfig(replication.BinlogSyncerConfig{
		ServerID: m.ServerID + 1000,
		Flavor:   "mariadb",
		Host:     m.Host,
		Port:     uint16(m.Port),
		User:     m.User,
		Password: m.UserPassword,
		Logger:   slog.New(slog.DiscardHandler),
	})
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	streamer, err := syncer.StartSync(from)
	if err != nil {
		t.Fatalf("start binlog sync at %s: %v", from, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []rowsEvent
	file := from.Name
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			t.Fatalf("binlog event after %d row events: %v", len(out), err)
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.RowsEvent:
			out = append(out, rowsEvent{table: e.Table, kind: ev.Header.EventType, rows: e.Rows})
		}
		if file == to.Name && ev.Header.LogPos >= to.Pos {
			return out
		}
	}
}

// decodeBinlogRow decodes one binlog row. Zero dates become nil and are
// counted.
func decodeBinlogRow(cols []TableColumn, raw []any) (row []any, zeroDates int, err error) {
	row = make([]any, len(cols))
	for i, c := range cols {
		v, err := DecodeBinlogValue(c.Type, raw[i])
		if errors.Is(err, ErrZeroDate) {
			zeroDates++
		} else if err != nil {
			return nil, 0, fmt.Errorf("column %q: %w", c.Name, err)
		}
		row[i] = v
	}
	return row, zeroDates, nil
}

// readSnapshot reads a table over the text protocol as the least-privilege
// user, the way the snapshot phase will.
func readSnapshot(t testing.TB, m *testenv.MariaDB, db, table string, cols []TableColumn, orderBy string) (rows [][]any, zeroDates int) {
	t.Helper()
	conn := connect(t, m, m.User, m.UserPassword)
	execAll(t, conn, SnapshotSessionSetup)
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = SnapshotSelectExpr(c)
	}
	q := fmt.Sprintf("SELECT %s FROM %s.%s", strings.Join(exprs, ", "), QuoteIdent(db), QuoteIdent(table))
	if orderBy != "" {
		q += " ORDER BY " + orderBy
	}
	r, err := conn.Execute(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	for _, rd := range r.RowDatas {
		fields, err := splitTextRow(rd, len(cols))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		row := make([]any, len(cols))
		for i, c := range cols {
			v, err := DecodeSnapshotValue(c.Type, fields[i])
			if errors.Is(err, ErrZeroDate) {
				zeroDates++
			} else if err != nil {
				t.Fatalf("snapshot %s.%s column %q: %v", db, table, c.Name, err)
			}
			row[i] = v
		}
		rows = append(rows, row)
	}
	return rows, zeroDates
}

// splitTextRow splits a text-protocol row packet into its raw fields (nil =
// NULL).
func splitTextRow(rd []byte, n int) ([][]byte, error) {
	out := make([][]byte, 0, n)
	for pos := 0; len(out) < n; {
		if pos >= len(rd) {
			return nil, fmt.Errorf("row packet ends after %d of %d fields", len(out), n)
		}
		v, isNull, k, err := gomysql.LengthEncodedString(rd[pos:])
		if err != nil {
			return nil, err
		}
		pos += k
		if isNull {
			out = append(out, nil)
			continue
		}
		out = append(out, append([]byte{}, v...))
	}
	return out, nil
}

// schemaOf builds the tableformat schema of decoded columns.
func schemaOf(cols []TableColumn, key []int) *tableformat.Schema {
	s := &tableformat.Schema{Version: 1}
	for i, c := range cols {
		s.Columns = append(s.Columns, tableformat.Column{ID: i + 1, Name: c.Name, Type: c.Type, Nullable: c.Nullable})
	}
	for _, k := range key {
		s.Key = append(s.Key, k+1)
	}
	return s
}

// roundTrip writes rows into one data file and reads them back, failing the
// test if the writer refuses a value or a value comes back different.
func roundTrip(t testing.TB, schema *tableformat.Schema, rows [][]any) {
	t.Helper()
	var buf bytes.Buffer
	w, err := tableformat.NewFileWriter(&buf, schema, tableformat.FileData, tableformat.FileWriterOptions{})
	if err != nil {
		t.Fatalf("new file writer: %v", err)
	}
	in := make([]tableformat.Row, len(rows))
	for i, r := range rows {
		in[i] = tableformat.Row{Seq: int64(i + 1), TS: 1_700_000_000_000_000, Op: tableformat.OpInsert, Values: r}
	}
	if err := w.Write(in...); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	fc, err := tableformat.ReadFile(buf.Bytes())
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if len(fc.Rows) != len(rows) {
		t.Fatalf("read back %d rows, wrote %d", len(fc.Rows), len(rows))
	}
	for i, r := range fc.Rows {
		for j, v := range r.Values {
			if !equalValue(v, rows[i][j]) {
				t.Errorf("row %d column %q: read back %#v, wrote %#v", i, schema.Columns[j].Name, v, rows[i][j])
			}
		}
	}
}

// equalValue compares decoded values; []byte and nil compare by content,
// floats by bits.
func equalValue(a, b any) bool {
	switch x := a.(type) {
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}

// TestHarnessLeastPrivilege checks the harness's database/sql handle and
// that the CDC user can read and stream but not write.
func TestHarnessLeastPrivilege(t *testing.T) {
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE p", "CREATE TABLE p.t (id INT PRIMARY KEY)", "INSERT INTO p.t VALUES (7)")
	db := m.DB(t, "p")
	var id int
	if err := db.QueryRow("SELECT id FROM t").Scan(&id); err != nil || id != 7 {
		t.Fatalf("select as %s: %d, %v", m.User, id, err)
	}
	if _, err := db.Exec("INSERT INTO t VALUES (8)"); err == nil {
		t.Errorf("the CDC user may insert: want it refused")
	}
	if _, err := db.Exec("CREATE DATABASE q"); err == nil {
		t.Errorf("the CDC user may create a database: want it refused")
	}
	if err := m.RootDB(t, "").Ping(); err != nil {
		t.Errorf("root ping: %v", err)
	}
}

// TestMirroredDDL: a table renamed out of the mirror is dropped there,
// unless the same statement swaps a table the lake does not mirror in
// under its name: then it stays and is re-read; renames inside the mirror
// and into it pass as they are, others are not the lake's.
func TestMirroredDDL(t *testing.T) {
	include := func(db, table string) bool { return db == "shop" && !strings.HasPrefix(table, "_") }
	show := func(ds []*ingest.DDL) string {
		var out []string
		for _, d := range ds {
			s := fmt.Sprintf("%d %s.%s", d.Op, d.DB, d.Name)
			if d.NewName != "" {
				s += " → " + d.NewDB + "." + d.NewName
			}
			if d.Resnapshot != "" {
				s += " (" + d.Resnapshot + ")"
			}
			out = append(out, s)
		}
		return strings.Join(out, "; ")
	}
	for _, tc := range []struct{ sql, want string }{
		{"RENAME TABLE t TO _t_old, _t_new TO t", fmt.Sprintf("%d shop.t (swapped with shop._t_new (RENAME TABLE), a table the lake does not mirror)", ingest.DDLAlter)},
		{"RENAME TABLE t TO _t_del", fmt.Sprintf("%d shop.t", ingest.DDLDrop)},
		{"RENAME TABLE _t_gho TO t", fmt.Sprintf("%d shop._t_gho → shop.t", ingest.DDLRename)},
		{"RENAME TABLE t TO u, u TO t", fmt.Sprintf("%d shop.t → shop.u; %d shop.u → shop.t", ingest.DDLRename, ingest.DDLRename)},
		{"RENAME TABLE _a TO _b", ""},
		// Swapped in from a mirrored name: an ordinary pair of renames.
		{"RENAME TABLE t TO _t_old, u TO t", fmt.Sprintf("%d shop.t; %d shop.u → shop.t", ingest.DDLDrop, ingest.DDLRename)},
	} {
		if got := show(mirroredDDL(ParseDDL("shop", tc.sql), include)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.sql, got, tc.want)
		}
	}
}

// TestTableCacheEvictsOne: past maxCachedTables, a new table id evicts one
// entry, not the whole cache (which a source writing to more tables than
// that would rebuild again and again); an id already cached whose
// structure changed replaces its entry without evicting another.
func TestTableCacheEvictsOne(t *testing.T) {
	s := &BinlogSource{cfg: SourceConfig{Include: func(string, string) bool { return false }}, tables: map[uint64]*cachedTable{}}
	event := func(id uint64, name string) *replication.TableMapEvent {
		return &replication.TableMapEvent{TableID: id, Schema: []byte("d"), Table: []byte(name), ColumnType: []byte{gomysql.MYSQL_TYPE_LONG}, ColumnMeta: []uint16{0}}
	}
	for id := uint64(1); id <= maxCachedTables+5; id++ {
		if _, err := s.table(event(id, fmt.Sprint("t", id))); err != nil {
			t.Fatal(err)
		}
		if want := min(int(id), maxCachedTables); len(s.tables) != want {
			t.Fatalf("after table id %d: %d cached, want %d", id, len(s.tables), want)
		}
	}
	if s.tables[maxCachedTables+5] == nil {
		t.Fatal("the newest table id is not cached")
	}
	before := maps.Clone(s.tables)
	if _, err := s.table(event(maxCachedTables+5, "renamed")); err != nil {
		t.Fatal(err)
	}
	if len(s.tables) != maxCachedTables || !maps.EqualFunc(before, s.tables, func(a, b *cachedTable) bool { return a == b || a.fingerprint != b.fingerprint }) {
		t.Fatal("a changed structure of a cached id evicted another entry")
	}
}
