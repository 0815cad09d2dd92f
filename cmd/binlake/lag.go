package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/tableformat"
)

const (
	// lagPollInterval is how often ingest measures its lag in bytes.
	lagPollInterval = 5 * time.Second
	// lagWarnInterval rate-limits the warning of a failing lag probe.
	lagWarnInterval = 10 * time.Minute
)

// bytesBehind is mysql.LagProbe.
type bytesBehind interface {
	BytesBehind(ctx context.Context, pos tableformat.Position) (int64, error)
	Close() error
}

// lagPoller sets binlake_ingest_lag_bytes from the position of the lake's
// last commit, now and every interval, until stopped, and tells status (when
// set) what it measured and the lake state it read. A failing probe logs a
// warning (at most one per lagWarnInterval; debug otherwise), leaves the
// gauge as it was, and never stops ingest.
type lagPoller struct {
	probe    bytesBehind
	lake     *tableformat.Log
	metrics  *ingest.Metrics
	interval time.Duration
	logger   *slog.Logger
	status   *daemonStatus // may be nil

	lastWarn time.Time
	failing  bool
}

// start runs the poller in the background; the returned function stops it
// and waits for it to end.
func (p *lagPoller) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer p.probe.Close()
		tick := time.NewTicker(p.interval)
		defer tick.Stop()
		for {
			p.poll(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (p *lagPoller) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(p.interval, 10*time.Second))
	defer cancel()
	st, err := p.lake.Latest(ctx)
	if errors.Is(err, tableformat.ErrNoLake) {
		return
	}
	var n int64
	if err == nil {
		p.status.sawLake(st)
		pos := st.Progress.Position
		if pos.File == "" {
			return // no position yet (a snapshot in progress), or a GTID-only one
		}
		n, err = p.probe.BytesBehind(ctx, pos)
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return // stopping
		}
		now := time.Now()
		if p.lastWarn.IsZero() || now.Sub(p.lastWarn) >= lagWarnInterval {
			p.logger.Warn("cannot measure ingest lag in bytes; binlake_ingest_lag_bytes keeps its last value (next warning in "+
				lagWarnInterval.String()+" at the earliest)", "err", err)
			p.lastWarn = now
		} else {
			p.logger.Debug("cannot measure ingest lag in bytes", "err", err)
		}
		p.failing = true
		p.status.setLagError(err)
		return
	}
	if p.failing {
		p.logger.Info("ingest lag in bytes measured again", "bytes", n)
		p.failing = false
	}
	p.metrics.SetLagBytes(n)
	p.status.setLagBytes(n)
}
