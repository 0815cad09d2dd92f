package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/binlake/binlake/tableformat"
)

// Re-snapshots (docs/snapshot.md, FORMAT.md §15). A table whose rows
// changed without row events — a partition truncated, a column added with
// values only the server knows, a statement the source did not understand —
// or that is new to the lake is read again from the source while ingest
// goes on, without locks: a chunk at a time in key order, each chunk in one
// consistent read whose binlog position the source names. Ingest keeps
// streaming every table meanwhile. A chunk read at position P holds the
// table's rows of its key range as of the lake's sequence S(P), the last
// one of the transactions up to P; later row events of the stream are in
// the lake after S(P). When every chunk is read, the rows the source holds
// at the lake's latest sequence are the chunks' rows, less those a later
// change replaced, plus those later changes — and their difference from
// what the lake holds there is committed as one change set: inserts,
// deletes and updates of exactly the rows that differ.

// Rereader reads tables of the source again (connectors/mysql).
type Rereader interface {
	// Pin starts one consistent read of db.name at the source's current
	// binlog position. It returns nil (and no error) when the source has
	// no such table.
	Pin(ctx context.Context, db, name string) (Pinned, error)
}

// Pinned is one consistent read of a table.
type Pinned interface {
	// At is the binlog position of the read: every transaction that ended
	// at or before it is in the read, no other.
	At() tableformat.Position
	// Table is the table's structure in the read; its key, the order the
	// rows are read in.
	Table() *Table
	// Read hands over, in key order, the rows whose key follows after (nil:
	// from the first row), at most limit of them, and returns how many and
	// whether they are the table's last (a table whose key cannot bound a
	// range, or that has none, is read whole by the first Read). Values
	// follow Table's columns and the tableformat.Type contract; row may
	// keep them.
	Read(ctx context.Context, after []any, limit int, row func([]any) error) (n int, complete bool, err error)
	// Close ends the read. It may be called more than once.
	Close() error
}

// Differ computes what a re-snapshot read that differs from the lake
// (query.Engine). ResnapshotChanges writes, into the lake's store, the
// changes that bring table tableID of state st from its rows at
// st.Progress.MaxSeq to those the read job found, with sequences from
// firstSeq on and source time ts, and returns the files and how many
// sequences they use.
type Differ interface {
	ResnapshotChanges(ctx context.Context, st *tableformat.State, job *tableformat.ResnapshotJob, tableID int64,
		firstSeq, ts int64) ([]tableformat.AddFile, int64, error)
}

// Chunking of re-snapshot reads: a chunk holds at most ResnapshotChunkRows
// rows, written to files of about chunkPartBytes of values.
const (
	DefaultResnapshotChunkRows = 8192
	chunkPartBytes             = 16 << 20
	// pinTimeout bounds how long a pinned read (an open transaction on the
	// source, holding a read view and a metadata lock on the table) waits
	// for the stream to reach its position before it is given up.
	pinTimeout = 30 * time.Second
	// resnapshotRetry is the wait after a failed chunk or end.
	resnapshotRetry = 5 * time.Second
	// requestPoll is how often a pipeline that has not committed reads
	// the log for requests other processes committed (binlake resnapshot).
	requestPoll = 2 * time.Second
)

// resnapRunner works on the lake's re-snapshots inside Pipeline.Run, one
// table at a time, in the order they were requested.
type resnapRunner struct {
	p       *Pipeline
	b       *batch
	ctx     context.Context // the workers'; cancelled by stop
	cancel  context.CancelFunc
	reader  Rereader
	differ  Differ
	log     *slog.Logger
	results chan chunkResult
	wg      sync.WaitGroup

	st     *tableformat.State // the last committed state
	polled time.Time          // when st was last read or committed
	job    *jobRun            // the table being read; nil: none
	gen    int                // a job run's generation: results of older ones are dropped
	// The stream's last two transaction boundaries.
	at, prev boundary
	// requested: tables with a request in the batch, not committed yet.
	requested map[[2]string]bool
	// cancelled: tables whose job is cancelled in the batch.
	cancelled map[[2]string]bool
}

