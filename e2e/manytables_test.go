package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// TestManyTables: the daemon on a source of 2,000 tables (issue 21): the
// initial snapshot (read by two connections of one read view, its progress
// logged in total), then changes to some tables and DDL on others — ADD
// COLUMN with a default, RENAME, DROP, CREATE — then a query joining three
// of them (the altered one, the renamed one, the new one) answers as the
// same query on the source, and information_schema lists every table the
// lake holds, as the source lists its own.
func TestManyTables(t *testing.T) {
	const n, db = 2000, "many"
	began := time.Now()
	e := newEnv(t)
	t.Logf("created %d tables in %v", n, createManyTables(t, e.db, db, n).Round(time.Millisecond))
	e.setInclude(t, db+".*")
	store := e.store()
	daemon := e.ingest()
	waitForGTID(t, store, binlogPos(t, e.db), 10*time.Minute)
	t.Logf("snapshot of %d tables in the lake after %v", n, time.Since(began).Round(time.Millisecond))
	logged, err := os.ReadFile(filepath.Join(e.logDir, fmt.Sprintf("ingest-%03d.log", e.runs)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf(`tables=%d readers=2`, n), fmt.Sprintf(`msg="snapshot read" tables_done=%d tables=%d rows=%d `, n, n, n*manyRows)} {
		if !strings.Contains(string(logged), want) {
			t.Errorf("the daemon's log lacks %q", want)
		}
	}

	name := func(i int) string { return db + "." + manyTableName(i) }
	e.db.Exec(t,
		// Rows changed in some tables.
		fmt.Sprintf("UPDATE %s SET v = CONCAT(v, '!') WHERE id = 2", name(10)),
		fmt.Sprintf("INSERT INTO %s VALUES (4, 'four', 40)", name(11)),
		fmt.Sprintf("DELETE FROM %s WHERE id = 1", name(11)),
		fmt.Sprintf("UPDATE %s SET n = -n", name(1999)),
		fmt.Sprintf("INSERT INTO %s VALUES (9, NULL, NULL)", name(500)),
		// DDL on others.
		fmt.Sprintf("ALTER TABLE %s ADD COLUMN extra INT NOT NULL DEFAULT 7", name(10)),
		fmt.Sprintf("INSERT INTO %s (id, v, n, extra) VALUES (4, 'after the alter', 4, 8)", name(10)),
		fmt.Sprintf("RENAME TABLE %s TO %s.renamed", name(11), db),
		fmt.Sprintf("UPDATE %s.renamed SET n = n + 100 WHERE id = 2", db),
		fmt.Sprintf("DROP TABLE %s", name(12)),
		fmt.Sprintf("CREATE TABLE %s.fresh (id BIGINT PRIMARY KEY, v VARCHAR(32), n INT)", db),
		fmt.Sprintf("INSERT INTO %s.fresh VALUES (1, 'f1', 1), (2, NULL, 2), (4, 'f4', NULL)", db))
	waitForGTID(t, store, binlogPos(t, e.db), 5*time.Minute)

	q := newQuerier(t, e)
	join := fmt.Sprintf(`SELECT a.id, a.v AS av, a.n AS an, a.extra, b.v AS bv, b.n AS bn, c.v AS cv, c.n AS cn
FROM %s a JOIN %s.renamed b ON b.id = a.id LEFT JOIN %s.fresh c ON c.id = a.id ORDER BY a.id`, name(10), db, db)
	want := sourceQueryCSV(t, e, join)
	got, errOut, code := q.query(join)
	if code != 0 || got != want {
		t.Errorf("a join of three tables: exit %d: %s\n got %q\nwant %q", code, errOut, got, want)
	}
	if want != "id,av,an,extra,bv,bn,cv,cn\n2,row 2 of 10!,20,7,row 2 of 11,122,,2\n3,row 3 of 10,30,7,row 3 of 11,33,,\n"+
		"4,after the alter,4,8,four,40,f4,\n" {
		t.Errorf("the source's join is not the one this test means: %q", want)
	}

	tables := fmt.Sprintf("SELECT count(*) AS tables FROM information_schema.tables WHERE table_schema = '%s'", db)
	want = sourceQueryCSV(t, e, tables)
	got, errOut, code = q.query(tables)
	st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for tb := range st.Tables.Values() {
		if tb.DroppedSeq == 0 && tb.Current().DB == db {
			live++
		}
	}
	if code != 0 || got != want || want != fmt.Sprintf("tables\n%d\n", live) || live != n {
		t.Errorf("information_schema.tables: exit %d: %s\n got %q\nwant %q (the source), %d (the lake), %d", code, errOut, got, want, live, n)
	}

	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Errorf("daemon after SIGTERM: %v", err)
	}
	t.Logf("test took %v", time.Since(began).Round(time.Millisecond))
}

