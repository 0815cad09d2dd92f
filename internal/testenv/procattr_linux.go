package testenv

import "syscall"

// childProcAttr makes the kernel kill the server if the test process dies
// without running its cleanups (a test timeout, a crash).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
