//go:build !linux

package testenv

import "syscall"

// childProcAttr: outside Linux the server is stopped only by the test's
// cleanup.
func childProcAttr() *syscall.SysProcAttr { return nil }
