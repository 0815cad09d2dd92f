package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// gtidSeq returns the sequence number of a single-domain MariaDB GTID or
// GTID position ("0-1-46" → 46).
func gtidSeq(s string) int64 {
	i := strings.LastIndexByte(s, '-')
	n, _ := strconv.ParseInt(s[i+1:], 10, 64)
	return n
}

// BenchmarkFreshness, at the e2e commit interval (100 ms) and the default
// (500 ms): the daemon ingests into MinIO while a writer commits
// 100 transactions of 100 rows a second (10 k row changes/s) for 10 s;
// freshness is the time from a transaction's commit at the source to the
// first moment a reader of the lake sees it (polled every 10 ms).
func BenchmarkFreshness(b *testing.B) {
	for _, interval := range []string{"100ms", "500ms"} {
		b.Run("commit_interval="+interval, func(b *testing.B) { freshness(b, interval) })
	}
}

func freshness(b *testing.B, interval string) {
	e := newEnv(b)
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(e.config, []byte(strings.Replace(string(cfg), "commit_interval: 100ms", "commit_interval: "+interval, 1)), 0o600); err != nil {
		b.Fatal(err)
	}
	store := e.store()
	start := strings.TrimSpace(e.db.Query(b, "SELECT @@gtid_binlog_pos"))
	e.db.Exec(b, "CREATE DATABASE shop", "CREATE TABLE shop.fresh (id BIGINT PRIMARY KEY, v VARCHAR(32), t DATETIME(6))")
	cmd := e.ingest("--start-gtid", start)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ctx := context.Background()
	conn, err := e.db.RootDB(b, "").Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	committed := map[int64]time.Time{} // GTID sequence → commit time at the source
	seen := map[int64]time.Time{}      // GTID sequence → first seen in the lake
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var last int64
		l := tableformat.NewLog(store, tableformat.LogOptions{})
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			st, err := l.Latest(ctx)
			if err != nil {
				continue
			}
			now := time.Now()
			if p := st.Progress.Position.GTIDSet; p != "" {
				for n := gtidSeq(p); n > last; n-- {
					seen[n] = now
				}
				last = max(last, gtidSeq(p))
			}
		}
	}()
	pace := time.NewTicker(10 * time.Millisecond) // 100 transactions a second: load shaping
	var id int64
	for range 1000 {
		<-pace.C
		q := multiRowInsert("shop.fresh", &id, 100, func(id int64) string { return fmt.Sprintf("(%d,'v%d',NOW(6))", id, id) })
		if _, err := conn.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
		at := time.Now()
		var gtid string
		if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid); err != nil {
			b.Fatal(err)
		}
		committed[gtidSeq(gtid)] = at
	}
	pace.Stop()
	last := int64(0)
	for n := range committed {
		last = max(last, n)
	}
	waitForGTID(b, store, fmt.Sprintf("0-%d-%d", e.db.ServerID, last), 30*time.Second)
	close(stop)
	<-polled
	var lat []time.Duration
	for n, at := range committed {
		if s, ok := seen[n]; ok {
			lat = append(lat, max(0, s.Sub(at)))
		}
	}
	if len(lat) < len(committed)*9/10 {
		b.Fatalf("only %d of %d transactions were seen", len(lat), len(committed))
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds()*1000, "p50_ms")
	b.ReportMetric(lat[len(lat)*99/100].Seconds()*1000, "p99_ms")
	b.ReportMetric(1000, "target_p99_ms")
	b.ReportMetric(10000, "changes/s")
}
