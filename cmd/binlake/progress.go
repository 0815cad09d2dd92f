package main

import (
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/binlake/binlake/connectors/mysql"
)

// snapshotProgress follows an initial snapshot: gauges for /metrics, and on
// a terminal a progress line per table (rows, rate, ETA). Without a terminal
// the snapshot source's own log lines report progress.
type snapshotProgress struct {
	out      io.Writer // nil: not a terminal
	rows     *prometheus.GaugeVec
	estimate *prometheus.GaugeVec
	start    map[string]time.Time
	done     map[string]bool
	now      func() time.Time
}

func newSnapshotProgress(stderr io.Writer, reg prometheus.Registerer) *snapshotProgress {
	p := &snapshotProgress{
		rows: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "binlake_snapshot_rows",
			Help: "Rows the initial snapshot has read, by table."}, []string{"db", "table"}),
		estimate: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "binlake_snapshot_estimated_rows",
			Help: "The source's estimate of each table's rows at the snapshot's start."}, []string{"db", "table"}),
		start: map[string]time.Time{}, done: map[string]bool{}, now: time.Now,
	}
	reg.MustRegister(p.rows, p.estimate)
	if isTerminal(stderr) {
		p.out = stderr
	}
	return p
}

// update takes the source's progress: it sets the gauges and redraws the
// terminal line of the table being read.
func (p *snapshotProgress) update(tables []mysql.TableProgress) {
	for _, t := range tables {
		p.rows.WithLabelValues(t.DB, t.Table).Set(float64(t.Rows))
		p.estimate.WithLabelValues(t.DB, t.Table).Set(float64(t.Estimate))
		name := t.DB + "." + t.Table
		if (t.Reading || t.Done) && p.start[name].IsZero() {
			p.start[name] = p.now()
		}
		if p.out == nil || p.done[name] || (!t.Reading && !t.Done) {
			continue
		}
		fmt.Fprintf(p.out, "\r\x1b[K%s", progressLine(name, t, p.now().Sub(p.start[name])))
		if t.Done {
			p.done[name] = true
			fmt.Fprintln(p.out)
		}
	}
}

// progressLine renders one table's progress.
func progressLine(name string, t mysql.TableProgress, elapsed time.Duration) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(t.Rows) / s
	}
	line := fmt.Sprintf("snapshot %s: %d rows, %.0f rows/s", name, t.Rows, rate)
	switch {
	case t.Done:
		line += fmt.Sprintf(", done in %s", elapsed.Round(100*time.Millisecond))
	case t.Estimate > t.Rows && rate > 0:
		pct := 100 * float64(t.Rows) / float64(t.Estimate)
		eta := time.Duration(float64(t.Estimate-t.Rows) / rate * float64(time.Second))
		line += fmt.Sprintf(" (~%.0f%% of ~%d), ETA %s", pct, t.Estimate, eta.Round(time.Second))
	}
	return line
}
