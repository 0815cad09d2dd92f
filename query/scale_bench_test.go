package query

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// BenchmarkScaleTables measures what a one-table query costs as the lake
// holds more tables ("ten thousand tables cost what one table costs"):
// lakes of 10, 1,000 and (BINLAKE_BENCH_TABLES=10000) 10,000 tables of 10
// small files each, in a memory store (laketest.Many). For each it reports,
// beside the 10-table lake's figure from the same run (the goal is within
// 2×), the time of SELECT count(*) of one table through resolve, open and
// query:
//
//   - one-shot cold: what `binlake query` does on a new machine — a new
//     log (its state read from the store), a new engine, an empty cache;
//   - one-shot warm: the same with the cache holding the files;
//   - serve warm: what `binlake serve` does for a request at a point it
//     served before — a session from its pool;
//
// the time to open a session and bind every table for a catalog statement
// (count(*) of information_schema.tables), which grows with the lake by
// nature, and the time of Engine.Open alone (at a resolved point).
func BenchmarkScaleTables(b *testing.B) {
	sizes := laketest.ManySizes()
	const files, rows = 10, 5
	var base [5]time.Duration
	for _, n := range sizes {
		store := scaleLake(b, n, files, rows)
		db, name := laketest.ManyTable(n / 2)
		q := fmt.Sprintf("SELECT count(*) FROM %s.%s", quoteIdent(db), quoteIdent(name))
		want := fmt.Sprintf("[[%d]]", files*rows)
		run := func(e *Engine, pool *Pool, q, want string) time.Duration {
			start := time.Now()
			p, err := e.Resolve(context.Background(), At{})
			if err != nil {
				b.Fatal(err)
			}
			var s *Session
			if pool != nil {
				s, err = pool.Get(context.Background(), p)
			} else {
				s, err = e.Open(context.Background(), p)
			}
			if err != nil {
				b.Fatal(err)
			}
			got := queryAll(b, s, q)
			if pool != nil {
				pool.Put(s)
			} else {
				s.Close()
			}
			if fmt.Sprint(got) != want {
				b.Fatalf("%s: %v, want %s", q, got, want)
			}
			return time.Since(start)
		}
		var f [5]time.Duration // cold, warm, serve, catalog, session open
		const runs = 3
		for range runs {
			cacheDir := b.TempDir()
			newEngine := func() *Engine {
				return newTestEngine(b, tableformat.NewLog(store, tableformat.LogOptions{LazyTables: true}), cacheDir, Options{})
			}
			e := newEngine()
			f[0] += run(e, nil, q, want)
			e.Close()
			e = newEngine()
			f[1] += run(e, nil, q, want)
			pool := e.NewPool(1, 0)
			run(e, pool, q, want)
			f[2] += run(e, pool, q, want)
			pool.Close()
			f[3] += run(e, nil, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'd'", fmt.Sprintf("[[%d]]", n))
			p, err := e.Resolve(context.Background(), At{})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			s, err := e.Open(context.Background(), p)
			if err != nil {
				b.Fatal(err)
			}
			f[4] += time.Since(start)
			s.Close()
			e.Close()
		}
		for i := range f {
			f[i] /= runs
		}
		if n == sizes[0] {
			base = f
		}
		x := func(i int) string {
			return fmt.Sprintf("%v (%.1f×)", f[i].Round(100*time.Microsecond), float64(f[i])/float64(base[i]))
		}
		b.Logf("%6d tables × %d files: one-table count(*): one-shot cold %s, one-shot warm %s, serve warm %s; catalog statement %s; session open %s",
			n, files, x(0), x(1), x(2), x(3), x(4))
		for i, what := range []string{"cold", "warm", "serve", "catalog", "open"} {
			b.ReportMetric(float64(f[i].Microseconds())/1000, fmt.Sprintf("%s_ms_%d_tables", what, n))
		}
	}
}

// scaleLake returns a memory store holding a generated lake of n tables
// (laketest.Many), checkpointed at its newest version: each of its commits
// changes every table, where a real lake's commits after its newest
// checkpoint change a few.
func scaleLake(b *testing.B, n, files, rows int) tableformat.Store {
	b.Helper()
	store := tableformat.NewMemStore()
	start := time.Now()
	if _, err := laketest.Many(context.Background(), store, laketest.ManyOptions{Tables: n, Files: files, Rows: rows, CheckpointInterval: int64(files) + 1}); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated a lake of %d tables × %d files in %v", n, files, time.Since(start).Round(time.Millisecond))
	return store
}
