package laketest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// Options shape a Lake. The zero value is a lake of the source "src" in a
// new in-memory store, its first transaction at 2026-01-01T00:00:00Z, with
// BIGINT and VARCHAR(20) columns and DefaultMix.
type Options struct {
	// Seed seeds every random choice.
	Seed uint64
	// Store holds the lake; nil: a new tableformat.MemStore.
	Store tableformat.Store
	// Log is how the lake's log is opened.
	Log tableformat.LogOptions
	// Source names the lake's source; "": "src".
	Source string
	// CheckpointInterval is the lake's (tableformat.Log.Create's) interval.
	CheckpointInterval int64
	// Start is the source time of the first transaction; zero:
	// 2026-01-01T00:00:00Z. Source time moves only by Advance (the random
	// driver advances it 0–2 s before each transaction, so equal times
	// happen).
	Start time.Time
	// Types are the types of the columns the generator adds, besides a
	// table's BIGINT id: integers, decimals and strings (values whose
	// fmt.Sprint reads the same from the reference reader and from DuckDB
	// for BIGINT and VARCHAR). Empty: BIGINT and VARCHAR(20).
	Types []tableformat.Type
	// Mix is what the random driver (Step, Run) does; nil: DefaultMix.
	Mix *Mix
	// Files is how the files are written (the writer's defaults when
	// zero). A test of the log alone may spare itself compression, the
	// costliest part of writing a file (most of all under -race).
	Files tableformat.FileWriterOptions
}

// BinlogFile is the binlog file every transaction's position names; the
// offset after a transaction is 100 times its last sequence, and its GTID
// 0-1-<last sequence>.
const BinlogFile = "mysql-bin.000001"

// Lake is a lake being written and its model. Its methods fail the test on
// any error; they are not safe for concurrent use.
type Lake struct {
	Store tableformat.Store
	Log   *tableformat.Log
	// Rand is the generator's source of randomness, for tests that want
	// more random choices of the same seed.
	Rand *rand.Rand

	t     testing.TB
	ctx   context.Context
	types []tableformat.Type
	mix   Mix
	files tableformat.FileWriterOptions

	seq, ts, prevSeq int64
	nextKey          int64
	tables           map[int64]*table
	open             bool // a transaction with row changes is open
	// The open commit.
	data, dels map[int64][]tableformat.Row
	adds       []tableformat.AddFile
	changes    []tableformat.TableChange
	txns       []tableformat.TxnMark
	truncates  bool
	// The model's history: contents[seq][table] at every transaction
	// boundary, the time of every transaction, the change feeds, and (when
	// the mix rewinds) the tables after every version.
	contents map[int64]map[int64][]string
	times    map[int64]int64
	feeds    map[int64][]Change
	versions map[int64]modelAt
}

