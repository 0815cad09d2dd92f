package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlake/binlake/internal/testenv"
)

// genBinlog writes about changes row changes to shop.bench: multi-row
// inserts of 500 rows, and every fourth statement an update of 500 rows.
func genBinlog(b *testing.B, m *testenv.MariaDB, changes int) {
	b.Helper()
	db := m.RootDB(b, "")
	ctx := context.Background()
	for _, s := range []string{"CREATE DATABASE IF NOT EXISTS shop",
		`CREATE TABLE shop.bench (id BIGINT PRIMARY KEY, customer INT NOT NULL, status VARCHAR(16) NOT NULL,
		  total DECIMAL(12,2) NOT NULL, created DATETIME(6) NOT NULL, note TEXT NULL)`} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	var id int64
	for done, stmt := 0, 0; done < changes; stmt++ {
		if stmt%4 == 3 {
			q := fmt.Sprintf("UPDATE shop.bench SET total = total + 1, status = 'paid' WHERE id > %d AND id <= %d", id-500, id)
			if _, err := db.ExecContext(ctx, q); err != nil {
				b.Fatal(err)
			}
			done += 500
			continue
		}
		q := multiRowInsert("shop.bench", &id, 500, func(id int64) string {
			note := "NULL"
			if id%3 == 0 {
				note = "'left at the door, ring twice'"
			}
			return fmt.Sprintf("(%d,%d,'shipped',%d.%02d,'2026-05-01 10:00:00.%06d',%s)", id, id%5000, id%100000, id%100, id%1000000, note)
		})
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
		done += 500
	}
}

// multiRowInsert builds one INSERT of n rows into table, with ids after *id
// (advanced past them) and each row's VALUES tuple from row.
func multiRowInsert(table string, id *int64, n int, row func(id int64) string) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + table + " VALUES ")
	for i := range n {
		*id++
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(row(*id))
	}
	return sb.String()
}

// rawDecodeRate reads the binlog from start to the server's current end
// with go-mysql alone (decoding rows, nothing else) and returns row changes/s.
func rawDecodeRate(b *testing.B, m *testenv.MariaDB, startGTID string) float64 {
	b.Helper()
	endFile := strings.Fields(m.Query(b, "SHOW MASTER STATUS"))
	endPos, _ := strconv.ParseUint(endFile[1], 10, 32)
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: 9999, Flavor: "mariadb",
		Host: m.Host, Port: uint16(m.Port), User: m.User, Password: m.UserPassword})
	defer syncer.Close()
	set, err := gomysql.ParseMariadbGTIDSet(startGTID)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	st, err := syncer.StartSyncGTID(set)
	if err != nil {
		b.Fatal(err)
	}
	rows := 0
	file := ""
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			b.Fatal(err)
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.RowsEvent:
			if ev.Header.EventType == replication.UPDATE_ROWS_EVENTv1 || ev.Header.EventType == replication.UPDATE_ROWS_EVENTv2 {
				rows += len(e.Rows) / 2
			} else {
				rows += len(e.Rows)
			}
		}
		if file == endFile[0] && uint64(ev.Header.LogPos) >= endPos {
			return float64(rows) / time.Since(start).Seconds()
		}
	}
}

// ingestRun runs `binlake ingest --exit-when-caught-up` on a fresh lake and
// returns its wall time and peak RSS in MiB.
func ingestRun(b *testing.B, e *env, name, warehouse string, startGTID string) (time.Duration, float64) {
	args := []string{"--start-gtid", startGTID}
	if startGTID == "" {
		args = nil // a new lake: snapshot
	}
	return ingestRunArgs(b, e, name, warehouse, args...)
}

// ingestRunArgs runs `binlake ingest --exit-when-caught-up args…` on a fresh
// lake and returns its wall time and peak RSS in MiB.
func ingestRunArgs(b *testing.B, e *env, name, warehouse string, args ...string) (time.Duration, float64) {
	b.Helper()
	return ingestRunWith(b, e, name, func(s string) string {
		if warehouse != "" {
			s = strings.Replace(s, "url: s3://"+e.bucket+"/lakes", "url: "+warehouse, 1)
		}
		return s
	}, args...)
}

