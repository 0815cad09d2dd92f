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
	// binlog position. When the source has no such table it returns a
	// *TableAbsentError. known, when set, is the table's structure as an
	// earlier read of this re-snapshot found it: the read takes it as it
	// is (a statement that changed it since reaches the stream before the
	// read's position, and the re-snapshot starts over).
	Pin(ctx context.Context, db, name string, known *Table) (Pinned, error)
}

// TableAbsentError is Pin's answer when the source has no table by the
// name. At is a binlog position read after the absence was seen: the
// statement that dropped or renamed the table, if the binlog holds one, is
// at or before At. Until the stream has reached At, the table may still be
// there in the lake's history (the statement is ahead of the stream, and
// carries the job along: a rename asks for the new name).
type TableAbsentError struct {
	DB, Name string
	At       tableformat.Position
}

func (e *TableAbsentError) Error() string {
	return fmt.Sprintf("the source has no table %s.%s (at %s)", e.DB, e.Name, e.At)
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
	// keep them. When row returns ErrChunkFull, a read that can end there
	// ends (not complete, no error); one read whole goes on.
	Read(ctx context.Context, after []any, limit int, row func([]any) error) (n int, complete bool, err error)
	// Close ends the read. It may be called more than once.
	Close() error
}

// ErrChunkFull, from the row func of Pinned.Read, asks the read to end
// after that row.
var ErrChunkFull = errors.New("re-snapshot chunk full")

// Differ compares what a re-snapshot read with the lake (query.Engine), in
// two steps, so that streaming waits only for the second, which costs what
// differs rather than what was read.
type Differ interface {
	// ResnapshotCompare compares the rows job read with table tableID's
	// rows at st.Progress.MaxSeq (E), beside ingest.
	ResnapshotCompare(ctx context.Context, st *tableformat.State, job *tableformat.ResnapshotJob, tableID int64) (ResnapshotDiff, error)
}

// ResnapshotDiff is a comparison's result.
type ResnapshotDiff interface {
	// Changes writes, into the lake's store, the changes that bring the
	// table to the source's rows as of st (st.Progress.MaxSeq ≥ E: the
	// lake's changes since E are taken into account), with sequences from
	// firstSeq on and source time ts, and returns the files and how many
	// sequences they use.
	Changes(ctx context.Context, st *tableformat.State, firstSeq, ts int64) ([]tableformat.AddFile, int64, error)
	// Close removes what the comparison keeps.
	Close() error
}

// Chunking of re-snapshot reads: a chunk holds at most ResnapshotChunkRows
// rows, written to files of about chunkPartBytes of values.
const (
	DefaultResnapshotChunkRows = 32768
	chunkPartBytes             = 16 << 20
	// pinTimeout bounds how long a pinned read (an open transaction on the
	// source, holding a read view and a metadata lock on the table) waits
	// for the stream to reach its position before it is given up.
	pinTimeout = 30 * time.Second
	// progressEvery is how often the progress of a re-snapshot is logged.
	progressEvery = 10 * time.Second
	// resnapshotRetry is the wait after a failed chunk or end.
	resnapshotRetry = 5 * time.Second
	// pinLagRetry is the wait after a read whose position lagged behind
	// the stream's: the server's snapshot position catches up at its next
	// commit.
	pinLagRetry = 200 * time.Millisecond
	// requestPoll is how often a pipeline that has not committed reads
	// the log for requests other processes committed (binlake resnapshot).
	requestPoll = 2 * time.Second
)

