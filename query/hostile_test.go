package query

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/binlake/binlake/tableformat"
)

// hostileEntry is one statement of testdata/hostile.sql (its header
// explains the expectations).
type hostileEntry struct {
	expect, what, sql string
	line              int
}

func readHostile(t testing.TB) []hostileEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "hostile.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var out []hostileEntry
	var cur *hostileEntry
	var body []string
	flush := func() {
		if cur != nil && body != nil {
			cur.sql = strings.Join(body, "\n")
			out = append(out, *cur)
		}
	}
	for i, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "-- "); ok {
			if expect, what, ok := strings.Cut(h, ": "); ok && (expect == "refused" || expect == "harmless" || expect == "stopped" || expect == "ok") {
				flush()
				cur, body = &hostileEntry{expect: expect, what: what, line: i + 1}, nil
				continue
			}
		}
		if strings.HasPrefix(line, "-- ==== ") {
			flush()
			cur = nil
			continue
		}
		if cur != nil {
			body = append(body, line)
		}
	}
	flush()
	for i := range out {
		out[i].sql = strings.TrimRight(out[i].sql, "\n")
	}
	return out
}

// hostileEnv is a session with sentinels around it: a secret file outside
// the cache, another cached object the point does not name, a TCP port
// nothing may connect to.
type hostileEnv struct {
	s                      *Session
	cacheDir, outside, cwd string
	secret, other, allowed string
	sentinel               string
	home                   string
	port                   int
	accepted               atomic.Int64
	settings               string
}

const hostileSentinel = "binlake-hostile-sentinel-7f3a9c"

func newHostileEnv(t testing.TB, opts Options) *hostileEnv {
	t.Helper()
	h := &hostileEnv{sentinel: hostileSentinel}
	log := hostileLake(t)
	h.cacheDir = t.TempDir()
	e := newTestEngine(t, log, h.cacheDir, opts)
	p, err := e.Resolve(context.Background(), At{})
	if err != nil {
		t.Fatal(err)
	}
	if h.s, err = e.Open(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.s.Close() })
	// Bind everything the point has (and the catalog's stubs, of which
	// there are none left): no statement checked later rebinds, so the
	// session's database stays the one whose settings were recorded.
	if err := bindAll(context.Background(), h.s); err != nil {
		t.Fatal(err)
	}
	h.allowed = h.s.pins[0]
	h.outside = t.TempDir()
	h.secret = filepath.Join(h.outside, "secret.csv")
	if err := os.WriteFile(h.secret, []byte("s\n"+h.sentinel+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Another cached object, as a file of another point would be.
	h.other = filepath.Join(h.cacheDir, "objects", "zz", "other.parquet")
	if err := os.MkdirAll(filepath.Dir(h.other), 0o755); err != nil {
		t.Fatal(err)
	}
	scratch, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer scratch.Close()
	if _, err := scratch.Exec("COPY (SELECT '" + h.sentinel + "' AS s) TO " + quoteString(h.other) + " (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	if h.cwd, err = os.Getwd(); err != nil {
		t.Fatal(err)
	}
	h.home, _ = os.UserHomeDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	h.port = ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.accepted.Add(1)
			c.Close()
		}
	}()
	h.settings = h.snapshotSettings(t)
	return h
}

