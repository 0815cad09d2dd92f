package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

type fakeProbe struct {
	mu     sync.Mutex
	n      int64
	err    error
	calls  int
	asked  tableformat.Position
	closed bool
}

func (f *fakeProbe) BytesBehind(_ context.Context, pos tableformat.Position) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.asked = pos
	return f.n, f.err
}

func (f *fakeProbe) Close() error { f.mu.Lock(); f.closed = true; f.mu.Unlock(); return nil }

func (f *fakeProbe) set(n int64, err error) { f.mu.Lock(); f.n, f.err = n, err; f.mu.Unlock() }

// lagGauge returns binlake_ingest_lag_bytes, or -1 when it is not exported.
func lagGauge(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "binlake_ingest_lag_bytes" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// TestLagPoller: the gauge appears with the first measurement of the lake's
// position; a failing probe warns once (rate-limited), leaves the gauge and
// keeps polling; stopping closes the probe.
func TestLagPoller(t *testing.T) {
	ctx := context.Background()
	lake := tableformat.NewLog(tableformat.NewMemStore(), tableformat.LogOptions{})
	if _, err := lake.Create(ctx, "shop", 10); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := ingest.NewMetrics(reg, nil)
	var logs bytes.Buffer
	probe := &fakeProbe{n: 1234}
	p := &lagPoller{probe: probe, lake: lake, metrics: metrics, interval: time.Hour,
		logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}

	p.poll(ctx) // a lake without a position: nothing to measure
	if probe.calls != 0 || lagGauge(t, reg) != -1 {
		t.Fatalf("measured a lake without a position: %d calls, gauge %v", probe.calls, lagGauge(t, reg))
	}
	pos := tableformat.Position{GTIDSet: "0-1-5", File: "binlog.000001", Pos: 400}
	if err := ingest.Begin(ctx, lake, pos); err != nil {
		t.Fatal(err)
	}
	p.poll(ctx)
	if got := lagGauge(t, reg); got != 1234 || probe.asked != pos {
		t.Fatalf("gauge %v after asking about %s, want 1234 about %s", got, probe.asked, pos)
	}

	probe.set(0, errors.New("lag probe: show binary logs: access denied"))
	for range 5 {
		p.poll(ctx)
	}
	if got := lagGauge(t, reg); got != 1234 {
		t.Errorf("gauge %v after failures, want the last value 1234", got)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "access denied") {
		t.Errorf("%d warnings for 5 failures, want 1:\n%s", n, logs.String())
	}
	probe.set(0, nil)
	p.poll(ctx)
	if got := lagGauge(t, reg); got != 0 || !strings.Contains(logs.String(), "measured again") {
		t.Errorf("gauge %v after recovery, want 0; log:\n%s", got, logs.String())
	}

	// In the background: polls at once, stops on request and closes the probe.
	probe.set(77, nil)
	p.interval = 10 * time.Millisecond
	stop := p.start(ctx)
	testenv.Eventually(t, time.Minute, "the background poller's first measurement", func() error {
		if got := lagGauge(t, reg); got != 77 {
			return fmt.Errorf("gauge %v, want 77", got)
		}
		return nil
	})
	stop()
	if got := lagGauge(t, reg); got != 77 || !probe.closed {
		t.Errorf("background poller: gauge %v, probe closed %v", got, probe.closed)
	}
}
