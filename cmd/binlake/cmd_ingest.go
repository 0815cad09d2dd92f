package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/binlake/binlake/compaction"
	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/query"
	"github.com/binlake/binlake/tableformat"
)

func runIngest(ctx context.Context, env *cliEnv, args []string) (err error) {
	// SIGTERM is how the daemon is stopped, at any moment: one that
	// interrupts the start (reading the lake, the snapshot) is a clean stop
	// too. Nothing is half-done: a commit either landed or did not.
	defer func() {
		if err != nil && ctx.Err() != nil && !isUsage(err) {
			fmt.Fprintf(env.stderr, "binlake ingest: stopped by a signal (%v)\n", err)
			err = nil
		}
	}()
	fs, cfgPath := newFlags(env, "ingest", "-c binlake.yaml [--exit-when-caught-up] [--start-position FILE:POS | --start-gtid SET]")
	caughtUp := fs.Bool("exit-when-caught-up", false, "stop once everything the source had when ingest started is in the lake")
	startPos := fs.String("start-position", "", "start (or rewind the lake and replay) from this binlog position, FILE:POS")
	startGTID := fs.String("start-gtid", "", "start (or rewind the lake and replay) from this GTID set")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	start, err := startPoint(*startPos, *startGTID)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, env.getenv)
	if err != nil {
		return err
	}
	if err := cfg.validateConnection(); err != nil {
		return err
	}
	logger := newLogger(cfg.Log, env.stderr)
	setMemoryLimit(cfg.Ingest.MemoryLimit, env.getenv, logger)
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	now, err := clockFromEnv(env.getenv, logger)
	if err != nil {
		return err
	}
	lakeLog := tableformat.NewLog(store, tableformat.LogOptions{Logger: logger, Now: now, EntryCacheBytes: ingestEntryCacheBytes})
	st, err := lakeLog.Create(ctx, cfg.Source.Name, cfg.Lake.CheckpointInterval)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", errStorage, lakeURL(cfg), err)
	}

	// Where to read from: a rewind to the start point, the lake's own
	// position, or (a new lake, or snapshot: always) the position of an
	// initial snapshot, or with snapshot: never the server's current one.
	from := st.Progress.Position
	if start != nil {
		if from, err = ingest.Rewind(ctx, lakeLog, *start); err != nil {
			return err
		}
	}
	srcCfg, err := sourceConfig(cfg, *caughtUp)
	if err != nil {
		return err
	}
	srcCfg.Logger = logger
	reg := newRegistry()
	ops, err := startOpsServer(ctx, cfg.Ingest.Listen, cfg.Ingest.Pprof, reg, logger,
		cfg.Source.Password, cfg.Warehouse.S3.SecretAccessKey, cfg.Warehouse.S3.SessionToken)
	if err != nil {
		return err
	}
	defer ops.close()
	fault, err := faultFromEnv(env.getenv, logger)
	if err != nil {
		return err
	}
	metrics := ingest.NewMetrics(reg, nil)
	lk := &lake{cfg: cfg, store: store, log: lakeLog, logger: logger}
	// One query engine serves the re-snapshots' comparisons and the
	// scheduled compaction: each write opens a DuckDB of its own.
	engine, err := newQueryEngineWith(lk, false, false, fmt.Sprintf("%dB", max(cfg.Ingest.MemoryBudget, query.MinResnapshotMemory)))
	if err != nil {
		return err
	}
	defer engine.Close()
	rereader := mysql.NewRereader(srcCfg)
	defer rereader.Close()
	opts := cfg.Ingest.options()
	opts.Logger, opts.Metrics, opts.Fault, opts.Rereader, opts.Differ = logger, metrics, fault, rereader, differ{engine}
	p := ingest.New(lakeLog, opts)
	lag := &lagPoller{probe: mysql.NewLagProbe(srcCfg), lake: lakeLog, metrics: metrics, interval: lagPollInterval, logger: logger,
		status: ops.status}
	defer lag.start(ctx)()
	if cfg.Compaction.Interval > 0 {
		defer startCompaction(ctx, lk, engine, compaction.NewMetrics(reg))()
	}
	newLake := from.IsZero()
	if start == nil && ((newLake && cfg.Source.Snapshot == "auto") || cfg.Source.Snapshot == "always") {
		// What streaming needs is checked before the snapshot commits
		// anything: a setup that cannot stream leaves no lake behind.
		if err := mysql.Preflight(ctx, srcCfg); err != nil {
			return sourceError(err)
		}
		ops.setReady(true, "")
		if from, err = takeSnapshot(ctx, p, srcCfg, !newLake, logger, newSnapshotProgress(env.stderr, reg, ops.status)); err != nil {
			return sourceError(err)
		}
	}
	logger.Info("ingest started", "lake", lakeURL(cfg), "source", fmt.Sprintf("%s:%d", cfg.Source.Host, cfg.Source.Port),
		"from", from.String(), "version", st.Version)
	s := &streamer{p: p, log: lakeLog, src: srcCfg, logger: logger, ops: ops, checkTables: !newLake && start == nil,
		healGaps: start == nil && cfg.Source.OnPositionLost == "resnapshot"}
	return s.run(ctx, from)
}

