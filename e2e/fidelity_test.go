package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/binlake/binlake/connectors/mysql"
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
	tables []string
	steps  []fstep
	daemon *daemonRun
}

type fstep struct {
	what string
	gtid string
	at   time.Time
	csv  map[string]string // db.table → CSV of SELECT * ORDER BY the key
}

// newFidelity starts a source with database shop, an empty lake and the
// daemon; tables lists the db.table names compared after every step.
func newFidelity(t *testing.T, tables ...string) *fidelity {
	e := newEnv(t)
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
	f.daemon = &daemonRun{cmd: f.e.ingest(), done: make(chan error, 1)}
	go func() { f.daemon.done <- f.daemon.cmd.Wait() }()
	f.t.Cleanup(func() { f.daemon.term() })
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
func (f *fidelity) step(what string, stmts ...string) {
	f.t.Helper()
	at := time.Unix(f.base+int64(len(f.steps)), 0).UTC()
	f.sql(fmt.Sprintf("SET timestamp = %d", at.Unix()))
	f.sql(stmts...)
	f.sql("SET timestamp = DEFAULT")
	st := fstep{what: what, gtid: binlogPos(f.t, f.e.db), at: at, csv: map[string]string{}}
	for _, name := range f.tables {
		st.csv[name] = sourceCSV(f.t, f.e.db.Addr(), f.e.db.RootUser, f.e.db.RootPassword, name)
	}
	f.steps = append(f.steps, st)
	f.settle(st.gtid)
}

// settle waits until the lake holds gtid and no re-snapshot is pending.
func (f *fidelity) settle(gtid string) {
	f.t.Helper()
	waitForGTID(f.t, f.store, gtid, 90*time.Second)
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
				b = x
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

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, deadline)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
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
