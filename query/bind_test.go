package query

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// manyLake is a lake of n tables d.t00000… of files files of rows rows
// each (laketest.Many) with a checkpoint at its newest version, and a
// reader's log of it, as `binlake query` opens: one that reads a table's
// files only when a session binds the table.
func manyLake(t *testing.T, n, files, rows int) *tableformat.Log {
	t.Helper()
	store := tableformat.NewMemStore()
	if _, err := laketest.Many(t.Context(), store, laketest.ManyOptions{Tables: n, Files: files, Rows: rows, CheckpointInterval: int64(files) + 1}); err != nil {
		t.Fatal(err)
	}
	return tableformat.NewLog(store, tableformat.LogOptions{LazyTables: true})
}

// boundIDs lists the tables whose views and macros the session binds.
func boundIDs(s *Session) (views, macros []int64) {
	for id := range s.bound.views {
		views = append(views, id)
	}
	for id := range s.bound.macros {
		macros = append(macros, id)
	}
	slices.Sort(views)
	slices.Sort(macros)
	return views, macros
}

// TestSessionBindsWhatItReads: a statement binds, and fetches the files
// of, the tables it names and nothing else; later statements add to the
// bindings; a statement's CTE names bind nothing; the session's DuckDB may
// read only the files of what it bound.
func TestSessionBindsWhatItReads(t *testing.T) {
	const n, files, rows = 40, 3, 2
	log := manyLake(t, n, files, rows)
	e := newTestEngine(t, log, "", Options{})
	defer e.Close()
	s := openLatestOn(t, e)
	if s.h != nil || len(s.pins) != 0 {
		t.Fatalf("Open bound or fetched: db %v, %d pins", s.h != nil, len(s.pins))
	}
	if got := queryAll(t, s, `SELECT count(*) FROM d.t00007`); fmt.Sprint(got) != fmt.Sprintf("[[%d]]", files*rows) {
		t.Fatalf("d.t00007: %v", got)
	}
	views, macros := boundIDs(s)
	if fmt.Sprint(views) != "[8]" || len(macros) != 0 || s.bound.stubViews || len(s.pins) != files {
		t.Fatalf("after one table: views %v macros %v stubs %v pins %d, want [8] [] false %d", views, macros, s.bound.stubViews, len(s.pins), files)
	}
	// Nor were the files of the other tables read from the checkpoint.
	if s.Point.State.Tables.Get(9).Loaded() {
		t.Fatal("the session's state holds the files of a table no statement read")
	}
	// The files of a table not bound are outside the lock-down.
	other := filesOf(t, log, 9)
	if _, err := e.cache.Fetch(t.Context(), log.Store(), other[0]); err != nil {
		t.Fatal(err)
	}
	path, err := e.cache.objectPath(other[0].Checksum)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.h.conn.ExecContext(t.Context(), "SELECT * FROM read_parquet("+quoteString(path)+")"); err == nil ||
		!strings.Contains(err.Error(), "Permission Error") {
		t.Fatalf("reading a file of a table the session did not bind: %v, want a permission error", err)
	}
	q := `WITH x AS (SELECT * FROM d.t00003), "Y" AS (SELECT * FROM x) SELECT count(*) FROM y JOIN d.t00007 USING (id)`
	if got := queryAll(t, s, q); fmt.Sprint(got) != fmt.Sprintf("[[%d]]", files*rows) { // the same keys in every table
		t.Fatalf("%s: %v", q, got)
	}
	q = `SELECT (SELECT count(*) FROM d.t00011(1000000)), count(*) FROM d.t00012_changes(0, 1000000)`
	if got := queryAll(t, s, q); fmt.Sprint(got) != fmt.Sprintf("[[%d %d]]", files*rows, files*rows) {
		t.Fatalf("%s: %v", q, got)
	}
	views, macros = boundIDs(s)
	if fmt.Sprint(views) != "[4 8]" || fmt.Sprint(macros) != "[12 13]" || s.bound.stubViews || s.bound.stubMacros {
		t.Fatalf("views %v macros %v stubs %v/%v, want [4 8] [12 13] false/false", views, macros, s.bound.stubViews, s.bound.stubMacros)
	}
	// What is bound stays: the first table needs no new database.
	h := s.h
	queryAll(t, s, `SELECT count(*) FROM "D"."T00007" a JOIN d.t00003 b USING (id)`)
	if s.h != h {
		t.Fatal("a statement naming bound tables only set up a new database")
	}
}

