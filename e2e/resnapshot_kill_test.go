package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// bigRows is shop.big's rows at the start of TestResnapshotKilled: four
// chunks of ingest.DefaultResnapshotChunkRows (the last one partial).
const bigRows = 3*ingest.DefaultResnapshotChunkRows + 11_000

// TestResnapshotKilled: the daemon dies in the middle of re-snapshots of
// shop.big (four chunks) — killed by its own faults at the commit path's
// points the re-snapshot passes (a chunk's file uploaded, every file of a
// commit uploaded, a commit written) at the first chunk, a middle one and
// the `done` commit; killed with SIGKILL when chosen conditions hold
// ("k chunks committed", "k chunks read"); killed while it compares the
// chunks with the lake — while a writer changes shop.big and shop.other
// and the source holds changes the binlog never saw (sql_log_bin = 0),
// which only the re-snapshot finds. Each restart goes on from the last
// chunk the log holds: its first log line says so (chunks_done), every
// chunk of a re-snapshot starts after the key the one before it ended at
// (read from the chunks' files), and a daemon that finishes a re-snapshot
// read no chunk it did not commit. The lake equals the source as of every
// step (each re-snapshot's result before the next one asks), at the latest
// point, and after compaction and vacuum.
//
// Runs with a fault armed are quiet (the writer paused, the lake caught
// up): the fault's count then names the re-snapshot's own passes, so the
// crash lands where the test aims it. The writer runs while the daemons
// that resume the re-snapshots read their chunks, and through the random
// kills.
func TestResnapshotKilled(t *testing.T) {
	began := time.Now()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	k := newResnapKill(t, seed)
	// 1. Faults at named points, each in a re-snapshot of its own. A
	// chunk's file is uploaded in key order, one at a time: the Nth
	// file-uploaded is the Nth chunk's. A commit holds the chunks read
	// since the one before, often all of them: the first commit is the
	// one to aim at (uploaded:1 before it, committed:1 after it); the
	// `done` commit is aimed at in killComparing.
	for _, c := range []struct {
		point ingest.FaultPoint
		nth   int
	}{
		{ingest.FaultFileUploaded, 1}, // the first chunk's file, nothing committed
		{ingest.FaultFileUploaded, 3}, // a middle chunk's file
		{ingest.FaultUploaded, 1},     // the first commit's files
		{ingest.FaultCommitted, 1},    // the first chunk committed (with the next ones, maybe)
	} {
		k.faulted(c.point, c.nth)
	}
	t.Logf("named faults done at %v", time.Since(began).Round(time.Millisecond))
	// 3. (before 2: it needs a quiet lake) A kill while the chunks are
	// compared, then the `done` commit's fault.
	k.killComparing()
	t.Logf("comparison kill done at %v", time.Since(began).Round(time.Millisecond))
	// 2. SIGKILLs at random conditions, the writer running.
	k.randomKills(4)
	t.Logf("random kills done at %v", time.Since(began).Round(time.Millisecond))
	k.finish()
	t.Logf("landings: %s; checked at %v", strings.Join(k.landings, "; "), time.Since(began).Round(time.Millisecond))
}

// resnapKill drives TestResnapshotKilled: the fidelity harness on shop.big
// and shop.other, a writer changing both, and the daemons started, crashed
// and killed around re-snapshots of shop.big.
type resnapKill struct {
	t        *testing.T
	f        *fidelity
	l        *tableformat.Log
	rnd      *rand.Rand
	w        *resnapWriter
	d        *resnapRun // the daemon that runs, nil: none
	rounds   int        // re-snapshots asked for
	landings []string   // where each kill landed, for the log
}

// resnapRun is one run of the daemon.
type resnapRun struct {
	*daemonRun
	log  string             // its log file
	from *tableformat.State // the lake when it started
}

