package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/tableformat"
)

// freeAddr returns a local address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// statusLake builds buildLake's lake plus a compaction (a snapshot of the
// table as of sequence 4) and a vacuum (retention from sequence 4), and
// returns a config naming it with ingest.listen set to listen.
func statusLake(t *testing.T, listen string) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := objstore.NewLocal(filepath.Join(dir, "wh", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	lake := buildLake(t, store)
	lake.Snapshot(1)
	st := lake.State()
	if _, err := lake.Log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindVacuum,
		Retention: &tableformat.Retention{FromSeq: 4, FromTime: time.UnixMicro(st.Progress.MaxTS).UTC()}, Progress: st.Progress}); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\ningest:\n  listen: %q\n", dir, listen))
}

// TestStatusLakeOnly: without a daemon, status shows the lake and says the
// daemon is not reachable, in both formats, and exits 0.
func TestStatusLakeOnly(t *testing.T) {
	addr := freeAddr(t)
	cfg := statusLake(t, addr)
	code, out, errs := runCLI(t, nil, "status", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	t.Logf("binlake status:\n%s", out)
	for _, want := range []string{
		"version      6 (vacuum)", "mysql-bin.000001:400, GTID 0-1-4", "source time  2026-11-01T12:00:00.000000Z",
		"history from 2026-11-01T12:00:00.000000Z (seq 4)",
		"not reachable at " + addr + " (showing the lake only)",
		"shop.purchases  2     3", "2/2", "1/2", "  4\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}

	code, out, errs = runCLI(t, nil, "status", "-c", cfg, "--format", "json")
	if code != 0 {
		t.Fatalf("json: exit %d: %s", code, errs)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	l := rep.Lake
	if l.Version != 6 || l.Kind != "vacuum" || l.Position != "mysql-bin.000001:400" || l.GTIDSet != "0-1-4" || l.MaxSeq != 4 ||
		l.SourceTime != "2026-11-01T12:00:00.000000Z" || l.Retention == nil || l.Retention.FromSeq != 4 {
		t.Fatalf("lake: %+v", l)
	}
	if rep.Daemon.Reachable || rep.Daemon.Address != addr || rep.Daemon.Error == "" || rep.Daemon.Status != nil {
		t.Fatalf("daemon: %+v", rep.Daemon)
	}
	// The counts are binlake tables' counts.
	code, tout, _ := runCLI(t, nil, "tables", "-c", cfg, "--format", "json")
	var tr tableRow
	if code != 0 || json.Unmarshal([]byte(tout), &tr) != nil {
		t.Fatalf("tables: %d %s", code, tout)
	}
	if len(rep.Tables) != 1 {
		t.Fatalf("tables: %+v", rep.Tables)
	}
	ts := rep.Tables[0]
	if ts.Table != "shop.purchases" || ts.DataRows != tr.DataRows || ts.DataFiles != tr.DataFiles || ts.SnapshotRows != tr.SnapshotRows ||
		ts.SnapshotFiles != 1 || ts.Bytes != tr.Bytes || ts.Files != 3 || ts.LastSnapshotSeq != 4 ||
		ts.Rows != 2 || !ts.RowsExact || tr.Rows != 2 || !tr.RowsExact {
		t.Fatalf("table %+v, tables says %+v", ts, tr)
	}

	// No ingest.listen: no daemon to ask.
	noListen := statusLake(t, "")
	code, out, _ = runCLI(t, nil, "status", "-c", noListen)
	if code != 0 || !strings.Contains(out, "ingest.listen is empty") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestStatusFakeDaemon: status reads a daemon's /status and shows it.
func TestStatusFakeDaemon(t *testing.T) {
	started := time.Now().Add(-90 * time.Minute).UTC()
	bytesBehind := int64(3 << 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(daemonReport{Ready: false, Reason: "dial tcp 10.0.0.5:3306: connection refused",
			StartedAt: started, UptimeSeconds: 5400,
			LastError: "dial tcp 10.0.0.5:3306: connection refused", LastErrorAt: started.Add(time.Hour),
			LastCommit: &daemonCommit{Version: 7, SourceTime: started, LagSeconds: 0.25},
			LagBytes:   &bytesBehind, LagBytesAt: time.Now().UTC(),
			Lake: &daemonLake{Version: 9, CommitTime: started, Position: "mysql-bin.000009:4", GTIDSet: "0-1-77", ReadAt: time.Now().UTC()}})
	}))
	defer srv.Close()
	cfg := statusLake(t, srv.Listener.Addr().String())
	code, out, errs := runCLI(t, nil, "status", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	t.Logf("binlake status:\n%s", out)
	for _, want := range []string{"NOT READY: dial tcp 10.0.0.5:3306: connection refused; up 1h30m0s", "version 7", "250ms behind",
		"3.0 MiB", "version 9 at mysql-bin.000009:4, GTID 0-1-77", "last error", "shop.purchases"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}
	code, out, _ = runCLI(t, nil, "status", "-c", cfg, "--format", "json")
	var rep statusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Daemon.Reachable || rep.Daemon.Status == nil ||
		rep.Daemon.Status.LastCommit.Version != 7 || *rep.Daemon.Status.LagBytes != bytesBehind || rep.Lake.Version != 6 {
		t.Fatalf("json: exit %d\n%s", code, out)
	}

	// Something else on the port: not a daemon, still exit 0.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	cfg = statusLake(t, other.Listener.Addr().String())
	code, out, _ = runCLI(t, nil, "status", "-c", cfg)
	if code != 0 || !strings.Contains(out, "not reachable at") || !strings.Contains(out, "404") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// fakeGauges registers the gauges /status reads from the ingest metrics.
func fakeGauges(reg *prometheus.Registry, version, sourceTS, lag float64) {
	for name, v := range map[string]float64{"binlake_lake_version": version,
		"binlake_ingest_source_commit_timestamp_seconds": sourceTS, "binlake_ingest_lag_seconds": lag} {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: name})
		g.Set(v)
		reg.MustRegister(g)
	}
}

// TestStatusHandler: the ops server's /status reports readiness, the last
// error without secrets, the lag and the lake; /readyz agrees.
func TestStatusHandler(t *testing.T) {
	const pw = "PW-SENTINEL-0ddba11"
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	clock := now
	o := &opsServer{status: newDaemonStatus(func() time.Time { return clock }, secret.String(pw), "")}
	reg := prometheus.NewRegistry()
	h := o.handler(reg)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	report := func() daemonReport {
		t.Helper()
		code, body := get("/status")
		var r daemonReport
		if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
			t.Fatalf("/status: %d %s", code, body)
		}
		if strings.Contains(body, pw) {
			t.Fatalf("/status shows a secret:\n%s", body)
		}
		return r
	}

	r := report()
	if r.Ready || r.Reason != "starting" || r.LastCommit != nil || r.LagBytes != nil || r.Lake != nil || !r.StartedAt.Equal(now) {
		t.Fatalf("at start: %+v", r)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Fatalf("/readyz: %d %s", code, body)
	}

	clock = now.Add(time.Hour)
	o.setReady(true, "")
	o.status.sawLake(&tableformat.State{Version: 12, CommitTime: now, Progress: tableformat.Progress{
		Position: tableformat.Position{GTIDSet: "0-1-9", File: "mysql-bin.000002", Pos: 77}}})
	o.status.setLagBytes(4096)
	fakeGauges(reg, 12, float64(now.Unix()), 0.5)
	r = report()
	if !r.Ready || r.Reason != "" || r.UptimeSeconds != 3600 || r.LagBytes == nil || *r.LagBytes != 4096 || !r.LagBytesAt.Equal(clock) ||
		r.LastCommit == nil || r.LastCommit.Version != 12 || r.LastCommit.LagSeconds != 0.5 || !r.LastCommit.SourceTime.Equal(now) ||
		r.Lake == nil || r.Lake.Version != 12 || r.Lake.Position != "mysql-bin.000002:77" || r.Lake.GTIDSet != "0-1-9" {
		t.Fatalf("running: %+v", r)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz when ready: %d", code)
	}

	// An error holding a secret (binlake's own texts never do; a driver's
	// might): kept, the secret hidden.
	err := errors.New("connect as binlake:" + pw + "@db: connection reset")
	o.setReady(false, err.Error())
	o.status.recordError(err)
	o.status.setLagError(errors.New("lag probe: access denied"))
	r = report()
	if r.Ready || !strings.Contains(r.LastError, "connection reset") || !strings.Contains(r.Reason, "connection reset") ||
		!r.LastErrorAt.Equal(clock) || r.LagBytesError != "lag probe: access denied" || *r.LagBytes != 4096 {
		t.Fatalf("after an error: %+v", r)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || strings.Contains(body, pw) {
		t.Fatalf("/readyz: %d %s", code, body)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/status", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /status: %d", rec.Code)
	}
}

// TestStatusReadsIngestMetrics: the gauges /status reads are the ones the
// ingest pipeline registers (a rename would silently empty last_commit).
func TestStatusReadsIngestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	ingest.NewMetrics(reg, nil)
	names := []string{"binlake_lake_version", "binlake_ingest_source_commit_timestamp_seconds", "binlake_ingest_lag_seconds"}
	got := gatherGauges(reg, names...)
	for _, n := range names {
		if _, ok := got[n]; !ok {
			t.Errorf("ingest registers no gauge %s", n)
		}
	}
}

