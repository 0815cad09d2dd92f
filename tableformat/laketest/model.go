package laketest

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/binlake/binlake/tableformat"
)

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
	images := make([][]any, len(tb.rows))
	for i, r := range tb.rows {
		images[i] = tb.image(r)
	}
	return render(images)
}

// Render is how Contents renders a table's rows: each row's values with
// fmt.Sprint, sorted (a table is a multiset). Rows a reader returns,
// rendered so, compare with Contents.
func Render(rows []tableformat.Row) []string {
	images := make([][]any, len(rows))
	for i, r := range rows {
		images[i] = r.Values
	}
	return render(images)
}

func render(images [][]any) []string {
	out := make([]string, len(images))
	for i, vals := range images {
		out[i] = fmt.Sprint(vals)
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
