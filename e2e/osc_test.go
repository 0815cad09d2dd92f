package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/testenv"
)

// Online schema change tools alter a table by copying it into a shadow
// table while writes go on, then swapping the names in one RENAME TABLE.
// These tests run the real tools against the test's MariaDB, installed by
// scripts/ensure-osc-tools.sh (make osc-tools, a prerequisite of make test):
//
//   - gh-ost v1.1.6 (built with one line changed for MariaDB 10.11, see the
//     script): CREATE TABLE _t_gho LIKE t, ALTER TABLE _t_gho …, a changelog
//     table _t_ghc it writes heartbeats to; rows copied in chunks with
//     INSERT IGNORE INTO _t_gho … SELECT … FROM t FORCE INDEX (PRIMARY) …
//     LOCK IN SHARE MODE while it applies the binlog's changes of t to
//     _t_gho from its own replication stream; the cut-over creates a sentry
//     table _t_del, locks t and _t_del, runs RENAME TABLE t TO _t_del,
//     _t_gho TO t from another connection, drops the sentry and unlocks,
//     then drops _t_del (the old t) and _t_ghc.
//   - pt-online-schema-change 3.2.1 (Debian's percona-toolkit): CREATE
//     TABLE _t_new, ALTER TABLE _t_new …, AFTER INSERT/UPDATE/DELETE
//     triggers on t that write into _t_new (so one transaction holds row
//     events of both tables), chunks copied with INSERT LOW_PRIORITY IGNORE
//     INTO _t_new … SELECT … LOCK IN SHARE MODE, RENAME TABLE t TO _t_old,
//     _t_new TO t, DROP TABLE _t_old, DROP TRIGGER.
//
// Each runs with source.include covering the shadow tables (shop.*: the
// swap is two renames of tables the lake holds) and naming only the table
// (shop.t: the shadow table is not mirrored, and its RENAME into t makes
// the lake re-read t). Rows change before the tool starts, while its copy
// stands part done (held by the test, see oscTool.hold), after the copy and
// before the swap (gh-ost, told to postpone its cut-over), and after the
// swap; the lake must equal the source at every step, by GTID set and by
// time. The tools' own statements run on their own connections at
// the real clock, behind the steps' session timestamps: the lake orders
// them by its running maximum of commit times, so each act that sets a tool
// going starts with a write of the step's own, which makes what the tool
// does next belong to that step.

// oscTool is one online schema change tool.
type oscTool struct {
	name   string // as scripts/ensure-osc-tools.sh prints it
	shadow string // the table t is copied into
	old    string // the name t takes at the swap, then dropped
	// postpones: the tool can be told to wait after its copy, before the
	// cut-over (gh-ost's --postpone-cut-over-flag-file).
	postpones bool
	// shadowKnown: the shadow table's rows at each step are known — the
	// tool writes it only in the steps' own transactions (triggers) and in
	// a copy the test holds still — so it is compared too when mirrored.
	// (gh-ost applies the steps' changes to it later, from the binlog: its
	// lake table is checked as t, after the swap.)
	shadowKnown bool
	// hold, set before the tool starts, stops its copy part way; held says
	// when it has stopped; release lets it go on. Rows up to copied are
	// copied then, rows from uncopied are not.
	hold, release    func(o *oscRun)
	held             func(o *oscRun) bool
	copied, uncopied int
	args             func(o *oscRun) []string
}

const oscAlter = "ADD COLUMN w INT NOT NULL DEFAULT 7, MODIFY v VARCHAR(40)"

// gh-ost's copy is held by a row lock on row 500 of t, taken by a
// transaction of the test's: the chunk that reaches it waits (it reads
// with LOCK IN SHARE MODE), having read-locked the rows before it in the
// chunk, which the steps leave alone.
var ghost = oscTool{name: "gh-ost", shadow: "_t_gho", old: "_t_del", postpones: true,
	hold: func(o *oscRun) { o.lockRow(500) }, release: (*oscRun).unlockRow, held: (*oscRun).lockWaits,
	copied: 100, uncopied: 800,
	args: func(o *oscRun) []string {
		m := o.f.e.db
		return []string{"--host=127.0.0.1", "--port=" + strconv.Itoa(m.Port), "--user=" + m.RootUser, "--password=" + m.RootPassword,
			"--database=shop", "--table=t", "--alter=" + oscAlter, "--allow-on-master", "--assume-rbr", "--execute",
			"--chunk-size=10", "--ok-to-drop-table", "--postpone-cut-over-flag-file=" + o.postpone,
			"--serve-socket-file=" + o.socket, "--throttle-additional-flag-file=" + filepath.Join(o.dir, "throttle"),
			"--replica-server-id=" + strconv.Itoa(int(m.ServerID)+1)}
	}}

