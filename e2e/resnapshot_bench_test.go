package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlake/binlake/tableformat"
)

// BenchmarkResnapshot: `binlake resnapshot` of a 1,000,000-row table of the
// 10-column shape (bigint key, two short varchars, a decimal, two ints, two
// DATETIME(6), a status, a nullable text) into MinIO, while the source takes
// writes to it and to another table: rows/s against a plain SELECT * of the
// same table in the same run (goal ≥ 0.7×: through database/sql, what an
// application's SELECT costs, as BenchmarkIngest measures it; and beside
// go-mysql streaming the rows undecoded, the bare limit), the daemon's peak RSS (goal
// ≤ 256 MB), and the freshness of the other table's changes meanwhile (the
// time from a source commit to the lake holding it).
func BenchmarkResnapshot(b *testing.B) {
	const rows = 1_000_000
	e := newEnv(b)
	store := e.store()
	e.db.Exec(b, "CREATE DATABASE shop", "CREATE TABLE shop.big (id BIGINT PRIMARY KEY, name VARCHAR(40), city VARCHAR(20), "+
		"amount DECIMAL(12,2), qty INT, flags INT, created DATETIME(6), updated DATETIME(6), status VARCHAR(12), note TEXT)",
		"CREATE TABLE shop.live (id BIGINT PRIMARY KEY, v VARCHAR(32))")
	conn, err := e.db.RootDB(b, "shop").Conn(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for lo := int64(1); lo <= rows; lo += 100_000 {
		q := fmt.Sprintf("INSERT INTO shop.big SELECT seq, CONCAT('customer ', seq), ELT(1 + seq %% 5, 'Lyon', 'Oslo', 'Lima', 'Pune', 'Kobe'), "+
			"seq * 1.25, seq %% 97, seq %% 7, TIMESTAMP('2026-01-01') + INTERVAL seq SECOND, TIMESTAMP('2026-02-01') + INTERVAL seq SECOND, "+
			"ELT(1 + seq %% 3, 'new', 'paid', 'shipped'), IF(seq %% 4 = 0, NULL, CONCAT('note ', seq)) FROM seq_%d_to_%d", lo, lo+99_999)
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
	selectRate := plainSelectRate(b, e, "SELECT * FROM shop.big", rows)
	sqlRate := databaseSQLSelectRate(b, e, "SELECT * FROM shop.big", rows)
	// The lake holds the table (its initial snapshot); a daemon of its own
	// runs the re-snapshot, so its peak RSS is the re-snapshot's.
	first := e.ingest()
	waitForGTID(b, store, binlogPos(b, e.db), 10*time.Minute)
	first.Process.Kill()
	first.Wait()
	for i := range b.N {
		d := e.ingest()
		waitForGTID(b, store, binlogPos(b, e.db), time.Minute)
		var writing, polling sync.WaitGroup
		stopWrites, stopPolls := make(chan struct{}), make(chan struct{})
		fresh := &freshnessProbe{committed: map[int64]time.Time{}, seen: map[int64]time.Time{}}
		polling.Add(1)
		go func() { defer polling.Done(); fresh.poll(store, stopPolls) }()
		writing.Add(1)
		go func() { defer writing.Done(); fresh.write(b, conn, stopWrites, i) }()
		start := time.Now()
		out, errOut, code := e.runCmd("resnapshot", "-c", e.config, "--table", "shop.big")
		took := time.Since(start)
		close(stopWrites)
		writing.Wait()
		// Every write is in the lake before its freshness is counted.
		waitForGTID(b, store, binlogPos(b, e.db), time.Minute)
		close(stopPolls)
		polling.Wait()
		if code != 0 {
			b.Fatalf("binlake resnapshot: exit %d\n%s%s", code, out, errOut)
		}
		rss := vmHWM(d.Process.Pid)
		d.Process.Kill()
		d.Wait()
		// Where the time went, from the daemon's log: the chunks' pins,
		// reads and files (summed), and the comparison at the end.
		logged, err := os.ReadFile(filepath.Join(e.logDir, fmt.Sprintf("ingest-%03d.log", e.runs)))
		if err != nil {
			b.Fatal(err)
		}
		sums := map[string]time.Duration{}
		for line := range strings.SplitSeq(string(logged), "\n") {
			if !strings.Contains(line, "re-snapshot chunk read") && !strings.Contains(line, "re-snapshot committed") {
				continue
			}
			for _, f := range strings.Fields(line) {
				k, v, _ := strings.Cut(f, "=")
				if d, err := time.ParseDuration(v); err == nil && (k == "pin" || k == "read" || k == "write" || k == "took") {
					sums[k] += d
				}
			}
		}
		for k, v := range sums {
			b.ReportMetric(v.Seconds(), k+"_s")
		}
		lat := fresh.latencies(b, store)
		b.ReportMetric(rows/took.Seconds(), "resnapshot_rows/s")
		b.ReportMetric(selectRate, "raw_select_rows/s")
		b.ReportMetric(rows/took.Seconds()/selectRate, "raw_ratio")
		b.ReportMetric(sqlRate, "select_rows/s")
		b.ReportMetric(rows/took.Seconds()/sqlRate, "ratio")
		b.ReportMetric(0.7, "target_ratio")
		b.ReportMetric(rss, "peak_rss_MiB")
		b.ReportMetric(256, "target_rss_MiB")
		b.ReportMetric(lat[len(lat)/2].Seconds()*1000, "fresh_p50_ms")
		b.ReportMetric(lat[len(lat)*99/100].Seconds()*1000, "fresh_p99_ms")
		b.ReportMetric(lat[len(lat)-1].Seconds()*1000, "fresh_max_ms")
	}
}

// plainSelectRate streams q through go-mysql's client (the library the
// re-snapshot reads with) without decoding a value, and returns rows/s.
func plainSelectRate(b *testing.B, e *env, q string, rows int64) float64 {
	c, err := client.Connect(e.db.Addr(), e.db.User, e.db.UserPassword, "")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var n int64
	start := time.Now()
	var res gomysql.Result
	if err := c.ExecuteSelectStreaming(q, &res, func([]gomysql.FieldValue) error { n++; return nil }, nil); err != nil {
		b.Fatal(err)
	}
	if n != rows {
		b.Fatalf("select: %d rows, want %d", n, rows)
	}
	return float64(n) / time.Since(start).Seconds()
}

// databaseSQLSelectRate runs q through database/sql over go-mysql's
// driver (an application's plain SELECT, as BenchmarkIngest measures it),
// counting rows, and returns rows/s.
func databaseSQLSelectRate(b *testing.B, e *env, q string, rows int64) float64 {
	db := e.db.RootDB(b, "")
	start := time.Now()
	res, err := db.QueryContext(context.Background(), q)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Close()
	var n int64
	for res.Next() {
		n++
	}
	if err := res.Err(); err != nil || n != rows {
		b.Fatalf("select: %d rows, %v", n, err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// freshnessProbe writes transactions to shop.live (and updates shop.big)
// and notes when the lake holds each one.
type freshnessProbe struct {
	mu        sync.Mutex
	committed map[int64]time.Time // GTID sequence → commit at the source
	seen      map[int64]time.Time // GTID sequence → first seen in the lake
}

// write commits about 50 transactions a second until stop: most insert a
// row of shop.live, one in five updates a row of shop.big.
func (f *freshnessProbe) write(b *testing.B, conn *sql.Conn, stop <-chan struct{}, run int) {
	ctx := context.Background()
	pace := time.NewTicker(20 * time.Millisecond) // load shaping, not synchronisation
	defer pace.Stop()
	id := int64(run) * 1_000_000
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-pace.C:
		}
		q := fmt.Sprintf("INSERT INTO shop.live VALUES (%d, 'v')", id+int64(i))
		if i%5 == 0 {
			q = fmt.Sprintf("UPDATE shop.big SET qty = qty + 1 WHERE id = %d", 1+(i*7919)%1_000_000)
		}
		if _, err := conn.ExecContext(ctx, q); err != nil {
			b.Error(err)
			return
		}
		at := time.Now()
		var gtid string
		if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid); err != nil {
			b.Error(err)
			return
		}
		f.mu.Lock()
		f.committed[gtidSeq(gtid)] = at
		f.mu.Unlock()
	}
}

func (f *freshnessProbe) poll(store tableformat.Store, stop <-chan struct{}) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	var last int64
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		st, err := l.Latest(context.Background())
		if err != nil || st.Progress.Position.GTIDSet == "" {
			continue
		}
		now := time.Now()
		f.mu.Lock()
		for n := gtidSeq(st.Progress.Position.GTIDSet); n > last; n-- {
			f.seen[n] = now
		}
		f.mu.Unlock()
		last = max(last, gtidSeq(st.Progress.Position.GTIDSet))
	}
}

// latencies are the freshness of the transactions the lake saw, sorted.
func (f *freshnessProbe) latencies(b *testing.B, store tableformat.Store) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lat []time.Duration
	for n, at := range f.committed {
		if s, ok := f.seen[n]; ok {
			lat = append(lat, max(0, s.Sub(at)))
		}
	}
	if len(lat) == 0 {
		b.Fatal("no transaction was seen during the re-snapshot")
	}
	slices.Sort(lat)
	return lat
}
