package main

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/binlake/binlake/ingest"
)

// faultEnv names the variable that arms a fault: BINLAKE_FAULT=point:N
// kills the daemon with SIGKILL the Nth time it reaches the commit path's
// point (ingest.FaultPoints). It exists for the fault suite
// (docs/reliability.md); nothing sets it in production.
const faultEnv = "BINLAKE_FAULT"

// clockSkewEnv names the variable that sets the process's clock off by a
// duration (BINLAKE_CLOCK_SKEW=-1h): the times it writes to the lake's log
// come from that clock. Like BINLAKE_FAULT it exists for the fault suite,
// which runs the daemon and the compactor with clocks apart on one machine.
const clockSkewEnv = "BINLAKE_CLOCK_SKEW"

// clockFromEnv reads BINLAKE_CLOCK_SKEW; nil when it is not set.
func clockFromEnv(getenv func(string) (string, bool), logger *slog.Logger) (func() time.Time, error) {
	v, ok := getenv(clockSkewEnv)
	if !ok || v == "" {
		return nil, nil
	}
	skew, err := time.ParseDuration(v)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("%s=%q: want a duration such as -1h or 90s", clockSkewEnv, v)}
	}
	logger.Warn("clock skewed: log times come from a clock off by a duration", "skew", skew)
	return func() time.Time { return time.Now().Add(skew) }, nil
}

// faultFromEnv reads BINLAKE_FAULT; nil when it is not set.
func faultFromEnv(getenv func(string) (string, bool), logger *slog.Logger) (func(ingest.FaultPoint), error) {
	v, ok := getenv(faultEnv)
	if !ok || v == "" {
		return nil, nil
	}
	name, nth, _ := strings.Cut(v, ":")
	point := ingest.FaultPoint(name)
	n, err := strconv.Atoi(nth)
	if !slices.Contains(ingest.FaultPoints(), point) || err != nil || n < 1 {
		return nil, &usageError{fmt.Sprintf("%s=%q: want POINT:N, N ≥ 1, POINT one of %v", faultEnv, v, ingest.FaultPoints())}
	}
	logger.Warn("fault armed: the process kills itself at a commit path point", "point", name, "nth", n)
	var mu sync.Mutex
	hits := 0
	return func(p ingest.FaultPoint) {
		if p != point {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if hits++; hits == n {
			logger.Warn("fault injected: killing the process", "point", name, "nth", n)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is delivered asynchronously
		}
	}, nil
}
