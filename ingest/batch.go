package ingest

import (
	"fmt"
	"slices"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// batch gathers source transactions for one commit. Rows of the open
// transaction are kept apart until its Commit event: a lake commit never
// holds part of a source transaction.
type batch struct {
	opts    Options
	schemas *schemaTracker

	prevSeq   int64 // the lake's MaxSeq: this batch's sequences start after it
	seq       int64 // the last sequence allocated (open transaction included)
	closedSeq int64 // the last sequence of a closed transaction
	ts        int64 // effective source time so far

	// Closed transactions, waiting for the commit.
	end         tableformat.Position
	hasEnd      bool
	changes     []tableformat.TableChange
	txns        []tableformat.TxnMark
	closedBytes int64
	firstClosed time.Time
	// ops are re-snapshot operations for the next commit: requests of
	// closed transactions' DDL, chunks read (resnapshot.go).
	ops []tableformat.ResnapshotOp

	// The open transaction.
	openChanges []tableformat.TableChange
	openOps     []tableformat.ResnapshotOp
	openBytes   int64

	// Rows by table, schema version and kind: those of closed transactions
	// first, then the open one's.
	bufs map[bufKey]*rowBuf

	lastSourceTS int64 // the source commit time of the last closed transaction

	spilled      []pendingFile
	spilledBytes int64 // estimated bytes of the rows in spilled files

	// onCommit, when set, is told of every commit of the batch.
	onCommit func(*tableformat.State)
}

type bufKey struct {
	table   int64
	version int
	kind    tableformat.FileKind
}

type rowBuf struct {
	table  *mirroredTable
	schema tableformat.Schema
	rows   []tableformat.Row
	closed int // rows[:closed] belong to closed transactions
}

func newBatch(st *tableformat.State, opts Options) *batch {
	return &batch{opts: opts, schemas: newSchemaTracker(st), prevSeq: st.Progress.MaxSeq, seq: st.Progress.MaxSeq,
		closedSeq: st.Progress.MaxSeq, ts: st.Progress.MaxTS, end: st.Progress.Position, bufs: map[bufKey]*rowBuf{}}
}

// open reports whether a source transaction is open (its Commit not read).
func (b *batch) open() bool {
	return b.seq > b.closedSeq || len(b.openChanges) > 0 || len(b.openOps) > 0
}

// addOp adds a re-snapshot operation to the next commit, outside any
// source transaction.
func (b *batch) addOp(op tableformat.ResnapshotOp) {
	b.ops = append(b.ops, op)
	if b.firstClosed.IsZero() {
		b.firstClosed = b.opts.Now()
	}
}

// schemaTxn records table changes made between source transactions (the
// structure a re-snapshot chunk reads) as a transaction of their own at the
// current position, so they are in the next commit.
func (b *batch) schemaTxn(changes []tableformat.TableChange) {
	if len(changes) == 0 {
		return
	}
	b.changes = append(b.changes, changes...)
	b.txns = append(b.txns, tableformat.TxnMark{Seq: b.seq, TS: b.ts, File: b.end.File, Pos: b.end.Pos})
	b.closedSeq = b.seq
	b.hasEnd = true
	if b.firstClosed.IsZero() {
		b.firstClosed = b.opts.Now()
	}
}

func (b *batch) nextSeq() int64 { b.seq++; return b.seq }

// add takes one source event.
func (b *batch) add(ev Event) error {
	switch e := ev.(type) {
	case *Rows:
		return b.addRows(e)
	case *DDL:
		cs, err := b.schemas.ddl(e, b.nextSeq)
		b.openChanges = append(b.openChanges, cs...)
		for _, r := range b.schemas.requests {
			b.opts.Logger.Info("re-snapshot requested", "table", r.DB+"."+r.Name, "why", r.Reason)
			b.openOps = append(b.openOps, tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: r.DB, Name: r.Name, Reason: r.Reason})
		}
		b.schemas.requests = nil
		return err
	case *Commit:
		b.closeTxn(e)
		return nil
	}
	return fmt.Errorf("unknown source event %T", ev)
}

