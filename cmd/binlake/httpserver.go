package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/tableformat"
)

// opsServer serves /metrics, /healthz, /readyz and /status for a daemon.
type opsServer struct {
	srv    *http.Server
	status *daemonStatus
}

// newRegistry returns a registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// startOpsServer listens on addr ("" disables it) and serves until ctx ends;
// with profiles, Go's profiles (/debug/pprof/) too. Text equal to one of
// secrets never appears in /status.
func startOpsServer(ctx context.Context, addr string, profiles bool, reg *prometheus.Registry, logger *slog.Logger,
	secrets ...secret.String) (*opsServer, error) {
	o := &opsServer{status: newDaemonStatus(time.Now, secrets...)}
	if addr == "" {
		return o, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &configError{fmt.Sprintf("ingest.listen: %v", err)}
	}
	h := o.handler(reg)
	if profiles {
		h = withPprof(h)
	}
	o.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics and health endpoint stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		o.close()
	}()
	logger.Info("serving /metrics, /healthz, /readyz and /status", "addr", ln.Addr().String())
	return o, nil
}

// handler routes the ops endpoints; reg is both the metrics served and
// where /status reads the figures the ingest pipeline keeps.
func (o *opsServer) handler(reg prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready, why := o.status.readiness(); !ready {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		rep := o.status.report(reg)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep) // a failed write is the client's loss
	})
	return mux
}

// withPprof serves Go's profiles (net/http/pprof) under /debug/pprof/ beside h.
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// setReady records whether the daemon is doing its job, and why not.
func (o *opsServer) setReady(ready bool, why string) { o.status.setReady(ready, why) }

func (o *opsServer) close() {
	if o.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	o.srv.Shutdown(ctx)
}

// daemonStatus is what only the running daemon knows, for /status:
// readiness and the last error (set by the ingest loop), the lag in bytes
// and the lake's position as the daemon last read it (set by the lag
// poller). A nil *daemonStatus records nothing. Safe for concurrent use.
type daemonStatus struct {
	now     func() time.Time
	started time.Time
	secrets []string

	mu         sync.Mutex
	ready      bool
	why        string
	lastErr    string
	lastErrAt  time.Time
	lagBytes   int64
	lagBytesAt time.Time // zero: not measured yet
	lagErr     string
	lake       *daemonLake
	snapshot   *snapshotView
}

// newDaemonStatus returns the status of a daemon starting now.
func newDaemonStatus(now func() time.Time, secrets ...secret.String) *daemonStatus {
	s := &daemonStatus{now: now, started: now(), why: "starting"}
	for _, x := range secrets {
		if x != "" {
			s.secrets = append(s.secrets, x.Reveal())
		}
	}
	return s
}

// redact hides the configured secrets in an error text (the errors binlake
// reports already leave them out: this makes sure of it).
func (s *daemonStatus) redact(text string) string {
	for _, x := range s.secrets {
		text = strings.ReplaceAll(text, x, "REDACTED")
	}
	return text
}

func (s *daemonStatus) setReady(ready bool, why string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready, s.why = ready, s.redact(why)
}

func (s *daemonStatus) readiness() (bool, string) {
	if s == nil {
		return false, "no status"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready, s.why
}

// recordError keeps err as the daemon's last error.
func (s *daemonStatus) recordError(err error) {
	if s == nil || err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr, s.lastErrAt = s.redact(err.Error()), s.now()
}

// setLagBytes records a measurement of binlake_ingest_lag_bytes.
func (s *daemonStatus) setLagBytes(n int64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lagBytes, s.lagBytesAt, s.lagErr = n, s.now(), ""
}

// setLagError records why the lag in bytes could not be measured.
func (s *daemonStatus) setLagError(err error) {
	if s == nil || err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lagErr = s.redact(err.Error())
}

// setSnapshot records the initial snapshot's progress (nil: none running).
func (s *daemonStatus) setSnapshot(v *snapshotView) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshot = v
}

