package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/testenv"
)

// runBound is how long runBinary lets a run go on before it stops it: a
// run that does not end by itself retries for ever. A bound on a machine
// of any speed, not a measure of speed.
const runBound = 5 * time.Minute

// TestNewcomerErrors runs `binlake check` and `binlake ingest` against the
// mistakes a first setup makes — a bad config, a wrong password, binary
// logging off, statement-based logging, row metadata not FULL, missing
// grants, a missing bucket, storage without put-if-absent — and a table
// without a key, which is not a mistake. Each message must name the thing
// and what to do, come at once (no reconnection first), with the documented
// exit code (docs/cli.md), no Go stack trace and no secret.
func TestNewcomerErrors(t *testing.T) {
	db := testenv.StartMariaDB(t)
	noBinlog := testenv.StartMariaDBWith(t, testenv.MariaDBOptions{NoBinlog: true})
	minio := testenv.StartMinIO(t)
	proxy := withoutConditionalWrites(t, minio.Endpoint)
	for _, m := range []*testenv.MariaDB{db, noBinlog} {
		m.Exec(t, "CREATE DATABASE shop",
			"CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2))",
			"CREATE TABLE shop.events (at DATETIME, what VARCHAR(20))", // no key
			"INSERT INTO shop.orders VALUES (1, 9.50)",
			"INSERT INTO shop.events VALUES ('2026-01-01 10:00:00', 'login'), ('2026-01-01 10:00:00', 'login')")
	}
	const weakPassword = "weak-user-secret"
	const wrongPassword = "not-the-password-sentinel"
	db.Exec(t, fmt.Sprintf("CREATE USER 'weak'@'%%' IDENTIFIED BY '%s'", weakPassword), "GRANT SELECT ON *.* TO 'weak'@'%'")
	secrets := []string{db.UserPassword, db.RootPassword, minio.SecretKey, weakPassword, wrongPassword}

	dir := t.TempDir()
	configs := 0
	// config writes a config for a lake in a new bucket (or bucket) of
	// endpoint, reading m as user; extra is added to the source section.
	config := func(m *testenv.MariaDB, user, endpoint, bucket, extra string) string {
		configs++
		if bucket == "" {
			bucket = minio.NewBucket(t)
		}
		path := filepath.Join(dir, fmt.Sprintf("binlake-%d.yaml", configs))
		body := fmt.Sprintf(`source:
  name: shop
  host: 127.0.0.1
  port: %d
  user: %s
  include: ["shop.*"]
%swarehouse:
  url: s3://%s/lakes
  s3:
    endpoint: %s
    access_key_id: %s
    use_tls: false
ingest:
  commit_interval: 100ms
  listen: ""
`, m.Port, user, extra, bucket, endpoint, minio.AccessKey)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const serverID = "  server_id: 4242\n"
	environ := func(password string) []string {
		return append(os.Environ(), "BINLAKE_SOURCE_PASSWORD="+password,
			"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY="+minio.SecretKey, "BINLAKE_QUERY_CACHE_DIR="+filepath.Join(dir, "cache"))
	}
	// expect checks one run: exit code (stopped: the test stopped a daemon
	// that had printed the message and was retrying), the texts it must
	// print, that it printed them without retrying first, and what it must
	// never print.
	expect := func(t *testing.T, what string, r run, code int, wants ...string) {
		t.Helper()
		t.Logf("%s: exit %d (stopped by the test: %v) after %v:\n%s", what, r.code, r.stopped, r.took.Round(time.Millisecond), r.out)
		if code == stoppedByTest && !r.stopped || code != stoppedByTest && (r.stopped || r.code != code) {
			t.Errorf("%s: exit %d (stopped by the test: %v), want %d\n%s", what, r.code, r.stopped, code, r.out)
		}
		for _, w := range wants {
			if !strings.Contains(r.out, w) {
				t.Errorf("%s: the output does not say %q\n%s", what, w, r.out)
			}
		}
		if strings.Contains(r.out, "reconnecting") && code != stoppedByTest {
			t.Errorf("%s: retried before saying it\n%s", what, r.out)
		}
		if stackTrace.MatchString(r.out) {
			t.Errorf("%s: a Go stack trace\n%s", what, r.out)
		}
		for _, s := range secrets {
			if strings.Contains(r.out, s) {
				t.Errorf("%s: the output shows a secret\n%s", what, r.out)
			}
		}
	}
	check := func(cfg, password string) run {
		return runBinary(t, environ(password), "", "check", "-c", cfg)
	}
	ingest := func(cfg, password, until string, args ...string) run {
		return runBinary(t, environ(password), until, append([]string{"ingest", "-c", cfg, "--exit-when-caught-up"}, args...)...)
	}

	// noLake checks that a failed first ingest committed no table: the
	// lake it created holds nothing but its creation.
	noLake := func(t *testing.T, cfg, password string) {
		t.Helper()
		r := runBinary(t, environ(password), "", "tables", "-c", cfg, "--format", "json")
		expect(t, "tables after the failed ingest", r, 0)
		if r.out != "" {
			t.Errorf("the failed ingest committed tables:\n%s", r.out)
		}
	}

	t.Run("bad config", func(t *testing.T) {
		cfg := config(db, db.User, minio.Endpoint, "", "") // no server_id
		expect(t, "check", check(cfg, db.UserPassword), 2, "source.server_id", "no other replica")
		expect(t, "ingest", ingest(cfg, db.UserPassword, ""), 2, "source.server_id", "no other replica")
	})

	t.Run("wrong password", func(t *testing.T) {
		cfg := config(db, db.User, minio.Endpoint, "", serverID)
		expect(t, "check", check(cfg, wrongPassword), 1, "FAIL", "connect to the source", "Access denied",
			"source.password", "BINLAKE_SOURCE_PASSWORD")
		expect(t, "ingest", ingest(cfg, wrongPassword, ""), 1, "Access denied", `user "binlake"`, "source.password")
	})

	t.Run("binlog off", func(t *testing.T) {
		cfg := config(noBinlog, noBinlog.User, minio.Endpoint, "", serverID)
		expect(t, "check", check(cfg, noBinlog.UserPassword), 1, "log_bin=OFF", "add log_bin")
		expect(t, "ingest", ingest(cfg, noBinlog.UserPassword, ""), 1, "binary logging is off", "add log_bin")
	})

	t.Run("binlog_format STATEMENT", func(t *testing.T) {
		db.Exec(t, "SET GLOBAL binlog_format=STATEMENT")
		defer db.Exec(t, "SET GLOBAL binlog_format=ROW")
		cfg := config(db, db.User, minio.Endpoint, "", serverID)
		expect(t, "check", check(cfg, db.UserPassword), 1, "binlog_format=STATEMENT", "SET GLOBAL binlog_format=ROW")
		// Changes logged as statements cannot be mirrored: ingest refuses
		// to run rather than lose them.
		expect(t, "ingest", ingest(cfg, db.UserPassword, ""), 1, "binlog_format=STATEMENT", "cannot be mirrored", "SET GLOBAL binlog_format=ROW")
		noLake(t, cfg, db.UserPassword)
	})

	t.Run("a session with binlog_format STATEMENT", func(t *testing.T) {
		cfg := config(db, db.User, minio.Endpoint, "", serverID)
		expect(t, "ingest", ingest(cfg, db.UserPassword, ""), 0, "initial snapshot committed")
		// The server logs rows, but one session logs its change as SQL
		// text: ingest stops before it rather than skip it…
		db.Exec(t, "SET SESSION binlog_format=STATEMENT; INSERT INTO shop.orders VALUES (7, 7.00)")
		expect(t, "ingest", ingest(cfg, db.UserPassword, ""), 1, "logged INSERT on shop.orders as a statement",
			"binlog_format STATEMENT or MIXED", "source.snapshot: always")
		// … and a re-snapshot brings the lake level with the source.
		resync := runBinary(t, append(environ(db.UserPassword), "BINLAKE_SOURCE_SNAPSHOT=always"), "",
			"ingest", "-c", cfg, "--exit-when-caught-up")
		expect(t, "ingest with a new snapshot", resync, 0, "initial snapshot committed")
		q := runBinary(t, environ(db.UserPassword), "", "query", "-c", cfg, "--format", "csv", "SELECT id FROM shop.orders WHERE id = 7")
		expect(t, "query", q, 0)
		if q.out != "id\n7\n" {
			t.Errorf("shop.orders 7 in the lake after the new snapshot:\n%s", q.out)
		}
		db.Exec(t, "DELETE FROM shop.orders WHERE id = 7")
	})

	t.Run("binlog_row_metadata MINIMAL", func(t *testing.T) {
		db.Exec(t, "SET GLOBAL binlog_row_metadata=MINIMAL")
		defer db.Exec(t, "SET GLOBAL binlog_row_metadata=FULL")
		cfg := config(db, db.User, minio.Endpoint, "", serverID+"  snapshot: never\n")
		expect(t, "check", check(cfg, db.UserPassword), 1, "binlog_row_metadata=MINIMAL", "SET GLOBAL binlog_row_metadata=FULL")
		// A new lake's snapshot would be followed by rows that cannot be
		// decoded: ingest refuses before committing it.
		snapCfg := config(db, db.User, minio.Endpoint, "", serverID)
		expect(t, "ingest", ingest(snapCfg, db.UserPassword, ""), 1, "binlog_row_metadata=MINIMAL", "set binlog_row_metadata=FULL")
		noLake(t, snapCfg, db.UserPassword)
		from := binlogPos(t, db)
		db.Exec(t, "INSERT INTO shop.orders VALUES (2, 1.25)")
		// Retrying cannot fix it: ingest stops at once, saying what to do.
		expect(t, "ingest", ingest(cfg, db.UserPassword, "", "--start-gtid", from), 1,
			"shop.orders", "set binlog_row_metadata=FULL", "start a new lake")
	})

	t.Run("missing grants", func(t *testing.T) {
		cfg := config(db, "weak", minio.Endpoint, "", serverID)
		expect(t, "check", check(cfg, weakPassword), 1, "GRANT REPLICATION SLAVE ON *.* TO 'weak'@'%'",
			"GRANT BINLOG MONITOR ON *.* TO 'weak'@'%'")
		// The snapshot needs SELECT only; streaming needs the rest.
		expect(t, "ingest", ingest(cfg, weakPassword, ""), 1, "BINLOG MONITOR", "grant it to user",
			"binlake check lists every privilege")
		noLake(t, cfg, weakPassword)
		// With positions readable, the stream still needs REPLICATION
		// SLAVE: ingest says so before the snapshot commits anything.
		db.Exec(t, "GRANT BINLOG MONITOR ON *.* TO 'weak'@'%'")
		expect(t, "ingest", ingest(cfg, weakPassword, ""), 1, "REPLICATION SLAVE", `user "weak"`,
			"binlake check lists every privilege")
		noLake(t, cfg, weakPassword)
	})

	t.Run("bucket missing", func(t *testing.T) {
		cfg := config(db, db.User, minio.Endpoint, "no-such-bucket", serverID)
		expect(t, "check", check(cfg, db.UserPassword), 1, "storage reachable", "bucket no-such-bucket does not exist", "create it",
			"warehouse.url")
		expect(t, "ingest", ingest(cfg, db.UserPassword, ""), 3, "bucket no-such-bucket does not exist", "create it")
	})

	t.Run("storage without put-if-absent", func(t *testing.T) {
		cfg := config(db, db.User, proxy, "", serverID)
		expect(t, "check", check(cfg, db.UserPassword), 1, "storage put-if-absent", "does not support conditional writes",
			"AWS S3, MinIO")
		expect(t, "ingest", ingest(cfg, db.UserPassword, ""), 3, "does not support conditional writes", "AWS S3, MinIO")
	})

	t.Run("table without a key", func(t *testing.T) {
		cfg := config(db, db.User, minio.Endpoint, "", serverID)
		r := check(cfg, db.UserPassword)
		expect(t, "check", r, 0, "tables without a primary key", "shop.events", "mirrored exactly")
		if !regexp.MustCompile(`(?m)^note +tables without a primary key`).MatchString(r.out) || strings.Contains(r.out, "shop.orders") {
			t.Errorf("check: want a note naming shop.events only\n%s", r.out)
		}
		expect(t, "ingest", ingest(cfg, db.UserPassword, ""), 0, "initial snapshot committed")
		// Identical rows are counted: one more, then one of them deleted.
		db.Exec(t, "INSERT INTO shop.events VALUES ('2026-01-01 10:00:00', 'login'), ('2026-01-01 11:00:00', 'logout')",
			"DELETE FROM shop.events WHERE what = 'login' LIMIT 1")
		expect(t, "ingest again", ingest(cfg, db.UserPassword, ""), 0)
		q := runBinary(t, environ(db.UserPassword), "", "query", "-c", cfg, "--format", "csv",
			"SELECT what, count(*) AS n FROM shop.events GROUP BY what ORDER BY what")
		expect(t, "query", q, 0)
		if want := "what,n\nlogin,2\nlogout,1\n"; q.out != want {
			t.Errorf("shop.events in the lake:\n%s\nwant\n%s", q.out, want)
		}
	})
}

// stackTrace matches the marks of a Go panic or stack dump.
var stackTrace = regexp.MustCompile(`goroutine \d+ \[|panic: |\.go:\d+ \+0x`)

// stoppedByTest is expect's code for a daemon the test stopped once it had
// printed what it was waited for.
const stoppedByTest = -1

// run is one run of the binary.
type run struct {
	code    int
	out     string        // stdout and stderr
	took    time.Duration // until it exited, or printed what was waited for
	stopped bool          // the test stopped it with SIGTERM
}

// runBinary runs binlake with args. With until, a run that prints until is
// stopped with SIGTERM then (a daemon retrying what it cannot fix); a run
// that neither exits nor prints it within runBound is stopped too.
func runBinary(t *testing.T, env []string, until string, args ...string) run {
	t.Helper()
	var out syncBuffer
	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &out
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	poll := time.NewTicker(20 * time.Millisecond) // polling the output with a deadline
	defer poll.Stop()
	deadline := time.NewTimer(runBound)
	defer deadline.Stop()
	stop := func() run {
		r := run{code: stoppedByTest, took: time.Since(began), stopped: true}
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		r.out = out.String()
		return r
	}
	for {
		select {
		case err := <-exited:
			r := run{took: time.Since(began), out: out.String()}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				r.code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return r
		case <-poll.C:
			if until != "" && strings.Contains(out.String(), until) {
				return stop()
			}
		case <-deadline.C:
			return stop()
		}
	}
}

// syncBuffer is a bytes.Buffer that a child's output and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// withoutConditionalWrites is an S3 endpoint in front of MinIO that answers
// every conditional PUT (If-None-Match) with 501 Not Implemented, as S3 APIs
// without conditional writes do; everything else passes through.
func withoutConditionalWrites(t *testing.T, endpoint string) string {
	target, err := url.Parse("http://" + endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.Header.Get("If-None-Match") != "" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotImplemented)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code>`+
				`<Message>A header you provided implies functionality that is not implemented</Message></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
