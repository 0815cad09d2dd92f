package compaction

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tf "github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
	"github.com/binlake/binlake/tableformat/storetest"
)

// manyLake writes a lake of n tables × 5 small files (laketest.Many,
// checkpoint interval 10): under the default policy no table needs work —
// fewer than DefaultMergeMinFiles small files, far from a snapshot. Then
// each table of touched gets DefaultMergeMinFiles more one-file commits, so
// that it, and only it, needs a merge. It returns the lake's latest state.
func manyLake(ctx context.Context, store tf.Store, n int, touched []int) (*tf.State, error) {
	st, err := laketest.Many(ctx, store, laketest.ManyOptions{Tables: n, Files: 5, Rows: 2, CheckpointInterval: 10})
	if err != nil {
		return nil, err
	}
	log := tf.NewLog(store, tf.LogOptions{})
	for range DefaultMergeMinFiles {
		for _, i := range touched {
			db, name := laketest.ManyTable(i)
			seq, ts := st.Progress.MaxSeq+1, st.Progress.MaxTS+1
			add, err := tf.WriteAddFile(ctx, store, db, name, int64(i+1), st.Tables.Get(int64(i+1)).Schema(), tf.FileData, tf.FileWriterOptions{},
				[]tf.Row{{Seq: seq, TS: ts, Op: tf.OpInsert, Values: []any{1_000_000 + seq, "x", int64(1)}}})
			if err != nil {
				return nil, err
			}
			st, err = log.Commit(ctx, &tf.Entry{Kind: tf.KindIngest, Add: []tf.AddFile{add},
				Txns:     []tf.TxnMark{{Seq: seq, TS: ts, GTID: fmt.Sprintf("0-1-%d", seq)}},
				Progress: tf.Progress{Position: tf.Position{GTIDSet: fmt.Sprintf("0-1-%d", seq)}, PrevSeq: seq - 1, MaxSeq: seq, MaxTS: ts}})
			if err != nil {
				return nil, fmt.Errorf("commit a file to %s.%s: %w", db, name, err)
			}
		}
	}
	return st, nil
}

// outsideLog keeps the keys that are not the commit log's.
func outsideLog(key string) bool { return !strings.HasPrefix(key, tf.LogDir) }

// TestPlanReadsOnlyTheLog: planning compaction of a lake where a few
// tables changed reads the commit log and no data file — not of the
// tables it leaves alone, nor of those it plans jobs for — and plans jobs
// for the changed tables only; a compactor that planned before plans
// again with one small request.
func TestPlanReadsOnlyTheLog(t *testing.T) {
	ctx := t.Context()
	mem := tf.NewMemStore()
	touched := []int{3, 17}
	if _, err := manyLake(ctx, mem, 40, touched); err != nil {
		t.Fatal(err)
	}
	cs := storetest.NewCountingStore(mem)
	c := &Compactor{Log: tf.NewLog(cs, tf.LogOptions{})}
	jobs, err := c.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, j := range jobs {
		planned = append(planned, fmt.Sprintf("%s %s.%s (%d files)", j.Kind, j.DB, j.Name, len(j.Inputs)))
	}
	want := []string{"merge d.t00003 (15 files)", "merge d.t00017 (15 files)"}
	if !slices.Equal(planned, want) {
		t.Fatalf("plan:\n got %q\nwant %q", planned, want)
	}
	for _, op := range []storetest.Op{storetest.OpOpen, storetest.OpStat, storetest.OpList} {
		if keys := cs.Keys(op, outsideLog); len(keys) > 0 {
			t.Errorf("planning called %s outside the log: %q", op, keys)
		}
	}
	if cs.Reads("") == 0 {
		t.Fatal("the counting store saw no read at all: it is not the store planning used")
	}

	// Planning again on the same log: nothing new, one request.
	cs.Reset()
	if again, err := c.Plan(ctx); err != nil || len(again) != len(jobs) {
		t.Fatalf("second plan: %d jobs, %v", len(again), err)
	}
	if calls := cs.Calls(); len(calls) != 1 || calls[0].Op != storetest.OpStat {
		t.Fatalf("second plan made %v; want one stat of the next entry", calls)
	}

	// Planning for chosen tables reads no more.
	cs.Reset()
	fresh := &Compactor{Log: tf.NewLog(cs, tf.LogOptions{})}
	if j, err := fresh.Plan(ctx, "d.t00003", "d.t00004"); err != nil || len(j) != 1 || j[0].Name != "t00003" {
		t.Fatalf("plan of d.t00003 and d.t00004: %+v, %v", j, err)
	}
	if keys := cs.Keys(storetest.OpOpen, outsideLog); len(keys) > 0 {
		t.Errorf("planning chosen tables opened %q", keys)
	}
}