func newResnapKill(t *testing.T, seed uint64) *resnapKill {
	// Steps record shop.big; shop.other, whose changes only add up, is
	// compared at the end (finish).
	f := newFidelity(t, "shop.big")
	f.sql("CREATE DATABASE shop", "USE shop",
		"CREATE TABLE shop.big (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(20))",
		fmt.Sprintf("INSERT INTO shop.big SELECT seq, seq %% 1000, CONCAT('s', seq) FROM seq_1_to_%d", bigRows),
		"CREATE TABLE shop.other (id INT PRIMARY KEY, n INT NOT NULL)",
		"INSERT INTO shop.other SELECT seq, 0 FROM seq_1_to_200")
	f.start()
	k := &resnapKill{t: t, f: f, l: tableformat.NewLog(f.store, tableformat.LogOptions{}), rnd: rand.New(rand.NewPCG(seed, 3))}
	k.d = &resnapRun{daemonRun: f.daemon}
	k.w = startResnapWriter(f, seed)
	return k
}

// latest is the lake's latest state.
func (k *resnapKill) latest() *tableformat.State {
	k.t.Helper()
	st, err := k.l.Latest(context.Background())
	if err != nil {
		k.t.Fatal(err)
	}
	return st
}

// bigJob is shop.big's re-snapshot in st; nil: none.
func bigJob(st *tableformat.State) *tableformat.ResnapshotJob {
	j, _ := st.Resnapshot("shop", "big")
	return j
}

// start starts the daemon with extra environment (a fault).
func (k *resnapKill) start(extra ...string) *resnapRun {
	k.t.Helper()
	from := k.latest()
	e := k.f.e
	saved := e.envs
	e.envs = append(slices.Clip(e.envs), extra...)
	d := &daemonRun{cmd: e.ingest(), done: make(chan error, 1)}
	e.envs = saved
	go func() { d.done <- d.cmd.Wait() }()
	k.f.daemon = d // stopped by the harness's cleanup
	k.d = &resnapRun{daemonRun: d, log: filepath.Join(e.logDir, fmt.Sprintf("ingest-%03d.log", e.runs)), from: from}
	return k.d
}

// kill kills the daemon with SIGKILL and waits for its end.
func (k *resnapKill) kill() {
	k.t.Helper()
	k.d.cmd.Process.Signal(syscall.SIGKILL)
	if err := k.d.term(); !killedBySignal(err) {
		k.t.Fatalf("the daemon ended with %v before it was killed", err)
	}
	k.d = nil
}

// crashed waits for the daemon to kill itself at its armed fault.
func (k *resnapKill) crashed(fault string) {
	k.t.Helper()
	testenv.Eventually(k.t, 2*time.Minute, "the daemon killed by its fault "+fault, k.d.exitedYet)
	if !killedBySignal(k.d.err) {
		k.t.Fatalf("fault %s: the daemon ended with %v, want killed by its fault", fault, k.d.err)
	}
	k.d = nil
}

// ask begins a round: with the writer paused, a step records the source;
// then the source changes in shop.big without binlog — rows deleted and
// updated across its chunks, rows added before and after its keys — and
// one logged transaction follows (so the step keeps its own contents, as
// of its GTID and its time, until the re-snapshot's changes); once the
// lake holds it, the daemon stops and `binlake resnapshot --no-wait` asks
// for shop.big. The writer stays paused, no daemon runs. It returns the
// lake's version with the request.
func (k *resnapKill) ask(what string) int64 {
	k.t.Helper()
	k.w.pause()
	k.f.step(what, fmt.Sprintf("INSERT INTO shop.other VALUES (%d, 0)", 1000+len(k.f.steps)))
	k.rounds++
	r := k.rounds
	ids := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = strconv.FormatInt(1+k.rnd.Int64N(bigRows), 10)
		}
		return strings.Join(s, ", ")
	}
	k.f.sql("SET sql_log_bin = 0",
		"DELETE FROM shop.big WHERE id IN ("+ids(4)+")",
		fmt.Sprintf("UPDATE shop.big SET v = %d, s = 'hidden %d' WHERE id IN (%s)", -r, r, ids(4)),
		fmt.Sprintf("INSERT INTO shop.big VALUES (%d, %d, 'unlogged'), (%d, %d, 'unlogged')", -1_000_000-r, r, 150_000+r, r),
		"SET sql_log_bin = 1",
		fmt.Sprintf("SET timestamp = %d", k.f.peekAt().Unix()),
		"UPDATE shop.other SET n = n + 1 WHERE id = 1",
		"SET timestamp = DEFAULT")
	waitForGTID(k.t, k.f.store, binlogPos(k.t, k.f.e.db), 60*time.Second)
	if k.d != nil {
		if err := k.d.term(); err != nil {
			k.t.Fatalf("binlake ingest exited with %v on SIGTERM, want 0", err)
		}
		k.d = nil
	}
	out, errOut, code := k.f.e.runCmd("resnapshot", "-c", k.f.e.config, "--table", "shop.big", "--no-wait")
	if code != 0 {
		k.t.Fatalf("binlake resnapshot --no-wait: exit %d\n%s%s", code, out, errOut)
	}
	st := k.latest()
	if bigJob(st) == nil {
		k.t.Fatalf("no re-snapshot of shop.big after binlake resnapshot:\n%s", out)
	}
	return st.Version
}

