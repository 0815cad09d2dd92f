package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHugeTransactions: one transaction of many rows (200 k in make test,
// 2 M in make chaos) and one row of 64 MiB go through the daemon with its
// default memory budget (64 MiB of rows; spilled to files beyond it) and
// reach the lake whole. The daemon's peak memory is reported beside the
// budget (a figure, not an assertion: docs/reliability.md).
func TestHugeTransactions(t *testing.T) {
	rows := 200_000
	if os.Getenv("BINLAKE_CHAOS") == "long" {
		rows = 2_000_000
	}
	const blobBytes = 64 << 20
	e := newEnv(t)
	start := binlogPos(t, e.db)
	e.db.Exec(t, "SET GLOBAL max_allowed_packet = 256*1024*1024")
	e.db.Exec(t, "CREATE DATABASE shop",
		"CREATE TABLE shop.big (id BIGINT PRIMARY KEY, v VARCHAR(40), n DECIMAL(12,2))",
		"CREATE TABLE shop.blobs (id INT PRIMARY KEY, b LONGBLOB)",
		// One statement, one transaction: every row in one binlog
		// transaction (the sequence engine generates them).
		fmt.Sprintf("INSERT INTO shop.big SELECT seq, CONCAT('row-', seq), seq / 100 FROM shop.seq_1_to_%d", rows))
	// Each measured alone: the daemon's peak memory while it ingests the
	// big transaction, then while it ingests the big row.
	// (VmHWM, read while the daemon runs: the rusage of a child also counts
	// the memory of the test process it was forked from.)
	peak := func(args ...string) float64 {
		t.Helper()
		cmd := e.ingest(append([]string{"--exit-when-caught-up"}, args...)...)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var hwm float64
		tick := time.NewTicker(20 * time.Millisecond) // sampling, not synchronisation
		defer tick.Stop()
		for {
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("binlake ingest: %v", err)
				}
				return hwm
			case <-tick.C:
				hwm = max(hwm, vmHWM(cmd.Process.Pid))
			}
		}
	}
	txnMiB := peak("--start-gtid", start)
	// A new session sees the new max_allowed_packet.
	e.db.Exec(t, fmt.Sprintf("INSERT INTO shop.blobs VALUES (1, CONCAT(REPEAT('x', %d), 'tail!'))", blobBytes-5))
	rowMiB := peak()
	t.Logf("daemon peak RSS: %.0f MiB for one %d-row transaction, %.0f MiB for a %d MiB row (memory_budget 64 MiB of rows, memory_limit 240 MiB)",
		txnMiB, rows, rowMiB, blobBytes>>20)

	q := func(sql string) string {
		t.Helper()
		r := runBinary(t, e.envs, "", "query", "-c", e.config, "--format", "csv", sql)
		if r.code != 0 {
			t.Fatalf("binlake query %q: exit %d\n%s", sql, r.code, r.out)
		}
		return r.out
	}
	wantBig := fmt.Sprintf("n,ids,vs,total\n%d,%d,%d,%s\n", rows, int64(rows)*int64(rows+1)/2, rows,
		strings.TrimSpace(e.db.Query(t, "SELECT SUM(n) FROM shop.big")))
	if got := q("SELECT count(*) AS n, sum(id) AS ids, count(DISTINCT v) AS vs, sum(n) AS total FROM shop.big"); got != wantBig {
		t.Errorf("shop.big in the lake:\n%s\nwant\n%s", got, wantBig)
	}
	wantBlob := "len,md5\n" + strconv.Itoa(blobBytes) + "," + strings.TrimSpace(e.db.Query(t, "SELECT MD5(b) FROM shop.blobs WHERE id = 1")) + "\n"
	if got := q("SELECT octet_length(b) AS len, md5(CAST(b AS VARCHAR)) AS md5 FROM shop.blobs WHERE id = 1"); got != wantBlob {
		t.Errorf("the 64 MiB row in the lake:\n%s\nwant\n%s", got, wantBlob)
	}
	if path := os.Getenv("BINLAKE_CHAOS_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "| peak daemon memory: one %d-row transaction / one 64 MiB row (memory_budget 64 MiB of rows, Go memory_limit 240 MiB) | %.0f MiB / %.0f MiB |\n",
			rows, txnMiB, rowMiB)
	}
}
