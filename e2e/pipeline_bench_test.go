package e2e

import (
	"context"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/tableformat"
)

// BenchmarkIngestInProcess is BenchmarkIngest's local-disk run without the
// process boundary: the binlog source and the pipeline in the test binary,
// with the daemon's default budgets, so the hot path can be profiled with
// `go test ./e2e -run '^$' -bench IngestInProcess -benchtime 1x -cpuprofile cpu.out`.
// It prints its rate beside go-mysql's raw decode rate of the same binlog.
func BenchmarkIngestInProcess(b *testing.B) {
	const changes = 1_000_000
	e := newEnv(b)
	start := strings.TrimSpace(e.db.Query(b, "SELECT @@gtid_binlog_pos"))
	genBinlog(b, e.db, changes)
	raw := rawDecodeRate(b, e.db, start)
	// The daemon's defaults (cmd/binlake/config.go).
	old := debug.SetMemoryLimit(240 << 20)
	defer debug.SetMemoryLimit(old)
	ctx := context.Background()
	for range b.N {
		store, err := objstore.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		lakeLog := tableformat.NewLog(store, tableformat.LogOptions{})
		if _, err := lakeLog.Create(ctx, "bench", 0); err != nil {
			b.Fatal(err)
		}
		src, err := mysql.NewBinlogSource(ctx, mysql.SourceConfig{Host: e.db.Host, Port: uint16(e.db.Port),
			User: e.db.User, Password: secret.String(e.db.UserPassword), ServerID: 4343, StopAtCaughtUp: true},
			tableformat.Position{GTIDSet: start})
		if err != nil {
			b.Fatal(err)
		}
		p := ingest.New(lakeLog, ingest.Options{CommitInterval: time.Second, MaxBatchBytes: 48 << 20,
			MemoryBudget: 64 << 20, UploadParallelism: 4})
		cpu0 := cpuTime(b)
		began := time.Now()
		if err := p.Run(ctx, src); err != nil {
			b.Fatal(err)
		}
		took := time.Since(began)
		b.ReportMetric((cpuTime(b)-cpu0).Seconds()/took.Seconds(), "cores_busy")
		src.Close()
		b.ReportMetric(changes/took.Seconds(), "changes/s")
		b.ReportMetric(raw, "gomysql_raw_changes/s")
		b.ReportMetric(changes/took.Seconds()/raw, "ratio")
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
