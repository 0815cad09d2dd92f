package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/query"
)

// TestQueryCommand runs `binlake query` on the lake buildLake makes (two
// rows in two commits, then a rename) at every kind of point, in every
// format.
func TestQueryCommand(t *testing.T) {
	cfg := queryTestLake(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--format", "csv", "SELECT * FROM shop.purchases ORDER BY id"}, "id,total\n2,12.50\n3,12.50\n"},
		{[]string{"SELECT * FROM shop.orders ORDER BY id", "--as-of-version", "3", "--format", "csv"}, "id,total\n2,12.50\n3,12.50\n"},
		{[]string{"--as-of-version", "2", "--format", "json", "SELECT * FROM shop.orders"}, `{"id":2,"total":12.50}` + "\n"},
		{[]string{"--as-of-gtid", "0-1-2", "--format", "csv", "SELECT count(*) AS n FROM shop.orders"}, "n\n1\n"},
		{[]string{"--as-of-position", "mysql-bin.000001:300", "--format", "csv", "SELECT count(*) AS n FROM shop.orders"}, "n\n2\n"},
		{[]string{"--as-of", "2026-11-01T12:00:00Z", "--format", "csv", "SELECT count(*) AS n FROM shop.purchases"}, "n\n2\n"},
		// Time travel inside one statement: the table macro takes a sequence.
		{[]string{"--format", "csv", "SELECT (SELECT count(*) FROM shop.purchases(2)) AS then, (SELECT count(*) FROM shop.purchases) AS now"}, "then,now\n1,2\n"},
		{[]string{"--meta", "--format", "csv", "SELECT id, _binlake_seq, _binlake_op FROM shop.purchases ORDER BY id"}, "id,_binlake_seq,_binlake_op\n2,2,insert\n3,3,insert\n"},
		{[]string{"SELECT id FROM shop.purchases ORDER BY id"}, "id\n--\n2\n3\n(2 rows)\n"},
	}
	for _, c := range cases {
		code, out, errs := runCLI(t, nil, append([]string{"query", "-c", cfg}, c.args...)...)
		if code != 0 || out != c.want {
			t.Errorf("query %q: exit %d\n%s\nwant\n%s\nstderr: %s", c.args, code, out, c.want, errs)
		}
	}
	failures := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"COPY (SELECT 1) TO '/tmp/x.csv'"}, exitFailure, "only SELECT"},
		{[]string{"SELECT 1; SELECT 2"}, exitFailure, "one statement"},
		{[]string{"SELECT * FROM nope.nothing"}, exitFailure, "nope.nothing"},
		{[]string{"--as-of-version", "2", "--as-of-gtid", "0-1-2", "SELECT 1"}, exitUsage, "give one of"},
		{[]string{"--as-of", "yesterday", "SELECT 1"}, exitUsage, "RFC 3339"},
		{[]string{"--format", "xml", "SELECT 1"}, exitUsage, "--format"},
		{[]string{"SELECT 1", "SELECT 2"}, exitUsage, "one argument"},
		{nil, exitUsage, "no SQL"},
		{[]string{"--as-of-version", "99", "SELECT 1"}, exitFailure, "99"},
	}
	for _, c := range failures {
		code, _, errs := runCLI(t, nil, append([]string{"query", "-c", cfg}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("query %q: exit %d (want %d), stderr %q lacks %q", c.args, code, c.code, errs, c.want)
		}
	}
}

// queryTestLake writes buildLake's lake to a local warehouse and returns
// the path of a config naming it, with a query cache of its own.
func queryTestLake(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	store, err := objstore.NewLocal(filepath.Join(dir, "wh", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	buildLake(t, store)
	return writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\nquery:\n  cache_dir: %s/cache\n", dir, dir))
}

// TestQueryInteractive drives the terminal loop: statements over several
// lines, an error that does not end the session, \q.
func TestQueryInteractive(t *testing.T) {
	cfg := queryTestLake(t)
	env := &cliEnv{getenv: func(string) (string, bool) { return "", false }}
	var out, errb strings.Builder
	env.stdout, env.stderr = &out, &errb
	lk, engine, err := openQueryEngine(t.Context(), env, cfg, false, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.store.Close()
	p, err := engine.Resolve(t.Context(), query.At{})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := engine.Open(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	env.stdin = strings.NewReader("SELECT count(*) AS n\n  FROM shop.purchases;\nSELECT * FROM nowhere;\nSELECT 7 AS x;\n\\q\nSELECT 8 AS never;\n")
	if err := interactive(t.Context(), env, sess, "csv", query.At{}); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "n\n2\nx\n7\n" {
		t.Errorf("stdout %q", got)
	}
	if !strings.Contains(errb.String(), "binlake> ") || !strings.Contains(errb.String(), "     ... ") || !strings.Contains(errb.String(), "error: ") {
		t.Errorf("stderr %q", errb.String())
	}
}
