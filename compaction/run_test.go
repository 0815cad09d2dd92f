package compaction

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	tf "github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/storetest"
)

// refWriter is a Writer without DuckDB: a snapshot holds the rows of the
// format's reference reader (tableformat.ScanTable), a merge the inputs'
// rows in change order, each written as one lake file by the format's own
// writer. Its files are real, so the tests of the commit logic check every
// answer; what DuckDB writes is tested in compaction/enginetest.
type refWriter struct {
	store tf.Store
	mu    sync.Mutex
	calls int
	fail  error // returned by every call while set
}

func (w *refWriter) call() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	return w.fail
}

func (w *refWriter) setFail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fail = err
}

func (w *refWriter) callCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls
}

func (w *refWriter) WriteSnapshot(ctx context.Context, p tf.Point, tableID int64, dir string, _ int64) ([]tf.WrittenFile, error) {
	if err := w.call(); err != nil {
		return nil, err
	}
	sc, rows, err := tf.ScanTable(ctx, w.store, p, tableID)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].Op = tf.OpSnapshot
	}
	return writeLocal(ctx, dir, tableID, sc, tf.FileSnapshot, p.Seq, rows)
}

func (w *refWriter) WriteMerged(ctx context.Context, t *tf.TableState, files []tf.AddFile, dir string, _ int64) ([]tf.WrittenFile, error) {
	if err := w.call(); err != nil {
		return nil, err
	}
	sc, ok := t.SchemaVersion(files[0].SchemaVersion)
	if !ok {
		return nil, fmt.Errorf("table %d has no schema version %d", t.ID, files[0].SchemaVersion)
	}
	var rows []tf.Row
	for _, f := range files {
		fc, err := tf.ReadAddFile(ctx, w.store, f)
		if err != nil {
			return nil, err
		}
		rows = append(rows, fc.Rows...)
	}
	slices.SortStableFunc(rows, func(a, b tf.Row) int { return cmp.Compare(a.Seq, b.Seq) })
	return writeLocal(ctx, dir, t.ID, sc, files[0].Kind, 0, rows)
}

// writeLocal writes rows as one sealed lake file into dir, which it
// creates (it must not exist, as the Writer contract says); no rows, no
// file.
func writeLocal(ctx context.Context, dir string, tableID int64, sc *tf.Schema, kind tf.FileKind, asOf int64, rows []tf.Row) ([]tf.WrittenFile, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	mem := tf.NewMemStore()
	add, err := tf.WriteFile(ctx, mem, func(int64) string { return "part.parquet" }, tableID, sc, kind, tf.FileWriterOptions{}, rows)
	if err != nil {
		return nil, err
	}
	data, err := tf.ReadObject(ctx, mem, add.Path)
	if err != nil {
		return nil, err
	}
	local := filepath.Join(dir, add.Path)
	if err := os.WriteFile(local, data, 0o644); err != nil {
		return nil, err
	}
	add.Path, add.AsOfSeq = "", asOf
	return []tf.WrittenFile{{Local: local, Add: add}}, nil
}

// runLake is a vacuumLake with deltas on two tables (inserts, updates,
// deletes: data and delete files) and a compactor on it writing with a
// refWriter; answers holds what every version reads before compaction.
type runLake struct {
	*vacuumLake
	w       *refWriter
	c       *Compactor
	answers []string
}

func newRunLake(t *testing.T) *runLake {
	lk := newVacuumLake(t)
	for _, op := range []string{"insert", "insert", "insert", "update", "delete", "insert", "update"} {
		lk.change(1, op)
	}
	for _, op := range []string{"insert", "insert", "delete"} {
		lk.change(2, op)
	}
	rl := &runLake{vacuumLake: lk, w: &refWriter{store: lk.store}}
	rl.c = rl.compactor(lk.store)
	for v := int64(1); v <= lk.latest().Version; v++ {
		rl.answers = append(rl.answers, rl.readAt(v))
	}
	return rl
}

// compactor returns a compactor of its own log on store, writing with the
// lake's refWriter, with the lake's clock.
func (rl *runLake) compactor(store tf.Store) *Compactor {
	log := tf.NewLog(store, tf.LogOptions{WriterID: "compactor", Now: rl.clock.Now})
	return &Compactor{Log: log, Writer: rl.w, Policy: Policy{Force: true}, TempDir: rl.t.TempDir()}
}

// readAt is what version v reads through the latest state.
func (rl *runLake) readAt(v int64) string {
	rl.t.Helper()
	got, err := rl.read(v, false)
	if err != nil {
		rl.t.Fatal(err)
	}
	return got
}

