package tableformat_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// BenchmarkScaleLog measures how the commit log's costs grow with the
// number of tables (lakes of 10, 1,000 and, with BINLAKE_BENCH_TABLES=10000,
// 10,000 tables × 10 files, laketest.Many, checkpoint interval 100): the
// latency of a one-file commit to one table, the bytes of the checkpoint
// written at the next multiple of the interval (and the time that commit
// takes, checkpoint included), and the time to open the latest state with a
// fresh log — each beside the 10-table lake's figure from the same run.
func BenchmarkScaleLog(b *testing.B) {
	sizes := laketest.ManySizes()
	ctx := context.Background()
	type figures struct {
		commit, ckptCommit, open time.Duration
		ckptBytes                int64
	}
	var base figures
	for _, n := range sizes {
		store := tableformat.NewMemStore()
		st, err := laketest.Many(ctx, store, laketest.ManyOptions{Tables: n, Files: 10, Rows: 2, CheckpointInterval: 100})
		if err != nil {
			b.Fatal(err)
		}
		log := tableformat.NewLog(store, tableformat.LogOptions{})
		// One-file commits to table 1 until the version before a
		// checkpoint; the last is timed with the checkpoint it writes.
		commitOne := func() time.Duration {
			seq := st.Progress.MaxSeq + 1
			ts := st.Progress.MaxTS + 1
			add, err := tableformat.WriteAddFile(ctx, store, "d", "t00000", 1, st.Tables.Get(1).Schema(), tableformat.FileData,
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
		var f figures
		var commits int
		for (st.Version+1)%100 != 0 {
			f.commit += commitOne()
			commits++
		}
		f.commit /= time.Duration(max(commits, 1))
		f.ckptCommit = commitOne()
		info, err := store.Stat(ctx, tableformat.CheckpointKey(st.Version))
		if err != nil {
			b.Fatalf("the checkpoint of version %d: %v", st.Version, err)
		}
		f.ckptBytes = info.Size
		start := time.Now()
		if _, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(ctx); err != nil {
			b.Fatal(err)
		}
		f.open = time.Since(start)
		if n == sizes[0] {
			base = f
		}
		x := func(a, b time.Duration) float64 { return float64(a) / float64(b) }
		b.Logf("%6d tables × 10 files: one-file commit %v (%.1f×); the commit that checkpoints %v (%.1f×), checkpoint %d KiB (%.0f×); open latest %v (%.1f×)",
			n, f.commit.Round(time.Microsecond), x(f.commit, base.commit), f.ckptCommit.Round(time.Microsecond), x(f.ckptCommit, base.ckptCommit),
			f.ckptBytes>>10, float64(f.ckptBytes)/float64(base.ckptBytes), f.open.Round(time.Microsecond), x(f.open, base.open))
		b.ReportMetric(float64(f.commit.Microseconds()), fmt.Sprintf("commit_us_%d_tables", n))
		b.ReportMetric(float64(f.ckptBytes), fmt.Sprintf("checkpoint_bytes_%d_tables", n))
		b.ReportMetric(float64(f.open.Microseconds()), fmt.Sprintf("open_us_%d_tables", n))
	}
}