// hostileLake commits one table, shop."all types", of three rows at
// sequences 2 to 4 (typedLake's shape, small, and usable from a fuzz
// target).
func hostileLake(t testing.TB) *tableformat.Log {
	t.Helper()
	sc := tableformat.Schema{Version: 1, Key: []int{1}, Columns: []tableformat.Column{
		{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
		{ID: 2, Name: "note", Type: tableformat.Type{Kind: tableformat.KindVarchar, Length: 40}, Nullable: true},
	}}
	var rows []tableformat.Row
	for i := int64(1); i <= 3; i++ {
		rows = append(rows, tableformat.Row{Seq: i + 1, TS: 1_700_000_000_000_000, Op: tableformat.OpInsert, Values: []any{i, "row"}})
	}
	log, _ := oneTableLake(t, &sc, rows)
	return log
}

// bindAll binds every view and macro of the session's point, and the
// catalog's stubs.
func bindAll(ctx context.Context, s *Session) error {
	all := needs{views: map[int64]bool{}, macros: map[int64]bool{}, stubViews: true, stubMacros: true}
	for _, t := range s.names.viewOrder {
		all.views[t.ID] = true
	}
	for _, t := range s.names.macroOrder {
		all.macros[t.ID] = true
	}
	return s.bind(ctx, all)
}

func (h *hostileEnv) expand(q string) string {
	return strings.NewReplacer("{{SECRET}}", h.secret, "{{OUTSIDE}}", h.outside, "{{OTHER}}", h.other,
		"{{ALLOWED}}", h.allowed, "{{CACHE}}", h.cacheDir, "{{SPILL}}", h.s.h.spill,
		"{{PORT}}", fmt.Sprint(h.port)).Replace(q)
}

// snapshotSettings is every DuckDB setting of the session and its catalog.
func (h *hostileEnv) snapshotSettings(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT name || '=' || coalesce(value, '') FROM duckdb_settings() ORDER BY name",
		"SELECT database_name || '.' || schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1",
		"SELECT database_name || '.' || schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1",
		"SELECT database_name FROM duckdb_databases() ORDER BY 1",
		"SELECT name FROM duckdb_secrets() ORDER BY 1",
		"SELECT name FROM duckdb_variables() ORDER BY 1",
		"SELECT count(*)::VARCHAR FROM duckdb_logs",
		"SELECT version || ',' || seq FROM binlake.point",
	} {
		rows, err := h.s.h.conn.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			b.WriteString(s + "\n")
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// files lists the files under the cache (but the spill directory), the
// directory outside it, the working directory and ~/.duckdb.
func (h *hostileEnv) files(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, root := range []string{h.cacheDir, h.outside, h.cwd, filepath.Join(h.home, ".duckdb")} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if p == h.s.cache.SpillDir() {
				return filepath.SkipDir
			}
			if root == h.cwd && p != root {
				// Others edit the package while this runs: watch for
				// what a statement could write, not their sources,
				// editors' files or FuzzGate's growing corpus.
				name := d.Name()
				if d.IsDir() && name == "testdata" {
					return filepath.SkipDir
				}
				if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "~") {
					return nil
				}
			}
			out = append(out, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(out)
	return out
}

// run runs q through the session and returns its error and its rows as
// text (at most about 1 MB of them).
func (h *hostileEnv) run(ctx context.Context, q string) (string, error) {
	rows, cancel, err := h.s.Query(ctx, q)
	if err != nil {
		return "", err
	}
	defer cancel()
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() && out.Len() < 1<<20 {
		if err := rows.Scan(ptrs...); err != nil {
			return out.String(), err
		}
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			fmt.Fprintf(&out, "%v\t", v)
		}
		out.WriteByte('\n')
	}
	return out.String(), rows.Err()
}

// extraHostile are the entries a text file holds badly.
func extraHostile() []hostileEntry {
	return []hostileEntry{
		{expect: "refused", what: "NUL byte before a second statement", sql: "SELECT 1\x00; COPY (SELECT 1) TO '{{OUTSIDE}}/nul.csv'"},
		{expect: "refused", what: "NUL byte after the first statement", sql: "SELECT 1;\x00 COPY (SELECT 1) TO '{{OUTSIDE}}/nul2.csv'"},
		{expect: "refused", what: "NUL byte hiding a COPY from a parser that stops there", sql: "COPY (SELECT 1) TO '{{OUTSIDE}}/nul3.csv'\x00SELECT 1"},
		{expect: "refused", what: "invalid UTF-8", sql: "SELECT '\xff\xfe'; COPY (SELECT 1) TO '{{OUTSIDE}}/utf8.csv'"},
		{expect: "refused", what: "a lone surrogate encoded in UTF-8", sql: "SELECT '\xed\xa0\x80'"},
		{expect: "refused", what: "very deep parentheses", sql: "SELECT " + strings.Repeat("(", 50000) + "1" + strings.Repeat(")", 50000)},
		{expect: "refused", what: "a very deep expression", sql: "SELECT " + strings.Repeat("1+", 20000) + "1"},
		{expect: "refused", what: "ten thousand statements", sql: strings.Repeat("SELECT 1;", 10000) + "COPY (SELECT 1) TO '{{OUTSIDE}}/many.csv'"},
		{expect: "ok", what: "a very long string literal", sql: "SELECT length('" + strings.Repeat("x;", 1<<20) + "') AS n"},
		{expect: "ok", what: "a very long comment", sql: "SELECT 1 /*" + strings.Repeat(";COPY", 1<<18) + "*/"},
		{expect: "refused", what: "form feed and vertical tab as spaces", sql: "SELECT 1\f;\vCOPY (SELECT 1) TO '{{OUTSIDE}}/ff.csv'"},
	}
}

// TestHostileStatements runs the hostile corpus: each statement is refused
// or harmless — no file created or read outside the cache's point files and
// the spill directory, no connection opened, no setting changed. The
// statements that must be stopped, and the harmless ones (whose outcome,
// the time limit included, does not matter), run in a session with a time
// limit of a second (a quarter of one under -short: the limit works the
// same, sooner); those that must answer, in one with the default limit,
// so that no verdict depends on how fast the machine answers.
func TestHostileStatements(t *testing.T) {
	opts := Options{MemoryLimit: "128MB", Threads: 2}
	patient := newHostileEnv(t, opts)
	opts.Timeout = time.Second
	if testing.Short() {
		opts.Timeout = 250 * time.Millisecond
	}
	limited := newHostileEnv(t, opts)
	entries := append(readHostile(t), extraHostile()...)
	if len(entries) < 100 {
		t.Fatalf("%d hostile statements, want at least 100", len(entries))
	}
	before := map[*hostileEnv][]string{patient: patient.files(t), limited: limited.files(t)}
	ctx := context.Background()
	for _, e := range entries {
		h := patient
		if e.expect == "stopped" || e.expect == "harmless" {
			h = limited
		}
		q := h.expand(e.sql)
		name := fmt.Sprintf("line %d: %s: %s", e.line, e.expect, e.what)
		start := time.Now()
		out, err := h.run(ctx, q)
		took := time.Since(start)
		if took > 300*time.Millisecond {
			t.Logf("SLOW %s: %s", name, took)
		}
		switch e.expect {
		case "refused":
			if !errors.Is(err, ErrRefused) {
				t.Errorf("%s: %.200q: %v, want a refusal", name, q, err)
			} else if !strings.Contains(err.Error(), "refused") {
				t.Errorf("%s: %v does not say it refused", name, err)
			}
		case "ok":
			if err != nil {
				t.Errorf("%s: %.200q: %v", name, q, err)
			}
		case "stopped":
			if err == nil || !strings.Contains(err.Error(), "time limit") && !strings.Contains(err.Error(), "Interrupted") {
				t.Errorf("%s: %.200q: %v, want the time limit", name, q, err)
			}
		}
		if strings.Contains(out, h.sentinel) || err != nil && strings.Contains(err.Error(), h.sentinel) {
			t.Errorf("%s: %.200q read a file outside the point: %.300s %v", name, q, out, err)
		}
		if got := h.snapshotSettings(t); got != h.settings {
			t.Fatalf("%s: %.200q changed the session:\n%s\nwas:\n%s", name, q, got, h.settings)
		}
		if after := h.files(t); strings.Join(after, "\n") != strings.Join(before[h], "\n") {
			t.Fatalf("%s: %.200q changed files:\n%s\nwas:\n%s", name, q, strings.Join(after, "\n"), strings.Join(before[h], "\n"))
		}
		if n := h.accepted.Load(); n != 0 {
			t.Fatalf("%s: %.200q: %d connections to the local port", name, q, n)
		}
	}
	// The sessions still answer after all of it.
	for _, h := range []*hostileEnv{patient, limited} {
		if out, err := h.run(ctx, "SELECT seq FROM binlake.point"); err != nil || out != "4\t\n" {
			t.Errorf("after the corpus: %q %v", out, err)
		}
	}
}

// TestLockDownWithoutGate runs the corpus's file reads straight on the
// session's connection, past the gate: the lock-down alone keeps every
// file but the point's own unreadable and unwritable.
func TestLockDownWithoutGate(t *testing.T) {
	h := newHostileEnv(t, Options{Timeout: 10 * time.Second})
	before := h.files(t)
	ctx := context.Background()
	var n int
	for _, e := range readHostile(t) {
		if !strings.Contains(e.sql, "{{SECRET}}") && !strings.Contains(e.sql, "{{OTHER}}") && !strings.Contains(e.sql, "{{OUTSIDE}}") &&
			!strings.Contains(e.sql, "{{PORT}}") && !strings.Contains(e.sql, "{{CACHE}}") {
			continue
		}
		if strings.Contains(e.sql, ";") || strings.Contains(e.sql, "enable_logging") || strings.Contains(e.sql, "TEMP TABLE") {
			continue // several statements, or not a file's access
		}
		q := h.expand(e.sql)
		n++
		rows, err := h.s.h.conn.QueryContext(ctx, q)
		if err == nil {
			var out strings.Builder
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if rows.Scan(ptrs...) == nil {
					fmt.Fprintln(&out, vals...)
				}
			}
			rows.Close()
			if strings.Contains(out.String(), h.sentinel) {
				t.Errorf("line %d: %q read a file outside the point", e.line, q)
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d statements reach files", n)
	}
	if after := h.files(t); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("files changed:\n%s\nwas:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	if c := h.accepted.Load(); c != 0 {
		t.Errorf("%d connections to the local port", c)
	}
	// The point's own file stays readable to the views.
	var rows int
	if err := h.s.h.conn.QueryRowContext(ctx, "SELECT count(*) FROM read_parquet("+quoteString(h.allowed)+")").Scan(&rows); err != nil || rows == 0 {
		t.Errorf("the point's file: %d rows, %v", rows, err)
	}
}

// FuzzGate: whatever the gate accepts is one SELECT statement, by a
// second parse on an unlocked database of its own, and checking it
// changed nothing: no setting, no catalog entry, no file, no connection.
func FuzzGate(f *testing.F) {
	h := newHostileEnv(f, Options{Timeout: 5 * time.Second})
	// hostile.sql's statements are the seeds in testdata/fuzz/FuzzGate
	// (TestHostileSeedsWritten); the ones a text file holds badly are here.
	for _, e := range extraHostile() {
		f.Add(h.expand(e.sql))
	}
	if _, err := h.s.h.conn.ExecContext(context.Background(), "CREATE TABLE main.canary AS SELECT 42 AS x"); err != nil {
		f.Fatal(err)
	}
	h.settings = h.snapshotSettings(f)
	before := strings.Join(h.files(f), "\n")
	other, err := sql.Open("duckdb", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { other.Close() })
	oc, err := other.Conn(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		st := time.Now()
		defer func() {
			if d := time.Since(st); d > 100*time.Millisecond {
				t.Logf("SLOW %.80q %s", q, d)
			}
		}()
		err := h.s.check(context.Background(), q)
		if got := h.snapshotSettings(t); got != h.settings {
			t.Fatalf("checking %q changed the session:\n%s\nwas:\n%s", q, got, h.settings)
		}
		var canary int
		if err := h.s.h.conn.QueryRowContext(context.Background(), "SELECT sum(x) FROM main.canary").Scan(&canary); err != nil || canary != 42 {
			t.Fatalf("checking %q changed the canary: %d %v", q, canary, err)
		}
		if after := strings.Join(h.files(t), "\n"); after != before {
			t.Fatalf("checking %q changed files:\n%s", q, after)
		}
		if n := h.accepted.Load(); n != 0 {
			t.Fatalf("checking %q: %d connections", q, n)
		}
		if err != nil {
			return
		}
		// Accepted: one statement and a SELECT to an independent parser.
		var parsed string
		if err := oc.QueryRowContext(context.Background(), "SELECT CAST(json_serialize_sql(CAST($1 AS VARCHAR)) AS VARCHAR)", q).Scan(&parsed); err != nil {
			t.Fatalf("accepted %q, which a second parse fails on: %v", q, err)
		}
		var res struct {
			Error      bool `json:"error"`
			Statements []struct {
				Node struct {
					Type string `json:"type"`
				} `json:"node"`
			} `json:"statements"`
		}
		if err := json.Unmarshal([]byte(parsed), &res); err != nil || res.Error || len(res.Statements) != 1 {
			t.Fatalf("accepted %q, which a second parse reads as %.300s (%v)", q, parsed, err)
		}
		switch res.Statements[0].Node.Type {
		case "SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE":
		default:
			t.Fatalf("accepted %q, a %s", q, res.Statements[0].Node.Type)
		}
		err = oc.Raw(func(dc any) error {
			st, err := dc.(*duckdb.Conn).Prepare(q)
			if err != nil {
				if strings.Contains(err.Error(), "PrepareContext") || strings.Contains(err.Error(), "multiple") {
					return fmt.Errorf("several statements: %w", err)
				}
				return nil // binds nothing without the session's views
			}
			defer st.Close()
			typ, err := st.(*duckdb.Stmt).StatementType()
			if err != nil {
				return err
			}
			if typ != duckdb.STATEMENT_TYPE_SELECT {
				return fmt.Errorf("a %s statement", stmtTypeName(typ))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("accepted %q: %v", q, err)
		}
	})
}

// TestHostileSeedsWritten keeps testdata/fuzz/FuzzGate in step with the
// corpus: each statement of hostile.sql (placeholders unexpanded) is a seed.
func TestHostileSeedsWritten(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzGate")
	entries := readHostile(t)
	var missing []string
	for i, e := range entries {
		p := filepath.Join(dir, fmt.Sprintf("hostile-%03d", i))
		want := fmt.Sprintf("go test fuzz v1\nstring(%q)\n", e.sql)
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			missing = append(missing, p)
			if os.Getenv("BINLAKE_WRITE_SEEDS") != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if len(missing) > 0 && os.Getenv("BINLAKE_WRITE_SEEDS") == "" {
		t.Errorf("%d seeds out of date (first %s); rerun with BINLAKE_WRITE_SEEDS=1", len(missing), missing[0])
	}
}