// checkAnswers fails the test if a version reads otherwise than before
// compaction.
func (rl *runLake) checkAnswers(when string) {
	rl.t.Helper()
	for i, want := range rl.answers {
		if got := rl.readAt(int64(i + 1)); got != want {
			rl.t.Fatalf("version %d %s:\n got %s\nwant %s", i+1, when, got, want)
		}
	}
}

// plan is the forced plan on the latest state.
func (rl *runLake) plan() []Job {
	rl.t.Helper()
	jobs := Plan(rl.latest(), Policy{Force: true})
	if len(jobs) == 0 {
		rl.t.Fatal("a forced plan on a lake with deltas has no job")
	}
	return jobs
}

// dataObjects is the number of objects outside the log.
func (rl *runLake) dataObjects() int {
	rl.t.Helper()
	objs, err := rl.store.List(rl.ctx, "", "")
	if err != nil {
		rl.t.Fatal(err)
	}
	n := 0
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, tf.LogDir) {
			n++
		}
	}
	return n
}

// liveFiles is the number of files st names.
func liveFiles(st *tf.State) int {
	n := 0
	for tb := range st.Tables.Values() {
		n += len(tb.Files)
	}
	return n
}

// checkTempDirEmpty fails the test if c left files in its TempDir.
func checkTempDirEmpty(t *testing.T, c *Compactor) {
	t.Helper()
	left, err := os.ReadDir(c.TempDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("%d entries left in the compactor's temporary directory, first %s", len(left), left[0].Name())
	}
}