// resnapRunner works on the lake's re-snapshots inside Pipeline.Run, one
// table at a time, in the order they were requested.
type resnapRunner struct {
	p        *Pipeline
	b        *batch
	ctx      context.Context // the workers'; cancelled by stop
	cancel   context.CancelFunc
	reader   Rereader
	differ   Differ
	log      *slog.Logger
	reads    chan chunkRead   // a worker's read ended
	results  chan chunkResult // a worker's files are written
	compares chan compared    // a comparison ended
	wg       sync.WaitGroup

	st     *tableformat.State // the last committed state
	polled time.Time          // when st was last read or committed
	job    *jobRun            // the table being read; nil: none
	gen    int                // a job run's generation: results of older ones are dropped
	// The stream's last two transaction boundaries.
	at, prev boundary
	// requested: tables with a request in the batch, not committed yet,
	// and the request's reason.
	requested map[[2]string]string
	// cancelled: tables whose job is cancelled in the batch.
	cancelled map[[2]string]bool
	// check: the tables to find in the lake once the stream reaches a
	// position (nil: none, or done).
	check *MirrorCheck
}

// MirrorCheck asks a run of the pipeline to request a re-snapshot of each
// of Tables the lake does not hold once the stream has reached At: tables
// the source held at At (listed before At was read) that the lake should
// mirror. A table created after the lake's position is in the lake by then
// (its CREATE and rows stream in) and is not read again; one the lake never
// mirrored (source.include widened) is.
type MirrorCheck struct {
	At     tableformat.Position
	Tables [][2]string
	Reason string
}

// CheckMirrored hands c to the pipeline's next Run (which takes it): the
// caller lists the source's tables before each Run, so a run that fails
// before its requests commit leaves them to the next.
func (p *Pipeline) CheckMirrored(c MirrorCheck) { p.check = &c }

// checkMirrored requests the re-snapshots of the check's tables the lake
// does not hold, once the stream at pos (between transactions) has reached
// the check's position.
func (r *resnapRunner) checkMirrored(b *batch, pos tableformat.Position) {
	c := r.check
	if c == nil || b.open() {
		return
	}
	if pos.File == "" {
		return // a lake begun at a GTID set: the stream's first event names its file
	}
	if cmp, err := comparePos(pos, c.At); err != nil {
		r.log.Warn("re-snapshot: the stream's position cannot be compared with the one the source's tables were listed at; checking them now",
			"at", c.At.String(), "stream", pos.String(), "err", err)
	} else if cmp < 0 {
		return
	}
	r.check = nil
	for _, t := range c.Tables {
		k := [2]string{t[0], t[1]}
		_, job := r.st.Resnapshot(t[0], t[1])
		_, asked := r.requested[k]
		if _, have := b.schemas.byName[tableName{t[0], t[1]}]; have || job || (asked && !r.cancelled[k]) {
			continue
		}
		b.addOp(tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: t[0], Name: t[1], Reason: c.Reason})
		r.requested[k] = c.Reason
		delete(r.cancelled, k)
		r.log.Info("a mirrored table the lake does not have: re-snapshot requested", "table", t[0]+"."+t[1])
	}
}

// boundary is a point of the stream between transactions.
type boundary struct {
	pos tableformat.Position
	seq int64
	ts  int64
}

// jobRun is the reading of one job. A chunk is read while the one before
// it is written to files: at most maxChunksInFlight chunks are held.
type jobRun struct {
	db, name string
	gen      int
	// requestedSeq is the job's request's sequence in the state it
	// started from: another one in a later state is a new request (of
	// another process, or a DDL), and the run starts over.
	requestedSeq int64
	after        []any // the key the next chunk starts after (nil: the first)
	read         bool  // the last chunk is read
	// afterInBatch and readInBatch are after and read as of the last
	// chunk in the batch: where a failed write sends the reading back to.
	afterInBatch []any
	readInBatch  bool
	// ready: the committed state holds every chunk; the job can end.
	ready bool
	// chunks: how many chunks the committed state holds (fewer in a later
	// state: the job was requested again, and starts over).
	chunks int
	// table is the structure the last chunk was read with: the next pin
	// reuses it (a DDL changing it reaches the stream before that chunk's
	// position, and starts the job over).
	table   *Table
	pinned  Pinned        // a read waiting for the stream to reach its position
	pinSeen time.Time     // when it was pinned
	pinTook time.Duration // how long pinning it took
	reading bool          // a chunk is being read
	// inflight counts the chunks read whose files are not written yet;
	// written is closed when the last one's are.
	inflight int
	written  chan struct{}
	retryAt  time.Time // no pin or end before
	// absentAt: a pin found the source without the table, at this
	// position; the job ends there unless a statement the stream reaches
	// first carries it on (see TableAbsentError).
	absentAt *tableformat.Position
	lastSeq  int64 // the sequence of the last chunk pinned
	// comparing: a comparison runs; diff is its result, to be committed.
	comparing bool
	diff      ResnapshotDiff
	// Progress, for the log.
	rows            int64
	started, logged time.Time
}

