package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat/laketest"
)

// BenchmarkQueryManyTables times what a user of `binlake query` waits for —
// the whole process: start, open the lake, bind, query, exit — for a
// one-table SELECT count(*) on local-directory lakes of 10, 1,000 and
// (BINLAKE_BENCH_TABLES=10000) 10,000 tables of 10 files each
// (laketest.Many, checkpointed at the newest version), cold (an empty query
// cache) and warm, each the median of five runs beside the 10-table lake's
// figure from the same run. The goal (issue 21): within 2× at 10,000 tables.
func BenchmarkQueryManyTables(b *testing.B) {
	const files, rows, runs = 10, 5, 5
	var base [2]time.Duration
	for i, n := range laketest.ManySizes() {
		dir := b.TempDir()
		store, err := objstore.NewLocal(filepath.Join(dir, "wh", "many"))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := laketest.Many(context.Background(), store, laketest.ManyOptions{Tables: n, Files: files, Rows: rows, CheckpointInterval: files + 1}); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated a lake of %d tables × %d files in %v", n, files, time.Since(start).Round(time.Millisecond))
		cache := filepath.Join(dir, "cache")
		cfg := filepath.Join(dir, "binlake.yaml")
		if err := os.WriteFile(cfg, fmt.Appendf(nil, "source:\n  name: many\nwarehouse:\n  url: file://%s/wh\nquery:\n  cache_dir: %s\n", dir, cache), 0o600); err != nil {
			b.Fatal(err)
		}
		db, name := laketest.ManyTable(n / 2)
		q := fmt.Sprintf("SELECT count(*) AS n FROM %s.%s", db, name)
		run := func() time.Duration {
			start := time.Now()
			out, err := exec.Command(binary, "query", "-c", cfg, "--format", "csv", q).CombinedOutput()
			d := time.Since(start)
			if want := fmt.Sprintf("n\n%d\n", files*rows); err != nil || string(out) != want {
				b.Fatalf("binlake query: %v: %q, want %q", err, out, want)
			}
			return d
		}
		var cold, warm []time.Duration
		for range runs {
			if err := os.RemoveAll(cache); err != nil {
				b.Fatal(err)
			}
			cold = append(cold, run())
			warm = append(warm, run())
		}
		f := [2]time.Duration{median(cold), median(warm)}
		if i == 0 {
			base = f
		}
		b.Logf("%6d tables: one-table query, whole process: cold %v (%.1f× the %d-table lake), warm %v (%.1f×)",
			n, f[0].Round(time.Millisecond), ratio(f[0], base[0]), laketest.ManySizes()[0], f[1].Round(time.Millisecond), ratio(f[1], base[1]))
		b.ReportMetric(float64(f[0].Microseconds())/1000, fmt.Sprintf("cold_ms_%d_tables", n))
		b.ReportMetric(float64(f[1].Microseconds())/1000, fmt.Sprintf("warm_ms_%d_tables", n))
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