// sawLake records the lake's latest state as the daemon read it.
func (s *daemonStatus) sawLake(st *tableformat.State) {
	if s == nil || st == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lake = &daemonLake{Version: st.Version, CommitTime: st.CommitTime.UTC(), Position: st.Progress.Position.FilePos(),
		GTIDSet: st.Progress.Position.GTIDSet, ReadAt: s.now().UTC()}
}

// daemonReport is the body of /status (docs/metrics.md), and what binlake
// status reads from it.
type daemonReport struct {
	Ready         bool      `json:"ready"`
	Reason        string    `json:"reason,omitempty"` // why not ready (as /readyz)
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	// LastCommit is ingest's last commit in this process (the figures of
	// binlake_lake_version, binlake_ingest_source_commit_timestamp_seconds
	// and binlake_ingest_lag_seconds); absent before the first.
	LastCommit *daemonCommit `json:"last_commit,omitempty"`
	// LagBytes is binlake_ingest_lag_bytes, absent before the first
	// measurement; LagBytesError says why the latest one failed.
	LagBytes      *int64    `json:"lag_bytes,omitempty"`
	LagBytesAt    time.Time `json:"lag_bytes_at,omitzero"`
	LagBytesError string    `json:"lag_bytes_error,omitempty"`
	// Lake is the lake's latest version and source position as the daemon
	// last read it (with each lag measurement).
	Lake *daemonLake `json:"lake,omitempty"`
	// Snapshot is the initial snapshot in progress; absent when none runs.
	Snapshot *snapshotView `json:"snapshot,omitempty"`
}

// daemonCommit is ingest's last commit as its metrics hold it.
type daemonCommit struct {
	Version    int64     `json:"version"`
	SourceTime time.Time `json:"source_time,omitzero"`
	LagSeconds float64   `json:"lag_seconds"`
}

// daemonLake is the lake's state as the daemon last read it.
type daemonLake struct {
	Version    int64     `json:"version"`
	CommitTime time.Time `json:"commit_time"`
	Position   string    `json:"position,omitempty"` // binlog file:pos
	GTIDSet    string    `json:"gtid_set,omitempty"`
	ReadAt     time.Time `json:"read_at"`
}

// report is the status now. The figures the ingest pipeline keeps are read
// from its metrics in reg, so /status and /metrics never disagree.
func (s *daemonStatus) report(reg prometheus.Gatherer) daemonReport {
	gauges := gatherGauges(reg, "binlake_lake_version", "binlake_ingest_source_commit_timestamp_seconds", "binlake_ingest_lag_seconds")
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	r := daemonReport{Ready: s.ready, StartedAt: s.started.UTC(), UptimeSeconds: now.Sub(s.started).Seconds(),
		LastError: s.lastErr, LastErrorAt: s.lastErrAt.UTC(), LagBytesError: s.lagErr}
	if !s.ready {
		r.Reason = s.why
	}
	if !s.lagBytesAt.IsZero() {
		n := s.lagBytes
		r.LagBytes, r.LagBytesAt = &n, s.lagBytesAt.UTC()
	}
	if s.lake != nil {
		l := *s.lake
		r.Lake = &l
	}
	r.Snapshot = s.snapshot // replaced whole, never changed in place
	if v := gauges["binlake_lake_version"]; v > 0 {
		c := &daemonCommit{Version: int64(v), LagSeconds: gauges["binlake_ingest_lag_seconds"]}
		if ts := gauges["binlake_ingest_source_commit_timestamp_seconds"]; ts > 0 {
			c.SourceTime = time.UnixMicro(int64(ts * 1e6)).UTC()
		}
		r.LastCommit = c
	}
	return r
}

// gatherGauges returns the values of the named unlabelled gauges in reg
// (absent when not registered or not readable).
func gatherGauges(reg prometheus.Gatherer, names ...string) map[string]float64 {
	out := map[string]float64{}
	if reg == nil {
		return out
	}
	mfs, _ := reg.Gather() // a partial answer still holds what could be read
	for _, mf := range mfs {
		for _, n := range names {
			if mf.GetName() == n && len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetGauge() != nil {
				out[n] = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
	}
	return out
}
