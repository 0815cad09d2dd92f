package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// TestTablePatterns: the --table patterns are source.include's — one
// check, one matcher, the same answers — over the whole db.table name,
// case-sensitive.
func TestTablePatterns(t *testing.T) {
	names := []string{"shop.orders", "shop.order_items", "shop.Orders", "crm.users", "crm.orders", "a.b.orders", "shop_archive.orders"}
	cases := []struct {
		patterns []string
		want     []string
	}{
		{[]string{"shop.*"}, []string{"shop.orders", "shop.order_items", "shop.Orders"}},
		{[]string{"*.orders"}, []string{"shop.orders", "crm.orders", "a.b.orders", "shop_archive.orders"}},
		{[]string{"shop.order?"}, []string{"shop.orders"}},
		{[]string{"shop.[o]*"}, []string{"shop.orders", "shop.order_items"}},
		{[]string{"SHOP.*"}, nil},                          // case-sensitive
		{[]string{"shop.orders"}, []string{"shop.orders"}}, // a name is a pattern
		{[]string{"crm.*", "shop.orders"}, []string{"shop.orders", "crm.users", "crm.orders"}},
		{[]string{"*.*"}, names},
		{[]string{"shop*.orders"}, []string{"shop.orders", "shop_archive.orders"}},
	}
	for _, c := range cases {
		for _, p := range c.patterns {
			if err := checkTablePattern(p); err != nil {
				t.Fatalf("%q: %v", p, err)
			}
		}
		include := tableFilter(c.patterns, nil)
		var got, viaInclude []string
		for _, n := range names {
			if matchName(c.patterns, n) {
				got = append(got, n)
			}
			db, table, _ := strings.Cut(n, ".")
			if include(db, table) {
				viaInclude = append(viaInclude, n)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q matches %q, want %q", c.patterns, got, c.want)
		}
		if !slices.Equal(got, viaInclude) {
			t.Errorf("%q: --table matches %q, source.include %q", c.patterns, got, viaInclude)
		}
	}
	for _, bad := range []string{"orders", "shop[.x", "", "shop.[a-"} {
		if err := checkTablePattern(bad); err == nil || !strings.Contains(err.Error(), "db.table patterns") {
			t.Errorf("%q: %v, want refused", bad, err)
		}
		var p tablePatterns
		if err := p.Set(bad); err == nil {
			t.Errorf("--table %q accepted", bad)
		}
	}
	// source.include refuses what --table refuses, with the same words.
	var cfg Config
	cfg.Source.Include = []string{"orders"}
	if msg := fmt.Sprint(cfg.Validate()); !strings.Contains(msg, "source.include[0]") || !strings.Contains(msg, `"orders": write db.table patterns`) {
		t.Errorf("source.include [orders]: %s", msg)
	}
}

// opsLake writes a lake of four tables in three databases with known
// counts (rows, files): shop.orders (3 rows in 2 files), shop.order_items
// (1, 1), crm.users (2, 1), and archive.old (1 row, 1 file, dropped); then
// requests re-snapshots of shop.orders and crm.users and opens a gap that
// waits for them. It returns a config naming it.
func opsLake(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := objstore.NewLocal(filepath.Join(dir, "wh", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	l := laketest.New(t, laketest.Options{Store: store, Source: "shop", Start: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)})
	sc := tableformat.Schema{Key: []int{1}, Columns: []tableformat.Column{{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}}}}
	orders, items := l.CreateTable("shop", "orders", sc), l.CreateTable("shop", "order_items", sc)
	users, old := l.CreateTable("crm", "users", sc), l.CreateTable("archive", "old", sc)
	l.Insert(orders, int64(1))
	l.Insert(orders, int64(2))
	l.Insert(items, int64(1))
	l.Insert(users, int64(1))
	l.Insert(users, int64(2))
	l.Insert(old, int64(1))
	l.Commit()
	l.Insert(orders, int64(3))
	l.Commit()
	l.DropTable(old)
	st := l.Commit()
	p := st.Progress
	p.PrevSeq = p.MaxSeq
	if _, err := l.Log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindIngest, Progress: p,
		Gap: &tableformat.GapOpen{Reason: "binlog purged", Tables: []string{"crm.users", "shop.orders"}},
		Resnapshot: []tableformat.ResnapshotOp{
			{Op: tableformat.ResnapshotRequest, DB: "crm", Name: "users", Reason: "binlog purged"},
			{Op: tableformat.ResnapshotRequest, DB: "shop", Name: "orders", Reason: "binlog purged"}}}); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\nquery:\n  cache_dir: %s/cache\ningest:\n  listen: \"\"\n", dir, dir))
}

// tablesJSON runs `binlake tables --format json` with args and returns
// its rows by db.table.
func tablesJSON(t *testing.T, cfg string, args ...string) map[string]tableRow {
	t.Helper()
	code, out, errs := runCLI(t, nil, append([]string{"tables", "-c", cfg, "--format", "json"}, args...)...)
	if code != exitOK {
		t.Fatalf("tables %v: exit %d: %s", args, code, errs)
	}
	rows := map[string]tableRow{}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var r tableRow
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Table == "" {
			t.Fatalf("tables %v: line %q: %v", args, line, err)
		}
		rows[r.DB+"."+r.Table] = r
	}
	return rows
}