// BenchmarkScalePlan measures planning `binlake compact` on lakes of 10,
// 1,000 and, with BINLAKE_BENCH_TABLES=10000, 10,000 tables × 5 small files
// where 3 tables changed enough to need a merge (manyLake): the store
// reads and bytes of opening the latest state with a fresh log (what the
// command does) and the time of that open; the time of Plan on the state;
// and the reads and time of planning again on a log that has read the lake
// before (the daemon's compaction.interval round) — each beside the
// 10-table lake's figure from the same run. Times are the best of several
// runs (opens 3, plans 20), so that other work on a shared machine
// disturbs them less. A read outside the commit log fails the benchmark.
func BenchmarkScalePlan(b *testing.B) {
	ctx := context.Background()
	type figures struct {
		reads, warmReads int
		bytes            int64
		open, plan, warm time.Duration
	}
	best := func(d *time.Duration, since time.Time) {
		if t := time.Since(since); *d == 0 || t < *d {
			*d = t
		}
	}
	var base figures
	for _, n := range laketest.ManySizes() {
		mem := tf.NewMemStore()
		touched := []int{0, n / 2, n - 1}
		if _, err := manyLake(ctx, mem, n, touched); err != nil {
			b.Fatal(err)
		}
		cs := storetest.NewCountingStore(mem)
		logOnly := func() {
			if keys := slices.Concat(cs.Keys(storetest.OpOpen, outsideLog), cs.Keys(storetest.OpStat, outsideLog)); len(keys) > 0 {
				b.Fatalf("%d tables: planning read %d objects outside the log, such as %s", n, len(keys), keys[0])
			}
		}
		var f figures
		var c *Compactor
		var st *tf.State
		for range 3 {
			cs.Reset()
			c = &Compactor{Log: tf.NewLog(cs, tf.LogOptions{})}
			start := time.Now()
			var err error
			if st, err = c.Log.Latest(ctx); err != nil {
				b.Fatal(err)
			}
			best(&f.open, start)
			f.reads, f.bytes = cs.Reads(""), cs.BytesRead()
			logOnly()
		}
		var jobs []Job
		for range 20 {
			start := time.Now()
			jobs = Plan(st, c.Policy)
			best(&f.plan, start)
			cs.Reset()
			start = time.Now()
			if _, err := c.Plan(ctx); err != nil {
				b.Fatal(err)
			}
			best(&f.warm, start)
			f.warmReads = cs.Reads("")
			logOnly()
		}
		if len(jobs) != len(touched) {
			b.Fatalf("%d tables: %d jobs, want one merge for each of the %d changed tables", n, len(jobs), len(touched))
		}
		if n == laketest.ManySizes()[0] {
			base = f
		}
		x := func(a, b time.Duration) float64 { return float64(a) / float64(b) }
		b.Logf("%6d tables, 3 changed: open %d reads, %d KiB (%.0f×), %v (%.1f×); plan %v (%.1f×), %d jobs, 0 data files read; again on the same log: %d read, %v (%.1f×)",
			n, f.reads, f.bytes>>10, float64(f.bytes)/float64(base.bytes), f.open.Round(time.Microsecond), x(f.open, base.open),
			f.plan.Round(time.Microsecond), x(f.plan, base.plan), len(jobs), f.warmReads, f.warm.Round(time.Microsecond), x(f.warm, base.warm))
		b.ReportMetric(float64(f.open.Microseconds()), fmt.Sprintf("open_us_%d_tables", n))
		b.ReportMetric(float64(f.plan.Microseconds()), fmt.Sprintf("plan_us_%d_tables", n))
		b.ReportMetric(float64(f.warm.Microseconds()), fmt.Sprintf("replan_us_%d_tables", n))
	}
}