// pt-online-schema-change's copy is held by its own --max-load: after
// each chunk it pauses while Threads_connected is at or above 40, and the
// test holds 50 idle connections open — so it copies its first chunk of
// 100 rows, and waits. (A row lock cannot hold it: the transaction holding
// it would hold t's metadata lock, which the tool's CREATE TRIGGER waits
// for; its --pause-file, checked before each chunk, sleeps 60 s a check.)
var ptOSC = oscTool{name: "pt-online-schema-change", shadow: "_t_new", old: "_t_old", shadowKnown: true,
	hold: (*oscRun).openLoad, release: (*oscRun).closeLoad,
	held: func(o *oscRun) bool {
		var n int // the table may not be there yet
		err := o.f.conn.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM shop._t_new").Scan(&n)
		return err == nil && n >= 100
	},
	copied: 20, uncopied: 800,
	args: func(o *oscRun) []string {
		m := o.f.e.db
		return []string{"--alter", oscAlter, fmt.Sprintf("h=127.0.0.1,P=%d,u=%s,p=%s,D=shop,t=t", m.Port, m.RootUser, m.RootPassword),
			"--execute", "--chunk-size", "100", "--chunk-time", "0", "--recursion-method", "none",
			"--max-load", "Threads_connected=40", "--check-interval", "0.1"}
	}}

func TestOSCGhostShadowMirrored(t *testing.T)   { testOSC(t, ghost, "shop.*") }
func TestOSCGhostTableOnly(t *testing.T)        { testOSC(t, ghost, "shop.t") }
func TestOSCPerconaShadowMirrored(t *testing.T) { testOSC(t, ptOSC, "shop.*") }
func TestOSCPerconaTableOnly(t *testing.T)      { testOSC(t, ptOSC, "shop.t") }

func testOSC(t *testing.T, tool oscTool, include string) {
	path := oscTools(t)[tool.name]
	if path == "" {
		t.Fatalf("scripts/ensure-osc-tools.sh named no %s", tool.name)
	}
	tables := []string{"shop.t", "shop." + tool.old}
	if tool.shadowKnown && include == "shop.*" {
		tables = append(tables, "shop."+tool.shadow)
	}
	f := newFidelity(t, tables...)
	f.sql("CREATE DATABASE shop", "USE shop",
		"CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20), n INT)",
		"INSERT INTO shop.t SELECT seq, CONCAT('v', seq), seq FROM seq_1_to_1000")
	f.e.setInclude(t, include)
	f.start()
	f.step("before", "UPDATE shop.t SET v = 'before' WHERE id <= 5", "DELETE FROM shop.t WHERE id = 7",
		"INSERT INTO shop.t VALUES (2000, 'b', 1)")

	o := newOSCRun(t, f, tool, path)
	f.action(false, tool.name+" started, its copy held part way", func() {
		f.sql("UPDATE shop.t SET n = n + 1 WHERE id = 1")
		tool.hold(o)
		o.start()
		testenv.Eventually(t, 2*time.Minute, tool.name+"'s copy held", func() error {
			o.running()
			if !tool.held(o) {
				return errors.New("it is not waiting at its hold yet")
			}
			return nil
		})
	})
	// Rows the copy has copied and rows it has not.
	c, u := tool.copied, tool.uncopied
	f.step("during the copy", fmt.Sprintf("UPDATE shop.t SET v = 'copied' WHERE id BETWEEN %d AND %d", c, c+10),
		fmt.Sprintf("UPDATE shop.t SET v = 'uncopied' WHERE id BETWEEN %d AND %d", u, u+10),
		fmt.Sprintf("DELETE FROM shop.t WHERE id IN (%d, %d)", c+12, u+12), "INSERT INTO shop.t VALUES (3000, 'new', 3)",
		fmt.Sprintf("UPDATE shop.t SET id = 4000 WHERE id = %d", c+14), fmt.Sprintf("UPDATE shop.t SET id = 4001 WHERE id = %d", u+14))
	if tool.postpones {
		f.action(false, "the copy done, the cut-over postponed", func() {
			f.sql("UPDATE shop.t SET n = n + 1 WHERE id = 2")
			tool.release(o)
			o.awaitPostponed()
		})
		f.step("before the swap", "UPDATE shop.t SET v = 'late' WHERE id IN (400, 500, 600)", "DELETE FROM shop.t WHERE id = 3000",
			"INSERT INTO shop.t VALUES (3001, 'late', 4)")
	}
	f.action(false, tool.name+" cut-over", func() {
		f.sql("UPDATE shop.t SET n = n + 1 WHERE id = 3")
		o.cutOver()
		o.wait()
	})
	if include == "shop.t" {
		// The swap keeps the lake's table (its history goes on) and
		// re-reads it (connectors/mysql mirroredDDL).
		want := "swapped with shop." + tool.shadow + " (RENAME TABLE), a table the lake does not mirror"
		if got := f.requested("shop.t"); !slices.Contains(got, want) {
			t.Errorf("re-snapshots of shop.t asked for: %q, want one %q", got, want)
		}
	}
	f.step("after the swap", "UPDATE shop.t SET w = 8 WHERE id < 50", "INSERT INTO shop.t (id, v, n) VALUES (5000, 'after', 5)",
		"DELETE FROM shop.t WHERE id = 999")
	f.stop()
	f.checkAll()
}

