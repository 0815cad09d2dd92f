package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/tableformat"
)

// Options configure a Pipeline. Zero values take the defaults (the
// DefaultX constants).
type Options struct {
	// CommitInterval is how long committed source transactions may wait
	// before the lake commit that holds them (group commit). The default
	// keeps the time from a source commit to the lake under a second.
	CommitInterval time.Duration
	// MaxBatchBytes closes a batch early when its buffered rows reach it.
	MaxBatchBytes int64
	// MemoryBudget bounds the rows held in memory: past it, the buffered rows
	// are written to files at once (a transaction bigger than the budget is
	// spilled as it arrives and committed when it ends). While they are
	// written out, about half as much again is live.
	MemoryBudget int64
	// UploadParallelism bounds concurrent file uploads: files of 256 KiB
	// of rows or more; eight smaller ones take the place of one
	// (background.go).
	UploadParallelism int
	// FileWriter configures the Parquet files.
	FileWriter tableformat.FileWriterOptions
	// Metrics, when set, receives the pipeline's figures.
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// Fault, when set, is called at each named point of the commit path
	// (FaultPoint): the fault suite crashes the process there.
	Fault func(FaultPoint)
	// Rereader and Differ, when both are set, perform the lake's
	// re-snapshots (resnapshot.go); without them requests are recorded
	// for a pipeline that has them. ResnapshotChunkRows is how many rows
	// a chunk reads (default DefaultResnapshotChunkRows).
	Rereader            Rereader
	Differ              Differ
	ResnapshotChunkRows int
}

// FaultPoint names a point of the commit path where a crash leaves the
// lake in a distinct state (docs/reliability.md).
type FaultPoint string

// Fault points.
const (
	// FaultFileUploaded: one file of a batch is uploaded, others may not be.
	FaultFileUploaded FaultPoint = "file-uploaded"
	// FaultSpilled: rows of an open transaction (a big one, or an initial
	// snapshot's chunk) are uploaded; its commit is still to come.
	FaultSpilled FaultPoint = "spilled"
	// FaultUploaded: every file of a commit is uploaded, the log entry is
	// not written yet.
	FaultUploaded FaultPoint = "uploaded"
	// FaultCommitted: the log entry is written; the daemon has not yet
	// taken note of it.
	FaultCommitted FaultPoint = "committed"
)

// FaultPoints lists the fault points.
func FaultPoints() []FaultPoint {
	return []FaultPoint{FaultFileUploaded, FaultSpilled, FaultUploaded, FaultCommitted}
}

// Options defaults. DefaultMaxBatchBytes and DefaultMemoryBudget keep the
// daemon under about 256 MiB (BENCHMARKS.md).
const (
	DefaultCommitInterval    = 500 * time.Millisecond
	DefaultMaxBatchBytes     = 48 << 20
	DefaultMemoryBudget      = 64 << 20
	DefaultUploadParallelism = 4
)

// Validate reports every problem of the options (after WithDefaults) at
// once, each a *settings.Problem naming its field.
func (o Options) Validate() error {
	var ps settings.Problems
	if o.CommitInterval <= 0 {
		ps.Add("commit_interval", "%s: must be positive, such as %s", o.CommitInterval, settings.Duration(DefaultCommitInterval))
	}
	if o.MaxBatchBytes <= 0 {
		ps.Add("max_batch_bytes", "%d: must be a positive number of bytes, such as %d (%s)", o.MaxBatchBytes,
			DefaultMaxBatchBytes, settings.Bytes(DefaultMaxBatchBytes))
	}
	if o.MemoryBudget <= 0 {
		ps.Add("memory_budget", "%d: must be a positive number of bytes, such as %d (%s)", o.MemoryBudget,
			DefaultMemoryBudget, settings.Bytes(DefaultMemoryBudget))
	}
	if o.UploadParallelism <= 0 {
		ps.Add("upload_parallelism", "%d: must be at least 1, such as %d", o.UploadParallelism, DefaultUploadParallelism)
	}
	if o.ResnapshotChunkRows <= 0 {
		ps.Add("resnapshot_chunk_rows", "%d: must be at least 1, such as %d", o.ResnapshotChunkRows, DefaultResnapshotChunkRows)
	}
	return ps.Err()
}

