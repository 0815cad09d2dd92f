package laketest

import (
	"fmt"
	"strings"
	"time"

	"github.com/binlake/binlake/tableformat"
)

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
func (l *Lake) value(ty tableformat.Type) any { return typed(ty, l.Rand.IntN(3), "v") }

// UnseenValue is a value of type ty that the generator never makes.
func (l *Lake) UnseenValue(ty tableformat.Type) any { return typed(ty, 100+l.Rand.IntN(20), "u") }

// typed is n as a value of type ty: n for an integer, n.55… (as the
// reader renders it) for a decimal, prefix and n for a string.
func typed(ty tableformat.Type, n int, prefix string) any {
	switch {
	case ty.IsInteger() && ty.Unsigned:
		return uint64(n)
	case ty.IsInteger():
		return int64(n)
	case ty.Kind == tableformat.KindDecimal && ty.Scale > 0:
		return fmt.Sprintf("%d.%s", n, strings.Repeat("5", ty.Scale))
	case ty.Kind == tableformat.KindDecimal:
		return fmt.Sprint(n)
	default:
		return fmt.Sprintf("%s%d", prefix, n)
	}
}