// oscTools runs scripts/ensure-osc-tools.sh, which installs the tools
// when missing, and returns their paths by name.
func oscTools(t *testing.T) map[string]string {
	t.Helper()
	cmd := exec.Command("bash", "../scripts/ensure-osc-tools.sh")
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/ensure-osc-tools.sh: %v\n%s", err, errb.String())
	}
	paths := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if name, path, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			paths[name] = path
		}
	}
	return paths
}

// oscRun is one run of a tool altering shop.t.
type oscRun struct {
	t        *testing.T
	f        *fidelity
	tool     oscTool
	path     string
	dir      string // flag files
	socket   string // gh-ost's interactive socket
	postpone string // gh-ost's postpone-cut-over flag file
	logPath  string
	cmd      *exec.Cmd
	done     chan error
	exited   bool
	holder   *sql.Conn   // holds the row lock the copy waits for
	load     []*sql.Conn // idle connections --max-load counts
	trxRead  time.Time   // the last read of INNODB_TRX (lockWaits)
}

// trxReadGap is more than InnoDB's 0.1 s: see lockWaits.
const trxReadGap = 250 * time.Millisecond

func newOSCRun(t *testing.T, f *fidelity, tool oscTool, path string) *oscRun {
	// A unix socket path must be short: t.TempDir() paths carry the test name.
	sockDir, err := os.MkdirTemp("", "osc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	o := &oscRun{t: t, f: f, tool: tool, path: path, dir: t.TempDir(), socket: filepath.Join(sockDir, "s"),
		logPath: filepath.Join(f.e.logDir, tool.name+".log")}
	o.postpone = filepath.Join(o.dir, "postpone")
	return o
}

// lockRow holds a write lock on shop.t's row id in a transaction of its
// own until unlockRow: a copy chunk that reaches it waits.
func (o *oscRun) lockRow(id int) {
	o.t.Helper()
	ctx := context.Background()
	c, err := o.f.e.db.RootDB(o.t, "").Conn(ctx)
	if err != nil {
		o.t.Fatal(err)
	}
	o.t.Cleanup(func() { c.Close() })
	var got int
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		o.t.Fatal(err)
	}
	if err := c.QueryRowContext(ctx, "SELECT id FROM shop.t WHERE id = ? FOR UPDATE", id).Scan(&got); err != nil {
		o.t.Fatal(err)
	}
	o.holder = c
}

func (o *oscRun) unlockRow() {
	o.t.Helper()
	if _, err := o.holder.ExecContext(context.Background(), "COMMIT"); err != nil {
		o.t.Fatal(err)
	}
}