// TestSessionCatalogListsEveryTable: the catalog — information_schema,
// duckdb_views(), SHOW ALL TABLES, DESCRIBE, pragma_table_info, pg_catalog
// — shows every table at the point with its columns, also the tables no
// statement read (stubs), and a table read later shows its rows; functions
// are listed when asked for.
func TestSessionCatalogListsEveryTable(t *testing.T) {
	const n = 25
	log := manyLake(t, n, 2, 3)
	e := newTestEngine(t, log, "", Options{})
	defer e.Close()
	s := openLatestOn(t, e)
	queryAll(t, s, "SELECT count(*) FROM d.t00001")
	// In this order: a statement that binds a table for real and reads
	// no catalog (DESCRIBE) sets up a database without stubs, so the last
	// statement reads the catalog.
	for _, c := range []struct{ q, want string }{
		{"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'd'", fmt.Sprintf("[[%d]]", n)},
		{"SELECT count(*) FROM information_schema.columns WHERE table_schema = 'd'", fmt.Sprintf("[[%d]]", 3*n)},
		{"SELECT count(*) FROM duckdb_views() WHERE schema_name = 'd'", fmt.Sprintf("[[%d]]", n)},
		{"SELECT count(*) FROM duckdb_views WHERE schema_name = 'd'", fmt.Sprintf("[[%d]]", n)},
		{"SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'd'", fmt.Sprintf("[[%d]]", n)},
		{"SELECT count(*) FROM (SHOW ALL TABLES) WHERE schema = 'd'", fmt.Sprintf("[[%d]]", n)},
		{"SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE d.t00020)", "[[id BIGINT, v VARCHAR, n INTEGER]]"},
		{"SELECT string_agg(name, ',') FROM pragma_table_info('d.t00021')", "[[id,v,n]]"},
	} {
		if got := fmt.Sprint(queryAll(t, s, c.q)); got != c.want {
			t.Errorf("%s: %s, want %s", c.q, got, c.want)
		}
	}
	if views, _ := boundIDs(s); fmt.Sprint(views) != "[2 21]" || !s.bound.stubViews || s.bound.stubMacros {
		t.Fatalf("bound views %v, stubs %v/%v: want [2 21] (DESCRIBE reads d.t00020), true/false", views, s.bound.stubViews, s.bound.stubMacros)
	}
	// A stubbed table read later shows its rows, in a database without
	// stubs (a client that reads the catalog once and then table after
	// table pays for the stubs once); the catalog still lists every table.
	if got := queryAll(t, s, "SELECT count(*) FROM d.t00009"); fmt.Sprint(got) != "[[6]]" {
		t.Fatalf("d.t00009 after its stub: %v", got)
	}
	if views, _ := boundIDs(s); fmt.Sprint(views) != "[2 10 21]" || s.bound.stubViews {
		t.Fatalf("bound views %v, stubs %v: want [2 10 21], false", views, s.bound.stubViews)
	}
	q := "SELECT count(*) FROM duckdb_functions() WHERE schema_name = 'd' AND function_type = 'table_macro'"
	if got := fmt.Sprint(queryAll(t, s, q)); got != fmt.Sprintf("[[%d]]", 2*n) {
		t.Fatalf("%s: %s, want %d (a table macro and a change feed per table)", q, got, 2*n)
	}
	if got := fmt.Sprint(queryAll(t, s, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'd'")); got != fmt.Sprintf("[[%d]]", n) {
		t.Fatalf("information_schema after binding more: %s", got)
	}
	// An unknown name fails the way DuckDB fails, suggesting the lake's
	// tables.
	_, _, err := s.Query(t.Context(), "SELECT * FROM d.t0009")
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "t00009") {
		t.Fatalf("unknown table: %v", err)
	}
}

// filesOf is the live files of table id at the latest version.
func filesOf(t *testing.T, log *tableformat.Log, id int64) []tableformat.AddFile {
	t.Helper()
	st, err := log.Latest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st, err = log.LoadTables(t.Context(), st, id); err != nil {
		t.Fatal(err)
	}
	return st.Tables.Get(id).SortedFiles()
}

