package testenv

import (
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// proc is a server process a test started.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	err    error         // its exit error, once exited is closed
}

// startProc starts cmd in its own process group and watches for its exit.
func startProc(cmd *exec.Cmd) (*proc, error) {
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop asks the process to end (SIGTERM), killing it after stopTimeout.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// failed stops the process and adds its exit error, if any, to err.
func (p *proc) failed(err error) error {
	p.stop()
	if p.err != nil {
		return fmt.Errorf("%w (%v)", err, p.err)
	}
	return err
}
