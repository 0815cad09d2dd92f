package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/binlake/binlake/connectors/mysql"
)

// snapshotProgress follows an initial snapshot: gauges of its totals for
// /metrics (no per-table series: a source of 10,000 tables would make
// 20,000), the daemon's /status (the totals and the tables being read), and
// on a terminal one line redrawn with both. Lines per table come from the
// snapshot source's log: every 10 s while a table is read, and when a table
// that took a second or more is done.
type snapshotProgress struct {
	out                                 io.Writer // nil: not a terminal
	tables, tablesDone, rows, estimated prometheus.Gauge
	status                              *daemonStatus
	now                                 func() time.Time
}

func newSnapshotProgress(stderr io.Writer, reg prometheus.Registerer, status *daemonStatus) *snapshotProgress {
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		reg.MustRegister(g)
		return g
	}
	p := &snapshotProgress{
		tables:     gauge("binlake_snapshot_tables", "Tables the initial snapshot reads."),
		tablesDone: gauge("binlake_snapshot_tables_done", "Tables the initial snapshot has read whole."),
		rows:       gauge("binlake_snapshot_rows", "Rows the initial snapshot has read, every table."),
		estimated: gauge("binlake_snapshot_estimated_rows",
			"The source's estimate of the rows of the tables the initial snapshot reads, at its start."),
		status: status, now: time.Now,
	}
	if isTerminal(stderr) {
		p.out = stderr
	}
	return p
}

// update takes the source's progress: it sets the gauges and /status, and
// redraws the terminal line.
func (p *snapshotProgress) update(sp mysql.SnapshotProgress) {
	p.tables.Set(float64(sp.Tables))
	p.tablesDone.Set(float64(sp.TablesDone))
	p.rows.Set(float64(sp.Rows))
	p.estimated.Set(float64(sp.EstimatedRows))
	v := makeSnapshotView(sp, p.now())
	p.status.setSnapshot(v)
	if p.out != nil {
		fmt.Fprintf(p.out, "\r\x1b[Ksnapshot: %s", snapshotText(v))
	}
}

// done takes the source's last progress once the snapshot is over: /status
// no longer shows one, the terminal line stays.
func (p *snapshotProgress) done(sp mysql.SnapshotProgress) {
	p.update(sp)
	p.status.setSnapshot(nil)
	if p.out != nil {
		fmt.Fprintln(p.out)
	}
}

// snapshotView is the initial snapshot in progress, in /status.
type snapshotView struct {
	Tables        int     `json:"tables"`
	TablesDone    int     `json:"tables_done"`
	Rows          int64   `json:"rows"`
	EstimatedRows int64   `json:"estimated_rows,omitempty"`
	StartedAt     string  `json:"started_at,omitempty"`
	Seconds       float64 `json:"seconds"` // since the reading began
	ETASeconds    float64 `json:"eta_seconds,omitempty"`
	// Reading are the tables being read now (one per reader at most).
	Reading []snapshotTableView `json:"reading"`
}

// snapshotTableView is a table being read.
type snapshotTableView struct {
	Table         string  `json:"table"` // db.table
	Rows          int64   `json:"rows"`
	EstimatedRows int64   `json:"estimated_rows,omitempty"`
	Seconds       float64 `json:"seconds"`
}

func makeSnapshotView(sp mysql.SnapshotProgress, now time.Time) *snapshotView {
	v := &snapshotView{Tables: sp.Tables, TablesDone: sp.TablesDone, Rows: sp.Rows, EstimatedRows: sp.EstimatedRows,
		ETASeconds: sp.ETA(now).Round(time.Second).Seconds(), Reading: []snapshotTableView{}}
	if !sp.Started.IsZero() {
		v.StartedAt = sp.Started.UTC().Format(timeLayout)
		v.Seconds = now.Sub(sp.Started).Round(time.Millisecond).Seconds()
	}
	for _, t := range sp.Reading {
		v.Reading = append(v.Reading, snapshotTableView{Table: t.DB + "." + t.Table, Rows: t.Rows, EstimatedRows: t.Estimate,
			Seconds: now.Sub(t.Started).Round(time.Millisecond).Seconds()})
	}
	return v
}

// snapshotText renders the snapshot's progress in one line, for the
// terminal and `binlake status`: the totals, then the tables being read.
func snapshotText(v *snapshotView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d tables, %d rows", v.TablesDone, v.Tables, v.Rows)
	if v.EstimatedRows > v.Rows {
		fmt.Fprintf(&b, " (~%.0f%% of ~%d)", 100*float64(v.Rows)/float64(v.EstimatedRows), v.EstimatedRows)
	}
	if v.Seconds > 0 {
		fmt.Fprintf(&b, ", %.0f rows/s", float64(v.Rows)/v.Seconds)
	}
	switch {
	case v.TablesDone == v.Tables:
		fmt.Fprintf(&b, ", read in %s", seconds(v.Seconds).Round(100*time.Millisecond))
	case v.ETASeconds > 0:
		fmt.Fprintf(&b, ", ETA %s", seconds(v.ETASeconds))
	}
	for i, t := range v.Reading {
		sep := ", "
		if i == 0 {
			sep = "; reading "
		}
		if t.EstimatedRows > t.Rows {
			fmt.Fprintf(&b, "%s%s (%d of ~%d rows)", sep, t.Table, t.Rows, t.EstimatedRows)
		} else {
			fmt.Fprintf(&b, "%s%s (%d rows)", sep, t.Table, t.Rows)
		}
	}
	return b.String()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