// landed notes where a kill left the re-snapshot and returns its job
// (nil: done).
func (k *resnapKill) landed(how string) *tableformat.ResnapshotJob {
	k.t.Helper()
	j := bigJob(k.latest())
	where := "after the done commit"
	switch {
	case j == nil:
	case j.Read():
		where = fmt.Sprintf("every chunk committed (%d), comparing", len(j.Chunks))
	default:
		where = fmt.Sprintf("%d chunks committed", len(j.Chunks))
	}
	k.landings = append(k.landings, how+": "+where)
	return j
}

// faulted runs a re-snapshot whose first daemon kills itself at the nth
// pass of point, then resumes it without the fault.
func (k *resnapKill) faulted(point ingest.FaultPoint, nth int) {
	k.t.Helper()
	fault := fmt.Sprintf("%s:%d", point, nth)
	req := k.ask("before " + fault)
	k.start("BINLAKE_FAULT=" + fault)
	k.crashed(fault)
	j := k.landed(fault)
	switch {
	case j == nil:
		k.t.Fatalf("fault %s: the re-snapshot was done before the crash", fault)
	case point == ingest.FaultFileUploaded && len(j.Chunks) >= nth:
		k.t.Fatalf("fault %s: %d chunks committed before chunk %d's file was uploaded", fault, len(j.Chunks), nth)
	case point == ingest.FaultUploaded && nth == 1 && len(j.Chunks) > 0:
		k.t.Fatalf("fault %s: %d chunks committed before the first commit", fault, len(j.Chunks))
	case point == ingest.FaultCommitted && len(j.Chunks) == 0:
		k.t.Fatalf("fault %s: no chunk committed", fault)
	}
	k.w.resume()
	runs := []*resnapRun{k.start()}
	k.awaitDone()
	k.checkJob(req, runs)
}

// killComparing runs a re-snapshot, quiet, killed once every chunk is
// committed and before its `done`; the next daemon, quiet, with the fault
// committed:1, crashes right after its first commit — the `done`; the next
// one finds nothing to do. Neither reads a chunk. (The kill races the
// comparison, which takes some hundred milliseconds; when the comparison
// wins, the round is asked again.)
func (k *resnapKill) killComparing() {
	k.t.Helper()
	var req int64
	var runs []*resnapRun
	for attempt := 1; ; attempt++ {
		req = k.ask("before a kill while comparing")
		runs = []*resnapRun{k.start()}
		testenv.Eventually(k.t, 2*time.Minute, "every chunk of shop.big committed", func() error {
			if j := bigJob(k.latest()); j != nil && !j.Read() {
				return fmt.Errorf("%d chunks committed, the last not yet", len(j.Chunks))
			}
			return nil
		})
		k.kill()
		if j := k.landed("SIGKILL once every chunk is committed"); j != nil {
			break
		}
		if attempt == 3 {
			k.t.Fatalf("the re-snapshot was done before the kill %d times", attempt)
		}
		k.w.resume()
		k.start()
	}
	v := k.latest().Version
	runs = append(runs, k.start("BINLAKE_FAULT=committed:1"))
	k.crashed("committed:1")
	if j := k.landed("committed:1 while comparing"); j != nil {
		k.t.Fatalf("the first commit of a daemon resuming a re-snapshot whose chunks are all read is not its done (%d chunks)", len(j.Chunks))
	}
	if st := k.latest(); st.Version != v+1 {
		k.t.Fatalf("the daemon resuming the comparison committed versions %d…%d, want one (the done)", v+1, st.Version)
	}
	k.checkJob(req, runs)
	k.w.resume()
	d := k.start()
	testenv.Eventually(k.t, 2*time.Minute, "the daemon after the done commits", func() error {
		if v := k.latest().Version; v <= d.from.Version {
			return fmt.Errorf("the lake is at version %d, where the daemon started", v)
		}
		return nil
	})
	if strings.Contains(readFileForTest(k.t, d.log), `msg="re-snapshot started"`) {
		k.t.Fatalf("the daemon after the done started a re-snapshot:\n%s", readFileForTest(k.t, d.log))
	}
}