// sourceQueryCSV runs stmt on the source, as root, and renders its result
// as `binlake query --format csv` prints one: a header of the column
// names, NULL as an empty field (every column of stmt must print as the
// server's text does: integers and strings).
func sourceQueryCSV(t *testing.T, e *env, stmt string) string {
	t.Helper()
	rows, err := e.db.RootDB(t, "").QueryContext(context.Background(), stmt)
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fields := make([]string, len(cols))
	for i, c := range cols {
		fields[i] = csvField(c, false)
	}
	b.WriteString(csvLine(fields))
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			fields[i] = csvField(v.String, !v.Valid)
		}
		b.WriteString(csvLine(fields))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// manyRows is how many rows each table createManyTables makes holds.
const manyRows = 3

// manyScripts is how many sessions create or change many tables at once:
// MariaDB creates tables faster from a few sessions than from one, and
// the scripts (statements of up to manyPerScript tables each, through the
// command-line client) save a round trip per statement.
const (
	manyScripts   = 4
	manyPerScript = 250
)

// manyTableName is the name of table i of createManyTables: laketest's
// naming, so the lake's tables sort as the generated lakes' do.
func manyTableName(i int) string {
	_, name := laketest.ManyTable(i)
	return name
}

// createManyTables creates database db with n tables t00000 … (id BIGINT
// key, v VARCHAR(32), n INT) of manyRows rows each, and returns how long
// it took.
func createManyTables(t testing.TB, m *testenv.MariaDB, db string, n int) time.Duration {
	t.Helper()
	start := time.Now()
	m.Exec(t, "CREATE DATABASE "+db)
	err := forManyTables(n, func(i int, sb *strings.Builder) {
		fmt.Fprintf(sb, "CREATE TABLE %s.%s (id BIGINT PRIMARY KEY, v VARCHAR(32), n INT);\n", db, manyTableName(i))
		fmt.Fprintf(sb, "INSERT INTO %s.%s VALUES ", db, manyTableName(i))
		for r := 1; r <= manyRows; r++ {
			if r > 1 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(sb, "(%d,'row %d of %d',%d)", r, r, i, r*i)
		}
		sb.WriteString(";\n")
	}, m)
	if err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// updateManyTables changes one row of each of the n tables of db, each in
// a transaction of its own: changes spread over every table. round picks
// the row (and the value).
func updateManyTables(t testing.TB, m *testenv.MariaDB, db string, n, round int) {
	t.Helper()
	err := forManyTables(n, func(i int, sb *strings.Builder) {
		fmt.Fprintf(sb, "UPDATE %s.%s SET n = n + 1, v = 'round %d' WHERE id = %d;\n", db, manyTableName(i), round, 1+round%manyRows)
	}, m)
	if err != nil {
		t.Fatal(err)
	}
}

// forManyTables runs the statements stmt writes for tables 0 … n-1 as
// scripts of manyPerScript tables, manyScripts at a time.
func forManyTables(n int, stmt func(i int, sb *strings.Builder), m *testenv.MariaDB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(manyScripts)
	for lo := 0; lo < n; lo += manyPerScript {
		g.Go(func() error {
			var sb strings.Builder
			for i := lo; i < min(n, lo+manyPerScript); i++ {
				stmt(i, &sb)
			}
			return m.ExecContext(gctx, sb.String())
		})
	}
	return g.Wait()
}
