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
// small files each, in a memory store (laketest.Many). For each it reports
// the time to resolve the latest point, open a session there and run
// SELECT count(*) of one table, cold (an empty cache: every file the
// session binds is fetched) and warm (the cache holds them), beside the
// 10-table lake's figure from the same run; the goal is within 2×.
func BenchmarkScaleTables(b *testing.B) {
	sizes := laketest.ManySizes()
	const files, rows = 10, 5
	var base [2]time.Duration
	for _, n := range sizes {
		store := scaleLake(b, n, files, rows)
		log := tableformat.NewLog(store, tableformat.LogOptions{})
		db, name := laketest.ManyTable(n / 2)
		q := fmt.Sprintf("SELECT count(*) FROM %s.%s", quoteIdent(db), quoteIdent(name))
		one := func(e *Engine) time.Duration {
			start := time.Now()
			p, err := e.Resolve(context.Background(), At{})
			if err != nil {
				b.Fatal(err)
			}
			s, err := e.Open(context.Background(), p)
			if err != nil {
				b.Fatal(err)
			}
			got := queryAll(b, s, q)
			s.Close()
			if fmt.Sprint(got) != fmt.Sprintf("[[%d]]", files*rows) {
				b.Fatalf("%s: %v, want %d", q, got, files*rows)
			}
			return time.Since(start)
		}
		var cold, warm time.Duration
		const runs = 3
		for range runs {
			e := newTestEngine(b, log, "", Options{})
			cold += one(e)
			warm += one(e)
			e.Close()
		}
		cold, warm = cold/runs, warm/runs
		if n == sizes[0] {
			base = [2]time.Duration{cold, warm}
		}
		b.Logf("%6d tables × %d files: one-table count(*) through resolve+open+query: cold %v (%.1f× the %d-table lake), warm %v (%.1f×)",
			n, files, cold.Round(time.Millisecond), float64(cold)/float64(base[0]), sizes[0],
			warm.Round(time.Millisecond), float64(warm)/float64(base[1]))
		b.ReportMetric(float64(cold.Milliseconds()), fmt.Sprintf("cold_ms_%d_tables", n))
		b.ReportMetric(float64(warm.Milliseconds()), fmt.Sprintf("warm_ms_%d_tables", n))
	}
}

// scaleLake returns a memory store holding a generated lake of n tables
// (laketest.Many).
func scaleLake(b *testing.B, n, files, rows int) tableformat.Store {
	b.Helper()
	store := tableformat.NewMemStore()
	start := time.Now()
	if _, err := laketest.Many(context.Background(), store, laketest.ManyOptions{Tables: n, Files: files, Rows: rows}); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated a lake of %d tables × %d files in %v", n, files, time.Since(start).Round(time.Millisecond))
	return store
}