// TestPoolKeepsSessionsWarm: a session handed back is handed out again at
// its point, bindings kept; another point gets another session; the pool
// keeps at most its size and drops sessions idle too long (a pinned clock).
func TestPoolKeepsSessionsWarm(t *testing.T) {
	log := manyLake(t, 5, 2, 2)
	e := newTestEngine(t, log, "", Options{})
	defer e.Close()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	pool := e.NewPool(2, time.Minute)
	pool.now = func() time.Time { return now }
	defer pool.Close()
	at := func(v int64) tableformat.Point {
		p, err := e.Resolve(t.Context(), At{Version: v})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	s1, err := pool.Get(t.Context(), at(2))
	if err != nil {
		t.Fatal(err)
	}
	queryAll(t, s1, "SELECT count(*) FROM d.t00001")
	pool.Put(s1)
	s2, err := pool.Get(t.Context(), at(2))
	if err != nil {
		t.Fatal(err)
	}
	if s2 != s1 || !s2.bound.views[2] {
		t.Fatalf("the same point got another session (same %v) or lost its bindings", s2 == s1)
	}
	s3, err := pool.Get(t.Context(), at(1))
	if err != nil {
		t.Fatal(err)
	}
	if s3 == s1 || s3.Point.Version != 1 {
		t.Fatalf("version 1 got the session of version %d", s3.Point.Version)
	}
	s4, err := pool.Get(t.Context(), at(1))
	if err != nil {
		t.Fatal(err)
	}
	pool.Put(s2)
	pool.Put(s3)
	pool.Put(s4) // past the size: the least recently used (s2) is closed
	if len(pool.free) != 2 || pool.free[0].s != s3 || pool.free[1].s != s4 || s2.h != nil {
		t.Fatalf("pool holds %d sessions; the oldest closed: %v", len(pool.free), s2.h == nil)
	}
	now = now.Add(2 * time.Minute)
	s5, err := pool.Get(t.Context(), at(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s5.Close()
	if s5 == s3 || s5 == s4 || len(pool.free) != 0 {
		t.Fatalf("sessions idle past the limit were handed out or kept (%d kept)", len(pool.free))
	}
}

// TestSessionLeavesOutCaseClashes: tables whose names differ only in case
// (DuckDB cannot tell them apart) are both left out, and named; a third
// table keeps its view, macro and change feed unless a table has the
// feed's name; the name of a table left out is free for a change feed.
func TestSessionLeavesOutCaseClashes(t *testing.T) {
	ctx := t.Context()
	log := tableformat.NewLog(tableformat.NewMemStore(), tableformat.LogOptions{})
	if _, err := log.Create(ctx, "src", 0); err != nil {
		t.Fatal(err)
	}
	sc := &tableformat.Schema{Version: 1, Key: []int{1}, Columns: []tableformat.Column{{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt, SQL: "bigint"}}}}
	e := &tableformat.Entry{Kind: tableformat.KindIngest}
	for i, name := range []string{"t", "T", "u", "u_changes", "v", "V_changes", "v_changes"} {
		e.Tables = append(e.Tables, tableformat.TableChange{Op: tableformat.TableCreate, TableID: int64(i + 1), Seq: int64(i + 1), DB: "d", Name: name, Schema: sc})
	}
	e.Txns = []tableformat.TxnMark{{Seq: 7, TS: 1}}
	e.Progress = tableformat.Progress{MaxSeq: 7, MaxTS: 1}
	if _, err := log.Commit(ctx, e); err != nil {
		t.Fatal(err)
	}
	eng := newTestEngine(t, log, "", Options{})
	defer eng.Close()
	s := openLatestOn(t, eng)
	if fmt.Sprint(s.clashing) != "[d.T d.V_changes d.t d.v_changes]" {
		t.Fatalf("left out %v", s.clashing)
	}
	got := queryAll(t, s, "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'd'")
	if fmt.Sprint(got) != "[[u,u_changes,v]]" {
		t.Fatalf("tables listed: %v", got)
	}
	// u_changes is the table; v's change feed is v_changes (the tables of
	// that name are left out).
	if !s.names.feeds[5] || s.names.feeds[3] {
		t.Fatalf("feeds %v: want v's (5), not u's (3)", s.names.feeds)
	}
	if got := queryAll(t, s, "SELECT count(*) FROM d.v_changes(0, 100)"); fmt.Sprint(got) != "[[0]]" {
		t.Fatalf("v's change feed: %v", got)
	}
}
