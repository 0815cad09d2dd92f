package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// hostileTable is a database and table name as MariaDB holds them.
type hostileTable struct{ db, name string }

func (h hostileTable) sql() string  { return qi(h.db) + "." + qi(h.name) }
func (h hostileTable) view() string { return dq(h.db) + "." + dq(h.name) }
func (h hostileTable) String() string {
	return fmt.Sprintf("%q.%q", h.db, h.name)
}

// hostileNames are names MariaDB 10.11 accepts that a careless key scheme
// would turn into paths outside their table's folder, into each other, or
// into keys S3 or a file system refuses. MariaDB stores each name as a file
// name of at most 255 bytes with every byte outside [A-Za-z0-9] spelled
// as @XXXX, which bounds how many such characters a name can hold.
func hostileNames() []hostileTable {
	long64 := "d" + strings.Repeat("0123456789", 6) + "xyz" // 64 characters: MariaDB's maximum
	return []hostileTable{
		{"a.b", "c.d"},
		{"a", "b.c"},
		{"a/b", "c"},
		{"a", "b/c"}, // "a/b" + "c" and "a" + "b/c" must not meet
		{"a/b", "../../etc"},
		{"..", ".."},
		{"..", "."},
		{".", "x"},
		{"x y", " lead and  inner spaces"},
		{"b`q", "t`1"},
		{"q\"uote", "it's"},
		{"p%c", "%2e%2e"},
		{"p%c", "..%2F"},
		{"p%c", "%"},
		{"p%c", "~"},
		{"bs\\x", "y\\z"},
		{"日本", "表"},
		// Escaped, these pass the 160-byte limit: cut and suffixed with a
		// hash; the two differ only in their last character.
		{"日本", strings.Repeat("日", 50)},
		{"日本", strings.Repeat("日", 49) + "本"},
		{long64, strings.Repeat("a.", 32)},
		{long64, strings.Repeat("z", 64)},
		{"Case", "T"},
	}
}

// caseTwins are names that differ from each other (and from {"Case", "T"})
// only by case, which MariaDB on Linux keeps apart, and a table beside them
// that has no twin. They go to a lake of their own (hostileCaseSource):
// DuckDB's names ignore case, so the twins cannot all be views by their own
// names, and the table beside them must not suffer for it.
func caseTwins() []hostileTable {
	return []hostileTable{{"Case", "t"}, {"case", "T"}, {"Case", "alone"}}
}

