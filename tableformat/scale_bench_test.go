package tableformat_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// BenchmarkScaleLog measures how the commit log's costs grow with the
// number of tables: lakes of 10, 1,000 and, with BINLAKE_BENCH_TABLES=10000,
// 10,000 tables of 10 and of 100 files each (laketest.Many, checkpoint
// interval 100). On each it times the one-file commits to one table of a
// warm writer (its state loaded) from the first checkpoint after the lake
// was written, over three intervals: the median one-file commit, the
// median commit that writes a checkpoint (the checkpoint included) and the
// bytes the last checkpoint wrote; then opening the latest state with a fresh log, a
// writer's (every file) and a reader's (LogOptions.LazyTables: the tables
// without their files, as `binlake query` opens a lake) — each beside the
// 10-table lake's figure of the same file count, from the same run.
func BenchmarkScaleLog(b *testing.B) {
	ctx := context.Background()
	for _, files := range []int{10, 100} {
		var base scaleFigures
		for i, n := range laketest.ManySizes() {
			f := scaleLog(ctx, b, n, files)
			if i == 0 {
				base = f
			}
			x := func(a, b time.Duration) float64 { return float64(a) / float64(b) }
			b.Logf("%6d tables × %3d files: one-file commit %v (%.1f×); the commit that checkpoints %v (%.1f×), checkpoint wrote %d KiB (%.1f×); open latest %v (%.1f×), a reader's %v (%.1f×)",
				n, files, f.commit.Round(time.Microsecond), x(f.commit, base.commit), f.ckptCommit.Round(time.Microsecond), x(f.ckptCommit, base.ckptCommit),
				f.ckptBytes>>10, float64(f.ckptBytes)/float64(base.ckptBytes), f.open.Round(time.Microsecond), x(f.open, base.open),
				f.openReader.Round(time.Microsecond), x(f.openReader, base.openReader))
			b.ReportMetric(float64(f.commit.Microseconds()), fmt.Sprintf("commit_us_%dx%d", n, files))
			b.ReportMetric(float64(f.ckptCommit.Microseconds()), fmt.Sprintf("ckpt_commit_us_%dx%d", n, files))
			b.ReportMetric(float64(f.ckptBytes), fmt.Sprintf("ckpt_bytes_%dx%d", n, files))
			b.ReportMetric(float64(f.open.Microseconds()), fmt.Sprintf("open_us_%dx%d", n, files))
			b.ReportMetric(float64(f.openReader.Microseconds()), fmt.Sprintf("open_reader_us_%dx%d", n, files))
		}
	}
}

// scaleFigures are BenchmarkScaleLog's figures of one lake.
type scaleFigures struct {
	commit, ckptCommit, open, openReader time.Duration
	ckptBytes                            int64
}

// scaleLog is one lake of BenchmarkScaleLog.
func scaleLog(ctx context.Context, b *testing.B, tables, files int) (f scaleFigures) {
	const interval = 100
	store := tableformat.NewMemStore()
	st, err := laketest.Many(ctx, store, laketest.ManyOptions{Tables: tables, Files: files, Rows: 2, CheckpointInterval: interval})
	if err != nil {
		b.Fatal(err)
	}
	log := tableformat.NewLog(store, tableformat.LogOptions{})
	if st, err = log.Latest(ctx); err != nil {
		b.Fatal(err)
	}
	db, name := laketest.ManyTable(0)
	commitOne := func() time.Duration {
		seq := st.Progress.MaxSeq + 1
		ts := st.Progress.MaxTS + 1
		add, err := tableformat.WriteAddFile(ctx, store, db, name, 1, st.Tables.Get(1).Schema(), tableformat.FileData,
			tableformat.FileWriterOptions{}, []tableformat.Row{{Seq: seq, TS: ts, Op: tableformat.OpInsert,
				Values: []any{int64(1_000_000 + seq), "x", int64(1)}}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		st, err = log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindIngest, Add: []tableformat.AddFile{add},
			Txns:     []tableformat.TxnMark{{Seq: seq, TS: ts, GTID: fmt.Sprintf("0-1-%d", seq)}},
			Progress: tableformat.Progress{Position: tableformat.Position{GTIDSet: fmt.Sprintf("0-1-%d", seq)}, PrevSeq: seq - 1, MaxSeq: seq, MaxTS: ts}})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	// Up to the first checkpoint after the lake was written: the writer has
	// a checkpoint of its own (or read one) to build the next on.
	for st.Version%interval != 0 {
		commitOne()
	}
	// Three intervals: the medians of their one-file commits and of their
	// checkpointing commits (a GC pause of the lake's big heap is not the
	// commit's), and the bytes of the last checkpoint.
	var commits, ckpts []time.Duration
	for range 3 {
		// A collection of the generated lake's heap (gigabytes at 10,000
		// tables × 100 files) is not the commits': it runs now, not
		// during them, where its marking made every allocation assist it
		// (commits of 200-300 µs in some runs, old code and new alike).
		runtime.GC()
		for (st.Version+1)%interval != 0 {
			commits = append(commits, commitOne())
		}
		before := logObjects(b, store)
		ckpts = append(ckpts, commitOne())
		f.ckptBytes = 0
		for key, size := range logObjects(b, store) {
			if _, ok := before[key]; !ok && strings.Contains(key, ".checkpoint.") {
				f.ckptBytes += size
			}
		}
		if f.ckptBytes == 0 {
			b.Fatalf("no checkpoint written at version %d", st.Version)
		}
	}
	slices.Sort(commits)
	slices.Sort(ckpts)
	f.commit, f.ckptCommit = commits[len(commits)/2], ckpts[len(ckpts)/2]
	start := time.Now()
	if _, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(ctx); err != nil {
		b.Fatal(err)
	}
	f.open = time.Since(start)
	start = time.Now()
	if _, err := tableformat.NewLog(store, tableformat.LogOptions{LazyTables: true}).Latest(ctx); err != nil {
		b.Fatal(err)
	}
	f.openReader = time.Since(start)
	return f
}

// logObjects returns the size of every object under _log/, by key.
func logObjects(b *testing.B, store tableformat.Store) map[string]int64 {
	objs, err := store.List(context.Background(), tableformat.LogDir, "")
	if err != nil {
		b.Fatal(err)
	}
	out := make(map[string]int64, len(objs))
	for _, o := range objs {
		out[o.Key] = o.Size
	}
	return out
}