// randomKills runs a re-snapshot, the writer running, killing the daemon
// up to n times with SIGKILL once a random condition holds: this run
// committed one more chunk, or read k chunks (its log says so; they may
// not be committed yet) — or every chunk is committed: the kill lands in
// the comparison, and the kills end.
func (k *resnapKill) randomKills(n int) {
	k.t.Helper()
	req := k.ask("before random kills")
	k.w.resume()
	runs := []*resnapRun{k.start()}
	for i := range n {
		d := k.d
		var what string
		var cond func() error
		if k.rnd.IntN(2) == 0 {
			want := len(bigJob(d.from).Chunks) + 1
			what = fmt.Sprintf("%d chunks committed", want)
			cond = func() error {
				if j := bigJob(k.latest()); j != nil && len(j.Chunks) < want {
					return fmt.Errorf("%d committed", len(j.Chunks))
				}
				return nil
			}
		} else {
			want := 1 + k.rnd.IntN(2)
			what = fmt.Sprintf("%d chunks read by this run", want)
			cond = func() error {
				if j := bigJob(k.latest()); j == nil || j.Read() {
					return nil
				}
				if n := strings.Count(readFileForTest(k.t, d.log), `msg="re-snapshot chunk read"`); n < want {
					return fmt.Errorf("%d read", n)
				}
				return nil
			}
		}
		testenv.Eventually(k.t, 2*time.Minute, what, cond)
		k.kill()
		j := k.landed(fmt.Sprintf("SIGKILL %d at %s", i+1, what))
		if j == nil {
			k.t.Logf("kill %d at %s came after the done commit", i+1, what)
			k.start()
			k.checkJob(req, runs)
			return
		}
		runs = append(runs, k.start())
		if j.Read() {
			break // comparing: no chunk is left to kill at
		}
	}
	k.awaitDone()
	k.checkJob(req, runs)
}

// awaitDone waits until shop.big's re-snapshot is done.
func (k *resnapKill) awaitDone() {
	k.t.Helper()
	testenv.Eventually(k.t, 3*time.Minute, "the re-snapshot of shop.big done", func() error {
		if j := bigJob(k.latest()); j != nil {
			return fmt.Errorf("%d chunks committed, read: %v", len(j.Chunks), j.Read())
		}
		return nil
	})
}

// finish stops the writer, records the last step and checks the lake
// against every step.
func (k *resnapKill) finish() {
	k.t.Helper()
	k.w.pause()
	k.w.end()
	k.f.step("the end", fmt.Sprintf("INSERT INTO shop.other VALUES (%d, 0)", 1000+len(k.f.steps)))
	k.f.stop()
	k.f.checkAll()
	want := sourceCSV(k.t, k.f.e.db.Addr(), k.f.e.db.RootUser, k.f.e.db.RootPassword, "shop.other")
	out, errOut, code := newQuerier(k.t, k.f.e).query("SELECT * FROM shop.other ORDER BY id")
	if code != 0 || out != want {
		k.t.Fatalf("shop.other: exit %d %s\n%s", code, errOut, csvDiff(out, want))
	}
}

var startedLine = regexp.MustCompile(`msg="re-snapshot started" table=shop\.big .*chunks_done=(\d+) rows_done=(\d+)`)

