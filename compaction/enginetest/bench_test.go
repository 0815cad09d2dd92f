package enginetest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/compaction"
	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/query"
	"github.com/binlake/binlake/query/benchlake"
	"github.com/binlake/binlake/tableformat"
)

// cbMemoryEnv, when set, replaces the DuckDB memory limit of the
// benchmark (1GB, query.Options' default), e.g. "2GB".
const cbMemoryEnv = "BINLAKE_COMPACTION_BENCH_MEMORY"

// cbQueryRuns is the number of timed runs of each query before and after
// compaction (after one untimed warm-up run).
const cbQueryRuns = 10

// cbQuery is one query timed before and after compaction; lookups take a
// different live key each run.
type cbQuery struct {
	name   string
	sqlFor func(key int64) string
}

// cbQueries are the queries timed before and after compaction.
func cbQueries() []cbQuery {
	return []cbQuery{
		{"count", func(int64) string { return "SELECT count(*) FROM shop.orders" }},
		{"groupby", func(int64) string {
			return "SELECT status, count(*), sum(total) FROM shop.orders GROUP BY status ORDER BY status"
		}},
		{"lookup", func(k int64) string { return fmt.Sprintf("SELECT * FROM shop.orders WHERE id = %d", k) }},
	}
}

// BenchmarkCompaction runs the default policy's compaction on the benchmark
// lake of query/benchlake (shop.orders: 10 M rows in a snapshot plus 1 M
// changes in 100 ingest commits, i.e. 100 small data and 100 small delete
// files; generated once per machine and reused), on a copy of it: the
// cached lake is never changed. In the same run it reports, each beside its
// limit:
//
//   - per job (merge of the data files, merge of the delete files, the
//     snapshot at the latest sequence): seconds, rows, files and MB in and
//     out; for the snapshot, rows/s counted as (rows of the previous
//     snapshot + delta rows read) / seconds, target ≥ 1 M rows/s, and the
//     whole compaction's seconds, target ≤ 10 s on 2 cores;
//   - DuckDB's own COPY of the same table's rows (the equivalent compacted
//     file, read_parquet … ORDER BY id, zstd) in a plain DuckDB with the
//     same threads and memory limit, and snapshot seconds / COPY seconds;
//   - the objects in the lake (without _log/) and the files the latest
//     state names, before and after;
//   - the p50 of count(*), a GROUP BY and a key lookup in a session at the
//     latest point, before and after (an engine without Materialize, so no
//     local snapshot is involved); the answers must not change;
//   - the process's peak RSS during the compaction.
//
// The compactor's engine has its own empty cache, as a compactor process
// would: fetching (and verifying) its inputs from the local store is part
// of the jobs' time. DuckDB runs with 2 threads and a 1GB memory limit
// (BINLAKE_COMPACTION_BENCH_MEMORY changes the limit, for the compactor,
// the sessions and the plain DuckDB alike). At -benchtime Nx the testing
// package calls it twice (b.N = 1, then N), each time on a fresh copy; the
// figures are those of one compaction either way.
func BenchmarkCompaction(b *testing.B) {
	lake := benchlake.Setup(b, cbOpenLocal)
	ctx := context.Background()
	tmp := b.TempDir()
	root := filepath.Join(tmp, "lake")
	if err := cbCopyTree(lake.Root, root); err != nil {
		b.Fatal(err)
	}
	store, err := objstore.NewLocal(root)
	if err != nil {
		b.Fatal(err)
	}
	log := tableformat.NewLog(store, tableformat.LogOptions{})
	opts := query.Options{Threads: 2, MemoryLimit: "1GB"}
	if m := os.Getenv(cbMemoryEnv); m != "" {
		opts.MemoryLimit = m
	}
	newEngine := func(name string) *query.Engine {
		cache, err := query.OpenCache(filepath.Join(tmp, name), 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		e := query.NewEngine(log, cache, opts)
		b.Cleanup(func() { e.Close() })
		return e
	}
	reader := newEngine("reader-cache")
	c := &compaction.Compactor{Log: log, Writer: newEngine("compactor-cache"), Policy: compaction.Policy{}, TempDir: tmp}
	keys := lake.Meta.LatestKeys[:cbQueryRuns+1]
	load0 := cbLoadAvg()

	// Before.
	objsBefore, objBytesBefore := cbObjects(ctx, b, store)
	st, err := log.Latest(ctx)
	if err != nil {
		b.Fatal(err)
	}
	liveBefore, liveBytesBefore := cbLiveFiles(st)
	var snapRows int64
	for _, f := range st.Tables.Get(1).Files {
		if f.Kind == tableformat.FileSnapshot {
			snapRows += f.Rows
		}
	}
	before := cbTimeQueries(ctx, b, reader, keys)

	// The compaction: the default policy's plan, each job in turn.
	jobs := compaction.Plan(st, compaction.Policy{})
	if !slices.ContainsFunc(jobs, func(j compaction.Job) bool { return j.Kind == compaction.JobSnapshot }) {
		b.Fatalf("the default policy plans no snapshot: %d jobs", len(jobs))
	}
	cbResetPeakRSS(b)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	var results []compaction.Result
	for _, j := range jobs {
		res, err := c.Run(ctx, j)
		if err != nil {
			b.Fatal(err)
		}
		if res.Conflict || res.Version == 0 {
			b.Fatalf("%s job committed nothing (conflict %v)", j.Kind, res.Conflict)
		}
		results = append(results, res)
	}
	total := time.Since(start)
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	// VmHWM is the whole test process: the Go benchmark binary, the query
	// engine's DuckDB (each job opens its own) and what the sessions before
	// it left resident; the high-water mark is reset just before the jobs
	// when the kernel allows it (/proc/self/clear_refs).
	peakRSS := cbPeakRSS(b)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())

	// After.
	objsAfter, objBytesAfter := cbObjects(ctx, b, store)
	st, err = log.Latest(ctx)
	if err != nil {
		b.Fatal(err)
	}
	liveAfter, liveBytesAfter := cbLiveFiles(st)
	after := cbTimeQueries(ctx, b, reader, keys)
	for i, q := range cbQueries() {
		if fmt.Sprint(before[i].answers) != fmt.Sprint(after[i].answers) {
			b.Fatalf("%s: compaction changed the answers:\nbefore %.500v\n after %.500v", q.name, before[i].answers, after[i].answers)
		}
	}

	// The limit: DuckDB's own COPY of the same rows.
	copySecs := cbDuckDBCopy(ctx, b, opts.MemoryLimit, lake.CompactedLatest, filepath.Join(tmp, "duckdb-copy.parquet"))
	load1 := cbLoadAvg()

	// Figures.
	var snap compaction.Result
	var summary strings.Builder
	fmt.Fprintf(&summary, "compaction of %s (DuckDB: 2 threads, %s), load average %s before, %s after:\n", root, opts.MemoryLimit, load0, load1)
	for _, res := range results {
		label := string(res.Job.Kind)
		if res.Job.Kind == compaction.JobMerge && len(res.Job.Inputs) > 0 {
			label += "_" + string(res.Job.Inputs[0].Kind)
		} else {
			snap = res
		}
		secs := res.Duration.Seconds()
		b.ReportMetric(secs, label+"_s")
		b.ReportMetric(float64(res.RowsIn), label+"_rows_in")
		b.ReportMetric(float64(res.RowsOut), label+"_rows_out")
		b.ReportMetric(float64(res.FilesIn), label+"_files_in")
		b.ReportMetric(float64(res.FilesOut), label+"_files_out")
		b.ReportMetric(float64(res.BytesIn)/1e6, label+"_MB_in")
		b.ReportMetric(float64(res.BytesOut)/1e6, label+"_MB_out")
		fmt.Fprintf(&summary, "  %-14s %6.2f s: %3d files → %d, %9d rows → %9d, %6.1f MB → %6.1f MB (%s)\n", label, secs,
			res.FilesIn, res.FilesOut, res.RowsIn, res.RowsOut, float64(res.BytesIn)/1e6, float64(res.BytesOut)/1e6, res.Job.Reason)
	}
	snapRate := float64(snapRows+snap.RowsIn) / snap.Duration.Seconds()
	copyRate := float64(lake.Meta.LatestRows) / copySecs
	b.ReportMetric(snapRate, "snapshot_rows/s")
	b.ReportMetric(1e6, "target_rows/s")
	b.ReportMetric(total.Seconds(), "total_s")
	b.ReportMetric(10, "target_total_s")
	b.ReportMetric(cpu.Seconds()/total.Seconds(), "cores_busy")
	b.ReportMetric(copySecs, "duckdb_copy_s")
	b.ReportMetric(copyRate, "duckdb_copy_rows/s")
	b.ReportMetric(snap.Duration.Seconds()/copySecs, "snapshot_vs_copy_x")
	b.ReportMetric(float64(objsBefore), "objects_before")
	b.ReportMetric(float64(objsAfter), "objects_after")
	b.ReportMetric(float64(objBytesBefore)/1e6, "objects_MB_before")
	b.ReportMetric(float64(objBytesAfter)/1e6, "objects_MB_after")
	b.ReportMetric(float64(liveBefore), "live_files_before")
	b.ReportMetric(float64(liveAfter), "live_files_after")
	b.ReportMetric(float64(liveBytesBefore)/1e6, "live_MB_before")
	b.ReportMetric(float64(liveBytesAfter)/1e6, "live_MB_after")
	for i, q := range cbQueries() {
		b.ReportMetric(ms(before[i].p50), q.name+"_before_p50_ms")
		b.ReportMetric(ms(after[i].p50), q.name+"_after_p50_ms")
	}
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak_rss_MiB")

	fmt.Fprintf(&summary, "  total %.2f s (target ≤ 10 s), %.2f cores busy, peak RSS %.0f MiB; snapshot %.2f M rows/s of (%d snapshot + %d delta) rows (target ≥ 1 M rows/s)\n",
		total.Seconds(), cpu.Seconds()/total.Seconds(), float64(peakRSS)/(1<<20), snapRate/1e6, snapRows, snap.RowsIn)
	fmt.Fprintf(&summary, "  DuckDB COPY of the same %d rows (ORDER BY id, zstd): %.2f s, %.2f M rows/s; snapshot / COPY = %.2f×\n",
		lake.Meta.LatestRows, copySecs, copyRate/1e6, snap.Duration.Seconds()/copySecs)
	fmt.Fprintf(&summary, "  objects (without _log/): %d, %.1f MB → %d, %.1f MB; files the latest state names: %d, %.1f MB → %d, %.1f MB\n",
		objsBefore, float64(objBytesBefore)/1e6, objsAfter, float64(objBytesAfter)/1e6,
		liveBefore, float64(liveBytesBefore)/1e6, liveAfter, float64(liveBytesAfter)/1e6)
	fmt.Fprintf(&summary, "  p50 before → after:")
	for i, q := range cbQueries() {
		fmt.Fprintf(&summary, " %s %.1f → %.1f ms;", q.name, ms(before[i].p50), ms(after[i].p50))
	}
	fmt.Fprintf(&summary, " session open %.0f → %.0f ms (fetching into an empty, then a warm cache)", ms(before[0].open), ms(after[0].open))
	b.Log(summary.String())
}