// WithDefaults fills in the zero (and negative) values.
func (o Options) WithDefaults() Options {
	if o.CommitInterval <= 0 {
		o.CommitInterval = DefaultCommitInterval
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.UploadParallelism <= 0 {
		o.UploadParallelism = DefaultUploadParallelism
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Fault == nil {
		o.Fault = func(FaultPoint) {}
	}
	if o.ResnapshotChunkRows <= 0 {
		o.ResnapshotChunkRows = DefaultResnapshotChunkRows
	}
	return o
}

// Pipeline moves changes from a Source into a lake, exactly once: each
// commit holds whole source transactions and the position after the last of
// them, and the source is opened at the lake's position.
type Pipeline struct {
	log     *tableformat.Log
	store   tableformat.Store
	opts    Options
	check   *MirrorCheck        // for the next Run (CheckMirrored)
	uploads *semaphore.Weighted // upload slots (background.go)
}

// New returns a pipeline writing to the lake of log.
func New(log *tableformat.Log, opts Options) *Pipeline {
	opts = opts.WithDefaults()
	return &Pipeline{log: log, store: log.Store(), opts: opts, uploads: newUploads(opts.UploadParallelism)}
}

// Run reads src until it returns io.EOF (then commits what it has and
// returns nil) or *CaughtUp with no re-snapshot to do, ctx ends (then
// commits the whole transactions it has and returns ctx's error), or an
// error occurs. The source must have been opened at the lake's current
// position. Meanwhile it performs the lake's re-snapshots (Options.Rereader).
func (p *Pipeline) Run(ctx context.Context, src Source) error {
	st, err := p.log.Latest(ctx)
	if err != nil {
		return err
	}
	events, readErr, stopRead := readSource(ctx, src)
	defer stopRead()

	b := newBatch(st, p.opts)
	bg := &background{p: p}
	defer bg.drain() // on an error: the open transaction's files are not committed
	r := newResnapRunner(ctx, p, b, st)
	r.check, p.check = p.check, nil
	defer r.stop()
	b.onCommit = r.committed
	ticker := time.NewTicker(p.opts.CommitInterval / 4)
	defer ticker.Stop()
	caughtUp := false
	// finished reports whether Run is done: caught up, nothing to
	// re-snapshot, the last whole transactions committed.
	finished := func() (bool, error) {
		if !caughtUp || r.busy() || b.open() {
			return false, nil
		}
		return true, p.flush(context.WithoutCancel(ctx), b)
	}
	for {
		select {
		case ev := <-events:
			if _, ok := ev.(*CaughtUp); ok {
				caughtUp = true
			} else if err := p.handle(ctx, b, r, bg, ev); err != nil {
				return err
			}
			if done, err := finished(); done || err != nil {
				return err
			}
		case d := <-r.reads:
			r.readDone(d)
			if !b.open() {
				r.boundary(ctx, b, r.at.pos) // the next chunk at once
			}
		case res := <-r.results:
			r.writeDone(b, res)
			if !b.open() {
				r.boundary(ctx, b, r.at.pos)
			}
		case c := <-r.compares:
			r.comparedDone(c)
			if err := r.end(ctx, b); err != nil {
				return err
			}
		case <-ticker.C:
			if b.due(p.opts.Now()) {
				if err := p.flush(ctx, b); err != nil {
					return err
				}
			}
			if !b.open() {
				if err := r.poll(ctx); err != nil {
					return err
				}
				r.boundary(ctx, b, r.at.pos)
				if err := r.end(ctx, b); err != nil {
					return err
				}
			}
			if done, err := finished(); done || err != nil {
				return err
			}
		case err := <-readErr:
			// Drain what the reader queued before it stopped.
			for len(events) > 0 {
				ev := <-events
				if _, ok := ev.(*CaughtUp); ok {
					continue
				}
				if herr := p.handle(ctx, b, r, bg, ev); herr != nil {
					return herr
				}
			}
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				// Finish the commit in flight: the whole transactions.
				if ferr := p.flush(context.WithoutCancel(ctx), b); ferr != nil {
					return ferr
				}
				if errors.Is(err, io.EOF) {
					return nil
				}
				return ctx.Err()
			}
			return fmt.Errorf("read source: %w", err)
		}
	}
}

// readSource reads src in a goroutine of its own into events, a few at a
// time (the batch is where rows wait), until Next fails or stop is called;
// then readErr gets Next's error, or the context's. stop returns once the
// goroutine has.
func readSource(ctx context.Context, src Source) (events <-chan Event, readErr <-chan error, stop func()) {
	evs := make(chan Event, 16)
	errs := make(chan error, 1)
	readCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			ev, err := src.Next(readCtx)
			if err != nil {
				errs <- err
				return
			}
			select {
			case evs <- ev:
			case <-readCtx.Done():
				errs <- readCtx.Err()
				return
			}
		}
	})
	return evs, errs, func() {
		cancel()
		wg.Wait()
	}
}

