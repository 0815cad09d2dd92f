package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// sourceConfig connects as the least-privilege CDC user.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sourceConfig(m *testenv.MariaDB, serverID uint32) SourceConfig {
	return SourceConfig{
		Host: m.Host, Port: uint16(m.Port), User: m.User, Password: secret.String(m.UserPassword),
		ServerID: m.ServerID + serverID, StopAtCaughtUp: true, HeartbeatPeriod: time.Second,
		Logger: slog.New(slog.DiscardHandler),
	}
}

func openSource(t *testing.T, ctx context.Context, m *testenv.MariaDB, serverID uint32, start tableformat.Position) *BinlogSource {
	t.Helper()
	src, err := NewBinlogSource(ctx, sourceConfig(m, serverID), start)
	if err != nil {
		t.Fatalf("new binlog source at %s: %v", start, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// newLake creates an in-memory lake.
func newLake(t *testing.T, ctx context.Context) *tableformat.Log {
	t.Helper()
	l := tableformat.NewLog(tableformat.NewMemStore(), tableformat.LogOptions{})
	if _, err := l.Create(ctx, "src", 10); err != nil {
		t.Fatalf("create lake: %v", err)
	}
	return l
}

// ingestToCaughtUp runs the pipeline until the source reports it has caught up.
func ingestToCaughtUp(t *testing.T, ctx context.Context, l *tableformat.Log, src *BinlogSource) {
	t.Helper()
	if err := ingest.Begin(ctx, l, src.Start()); err != nil {
		t.Fatalf("begin: %v", err)
	}
	if err := ingest.New(l, ingest.Options{CommitInterval: 50 * time.Millisecond}).Run(ctx, src); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

// lakeTable returns the columns and rows of db.name at the lake's latest
// version.
func lakeTable(t *testing.T, ctx context.Context, l *tableformat.Log, db, name string) ([]TableColumn, [][]any) {
	t.Helper()
	p, err := l.AtLatest(ctx)
	if err != nil {
		t.Fatalf("at latest: %v", err)
	}
	ts, ok := p.State.TableByName(db, name, p.Seq)
	if !ok {
		t.Fatalf("the lake has no table %s.%s", db, name)
	}
	schema, rows, err := tableformat.ScanTable(ctx, l.Store(), p, ts.ID)
	if err != nil {
		t.Fatalf("scan %s.%s: %v", db, name, err)
	}
	cols := make([]TableColumn, len(schema.Columns))
	for i, c := range schema.Columns {
		cols[i] = TableColumn{Name: c.Name, Type: c.Type, Nullable: c.Nullable}
	}
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = r.Values
	}
	return cols, out
}

// lakeTableNames lists the live tables of the lake as db.name.
func lakeTableNames(t *testing.T, ctx context.Context, l *tableformat.Log) []string {
	t.Helper()
	p, err := l.AtLatest(ctx)
	if err != nil {
		t.Fatalf("at latest: %v", err)
	}
	var out []string
	for ts := range p.State.Tables.Values() {
		if ts.ExistsAt(p.Seq) {
			n := ts.NameAt(p.Seq)
			out = append(out, n.DB+"."+n.Name)
		}
	}
	slices.Sort(out)
	return out
}

// assertMirrors checks that the lake's db.name holds the rows MariaDB's
// SELECT * returns (as multisets), with the same column names.
func assertMirrors(t *testing.T, ctx context.Context, l *tableformat.Log, m *testenv.MariaDB, db, name string) int {
	t.Helper()
	cols, lake := lakeTable(t, ctx, l, db, name)
	names := strings.TrimSpace(m.Query(t, fmt.Sprintf(
		"SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION SEPARATOR ',') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='%s' AND TABLE_NAME='%s'", db, name)))
	var lakeNames []string
	for _, c := range cols {
		lakeNames = append(lakeNames, c.Name)
	}
	if got := strings.Join(lakeNames, ","); got != names {
		t.Errorf("%s.%s columns: lake %s, source %s", db, name, got, names)
	}
	src, _ := readSnapshot(t, m, db, name, cols, "")
	a, b := rowKeys(lake), rowKeys(src)
	if !slices.Equal(a, b) {
		t.Errorf("%s.%s: lake rows\n%s\nsource rows\n%s", db, name, strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	return len(lake)
}

func rowKeys(rows [][]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, v := range r {
			parts[j] = show(v)
		}
		out[i] = strings.Join(parts, " | ")
	}
	slices.Sort(out)
	return out
}

// currentPosition is the server's position now: a source opened there later
// streams what was written in between.
func currentPosition(t *testing.T, ctx context.Context, m *testenv.MariaDB) tableformat.Position {
	t.Helper()
	src, err := NewBinlogSource(ctx, sourceConfig(m, 999), tableformat.Position{})
	if err != nil {
		t.Fatalf("open source at the current position: %v", err)
	}
	defer src.Close()
	p := src.Start()
	if p.GTIDSet == "" || p.File == "" || p.Pos == 0 {
		t.Fatalf("start position %+v: want a GTID set and a file position", p)
	}
	return p
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestSourceMirrorsDML(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE shop",
		"CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), at DATETIME(6), d DATE)",
		"CREATE TABLE shop.`audit log` (msg VARCHAR(40), n INT)",
		"CREATE TABLE shop.plain (id INT PRIMARY KEY, v INT) ENGINE=MyISAM")
	start := currentPosition(t, ctx, m)
	m.Exec(t,
		"INSERT INTO shop.plain VALUES (1,1),(2,2)", "UPDATE shop.plain SET v = 9 WHERE id = 2",
		"INSERT INTO shop.items VALUES (1,'apple',1.50,'2024-01-02 03:04:05.123456','2024-01-02'),(2,'pear',2.00,NULL,NULL),(3,'fig',3.25,'2020-02-29 00:00:00','1999-12-31')",
		"SET SESSION sql_mode=''; INSERT INTO shop.items VALUES (4,'zero',0,'2021-01-01 00:00:00','0000-00-00')",
		"UPDATE shop.items SET price = 1.75 WHERE id = 1",
		"UPDATE shop.items SET id = 20 WHERE id = 2",
		"DELETE FROM shop.items WHERE id = 3",
		"INSERT INTO shop.`audit log` VALUES ('dup',1),('dup',1),('dup',1),('one',2)",
		"DELETE FROM shop.`audit log` WHERE msg='dup' LIMIT 1",
		"UPDATE shop.`audit log` SET n = 3 WHERE msg='one'",
		"BEGIN; INSERT INTO shop.items VALUES (5,'kiwi',5.00,NULL,NULL); INSERT INTO shop.`audit log` VALUES ('kiwi',5); UPDATE shop.items SET name='big apple' WHERE id=1; COMMIT",
		"CREATE TABLE mysql.ignored (id INT PRIMARY KEY)", "INSERT INTO mysql.ignored VALUES (1)", "DROP TABLE mysql.ignored",
	)
	src := openSource(t, ctx, m, 100, start)
	l := newLake(t, ctx)
	ingestToCaughtUp(t, ctx, l, src)
	// The source is caught up: Next waits for more.
	wait, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	for {
		ev, err := src.Next(wait)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if _, ok := ev.(*ingest.Reached); err != nil || !ok {
			t.Fatalf("next after caught up: %T, %v; want nothing but positions", ev, err)
		}
	}
	if got := src.ZeroDates(); got != 1 {
		t.Errorf("zero dates: %d, want 1", got)
	}
	if n := assertMirrors(t, ctx, l, m, "shop", "items"); n != 4 {
		t.Errorf("items: %d rows, want 4", n)
	}
	if n := assertMirrors(t, ctx, l, m, "shop", "audit log"); n != 4 {
		t.Errorf("audit log: %d rows, want 4", n)
	}
	if n := assertMirrors(t, ctx, l, m, "shop", "plain"); n != 2 {
		t.Errorf("plain (MyISAM): %d rows, want 2", n)
	}
	if got, want := lakeTableNames(t, ctx, l), []string{"shop.audit log", "shop.items", "shop.plain"}; !slices.Equal(got, want) {
		t.Errorf("lake tables %v, want %v", got, want)
	}
}

// TestSourceEvents reads the source directly: one *Table while the structure
// is unchanged, a new one after ALTER, updates as before/after pairs, a
// commit after each transaction and DDL, and CaughtUp when caught up.
func TestSourceEvents(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE e", "CREATE TABLE e.t (id INT PRIMARY KEY, v INT)")
	start := currentPosition(t, ctx, m)
	m.Exec(t, "INSERT INTO e.t VALUES (1,1)", "UPDATE e.t SET id = 2, v = 5 WHERE id = 1",
		"ALTER TABLE e.t ADD COLUMN w INT", "DELETE FROM e.t")
	src := openSource(t, ctx, m, 600, start)
	var got []string
	var tables []*ingest.Table
	for {
		ev, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		if _, ok := ev.(*ingest.CaughtUp); ok {
			break
		}
		switch e := ev.(type) {
		case *ingest.Rows:
			tables = append(tables, e.Table)
			got = append(got, fmt.Sprintf("rows %d %v %v key %v", e.Op, e.Before, e.After, e.Table.Key))
			if e.Time <= 0 {
				t.Errorf("rows without a time")
			}
		case *ingest.DDL:
			got = append(got, fmt.Sprintf("ddl %d %s.%s", e.Op, e.DB, e.Name))
		case *ingest.Commit:
			got = append(got, "commit")
			if e.GTID == "" || e.End.GTIDSet == "" || e.End.File == "" || e.End.Pos == 0 || e.Time <= 0 {
				t.Errorf("commit %+v: want a GTID, a full end position and a time", e)
			}
		}
	}
	want := []string{
		"rows 1 [] [[1 1]] key [id]", "commit",
		"rows 2 [[1 1]] [[2 5]] key [id]", "commit",
		"ddl 1 e.t", "commit",
		"rows 3 [[2 5 <nil>]] [] key [id]", "commit",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
	if len(tables) == 3 && (tables[0] != tables[1] || tables[1] == tables[2]) {
		t.Errorf("tables: want the same pointer before the ALTER and a new one after")
	}
}

func TestSourceDDL(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE d", "CREATE TABLE d.a (id INT PRIMARY KEY, v VARCHAR(10))", "CREATE TABLE d.t (id INT PRIMARY KEY)")
	start := currentPosition(t, ctx, m)
	m.Exec(t,
		"INSERT INTO d.a VALUES (1,'x'),(2,'y')",
		"INSERT INTO d.t VALUES (1),(2)",
		"RENAME TABLE d.a TO d.`b.c`",
		"INSERT INTO d.`b.c` VALUES (3,'z')",
		"TRUNCATE TABLE d.t",
		"INSERT INTO d.t VALUES (7)",
		"ALTER TABLE d.`b.c` ADD COLUMN w INT",
		"UPDATE d.`b.c` SET w = 5 WHERE id = 1",
		"ALTER TABLE d.`b.c` RENAME COLUMN v TO vv",
		"INSERT INTO d.`b.c` VALUES (4,'q',6)",
		"CREATE TABLE d.gone (id INT)", "INSERT INTO d.gone VALUES (1)", "DROP TABLE d.gone",
	)
	src := openSource(t, ctx, m, 200, start)
	l := newLake(t, ctx)
	ingestToCaughtUp(t, ctx, l, src)
	if got, want := lakeTableNames(t, ctx, l), []string{"d.b.c", "d.t"}; !slices.Equal(got, want) {
		t.Errorf("lake tables %v, want %v", got, want)
	}
	if n := assertMirrors(t, ctx, l, m, "d", "b.c"); n != 4 {
		t.Errorf("b.c: %d rows, want 4", n)
	}
	if n := assertMirrors(t, ctx, l, m, "d", "t"); n != 1 {
		t.Errorf("t: %d rows, want 1", n)
	}
}

func TestSourceResume(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE r", "CREATE TABLE r.t (id INT PRIMARY KEY, v INT)", "CREATE TABLE r.n (v INT)")
	start := currentPosition(t, ctx, m)
	m.Exec(t, "INSERT INTO r.t VALUES (1,1),(2,2)", "INSERT INTO r.n VALUES (1),(1)")
	src := openSource(t, ctx, m, 300, start)
	l := newLake(t, ctx)
	ingestToCaughtUp(t, ctx, l, src)
	src.Close()
	if n := assertMirrors(t, ctx, l, m, "r", "t"); n != 2 {
		t.Errorf("t after the first run: %d rows, want 2", n)
	}

	m.Exec(t, "INSERT INTO r.t VALUES (3,3)", "UPDATE r.t SET v = 10 WHERE id = 1", "INSERT INTO r.n VALUES (1),(2)")
	st, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pos := st.Progress.Position
	if pos.GTIDSet == "" || pos.File == "" || pos.Pos == 0 {
		t.Fatalf("lake position %+v: want a GTID set and a file position", pos)
	}
	ingestToCaughtUp(t, ctx, l, openSource(t, ctx, m, 301, pos))
	if n := assertMirrors(t, ctx, l, m, "r", "t"); n != 3 {
		t.Errorf("t: %d rows, want 3", n)
	}
	if n := assertMirrors(t, ctx, l, m, "r", "n"); n != 4 {
		t.Errorf("n: %d rows, want 4", n)
	}

	// Resuming from the file position alone (no GTID set) gives the same.
	st, err = l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Exec(t, "DELETE FROM r.t WHERE id = 2")
	byFile := tableformat.Position{File: st.Progress.Position.File, Pos: st.Progress.Position.Pos}
	ingestToCaughtUp(t, ctx, l, openSource(t, ctx, m, 302, byFile))
	if n := assertMirrors(t, ctx, l, m, "r", "t"); n != 2 {
		t.Errorf("t: %d rows, want 2", n)
	}
}

func TestSourcePositionLost(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE p", "CREATE TABLE p.t (id INT PRIMARY KEY)", "INSERT INTO p.t VALUES (1)", "FLUSH BINARY LOGS")
	cur := strings.Fields(m.Query(t, "SHOW MASTER STATUS"))[0]
	// MariaDB keeps a file until its binlog checkpoint has moved on: retry.
	testenv.Eventually(t, time.Minute, "purging the binary logs before "+cur, func() error {
		m.Exec(t, "PURGE BINARY LOGS TO '"+cur+"'")
		if first := strings.Fields(m.Query(t, "SHOW BINARY LOGS"))[0]; first != cur {
			return fmt.Errorf("%s is still there", first)
		}
		return nil
	})
	first := strings.TrimSuffix(cur, cur[strings.LastIndexByte(cur, '.'):]) + ".000001"
	for _, start := range []tableformat.Position{{File: first, Pos: 4}, {GTIDSet: fmt.Sprintf("0-%d-1", m.ServerID)}} {
		src, err := NewBinlogSource(ctx, sourceConfig(m, 400), start)
		if err == nil {
			_, err = src.Next(ctx)
			src.Close()
		}
		if !errors.Is(err, ErrPositionLost) {
			t.Errorf("start at %s: %v, want ErrPositionLost", start, err)
		}
		t.Logf("start at %s: %v", start, err)
	}
}

func TestSourceWrongPassword(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	cfg := sourceConfig(m, 500)
	cfg.Password = secret.String("not-the-password-xyzzy")
	_, err := NewBinlogSource(ctx, cfg, tableformat.Position{})
	if err == nil {
		t.Fatal("wrong password: no error")
	}
	if msg := err.Error(); !strings.Contains(msg, m.User) || !strings.Contains(msg, m.Host) || strings.Contains(msg, "xyzzy") {
		t.Errorf("error %q: want the user and host named and no password", msg)
	}
}

func TestParseDDL(t *testing.T) {
	type d = ingest.DDL
	tests := []struct {
		sql  string
		want []d
	}{
		{"RENAME TABLE a TO b", []d{{Op: ingest.DDLRename, DB: "def", Name: "a", NewDB: "def", NewName: "b"}}},
		{"rename table x.a to y.b, c TO `d.e`", []d{
			{Op: ingest.DDLRename, DB: "x", Name: "a", NewDB: "y", NewName: "b"},
			{Op: ingest.DDLRename, DB: "def", Name: "c", NewDB: "def", NewName: "d.e"}}},
		{"RENAME TABLES `we``ird`.`a b` TO `we``ird`.`c`", []d{{Op: ingest.DDLRename, DB: "we`ird", Name: "a b", NewDB: "we`ird", NewName: "c"}}},
		{"RENAME TABLE IF EXISTS a WAIT 5 TO b", []d{{Op: ingest.DDLRename, DB: "def", Name: "a", NewDB: "def", NewName: "b"}}},
		{"ALTER TABLE a RENAME TO b", []d{{Op: ingest.DDLAlter, DB: "def", Name: "a"}, {Op: ingest.DDLRename, DB: "def", Name: "a", NewDB: "def", NewName: "b"}}},
		{"ALTER TABLE s.a RENAME s2.b", []d{{Op: ingest.DDLAlter, DB: "s", Name: "a"}, {Op: ingest.DDLRename, DB: "s", Name: "a", NewDB: "s2", NewName: "b"}}},
		{"ALTER TABLE a RENAME INDEX i TO j", []d{{Op: ingest.DDLAlter, DB: "def", Name: "a"}}},
		{"TRUNCATE t", []d{{Op: ingest.DDLTruncate, DB: "def", Name: "t"}}},
		{"truncate table `db`.`t.1`", []d{{Op: ingest.DDLTruncate, DB: "db", Name: "t.1"}}},
		{"DROP TABLE IF EXISTS a, `b c`, x.`d` /* generated by server */", []d{
			{Op: ingest.DDLDrop, DB: "def", Name: "a"}, {Op: ingest.DDLDrop, DB: "def", Name: "b c"}, {Op: ingest.DDLDrop, DB: "x", Name: "d"}}},
		{"DROP TEMPORARY TABLE IF EXISTS t", nil},
		{"ALTER TABLE t ADD COLUMN c INT, RENAME COLUMN a TO b, CHANGE COLUMN `x y` `z` VARCHAR(10) DEFAULT 'a,b', CHANGE p q DECIMAL(10,2)", []d{
			{Op: ingest.DDLAlter, DB: "def", Name: "t", ColumnRenames: map[string]string{"a": "b", "x y": "z", "p": "q"}}}},
		{"ALTER TABLE t CHANGE c c BIGINT", []d{{Op: ingest.DDLAlter, DB: "def", Name: "t"}}},
		{"ALTER ONLINE IGNORE TABLE IF EXISTS t ADD INDEX (a, b), RENAME COLUMN IF EXISTS a TO b", []d{
			{Op: ingest.DDLAlter, DB: "def", Name: "t", ColumnRenames: map[string]string{"a": "b"}}}},
		{"/* hint */ CREATE TABLE IF NOT EXISTS `s`.`n` (id INT) -- trailing", []d{{Op: ingest.DDLCreate, DB: "s", Name: "n"}}},
		{"CREATE OR REPLACE TABLE n (id INT)", []d{{Op: ingest.DDLDrop, DB: "def", Name: "n"}, {Op: ingest.DDLCreate, DB: "def", Name: "n"}}},
		{"CREATE /*!32312 TEMPORARY */ TABLE x (id int)", nil},
		{"# comment\nTRUNCATE TABLE t", []d{{Op: ingest.DDLTruncate, DB: "def", Name: "t"}}},
		{"CREATE TABLE `ünï` (id INT)", []d{{Op: ingest.DDLCreate, DB: "def", Name: "ünï"}}},
		{"CREATE DATABASE x", nil},
		{"GRANT SELECT ON *.* TO u", nil},
		{"BEGIN", nil},
	}
	for _, tc := range tests {
		got := ParseDDL("def", tc.sql)
		var gotV []d
		for _, g := range got {
			if g.SQL != tc.sql {
				t.Errorf("%q: SQL %q", tc.sql, g.SQL)
			}
			// The names and renames only: the structures are TestParseDDLStructure's.
			gotV = append(gotV, d{Op: g.Op, DB: g.DB, Name: g.Name, NewDB: g.NewDB, NewName: g.NewName, ColumnRenames: g.ColumnRenames})
		}
		if fmt.Sprint(gotV) != fmt.Sprint(tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.sql, gotV, tc.want)
		}
	}
}
