package testenv

import (
	"fmt"
	"testing"
	"time"
)

// Polling intervals of Eventually: the first retry comes quickly, for
// conditions that are a moment away; later ones back off, so that a costly
// condition (running a binary, querying a lake) polled for minutes on a
// busy machine does not itself become the load that slows what it awaits.
const (
	pollFirst = 10 * time.Millisecond
	pollMax   = 250 * time.Millisecond
)

// Eventually calls cond until it returns nil, and fails the test (naming
// what, the timeout and cond's last error) if timeout passes first. It is
// how a test waits for something another process or goroutine makes
// happen: a verdict is whether the condition came about, and timeout is
// only a generous bound on a machine of any speed, never a measure of
// speed. cond runs on the caller's goroutine, so it may call t.Fatal.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Await(timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}

// Await is Eventually returning the failure instead, for a caller that
// gathers evidence (a process's state) before it fails the test.
func Await(timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	wait := pollFirst
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%s: not within %v: %w", what, timeout, err)
		}
		time.Sleep(min(wait, time.Until(deadline))) // polling with a deadline
		wait = min(wait*3/2, pollMax)
	}
}