// ingestEntryCacheBytes bounds the decoded log entries the daemon keeps
// (tableformat.LogOptions.EntryCacheBytes). The daemon writes entries and
// hardly reads one back, so it keeps the small ones only: kept whole, the
// entries of a lake of 10,000 tables (megabytes each) were a quarter of its
// heap while catching up, and grew with every commit (BENCHMARKS.md, "The
// daemon at many tables").
const ingestEntryCacheBytes = 1 << 20

// startPoint is the point --start-position or --start-gtid names (nil:
// neither).
func startPoint(startPos, startGTID string) (*ingest.StartPoint, error) {
	switch {
	case startPos != "" && startGTID != "":
		return nil, &usageError{"give --start-position or --start-gtid, not both"}
	case startPos != "":
		file, pos, err := tableformat.ParseFilePos(startPos)
		if err != nil {
			return nil, &usageError{"--start-position: " + err.Error()}
		}
		return &ingest.StartPoint{File: file, Pos: pos}, nil
	case startGTID != "":
		if _, err := tableformat.ParseGTIDSet(startGTID); err != nil {
			return nil, &usageError{"--start-gtid: " + err.Error()}
		}
		return &ingest.StartPoint{GTID: startGTID}, nil
	}
	return nil, nil
}

// streamer runs the pipeline on the source's binlog (runSource) until the
// daemon stops.
type streamer struct {
	p      *ingest.Pipeline
	log    *tableformat.Log
	src    mysql.SourceConfig
	logger *slog.Logger
	ops    *opsServer
	// checkTables: each run first looks for mirrored tables the lake does
	// not have (checkMirrored).
	checkTables bool
	// healGaps: a lost binlog position opens a gap and goes on from the
	// source's position (source.on_position_lost: resnapshot).
	healGaps bool
}

// run streams from the lake's position, from, and reconnects there after a
// failure: every commit holds whole transactions and its position, so a
// source opened there replays nothing twice (runSource reads it from the
// lake each time: a commit whose outcome the failure hid may have landed).
// Failures that retrying cannot fix end the run; so do maxStalledAttempts
// failures in a row without progress — storage that cannot be read counts
// as one. A stop by ctx returns nil.
func (s *streamer) run(ctx context.Context, from tableformat.Position) error {
	stalled := 0
	for {
		err := runSource(ctx, s.p, s.log, s.src, s.logger, s.ops, s.checkTables)
		s.ops.setReady(false, fmt.Sprint(err))
		if err == nil || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			if err != nil {
				s.logger.Info("ingest stopped: the last whole transactions are committed")
			}
			return nil
		}
		s.ops.status.recordError(err)
		if errors.Is(err, mysql.ErrPositionLost) && s.healGaps {
			// Go on from the source's position; the lake records the gap
			// and re-reads every table (source.on_position_lost).
			if herr := healGap(ctx, s.log, s.src, err, s.logger); herr != nil {
				return sourceError(fmt.Errorf("%w (then going on from the source's position: %w)", err, herr))
			}
			stalled = 0
			continue
		}
		if fatalIngestError(err) {
			return sourceError(err)
		}
		latest, lerr := s.log.Latest(ctx)
		switch {
		case lerr != nil && (errors.Is(lerr, tableformat.ErrCorrupt) || errors.Is(lerr, tableformat.ErrNoLake)):
			return fmt.Errorf("%w (then reading the lake: %w)", err, lerr)
		case lerr != nil:
			err = fmt.Errorf("%w (then reading the lake: %w)", err, lerr)
			stalled++
		case latest.Progress.Position == from:
			stalled++
		default:
			stalled = 0
			from = latest.Progress.Position
		}
		if stalled >= maxStalledAttempts {
			return fmt.Errorf("giving up after %d attempts without progress: %w", stalled, err)
		}
		wait := backoff(stalled)
		s.logger.Warn("ingest interrupted; reconnecting from the lake's position", "err", err, "from", from.String(), "in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
	}
}

