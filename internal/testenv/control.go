package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
)

// server is a test's server process that the test may kill, stop, pause
// and restart on the same port and data, for fault tests.
type server struct {
	mu      sync.Mutex
	p       *proc
	path    string
	args    []string
	env     []string
	outPath string // stdout and stderr, appended
	// ready waits until a (re)started process serves, or it exits.
	ready func(exited <-chan struct{}) error
}

func newServer(p *proc, outPath string, ready func(exited <-chan struct{}) error) *server {
	return &server{p: p, path: p.cmd.Path, args: p.cmd.Args[1:], env: p.cmd.Env, outPath: outPath, ready: ready}
}

// stop ends the current process (SIGTERM, then SIGKILL); a test cleanup.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot act on SIGTERM
	s.p.stop()
}

// signal sends sig to the current process.
func (s *server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, s.path, err)
	}
}

// end sends sig to the current process and waits for it to exit.
func (s *server) end(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.signal(t, sig)
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	<-p.exited
}

// restart starts the process again (after kill or stop) and waits until it
// serves.
func (s *server) restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.p.exited:
	default:
		t.Fatalf("restart %s: it is still running", s.path)
	}
	out, err := os.OpenFile(s.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(s.path, s.args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = s.env, out, out
	p, err := startProc(cmd)
	if err != nil {
		t.Fatal(err)
	}
	s.p = p
	if err := s.ready(p.exited); err != nil {
		t.Fatalf("restart %s: %v\n--- tail of %s ---\n%s", s.path, p.failed(err), s.outPath, tail(s.outPath))
	}
}

// Kill ends MinIO with SIGKILL, as a crash would.
func (m *MinIO) Kill(t testing.TB) { t.Helper(); m.srv.end(t, syscall.SIGKILL) }

// Restart starts a killed MinIO again on the same address and data.
func (m *MinIO) Restart(t testing.TB) { t.Helper(); m.srv.restart(t) }

// Pause freezes MinIO (SIGSTOP): connections stay open and nothing
// answers, as a hung endpoint does. Resume undoes it.
func (m *MinIO) Pause(t testing.TB) { t.Helper(); m.srv.signal(t, syscall.SIGSTOP) }

// Resume lets a paused MinIO run again (SIGCONT).
func (m *MinIO) Resume(t testing.TB) { t.Helper(); m.srv.signal(t, syscall.SIGCONT) }

// Kill ends mariadbd with SIGKILL, as a crash would.
func (m *MariaDB) Kill(t testing.TB) { t.Helper(); m.srv.end(t, syscall.SIGKILL) }

// Shutdown stops mariadbd cleanly (SIGTERM) and waits for it to exit.
func (m *MariaDB) Shutdown(t testing.TB) { t.Helper(); m.srv.end(t, syscall.SIGTERM) }

// Restart starts a killed or shut down mariadbd again on the same port and
// data (crash recovery included), and waits until it serves.
func (m *MariaDB) Restart(t testing.TB) { t.Helper(); m.srv.restart(t) }

// String names the server for messages.
func (s *server) String() string { return fmt.Sprintf("%s %v", s.path, s.args) }