func (b *batch) addRows(e *Rows) error {
	tt, changes, err := b.schemas.resolve(e.Table, b.nextSeq)
	if err != nil {
		return err
	}
	b.openChanges = append(b.openChanges, changes...)
	b.opts.Metrics.rows(e.Op, max(len(e.After), len(e.Before)))
	keyIdx := keyIndexes(&tt.schema)
	take := func(kind tableformat.FileKind) *rowBuf {
		k := bufKey{tt.id, tt.schema.Version, kind}
		rb := b.bufs[k]
		if rb == nil {
			rb = &rowBuf{table: tt, schema: tt.schema}
			b.bufs[k] = rb
		}
		return rb
	}
	width := len(tt.schema.Columns)
	check := func(row []any) error {
		if len(row) != width {
			return fmt.Errorf("table %s.%s: a row of %d values for %d columns", e.Table.DB, e.Table.Name, len(row), width)
		}
		return nil
	}
	switch e.Op {
	case RowInsert, RowSnapshot:
		op := tableformat.OpInsert
		if e.Op == RowSnapshot {
			op = tableformat.OpSnapshot
		}
		data := take(tableformat.FileData)
		for _, r := range e.After {
			if err := check(r); err != nil {
				return err
			}
			data.rows = append(data.rows, tableformat.Row{Seq: b.nextSeq(), TS: e.Time, Op: op, Values: r})
			b.openBytes += rowBytes(r)
		}
	case RowUpdate:
		if len(e.Before) != len(e.After) {
			return fmt.Errorf("table %s.%s: %d old images for %d new ones", e.Table.DB, e.Table.Name, len(e.Before), len(e.After))
		}
		data, dels := take(tableformat.FileData), take(tableformat.FileDelete)
		for i, r := range e.After {
			if err := check(r); err != nil {
				return err
			}
			if err := check(e.Before[i]); err != nil {
				return err
			}
			s := b.nextSeq()
			dels.rows = append(dels.rows, tableformat.Row{Seq: s, TS: e.Time, Op: tableformat.OpUpdateBefore, Values: pick(e.Before[i], keyIdx)})
			data.rows = append(data.rows, tableformat.Row{Seq: s, TS: e.Time, Op: tableformat.OpUpdateAfter, Values: r})
			b.openBytes += rowBytes(r) + rowBytes(e.Before[i])
		}
	case RowDelete:
		dels := take(tableformat.FileDelete)
		for _, r := range e.Before {
			if err := check(r); err != nil {
				return err
			}
			dels.rows = append(dels.rows, tableformat.Row{Seq: b.nextSeq(), TS: e.Time, Op: tableformat.OpDelete, Values: pick(r, keyIdx)})
			b.openBytes += rowBytes(r)
		}
	default:
		return fmt.Errorf("table %s.%s: unknown row operation %d", e.Table.DB, e.Table.Name, e.Op)
	}
	return nil
}

// closeTxn ends the open transaction: its rows, changes and spilled files
// join the closed ones.
func (b *batch) closeTxn(c *Commit) {
	b.ts = max(b.ts, c.Time)
	b.lastSourceTS = c.Time
	b.opts.Metrics.transaction()
	if b.seq > b.closedSeq {
		b.txns = append(b.txns, tableformat.TxnMark{Seq: b.seq, TS: b.ts, GTID: c.GTID, File: c.End.File, Pos: c.End.Pos})
	}
	b.closedSeq = b.seq
	b.end, b.hasEnd = c.End, true
	b.changes = append(b.changes, b.openChanges...)
	b.openChanges = nil
	b.ops = append(b.ops, b.openOps...)
	b.openOps = nil
	for _, rb := range b.bufs {
		rb.closed = len(rb.rows)
	}
	b.closedBytes += b.openBytes
	b.openBytes = 0
	for i := range b.spilled {
		b.spilled[i].open = false
	}
	if b.firstClosed.IsZero() {
		b.firstClosed = b.opts.Now()
	}
}

// pending reports whether closed transactions (or re-snapshot operations)
// wait for a commit.
func (b *batch) pending() bool { return b.hasEnd || len(b.ops) > 0 }

// due reports whether the closed transactions should be committed now.
func (b *batch) due(now time.Time) bool {
	return b.pending() && (now.Sub(b.firstClosed) >= b.opts.CommitInterval || b.closedBytes+b.spilledBytes >= b.opts.MaxBatchBytes)
}