// TestHostileNames mirrors tables whose database and table names hold dots,
// slashes, "..", ".", spaces, quotes, percent signs, backslashes, CJK text,
// 64 characters, or differ only by case, into a lake in MinIO and a lake in
// a local directory, through an initial snapshot and then the binlog
// (updates, deletes, inserts, a table created later). Every object the lake
// wrote stays under <prefix>/<source>/ and each table's files under that
// table's own escaped prefix, which decodes back to the table's names; no
// key has a ".." or "." segment or two tables' files in one folder.
// `binlake query` returns exactly the source's rows of every table, and
// `binlake tables` lists the original names.
func TestHostileNames(t *testing.T) {
	db := testenv.StartMariaDB(t)
	minio := testenv.StartMinIO(t)
	bucket := minio.NewBucket(t)
	root := db.RootDB(t, "")
	ctx := context.Background()
	mustExec := func(q string) {
		t.Helper()
		if _, err := root.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	create := func(h hostileTable) {
		t.Helper()
		mustExec("CREATE DATABASE IF NOT EXISTS " + qi(h.db))
		mustExec("CREATE TABLE " + h.sql() + " (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL)")
	}

	tables := hostileNames()
	twins := caseTwins()
	// Emoji need 4-byte UTF-8, which MariaDB's identifiers (utf8mb3) do not
	// take: if this server refuses them, say so; if it takes them, mirror
	// them too.
	emoji := hostileTable{"emoji 🐟", "🐟"}
	if _, err := root.ExecContext(ctx, "CREATE DATABASE "+qi(emoji.db)); err != nil {
		t.Logf("MariaDB %s refuses an emoji in an identifier: %v", db.Version, err)
	} else {
		tables = append(tables, emoji)
	}
	for i, h := range append(slices.Clone(tables), twins...) {
		create(h)
		for id := 1; id <= 3; id++ {
			mustExec(fmt.Sprintf("INSERT INTO %s VALUES (%d, 't%d-r%d')", h.sql(), id, i, id))
		}
	}
	// The names read back as written (the client's character set is utf8mb4).
	for _, h := range append(slices.Clone(tables), twins...) {
		var n int
		if err := root.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE CAST(TABLE_SCHEMA AS BINARY) = CAST(? AS BINARY) AND CAST(TABLE_NAME AS BINARY) = CAST(? AS BINARY)",
			h.db, h.name).Scan(&n); err != nil || n != 1 {
			t.Fatalf("table %s: found %d times in information_schema (%v)", h, n, err)
		}
	}

	dir := t.TempDir()
	// The case twins are left out of these lakes (exclude), so that a lake
	// that cannot hold them apart fails its own subtest, not every other.
	exclude := "  exclude: [\"Case.t\", \"case.T\", \"Case.alone\"]\n"
	lakes := []*hostileLake{
		newHostileLake(t, db, minio, "s3", hostileSource, "s3://"+bucket+"/lakes", dir, exclude),
		newHostileLake(t, db, minio, "file", hostileSource, "file://"+filepath.Join(dir, "tree", "wh"), dir, exclude),
		newHostileLake(t, db, minio, "case", hostileCaseSource, "s3://"+minio.NewBucket(t)+"/lakes", dir,
			"  include: [\"Case.*\", \"case.*\"]\n"),
	}
	for _, l := range lakes {
		l.ingest() // the initial snapshot
	}

	// The binlog: an update, a delete and an insert in every table, and a
	// table created after the snapshot.
	later := hostileTable{"..", "later/../t"}
	create(later)
	mustExec(fmt.Sprintf("INSERT INTO %s VALUES (1, 'later-1'), (2, 'later-2')", later.sql()))
	tables = append(tables, later)
	for i, h := range append(slices.Clone(tables), twins...) {
		mustExec(fmt.Sprintf("UPDATE %s SET v = 't%d-updated' WHERE id = 2", h.sql(), i))
		mustExec(fmt.Sprintf("DELETE FROM %s WHERE id = 1", h.sql()))
		mustExec(fmt.Sprintf("INSERT INTO %s VALUES (7, 't%d-r7')", h.sql(), i))
	}
	for _, l := range lakes {
		l.ingest() // streaming from the snapshot's position
	}

	cased := append([]hostileTable{{"Case", "T"}}, twins...)
	for _, l := range lakes {
		t.Run(l.name, func(t *testing.T) {
			l.t = t
			tables := tables
			if l.source == hostileCaseSource {
				tables = cased
			}
			st := l.state()
			if got, want := st.Tables.Len(), len(tables); got != want {
				t.Errorf("the lake holds %d tables, want %d", got, want)
			}
			checkHostileKeys(t, l.keys(), st)
			l.checkTables(tables)
			if l.source == hostileCaseSource {
				l.checkCaseRows(root, tables)
			} else {
				l.checkRows(tables, hostileRows(t, root, tables))
			}
		})
	}
}

// hostileLake is one lake of TestHostileNames and how to run binlake on it.
type hostileLake struct {
	t      *testing.T
	name   string
	config string
	envs   []string
	minio  *testenv.MinIO
	source string
	bucket string // s3 only
	tree   string // file only: the directory that holds the warehouse
	runs   int
}

// The lakes' source names.
const (
	hostileSource     = "hostile"
	hostileCaseSource = "hostile-case"
)