// maxChunksInFlight bounds the chunks read and not yet written.
const maxChunksInFlight = 2

// chunkRead says a chunk's read ended (its files may still be written).
type chunkRead struct {
	gen      int
	last     []any // the key of the chunk's last row
	complete bool  // no rows follow
	err      error
}

type chunkResult struct {
	gen   int
	chunk tableformat.ResnapshotChunk
	last  []any // the key of the chunk's last row (nil: the last chunk)
	err   error
	// How long the read and the files took.
	read, write time.Duration
}

func newResnapRunner(ctx context.Context, p *Pipeline, b *batch, st *tableformat.State) *resnapRunner {
	r := &resnapRunner{p: p, b: b, reader: p.opts.Rereader, differ: p.opts.Differ, log: p.opts.Logger,
		results: make(chan chunkResult, maxChunksInFlight+1), reads: make(chan chunkRead, maxChunksInFlight+1), compares: make(chan compared, 1),
		requested: map[[2]string]string{}, cancelled: map[[2]string]bool{}}
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
	return r.check != nil || (r.enabled() && (len(r.st.Resnapshots) > 0 || len(r.requested) > 0))
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
	if r.job.diff != nil {
		r.job.diff.Close()
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
		case len(j.Chunks) < r.job.chunks || j.RequestedSeq != r.job.requestedSeq:
			r.abandon() // requested again meanwhile: start over
		default:
			r.job.chunks, r.job.ready = len(j.Chunks), j.Read()
		}
	}
	if r.job != nil || len(st.Resnapshots) == 0 || !r.enabled() {
		return
	}
	j := st.Resnapshots[0]
	r.gen++
	r.job = &jobRun{db: j.DB, name: j.Name, gen: r.gen, read: j.Read(), ready: j.Read(), chunks: len(j.Chunks), rows: j.Rows(),
		requestedSeq: j.RequestedSeq, started: time.Now()}
	r.job.logged = r.job.started
	if n := len(j.Chunks); n > 0 && !j.Read() {
		after, err := r.parseKey(j.DB, j.Name, j.Chunks[n-1].After)
		if err != nil {
			r.log.Warn("re-snapshot: the key the last chunk ended at cannot be read; starting the table over", "table", j.DB+"."+j.Name, "err", err)
			r.job = nil
			r.b.addOp(tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: j.DB, Name: j.Name, Reason: j.Reason})
			r.requested[[2]string{j.DB, j.Name}] = j.Reason
			return
		}
		r.job.after = after
	}
	r.job.afterInBatch, r.job.readInBatch = r.job.after, r.job.read
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
		_, asked := r.requested[k]
		return ok || asked
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
		reason := r.requested[k]
		if j, ok := r.st.Resnapshot(k[0], k[1]); ok && reason == "" {
			reason = j.Reason
		}
		if reason == "" {
			reason = "requested"
		}
		switch d.Op {
		case DDLDrop, DDLDropDatabase:
			b.openOps = append(b.openOps, tableformat.ResnapshotOp{Op: tableformat.ResnapshotCancel, DB: k[0], Name: k[1], Reason: "the table was dropped"})
			r.cancelled[k] = true
		case DDLRename:
			b.openOps = append(b.openOps, tableformat.ResnapshotOp{Op: tableformat.ResnapshotCancel, DB: k[0], Name: k[1], Reason: "renamed to " + d.NewDB + "." + d.NewName},
				tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: d.NewDB, Name: d.NewName, Reason: reason})
			r.cancelled[k] = true
			r.requested[[2]string{d.NewDB, d.NewName}] = reason
		default:
			b.openOps = append(b.openOps, tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: k[0], Name: k[1], Reason: reason})
			r.requested[k] = reason
		}
	}
}