// jobsCounted is binlake_compaction_jobs_total{kind, result} in reg.
func jobsCounted(t *testing.T, reg *prometheus.Registry, kind JobKind, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "binlake_compaction_jobs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == string(kind) && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestCompactorRun: each job of a forced plan commits one compaction entry
// that adds the written files under the table's prefix (uploaded as
// written) and, for a merge, removes exactly its inputs; the result counts
// what went in and out, the metrics count the commits, every version reads
// what it read before, and nothing is left in the temporary directory.
func TestCompactorRun(t *testing.T) {
	rl := newRunLake(t)
	reg := prometheus.NewRegistry()
	rl.c.Metrics = NewMetrics(reg)
	jobs := rl.plan()
	kinds := map[JobKind]int{}
	for _, j := range jobs {
		before := rl.latest()
		res, err := rl.c.Run(rl.ctx, j)
		if err != nil {
			t.Fatalf("%s %s.%s: %v", j.Kind, j.DB, j.Name, err)
		}
		if res.Conflict || res.Version != before.Version+1 {
			t.Fatalf("%s %s.%s: not committed as version %d: %+v", j.Kind, j.DB, j.Name, before.Version+1, res)
		}
		e, err := rl.log.Entry(rl.ctx, res.Version)
		if err != nil {
			t.Fatal(err)
		}
		wantInfo := map[string]string{"job": string(j.Kind), "table": j.DB + "." + j.Name, "reason": j.Reason}
		if j.Kind == JobSnapshot {
			wantInfo["as_of_seq"] = strconv.FormatInt(j.AsOfSeq, 10)
		}
		if e.Kind != tf.KindCompaction || fmt.Sprint(e.Info) != fmt.Sprint(wantInfo) {
			t.Fatalf("%s %s.%s: entry %s %v, want compaction %v", j.Kind, j.DB, j.Name, e.Kind, e.Info, wantInfo)
		}
		var rows, bytes int64
		for _, a := range e.Add {
			kind := tf.FileSnapshot
			if j.Kind == JobMerge {
				kind = j.Inputs[0].Kind
			}
			if prefix := tf.TablePrefix(j.DB, j.Name) + string(kind) + "/"; a.Kind != kind || !strings.HasPrefix(a.Path, prefix) {
				t.Fatalf("%s %s.%s adds %s %s, want a %s file under %s", j.Kind, j.DB, j.Name, a.Kind, a.Path, kind, prefix)
			}
			if _, err := tf.ReadAddFile(rl.ctx, rl.store, a); err != nil {
				t.Fatalf("%s %s.%s: the added file as uploaded: %v", j.Kind, j.DB, j.Name, err)
			}
			rows += a.Rows
			bytes += a.Bytes
		}
		var removed []string
		for _, r := range e.Remove {
			removed = append(removed, r.Path)
		}
		var inputs []string
		if j.Kind == JobMerge {
			for _, f := range j.Inputs {
				inputs = append(inputs, f.Path)
			}
		}
		slices.Sort(removed)
		slices.Sort(inputs)
		if !slices.Equal(removed, inputs) {
			t.Fatalf("%s %s.%s removes %v, want %v", j.Kind, j.DB, j.Name, removed, inputs)
		}
		rowsIn, bytesIn := j.Rows()
		if res.FilesIn != len(j.Inputs) || res.RowsIn != rowsIn || res.BytesIn != bytesIn ||
			res.FilesOut != len(e.Add) || res.RowsOut != rows || res.BytesOut != bytes {
			t.Fatalf("%s %s.%s: result %+v; the job reads %d files, %d rows, %d bytes, the entry adds %d files, %d rows, %d bytes",
				j.Kind, j.DB, j.Name, res, len(j.Inputs), rowsIn, bytesIn, len(e.Add), rows, bytes)
		}
		if j.Kind == JobMerge && (res.RowsOut != res.RowsIn || res.FilesOut != 1) {
			t.Fatalf("merge %s.%s: %d rows in %d files → %d rows in %d files", j.DB, j.Name, res.RowsIn, res.FilesIn, res.RowsOut, res.FilesOut)
		}
		kinds[j.Kind]++
	}
	if kinds[JobSnapshot] != 2 || kinds[JobMerge] < 2 {
		t.Fatalf("jobs run: %v; want a snapshot of each table with deltas and merges", kinds)
	}
	rl.checkAnswers("after compaction")
	if again := Plan(rl.latest(), Policy{Force: true}); len(again) != 0 {
		t.Fatalf("right after compaction the plan still has %d jobs: %+v", len(again), again[0])
	}
	for kind, n := range kinds {
		if got := jobsCounted(t, reg, kind, "committed"); got != float64(n) {
			t.Fatalf("binlake_compaction_jobs_total{kind=%q,result=\"committed\"} = %g, want %d", kind, got, n)
		}
	}
	checkTempDirEmpty(t, rl.c)
}

// TestCompactorRunMoot: a job that another commit made moot since it was
// planned commits nothing and reports a conflict — its table dropped, a
// merge input no longer live (neither writes anything), a snapshot at a
// sequence the table already has one at (its upload is left for vacuum) —
// and every version still reads what it read.
func TestCompactorRunMoot(t *testing.T) {
	rl := newRunLake(t)
	reg := prometheus.NewRegistry()
	rl.c.Metrics = NewMetrics(reg)
	jobs := rl.plan()
	merge := jobs[slices.IndexFunc(jobs, func(j Job) bool { return j.Kind == JobMerge && j.TableID == 1 })]
	snap := jobs[slices.IndexFunc(jobs, func(j Job) bool { return j.Kind == JobSnapshot && j.TableID == 1 })]
	dropped := jobs[slices.IndexFunc(jobs, func(j Job) bool { return j.TableID == 2 })]

	moot := func(j Job, wantWrites int) {
		t.Helper()
		version, objects, calls := rl.latest().Version, rl.dataObjects(), rl.w.callCount()
		res, err := rl.c.Run(rl.ctx, j)
		if err != nil {
			t.Fatalf("%s %s.%s: %v", j.Kind, j.DB, j.Name, err)
		}
		if !res.Conflict || res.Version != 0 || rl.latest().Version != version {
			t.Fatalf("%s %s.%s: %+v, lake at version %d (was %d); want a conflict and no commit",
				j.Kind, j.DB, j.Name, res, rl.latest().Version, version)
		}
		if got := rl.w.callCount() - calls; got != wantWrites {
			t.Fatalf("%s %s.%s: the writer was called %d times, want %d", j.Kind, j.DB, j.Name, got, wantWrites)
		}
		if got := rl.dataObjects() - objects; got != wantWrites {
			t.Fatalf("%s %s.%s: %d objects uploaded, want %d", j.Kind, j.DB, j.Name, got, wantWrites)
		}
	}

	rl.ddl(2, tf.TableDrop)
	moot(dropped, 0)

	for _, j := range []Job{merge, snap} {
		if res, err := rl.c.Run(rl.ctx, j); err != nil || res.Version == 0 {
			t.Fatalf("%s %s.%s: %+v, %v", j.Kind, j.DB, j.Name, res, err)
		}
	}
	moot(merge, 0)
	moot(snap, 1)
	if got := jobsCounted(t, reg, JobSnapshot, "conflict"); got != 1 {
		t.Fatalf("snapshot conflicts counted: %g, want 1", got)
	}
	// The versions before the drop still read table 2 as it was.
	rl.checkAnswers("after moot jobs")
	checkTempDirEmpty(t, rl.c)
}

// TestTwoCompactorsCollide: two compactors, each with its own log, run the
// same job at once, their log writes held until both wait to commit the
// same version, then let go together: for every job of the plan the one
// whose write lands commits that version and the other reports a conflict
// (no snapshot counted twice, no file merged twice) with its uploads left
// in storage, named by no entry, for vacuum; every version reads what it
// read before. Under -race, this is also the race detector's run of two
// compactors at once.
func TestTwoCompactorsCollide(t *testing.T) {
	rl := newRunLake(t)
	for _, j := range rl.plan() {
		before := rl.latest()
		version, objects, live := before.Version, rl.dataObjects(), liveFiles(before)
		if j.Kind == JobMerge {
			live -= len(j.Inputs)
		}
		key := tf.EntryKey(version + 1)
		bs := storetest.NewBarrierStore(rl.store)
		bs.Hold(key)
		var res [2]Result
		var errs [2]error
		var wg sync.WaitGroup
		for i := range 2 {
			c := rl.compactor(bs)
			wg.Go(func() { res[i], errs[i] = c.Run(rl.ctx, j) })
		}
		if err := bs.WaitHeld(rl.ctx, key, 2); err != nil {
			t.Fatal(err)
		}
		bs.Release(key)
		wg.Wait()
		won, lost := res[0], res[1]
		if won.Version == 0 {
			won, lost = lost, won
		}
		if errors.Join(errs[:]...) != nil || won.Version != version+1 || won.Conflict || !lost.Conflict || lost.Version != 0 {
			t.Fatalf("%s %s.%s: want a commit of version %d and a conflict, got versions %d and %d, conflicts %v and %v (errors %v)",
				j.Kind, j.DB, j.Name, version+1, won.Version, lost.Version, won.Conflict, lost.Conflict, errors.Join(errs[:]...))
		}
		if got := rl.dataObjects() - objects; lost.FilesOut == 0 || got != won.FilesOut+lost.FilesOut {
			t.Fatalf("%s %s.%s: %d new objects outside the log; want the winner's %d files and the loser's %d",
				j.Kind, j.DB, j.Name, got, won.FilesOut, lost.FilesOut)
		}
		if got, want := liveFiles(rl.latest()), live+won.FilesOut; got != want {
			t.Fatalf("%s %s.%s: %d live files, want %d: the loser's files must be named by no entry", j.Kind, j.DB, j.Name, got, want)
		}
	}
	rl.checkAnswers("after the collisions")
	if again := Plan(rl.latest(), Policy{Force: true}); len(again) != 0 {
		t.Fatalf("after the collisions the plan still has %d jobs", len(again))
	}
}

// TestCompactorFails: a job whose writer fails, whose upload fails, or
// whose log write fails returns the error and commits nothing: the lake's
// version and every answer stay, only uploads that landed before a failed
// log write are left (orphans for vacuum), the temporary directory is
// emptied each time, and a later run does the work.
func TestCompactorFails(t *testing.T) {
	rl := newRunLake(t)
	fs := storetest.NewFaultStore(rl.store)
	c := rl.compactor(fs)
	reg := prometheus.NewRegistry()
	c.Metrics = NewMetrics(reg)
	before := rl.latest()
	jobs := rl.plan()
	writerDown := errors.New("the writer's disk is full")
	for _, step := range []struct {
		name    string
		fault   func()
		wantErr error
		orphans bool
	}{
		{"writer fails", func() { rl.w.setFail(writerDown) }, writerDown, false},
		{"upload fails", func() {
			rl.w.setFail(nil)
			fs.Inject(storetest.Fault{Op: storetest.OpPut, Mode: storetest.Before})
		}, storetest.ErrInjected, false},
		{"log write fails", func() {
			fs.Clear()
			fs.Inject(storetest.Fault{Op: storetest.OpPutIfAbsent, Prefix: tf.LogDir, Mode: storetest.Before})
		}, storetest.ErrInjected, true},
	} {
		step.fault()
		objects := rl.dataObjects()
		for _, j := range jobs {
			if _, err := c.Run(rl.ctx, j); !errors.Is(err, step.wantErr) {
				t.Fatalf("%s: %s %s.%s: %v, want %v", step.name, j.Kind, j.DB, j.Name, err, step.wantErr)
			}
		}
		if v := rl.latest().Version; v != before.Version {
			t.Fatalf("%s: version %d → %d", step.name, before.Version, v)
		}
		if n := rl.dataObjects(); (n > objects) != step.orphans || n < objects {
			t.Fatalf("%s: %d objects before, %d after; orphans expected: %v", step.name, objects, n, step.orphans)
		}
		rl.checkAnswers("after: " + step.name)
		checkTempDirEmpty(t, c)
	}
	if got, want := jobsCounted(t, reg, JobMerge, "failed"), 3*float64(len(jobs)-2); got != want {
		t.Fatalf("failed merges counted: %g, want %g", got, want)
	}
	fs.Clear()
	results, err := c.RunAll(rl.ctx)
	if err != nil || len(results) != len(jobs) {
		t.Fatalf("the run after: %d results of %d jobs, %v", len(results), len(jobs), err)
	}
	rl.checkAnswers("after a run that completes")
}