// New creates a lake (version 1, no table yet).
func New(t testing.TB, opts Options) *Lake {
	t.Helper()
	l := &Lake{t: t, ctx: context.Background(), Store: opts.Store, Rand: rand.New(rand.NewPCG(opts.Seed, 0x1a4e)),
		types: opts.Types, tables: map[int64]*table{}, data: map[int64][]tableformat.Row{}, dels: map[int64][]tableformat.Row{},
		contents: map[int64]map[int64][]string{0: {}}, times: map[int64]int64{}, feeds: map[int64][]Change{}}
	if l.Store == nil {
		l.Store = tableformat.NewMemStore()
	}
	if len(l.types) == 0 {
		l.types = []tableformat.Type{{Kind: tableformat.KindBigInt}, {Kind: tableformat.KindVarchar, Length: 20}}
	}
	for _, ty := range l.types {
		if _, err := tableformat.FormatValue(ty, l.value(ty)); err != nil {
			t.Fatalf("laketest: type %s: %v", ty, err)
		}
	}
	l.mix = DefaultMix()
	if opts.Mix != nil {
		l.mix = *opts.Mix
	}
	if opts.Source == "" {
		opts.Source = "src"
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	l.ts = opts.Start.UnixMicro()
	l.files = opts.Files
	l.Log = tableformat.NewLog(l.Store, opts.Log)
	st, err := l.Log.Create(l.ctx, opts.Source, opts.CheckpointInterval)
	if err != nil {
		t.Fatal(err)
	}
	l.committed(st)
	return l
}

// State is the lake's latest state (commits made by others included).
func (l *Lake) State() *tableformat.State {
	l.t.Helper()
	st, err := l.Log.Latest(l.ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

// Advance moves source time forward by d.
func (l *Lake) Advance(d time.Duration) { l.ts += d.Microseconds() }

// Seq is the last change sequence given out.
func (l *Lake) Seq() int64 { return l.seq }

// Time is the source time now.
func (l *Lake) Time() time.Time { return time.UnixMicro(l.ts).UTC() }

// EndTxn ends the open source transaction, if any.
func (l *Lake) EndTxn() {
	if !l.open {
		return
	}
	l.open = false
	l.mark()
}

// mark records a transaction ending at the current sequence.
func (l *Lake) mark() {
	l.txns = append(l.txns, tableformat.TxnMark{Seq: l.seq, TS: l.ts, GTID: fmt.Sprintf("0-1-%d", l.seq), File: BinlogFile, Pos: uint64(l.seq) * 100})
	l.times[l.seq] = l.ts
	now := map[int64][]string{}
	for id, tb := range l.tables {
		if !tb.dropped {
			now[id] = tb.render()
		}
	}
	l.contents[l.seq] = now
}

// flush writes the open commit's rows of table id (of every table when
// id is 0) into files under the table's current schema.
func (l *Lake) flush(id int64) {
	l.t.Helper()
	for _, tid := range slices.Sorted(maps.Keys(l.tables)) {
		if id != 0 && tid != id {
			continue
		}
		tb := l.tables[tid]
		for _, part := range []struct {
			kind tableformat.FileKind
			rows map[int64][]tableformat.Row
		}{{tableformat.FileData, l.data}, {tableformat.FileDelete, l.dels}} {
			if len(part.rows[tid]) > 0 {
				l.adds = append(l.adds, l.write(tb, part.kind, part.rows[tid], 0))
				delete(part.rows, tid)
			}
		}
	}
}

func (l *Lake) write(tb *table, kind tableformat.FileKind, rows []tableformat.Row, asOf int64) tableformat.AddFile {
	l.t.Helper()
	sc := tb.schema
	f, err := tableformat.WriteAddFile(l.ctx, l.Store, tb.db, tb.name, tb.id, &sc, kind, l.files, rows)
	if err != nil {
		l.t.Fatal(err)
	}
	f.AsOfSeq = asOf
	return f
}

// WriteFile writes rows (in table id's current column order, key columns
// only for a delete file) to a file of kind under the table's current
// schema, and returns its entry (AsOfSeq set to asOf), for a test that
// commits files of its own making.
func (l *Lake) WriteFile(id int64, kind tableformat.FileKind, rows []tableformat.Row, asOf int64) tableformat.AddFile {
	l.t.Helper()
	return l.write(l.live(id), kind, rows, asOf)
}

// AddFiles adds files written elsewhere to the open transaction: n changes
// (a re-snapshot's), whose sequences follow Seq. The model does not
// change: such files bring the lake to it.
func (l *Lake) AddFiles(files []tableformat.AddFile, n int64) {
	l.adds = append(l.adds, files...)
	l.seq += n
	l.open = true
}

// Commit ends the open transaction and commits the open commit, if it
// holds anything: an ingest entry when it holds rows, a truncate or
// schema entry when it holds only a truncation or other DDL.
func (l *Lake) Commit() *tableformat.State {
	l.t.Helper()
	l.EndTxn()
	if len(l.txns) == 0 {
		return l.State()
	}
	l.flush(0)
	kind := tableformat.KindSchema
	switch {
	case len(l.adds) > 0:
		kind = tableformat.KindIngest
	case l.truncates:
		kind = tableformat.KindTruncate
	}
	last := l.txns[len(l.txns)-1]
	e := &tableformat.Entry{Kind: kind, Tables: l.changes, Add: l.adds, Txns: l.txns, Progress: tableformat.Progress{
		Position: tableformat.Position{GTIDSet: last.GTID, File: last.File, Pos: last.Pos},
		PrevSeq:  l.prevSeq, MaxSeq: l.seq, MaxTS: l.ts}}
	l.changes, l.adds, l.txns, l.truncates, l.prevSeq = nil, nil, nil, false, l.seq
	return l.commit(e)
}

func (l *Lake) commit(e *tableformat.Entry) *tableformat.State {
	l.t.Helper()
	st, err := l.Log.Commit(l.ctx, e)
	if err != nil {
		l.t.Fatalf("laketest: commit %s: %v", e.Kind, err)
	}
	l.committed(st)
	return st
}

func (l *Lake) committed(st *tableformat.State) {
	if l.mix.Rewind > 0 {
		if l.versions == nil {
			l.versions = map[int64]modelAt{}
		}
		l.versions[st.Version] = modelAt{seq: l.seq, tables: cloneTables(l.tables)}
	}
}

// CachedFiles reads the files of store's lake with tableformat.ReadAddFile
// and keeps each decoded file, for tests that scan many points of one lake
// with tableformat.ScanTableFrom: files never change once the log names
// them. It is not safe for concurrent use.
func CachedFiles(store tableformat.Store) tableformat.FileSource {
	decoded := map[string]*tableformat.FileContents{}
	return func(ctx context.Context, f tableformat.AddFile) (*tableformat.FileContents, error) {
		k := f.Path + "#" + f.Checksum
		if fc, ok := decoded[k]; ok {
			return fc, nil
		}
		fc, err := tableformat.ReadAddFile(ctx, store, f)
		if err == nil {
			decoded[k] = fc
		}
		return fc, err
	}
}
