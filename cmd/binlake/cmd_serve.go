package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/binlake/binlake/query"
	"github.com/binlake/binlake/query/render"
)

// serveMetrics are the query server's Prometheus metrics.
type serveMetrics struct {
	queries  *prometheus.CounterVec
	seconds  prometheus.Histogram
	rows     prometheus.Counter
	inFlight prometheus.Gauge
}

func newServeMetrics(reg prometheus.Registerer) *serveMetrics {
	m := &serveMetrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "binlake_serve_queries_total",
			Help: "Queries answered, by outcome (ok, refused, error, truncated)."}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "binlake_serve_query_duration_seconds",
			Help: "Time to answer a query, from request to last row.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{Name: "binlake_serve_rows_total", Help: "Rows returned."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "binlake_serve_queries_in_flight",
			Help: "Queries running now."}),
	}
	reg.MustRegister(m.queries, m.seconds, m.rows, m.inFlight)
	return m
}

// queryServer answers SQL over HTTP: GET or POST /query with sql, format
// (json or csv) and at most one of as_of, as_of_version, as_of_gtid,
// as_of_position, as form or query parameters. Rows stream as they come; at
// most maxRows are sent, and a cut result says so in the X-Binlake-Truncated
// trailer.
type queryServer struct {
	engine   *query.Engine
	sessions *query.Pool
	maxRows  int64
	slots    chan struct{}
	metrics  *serveMetrics
	logger   *slog.Logger
}

// newQueryServer serves queries on engine, at most maxConcurrent at once.
// Sessions stay warm between requests, as many as run at once: a session
// binds the tables its statements name (docs/query.md). Close its
// sessions after the last request.
func newQueryServer(engine *query.Engine, maxRows int64, maxConcurrent int, metrics *serveMetrics, logger *slog.Logger) *queryServer {
	return &queryServer{engine: engine, sessions: engine.NewPool(maxConcurrent, 0), maxRows: maxRows,
		slots: make(chan struct{}, maxConcurrent), metrics: metrics, logger: logger}
}

func (s *queryServer) handleQuery(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, http.StatusBadRequest, "refused", err)
		return
	}
	stmt := r.Form.Get("sql")
	format := r.Form.Get("format")
	if format == "" {
		format = render.FormatJSON
	}
	if format != render.FormatJSON && format != render.FormatCSV {
		s.fail(w, http.StatusBadRequest, "refused", fmt.Errorf("format %q: use json or csv", format))
		return
	}
	flags := asOfFlags{time: r.Form.Get("as_of"), gtid: r.Form.Get("as_of_gtid"), position: r.Form.Get("as_of_position")}
	if v := r.Form.Get("as_of_version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			s.fail(w, http.StatusBadRequest, "refused", fmt.Errorf("as_of_version %q: want a lake version (1 or more)", v))
			return
		}
		flags.version = n
	}
	at, err := flags.at()
	if err != nil {
		s.fail(w, http.StatusBadRequest, "refused", err)
		return
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-r.Context().Done():
		return
	}
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	ctx := r.Context()
	p, err := s.engine.Resolve(ctx, at)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "error", fmt.Errorf("as of %s: %w", at, err))
		return
	}
	sess, err := s.sessions.Get(ctx, p)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "error", err)
		return
	}
	defer s.sessions.Put(sess)
	rows, cancel, err := sess.Query(ctx, stmt)
	if err != nil {
		status, outcome := http.StatusBadRequest, "error"
		if errors.Is(err, query.ErrRefused) {
			status, outcome = http.StatusForbidden, "refused"
		}
		s.fail(w, status, outcome, err)
		return
	}
	defer cancel()
	defer rows.Close()
	ctype := "application/x-ndjson"
	if format == render.FormatCSV {
		ctype = "text/csv; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Binlake-Version", strconv.FormatInt(p.Version, 10))
	w.Header().Set("Trailer", "X-Binlake-Truncated, X-Binlake-Error")
	out, _ := render.NewWriter(format, w)
	n, truncated, err := render.WriteRows(rows, out, s.maxRows)
	s.metrics.rows.Add(float64(n))
	s.metrics.seconds.Observe(time.Since(start).Seconds())
	outcome := "ok"
	switch {
	case err != nil:
		// The status is sent: the trailer carries the error.
		w.Header().Set("X-Binlake-Error", err.Error())
		outcome = "error"
		s.logger.Warn("query failed while streaming", "err", err, "rows", n)
	case truncated:
		w.Header().Set("X-Binlake-Truncated", strconv.FormatInt(s.maxRows, 10))
		outcome = "truncated"
	}
	s.metrics.queries.WithLabelValues(outcome).Inc()
}

func (s *queryServer) fail(w http.ResponseWriter, status int, outcome string, err error) {
	s.metrics.queries.WithLabelValues(outcome).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func runServe(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "serve", "-c binlake.yaml   (SQL over HTTP: GET/POST /query?sql=…&as_of=…&format=json|csv)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	lk, engine, err := openQueryEngine(ctx, env, *cfgPath, false, true, true)
	if err != nil {
		return err
	}
	defer lk.store.Close()
	defer engine.Close()
	sc := lk.cfg.Serve
	reg := prometheus.NewRegistry()
	srv := newQueryServer(engine, sc.MaxRows, sc.MaxConcurrent, newServeMetrics(reg), lk.logger)
	defer srv.sessions.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/query", srv.handleQuery)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", sc.Listen)
	if err != nil {
		return &configError{fmt.Sprintf("serve.listen %q: %v", sc.Listen, err)}
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	lk.logger.Info("serving SQL", "addr", ln.Addr().String(), "lake", lakeURL(lk.cfg))
	fmt.Fprintf(env.stderr, "binlake serve: listening on http://%s/query\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return hs.Shutdown(shutdown)
	}
}
