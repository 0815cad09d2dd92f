package ingest

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus metrics (docs/metrics.md). A nil
// *Metrics records nothing. No series is per table: a source of 10,000
// tables would make tens of thousands of them (memory in the daemon and in
// Prometheus); per table, binlake tables and status read the lake.
type Metrics struct {
	rowChanges    [RowSnapshot + 1]prometheus.Counter // by RowOp
	transactions  prometheus.Counter
	commits       prometheus.Counter
	commitSeconds prometheus.Histogram
	files         prometheus.Counter
	bytes         prometheus.Counter
	spills        prometheus.Counter
	version       prometheus.Gauge
	sourceTime    prometheus.Gauge
	lag           prometheus.Gauge
	lagBytes      prometheus.Gauge
	lagBytesOnce  sync.Once
	// Re-snapshots.
	resnapRows    prometheus.Counter
	resnapChunks  prometheus.Counter
	resnapPending prometheus.Gauge
	resnapChanges prometheus.Counter
	reg           prometheus.Registerer
	now           func() time.Time
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	rowChanges := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "binlake_ingest_row_changes_total",
		Help: "Row changes read from the source, by operation (insert, update, delete, snapshot)."}, []string{"op"})
	m := &Metrics{
		transactions: prometheus.NewCounter(prometheus.CounterOpts{Name: "binlake_ingest_transactions_total",
			Help: "Source transactions read (including ones that touched no mirrored table)."}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{Name: "binlake_ingest_commits_total",
			Help: "Lake commits made by ingest."}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "binlake_ingest_commit_duration_seconds",
			Help: "Time to write a batch's files and commit it.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		files: prometheus.NewCounter(prometheus.CounterOpts{Name: "binlake_ingest_files_written_total",
			Help: "Parquet files uploaded."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "binlake_ingest_bytes_written_total",
			Help: "Bytes of Parquet files uploaded."}),
		spills: prometheus.NewCounter(prometheus.CounterOpts{Name: "binlake_ingest_spills_total",
			Help: "Times buffered rows were written to files early because they reached the memory budget."}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{Name: "binlake_lake_version",
			Help: "The lake version of ingest's last commit."}),
		sourceTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "binlake_ingest_source_commit_timestamp_seconds",
			Help: "Source commit time of the last transaction in the lake (Unix seconds)."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "binlake_ingest_lag_seconds",
			Help: "Seconds between the source commit of the last transaction in the lake and its lake commit."}),
		lagBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "binlake_ingest_lag_bytes",
			Help: "Bytes of source binlog between the position of the lake's last commit and the source's current end of binlog, summed across binlog files."}),
		resnapRows: prometheus.NewCounter(prometheus.CounterOpts{Name: "binlake_resnapshot_rows_read_total",
			Help: "Rows re-snapshots read from the source."}),
		resnapChunks: prometheus.NewCounter(prometheus.CounterOpts{Name: "binlake_resnapshot_chunks_total",
			Help: "Chunks re-snapshots read from the source."}),
		resnapPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "binlake_resnapshots_pending",
			Help: "Tables whose re-snapshot is requested and not yet committed."}),
		resnapChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "binlake_resnapshot_changes_total",
			Help: "Row changes re-snapshots committed (rows that differed from the lake)."}),
		reg: reg,
		now: now,
	}
	for op, name := range map[RowOp]string{RowInsert: "insert", RowUpdate: "update", RowDelete: "delete", RowSnapshot: "snapshot"} {
		m.rowChanges[op] = rowChanges.WithLabelValues(name)
	}
	reg.MustRegister(rowChanges, m.transactions, m.commits, m.commitSeconds, m.files, m.bytes, m.spills,
		m.version, m.sourceTime, m.lag, m.resnapRows, m.resnapChunks, m.resnapPending, m.resnapChanges)
	return m
}

func (m *Metrics) rows(op RowOp, n int) {
	if m == nil || n == 0 || op < RowInsert || op > RowSnapshot {
		return
	}
	m.rowChanges[op].Add(float64(n))
}

func (m *Metrics) transaction() {
	if m != nil {
		m.transactions.Inc()
	}
}

func (m *Metrics) spill() {
	if m != nil {
		m.spills.Inc()
	}
}

func (m *Metrics) committed(version int64, took time.Duration, files int, bytes int64, sourceTS int64) {
	if m == nil {
		return
	}
	m.commits.Inc()
	m.commitSeconds.Observe(took.Seconds())
	m.files.Add(float64(files))
	m.bytes.Add(float64(bytes))
	m.version.Set(float64(version))
	if sourceTS > 0 {
		m.sourceTime.Set(float64(sourceTS) / 1e6)
		m.lag.Set(m.now().Sub(time.UnixMicro(sourceTS)).Seconds())
	}
}

// SetLagBytes sets binlake_ingest_lag_bytes: the bytes of source binlog
// between the lake's last commit and the source's end of binlog. The gauge
// is exported from its first measurement on (no figure before one exists).
func (m *Metrics) SetLagBytes(n int64) {
	if m == nil {
		return
	}
	m.lagBytes.Set(float64(n))
	m.lagBytesOnce.Do(func() { m.reg.MustRegister(m.lagBytes) })
}

func (m *Metrics) resnapshotChunk(rows int) {
	if m != nil {
		m.resnapChunks.Inc()
		m.resnapRows.Add(float64(rows))
	}
}

func (m *Metrics) resnapshots(pending int, changes int64) {
	if m != nil {
		m.resnapPending.Set(float64(pending))
		m.resnapChanges.Add(float64(changes))
	}
}
