package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// chaosPlan is how much of each fault TestChaos inflicts.
type chaosPlan struct {
	name string
	// episodes: each on a MariaDB and a MinIO of its own, with its own
	// workload, compared at every transaction at its end (the comparison
	// grows with the square of an episode's length).
	episodes int
	// named: kills at each commit-path fault point (ingest.FaultPoints).
	named int
	// random: kills at random moments.
	random int
	// sigterms: SIGTERM while a big transaction is being committed.
	sigterms int
	// outages: of each kind (MinIO killed, MinIO hung, MariaDB killed,
	// MariaDB shut down, the binlog dump thread killed).
	outages int
}

// chaosPlans: the short plan runs in make test; BINLAKE_CHAOS=long (make
// chaos) runs the long one, whose figures are in docs/reliability.md.
func chaosPlanFromEnv() chaosPlan {
	if os.Getenv("BINLAKE_CHAOS") == "long" {
		return chaosPlan{name: "long", episodes: 8, named: 2, random: 30, sigterms: 2, outages: 1}
	}
	return chaosPlan{name: "short", episodes: 1, named: 1, random: 4, sigterms: 1, outages: 1}
}

// chaosFigures are what a run measured (docs/reliability.md).
type chaosFigures struct {
	transactions   int // source transactions the workload committed
	ddl            int // of which DDL statements
	rowChanges     int64
	kills          int // SIGKILLs of the daemon survived
	namedKills     map[ingest.FaultPoint]int
	sigterms       int
	compactions    int            // binlake compact runs racing a daemon being killed
	restarts       map[string]int // outages of MinIO and MariaDB survived
	moments        int            // points of time compared, lake against source
	recoveries     []time.Duration
	outageRecovery []time.Duration
	peakRSSMiB     float64
	episodes       int
	failed         []int // episodes that found the lake and the source apart
}

