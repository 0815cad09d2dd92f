package compaction

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are compaction's Prometheus metrics (docs/metrics.md). A nil
// *Metrics records nothing.
type Metrics struct {
	jobs    *prometheus.CounterVec
	rows    *prometheus.CounterVec
	files   *prometheus.CounterVec
	bytes   *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "binlake_compaction_jobs_total",
			Help: "Compaction jobs run, by kind (snapshot, merge) and result (committed, conflict, failed)."}, []string{"kind", "result"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "binlake_compaction_rows_total",
			Help: "Rows read (in) and written (out) by committed compaction jobs."}, []string{"kind", "direction"}),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "binlake_compaction_files_total",
			Help: "Files read (in) and written (out) by committed compaction jobs."}, []string{"kind", "direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "binlake_compaction_bytes_total",
			Help: "Bytes read (in) and written (out) by committed compaction jobs."}, []string{"kind", "direction"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "binlake_compaction_job_seconds",
			Help: "Duration of compaction jobs, from planning to commit.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"kind"}),
	}
	reg.MustRegister(m.jobs, m.rows, m.files, m.bytes, m.seconds)
	return m
}

// observe records one job's outcome.
func (m *Metrics) observe(res Result, err error) {
	if m == nil {
		return
	}
	kind := string(res.Job.Kind)
	switch {
	case err != nil:
		m.jobs.WithLabelValues(kind, "failed").Inc()
		return
	case res.Conflict:
		m.jobs.WithLabelValues(kind, "conflict").Inc()
		return
	case res.Version == 0:
		return
	}
	m.jobs.WithLabelValues(kind, "committed").Inc()
	m.rows.WithLabelValues(kind, "in").Add(float64(res.RowsIn))
	m.rows.WithLabelValues(kind, "out").Add(float64(res.RowsOut))
	m.files.WithLabelValues(kind, "in").Add(float64(res.FilesIn))
	m.files.WithLabelValues(kind, "out").Add(float64(res.FilesOut))
	m.bytes.WithLabelValues(kind, "in").Add(float64(res.BytesIn))
	m.bytes.WithLabelValues(kind, "out").Add(float64(res.BytesOut))
	m.seconds.WithLabelValues(kind).Observe(res.Duration.Seconds())
}