// boundary is a point of the stream between transactions.
type boundary struct {
	pos tableformat.Position
	seq int64
	ts  int64
}

// jobRun is the reading of one job.
type jobRun struct {
	db, name string
	gen      int
	after    []any // the key the next chunk starts after (nil: the first)
	read     bool  // the last chunk is read (in the batch or committed)
	// ready: the committed state holds every chunk; the job can end.
	ready   bool
	pinned  Pinned    // a read waiting for the stream to reach its position
	pinSeen time.Time // when it was pinned
	reading bool      // a chunk is being read
	retryAt time.Time // no pin or end before
}

type chunkResult struct {
	gen   int
	chunk tableformat.ResnapshotChunk
	last  []any // the key of the chunk's last row
	err   error
}

func newResnapRunner(ctx context.Context, p *Pipeline, b *batch, st *tableformat.State) *resnapRunner {
	r := &resnapRunner{p: p, b: b, reader: p.opts.Rereader, differ: p.opts.Differ, log: p.opts.Logger, results: make(chan chunkResult, 1),
		requested: map[[2]string]bool{}, cancelled: map[[2]string]bool{}}
	r.ctx, r.cancel = context.WithCancel(ctx)
	r.at = boundary{pos: st.Progress.Position, seq: st.Progress.MaxSeq, ts: st.Progress.MaxTS}
	r.prev = r.at
	r.committed(st)
	return r
}

// enabled reports whether this pipeline performs re-snapshots (it records
// requests either way).
func (r *resnapRunner) enabled() bool { return r.reader != nil && r.differ != nil }

// busy reports whether re-snapshots are requested and not done.
func (r *resnapRunner) busy() bool {
	return r.enabled() && (len(r.st.Resnapshots) > 0 || len(r.requested) > 0)
}

// stop ends the reading of the job (if any) and waits for its worker.
func (r *resnapRunner) stop() {
	r.abandon()
	r.cancel()
	r.wg.Wait()
}

// abandon drops the job's reading: a result in flight is ignored.
func (r *resnapRunner) abandon() {
	if r.job == nil {
		return
	}
	if r.job.pinned != nil {
		r.job.pinned.Close()
	}
	r.gen++
	r.job = nil
}

// committed takes the state after a commit: the job to work on is the first
// one the state holds.
func (r *resnapRunner) committed(st *tableformat.State) {
	r.st, r.polled = st, time.Now()
	r.p.opts.Metrics.resnapshots(len(st.Resnapshots), 0)
	clear(r.requested)
	clear(r.cancelled)
	if r.job != nil {
		j, ok := st.Resnapshot(r.job.db, r.job.name)
		switch {
		case !ok:
			r.abandon()
		case len(j.Chunks) == 0 && r.job.after != nil:
			r.abandon() // requested again meanwhile: start over
		case j.Read():
			r.job.ready = true
		}
	}
	if r.job != nil || len(st.Resnapshots) == 0 || !r.enabled() {
		return
	}
	j := st.Resnapshots[0]
	r.gen++
	r.job = &jobRun{db: j.DB, name: j.Name, gen: r.gen, read: j.Read(), ready: j.Read()}
	if n := len(j.Chunks); n > 0 && !j.Read() {
		after, err := r.parseKey(j.DB, j.Name, j.Chunks[n-1].After)
		if err != nil {
			r.log.Warn("re-snapshot: the key the last chunk ended at cannot be read; starting the table over", "table", j.DB+"."+j.Name, "err", err)
			r.job = nil
			r.b.addOp(tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: j.DB, Name: j.Name, Reason: j.Reason})
			r.requested[[2]string{j.DB, j.Name}] = true
			return
		}
		r.job.after = after
	}
	r.log.Info("re-snapshot started", "table", j.DB+"."+j.Name, "why", j.Reason, "chunks_done", len(j.Chunks), "rows_done", j.Rows())
}

