package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-mysql-org/go-mysql/driver" // registers "mysql" for testenv.MariaDB.RootDB

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

var binary string // built once by TestMain

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// Every test here starts MariaDB, MinIO or the daemon, and so
		// skips under -short (testenv.SkipIfShort): no binary to build.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "binlake-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "binlake")
	build := exec.Command("go", "build", "-o", binary, "../cmd/binlake")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binlake:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one source database and one lake warehouse.
type env struct {
	t      testing.TB
	db     *testenv.MariaDB
	minio  *testenv.MinIO
	bucket string
	config string
	envs   []string
	logDir string
	runs   int
	ops    string // host:port of the daemon's /metrics, /healthz, /readyz
}

func newEnv(t testing.TB) *env { return newEnvOn(t, testenv.StartMariaDB(t), "") }

// newEnvOn is newEnv on db, with sourceYAML (indented keys) added to the
// config's source section.
func newEnvOn(t testing.TB, db *testenv.MariaDB, sourceYAML string) *env {
	e := &env{t: t, db: db, minio: testenv.StartMinIO(t), logDir: t.TempDir()}
	e.bucket = e.minio.NewBucket(t)
	e.config = filepath.Join(t.TempDir(), "binlake.yaml")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.ops = ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`source:
  name: shop
  host: 127.0.0.1
  port: %d
  user: %s
  server_id: 4242
  include: ["shop.*"]
%swarehouse:
  url: s3://%s/lakes
  s3:
    endpoint: %s
    access_key_id: %s
    use_tls: false
ingest:
  commit_interval: 100ms
  listen: %s
log:
  level: debug
`, e.db.Port, e.db.User, sourceYAML, e.bucket, e.minio.Endpoint, e.minio.AccessKey, e.ops)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The daemon runs in a zone of +05:45 (POSIX TZ syntax: no tzdata
	// needed): TIMESTAMP values must still land as UTC instants and
	// DATETIME values as the wall clock the source stored.
	e.envs = append(os.Environ(), "BINLAKE_SOURCE_PASSWORD="+e.db.UserPassword,
		"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY="+e.minio.SecretKey, "TZ=XST-5:45")
	return e
}

// ingest starts `binlake ingest` with args; its output goes to a log file
// shown when the test fails.
func (e *env) ingest(args ...string) *exec.Cmd {
	e.runs++
	logPath := filepath.Join(e.logDir, fmt.Sprintf("ingest-%03d.log", e.runs))
	out, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(binary, append([]string{"ingest", "-c", e.config}, args...)...)
	cmd.Env, cmd.Stdout, cmd.Stderr = e.envs, out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if e.t.Failed() {
			b, _ := os.ReadFile(logPath)
			e.t.Logf("--- %s ---\n%s", filepath.Base(logPath), lastLines(string(b), 30))
		}
	})
	return cmd
}

// catchUp runs `binlake ingest --exit-when-caught-up`, the first run from
// the GTID set start.
func (e *env) catchUp(start string) {
	e.t.Helper()
	args := []string{"--exit-when-caught-up"}
	if e.runs == 0 {
		args = append(args, "--start-gtid", start)
	}
	if err := e.ingest(args...).Wait(); err != nil {
		e.t.Fatalf("binlake ingest: %v", err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// store opens the lake for checking.
func (e *env) store() tableformat.Store {
	s, err := objstore.Open(context.Background(), "s3://"+e.bucket+"/lakes/shop", objstore.S3Config{
		Endpoint: e.minio.Endpoint, Region: e.minio.Region, AccessKey: e.minio.AccessKey,
		SecretKey: secret.String(e.minio.SecretKey), RequestTimeout: 30 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// lakePositioned reports whether the lake exists and records a position.
func (e *env) lakePositioned(store tableformat.Store) bool {
	st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
	if errors.Is(err, tableformat.ErrNoLake) {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return !st.Progress.Position.IsZero()
}

// binlogPos returns the server's current GTID position.
func binlogPos(t testing.TB, m *testenv.MariaDB) string {
	return strings.TrimSpace(m.Query(t, "SELECT @@gtid_binlog_pos"))
}

// TestIngestMatchesSourceAtEveryTransaction: a randomized workload, then
// `binlake ingest --exit-when-caught-up`: the lake as of each source
// transaction's GTID equals the source's contents right after it.
func TestIngestMatchesSourceAtEveryTransaction(t *testing.T) {
	e := newEnv(t)
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 1)
	w.ddlEvery = 9
	for range 300 {
		w.txn(context.Background())
	}
	cmd := e.ingest("--exit-when-caught-up", "--start-gtid", start)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("binlake ingest: %v", err)
	}
	w.check(e.store())
}

// TestIngestSurvivesKill9 kills the daemon with SIGKILL at random moments
// while the workload runs, restarting it each time; then catches up. The lake
// equals the source at every transaction: nothing lost, nothing doubled, no
// commit holding part of a transaction.
func TestIngestSurvivesKill9(t *testing.T) {
	e := newEnv(t)
	store := e.store()
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 2)
	w.ddlEvery = 9
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pace := time.NewTicker(5 * time.Millisecond) // load shaping, not synchronisation
		defer pace.Stop()
		for range 600 {
			select {
			case <-pace.C:
			case <-ctx.Done():
				return
			}
			w.txn(ctx)
		}
	}()
	rnd := rand.New(rand.NewPCG(3, 3))
	kills := 0
	for {
		var args []string
		if !e.lakePositioned(store) {
			args = []string{"--start-gtid", start}
		}
		cmd := e.ingest(args...)
		timer := time.NewTimer(time.Duration(50+rnd.IntN(400)) * time.Millisecond) // where the kill lands, not synchronisation
		select {
		case <-timer.C:
		case <-done:
		}
		timer.Stop()
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
		select {
		case <-done:
		default:
			continue
		}
		if kills >= 20 {
			break
		}
	}
	var args []string
	if !e.lakePositioned(store) {
		args = []string{"--start-gtid", start}
	}
	if err := e.ingest(append(args, "--exit-when-caught-up")...).Wait(); err != nil {
		t.Fatalf("final catch-up: %v", err)
	}
	t.Logf("%d kills, %d source transactions", kills, len(w.moments))
	w.check(store)
}