// handle takes one event, then spills or commits when the budget or the
// batch's age says so; between transactions it lets the re-snapshot go on.
func (p *Pipeline) handle(ctx context.Context, b *batch, r *resnapRunner, bg *background, ev Event) error {
	switch e := ev.(type) {
	case *Reached:
		if !b.open() {
			r.boundary(ctx, b, e.At)
		}
		return nil
	case *TableComplete:
		bg.start(ctx, b.takeTable(e.Table))
		return nil
	case *DDL:
		r.ddl(b, e)
	case *Commit:
		// The transaction's files written in the background are its own.
		files, err := bg.drain()
		if err != nil {
			return err
		}
		b.spilled = append(b.spilled, files...)
	}
	if err := b.add(ev); err != nil {
		return err
	}
	if _, ok := ev.(*DDL); ok {
		r.noteRequests(b.openOps)
	}
	if b.openBytes > p.opts.MemoryBudget {
		if err := p.spill(ctx, b); err != nil {
			return err
		}
	}
	if b.due(p.opts.Now()) {
		if err := p.flush(ctx, b); err != nil {
			return err
		}
	}
	if c, ok := ev.(*Commit); ok {
		r.boundary(ctx, b, c.End)
		return r.end(ctx, b)
	}
	return nil
}

// spill writes the rows held in memory to files now; they join the batch's
// next commit.
func (p *Pipeline) spill(ctx context.Context, b *batch) error {
	p.opts.Logger.Debug("spilling rows to files", "bytes", b.openBytes)
	files, err := p.writeFiles(ctx, b.takeRows(true))
	if err != nil {
		return err
	}
	b.spilled = append(b.spilled, files...)
	p.opts.Fault(FaultSpilled)
	p.opts.Metrics.spill()
	return nil
}

// flush commits the batch's whole transactions.
func (p *Pipeline) flush(ctx context.Context, b *batch) error {
	if !b.pending() {
		return nil
	}
	closed := b.takeRows(false)
	files, err := p.writeFiles(ctx, closed)
	if err != nil {
		return err
	}
	p.opts.Fault(FaultUploaded)
	start := p.opts.Now()
	e := b.entry(append(b.closedSpilled(), files...))
	st, err := p.log.Commit(ctx, e)
	if err != nil {
		return fmt.Errorf("commit %d transactions: %w", len(e.Txns), err)
	}
	p.opts.Fault(FaultCommitted)
	took := p.opts.Now().Sub(start)
	var bytes int64
	for _, f := range e.Add {
		bytes += f.Bytes
	}
	p.opts.Metrics.committed(st.Version, took, len(e.Add), bytes, b.lastSourceTS)
	p.opts.Logger.Info("committed", "version", st.Version, "transactions", len(e.Txns), "files", len(e.Add),
		"position", st.Progress.Position.String(), "took", took)
	b.committed(st)
	return nil
}

// fileJob is one file to write: rows of one table, one schema version and
// one kind.
type fileJob struct {
	table  *mirroredTable
	schema tableformat.Schema
	kind   tableformat.FileKind
	rows   []tableformat.Row
	// open marks rows of the open transaction (spilled before its commit).
	open bool
}

// writeFiles writes and uploads the jobs' files concurrently, as the upload
// slots allow.
func (p *Pipeline) writeFiles(ctx context.Context, jobs []fileJob) ([]pendingFile, error) {
	out := make([]pendingFile, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.UploadParallelism * smallPerSlot)
	for i, j := range jobs {
		g.Go(func() error {
			f, err := p.writeFile(gctx, j)
			out[i] = pendingFile{add: f, open: j.open}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *Pipeline) writeFile(ctx context.Context, j fileJob) (tableformat.AddFile, error) {
	w := uploadWeight(j)
	if err := p.uploads.Acquire(ctx, w); err != nil {
		return tableformat.AddFile{}, err
	}
	defer p.uploads.Release(w)
	f, err := tableformat.WriteAddFile(ctx, p.store, j.table.name.db, j.table.name.name, j.table.id, &j.schema, j.kind,
		p.opts.FileWriter, j.rows)
	if err == nil {
		p.opts.Fault(FaultFileUploaded)
	}
	return f, err
}

// pendingFile is an uploaded file waiting for its commit.
type pendingFile struct {
	add  tableformat.AddFile
	open bool // holds rows of the transaction that was open when it was written
}

// sortFiles orders a commit's files deterministically.
func sortFiles(fs []tableformat.AddFile) {
	slices.SortFunc(fs, func(a, b tableformat.AddFile) int {
		return cmp.Or(cmp.Compare(a.TableID, b.TableID), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.MinSeq, b.MinSeq))
	})
}