// checkJob checks the re-snapshot of shop.big asked for at version req,
// done since, and the daemons that ran it (runs, in order; the last one
// still runs or ended at a fault after the last chunk): each one that had
// the job says, first, how far the log had it (chunks_done, rows_done);
// each chunk starts after the key the one before ended at, the last one
// (and only it) marked last; one `done` ends it; and the last daemon read
// no chunk it did not commit.
func (k *resnapKill) checkJob(req int64, runs []*resnapRun) {
	k.t.Helper()
	ctx := context.Background()
	for _, r := range runs {
		j := bigJob(r.from)
		if j == nil {
			continue
		}
		var m []string
		testenv.Eventually(k.t, time.Minute, "the daemon's re-snapshot line", func() error {
			if m = startedLine.FindStringSubmatch(readFileForTest(k.t, r.log)); m == nil {
				return fmt.Errorf("not in %s", r.log)
			}
			return nil
		})
		if m[1] != strconv.Itoa(len(j.Chunks)) || m[2] != strconv.FormatInt(j.Rows(), 10) {
			k.t.Fatalf("a daemon started with %d chunks (%d rows) of shop.big's re-snapshot committed, and logged %q",
				len(j.Chunks), j.Rows(), m[0])
		}
	}
	st := k.latest()
	var chunks []*tableformat.ResnapshotChunk
	var versions []int64
	done := int64(0)
	for v := req + 1; v <= st.Version && done == 0; v++ {
		e, err := k.l.Entry(ctx, v)
		if err != nil {
			k.t.Fatal(err)
		}
		for _, op := range e.Resnapshot {
			if op.DB != "shop" || op.Name != "big" {
				continue
			}
			switch op.Op {
			case tableformat.ResnapshotChunkRead:
				chunks, versions = append(chunks, op.Chunk), append(versions, v)
			case tableformat.ResnapshotDone:
				done = v
			default:
				k.t.Fatalf("version %d: a %s of shop.big's re-snapshot (%s) while it ran", v, op.Op, op.Reason)
			}
		}
	}
	if done == 0 {
		k.t.Fatalf("shop.big's re-snapshot asked for at version %d is not done at version %d", req, st.Version)
	}
	after := int64(-1 << 62)
	for i, c := range chunks {
		if c.Last != (i == len(chunks)-1) {
			k.t.Fatalf("chunk %d of %d (version %d) last: %v", i+1, len(chunks), versions[i], c.Last)
		}
		if lo, ok := chunkMinKey(k.t, k.f.store, c); ok && lo <= after {
			k.t.Fatalf("chunk %d (version %d) starts at key %d, at or before the key %d the chunk before it ended at: read again",
				i+1, versions[i], lo, after)
		}
		if !c.Last {
			a, err := strconv.ParseInt(c.After[0], 10, 64)
			if err != nil || a <= after {
				k.t.Fatalf("chunk %d (version %d) ends at key %q, after %d", i+1, versions[i], c.After, after)
			}
			after = a
		}
	}
	// The last daemon's chunks: all it read, all committed.
	last := runs[len(runs)-1]
	committed := 0
	for _, v := range versions {
		if v > last.from.Version {
			committed++
		}
	}
	if read := strings.Count(readFileForTest(k.t, last.log), `msg="re-snapshot chunk read"`); read != committed {
		k.t.Fatalf("the daemon that ended shop.big's re-snapshot read %d chunks and committed %d", read, committed)
	}
}

// chunkMinKey is the least id of a chunk's rows; false when it has none.
func chunkMinKey(t *testing.T, store tableformat.Store, c *tableformat.ResnapshotChunk) (int64, bool) {
	t.Helper()
	lo, ok := int64(0), false
	for _, f := range c.Files {
		fc, err := tableformat.ReadAddFile(context.Background(), store, f)
		if err != nil {
			t.Fatal(err)
		}
		col := slices.IndexFunc(fc.Columns, func(c tableformat.Column) bool { return c.Name == "id" })
		for _, r := range fc.Rows {
			if id := r.Values[col].(int64); !ok || id < lo {
				lo, ok = id, true
			}
		}
	}
	return lo, ok
}

// resnapWriter changes shop.big and shop.other on a session of its own, a
// small transaction at a time, until ended; paused, it waits between
// transactions. Each transaction is stamped with the time of the step to
// come, so that each step's time names its own contents.
type resnapWriter struct {
	f    *fidelity
	conn *sql.Conn
	rnd  *rand.Rand
	mu   sync.Mutex // held for each transaction, and while paused
	stop chan struct{}
	done chan struct{}
	// Keys the writer moves rows to: after the table's, before them.
	high, low int64
}