// takeSnapshot reads a consistent snapshot of the source into the lake as
// one commit and returns the binlog position to stream from. With resync,
// the snapshot replaces the lake's contents (history kept).
func takeSnapshot(ctx context.Context, p *ingest.Pipeline, cfg mysql.SourceConfig, resync bool, logger *slog.Logger,
	progress *snapshotProgress) (tableformat.Position, error) {
	snapCfg := cfg
	snapCfg.StopAtCaughtUp = false
	snap, err := mysql.NewSnapshotSource(ctx, snapCfg)
	if err != nil {
		return tableformat.Position{}, fmt.Errorf("initial snapshot: %w", err)
	}
	defer snap.Close()
	logger.Info("initial snapshot started", "position", snap.Position().String(), "tables", len(snap.Tables()), "readers", snap.Readers(), "resync", resync)
	var src ingest.Source = snap
	if resync {
		src = ingest.Resync(snap)
	}
	stop := make(chan struct{})
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				progress.done(snap.Progress())
				return
			case <-tick.C:
				progress.update(snap.Progress())
			}
		}
	}()
	err = p.Run(ctx, src)
	close(stop)
	<-followed
	if err != nil {
		return tableformat.Position{}, fmt.Errorf("initial snapshot: %w", err)
	}
	if zd := snap.ZeroDates(); zd > 0 {
		logger.Warn("zero dates stored as NULL", "count", zd)
	}
	logger.Info("initial snapshot committed", "position", snap.Position().String())
	return snap.Position(), nil
}

// healGap goes on past binlog the source no longer has: an entry that moves
// the lake's position to the source's current one, opens a gap in the
// history (FORMAT.md §16) and requests a re-snapshot of every table the
// source mirrors or the lake holds; the gap closes when they are committed.
func healGap(ctx context.Context, l *tableformat.Log, cfg mysql.SourceConfig, cause error, logger *slog.Logger) error {
	st, err := l.Latest(ctx)
	if err != nil {
		return err
	}
	now, clock, err := mysql.ServerPosition(ctx, cfg)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	tables, err := mysql.MirroredTables(ctx, cfg)
	if err != nil {
		return err
	}
	for _, t := range tables {
		names[t[0]+"."+t[1]] = true
	}
	for t := range st.Tables.Values() {
		if t.DroppedSeq == 0 {
			n := t.Current()
			names[n.DB+"."+n.Name] = true
		}
	}
	reason := fmt.Sprintf("the source no longer had the binlog from %s (%v)", st.Progress.Position, cause)
	gap := &tableformat.GapOpen{Reason: reason, Tables: slices.Sorted(maps.Keys(names))}
	var ops []tableformat.ResnapshotOp
	for _, n := range gap.Tables {
		db, name, _ := strings.Cut(n, ".")
		ops = append(ops, tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: db, Name: name, Reason: "binlog purged"})
	}
	p := st.Progress
	next, err := l.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindIngest, Gap: gap, Resnapshot: ops,
		Progress: tableformat.Progress{Position: now, PrevSeq: p.MaxSeq, MaxSeq: p.MaxSeq, MaxTS: max(p.MaxTS, clock)}})
	if err != nil {
		return err
	}
	logger.Warn("the source no longer has the lake's binlog position: going on from its current one; every table is re-read, "+
		"and points between are refused until then (source.on_position_lost: resnapshot)",
		"lost", p.Position.String(), "from", now.String(), "version", next.Version, "tables", len(gap.Tables))
	return nil
}

