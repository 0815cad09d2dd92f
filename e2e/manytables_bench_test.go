package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat/laketest"
)

// BenchmarkManyTables: the daemon (the binary, into MinIO) on sources of
// 10, 1,000 and (BINLAKE_BENCH_TABLES=10000) 10,000 small tables of
// manyRows rows each: the initial snapshot (`binlake ingest
// --exit-when-caught-up` on a new lake, start to exit), then manyRounds
// rounds of a one-row update to every table, each its own transaction,
// caught up by a second run (start to exit). It reports each run's time and
// the daemon's peak RSS, beside the 10-table figures from the same run.
// Goals (issue 21): at 10,000 tables the snapshot under a minute and the
// peak RSS at most 256 MB. Creating the tables and writing the updates are
// timed apart and not counted.
func BenchmarkManyTables(b *testing.B) {
	const manyRounds = 3
	sizes := laketest.ManySizes()
	e := newEnv(b)
	for _, n := range sizes {
		took := createManyTables(b, e.db, manyDB(n), n)
		b.Logf("created %d tables of %d rows in %v (not counted)", n, manyRows, took.Round(time.Millisecond))
	}
	type figures struct {
		snap, catchUp       time.Duration
		snapRSS, catchUpRSS float64
	}
	var base figures
	for i := range b.N {
		for _, n := range sizes {
			name := fmt.Sprintf("many%d_%d", n, i)
			only := func(s string) string {
				return strings.Replace(s, `include: ["shop.*"]`, fmt.Sprintf(`include: ["%s.*"]`, manyDB(n)), 1)
			}
			var f figures
			f.snap, f.snapRSS = ingestRunWith(b, e, name, only)
			start := time.Now()
			for r := range manyRounds {
				updateManyTables(b, e.db, manyDB(n), n, i*manyRounds+r)
			}
			b.Logf("%d tables: %d rounds of updates written in %v (not counted)", n, manyRounds, time.Since(start).Round(time.Millisecond))
			f.catchUp, f.catchUpRSS = ingestRunWith(b, e, name, only)
			if n == sizes[0] {
				base = f
			}
			b.Logf("%6d tables: snapshot %v (%.1f× the %d-table source), peak RSS %.0f MiB (%.1f×); catch-up of %d changes %v (%.1f×), peak RSS %.0f MiB (%.1f×)",
				n, f.snap.Round(time.Millisecond), ratio(f.snap, base.snap), sizes[0], f.snapRSS, f.snapRSS/base.snapRSS,
				manyRounds*n, f.catchUp.Round(time.Millisecond), ratio(f.catchUp, base.catchUp), f.catchUpRSS, f.catchUpRSS/base.catchUpRSS)
			b.ReportMetric(f.snap.Seconds(), fmt.Sprintf("snapshot_s_%d_tables", n))
			b.ReportMetric(f.catchUp.Seconds(), fmt.Sprintf("catchup_s_%d_tables", n))
			b.ReportMetric(max(f.snapRSS, f.catchUpRSS), fmt.Sprintf("peak_rss_MiB_%d_tables", n))
		}
	}
	b.ReportMetric(60, "target_snapshot_s")
	b.ReportMetric(256*1e6/(1<<20), "target_rss_MiB")
}

// manyDB is the source database of BenchmarkManyTables' n tables.
func manyDB(n int) string { return fmt.Sprintf("many%d", n) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
