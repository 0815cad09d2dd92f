package laketest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/binlake/binlake/tableformat"
)

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

// RandomChange makes a random row change to table id in the open
// transaction: an insert (in a keyless table sometimes a copy of a row it
// has), an update (sometimes of the key) or a delete. The table's first
// column must be a BIGINT id of column id 1, as CreateRandomTable makes
// it: new keys and changed keys are new ids.
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

// Snapshot commits what is open, then a snapshot of table id as of the
// latest sequence (no snapshot when the table is empty or has one there).
func (l *Lake) Snapshot(id int64) {
	l.t.Helper()
	l.Commit()
	tb := l.live(id)
	if len(tb.rows) == 0 || slices.ContainsFunc(l.State().Tables.Get(id).SortedFiles(), func(f tableformat.AddFile) bool {
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
	for _, f := range l.State().Tables.Get(id).SortedFiles() {
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
