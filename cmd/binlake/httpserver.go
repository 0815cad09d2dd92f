package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// opsServer serves /metrics, /healthz and /readyz for a daemon.
type opsServer struct {
	srv   *http.Server
	ready atomic.Bool
	why   atomic.Value // string: why not ready
}

// newRegistry returns a registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// startOpsServer listens on addr ("" disables it) and serves until ctx ends.
func startOpsServer(ctx context.Context, addr string, reg *prometheus.Registry, logger *slog.Logger) (*opsServer, error) {
	o := &opsServer{}
	o.why.Store("starting")
	if addr == "" {
		return o, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if o.ready.Load() {
			fmt.Fprintln(w, "ready")
			return
		}
		http.Error(w, "not ready: "+o.why.Load().(string), http.StatusServiceUnavailable)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &configError{fmt.Sprintf("ingest.listen: %v", err)}
	}
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics and health endpoint stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		o.close()
	}()
	logger.Info("serving /metrics, /healthz and /readyz", "addr", ln.Addr().String())
	return o, nil
}

// setReady records whether the daemon is doing its job, and why not.
func (o *opsServer) setReady(ready bool, why string) {
	o.ready.Store(ready)
	o.why.Store(why)
}

func (o *opsServer) close() {
	if o.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	o.srv.Shutdown(ctx)
}
