package query_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/query"
	"github.com/binlake/binlake/query/benchlake"
	"github.com/binlake/binlake/tableformat"
)

// Repetitions per measurement. A warm query sub-benchmark runs max(b.N,
// qbReps) repetitions per call (so -benchtime 1x still gives 20 samples,
// and 50x gives 50); the cold MinIO open runs min(b.N, qbColdRuns) times
// (each downloads the whole lake).
const (
	qbReps     = 20
	qbOpenReps = 10
	qbColdRuns = 3
)

// BenchmarkQuery measures the merge-on-read views on shop.orders: 10 M rows
// in a compacted snapshot plus 1 M changes in 100 ingest commits not yet
// compacted (query/benchlake generates the lake once, in a directory
// under os.TempDir() keyed by the generator's parameters, and later runs
// reuse it; generation is not measured).
//
// For count(*), a grouped aggregate and a primary-key lookup, as of the
// latest version and as of an older one (a session opened at the version
// after half the delta commits), it reports the view's p50/p99 beside the
// same query on a plain read_parquet of the equivalent compacted data (the
// view's rows at that point in one key-ordered Parquet file, written by
// DuckDB) in a plain DuckDB with the same threads and memory limit, and
// their ratio, the merge-on-read penalty (target ≤ 2). The view's times go
// through Session.Query, gate included; gate_p50_ms is the gate alone.
// Runs alternate view and plain so drift hits both.
//
// open_warm is opening a session on a warm cache; cold_minio is a fresh
// engine on the same lake in a real MinIO with an empty cache: resolve the
// latest version, open the session (fetching every file) and the first
// count(*).
func BenchmarkQuery(b *testing.B) {
	lake := benchlake.Setup(b, openLocal)
	ctx := context.Background()
	log := tableformat.NewLog(lake.Store, tableformat.LogOptions{})
	cache, err := query.OpenCache(b.TempDir(), 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	e := query.NewEngine(log, cache, query.Options{})
	points := []struct {
		name      string
		version   int64
		keys      []int64
		rows      int64
		compacted string
	}{
		{"latest", lake.Meta.LatestVersion, lake.Meta.LatestKeys, lake.Meta.LatestRows, lake.CompactedLatest},
		{"older", lake.Meta.OlderVersion, lake.Meta.OlderKeys, lake.Meta.OlderRows, lake.CompactedOlder},
	}
	b.Logf("lake: %d MiB (snapshot %d MiB, deltas %d MiB); latest version %d (%d rows), older version %d (%d rows)",
		lake.Meta.LakeBytes>>20, lake.Meta.SnapshotBytes>>20, lake.Meta.DeltaBytes>>20,
		lake.Meta.LatestVersion, lake.Meta.LatestRows, lake.Meta.OlderVersion, lake.Meta.OlderRows)

	// The first open fetches the lake into the (empty) cache from the
	// local directory store.
	{
		start := time.Now()
		p, err := e.Resolve(ctx, query.At{})
		if err != nil {
			b.Fatal(err)
		}
		s, err := e.Open(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		b.Logf("first open from the local directory store, empty cache: %.0f ms, %d MiB fetched",
			ms(time.Since(start)), cache.Downloaded()>>20)
	}

	b.Run("open_warm", func(b *testing.B) {
		for _, pt := range points {
			p, err := e.Resolve(ctx, query.At{Version: pt.version})
			if err != nil {
				b.Fatal(err)
			}
			var times []time.Duration
			for range max(b.N, qbOpenReps) {
				start := time.Now()
				s, err := e.Open(ctx, p)
				if err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
				s.Close()
			}
			b.ReportMetric(ms(pct(times, 50)), pt.name+"_p50_ms")
			b.ReportMetric(ms(pct(times, 99)), pt.name+"_p99_ms")
		}
	})

	queries := []struct {
		name string
		sql  func(key int64) string
	}{
		{"count", func(int64) string { return "SELECT count(*) FROM shop.orders" }},
		{"groupby", func(int64) string {
			return "SELECT status, count(*), sum(total) FROM shop.orders GROUP BY status ORDER BY status"
		}},
		{"lookup", func(k int64) string { return fmt.Sprintf("SELECT * FROM shop.orders WHERE id = %d", k) }},
	}
	// Merge-on-read: the views over the lake's files.
	for _, pt := range points {
		for _, q := range queries {
			b.Run(pt.name+"/"+q.name, func(b *testing.B) {
				p, err := e.Resolve(ctx, query.At{Version: pt.version})
				if err != nil {
					b.Fatal(err)
				}
				s, err := e.Open(ctx, p)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if s.LocalViewsForTest() != 0 {
					b.Fatal("a merge-on-read session reads a local snapshot")
				}
				qbCompare(b, s, pt.compacted, pt.keys, pt.rows, q.name, q.sql)
			})
		}
	}

	// Local snapshots (Options.Materialize): the time to write the view's
	// merged state into the cache in the background, then the same
	// queries on the view swapped to it.
	em := query.NewEngine(log, cache, query.Options{Materialize: true})
	defer em.Close()
	for _, pt := range points {
		var s *query.Session
		b.Run("materialize/"+pt.name, func(b *testing.B) {
			p, err := em.Resolve(ctx, query.At{Version: pt.version})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if s, err = em.Open(ctx, p); err != nil {
				b.Fatal(err)
			}
			if n := s.PendingForTest(); n != 1 {
				b.Fatalf("%d local snapshots under way, want 1", n)
			}
			dst, err := s.WaitLocalForTest()
			if err != nil {
				b.Fatal(err)
			}
			d := time.Since(start)
			fi, err := os.Stat(dst)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(ms(d), "write_ms")
			b.ReportMetric(float64(pt.rows)/d.Seconds(), "rows/s")
			b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
		})
		if s == nil {
			continue
		}
		for _, q := range queries {
			b.Run("local/"+pt.name+"/"+q.name, func(b *testing.B) {
				qbCompare(b, s, pt.compacted, pt.keys, pt.rows, q.name, q.sql)
				if s.LocalViewsForTest() != 1 {
					b.Fatal("the view is not on its local snapshot")
				}
			})
		}
		s.Close()
	}

	b.Run("cold_minio", func(b *testing.B) {
		mc := testenv.StartMinIO(b)
		bucket := mc.NewBucket(b)
		store, err := objstore.Open(ctx, "s3://"+bucket+"/lakes/shop", objstore.S3Config{
			Endpoint: mc.Endpoint, Region: mc.Region, AccessKey: mc.AccessKey, SecretKey: secret.String(mc.SecretKey),
			RequestTimeout: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		if err := qbCopyStore(ctx, lake.Store, store); err != nil {
			b.Fatal(err)
		}
		var total, resolve, open, first []time.Duration
		var fetched int64
		b.ResetTimer()
		for range min(b.N, qbColdRuns) {
			dir, err := os.MkdirTemp(b.TempDir(), "cold-*")
			if err != nil {
				b.Fatal(err)
			}
			cache, err := query.OpenCache(dir, 0, nil)
			if err != nil {
				b.Fatal(err)
			}
			e := query.NewEngine(tableformat.NewLog(store, tableformat.LogOptions{}), cache, query.Options{})
			t0 := time.Now()
			p, err := e.Resolve(ctx, query.At{})
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			s, err := e.Open(ctx, p)
			if err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			rows, cancel, err := s.Query(ctx, "SELECT count(*) FROM shop.orders")
			if err != nil {
				b.Fatal(err)
			}
			got := qbScan(b, rows)
			cancel()
			t3 := time.Now()
			s.Close()
			if fmt.Sprint(got) != fmt.Sprintf("[[%d]]", lake.Meta.LatestRows) {
				b.Fatalf("count: %v, want %d", got, lake.Meta.LatestRows)
			}
			total, resolve, open, first = append(total, t3.Sub(t0)), append(resolve, t1.Sub(t0)), append(open, t2.Sub(t1)), append(first, t3.Sub(t2))
			fetched = cache.Downloaded()
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(ms(pct(total, 50)), "cold_total_ms")
		b.ReportMetric(ms(pct(resolve, 50)), "resolve_ms")
		b.ReportMetric(ms(pct(open, 50)), "open_fetch_ms")
		b.ReportMetric(ms(pct(first, 50)), "first_count_ms")
		b.ReportMetric(float64(fetched)/(1<<20), "fetched_MiB")
		b.ReportMetric(float64(fetched)/(1<<20)/pct(open, 50).Seconds(), "fetch_MiB/s")
	})
}

// qbCompare times query (SQL for a key of keys) through the session's view
// and on a plain read_parquet of compacted, the same rows in one file,
// alternating, and reports the percentiles and the penalty.
func qbCompare(b *testing.B, s *query.Session, compacted string, keys []int64, wantRows int64, name string, sqlFor func(int64) string) {
	ctx := context.Background()
	plain, err := benchlake.PlainDB(ctx, "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	for _, stmt := range []string{"CREATE SCHEMA shop",
		"CREATE VIEW shop.orders AS SELECT * FROM read_parquet(" + benchlake.QuoteString(compacted) + ")"} {
		if _, err := plain.ExecContext(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	viewRun := func(sqlText string) ([][]any, time.Duration) {
		start := time.Now()
		rows, cancel, err := s.Query(ctx, sqlText)
		if err != nil {
			b.Fatalf("%s: %v", sqlText, err)
		}
		defer cancel()
		out := qbScan(b, rows)
		return out, time.Since(start)
	}
	plainRun := func(sqlText string) ([][]any, time.Duration) {
		start := time.Now()
		rows, err := plain.QueryContext(ctx, sqlText)
		if err != nil {
			b.Fatalf("%s: %v", sqlText, err)
		}
		out := qbScan(b, rows)
		return out, time.Since(start)
	}
	// Warm-up (not measured): the OS page cache, DuckDB's
	// first-use costs; and the answers must agree.
	warm := sqlFor(keys[0])
	vr, _ := viewRun(warm)
	pr, _ := plainRun(warm)
	if fmt.Sprint(vr) != fmt.Sprint(pr) {
		b.Fatalf("%s: the view and the compacted file disagree:\n view %v\nplain %v", warm, vr, pr)
	}
	if name == "count" && fmt.Sprint(vr) != fmt.Sprintf("[[%d]]", wantRows) {
		b.Fatalf("count: %v, want %d", vr, wantRows)
	}
	var vt, pt2, gt []time.Duration
	b.ResetTimer()
	for i := range max(b.N, qbReps) {
		sqlText := sqlFor(keys[(i+1)%len(keys)])
		start := time.Now()
		if err := s.CheckForTest(ctx, sqlText); err != nil {
			b.Fatal(err)
		}
		gt = append(gt, time.Since(start))
		vr, d := viewRun(sqlText)
		vt = append(vt, d)
		pr, d := plainRun(sqlText)
		pt2 = append(pt2, d)
		if fmt.Sprint(vr) != fmt.Sprint(pr) {
			b.Fatalf("%s: the view and the compacted file disagree:\n view %v\nplain %v", sqlText, vr, pr)
		}
	}
	b.StopTimer()
	b.ReportMetric(ms(pct(vt, 50)), "view_p50_ms")
	b.ReportMetric(ms(pct(vt, 99)), "view_p99_ms")
	b.ReportMetric(ms(pct(pt2, 50)), "plain_p50_ms")
	b.ReportMetric(ms(pct(pt2, 99)), "plain_p99_ms")
	b.ReportMetric(ratio(pct(vt, 50), pct(pt2, 50)), "penalty_p50_x")
	b.ReportMetric(ratio(pct(vt, 99), pct(pt2, 99)), "penalty_p99_x")
	b.ReportMetric(2, "target_x")
	b.ReportMetric(ms(pct(gt, 50)), "gate_p50_ms")
}

// qbCopyStore copies every object of src to dst.
func qbCopyStore(ctx context.Context, src, dst tableformat.Store) error {
	objs, err := src.List(ctx, "", "")
	if err != nil {
		return err
	}
	for _, o := range objs {
		r, err := src.Open(ctx, o.Key)
		if err != nil {
			return err
		}
		err = dst.Put(ctx, o.Key, r, o.Size)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// openLocal opens the benchmark lake's store.
func openLocal(root string) (tableformat.Store, error) { return objstore.NewLocal(root) }

func qbScan(b *testing.B, rows *sql.Rows) [][]any {
	b.Helper()
	out, err := query.ScanAllForTest(rows)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// pct is the p-th percentile of ds (nearest rank).
func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