// newlyMirrored is the reason of the re-snapshot of a table the lake starts
// to mirror.
const newlyMirrored = "the source holds it and the lake mirrors it now (source.include)"

// checkMirrored has the pipeline's next run request a re-snapshot of every
// table the source holds and the configuration mirrors but the lake does
// not have once the stream reaches the position the tables were listed at
// (source.include widened since the lake began): the daemon reads it while
// it streams, instead of it being ignored until a new lake. Tables created
// in the binlog the lake has yet to read are in the lake by then.
func checkMirrored(ctx context.Context, p *ingest.Pipeline, cfg mysql.SourceConfig) error {
	tables, err := mysql.MirroredTables(ctx, cfg)
	if err != nil {
		return err
	}
	at, _, err := mysql.ServerPosition(ctx, cfg)
	if err != nil {
		return err
	}
	p.CheckMirrored(ingest.MirrorCheck{At: at, Tables: tables, Reason: newlyMirrored})
	return nil
}

// maxStalledAttempts bounds reconnections that make no progress: with
// backoff's waits, about six minutes of an unreachable source or storage.
const maxStalledAttempts = 20

// backoff is the wait before reconnection attempt n: exponential from
// 500 ms to 30 s, with jitter.
func backoff(n int) time.Duration {
	d := min(30*time.Second, 500*time.Millisecond<<min(n, 6))
	return d/2 + rand.N(d/2+1)
}

// runSource opens the binlog at the lake's position and runs the pipeline
// on it.
func runSource(ctx context.Context, p *ingest.Pipeline, lakeLog *tableformat.Log, cfg mysql.SourceConfig,
	logger *slog.Logger, ops *opsServer, checkTables bool) error {
	st, err := lakeLog.Latest(ctx)
	if err != nil {
		return fmt.Errorf("read the lake's position: %w", err)
	}
	from := st.Progress.Position
	cfg.TableCharsets = tableCharsets(st)
	src, err := mysql.NewBinlogSource(ctx, cfg, from)
	if err != nil {
		return err
	}
	defer src.Close()
	if from.IsZero() {
		// A new lake without a snapshot starts where the server is now.
		if err := ingest.Begin(ctx, lakeLog, src.Start()); err != nil {
			return err
		}
	}
	if checkTables {
		if err := checkMirrored(ctx, p, cfg); err != nil {
			return err
		}
	}
	ops.setReady(true, "")
	err = p.Run(ctx, src)
	if zd := src.ZeroDates(); zd > 0 {
		logger.Warn("zero dates stored as NULL", "count", zd)
	}
	return err
}

// tableCharsets lists the default charsets the lake knows of its live
// tables, for the source's DDL parser.
func tableCharsets(st *tableformat.State) map[[2]string]string {
	out := map[[2]string]string{}
	for t := range st.Tables.Values() {
		if t.DroppedSeq != 0 || t.Schema().Charset == "" {
			continue
		}
		n := t.Current()
		out[[2]string{n.DB, n.Name}] = t.Schema().Charset
	}
	return out
}

// fatalIngestError reports errors that retrying cannot fix.
func fatalIngestError(err error) bool {
	var ce *configError
	var ive *tableformat.InvalidValueError
	return errors.Is(err, mysql.ErrPositionLost) || errors.Is(err, mysql.ErrTLSCertificate) || errors.Is(err, tableformat.ErrConflict) ||
		errors.Is(err, tableformat.ErrCorrupt) || errors.As(err, &ce) || errors.As(err, &ive) ||
		// The source's settings and grants: retrying does not fix them.
		errors.Is(err, mysql.ErrNotRowFormat) || errors.Is(err, mysql.ErrNoRowMetadata) || errors.Is(err, mysql.ErrPartialRowImage) ||
		mysql.IsAccessDenied(err) || errors.Is(err, mysql.ErrNoSelect) ||
		// Storage that refuses the key (read-only): retrying does not fix it.
		errors.Is(err, fs.ErrPermission)
}