// poll reads the log for entries other processes committed (requests of
// `binlake resnapshot`, compactions), when the pipeline has not committed
// for requestPoll.
func (r *resnapRunner) poll(ctx context.Context) error {
	if !r.enabled() || time.Since(r.polled) < requestPoll {
		return nil
	}
	r.polled = time.Now()
	st, err := r.p.log.Latest(ctx)
	if err != nil {
		return err
	}
	if st.Version != r.st.Version {
		if st.Progress.MaxSeq != r.st.Progress.MaxSeq {
			return fmt.Errorf("the lake moved to sequence %d beside this ingest (at %d): %w", st.Progress.MaxSeq, r.st.Progress.MaxSeq, tableformat.ErrConflict)
		}
		r.committed(st)
	}
	return nil
}

// parseKey reads the value texts of a chunk's last key with the types of
// the table's key columns.
func (r *resnapRunner) parseKey(db, name string, texts []string) ([]any, error) {
	t, ok := r.st.TableByName(db, name, r.st.Progress.MaxSeq)
	if !ok {
		return nil, fmt.Errorf("the lake has no table %s.%s", db, name)
	}
	cols := t.Schema().KeyColumns()
	if len(cols) != len(texts) || len(t.Schema().Key) == 0 {
		return nil, fmt.Errorf("a key of %d values for %d key columns", len(texts), len(cols))
	}
	out := make([]any, len(texts))
	for i, c := range cols {
		v, err := tableformat.ParseValue(c.Type, texts[i])
		if err != nil {
			return nil, fmt.Errorf("key column %q: %w", c.Name, err)
		}
		out[i] = v
	}
	return out, nil
}

// ddl takes a DDL before the batch applies it: one that touches a table
// with a re-snapshot requested starts it over (the structure or the rows
// changed under it), under its new name for a rename, or cancels it for a
// drop.
func (r *resnapRunner) ddl(b *batch, d *DDL) {
	has := func(db, name string) bool {
		k := [2]string{db, name}
		if r.cancelled[k] {
			return false
		}
		_, ok := r.st.Resnapshot(db, name)
		return ok || r.requested[k]
	}
	var touched [][2]string
	if d.Op == DDLDropDatabase {
		for _, j := range r.st.Resnapshots {
			if j.DB == d.DB {
				touched = append(touched, [2]string{j.DB, j.Name})
			}
		}
		for k := range r.requested {
			if k[0] == d.DB {
				touched = append(touched, k)
			}
		}
	} else if has(d.DB, d.Name) {
		touched = append(touched, [2]string{d.DB, d.Name})
	}
	for _, k := range touched {
		if r.job != nil && r.job.db == k[0] && r.job.name == k[1] {
			r.abandon()
		}
		reason := "requested"
		if j, ok := r.st.Resnapshot(k[0], k[1]); ok {
			reason = j.Reason
		}
		switch d.Op {
		case DDLDrop, DDLDropDatabase:
			b.openOps = append(b.openOps, tableformat.ResnapshotOp{Op: tableformat.ResnapshotCancel, DB: k[0], Name: k[1], Reason: "the table was dropped"})
			r.cancelled[k] = true
		case DDLRename:
			b.openOps = append(b.openOps, tableformat.ResnapshotOp{Op: tableformat.ResnapshotCancel, DB: k[0], Name: k[1], Reason: "renamed to " + d.NewDB + "." + d.NewName},
				tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: d.NewDB, Name: d.NewName, Reason: reason})
			r.cancelled[k] = true
			r.requested[[2]string{d.NewDB, d.NewName}] = true
		default:
			b.openOps = append(b.openOps, tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: k[0], Name: k[1], Reason: reason})
			r.requested[k] = true
		}
	}
}