func startResnapWriter(f *fidelity, seed uint64) *resnapWriter {
	conn, err := f.e.db.RootDB(f.t, "").Conn(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close() })
	w := &resnapWriter{f: f, conn: conn, rnd: rand.New(rand.NewPCG(seed, 5)), stop: make(chan struct{}), done: make(chan struct{}),
		high: 200_000, low: -1}
	go w.run()
	return w
}

func (w *resnapWriter) run() {
	defer close(w.done)
	pace := time.NewTicker(20 * time.Millisecond) // load shaping, not synchronisation
	defer pace.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-pace.C:
		}
		w.mu.Lock()
		select {
		case <-w.stop:
			w.mu.Unlock()
			return
		default:
		}
		err := w.txn()
		w.mu.Unlock()
		if err != nil {
			w.f.t.Errorf("the writer: %v", err)
			return
		}
	}
}

// pause waits for the transaction in flight and holds the writer.
func (w *resnapWriter) pause() { w.mu.Lock() }

// resume lets the paused writer go on.
func (w *resnapWriter) resume() { w.mu.Unlock() }

// end stops the paused writer.
func (w *resnapWriter) end() {
	close(w.stop)
	w.mu.Unlock()
	<-w.done
}

// txn commits one transaction of one to three changes: updates across
// shop.big, deletes, inserts after its keys, keys moved past either end,
// counts in shop.other.
func (w *resnapWriter) txn() error {
	stmts := []string{fmt.Sprintf("SET timestamp = %d", w.f.peekAt().Unix()), "BEGIN"}
	for range 1 + w.rnd.IntN(3) {
		id := 1 + w.rnd.Int64N(bigRows)
		switch w.rnd.IntN(8) {
		case 0:
			w.high++
			stmts = append(stmts, fmt.Sprintf("INSERT INTO shop.big VALUES (%d, %d, 'new')", w.high, w.rnd.IntN(1000)))
		case 1:
			stmts = append(stmts, fmt.Sprintf("DELETE FROM shop.big WHERE id = %d", id))
		case 2:
			w.high++
			stmts = append(stmts, fmt.Sprintf("UPDATE shop.big SET id = %d WHERE id = %d", w.high, id))
		case 3:
			w.low--
			stmts = append(stmts, fmt.Sprintf("UPDATE shop.big SET id = %d WHERE id = %d", w.low, id))
		case 4, 5:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO shop.other VALUES (%d, 1) ON DUPLICATE KEY UPDATE n = n + 1", 1+w.rnd.IntN(200)))
		default:
			stmts = append(stmts, fmt.Sprintf("UPDATE shop.big SET v = v + 1, s = 'w%d' WHERE id = %d", w.rnd.IntN(1000), id))
		}
	}
	stmts = append(stmts, "COMMIT", "SET timestamp = DEFAULT")
	for _, s := range stmts {
		if _, err := w.conn.ExecContext(context.Background(), s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// TestResnapshotDDLStorm: the workload's DDL storm with the statements that
// change rows without row events (workload.resnapDDL: defaults, generated
// columns, partitions truncated and dropped, lossy conversions), which the
// daemon follows with re-snapshots, killed with SIGKILL at each checkpoint
// where it has one pending. The lake equals the model as of every source
// transaction where it has none pending (workload.check).
func TestResnapshotDDLStorm(t *testing.T) {
	e := newEnv(t)
	store := e.store()
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 21)
	w.ddlEvery = 3
	w.resnapDDL = true
	ctx := context.Background()
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	d := e.ingest("--start-gtid", start)
	kills := 0
	for i := range 300 {
		w.txn(ctx)
		if i%30 < 29 {
			continue
		}
		waitForGTID(t, store, w.moments[len(w.moments)-1].gtid, 60*time.Second)
		st, err := l.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Resnapshots) > 0 {
			d.Process.Kill()
			d.Wait()
			kills++
			d = e.ingest()
		}
	}
	d.Process.Kill()
	d.Wait()
	if kills == 0 {
		t.Fatal("no re-snapshot was pending at any checkpoint: nothing was killed during one")
	}
	e.catchUpNow()
	t.Logf("%d kills with re-snapshots pending", kills)
	w.check(store)
}