// TestTablesFilterAndSummary: --table chooses tables by pattern, the
// summary's numbers are the sums of the tables it covers, in all and per
// database, in both formats; --summary prints it alone.
func TestTablesFilterAndSummary(t *testing.T) {
	cfg := opsLake(t)
	all := tablesJSON(t, cfg)
	if got := slices.Sorted(maps.Keys(all)); !slices.Equal(got, []string{"crm.users", "shop.order_items", "shop.orders"}) {
		t.Fatalf("tables: %q", got)
	}
	for name, want := range map[string][2]int64{"shop.orders": {3, 2}, "shop.order_items": {1, 1}, "crm.users": {2, 1}} {
		if r := all[name]; r.Rows != want[0] || !r.RowsExact || int64(r.DataFiles) != want[1] || r.Bytes <= 0 {
			t.Errorf("%s: %+v, want %d rows in %d files", name, r, want[0], want[1])
		}
	}
	shop := tablesJSON(t, cfg, "--table", "shop.*")
	if len(shop) != 2 || shop["shop.orders"].Bytes != all["shop.orders"].Bytes {
		t.Fatalf("--table shop.*: %v", shop)
	}
	if got := tablesJSON(t, cfg, "--table", "*.orders", "--table", "crm.u*"); len(got) != 2 || got["crm.users"].Rows != 2 {
		t.Fatalf("--table *.orders --table crm.u*: %v", got)
	}
	if got := tablesJSON(t, cfg, "--all", "--table", "archive.*"); len(got) != 1 || !got["archive.old"].Dropped {
		t.Fatalf("--all --table archive.*: %v", got)
	}

	// The summary, as JSON: the sums of the tables matched.
	code, out, errs := runCLI(t, nil, "tables", "-c", cfg, "--format", "json", "--summary", "--table", "shop.*", "--table", "crm.*")
	var line summaryLine
	if code != exitOK || strings.Count(strings.TrimSpace(out), "\n") != 0 || json.Unmarshal([]byte(out), &line) != nil {
		t.Fatalf("tables --summary --format json: exit %d:\n%s%s", code, out, errs)
	}
	s := line.Summary
	bytes := all["shop.orders"].Bytes + all["shop.order_items"].Bytes + all["crm.users"].Bytes
	shopBytes := all["shop.orders"].Bytes + all["shop.order_items"].Bytes
	if s.Tables != 3 || s.Matched != 3 || s.Rows != 6 || !s.RowsExact || s.Files != 4 || s.Bytes != bytes ||
		!slices.Equal(s.Patterns, []string{"shop.*", "crm.*"}) {
		t.Fatalf("summary: %+v", s)
	}
	wantDBs := []databaseSummary{
		{DB: "crm", Tables: 1, summaryCounts: summaryCounts{Rows: 2, RowsExact: true, Files: 1, Bytes: all["crm.users"].Bytes}},
		{DB: "shop", Tables: 2, summaryCounts: summaryCounts{Rows: 4, RowsExact: true, Files: 3, Bytes: shopBytes}},
	}
	if !slices.Equal(s.Databases, wantDBs) {
		t.Fatalf("per database:\n got %+v\nwant %+v", s.Databases, wantDBs)
	}

	// As text: after the listing, and alone with --summary.
	code, out, _ = runCLI(t, nil, "tables", "-c", cfg, "--table", "shop.*")
	t.Logf("binlake tables --table 'shop.*':\n%s", out)
	if code != exitOK || strings.Contains(out, "crm.users") || !strings.Contains(out, "shop.order_items") ||
		!strings.Contains(out, fmt.Sprintf("summary: 2 of 3 tables match shop.*: 4 rows, 3 files, %s\n", humanBytes(shopBytes))) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "tables", "-c", cfg, "--summary")
	t.Logf("binlake tables --summary:\n%s", out)
	if code != exitOK || strings.Contains(out, "TABLE ") || !strings.HasPrefix(out, fmt.Sprintf("summary: 3 tables: 6 rows, 4 files, %s\n", humanBytes(bytes))) ||
		!strings.Contains(out, "DATABASE") || !strings.Contains(out, "shop      2       4     3") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestTableFilterNoMatch: a pattern that matches no table is a usage