// cbTimed is one query's answers (one per run) and p50 at one point; open
// is the time to open the session the query ran in.
type cbTimed struct {
	answers []string
	p50     time.Duration
	open    time.Duration
}

// cbTimeQueries opens a session at the latest point and runs each query of
// cbQueries once untimed, then cbQueryRuns times (lookups of keys[1:]).
func cbTimeQueries(ctx context.Context, b *testing.B, e *query.Engine, keys []int64) []cbTimed {
	b.Helper()
	p, err := e.Resolve(ctx, query.At{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	s, err := e.Open(ctx, p)
	if err != nil {
		b.Fatal(err)
	}
	open := time.Since(start)
	defer s.Close()
	run := func(sqlText string) (string, time.Duration) {
		start := time.Now()
		rows, cancel, err := s.Query(ctx, sqlText)
		if err != nil {
			b.Fatalf("%s: %v", sqlText, err)
		}
		defer cancel()
		out, err := cbScan(rows)
		if err != nil {
			b.Fatalf("%s: %v", sqlText, err)
		}
		return out, time.Since(start)
	}
	queries := cbQueries()
	out := make([]cbTimed, len(queries))
	for i, q := range queries {
		out[i].open = open
		run(q.sqlFor(keys[0]))
		var times []time.Duration
		for r := range cbQueryRuns {
			ans, d := run(q.sqlFor(keys[1+r%(len(keys)-1)]))
			out[i].answers = append(out[i].answers, ans)
			times = append(times, d)
		}
		out[i].p50 = pct(times, 50)
	}
	return out
}

// cbScan reads and closes rows, formatted.
func cbScan(rows *sql.Rows) (string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return fmt.Sprint(out), nil
}

// cbDuckDBCopy times DuckDB's own sorted COPY of the rows of the Parquet
// file src into dst, in a plain DuckDB with a session's settings (memory
// its limit), and
// returns the seconds. src is read once first, so both it and the
// compaction's inputs come from the page cache.
func cbDuckDBCopy(ctx context.Context, b *testing.B, memory, src, dst string) float64 {
	b.Helper()
	if f, err := os.Open(src); err != nil {
		b.Fatal(err)
	} else {
		_, err = io.Copy(io.Discard, f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	db, err := benchlake.PlainDB(ctx, memory, filepath.Join(filepath.Dir(dst), "duckdb-spill"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	stmt := fmt.Sprintf("COPY (SELECT * FROM read_parquet(%s) ORDER BY id) TO %s (FORMAT parquet, COMPRESSION zstd)",
		benchlake.QuoteString(src), benchlake.QuoteString(dst))
	start := time.Now()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		b.Fatalf("%s: %v", stmt, err)
	}
	return time.Since(start).Seconds()
}

// cbObjects counts the objects of store, and their bytes, outside _log/.
func cbObjects(ctx context.Context, b *testing.B, store tableformat.Store) (n int, bytes int64) {
	b.Helper()
	objs, err := store.List(ctx, "", "")
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, "_log/") {
			n++
			bytes += o.Size
		}
	}
	return n, bytes
}

// cbLiveFiles counts the files st names, and their bytes.
func cbLiveFiles(st *tableformat.State) (n int, bytes int64) {
	for t := range st.Tables.Values() {
		for _, f := range t.Files {
			n++
			bytes += f.Bytes
		}
	}
	return n, bytes
}

// cbCopyTree copies the directory tree src to dst (which must not exist).
func cbCopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.Mkdir(to, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return fmt.Errorf("copy %s: %w", path, err)
		}
		return out.Close()
	})
}

// cbResetPeakRSS resets the process's VmHWM to its current RSS (Linux 4.0
// and later); where it cannot, the peak read afterwards is the process's.
func cbResetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset (%v): it is the whole run's", err)
	}
}

// cbPeakRSS is the process's VmHWM, in bytes.
func cbPeakRSS(b *testing.B) int64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// cbLoadAvg is the machine's 1-, 5- and 15-minute load averages.
func cbLoadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cbOpenLocal opens the benchmark lake's store.
func cbOpenLocal(root string) (tableformat.Store, error) { return objstore.NewLocal(root) }

// pct is the p-th percentile of ds (nearest rank).
func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