// sourceError marks a lost position for its exit code.
func sourceError(err error) error {
	if errors.Is(err, mysql.ErrPositionLost) {
		return &exitError{code: exitPositionLost, err: err}
	}
	return err
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// sourceConfig turns the config into the binlog source's settings.
func sourceConfig(cfg *Config, stopAtCaughtUp bool) (mysql.SourceConfig, error) {
	s := cfg.Source
	sc := mysql.SourceConfig{Flavor: s.Flavor, Host: s.Host, Port: uint16(s.Port), User: s.User, Password: s.Password,
		ServerID: uint32(s.ServerID), HeartbeatPeriod: s.Heartbeat, StopAtCaughtUp: stopAtCaughtUp,
		Include: tableFilter(s.Include, s.Exclude)}
	strategy, err := mysql.ParseSnapshotStrategy(s.SnapshotStrategy)
	if err != nil {
		return sc, &configError{"source.snapshot_strategy: " + err.Error()}
	}
	sc.SnapshotStrategy = strategy
	if s.TLS.Mode == "disabled" {
		return sc, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.TLS.ServerName}
	if tc.ServerName == "" {
		tc.ServerName = s.Host
	}
	switch s.TLS.Mode {
	case "required":
		tc.InsecureSkipVerify = true // encrypted, not verified: the mode's meaning
	case "verify-ca", "verify-full":
		pem, err := os.ReadFile(s.TLS.CAFile)
		if err != nil {
			return sc, &configError{fmt.Sprintf("source.tls.ca_file: %v", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return sc, &configError{fmt.Sprintf("source.tls.ca_file: %s holds no PEM certificate", s.TLS.CAFile)}
		}
		tc.RootCAs = pool
		if s.TLS.Mode == "verify-ca" {
			// Verify the chain but not the name.
			tc.InsecureSkipVerify = true
			tc.VerifyPeerCertificate = verifyChainOnly(pool)
		}
	}
	sc.TLS = tc
	return sc, nil
}

// verifyChainOnly checks that the server's certificate chains to pool,
// without checking its name (TLS mode verify-ca).
func verifyChainOnly(pool *x509.CertPool) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("the server sent no certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter}); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
		}
		return nil
	}
}

// setMemoryLimit gives the Go runtime a soft memory limit, so the garbage
// collector works harder before the heap outgrows it, unless GOMEMLIMIT
// already sets one.
func setMemoryLimit(limit int64, getenv func(string) (string, bool), logger *slog.Logger) {
	if _, ok := getenv("GOMEMLIMIT"); ok || limit <= 0 {
		return
	}
	debug.SetMemoryLimit(limit)
	logger.Debug("memory limit set", "bytes", limit)
}

// startCompaction runs the compaction policy every compaction.interval
// beside ingest, with engine (DuckDB's memory comes on top of the daemon's:
// query.memory_limit), until the returned func is called or ctx ends. A
// failed round is logged and the next one tries again.
func startCompaction(ctx context.Context, lk *lake, engine *query.Engine, metrics *compaction.Metrics) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	c := &compaction.Compactor{Log: lk.log, Writer: engine, Policy: lk.cfg.Compaction.policy(), Logger: lk.logger, Metrics: metrics}
	go func() {
		defer close(done)
		tick := time.NewTicker(lk.cfg.Compaction.Interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := c.RunAll(ctx); err != nil && ctx.Err() == nil {
				lk.logger.Warn("scheduled compaction failed; trying again next round", "err", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// differ is the query engine as ingest's re-snapshot Differ (query does not
// import ingest).
type differ struct{ e *query.Engine }

func (d differ) ResnapshotCompare(ctx context.Context, st *tableformat.State, job *tableformat.ResnapshotJob, tableID int64) (ingest.ResnapshotDiff, error) {
	diff, err := d.e.ResnapshotCompare(ctx, st, job, tableID)
	if err != nil {
		return nil, err
	}
	return diff, nil
}