// requests notes the requests the batch's open transaction holds.
func (r *resnapRunner) noteRequests(ops []tableformat.ResnapshotOp) {
	for _, op := range ops {
		k := [2]string{op.DB, op.Name}
		switch op.Op {
		case tableformat.ResnapshotRequest:
			r.requested[k] = true
			delete(r.cancelled, k)
			if r.job != nil && r.job.db == op.DB && r.job.name == op.Name {
				r.abandon() // its rows changed again: it starts over once committed
			}
		case tableformat.ResnapshotCancel:
			r.cancelled[k] = true
			delete(r.requested, k)
		}
	}
}

// boundary is called between source transactions, at the stream's
// position pos (the batch's sequence is the lake's there): it resolves a
// pinned read whose position the stream reached, and pins the next chunk.
func (r *resnapRunner) boundary(ctx context.Context, b *batch, pos tableformat.Position) {
	if pos != r.at.pos {
		r.prev, r.at = r.at, boundary{pos: pos, seq: b.closedSeq, ts: b.ts}
	} else {
		r.at.seq, r.at.ts = b.closedSeq, b.ts
	}
	j := r.job
	if j == nil || j.reading || j.read || b.open() {
		return
	}
	if j.pinned != nil {
		r.resolve(b)
		return
	}
	if time.Now().Before(j.retryAt) {
		return
	}
	pinned, err := r.reader.Pin(ctx, j.db, j.name)
	if err != nil {
		r.log.Warn("re-snapshot: a chunk's read did not start; trying again", "table", j.db+"."+j.name, "err", err, "in", resnapshotRetry)
		j.retryAt = time.Now().Add(resnapshotRetry)
		return
	}
	if pinned == nil {
		if r.inGap(j.db, j.name) {
			// Dropped while the lake could not read the binlog: the lake
			// drops it here, where its history resumes.
			changes, err := b.tr.ddl(&DDL{Op: DDLDrop, DB: j.db, Name: j.name, SQL: "-- binlake: the source no longer has the table"}, b.nextSeq)
			if err != nil {
				r.log.Warn("re-snapshot: the table the source no longer has could not be dropped", "table", j.db+"."+j.name, "err", err)
			}
			b.schemaTxn(changes)
		}
		b.addOp(tableformat.ResnapshotOp{Op: tableformat.ResnapshotCancel, DB: j.db, Name: j.name, Reason: "the source has no such table"})
		r.cancelled[[2]string{j.db, j.name}] = true
		r.log.Info("re-snapshot cancelled: the source has no such table", "table", j.db+"."+j.name)
		r.abandon()
		return
	}
	j.pinned, j.pinSeen = pinned, time.Now()
	r.resolve(b)
}

// inGap reports whether an open gap of the lake waits for db.name.
func (r *resnapRunner) inGap(db, name string) bool {
	for _, g := range r.st.Gaps {
		if g.Open() && slices.Contains(g.Pending, db+"."+name) {
			return true
		}
	}
	return false
}

// resolve hands the pinned read to a worker once the stream has reached its
// position: the chunk's rows are the lake's as of the sequence there.
func (r *resnapRunner) resolve(b *batch) {
	j := r.job
	at := j.pinned.At()
	c, err := comparePos(r.at.pos, at)
	if err != nil {
		r.giveUpPin(fmt.Errorf("compare the read's position %s with the stream's %s: %w", at, r.at.pos, err))
		return
	}
	seq, ts := r.at.seq, r.at.ts
	if c < 0 {
		if time.Since(j.pinSeen) > pinTimeout {
			r.giveUpPin(fmt.Errorf("the stream did not reach the read's position %s within %v", at, pinTimeout))
		}
		return // the stream is not there yet
	}
	if c > 0 {
		// The stream passed the position inside the last transaction:
		// the read saw the lake's state at the boundary before it.
		if p, err := comparePos(r.prev.pos, at); err != nil || p > 0 {
			r.giveUpPin(fmt.Errorf("the read's position %s is behind the stream's (%s)", at, r.prev.pos))
			return
		}
		seq, ts = r.prev.seq, r.prev.ts
	}
	tt, changes, err := b.tr.resolve(j.pinned.Table(), b.nextSeq)
	if err != nil {
		r.giveUpPin(err)
		return
	}
	if len(changes) > 0 {
		if c > 0 {
			// The structure the read saw is not the lake's at the sequence
			// it corresponds to: read again at the current boundary.
			r.giveUpPin(errors.New("the table's structure changed"))
			return
		}
		b.schemaTxn(changes)
		seq = b.closedSeq
	}
	spec := chunkSpec{gen: j.gen, pinned: j.pinned, after: j.after, tableID: tt.id, schema: tt.schema, seq: seq, ts: ts, db: tt.name.db, name: tt.name.name}
	j.pinned, j.reading = nil, true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		res := r.read(r.ctx, spec)
		select {
		case r.results <- res:
		case <-r.ctx.Done():
		}
	}()
}