// error (exit 2) that names it and the databases the lake has — each
// unmatched pattern, and the tables it would match but for case — in
// tables, status and compact alike; a malformed pattern is refused before
// the lake is read.
func TestTableFilterNoMatch(t *testing.T) {
	cfg := opsLake(t)
	for _, cmd := range []string{"tables", "status", "compact"} {
		code, _, errs := runCLI(t, nil, cmd, "-c", cfg, "--table", "shop.*", "--table", "web.*", "--table", "SHOP.ORDERS")
		t.Logf("%s: %s", cmd, errs)
		for _, want := range []string{
			"--table 'web.*': no table matches; databases in the lake: crm (1 table), shop (2 tables)",
			"--table 'SHOP.ORDERS': no table matches", "patterns are case-sensitive: SHOP.ORDERS would match shop.orders",
		} {
			if !strings.Contains(errs, want) {
				t.Errorf("binlake %s: lacks %q:\n%s", cmd, want, errs)
			}
		}
		if code != exitUsage || strings.Contains(errs, "'shop.*'") {
			t.Errorf("binlake %s: exit %d (want %d), or the matching pattern named:\n%s", cmd, code, exitUsage, errs)
		}
		// A dropped table is not there to match (tables --all lists it).
		if code, _, errs := runCLI(t, nil, cmd, "-c", cfg, "--table", "archive.*"); code != exitUsage || !strings.Contains(errs, "'archive.*'") {
			t.Errorf("binlake %s --table archive.*: exit %d\n%s", cmd, code, errs)
		}
		if code, _, errs := runCLI(t, nil, cmd, "-c", cfg, "--table", "orders"); code != exitUsage || !strings.Contains(errs, "write db.table patterns") {
			t.Errorf("binlake %s --table orders: exit %d\n%s", cmd, code, errs)
		}
	}
}

// TestStatusFilterAndSummary: status shows the tables --table matches and
// the re-snapshots of those only, names the gap's other pending tables by
// count, sums them in its summary (JSON: "summary"), and with --summary
// leaves out the tables and counts the re-snapshots.
func TestStatusFilterAndSummary(t *testing.T) {
	cfg := opsLake(t)
	all := tablesJSON(t, cfg)
	code, out, errs := runCLI(t, nil, "status", "-c", cfg, "--table", "crm.*")
	t.Logf("binlake status --table 'crm.*':\n%s", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"re-snapshot  crm.users: waiting for the ingest daemon (binlog purged)",
		"open until crm.users and 1 table that --table leaves out are re-read",
		"crm.users  2     1",
		fmt.Sprintf("summary: 1 of 3 tables match crm.*: 2 rows, 1 file, %s\n", humanBytes(all["crm.users"].Bytes)),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}
	if strings.Contains(out, "shop.orders") {
		t.Errorf("status --table crm.* shows shop.orders")
	}

	code, out, _ = runCLI(t, nil, "status", "-c", cfg, "--format", "json", "--table", "shop.*")
	var rep statusReport
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("json: exit %d\n%s", code, out)
	}
	if len(rep.Tables) != 2 || rep.Tables[0].Table != "shop.order_items" || rep.Tables[1].Table != "shop.orders" {
		t.Errorf("tables: %+v", rep.Tables)
	}
	if r := rep.Lake.Resnapshots; len(r) != 1 || r[0].Table != "shop.orders" {
		t.Errorf("resnapshots: %+v", r)
	}
	if g := rep.Lake.Gaps; len(g) != 1 || !slices.Equal(g[0].Pending, []string{"shop.orders"}) || g[0].PendingOther != 1 {
		t.Errorf("gaps: %+v", g)
	}
	if s := rep.Summary; s.Tables != 3 || s.Matched != 2 || s.Rows != 4 || s.Files != 3 ||
		s.Bytes != all["shop.orders"].Bytes+all["shop.order_items"].Bytes || len(s.Databases) != 1 {
		t.Errorf("summary: %+v", s)
	}

	code, out, _ = runCLI(t, nil, "status", "-c", cfg, "--summary")
	t.Logf("binlake status --summary:\n%s", out)
	if code != exitOK || strings.Contains(out, "TABLE ") || strings.Contains(out, "re-snapshot ") ||
		!strings.Contains(out, "re-snapshots  2 in progress") || !strings.Contains(out, "summary: 3 tables: 6 rows, 4 files") ||
		!strings.Contains(out, "open until crm.users, shop.orders are re-read") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "status", "-c", cfg, "--summary", "--format", "json")
	var raw map[string]json.RawMessage
	if code != exitOK || json.Unmarshal([]byte(out), &raw) != nil {
		t.Fatalf("json --summary: exit %d\n%s", code, out)
	}
	if _, ok := raw["tables"]; ok {
		t.Errorf("status --summary --format json has tables:\n%s", out)
	}
	if _, ok := raw["summary"]; !ok {
		t.Errorf("status --summary --format json has no summary:\n%s", out)
	}
}

// TestPendingText: an open gap's pending tables are named up to maxNamed,
// then counted.
func TestPendingText(t *testing.T) {
	var many []string
	for i := range maxNamed + 5 {
		many = append(many, fmt.Sprintf("d.t%02d", i))
	}
	for _, c := range []struct {
		g    gapStatus
		want string
	}{
		{gapStatus{Pending: []string{"a.b", "c.d"}}, "a.b, c.d"},
		{gapStatus{PendingOther: 3}, "3 tables that --table leaves out"},
		{gapStatus{Pending: many, PendingOther: 1}, strings.Join(many[:maxNamed], ", ") + " and 5 more, 1 table that --table leaves out"},
	} {
		if got := pendingText(c.g); got != c.want {
			t.Errorf("pendingText(%+v) = %q, want %q", c.g, got, c.want)
		}
	}
}