// TestLagPollerFeedsStatus: the lag poller hands its measurement and the
// lake state it read to the daemon's status.
func TestLagPollerFeedsStatus(t *testing.T) {
	ctx := context.Background()
	lake := tableformat.NewLog(tableformat.NewMemStore(), tableformat.LogOptions{})
	if _, err := lake.Create(ctx, "shop", 10); err != nil {
		t.Fatal(err)
	}
	pos := tableformat.Position{GTIDSet: "0-1-5", File: "binlog.000001", Pos: 400}
	if err := ingest.Begin(ctx, lake, pos); err != nil {
		t.Fatal(err)
	}
	status := newDaemonStatus(time.Now)
	probe := &fakeProbe{n: 1234}
	p := &lagPoller{probe: probe, lake: lake, metrics: ingest.NewMetrics(prometheus.NewRegistry(), nil), interval: time.Hour,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)), status: status}
	p.poll(ctx)
	r := status.report(nil)
	if r.LagBytes == nil || *r.LagBytes != 1234 || r.Lake == nil || r.Lake.Version != 2 || r.Lake.Position != "binlog.000001:400" {
		t.Fatalf("after a measurement: %+v %+v", r, r.Lake)
	}
	probe.set(0, errors.New("access denied"))
	p.poll(ctx)
	if r = status.report(nil); *r.LagBytes != 1234 || r.LagBytesError != "access denied" {
		t.Fatalf("after a failure: %+v", r)
	}
	probe.set(7, nil)
	p.poll(ctx)
	if r = status.report(nil); *r.LagBytes != 7 || r.LagBytesError != "" {
		t.Fatalf("after recovery: %+v", r)
	}
}