// newHostileLake writes the config of a lake of source in warehouse;
// sourceYAML (indented keys) is added to its source section.
func newHostileLake(t *testing.T, db *testenv.MariaDB, minio *testenv.MinIO, name, source, warehouse, dir, sourceYAML string) *hostileLake {
	l := &hostileLake{t: t, name: name, source: source, minio: minio, config: filepath.Join(dir, name+".yaml")}
	cfg := fmt.Sprintf(`source:
  name: %s
  host: 127.0.0.1
  port: %d
  user: %s
  server_id: 4243
%swarehouse:
  url: %s
`, source, db.Port, db.User, sourceYAML, warehouse)
	if b, ok := strings.CutPrefix(warehouse, "s3://"); ok {
		l.bucket, _, _ = strings.Cut(b, "/")
		cfg += fmt.Sprintf("  s3:\n    endpoint: %s\n    access_key_id: %s\n    use_tls: false\n", minio.Endpoint, minio.AccessKey)
	} else {
		l.tree = filepath.Join(dir, "tree")
	}
	cfg += "ingest:\n  commit_interval: 100ms\n  listen: \"\"\n"
	if err := os.WriteFile(l.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l.envs = append(os.Environ(), "BINLAKE_SOURCE_PASSWORD="+db.UserPassword,
		"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY="+minio.SecretKey, "BINLAKE_QUERY_CACHE_DIR="+filepath.Join(dir, name+"-cache"))
	return l
}

// run runs binlake with args on the lake's config, failing the test on a
// non-zero exit, and returns its standard output (and error output).
func (l *hostileLake) run(args ...string) string {
	l.t.Helper()
	r := runSplit(l.t, l.envs, args...)
	if r.code != 0 {
		l.t.Fatalf("%s lake: binlake %s: exit %d\n%s%s", l.name, strings.Join(args, " "), r.code, r.stdout, lastLines(r.stderr, 40))
	}
	return r.stdout + r.stderr
}

// splitRun is a finished run of the binary with its two streams apart.
type splitRun struct {
	stdout, stderr string
	code           int
}

// runSplit runs binlake with args, its standard output and error apart (a
// query's rows are not mixed with its log); a run still going after
// runSplitTimeout is killed and fails the test.
func runSplit(t *testing.T, env []string, args ...string) splitRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runSplitTimeout)
	defer cancel()
	cmd := osexec.CommandContext(ctx, binary, args...)
	var out, errb strings.Builder
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("binlake %s: still running after %v\n%s", strings.Join(args, " "), runSplitTimeout, lastLines(errb.String(), 40))
	}
	r := splitRun{stdout: out.String(), stderr: errb.String()}
	if ee := (*osexec.ExitError)(nil); errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("binlake %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// runSplitTimeout bounds one run of runSplit.
const runSplitTimeout = 2 * time.Minute

// ingest catches the lake up with the source.
func (l *hostileLake) ingest() {
	l.t.Helper()
	l.runs++
	out := l.run("ingest", "-c", l.config, "--exit-when-caught-up")
	if l.runs == 1 && !strings.Contains(out, "initial snapshot committed") {
		l.t.Fatalf("%s lake: the first ingest took no snapshot:\n%s", l.name, lastLines(out, 40))
	}
}

// store opens the lake's root, or with whole the whole bucket (s3) or
// directory tree (file) around the warehouse.
func (l *hostileLake) store(whole bool) tableformat.Store {
	l.t.Helper()
	url := "file://" + filepath.Join(l.tree, "wh", l.source)
	if whole {
		url = "file://" + l.tree
	}
	if l.bucket != "" {
		url = "s3://" + l.bucket + "/lakes/" + l.source
		if whole {
			url = "s3://" + l.bucket
		}
	}
	s, err := objstore.Open(context.Background(), url, objstore.S3Config{
		Endpoint: l.minio.Endpoint, Region: l.minio.Region, AccessKey: l.minio.AccessKey,
		SecretKey: secret.String(l.minio.SecretKey), RequestTimeout: 30 * time.Second})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { s.Close() })
	return s
}

