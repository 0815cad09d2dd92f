package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/testenv"
)

// TestDemo runs `make demo`'s script as a newcomer would see it (a short
// stream of changes), then its clean-up: every step's output is there, the
// answer as of the earlier point differs from the latest, and demo-clean
// leaves nothing running and nothing on disk.
func TestDemo(t *testing.T) {
	testenv.SkipIfShort(t, "MariaDB and the binlake daemon (scripts/demo.sh)")
	if _, err := exec.LookPath("mariadbd"); err != nil {
		if _, err := os.Stat("/usr/sbin/mariadbd"); err != nil {
			t.Fatal("mariadbd is not installed: make test runs scripts/ensure-mariadb.sh first")
		}
	}
	// A short path: the MariaDB socket lives under it.
	dir, err := os.MkdirTemp("", "bldemo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	freePort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	env := append(os.Environ(), "BINLAKE_DEMO_DIR="+dir, "BINLAKE_DEMO_PORT="+freePort(), "BINLAKE_DEMO_OPS_PORT="+freePort(),
		"BINLAKE_DEMO_SECONDS=12", "BINLAKE_BIN="+binary)
	clean := func() string {
		cmd := exec.Command("bash", "../scripts/demo-clean.sh")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("demo-clean: %v\n%s", err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { clean() })

	start := time.Now()
	cmd := exec.Command("bash", "../scripts/demo.sh")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, lastLines(text, 40))
	}
	t.Logf("demo ran in %v", time.Since(start).Round(time.Second))
	for _, want := range []string{"1/7", "MariaDB", "shop: 500 orders", "ok  binary log enabled", "shop.orders", "transactions",
		"compaction", "7/7", " rows)", "update_after", "The demo keeps running", "make demo-clean"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the demo's output lacks %q:\n%s", want, lastLines(text, 60))
		}
	}
	// The two GROUP BY answers (now, then) are the first two tables after
	// 7/7: from their header line to their "(N rows)".
	tail := text[strings.Index(text, "7/7"):]
	var answers []string
	for _, part := range regexp.MustCompile(`status +\| orders \| revenue`).Split(tail, -1)[1:] {
		if i := strings.Index(part, " rows)"); i >= 0 {
			answers = append(answers, part[:i])
		}
	}
	if len(answers) < 2 || answers[0] == answers[1] {
		t.Fatalf("the answers now and earlier should differ:\n%s", tail)
	}
	if strings.Contains(text, "panic") || strings.Contains(text, "goroutine ") {
		t.Fatalf("a stack trace in the demo:\n%s", text)
	}
	// The explore commands include status, which finds the daemon.
	status := exec.Command(binary, "status", "-c", filepath.Join(dir, "binlake.yaml"))
	status.Env = env
	sout, err := status.CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^daemon +ready, up `).Match(sout) || !regexp.MustCompile(`(?m)^shop\.orders +\d+ `).Match(sout) {
		t.Fatalf("binlake status in the running demo: %v\n%s", err, sout)
	}
	pw, err := os.ReadFile(filepath.Join(dir, "run", "password"))
	if err != nil || len(pw) == 0 || strings.Contains(text, string(pw)) {
		t.Fatalf("the source password is printed (or missing: %v)", err)
	}
	// Running it again starts over and works.
	if out := clean(); !strings.Contains(out, "stopped binlake ingest") || !strings.Contains(out, "removed") {
		t.Fatalf("demo-clean:\n%s", out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("demo-clean left %s: %v", dir, err)
	}
}