// TestStatusRealOpsServer: binlake status against the daemon's own ops
// server.
func TestStatusRealOpsServer(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := newRegistry()
	ingest.NewMetrics(reg, nil)
	ops, err := startOpsServer(ctx, addr, false, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer ops.close()
	ops.setReady(true, "")
	ops.status.setLagBytes(0)
	cfg := statusLake(t, addr)
	code, out, errs := runCLI(t, nil, "status", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	t.Logf("binlake status:\n%s", out)
	for _, want := range []string{"ready, up ", "(" + addr + ")", "none since the daemon started", "binlog to read  0 B"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}
}

// TestStatusShowsSnapshotProgress: while an initial snapshot runs, the
// daemon's /status, binlake status and /metrics show its progress in total
// and the tables being read; once it is done, /status no longer does.
func TestStatusShowsSnapshotProgress(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := newRegistry()
	ops, err := startOpsServer(ctx, addr, false, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer ops.close()
	ops.setReady(true, "")
	progress := newSnapshotProgress(io.Discard, reg, ops.status)
	started := time.Now().Add(-10 * time.Second)
	sp := mysql.SnapshotProgress{Tables: 10000, TablesDone: 2500, Rows: 7500, EstimatedRows: 30000, Started: started,
		Reading: []mysql.TableProgress{{DB: "shop", Table: "t02500", Rows: 3, Started: started}}}
	progress.update(sp)
	cfg := statusLake(t, addr)
	code, out, errs := runCLI(t, nil, "status", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !regexp.MustCompile(`snapshot +2500/10000 tables, 7500 rows \(~25% of ~30000\), \d+ rows/s, ETA \d+s; reading shop.t02500 \(3 rows\)`).MatchString(out) {
		t.Errorf("status lacks the snapshot's line:\n%s", out)
	}
	metrics := gatherGauges(reg, "binlake_snapshot_tables", "binlake_snapshot_tables_done", "binlake_snapshot_rows", "binlake_snapshot_estimated_rows")
	if want := map[string]float64{"binlake_snapshot_tables": 10000, "binlake_snapshot_tables_done": 2500, "binlake_snapshot_rows": 7500,
		"binlake_snapshot_estimated_rows": 30000}; !maps.Equal(metrics, want) {
		t.Errorf("metrics %v, want %v", metrics, want)
	}
	sp.TablesDone, sp.Rows, sp.Reading = 10000, 30000, nil
	progress.done(sp)
	if r := ops.status.report(reg); r.Snapshot != nil {
		t.Errorf("after the snapshot, /status still shows %+v", r.Snapshot)
	}
}

// TestStatusResnapshotsAndGaps: status shows the re-snapshots in progress
// and the gaps of the lake's history, in both formats.
func TestStatusResnapshotsAndGaps(t *testing.T) {
	ctx := context.Background()
	cfg := statusLake(t, "")
	lk, err := openLake(ctx, &cliEnv{getenv: func(string) (string, bool) { return "", false }}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.store.Close()
	st, err := lk.log.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := st.Progress
	p.PrevSeq = p.MaxSeq
	p.Position = tableformat.Position{File: "mysql-bin.000009", Pos: 4, GTIDSet: "0-1-90"}
	if _, err := lk.log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindIngest, Progress: p,
		Gap:        &tableformat.GapOpen{Reason: "binlog purged", Tables: []string{"shop.purchases"}},
		Resnapshot: []tableformat.ResnapshotOp{{Op: tableformat.ResnapshotRequest, DB: "shop", Name: "purchases", Reason: "binlog purged"}}}); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, nil, "status", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"re-snapshot  shop.purchases: waiting for the ingest daemon (binlog purged)",
		"gap          after seq 4 (mysql-bin.000001:400, GTID 0-1-4 → mysql-bin.000009:4, GTID 0-1-90), open until shop.purchases are re-read: binlog purged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, nil, "status", "-c", cfg, "--format", "json")
	var rep statusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("json: exit %d:\n%s", code, out)
	}
	if r := rep.Lake.Resnapshots; len(r) != 1 || r[0].Table != "shop.purchases" || r[0].Read || r[0].Chunks != 0 || r[0].Since != 4 {
		t.Errorf("resnapshots: %+v", r)
	}
	if g := rep.Lake.Gaps; len(g) != 1 || g[0].AfterSeq != 4 || g[0].UntilSeq != 0 || len(g[0].Pending) != 1 {
		t.Errorf("gaps: %+v", g)
	}
}