// state reads the lake's latest state.
func (l *hostileLake) state() *tableformat.State {
	l.t.Helper()
	st, err := tableformat.NewLog(l.store(false), tableformat.LogOptions{}).Latest(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

// keys lists every object in the bucket, or every file under the directory
// that holds the warehouse (read from the file system itself, not through
// the store), relative to the lake's root; it fails the test for anything
// outside that root.
func (l *hostileLake) keys() []string {
	l.t.Helper()
	var all []string
	if l.bucket != "" {
		objs, err := l.store(true).List(context.Background(), "", "")
		if err != nil {
			l.t.Fatal(err)
		}
		for _, o := range objs {
			all = append(all, o.Key)
		}
	} else {
		err := filepath.WalkDir(l.tree, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				l.t.Errorf("symbolic link %s in the warehouse", path)
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(l.tree, path)
			if err != nil {
				return err
			}
			all = append(all, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			l.t.Fatal(err)
		}
	}
	prefix := "lakes/" + l.source + "/"
	if l.bucket == "" {
		prefix = "wh/" + l.source + "/"
	}
	var keys []string
	for _, k := range all {
		rel, ok := strings.CutPrefix(k, prefix)
		switch {
		case !ok:
			l.t.Errorf("object %q is outside the lake's root %s", k, prefix)
		case l.bucket == "" && strings.HasPrefix(rel, objstore.TempDirName+"/"):
			l.t.Errorf("a temporary file was left behind: %s", k)
		default:
			keys = append(keys, rel)
		}
	}
	return keys
}

// checkHostileKeys checks the lake's objects: every key is clean (no empty,
// "." or ".." segment, no leading slash, no backslash), is a log object or a
// file the state names, and each table's files lie under a prefix of its
// own whose two segments are its database and table names escaped as
// FORMAT.md says.
func checkHostileKeys(t *testing.T, keys []string, st *tableformat.State) {
	t.Helper()
	named := map[string]*tableformat.TableState{}
	prefixes := map[string]*tableformat.TableState{}
	for _, tb := range st.SortedTables() {
		for path := range tb.Files {
			named[path] = tb
			segs := strings.Split(path, "/")
			if len(segs) != 4 {
				t.Errorf("table %d %v: file %q is not <db>/<table>/<kind>/<file>", tb.ID, tb.Names, path)
				continue
			}
			matched := false
			for _, n := range tb.Names {
				if escapedAs(segs[0], n.DB) && escapedAs(segs[1], n.Name) {
					matched = true
				}
			}
			if !matched {
				t.Errorf("table %d %v: file %q does not lie under the escaped names of the table", tb.ID, tb.Names, path)
			}
			prefix := segs[0] + "/" + segs[1] + "/"
			if other, ok := prefixes[prefix]; ok && other != tb {
				t.Errorf("tables %v and %v both have files under %s", other.Names, tb.Names, prefix)
			}
			prefixes[prefix] = tb
		}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
		if err := tableformat.ValidateKey(k); err != nil || strings.Contains("/"+k+"/", "/../") || strings.Contains("/"+k+"/", "/./") {
			t.Errorf("key %q is not clean (%v)", k, err)
		}
		if strings.HasPrefix(k, tableformat.LogDir) {
			continue
		}
		if named[k] == nil {
			t.Errorf("object %q is not a file of the lake", k)
		}
	}
	for path, tb := range named {
		if !seen[path] {
			t.Errorf("table %v: file %s is missing from storage", tb.Names, path)
		}
	}
	folded := map[string]string{}
	for p := range prefixes {
		if q, ok := folded[strings.ToLower(p)]; ok {
			t.Logf("note: %s and %s differ only by case (one folder on a case-insensitive file system)", p, q)
		}
		folded[strings.ToLower(p)] = p
	}
	t.Logf("%d objects, %d table prefixes", len(keys), len(prefixes))
}

// escapedAs reports whether seg is name escaped as FORMAT.md §1 says: every
// byte outside [A-Za-z0-9_-] as %XX in upper-case hex; a name whose escape
// passes 160 bytes cut (between escapes) and suffixed with "~" and 16 hex
// digits; the empty name as "%". It decodes seg rather than escaping name,
// so it checks the keys against the names, not the code against itself.
func escapedAs(seg, name string) bool {
	if seg == "%" {
		return name == ""
	}
	body, hash, cut := strings.Cut(seg, "~")
	var dec []byte
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			dec = append(dec, c)
		case c == '%' && i+2 < len(body) && isUpperHex(body[i+1]) && isUpperHex(body[i+2]):
			var b byte
			fmt.Sscanf(body[i+1:i+3], "%02X", &b)
			dec = append(dec, b)
			i += 2
		default:
			return false
		}
	}
	if !cut {
		return string(dec) == name && len(seg) <= 160
	}
	return len(seg) <= 160 && len(hash) == 16 && strings.HasPrefix(name, string(dec)) && len(dec) < len(name)
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

// checkTables checks that `binlake tables` lists exactly the source's
// tables, by their original names.
func (l *hostileLake) checkTables(tables []hostileTable) {
	l.t.Helper()
	r := runSplit(l.t, l.envs, "tables", "-c", l.config, "--format", "json")
	if r.code != 0 {
		l.t.Fatalf("%s lake: binlake tables: exit %d\n%s", l.name, r.code, r.stderr)
	}
	out := r.stdout
	var got, want []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var row struct {
			DB    string `json:"db"`
			Table string `json:"table"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			l.t.Fatalf("binlake tables: %q: %v", line, err)
		}
		got = append(got, hostileTable{row.DB, row.Table}.String())
	}
	for _, h := range tables {
		want = append(want, h.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		l.t.Errorf("binlake tables lists\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// hostileRows reads every table from the source as the CSV that
// checkRows's query prints.
func hostileRows(t *testing.T, root *sql.DB, tables []hostileTable) string {
	var b strings.Builder
	b.WriteString("k,id,v\n")
	for i, h := range tables {
		rows, err := root.Query("SELECT id, v FROM " + h.sql() + " ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d,%d,%s\n", i, id, v)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// checkCaseRows queries each table alone. A table whose name no other
// shares when case is ignored answers exactly the source's rows. A twin
// answers exactly its own rows or is refused with a message; it never
// answers another table's rows, and binlake never crashes.
func (l *hostileLake) checkCaseRows(root *sql.DB, tables []hostileTable) {
	l.t.Helper()
	folded := map[string]int{}
	for _, h := range tables {
		folded[strings.ToLower(h.db+"."+h.name)]++
	}
	for _, h := range tables {
		want := strings.Replace(hostileRows(l.t, root, []hostileTable{h}), "k,id,v\n", "id,v\n", 1)
		want = regexp.MustCompile(`(?m)^0,`).ReplaceAllString(want, "")
		r := runSplit(l.t, l.envs, "query", "-c", l.config, "--format", "csv", "SELECT id, v FROM "+h.view()+" ORDER BY id")
		twin := folded[strings.ToLower(h.db+"."+h.name)] > 1
		switch {
		case stackTrace.MatchString(r.stderr):
			l.t.Errorf("table %s: binlake query crashed (exit %d):\n%s", h, r.code, firstLines(r.stderr, 15))
		case r.code == 0 && r.stdout != want:
			l.t.Errorf("table %s: binlake query answered\n%s\nwant its own rows\n%s", h, r.stdout, want)
		case r.code != 0 && !twin:
			l.t.Errorf("table %s, which has no twin: binlake query: exit %d: %s", h, r.code, firstLines(r.stderr, 3))
		case r.code != 0:
			l.t.Logf("table %s, a case twin: refused (exit %d): %s", h, r.code, firstLines(r.stderr, 3))
		}
	}
}

// checkRows queries every table by its quoted name in one statement and
// compares the rows with the source's; if that fails, it queries each table
// alone to say which names fail.
func (l *hostileLake) checkRows(tables []hostileTable, want string) {
	l.t.Helper()
	parts := make([]string, len(tables))
	for i, h := range tables {
		parts[i] = fmt.Sprintf("SELECT %d AS k, id, v FROM %s", i, h.view())
	}
	q := strings.Join(parts, " UNION ALL ") + " ORDER BY k, id"
	r := runSplit(l.t, l.envs, "query", "-c", l.config, "--format", "csv", q)
	if r.code == 0 && r.stdout == want {
		return
	}
	l.t.Errorf("%s lake: binlake query of every table: exit %d\n%s%s\nwant\n%s", l.name, r.code, r.stdout, firstLines(r.stderr, 15), want)
	for i, h := range tables {
		r := runSplit(l.t, l.envs, "query", "-c", l.config, "--format", "csv", parts[i]+" ORDER BY id")
		if r.code != 0 {
			l.t.Errorf("table %s (SELECT … FROM %s): exit %d: %s", h, h.view(), r.code, firstLines(r.stderr, 3))
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