// takeRows removes and returns the buffered rows as file jobs: the closed
// transactions' rows, and with includeOpen the open one's too.
func (b *batch) takeRows(includeOpen bool) []fileJob {
	var jobs []fileJob
	for k, rb := range b.bufs {
		closed, open := rb.rows[:rb.closed], rb.rows[rb.closed:]
		if len(closed) > 0 {
			jobs = append(jobs, fileJob{table: rb.table, schema: rb.schema, kind: k.kind, rows: closed})
		}
		switch {
		case includeOpen && len(open) > 0:
			jobs = append(jobs, fileJob{table: rb.table, schema: rb.schema, kind: k.kind, rows: open, open: true})
			delete(b.bufs, k)
		case len(open) > 0:
			// Keep the open rows in a new array: the job owns the old one.
			rb.rows, rb.closed = slices.Clone(open), 0
		default:
			delete(b.bufs, k)
		}
	}
	if includeOpen {
		b.spilledBytes += b.closedBytes + b.openBytes
		b.openBytes = 0
	}
	b.closedBytes = 0
	return jobs
}

// closedSpilled removes and returns the spilled files of closed transactions.
func (b *batch) closedSpilled() []pendingFile {
	var out, keep []pendingFile
	for _, f := range b.spilled {
		if f.open {
			keep = append(keep, f)
		} else {
			out = append(out, f)
		}
	}
	b.spilled = keep
	return out
}

// entry builds the log entry for the closed transactions and files.
func (b *batch) entry(files []pendingFile) *tableformat.Entry {
	e := &tableformat.Entry{Kind: tableformat.KindIngest, Tables: b.changes, Txns: b.txns, Resnapshot: b.liveOps(),
		Progress: tableformat.Progress{Position: b.end, PrevSeq: b.prevSeq, MaxSeq: b.closedSeq, MaxTS: b.ts}}
	if len(files) > 0 {
		e.Add = make([]tableformat.AddFile, 0, len(files))
	}
	for _, f := range files {
		e.Add = append(e.Add, f.add)
	}
	sortFiles(e.Add)
	return e
}

// liveOps returns the batch's re-snapshot operations without the chunks
// that follow a request or cancel of their table in the batch: a job runs
// from a committed state only, so such a chunk was read by the run the
// request or cancel ended (the runner drops those as it learns of them;
// this keeps one that slipped through from making the entry invalid).
func (b *batch) liveOps() []tableformat.ResnapshotOp {
	ended := map[[2]string]bool{}
	out := b.ops[:0:0]
	for _, op := range b.ops {
		k := [2]string{op.DB, op.Name}
		switch {
		case op.Op == tableformat.ResnapshotChunkRead && ended[k]:
			b.opts.Logger.Warn("re-snapshot: a chunk read before the table's re-snapshot was asked again is dropped", "table", op.DB+"."+op.Name,
				"seq", op.Chunk.Seq)
			continue
		case op.Op == tableformat.ResnapshotRequest || op.Op == tableformat.ResnapshotCancel:
			ended[k] = true
		}
		out = append(out, op)
	}
	return out
}

// committed resets the batch after its entry was committed as st.
func (b *batch) committed(st *tableformat.State) {
	b.prevSeq = st.Progress.MaxSeq
	b.changes, b.txns, b.ops, b.hasEnd, b.firstClosed, b.spilledBytes = nil, nil, nil, false, time.Time{}, 0
	if b.onCommit != nil {
		b.onCommit(st)
	}
}

// advanced takes a commit made beside the batch, between source
// transactions, with nothing pending (a re-snapshot's changes): the
// sequences go on after it.
func (b *batch) advanced(st *tableformat.State) {
	b.prevSeq, b.seq, b.closedSeq = st.Progress.MaxSeq, st.Progress.MaxSeq, st.Progress.MaxSeq
}

// keyIndexes returns the positions of the key columns in the schema's
// column order (every column when the table has no key).
func keyIndexes(sc *tableformat.Schema) []int {
	cols := sc.KeyColumns()
	out := make([]int, len(cols))
	for i, k := range cols {
		for j, c := range sc.Columns {
			if c.ID == k.ID {
				out[i] = j
			}
		}
	}
	return out
}

func pick(row []any, idx []int) []any {
	out := make([]any, len(idx))
	for i, j := range idx {
		out[i] = row[j]
	}
	return out
}

// rowBytes estimates the memory a row holds: the Row and its slice, an
// interface per value (16 bytes) and the boxed value behind it (about 16),
// and string and byte contents.
func rowBytes(row []any) int64 {
	n := int64(64 + 32*len(row))
	for _, v := range row {
		switch x := v.(type) {
		case string:
			n += int64(len(x))
		case []byte:
			n += int64(len(x))
		}
	}
	return n
}