// requests notes the requests the batch's open transaction holds.
func (r *resnapRunner) noteRequests(ops []tableformat.ResnapshotOp) {
	for _, op := range ops {
		k := [2]string{op.DB, op.Name}
		switch op.Op {
		case tableformat.ResnapshotRequest:
			r.requested[k] = op.Reason
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
	r.checkMirrored(b, pos)
	j := r.job
	if j == nil || j.reading || j.read || j.inflight >= maxChunksInFlight || b.open() {
		return
	}
	if j.pinned != nil {
		r.resolve(b)
		return
	}
	if j.absentAt != nil {
		r.endAbsent(b, pos)
		return
	}
	if time.Now().Before(j.retryAt) {
		return
	}
	j.pinSeen = time.Now()
	pinned, err := r.reader.Pin(ctx, j.db, j.name, j.table)
	var absent *TableAbsentError
	if errors.As(err, &absent) {
		j.absentAt = &absent.At
		r.log.Debug("re-snapshot: the source has no such table; the job ends once the stream reaches the position, unless a statement before it carries it on",
			"table", j.db+"."+j.name, "at", absent.At.String(), "stream", pos.String())
		r.endAbsent(b, pos)
		return
	}
	if err != nil {
		r.log.Warn("re-snapshot: a chunk's read did not start; trying again", "table", j.db+"."+j.name, "err", err, "in", resnapshotRetry)
		j.retryAt = time.Now().Add(resnapshotRetry)
		return
	}
	j.pinned, j.pinTook = pinned, time.Since(j.pinSeen)
	j.pinSeen = time.Now()
	r.resolve(b)
}

// endAbsent ends the job of a table the source does not have, once the
// stream at pos has reached the position the absence was seen at: no
// statement before it dropped or renamed the table (that would have
// abandoned the job), so it went without one the lake could read.
func (r *resnapRunner) endAbsent(b *batch, pos tableformat.Position) {
	j := r.job
	if c, err := comparePos(pos, *j.absentAt); err != nil {
		r.log.Warn("re-snapshot: the stream's position cannot be compared with the one the table was missing at; trying again",
			"table", j.db+"."+j.name, "at", j.absentAt.String(), "stream", pos.String(), "err", err, "in", resnapshotRetry)
		j.absentAt, j.retryAt = nil, time.Now().Add(resnapshotRetry)
		return
	} else if c < 0 {
		return // not there yet
	}
	if r.inGap(j.db, j.name) {
		// Dropped while the lake could not read the binlog: the lake
		// drops it here, where its history resumes.
		changes, err := b.schemas.ddl(&DDL{Op: DDLDrop, DB: j.db, Name: j.name, SQL: "-- binlake: the source no longer has the table"}, b.nextSeq)
		if err != nil {
			r.log.Warn("re-snapshot: the table the source no longer has could not be dropped", "table", j.db+"."+j.name, "err", err)
		}
		b.schemaTxn(changes)
	}
	b.addOp(tableformat.ResnapshotOp{Op: tableformat.ResnapshotCancel, DB: j.db, Name: j.name, Reason: "the source has no such table"})
	r.cancelled[[2]string{j.db, j.name}] = true
	r.log.Info("re-snapshot cancelled: the source has no such table", "table", j.db+"."+j.name)
	r.abandon()
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
	// The read is the table's after its request and the chunks before it
	// (FORMAT.md §15). A read whose position lags behind them — the
	// server names the last transactional commit its snapshot holds, and
	// may not count a DDL binlogged just before (the request's own) — is
	// read again shortly: which side of that DDL it is on is unknown.
	if min := r.minChunkSeq(j); seq < min {
		r.giveUpPinFor(fmt.Errorf("the read's position %s is the lake's sequence %d, before the re-snapshot's request or last chunk (%d)",
			at, seq, min), pinLagRetry)
		return
	}
	tt, changes, err := b.schemas.resolve(j.pinned.Table(), b.nextSeq)
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
	written := make(chan struct{})
	spec := chunkSpec{gen: j.gen, pinned: j.pinned, after: j.after, tableID: tt.id, schema: tt.schema, seq: seq, ts: ts,
		db: tt.name.db, name: tt.name.name, prev: j.written, written: written}
	j.table = j.pinned.Table()
	j.pinned, j.reading, j.written, j.lastSeq = nil, true, written, seq
	j.inflight++
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.chunk(r.ctx, spec)
	}()
}

func (r *resnapRunner) giveUpPin(err error) { r.giveUpPinFor(err, resnapshotRetry) }

// giveUpPinFor drops the pinned read; the next is pinned after wait.
func (r *resnapRunner) giveUpPinFor(err error, wait time.Duration) {
	j := r.job
	j.pinned.Close()
	j.pinned, j.table = nil, nil
	j.retryAt = time.Now().Add(wait)
	level := slog.LevelWarn
	if wait < resnapshotRetry {
		level = slog.LevelDebug // expected now and then: not worth a warning
	}
	r.log.Log(r.ctx, level, "re-snapshot: a chunk's read is given up; trying again", "table", j.db+"."+j.name, "err", err, "in", wait)
}

// minChunkSeq is the lowest sequence the job's next chunk may have: its
// request's, its last chunk's (committed or in the batch).
func (r *resnapRunner) minChunkSeq(j *jobRun) int64 {
	m := j.lastSeq
	if job, ok := r.st.Resnapshot(j.db, j.name); ok {
		m = max(m, job.RequestedSeq)
		if n := len(job.Chunks); n > 0 {
			m = max(m, job.Chunks[n-1].Seq)
		}
	}
	return m
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
	// prev is closed when the previous chunk's files are written (nil: no
	// previous chunk); written when this one's are.
	prev, written chan struct{}
}

// chunkFiles is the compression of chunk files: they are read once, by the
// re-snapshot's end, and then deleted by vacuum; snappy costs a fraction of
// zstd's time.
const chunkFiles = tableformat.CompressionSnappy

// chunk reads one chunk (in a worker goroutine), tells the runner the read
// is over, then writes its files after the previous chunk's, in order. A
// chunk holds at most chunkPartBytes of values: past them, a ranged read
// ends (ErrChunkFull); one that cannot end early (a table read whole) has
// its rows written as it goes, so memory stays bounded either way.
func (r *resnapRunner) chunk(ctx context.Context, s chunkSpec) {
	defer close(s.written)
	send := func(res chunkResult) {
		select {
		case r.results <- res:
		case <-ctx.Done():
		}
	}
	start := time.Now()
	keyIdx := keyIndexes(&s.schema)
	width := len(s.schema.Columns)
	var rows []tableformat.Row
	var bytes int64
	var last []any
	var files []tableformat.AddFile
	var write time.Duration
	n, complete, err := s.pinned.Read(ctx, s.after, r.p.opts.ResnapshotChunkRows, func(row []any) error {
		if len(row) != width {
			return fmt.Errorf("table %s.%s: a row of %d values for %d columns", s.db, s.name, len(row), width)
		}
		if bytes >= chunkPartBytes {
			// The read went on past ErrChunkFull: write what it holds.
			if err := s.waitPrev(ctx); err != nil {
				return err
			}
			w := time.Now()
			f, err := r.chunkFile(ctx, s, rows)
			if err != nil {
				return err
			}
			write += time.Since(w)
			files, rows, bytes = append(files, f), nil, 0
		}
		rows = append(rows, tableformat.Row{Seq: s.seq, TS: s.ts, Op: tableformat.OpSnapshot, Values: row})
		bytes += rowBytes(row)
		last = row
		if bytes >= chunkPartBytes {
			return ErrChunkFull
		}
		return nil
	})
	s.pinned.Close() // the read view goes before the files are written
	read := time.Since(start) - write
	done := chunkRead{gen: s.gen, complete: complete, err: err}
	if last != nil && !complete {
		done.last = pick(last, keyIdx)
	}
	select {
	case r.reads <- done:
	case <-ctx.Done():
		return
	}
	if err != nil {
		return
	}
	res := chunkResult{gen: s.gen, chunk: tableformat.ResnapshotChunk{Seq: s.seq, Rows: int64(n), Last: complete, Files: files},
		last: done.last, read: read}
	if res.err = s.waitPrev(ctx); res.err != nil {
		return
	}
	if done.last != nil {
		for i, c := range s.schema.KeyColumns() {
			t, err := tableformat.FormatValue(c.Type, done.last[i])
			if err != nil {
				res.err = fmt.Errorf("table %s.%s: key column %q: %w", s.db, s.name, c.Name, err)
				send(res)
				return
			}
			res.chunk.After = append(res.chunk.After, t)
		}
	}
	start = time.Now()
	if len(rows) > 0 {
		f, err := r.chunkFile(ctx, s, rows)
		if err != nil {
			res.err = err
		} else {
			res.chunk.Files = append(res.chunk.Files, f)
		}
	}
	res.write = write + time.Since(start)
	if res.err == nil {
		r.p.opts.Metrics.resnapshotChunk(n)
	}
	send(res)
}

// waitPrev waits until the previous chunk's files are written.
func (s *chunkSpec) waitPrev(ctx context.Context) error {
	if s.prev == nil {
		return nil
	}
	select {
	case <-s.prev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chunkFile writes rows as one chunk file.
func (r *resnapRunner) chunkFile(ctx context.Context, s chunkSpec, rows []tableformat.Row) (tableformat.AddFile, error) {
	opts := r.p.opts.FileWriter
	opts.Compression = chunkFiles
	f, err := tableformat.WriteFile(ctx, r.p.store, func(minSeq int64) string {
		return tableformat.NewChunkKey(s.db, s.name, minSeq, uuid.NewString())
	}, s.tableID, &s.schema, tableformat.FileData, opts, rows)
	if err != nil {
		return tableformat.AddFile{}, fmt.Errorf("table %s.%s: chunk file: %w", s.db, s.name, err)
	}
	r.p.opts.Fault(FaultFileUploaded)
	return f, nil
}

// readDone takes the end of a worker's read: the next chunk may be pinned.
func (r *resnapRunner) readDone(d chunkRead) {
	j := r.job
	if j == nil || d.gen != j.gen {
		return
	}
	j.reading = false
	if d.err != nil {
		r.restart(fmt.Errorf("a chunk could not be read: %w", d.err))
		return
	}
	j.after, j.read = d.last, d.complete
}

// restart sends the job's reading back to its last chunk in the batch:
// chunks read or being written after it are dropped.
func (r *resnapRunner) restart(err error) {
	j := r.job
	if j.pinned != nil {
		j.pinned.Close()
	}
	r.gen++
	j.gen, j.pinned, j.table, j.written = r.gen, nil, nil, nil
	j.after, j.read, j.reading, j.inflight = j.afterInBatch, j.readInBatch, false, 0
	j.retryAt = time.Now().Add(resnapshotRetry)
	r.log.Warn("re-snapshot: trying again from the last chunk read", "table", j.db+"."+j.name, "err", err, "in", resnapshotRetry)
}

// writeDone takes a worker's chunk, its files written.
func (r *resnapRunner) writeDone(b *batch, res chunkResult) {
	j := r.job
	if j == nil || res.gen != j.gen {
		return // abandoned: its files are orphans for vacuum
	}
	j.inflight--
	if res.err != nil {
		r.restart(res.err)
		return
	}
	c := res.chunk
	b.addOp(tableformat.ResnapshotOp{Op: tableformat.ResnapshotChunkRead, DB: j.db, Name: j.name, Chunk: &c})
	j.afterInBatch, j.readInBatch = res.last, c.Last
	j.rows += c.Rows
	r.log.Debug("re-snapshot chunk read", "table", j.db+"."+j.name, "rows", c.Rows, "seq", c.Seq,
		"pin", j.pinTook, "read", res.read, "write", res.write)
	if now := time.Now(); now.Sub(j.logged) >= progressEvery {
		j.logged = now
		r.log.Info("re-snapshot progress", "table", j.db+"."+j.name, "rows", j.rows,
			"rows_per_s", int64(float64(j.rows)/now.Sub(j.started).Seconds()))
	}
	if c.Last {
		r.log.Info("re-snapshot read", "table", j.db+"."+j.name)
	}
}

// compared is a comparison's end.
type compared struct {
	gen     int
	diff    ResnapshotDiff
	err     error
	tableID int64
	took    time.Duration
}

// end ends the job once the committed state holds every chunk: it starts
// the comparison beside ingest, and once that is done, between
// transactions, commits the changes.
func (r *resnapRunner) end(ctx context.Context, b *batch) error {
	j := r.job
	if j == nil || !j.ready || j.comparing || time.Now().Before(j.retryAt) {
		return nil
	}
	st := r.st
	job, ok := st.Resnapshot(j.db, j.name)
	if !ok {
		r.abandon()
		return nil
	}
	t, ok := st.TableByName(j.db, j.name, st.Progress.MaxSeq)
	if !ok {
		if b.open() || b.pending() {
			return nil
		}
		return r.commitEnd(ctx, b, &tableformat.Entry{Kind: tableformat.KindIngest, Resnapshot: []tableformat.ResnapshotOp{{
			Op: tableformat.ResnapshotCancel, DB: j.db, Name: j.name, Reason: "the lake has no such table"}}}, 0)
	}
	if j.diff == nil {
		j.comparing = true
		gen := j.gen
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			start := time.Now()
			d, err := r.differ.ResnapshotCompare(r.ctx, st, job, t.ID)
			select {
			case r.compares <- compared{gen: gen, diff: d, err: err, tableID: t.ID, took: time.Since(start)}:
			case <-r.ctx.Done():
				if d != nil {
					d.Close()
				}
			}
		}()
		return nil
	}
	if b.open() {
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
	st = r.st
	start := time.Now()
	files, n, err := j.diff.Changes(ctx, st, st.Progress.MaxSeq+1, st.Progress.MaxTS)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		j.diff.Close()
		j.diff, j.retryAt = nil, time.Now().Add(resnapshotRetry)
		r.log.Warn("re-snapshot: the changes could not be written; comparing again", "table", j.db+"."+j.name, "err", err, "in", resnapshotRetry)
		return nil
	}
	diff := j.diff
	defer diff.Close()
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

// comparedDone takes a comparison's end.
func (r *resnapRunner) comparedDone(c compared) {
	j := r.job
	if j == nil || c.gen != j.gen {
		if c.diff != nil {
			c.diff.Close()
		}
		return
	}
	j.comparing = false
	if c.err != nil {
		j.retryAt = time.Now().Add(resnapshotRetry)
		r.log.Warn("re-snapshot: the comparison failed; trying again", "table", j.db+"."+j.name, "err", c.err, "in", resnapshotRetry)
		return
	}
	j.diff = c.diff
	r.log.Debug("re-snapshot compared", "table", j.db+"."+j.name, "compare", c.took)
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