// lockWaits reports whether a transaction writing the shadow table waits
// for a row lock. InnoDB fills information_schema.INNODB_TRX from a cache
// it refreshes only when the last read was more than 0.1 s before
// (trx0i_s.cc, CACHE_MIN_IDLE_TIME_US): polled faster, it shows the same
// stale rows for ever. So consecutive reads are trxReadGap apart.
func (o *oscRun) lockWaits() bool {
	if wait := trxReadGap - time.Since(o.trxRead); wait > 0 {
		time.Sleep(wait) // the cache's minimum age, not a wait for an event
	}
	defer func() { o.trxRead = time.Now() }()
	q := fmt.Sprintf("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND LOCATE('%s', trx_query) > 0", o.tool.shadow)
	return strings.TrimSpace(o.f.e.db.Query(o.t, q)) != "0"
}

// openLoad opens 50 idle connections to the server, until closeLoad.
func (o *oscRun) openLoad() {
	o.t.Helper()
	db := o.f.e.db.RootDB(o.t, "")
	db.SetMaxIdleConns(0) // a connection given back is closed
	for range 50 {
		c, err := db.Conn(context.Background())
		if err != nil {
			o.t.Fatal(err)
		}
		o.load = append(o.load, c)
	}
}

func (o *oscRun) closeLoad() {
	o.t.Helper()
	for _, c := range o.load {
		if err := c.Close(); err != nil {
			o.t.Fatal(err)
		}
	}
}

// start runs the tool; its output goes to a log shown if the test fails.
func (o *oscRun) start() {
	o.t.Helper()
	if o.tool.postpones {
		if err := os.WriteFile(o.postpone, nil, 0o644); err != nil {
			o.t.Fatal(err)
		}
	}
	out, err := os.Create(o.logPath)
	if err != nil {
		o.t.Fatal(err)
	}
	o.cmd = exec.Command(o.path, o.tool.args(o)...)
	o.cmd.Stdout, o.cmd.Stderr = out, out
	if err := o.cmd.Start(); err != nil {
		o.t.Fatalf("%s: %v", o.tool.name, err)
	}
	out.Close()
	o.done = make(chan error, 1)
	go func() { o.done <- o.cmd.Wait() }()
	o.t.Cleanup(func() {
		if !o.exited {
			o.cmd.Process.Kill()
			<-o.done
		}
		if o.t.Failed() {
			b, _ := os.ReadFile(o.logPath)
			o.t.Logf("--- %s ---\n%s", filepath.Base(o.logPath), lastLines(string(b), 40))
		}
	})
}

// running fails the test if the tool has exited.
func (o *oscRun) running() {
	o.t.Helper()
	select {
	case err := <-o.done:
		o.exited = true
		o.t.Fatalf("%s exited early (%v)", o.tool.name, err)
	default:
	}
}

// awaitPostponed waits until gh-ost has copied every row and postpones its
// cut-over.
func (o *oscRun) awaitPostponed() {
	o.t.Helper()
	testenv.Eventually(o.t, 2*time.Minute, "gh-ost postponing its cut-over", func() error {
		o.running()
		if st := o.status(); !strings.Contains(st, "State: postponing cut-over") {
			return fmt.Errorf("its status: %q", st)
		}
		return nil
	})
}

// status is gh-ost's answer to "status" on its interactive socket ("" if
// it does not answer yet).
func (o *oscRun) status() string {
	c, err := net.Dial("unix", o.socket)
	if err != nil {
		return ""
	}
	defer c.Close()
	if _, err := fmt.Fprintln(c, "status"); err != nil {
		return ""
	}
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b)
}

// cutOver lets the tool finish: its postpone flag removed, or its copy
// released.
func (o *oscRun) cutOver() {
	o.t.Helper()
	if o.tool.postpones {
		if err := os.Remove(o.postpone); err != nil {
			o.t.Fatal(err)
		}
		return
	}
	o.tool.release(o)
}

// wait waits for the tool to exit, successfully.
func (o *oscRun) wait() {
	o.t.Helper()
	select {
	case err := <-o.done:
		o.exited = true
		if err != nil {
			o.t.Fatalf("%s: %v", o.tool.name, err)
		}
	case <-time.After(2 * time.Minute):
		o.t.Fatalf("%s still running 2 minutes after its cut-over was let go", o.tool.name)
	}
}
