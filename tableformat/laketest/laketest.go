// Package laketest writes seeded random lakes for tests. A Lake commits
// through the real writer (tableformat.WriteAddFile, Log.Commit): tables
// created, altered (columns added, some with an initial default, dropped,
// renamed), renamed, truncated and dropped; rows inserted, updated (keys
// too) and deleted in source transactions over many commits; snapshots and
// delta merges; rewinds. Beside the lake it keeps a model: every table's
// rows at every transaction boundary and every table's change feed, which
// its own test checks against tableformat.ScanTable, the format's reference
// reader.
//
// The same seed gives the same history (file names aside), so a failing
// test names a history that can be replayed. Tests that need a lake of a
// given shape script it with the same calls the random driver makes
// (CreateTable, Insert, EndTxn, RenameTable, Commit, Snapshot).
//
// It is for tests only: nothing but _test.go files imports it.
package laketest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
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
}

// Mix weighs the random driver's choices, in percent.
type Mix struct {
	// A step is a rewind to an earlier version of the lake's history, a
	// commit of one DDL statement, a truncation, a snapshot or a merge of
	// delta files with these chances; otherwise it ingests 1–4 source
	// transactions in one commit.
	Rewind, Schema, Truncate, Snapshot, Merge int
	// Alter is the chance that a DDL statement comes before a transaction
	// of an ingest step, in the same commit.
	Alter int
	// CreateTable is the chance that an ingest step creates a table (one
	// is created whenever none is left).
	CreateTable int
	// DropTable is the share of DDL statements that drop their table; the
	// others add, drop or rename a column, or rename the table.
	DropTable int
}

// DefaultMix is a mix of everything but rewinds.
func DefaultMix() Mix {
	return Mix{Schema: 8, Truncate: 5, Snapshot: 10, Merge: 10, Alter: 10, CreateTable: 10, DropTable: 10}
}