func (r *resnapRunner) giveUpPin(err error) {
	j := r.job
	j.pinned.Close()
	j.pinned = nil
	j.retryAt = time.Now().Add(resnapshotRetry)
	r.log.Warn("re-snapshot: a chunk's read is given up; trying again", "table", j.db+"."+j.name, "err", err, "in", resnapshotRetry)
}

// comparePos orders binlog positions of one server by file and offset.
func comparePos(a, b tableformat.Position) (int, error) {
	return tableformat.CompareFilePos(a.File, a.Pos, b.File, b.Pos)
}

// chunkSpec is what a worker needs to read one chunk.
type chunkSpec struct {
	gen      int
	pinned   Pinned
	after    []any
	tableID  int64
	schema   tableformat.Schema
	seq, ts  int64
	db, name string
}

// read reads one chunk into files (in the worker goroutine).
func (r *resnapRunner) read(ctx context.Context, s chunkSpec) chunkResult {
	defer s.pinned.Close()
	res := chunkResult{gen: s.gen, chunk: tableformat.ResnapshotChunk{Seq: s.seq}}
	keyIdx := keyIndexes(&s.schema)
	limit := r.p.opts.ResnapshotChunkRows
	var rows []tableformat.Row
	var bytes int64
	write := func() error {
		if len(rows) == 0 {
			return nil
		}
		f, err := tableformat.WriteFile(ctx, r.p.store, func(minSeq int64) string {
			return tableformat.NewChunkKey(s.db, s.name, minSeq, uuid.NewString())
		}, s.tableID, &s.schema, tableformat.FileData, r.p.opts.FileWriter, rows)
		if err != nil {
			return fmt.Errorf("table %s.%s: chunk file: %w", s.db, s.name, err)
		}
		r.p.opts.Fault(FaultFileUploaded)
		res.chunk.Files = append(res.chunk.Files, f)
		rows, bytes = nil, 0
		return nil
	}
	width := len(s.schema.Columns)
	var last []any
	n, complete, err := s.pinned.Read(ctx, s.after, limit, func(row []any) error {
		if len(row) != width {
			return fmt.Errorf("table %s.%s: a row of %d values for %d columns", s.db, s.name, len(row), width)
		}
		rows = append(rows, tableformat.Row{Seq: s.seq, TS: s.ts, Op: tableformat.OpSnapshot, Values: row})
		last = row
		if bytes += rowBytes(row); bytes >= chunkPartBytes {
			return write()
		}
		return nil
	})
	s.pinned.Close() // the read view goes before the files are written
	if err == nil {
		err = write()
	}
	if err != nil {
		res.err = err
		return res
	}
	res.chunk.Rows = int64(n)
	res.chunk.Last = complete
	if !complete && last != nil {
		res.last = pick(last, keyIdx)
		for i, c := range s.schema.KeyColumns() {
			t, err := tableformat.FormatValue(c.Type, res.last[i])
			if err != nil {
				res.err = fmt.Errorf("table %s.%s: key column %q: %w", s.db, s.name, c.Name, err)
				return res
			}
			res.chunk.After = append(res.chunk.After, t)
		}
	}
	r.p.opts.Metrics.resnapshotChunk(s.db, s.name, n)
	return res
}