// TestChaos runs the workload (every type, keyed and keyless tables, DDL,
// big transactions that spill) while the daemon is killed at every named
// point of its commit path and at random moments, stopped with SIGTERM
// mid-commit, and while MinIO and MariaDB are killed, hung, shut down and
// restarted. The daemon runs with a small memory budget so big
// transactions spill. Afterwards the lake must equal the source as of
// every source transaction: nothing lost, nothing doubled, no transaction
// split. The figures go to the test log (and, with BINLAKE_CHAOS_REPORT,
// to that file).
func TestChaos(t *testing.T) {
	plan := chaosPlanFromEnv()
	fig := &chaosFigures{namedKills: map[ingest.FaultPoint]int{}, restarts: map[string]int{}}
	began := time.Now()
	// Every episode runs even after one fails: the report counts them.
	for i := range plan.episodes {
		fig.episodes++
		if !t.Run(fmt.Sprintf("episode-%d", i+1), func(t *testing.T) { chaosEpisode(t, plan, uint64(i+7), fig) }) {
			fig.failed = append(fig.failed, i+1)
		}
	}
	report := fig.report(plan, time.Since(began))
	t.Log("\n" + report)
	if path := os.Getenv("BINLAKE_CHAOS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// chaosEpisode is one episode of TestChaos, adding to fig.
func chaosEpisode(t *testing.T, plan chaosPlan, seed uint64, fig *chaosFigures) {
	e := newEnv(t)
	e.envs = append(e.envs, "BINLAKE_INGEST_MEMORY_BUDGET=65536", "BINLAKE_WAREHOUSE_S3_REQUEST_TIMEOUT=2s",
		"BINLAKE_WAREHOUSE_S3_MAX_RETRIES=1")
	store := e.store()
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, seed)
	w.ddlEvery = 15
	// The DDL storms include the statements the lake learns by
	// re-snapshot (docs/snapshot.md#re-snapshots).
	w.resnapDDL = true
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(seed, 7))
	began := time.Now()

	// daemon starts binlake ingest, from the start GTID while the lake has
	// no position yet; extra environment arms a fault.
	daemon := func(extra ...string) *daemonRun {
		var args []string
		if !e.lakePositioned(store) {
			args = []string{"--start-gtid", start}
		}
		saved := e.envs
		e.envs = append(slices.Clip(e.envs), extra...)
		defer func() { e.envs = saved }()
		d := &daemonRun{cmd: e.ingest(args...), done: make(chan error, 1)}
		go func() { d.done <- d.cmd.Wait() }()
		return d
	}
	lastGTID := func() string { return w.moments[len(w.moments)-1].gtid }
	// work runs n workload steps, about one in bigEvery a big transaction
	// that spills (the first too when bigEvery ≤ 5; 0: none), stopping early
	// once the daemon d has exited.
	work := func(n, bigEvery int, d *daemonRun) {
		for i := range n {
			if d.poll() {
				return
			}
			if bigEvery > 0 && (i == 0 && bigEvery <= 5 || rnd.IntN(bigEvery) == 0) {
				w.bigTxn(ctx, 300+rnd.IntN(300))
				continue
			}
			w.txn(ctx)
		}
	}
	// recover restarts the daemon after a crash and measures the time until
	// the lake holds every transaction the source had committed.
	recoverAfter := func(what string) {
		t.Helper()
		d := daemon()
		began := time.Now()
		waitForGTID(t, store, lastGTID(), 60*time.Second)
		fig.recoveries = append(fig.recoveries, time.Since(began))
		fig.peakRSSMiB = max(fig.peakRSSMiB, vmHWM(d.cmd.Process.Pid))
		if err := d.term(); err != nil {
			t.Fatalf("after %s: the recovering daemon exited with %v on SIGTERM, want 0", what, err)
		}
	}

	// 1. Kills at each named point of the commit path.
	for range plan.named {
		for _, point := range ingest.FaultPoints() {
			nth := 1 + rnd.IntN(3)
			d := daemon(fmt.Sprintf("BINLAKE_FAULT=%s:%d", point, nth))
			big := 0
			if point == ingest.FaultSpilled {
				big = 3
			}
			for steps := 0; !d.poll(); steps += 2 {
				if steps > 3000 {
					t.Fatalf("fault %s:%d never fired", point, nth)
				}
				work(2, big, d)
			}
			if !killedBySignal(d.err) {
				t.Fatalf("fault %s:%d: the daemon ended with %v, want killed by its fault", point, nth, d.err)
			}
			fig.kills++
			fig.namedKills[point]++
			recoverAfter(fmt.Sprintf("a kill at %s:%d", point, nth))
		}
	}

	t.Logf("%s done at %v, %d transactions", "named kills", time.Since(began).Round(time.Second), len(w.moments))
	// 2. Kills at random moments; every other one during a DDL storm (one
	// step in two a schema change); every third one while `binlake compact
	// --force` snapshots and merges the tables (history must read the same
	// through its files as through the deltas).
	for i := range plan.random {
		w.ddlEvery = 15
		if i%2 == 1 {
			w.ddlEvery = 2
		}
		var compacted chan error
		if i%3 == 2 {
			compacted = make(chan error, 1)
			go func() {
				cmd := exec.Command(binary, "compact", "-c", e.config, "--force")
				cmd.Env = e.envs
				out, err := cmd.CombinedOutput()
				if err != nil {
					err = fmt.Errorf("%w\n%s", err, lastLines(string(out), 20))
				}
				compacted <- err
			}()
		}
		d := daemon()
		delay := time.Duration(30+rnd.IntN(370)) * time.Millisecond
		timer := time.AfterFunc(delay, func() {
			d.hwm.Store(int64(vmHWM(d.cmd.Process.Pid)))
			d.cmd.Process.Signal(syscall.SIGKILL)
		})
		for !d.poll() {
			work(5, 60, d)
		}
		timer.Stop()
		fig.peakRSSMiB = max(fig.peakRSSMiB, float64(d.hwm.Load()))
		fig.kills++
		recoverAfter("a kill at a random moment")
		if compacted != nil {
			if err := <-compacted; err != nil {
				t.Fatalf("binlake compact racing the daemon: %v", err)
			}
			fig.compactions++
		}
	}
	w.ddlEvery = 15

	t.Logf("%s done at %v, %d transactions", "random kills", time.Since(began).Round(time.Second), len(w.moments))
	// 3. SIGTERM while a big transaction is spilled and committed: the
	// daemon finishes the commit in flight and exits 0.
	for range plan.sigterms {
		d := daemon()
		e.waitReady(30 * time.Second)
		time.AfterFunc(time.Duration(100+rnd.IntN(400))*time.Millisecond, func() { d.cmd.Process.Signal(syscall.SIGTERM) })
		w.bigTxn(ctx, 4000)
		for !d.poll() {
			work(5, 0, d)
		}
		if d.err != nil {
			t.Fatalf("SIGTERM mid-commit: exit %v, want 0", d.err)
		}
		fig.sigterms++
	}

	t.Logf("%s done at %v, %d transactions", "sigterms", time.Since(began).Round(time.Second), len(w.moments))
	// 4. Outages: the daemon runs throughout, reports not ready, and
	// recovers by itself once the server is back; its lag returns to 0.
	outage := func(kind string, sourceDown bool, fail, restore func()) {
		t.Helper()
		d := daemon()
		e.waitReady(30 * time.Second)
		work(10, 0, d)
		fail()
		if !sourceDown {
			work(10, 4, d) // changes pile up in the source meanwhile
		}
		if kind != "dump thread killed" {
			if err := notReadyWithin(e, 60*time.Second); err != nil {
				t.Fatalf("%s: %v\n%s", kind, err, e.goroutines(d))
			}
		}
		began := time.Now()
		restore()
		work(10, 0, d)
		waitForGTID(t, store, lastGTID(), 90*time.Second)
		e.waitReady(30 * time.Second)
		fig.outageRecovery = append(fig.outageRecovery, time.Since(began))
		e.waitLagBytes("0", lagWait)
		if d.poll() {
			t.Fatalf("%s: the daemon exited (%v); it should have waited", kind, d.err)
		}
		fig.peakRSSMiB = max(fig.peakRSSMiB, vmHWM(d.cmd.Process.Pid))
		if err := d.term(); err != nil {
			t.Fatalf("%s: exit %v on SIGTERM, want 0", kind, err)
		}
		fig.restarts[kind]++
	}
	for range plan.outages {
		outage("MinIO killed", false, func() { e.minio.Kill(t) }, func() { e.minio.Restart(t) })
		outage("MinIO hung", false, func() { e.minio.Pause(t) }, func() { e.minio.Resume(t) })
		outage("MariaDB killed", true, func() { e.db.Kill(t) }, func() { e.db.Restart(t); w.reconnect(e.db) })
		outage("MariaDB shut down", true, func() { e.db.Shutdown(t) }, func() { e.db.Restart(t); w.reconnect(e.db) })
		outage("dump thread killed", false, func() {
			for _, id := range strings.Fields(e.db.Query(t, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")) {
				e.db.Exec(t, "KILL "+id)
			}
		}, func() {})
	}

	t.Logf("%s done at %v, %d transactions", "outages", time.Since(began).Round(time.Second), len(w.moments))
	// Catch up, then compare the lake with the source as of every
	// transaction.
	e.catchUpNow()
	checkStart := time.Now()
	w.check(store)
	t.Logf("compared %d moments in %v", len(w.moments), time.Since(checkStart).Round(time.Second))
	st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range w.moments {
		if m.what != "transaction" && m.what != "big transaction" {
			fig.ddl++
		}
	}
	fig.transactions += len(w.moments)
	fig.moments += len(w.moments)
	fig.rowChanges += st.Progress.MaxSeq
}

// daemonRun is one run of the daemon.
type daemonRun struct {
	cmd    *exec.Cmd
	done   chan error
	exited bool
	err    error        // its exit, once exited
	hwm    atomic.Int64 // peak memory (MiB) read just before a kill
}

// poll reports whether the daemon has exited.
func (d *daemonRun) poll() bool {
	if !d.exited {
		select {
		case d.err = <-d.done:
			d.exited = true
		default:
		}
	}
	return d.exited
}

// exitedYet is poll as a testenv.Eventually condition.
func (d *daemonRun) exitedYet() error {
	if !d.poll() {
		return errors.New("still running")
	}
	return nil
}

// term stops the daemon with SIGTERM and returns its exit.
func (d *daemonRun) term() error {
	d.cmd.Process.Signal(syscall.SIGTERM)
	if !d.exited {
		d.err, d.exited = <-d.done, true
	}
	return d.err
}

// notReadyWithin polls /readyz until the daemon says it is not ready.
func notReadyWithin(e *env, deadline time.Duration) error {
	return testenv.Await(deadline, "/readyz saying not ready in an outage", func() error {
		if code, body := e.get("/readyz"); code != http.StatusServiceUnavailable {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

// goroutines stops the daemon d with SIGQUIT, which makes the Go runtime
// print every goroutine's stack into its log, and returns the stacks that
// pass through binlake's own code: where a daemon that should have
// reported a failure is waiting.
func (e *env) goroutines(d *daemonRun) string {
	if err := d.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return fmt.Sprintf("SIGQUIT: %v", err)
	}
	select {
	case d.err = <-d.done:
		d.exited = true
	case <-time.After(30 * time.Second):
		return "the daemon did not exit on SIGQUIT within 30s"
	}
	b, err := os.ReadFile(filepath.Join(e.logDir, fmt.Sprintf("ingest-%03d.log", e.runs)))
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, g := range strings.Split(string(b), "\n\ngoroutine ")[1:] { // [0]: the log before the dump
		if strings.Contains(g, "github.com/binlake/binlake/") {
			out = append(out, "goroutine "+g)
		}
	}
	return "goroutines of the daemon in binlake's code:\n" + strings.Join(out, "\n\n")
}

// catchUpNow runs `binlake ingest --exit-when-caught-up` on a lake that
// has a position.
func (e *env) catchUpNow() {
	e.t.Helper()
	if err := e.ingest("--exit-when-caught-up").Wait(); err != nil {
		e.t.Fatalf("binlake ingest --exit-when-caught-up: %v", err)
	}
}

// bigTxn runs one transaction bigger than the daemon's memory budget in
// TestChaos, so it spills: it inserts n rows into a keyed table, or, when
// the previous big transaction inserted, deletes those rows again (so the
// tables stay small enough to compare at every moment). It records the
// moment after it.
func (w *workload) bigTxn(ctx context.Context, n int) {
	var t *mtable
	for _, c := range w.tables {
		if c.keyed {
			t = c
			break
		}
	}
	if t == nil {
		w.txn(ctx)
		return
	}
	t.snap = nil
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	exec := func(q string) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			w.t.Fatalf("%.200s: %v", q, err)
		}
	}
	if bulk := w.bulk[t]; len(bulk) > 0 {
		delete(w.bulk, t)
		for chunk := range slices.Chunk(bulk, 500) {
			ids := make([]string, 0, len(chunk))
			for _, id := range chunk {
				if _, ok := t.rows[id]; ok {
					ids = append(ids, strconv.FormatInt(id, 10))
					delete(t.rows, id)
				}
			}
			if len(ids) > 0 {
				exec(fmt.Sprintf("DELETE FROM %s WHERE id IN (%s)", t.qname(), strings.Join(ids, ",")))
				w.stats["delete"] += len(ids)
			}
		}
	} else {
		for n > 0 {
			k := min(n, 250)
			n -= k
			vals := make([]string, k)
			for i := range vals {
				w.nextID++
				row := w.row(t, w.nextID)
				t.rows[w.nextID] = row
				vals[i] = lits(row)
				w.bulk[t] = append(w.bulk[t], w.nextID)
			}
			exec(fmt.Sprintf("INSERT INTO %s %s VALUES %s", t.qname(), t.colList(), strings.Join(vals, ", ")))
			w.stats["insert"] += k
		}
	}
	if err := tx.Commit(); err != nil {
		w.t.Fatal(err)
	}
	w.stats["big transaction"]++
	w.record(ctx, "big transaction")
}

// reconnect opens the workload's session again after the server
// restarted.
func (w *workload) reconnect(m *testenv.MariaDB) {
	w.conn.Close()
	conn, err := m.RootDB(w.t, "").Conn(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	w.conn = conn
	w.exec(context.Background(), sessionSQL)
}

// report renders the figures as docs/reliability.md's table.
func (f chaosFigures) report(plan chaosPlan, took time.Duration) string {
	pct := func(ds []time.Duration, p float64) string {
		if len(ds) == 0 {
			return "-"
		}
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(float64(len(s))*p))].Round(10 * time.Millisecond).String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| figure (%s run, %s) | value |\n|---|---|\n", plan.name, took.Round(time.Second))
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	row("source transactions under faults (DDL statements among them)", fmt.Sprintf("%d (%d)", f.transactions, f.ddl))
	row("row changes ingested (change sequences)", f.rowChanges)
	var named []string
	for _, p := range ingest.FaultPoints() {
		named = append(named, fmt.Sprintf("%s %d", p, f.namedKills[p]))
	}
	row("daemon kills (SIGKILL) survived", fmt.Sprintf("%d (at named points: %s; the rest at random moments)", f.kills, strings.Join(named, ", ")))
	row("SIGTERM mid-commit, clean exit 0", f.sigterms)
	row("compactions (binlake compact --force) racing a daemon being killed", f.compactions)
	var outs []string
	for _, k := range slices.Sorted(maps.Keys(f.restarts)) {
		outs = append(outs, k+" "+strconv.Itoa(f.restarts[k]))
	}
	row("server outages survived without a restart of the daemon", strings.Join(outs, ", "))
	row("points in time compared, lake against source", f.moments)
	if len(f.failed) == 0 {
		row("rows lost / duplicated / as-of mismatches", "0 / 0 / 0 (the test fails on any)")
	} else {
		row("episodes that found the lake and the source apart (the test failed)", fmt.Sprintf("%d of %d: %v", len(f.failed), f.episodes, f.failed))
	}
	row("recovery after a kill, until the lake holds every source commit (p50 / p95)",
		pct(f.recoveries, 0.5)+" / "+pct(f.recoveries, 0.95))
	row("recovery after an outage ends (p50 / p95)", pct(f.outageRecovery, 0.5)+" / "+pct(f.outageRecovery, 0.95))
	row("peak daemon memory (VmHWM)", fmt.Sprintf("%.0f MiB", f.peakRSSMiB))
	return b.String()
}

// killedBySignal reports whether a run ended by SIGKILL (a fault fired).
func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	return false
}