// ingestRunWith is ingestRunArgs with the config (the env's, lake name,
// commit interval and log level set for benchmarks) passed through edit.
func ingestRunWith(b testing.TB, e *env, name string, edit func(string) string, args ...string) (time.Duration, float64) {
	b.Helper()
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		b.Fatal(err)
	}
	s := strings.Replace(string(cfg), "name: shop", "name: "+name, 1)
	s = strings.Replace(s, "commit_interval: 100ms", "commit_interval: 1s", 1)
	s = edit(strings.Replace(s, "level: debug", "level: warn", 1))
	path := filepath.Join(b.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(binary, append([]string{"ingest", "-c", path, "--exit-when-caught-up"}, args...)...)
	cmd.Env = e.envs
	out, err := os.Create(filepath.Join(e.logDir, name+".log"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// The child's own peak RSS: its VmHWM, read while it runs. (rusage's
	// maxrss is no good here: Go forks with CLONE_VM, so it starts from the
	// parent's resident size, which Linux keeps across exec.)
	peak := make(chan float64)
	stop := make(chan struct{})
	go func() {
		var hwm float64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := vmHWM(cmd.Process.Pid); v > hwm {
				hwm = v
			}
			select {
			case <-stop:
				peak <- hwm
				return
			case <-tick.C:
			}
		}
	}()
	err = cmd.Wait()
	close(stop)
	hwm := <-peak
	if err != nil {
		b.Fatalf("ingest %s: %v", name, err)
	}
	return time.Since(start), hwm
}

// vmHWM returns a process's peak resident set in MiB, or 0 once it is gone.
func vmHWM(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkIngest: end-to-end ingest (the binary: binlog source, decoding,
// Parquet, upload, commit) of a pre-generated binlog of over 1 M row
// changes, into a local directory and into MinIO, beside go-mysql's raw
// decode rate of the same binlog in the same run; peak RSS of the daemon;
// and the peak RSS while ingesting one transaction of 1 M rows.
func BenchmarkIngest(b *testing.B) {
	const changes = 1_000_000
	e := newEnv(b)
	start := strings.TrimSpace(e.db.Query(b, "SELECT @@gtid_binlog_pos"))
	genBinlog(b, e.db, changes)
	raw := rawDecodeRate(b, e.db, start)
	for i := range b.N {
		tookLocal, rssLocal := ingestRun(b, e, fmt.Sprintf("local%d", i), "file://"+b.TempDir(), start)
		tookMinIO, rssMinIO := ingestRun(b, e, fmt.Sprintf("minio%d", i), "", start)
		b.ReportMetric(changes/tookLocal.Seconds(), "local_changes/s")
		b.ReportMetric(changes/tookMinIO.Seconds(), "minio_changes/s")
		b.ReportMetric(raw, "gomysql_raw_changes/s")
		b.ReportMetric(changes/tookLocal.Seconds()/raw, "local_ratio")
		b.ReportMetric(max(rssLocal, rssMinIO), "peak_rss_MiB")
	}
	// The initial snapshot of the table those changes left, beside a plain
	// SELECT * of it (rows streamed, not decoded) in the same run.
	var rows int64
	db := e.db.RootDB(b, "")
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM shop.bench").Scan(&rows); err != nil {
		b.Fatal(err)
	}
	selStart := time.Now()
	res, err := db.QueryContext(context.Background(), "SELECT * FROM shop.bench")
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for res.Next() {
		n++
	}
	if err := res.Err(); err != nil || n != rows {
		b.Fatalf("select: %d rows, %v", n, err)
	}
	res.Close()
	selTook := time.Since(selStart)
	snapTook, snapRSS := ingestRunArgs(b, e, "snap", "file://"+b.TempDir())
	b.ReportMetric(float64(rows)/snapTook.Seconds(), "snapshot_rows/s")
	b.ReportMetric(float64(rows)/selTook.Seconds(), "select_rows/s")
	b.ReportMetric(snapRSS, "snapshot_peak_rss_MiB")
	// One transaction of 1 M rows.
	big := strings.TrimSpace(e.db.Query(b, "SELECT @@gtid_binlog_pos"))
	e.db.Exec(b, "CREATE TABLE shop.big LIKE shop.bench", "INSERT INTO shop.big SELECT * FROM shop.bench")
	_, rssBig := ingestRun(b, e, "big", "file://"+b.TempDir(), big)
	b.ReportMetric(rssBig, "bigtxn_peak_rss_MiB")
}