// result takes a worker's chunk.
func (r *resnapRunner) result(b *batch, res chunkResult) {
	j := r.job
	if j == nil || res.gen != j.gen {
		return // abandoned: its files are orphans for vacuum
	}
	j.reading = false
	if res.err != nil {
		j.retryAt = time.Now().Add(resnapshotRetry)
		r.log.Warn("re-snapshot: a chunk could not be read; trying again", "table", j.db+"."+j.name, "err", res.err, "in", resnapshotRetry)
		return
	}
	c := res.chunk
	b.addOp(tableformat.ResnapshotOp{Op: tableformat.ResnapshotChunkRead, DB: j.db, Name: j.name, Chunk: &c})
	j.after, j.read = res.last, c.Last
	if c.Last {
		r.log.Info("re-snapshot read", "table", j.db+"."+j.name)
	}
}

// end commits the job's changes, once the committed state holds every
// chunk and the batch has nothing to commit, between transactions.
func (r *resnapRunner) end(ctx context.Context, b *batch) error {
	j := r.job
	if j == nil || !j.ready || b.open() || time.Now().Before(j.retryAt) {
		return nil
	}
	if b.pending() {
		// The changes go after everything the stream brought so far.
		if err := r.p.flush(ctx, b); err != nil {
			return err
		}
		if r.job != j {
			return nil
		}
	}
	st := r.st
	job, ok := st.Resnapshot(j.db, j.name)
	if !ok {
		r.abandon()
		return nil
	}
	t, ok := st.TableByName(j.db, j.name, st.Progress.MaxSeq)
	if !ok {
		return r.commitEnd(ctx, b, &tableformat.Entry{Kind: tableformat.KindIngest, Resnapshot: []tableformat.ResnapshotOp{{
			Op: tableformat.ResnapshotCancel, DB: j.db, Name: j.name, Reason: "the lake has no such table"}}}, 0)
	}
	start := time.Now()
	files, n, err := r.differ.ResnapshotChanges(ctx, st, job, t.ID, st.Progress.MaxSeq+1, st.Progress.MaxTS)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		j.retryAt = time.Now().Add(resnapshotRetry)
		r.log.Warn("re-snapshot: the changes could not be computed; trying again", "table", j.db+"."+j.name, "err", err, "in", resnapshotRetry)
		return nil
	}
	e := &tableformat.Entry{Kind: tableformat.KindResnapshot, Add: files,
		Resnapshot: []tableformat.ResnapshotOp{{Op: tableformat.ResnapshotDone, DB: j.db, Name: j.name, Reason: job.Reason}}}
	if err := r.commitEnd(ctx, b, e, n); err != nil {
		return err
	}
	r.p.opts.Metrics.resnapshots(len(r.st.Resnapshots), n)
	r.log.Info("re-snapshot committed", "table", j.db+"."+j.name, "rows_read", job.Rows(), "changes", n,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// commitEnd commits e, holding n sequences after the lake's, at the lake's
// position.
func (r *resnapRunner) commitEnd(ctx context.Context, b *batch, e *tableformat.Entry, n int64) error {
	st := r.st
	e.Progress = tableformat.Progress{Position: st.Progress.Position, PrevSeq: st.Progress.MaxSeq, MaxSeq: st.Progress.MaxSeq + n,
		MaxTS: st.Progress.MaxTS}
	if n > 0 {
		// The changes are in force from the lake's position on, like the
		// transaction that ended there.
		e.Txns = []tableformat.TxnMark{{Seq: e.Progress.MaxSeq, TS: st.Progress.MaxTS, File: st.Progress.Position.File, Pos: st.Progress.Position.Pos}}
	}
	next, err := r.p.log.Commit(ctx, e)
	if err != nil {
		return fmt.Errorf("commit the re-snapshot of %s.%s: %w", r.job.db, r.job.name, err)
	}
	r.p.opts.Fault(FaultCommitted)
	b.advanced(next)
	r.job = nil
	r.committed(next)
	return nil
}