// Change is one row change of a table's change feed.
type Change struct {
	Seq int64
	// Op is the change feed's name of the operation: insert, update_before,
	// update_after or delete.
	Op string
	// Values is the row's whole image by column id, a column added later
	// with an initial default holding it.
	Values map[int]any
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

// table is the model of one table.
type table struct {
	id       int64
	db, name string
	schema   tableformat.Schema
	rows     []row // in the order written: a keyless delete removes the last identical one
	maxCol   int
	dropped  bool
}

type row struct {
	seq  int64
	vals map[int]any // by column id
}

// modelAt is the model as of one version, for rewinds.
type modelAt struct {
	seq    int64
	tables map[int64]*table
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

// CreateTable creates db.name with schema (version 1) in a transaction of
// its own, and returns its id.
func (l *Lake) CreateTable(db, name string, schema tableformat.Schema) int64 {
	l.t.Helper()
	if err := schema.Validate(); err != nil {
		l.t.Fatalf("laketest: create %s.%s: %v", db, name, err)
	}
	id := l.newTableID()
	schema.Version = 1
	tb := &table{id: id, db: db, name: name, schema: schema}
	for _, c := range schema.Columns {
		tb.maxCol = max(tb.maxCol, c.ID)
	}
	l.beginDDL(id)
	l.tables[id] = tb
	sc := schema
	l.ddl(tableformat.TableChange{Op: tableformat.TableCreate, TableID: id, DB: db, Name: name, Schema: &sc})
	return id
}

// CreateRandomTable creates table d.t<id>: an id BIGINT (its key when
// keyed) and one or two columns of Options.Types.
func (l *Lake) CreateRandomTable(keyed bool) int64 {
	l.t.Helper()
	sc := tableformat.Schema{Columns: []tableformat.Column{{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}}}}
	if keyed {
		sc.Key = []int{1}
	}
	for i := range 1 + l.Rand.IntN(2) {
		sc.Columns = append(sc.Columns, tableformat.Column{ID: i + 2, Name: fmt.Sprintf("c%d", i+2), Type: l.randomType(), Nullable: true})
	}
	return l.CreateTable("d", fmt.Sprintf("t%d", l.newTableID()), sc)
}

// newTableID is an id no table of the lake or the model has.
func (l *Lake) newTableID() int64 {
	id := l.State().MaxTableID() + 1
	for existing := range l.tables {
		id = max(id, existing+1)
	}
	return id
}

// Insert inserts a row (its values in the table's column order) in the
// open transaction.
func (l *Lake) Insert(id int64, vals ...any) {
	l.t.Helper()
	tb := l.live(id)
	if len(vals) != len(tb.schema.Columns) {
		l.t.Fatalf("laketest: insert into %s.%s: %d values for %d columns", tb.db, tb.name, len(vals), len(tb.schema.Columns))
	}
	r := row{vals: map[int]any{}}
	for i, c := range tb.schema.Columns {
		r.vals[c.ID] = vals[i]
		if k, ok := vals[i].(int64); ok && c.ID == 1 {
			l.nextKey = max(l.nextKey, k)
		}
	}
	l.insert(tb, r)
}

func (l *Lake) insert(tb *table, r row) {
	l.seq++
	l.open = true
	r.seq = l.seq
	tb.rows = append(tb.rows, r)
	l.data[tb.id] = append(l.data[tb.id], tableformat.Row{Seq: l.seq, TS: l.ts, Op: tableformat.OpInsert, Values: tb.image(r)})
	l.feeds[tb.id] = append(l.feeds[tb.id], Change{l.seq, "insert", maps.Clone(r.vals)})
}

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

// beginDDL ends the open transaction, as a DDL statement commits it, and
// writes the open commit's rows of table id under the schema they were
// written with, before a DDL statement changes the table.
func (l *Lake) beginDDL(id int64) {
	l.EndTxn()
	l.flush(id)
}

// ddl records c (its sequence set here), a DDL statement beginDDL began
// and the model has applied, as a transaction of its own.
func (l *Lake) ddl(c tableformat.TableChange) {
	l.seq++
	c.Seq = l.seq
	l.changes = append(l.changes, c)
	l.mark()
}

// RenameTable renames table id.
func (l *Lake) RenameTable(id int64, db, name string) {
	l.t.Helper()
	tb := l.live(id)
	l.beginDDL(id)
	tb.db, tb.name = db, name
	l.ddl(tableformat.TableChange{Op: tableformat.TableRename, TableID: id, DB: db, Name: name})
}

// DropTable drops table id.
func (l *Lake) DropTable(id int64) {
	l.t.Helper()
	tb := l.live(id)
	l.beginDDL(id)
	tb.dropped = true
	l.ddl(tableformat.TableChange{Op: tableformat.TableDrop, TableID: id})
}

// AddColumn adds a nullable column of a random type to table id; half the
// time the rows before hold an initial default.
func (l *Lake) AddColumn(id int64) {
	l.t.Helper()
	tb := l.live(id)
	l.beginDDL(id)
	tb.maxCol++
	col := tableformat.Column{ID: tb.maxCol, Name: fmt.Sprintf("c%d", tb.maxCol), Type: l.randomType(), Nullable: true}
	var fill any
	if l.Rand.IntN(2) == 0 {
		fill = l.value(col.Type)
		text, err := tableformat.FormatValue(col.Type, fill)
		if err != nil {
			l.t.Fatal(err)
		}
		col.InitialDefault = &text
	}
	// Every row image so far holds the fill in the new column (assigned
	// even when NULL: after a rewind an image may hold a value of an
	// earlier column of the same id).
	for _, r := range tb.rows {
		r.vals[col.ID] = fill
	}
	for _, ch := range l.feeds[id] {
		ch.Values[col.ID] = fill
	}
	sc := tb.next()
	sc.Columns = append(sc.Columns, col)
	l.alter(tb, sc)
}

// Alter changes table id with a random DDL statement: add, drop or rename
// a column, or rename the table.
func (l *Lake) Alter(id int64) {
	l.t.Helper()
	tb := l.live(id)
	sc := tb.next()
	switch r := l.Rand.IntN(4); {
	case r == 0 && len(sc.Columns) > 2:
		i := 1 + l.Rand.IntN(len(sc.Columns)-1) // never the id
		sc.Columns = slices.Delete(sc.Columns, i, i+1)
	case r == 1 && len(sc.Columns) > 1:
		i := 1 + l.Rand.IntN(len(sc.Columns)-1)
		sc.Columns[i].Name += "x" // the id stays
	case r == 2:
		l.RenameTable(id, tb.db, tb.name+"_r")
		return
	default:
		l.AddColumn(id)
		return
	}
	l.alter(tb, sc)
}

func (l *Lake) alter(tb *table, sc tableformat.Schema) {
	l.beginDDL(tb.id)
	tb.schema = sc
	l.ddl(tableformat.TableChange{Op: tableformat.TableAlter, TableID: tb.id, Schema: &sc})
}

// next is a copy of the table's schema as its next version.
func (tb *table) next() tableformat.Schema {
	sc := tb.schema
	sc.Version++
	sc.Columns = slices.Clone(sc.Columns)
	return sc
}

// Truncate commits what is open, then TRUNCATE TABLE id in a commit of
// its own.
func (l *Lake) Truncate(id int64) {
	l.t.Helper()
	l.Commit()
	tb := l.live(id)
	l.beginDDL(id)
	tb.rows = nil
	l.truncates = true
	l.ddl(tableformat.TableChange{Op: tableformat.TableTruncate, TableID: id})
	l.Commit()
}

// RandomTxn makes one source transaction of 1–3 random row changes on
// live tables (creating one if none is left).
func (l *Lake) RandomTxn() {
	l.t.Helper()
	live := l.liveTables()
	if len(live) == 0 {
		live = []int64{l.CreateRandomTable(l.Rand.IntN(2) == 0)}
	}
	for range 1 + l.Rand.IntN(3) {
		l.RandomChange(live[l.Rand.IntN(len(live))])
	}
	l.EndTxn()
}

// RandomChange makes a random row change to table id in the open
// transaction: an insert (in a keyless table sometimes a copy of a row it
// has), an update (sometimes of the key) or a delete.
func (l *Lake) RandomChange(id int64) {
	l.t.Helper()
	tb := l.live(id)
	switch r := l.Rand.IntN(10); {
	case r < 5 || len(tb.rows) == 0:
		nr := row{vals: map[int]any{}}
		for _, c := range tb.schema.Columns {
			nr.vals[c.ID] = l.columnValue(c)
		}
		if len(tb.schema.Key) == 0 && len(tb.rows) > 0 && l.Rand.IntN(3) == 0 {
			nr.vals = maps.Clone(tb.rows[l.Rand.IntN(len(tb.rows))].vals) // an identical row
		}
		l.insert(tb, nr)
	case r < 8:
		l.seq++
		l.open = true
		i := tb.lastIdentical(l.Rand.IntN(len(tb.rows)))
		old := tb.rows[i]
		nr := row{seq: l.seq, vals: maps.Clone(old.vals)}
		for _, c := range tb.schema.Columns[1:] {
			nr.vals[c.ID] = l.columnValue(c)
		}
		if l.Rand.IntN(3) == 0 {
			nr.vals[1] = l.columnValue(tb.schema.Columns[0]) // a new key
		}
		tb.rows = append(slices.Delete(tb.rows, i, i+1), nr)
		l.dels[id] = append(l.dels[id], tableformat.Row{Seq: l.seq, TS: l.ts, Op: tableformat.OpUpdateBefore, Values: tb.keyImage(old)})
		l.data[id] = append(l.data[id], tableformat.Row{Seq: l.seq, TS: l.ts, Op: tableformat.OpUpdateAfter, Values: tb.image(nr)})
		l.feeds[id] = append(l.feeds[id], Change{l.seq, "update_before", maps.Clone(old.vals)}, Change{l.seq, "update_after", maps.Clone(nr.vals)})
	default:
		l.seq++
		l.open = true
		i := tb.lastIdentical(l.Rand.IntN(len(tb.rows)))
		old := tb.rows[i]
		tb.rows = slices.Delete(tb.rows, i, i+1)
		l.dels[id] = append(l.dels[id], tableformat.Row{Seq: l.seq, TS: l.ts, Op: tableformat.OpDelete, Values: tb.keyImage(old)})
		l.feeds[id] = append(l.feeds[id], Change{l.seq, "delete", maps.Clone(old.vals)})
	}
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

// Unseen changes table id in the model only — deletes a row, changes a
// value, or adds a row — as a statement without row events changes the
// source; the lake differs from the model until a re-snapshot brings it
// back. It returns the deleted row's image, if it deleted one.
func (l *Lake) Unseen(id int64) []any {
	l.t.Helper()
	tb := l.live(id)
	switch r := l.Rand.IntN(3); {
	case r == 0 && len(tb.rows) > 0:
		i := l.Rand.IntN(len(tb.rows))
		img := tb.image(tb.rows[i])
		tb.rows = slices.Delete(tb.rows, i, i+1)
		return img
	case r == 1 && len(tb.rows) > 0:
		i := l.Rand.IntN(len(tb.rows))
		c := tb.schema.Columns[len(tb.schema.Columns)-1]
		tb.rows[i].vals = maps.Clone(tb.rows[i].vals)
		tb.rows[i].vals[c.ID] = l.UnseenValue(c.Type)
	default:
		nr := row{seq: l.seq, vals: map[int]any{}}
		for _, c := range tb.schema.Columns {
			nr.vals[c.ID] = l.columnValue(c)
		}
		tb.rows = append(tb.rows, nr)
	}
	return nil
}

// UnseenValue is a value of type ty that the generator never makes.
func (l *Lake) UnseenValue(ty tableformat.Type) any {
	n := 100 + l.Rand.IntN(20)
	switch {
	case ty.IsInteger() && ty.Unsigned:
		return uint64(n)
	case ty.IsInteger():
		return int64(n)
	case ty.Kind == tableformat.KindDecimal:
		return decimal(n, ty.Scale)
	default:
		return fmt.Sprintf("u%d", n)
	}
}

// Seq is the last change sequence given out.
func (l *Lake) Seq() int64 { return l.seq }

// Time is the source time now.
func (l *Lake) Time() time.Time { return time.UnixMicro(l.ts).UTC() }

// Schema is table id's current schema.
func (l *Lake) Schema(id int64) tableformat.Schema {
	sc := l.tables[id].schema
	sc.Columns = slices.Clone(sc.Columns)
	return sc
}

// Rows are the model's rows of table id now, in its current column order,
// in the order they were written.
func (l *Lake) Rows(id int64) [][]any {
	tb := l.tables[id]
	out := make([][]any, len(tb.rows))
	for i, r := range tb.rows {
		out[i] = tb.image(r)
	}
	return out
}

func (l *Lake) write(tb *table, kind tableformat.FileKind, rows []tableformat.Row, asOf int64) tableformat.AddFile {
	l.t.Helper()
	sc := tb.schema
	f, err := tableformat.WriteAddFile(l.ctx, l.Store, tb.db, tb.name, tb.id, &sc, kind, tableformat.FileWriterOptions{}, rows)
	if err != nil {
		l.t.Fatal(err)
	}
	f.AsOfSeq = asOf
	return f
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

// Snapshot commits what is open, then a snapshot of table id as of the
// latest sequence (no snapshot when the table is empty or has one there).
func (l *Lake) Snapshot(id int64) {
	l.t.Helper()
	l.Commit()
	tb := l.live(id)
	if len(tb.rows) == 0 || slices.ContainsFunc(l.State().Tables[id].SortedFiles(), func(f tableformat.AddFile) bool {
		return f.Kind == tableformat.FileSnapshot && f.AsOfSeq == l.seq
	}) {
		return
	}
	rows := make([]tableformat.Row, len(tb.rows))
	for i, r := range tb.rows {
		rows[i] = tableformat.Row{Seq: r.seq, TS: l.ts, Op: tableformat.OpSnapshot, Values: tb.image(r)}
	}
	l.commit(&tableformat.Entry{Kind: tableformat.KindCompaction, Add: []tableformat.AddFile{l.write(tb, tableformat.FileSnapshot, rows, l.seq)}})
}

// Merge commits what is open, then rewrites the live files of kind (data
// or delete) of table id written under its current schema into one file
// that keeps every row's sequence, time and operation, if there are two
// or more.
func (l *Lake) Merge(id int64, kind tableformat.FileKind) {
	l.t.Helper()
	l.Commit()
	tb := l.live(id)
	var rows []tableformat.Row
	var remove []tableformat.RemoveFile
	for _, f := range l.State().Tables[id].SortedFiles() {
		if f.Kind != kind || f.SchemaVersion != tb.schema.Version {
			continue
		}
		fc, err := tableformat.ReadAddFile(l.ctx, l.Store, f)
		if err != nil {
			l.t.Fatal(err)
		}
		rows = append(rows, fc.Rows...)
		remove = append(remove, tableformat.RemoveFile{Path: f.Path, TableID: id})
	}
	if len(remove) < 2 {
		return
	}
	l.commit(&tableformat.Entry{Kind: tableformat.KindCompaction, Remove: remove, Add: []tableformat.AddFile{l.write(tb, kind, rows, 0)}})
}

// Rewind commits what is open, then sets the lake back to version v of
// its history (a rewind entry), the model with it. Options.Mix must
// rewind (Mix.Rewind > 0), so that the model of every version is kept.
func (l *Lake) Rewind(v int64) {
	l.t.Helper()
	l.Commit()
	at, ok := l.versions[v]
	if !ok {
		l.t.Fatalf("laketest: rewind to version %d: no model of it (Mix.Rewind is 0, or it is not a version of this lake)", v)
	}
	old, err := l.Log.StateAt(l.ctx, v)
	if err != nil {
		l.t.Fatal(err)
	}
	l.tables, l.seq, l.prevSeq = cloneTables(at.tables), at.seq, at.seq
	for s := range l.contents {
		if s > at.seq {
			delete(l.contents, s)
			delete(l.times, s)
		}
	}
	for id, feed := range l.feeds {
		l.feeds[id] = slices.DeleteFunc(feed, func(c Change) bool { return c.Seq > at.seq })
	}
	// Source time stays where it was: the source's clock does not go back
	// with the lake.
	l.commit(&tableformat.Entry{Kind: tableformat.KindRewind, Progress: old.Progress,
		Rewind: &tableformat.RewindInfo{ToVersion: v, Tables: old.Images(), Resnapshots: old.Resnapshots, Gaps: old.Gaps}})
}

// Step makes one random commit, as Options.Mix weighs them.
func (l *Lake) Step() {
	l.t.Helper()
	live := l.liveTables()
	pick := func() int64 { return live[l.Rand.IntN(len(live))] }
	m := l.mix
	r := l.Rand.IntN(100)
	switch {
	case r < m.Rewind:
		if vs := l.lineage(); len(vs) > 0 {
			l.Rewind(vs[l.Rand.IntN(len(vs))])
			return
		}
	case len(live) == 0:
	case r < m.Rewind+m.Schema:
		l.randomDDL(pick())
		l.Commit()
		return
	case r < m.Rewind+m.Schema+m.Truncate:
		l.Truncate(pick())
		return
	case r < m.Rewind+m.Schema+m.Truncate+m.Snapshot:
		l.Snapshot(pick())
		return
	case r < m.Rewind+m.Schema+m.Truncate+m.Snapshot+m.Merge:
		kind := tableformat.FileData
		if l.Rand.IntN(2) == 0 {
			kind = tableformat.FileDelete
		}
		l.Merge(pick(), kind)
		return
	}
	if len(live) == 0 || l.Rand.IntN(100) < m.CreateTable {
		l.CreateRandomTable(l.Rand.IntN(2) == 0)
	}
	for range 1 + l.Rand.IntN(4) {
		l.Advance(time.Duration(l.Rand.IntN(2_000_000)) * time.Microsecond)
		if live := l.liveTables(); len(live) > 0 && l.Rand.IntN(100) < m.Alter {
			l.randomDDL(live[l.Rand.IntN(len(live))])
		}
		l.RandomTxn()
	}
	l.Commit()
}

// Run makes n random commits.
func (l *Lake) Run(n int) {
	l.t.Helper()
	for range n {
		l.Step()
	}
}

func (l *Lake) randomDDL(id int64) {
	if l.Rand.IntN(100) < l.mix.DropTable {
		l.DropTable(id)
		return
	}
	l.Alter(id)
}

// lineage lists the versions a rewind may go back to: those of the
// current history after the lake's creation, before the latest.
func (l *Lake) lineage() []int64 {
	var out []int64
	st := l.State()
	for _, r := range st.Lineage {
		for v := max(r.From, 2); v <= r.To && v < st.Version; v++ {
			out = append(out, v)
		}
	}
	return out
}

// Contents is the model of table id at the transaction boundary seq: its
// rows rendered with fmt.Sprint in the column order of its schema then,
// sorted. ok is false when the table did not exist then or seq is not a
// boundary.
func (l *Lake) Contents(seq, id int64) (rows []string, ok bool) {
	rows, ok = l.contents[seq][id]
	return rows, ok
}

// TxnSeqs lists the last sequence of every source transaction of the
// lake's current history, in order.
func (l *Lake) TxnSeqs() []int64 { return slices.Sorted(maps.Keys(l.times)) }

// TxnTime is the source time of the transaction ending at seq.
func (l *Lake) TxnTime(seq int64) time.Time { return time.UnixMicro(l.times[seq]).UTC() }

// Feed is table id's change feed so far: every row change, in order.
func (l *Lake) Feed(id int64) []Change { return slices.Clone(l.feeds[id]) }

// Tables lists the ids of the tables the lake has had, dropped ones too.
func (l *Lake) Tables() []int64 { return slices.Sorted(maps.Keys(l.tables)) }

func (l *Lake) live(id int64) *table {
	l.t.Helper()
	tb := l.tables[id]
	if tb == nil || tb.dropped {
		l.t.Fatalf("laketest: no live table %d", id)
	}
	return tb
}

func (l *Lake) liveTables() []int64 {
	var out []int64
	for _, id := range l.Tables() {
		if !l.tables[id].dropped {
			out = append(out, id)
		}
	}
	return out
}

func (l *Lake) randomType() tableformat.Type { return l.types[l.Rand.IntN(len(l.types))] }

// columnValue is a random value for column c: a new key for the id, else
// one of few values (so that keyless tables hold identical rows), NULL a
// fifth of the time.
func (l *Lake) columnValue(c tableformat.Column) any {
	if c.ID == 1 {
		l.nextKey++
		return l.nextKey
	}
	if c.Nullable && l.Rand.IntN(5) == 0 {
		return nil
	}
	return l.value(c.Type)
}

// value is one of three values of type ty.
func (l *Lake) value(ty tableformat.Type) any {
	n := l.Rand.IntN(3)
	switch {
	case ty.IsInteger() && ty.Unsigned:
		return uint64(n)
	case ty.IsInteger():
		return int64(n)
	case ty.Kind == tableformat.KindDecimal:
		return decimal(n, ty.Scale)
	default:
		return fmt.Sprintf("v%d", n)
	}
}

// decimal is n.55… with scale fraction digits, as the reader renders it.
func decimal(n, scale int) string {
	if scale == 0 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d.%s", n, strings.Repeat("5", scale))
}

// image is a row's values in the table's column order.
func (tb *table) image(r row) []any {
	out := make([]any, len(tb.schema.Columns))
	for i, c := range tb.schema.Columns {
		out[i] = r.vals[c.ID]
	}
	return out
}

// keyImage is what a delete file holds of a row: its key, or (keyless) the
// whole row.
func (tb *table) keyImage(r row) []any {
	var out []any
	for _, c := range tb.schema.KeyColumns() {
		out = append(out, r.vals[c.ID])
	}
	return out
}

// lastIdentical is the most recent row with row i's values: the one a
// keyless update or delete removes.
func (tb *table) lastIdentical(i int) int {
	if len(tb.schema.Key) > 0 {
		return i
	}
	want := fmt.Sprint(tb.image(tb.rows[i]))
	for j := len(tb.rows) - 1; j > i; j-- {
		if fmt.Sprint(tb.image(tb.rows[j])) == want {
			return j
		}
	}
	return i
}

func (tb *table) render() []string {
	out := make([]string, len(tb.rows))
	for i, r := range tb.rows {
		out[i] = fmt.Sprint(tb.image(r))
	}
	slices.Sort(out)
	return out
}

func cloneTables(in map[int64]*table) map[int64]*table {
	out := make(map[int64]*table, len(in))
	for id, tb := range in {
		c := *tb
		c.schema.Columns = slices.Clone(tb.schema.Columns)
		c.rows = make([]row, len(tb.rows))
		for i, r := range tb.rows {
			c.rows[i] = row{seq: r.seq, vals: maps.Clone(r.vals)}
		}
		out[id] = &c
	}
	return out
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
