package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/testenv"
)

// newTLSEnv is newEnv against a MariaDB that refuses plaintext TCP, with
// source.tls in mode verify-full (the CA the server's certificate chains
// to; the name checked is the host, 127.0.0.1).
func newTLSEnv(t *testing.T) *env {
	db := testenv.StartMariaDBWith(t, testenv.MariaDBOptions{TLS: true, RequireSecureTransport: true, PerformanceSchema: true})
	return newEnvOn(t, db, fmt.Sprintf("  tls:\n    mode: verify-full\n    ca_file: %s\n", db.CAFile))
}

var lagBytesRE = regexp.MustCompile(`(?m)^binlake_ingest_lag_bytes (\S+)$`)

// waitLagBytes polls /metrics until binlake_ingest_lag_bytes shows want
// ("" for any value), with a deadline, and returns the value.
func (e *env) waitLagBytes(want string, deadline time.Duration) string {
	e.t.Helper()
	last := "(absent)"
	testenv.Eventually(e.t, deadline, fmt.Sprintf("binlake_ingest_lag_bytes %q in /metrics", want), func() error {
		code, body := e.get("/metrics")
		if m := lagBytesRE.FindStringSubmatch(body); code == http.StatusOK && m != nil {
			last = m[1]
			if want == "" || last == want {
				return nil
			}
		}
		return fmt.Errorf("it is %s (/metrics: %d)", last, code)
	})
	return last
}

// TestIngestOverTLS: `binlake check` and `binlake ingest` against a source
// that refuses plaintext, over verify-full TLS. The server sees the
// daemon's binlog dump connection encrypted; every transaction reads back
// from the lake exactly; /metrics shows the lag in bytes, 0 once caught up.
func TestIngestOverTLS(t *testing.T) {
	e := newTLSEnv(t)
	check := exec.Command(binary, "check", "-c", e.config)
	check.Env = e.envs
	if out, err := check.CombinedOutput(); err != nil || strings.Contains(string(out), "FAIL") {
		t.Fatalf("check over TLS: %v\n%s", err, out)
	}
	store := e.store()
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 13)
	ctx := context.Background()
	for range 40 {
		w.txn(ctx)
	}
	// A first run that stops once caught up, then the daemon.
	if err := e.ingest("--exit-when-caught-up", "--start-gtid", start).Wait(); err != nil {
		t.Fatalf("ingest --exit-when-caught-up over TLS: %v", err)
	}
	waitForGTID(t, store, w.moments[len(w.moments)-1].gtid, time.Minute)
	e.db.Exec(t, "FLUSH BINARY LOGS")
	for range 40 {
		w.txn(ctx)
	}
	cmd := e.ingest()
	e.waitReady(30 * time.Second)
	t.Logf("lag in bytes at the daemon's start: %s", e.waitLagBytes("", lagWait))
	for range 40 {
		w.txn(ctx)
	}
	waitForGTID(t, store, w.moments[len(w.moments)-1].gtid, 60*time.Second)

	var dump []testenv.SessionTLS
	for _, s := range e.db.SessionCiphers(t) {
		if s.User == e.db.User && strings.HasPrefix(s.Command, "Binlog Dump") {
			dump = append(dump, s)
		}
		if s.User == e.db.User && s.Cipher == "" {
			t.Errorf("a connection of the daemon is not encrypted: %+v", s)
		}
	}
	if len(dump) != 1 || dump[0].Cipher == "" {
		t.Fatalf("binlog dump connections of the daemon: %+v, want one, encrypted", dump)
	}
	t.Logf("the daemon's binlog dump runs over %s, %s", dump[0].Version, dump[0].Cipher)

	e.waitLagBytes("0", lagWait)
	code, metrics := e.get("/metrics")
	if code != http.StatusOK || !strings.Contains(metrics, "# TYPE binlake_ingest_lag_bytes gauge") || strings.Contains(metrics, e.db.UserPassword) {
		t.Fatalf("/metrics (%d):\n%s", code, metrics)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit code 0", err)
	}
	w.check(store)
}

// lagWait bounds the wait for a measurement of the daemon's lag in bytes:
// it measures every few seconds (cmd/binlake lagPollInterval), and the
// bound leaves room for many measurements on a machine of any speed.
const lagWait = 2 * time.Minute
