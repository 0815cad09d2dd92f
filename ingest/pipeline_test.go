package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// script is a scripted source: a fixed event list whose transactions end
// with Commit events carrying GTIDs 0-1-1, 0-1-2, … It can be opened at any
// transaction boundary, and cut after a number of events to simulate a
// daemon that stops in the middle of the stream.
type script struct {
	events []Event
	i      int
	stopAt int // return io.EOF before this event (0: at the end)
}

func (s *script) Next(ctx context.Context) (Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.i >= len(s.events) || (s.stopAt > 0 && s.i >= s.stopAt) {
		return nil, io.EOF
	}
	s.i++
	return s.events[s.i-1], nil
}

func (s *script) Close() error { return nil }

// openAt positions the script after the transaction that ended at pos.
func (s *script) openAt(pos tableformat.Position) {
	s.i = 0
	if pos.GTIDSet == "" && pos.File == binlogStart.File && pos.Pos == binlogStart.Pos || pos.IsZero() {
		return
	}
	for i, ev := range s.events {
		if c, ok := ev.(*Commit); ok && c.End.GTIDSet == pos.GTIDSet {
			s.i = i + 1
			return
		}
	}
	panic("position not in script: " + pos.GTIDSet)
}

// workload generates the script and the expected contents of every table
// after every transaction.
type workload struct {
	rnd    *rand.Rand
	tables []*wlTable
	events []Event
	txn    int
	ts     int64
	// want[n][db.table] = sorted rows after transaction n
	want []map[string][]string
}

type wlTable struct {
	t       *Table
	rows    map[int64][]any
	nextKey int64
	dropped bool
}

func newWorkload(seed uint64) *workload {
	w := &workload{rnd: rand.New(rand.NewPCG(seed, 5)), ts: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()}
	for i := range 3 {
		w.tables = append(w.tables, &wlTable{rows: map[int64][]any{}, t: &Table{DB: "shop", Name: fmt.Sprintf("t%d", i),
			Columns: []SourceColumn{{Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
				{Name: "note", Type: tableformat.Type{Kind: tableformat.KindVarchar, Length: 32}, Nullable: true}},
			Key: []string{"id"}}})
	}
	return w
}

func (w *workload) live() []*wlTable {
	var out []*wlTable
	for _, t := range w.tables {
		if !t.dropped {
			out = append(out, t)
		}
	}
	return out
}

func (w *workload) value(t *wlTable) []any {
	row := make([]any, len(t.t.Columns))
	for i := 1; i < len(row); i++ {
		if w.rnd.IntN(6) == 0 {
			continue
		}
		if t.t.Columns[i].Type.Kind == tableformat.KindInt {
			row[i] = int64(w.rnd.IntN(1000))
		} else {
			row[i] = fmt.Sprintf("n%d", w.rnd.IntN(1000))
		}
	}
	return row
}

// step appends one transaction: row changes to 1–3 tables, or a DDL.
func (w *workload) step() {
	w.txn++
	w.ts += int64(w.rnd.IntN(1500)) * 1000
	live := w.live()
	if r := w.rnd.IntN(25); r == 0 && len(live) > 1 {
		t := live[w.rnd.IntN(len(live))]
		old := *t.t
		switch w.rnd.IntN(3) {
		case 0: // rename
			t.t = &Table{DB: old.DB, Name: old.Name + "r", Columns: old.Columns, Key: old.Key}
			w.events = append(w.events, &DDL{Op: DDLRename, DB: old.DB, Name: old.Name, NewDB: old.DB, NewName: t.t.Name})
		case 1: // truncate
			clear(t.rows)
			w.events = append(w.events, &DDL{Op: DDLTruncate, DB: old.DB, Name: old.Name})
		default: // add a column: shows in the next Rows event
			cols := append(slices.Clone(old.Columns), SourceColumn{Name: fmt.Sprintf("c%d", len(old.Columns)),
				Type: tableformat.Type{Kind: tableformat.KindInt}, Nullable: true})
			t.t = &Table{DB: old.DB, Name: old.Name, Columns: cols, Key: old.Key}
			for k, r := range t.rows {
				t.rows[k] = append(slices.Clone(r), nil)
			}
			w.events = append(w.events, &DDL{Op: DDLAlter, DB: old.DB, Name: old.Name, Table: t.t})
		}
	} else {
		for range 1 + w.rnd.IntN(3) {
			t := live[w.rnd.IntN(len(live))]
			n := 1 + w.rnd.IntN(4)
			switch op := w.rnd.IntN(10); {
			case op < 5 || len(t.rows) == 0:
				ev := &Rows{Table: t.t, Op: RowInsert, Time: w.ts}
				for range n {
					t.nextKey++
					r := w.value(t)
					r[0] = t.nextKey
					t.rows[t.nextKey] = r
					ev.After = append(ev.After, r)
				}
				w.events = append(w.events, ev)
			case op < 8:
				ev := &Rows{Table: t.t, Op: RowUpdate, Time: w.ts}
				for _, k := range w.someKeys(t, n) {
					before := t.rows[k]
					after := w.value(t)
					after[0] = k
					if w.rnd.IntN(3) == 0 { // the key changes
						t.nextKey++
						after[0] = t.nextKey
					}
					delete(t.rows, k)
					t.rows[after[0].(int64)] = after
					ev.Before, ev.After = append(ev.Before, before), append(ev.After, after)
				}
				w.events = append(w.events, ev)
			default:
				ev := &Rows{Table: t.t, Op: RowDelete, Time: w.ts}
				for _, k := range w.someKeys(t, n) {
					ev.Before = append(ev.Before, t.rows[k])
					delete(t.rows, k)
				}
				w.events = append(w.events, ev)
			}
		}
	}
	gtid := fmt.Sprintf("0-1-%d", w.txn)
	w.events = append(w.events, &Commit{GTID: gtid, Time: w.ts,
		End: tableformat.Position{GTIDSet: gtid, File: "mysql-bin.000001", Pos: uint64(w.txn * 1000)}})
	snap := map[string][]string{}
	for _, t := range w.live() {
		var rows []string
		for _, r := range t.rows {
			rows = append(rows, fmt.Sprint(r))
		}
		slices.Sort(rows)
		snap[t.t.DB+"."+t.t.Name] = rows
	}
	w.want = append(w.want, snap)
}

func (w *workload) someKeys(t *wlTable, n int) []int64 {
	var keys []int64
	for k := range t.rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.rnd.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys[:min(n, len(keys))]
}

// checkLake compares the lake with the workload after every transaction,
// resolving each by its GTID.
func checkLake(t *testing.T, store tableformat.Store, w *workload) {
	t.Helper()
	ctx := context.Background()
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	read := laketest.CachedFiles(store) // each file decoded once for every transaction
	for n := 1; n <= len(w.want); n++ {
		p, err := l.AtGTID(ctx, fmt.Sprintf("0-1-%d", n))
		if errors.Is(err, tableformat.ErrBeforeHistory) && allEmpty(w.want[n-1]) {
			continue // no change has reached the lake yet
		}
		if err != nil {
			t.Fatalf("as of transaction %d: %v", n, err)
		}
		got := map[string][]string{}
		for tb := range p.State.Tables.Values() {
			if !tb.ExistsAt(p.Seq) {
				continue
			}
			_, rows, err := tableformat.ScanTableFrom(ctx, read, p, tb.ID)
			if err != nil {
				t.Fatalf("as of transaction %d: %v", n, err)
			}
			name := tb.NameAt(p.Seq)
			got[name.DB+"."+name.Name] = laketest.Render(rows)
		}
		for name, want := range w.want[n-1] {
			if len(want) == 0 && got[name] == nil {
				continue // a table no row has reached yet is not in the lake
			}
			if strings.Join(got[name], "|") != strings.Join(want, "|") {
				t.Fatalf("after transaction %d, %s:\n got %v\nwant %v", n, name, got[name], want)
			}
		}
	}
}

func allEmpty(m map[string][]string) bool {
	for _, rows := range m {
		if len(rows) > 0 {
			return false
		}
	}
	return true
}

func newLake(t *testing.T) (tableformat.Store, *tableformat.Log) {
	t.Helper()
	store := tableformat.NewMemStore()
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	if _, err := l.Create(context.Background(), "shop", 10); err != nil {
		t.Fatal(err)
	}
	return store, l
}

func TestPipelineMatchesWorkload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget int64
		txns   int
	}{{"in memory", 0, 250}, {"spilling every transaction", 1, 80}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorkload(1)
			for range tc.txns {
				w.step()
			}
			store, l := newLake(t)
			opts := Options{CommitInterval: time.Hour, MaxBatchBytes: 4 << 10, MemoryBudget: tc.budget}
			if err := New(l, opts).Run(context.Background(), &script{events: w.events}); err != nil {
				t.Fatal(err)
			}
			checkLake(t, store, w)
			st, err := l.Latest(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Progress.Position.GTIDSet != fmt.Sprintf("0-1-%d", w.txn) {
				t.Fatalf("lake at %s, want 0-1-%d", st.Progress.Position, w.txn)
			}
			files, rowEvents := 0, 0
			for v := int64(1); v <= st.Version; v++ {
				e, err := l.Entry(context.Background(), v)
				if err != nil {
					t.Fatal(err)
				}
				files += len(e.Add)
			}
			for _, ev := range w.events {
				if _, ok := ev.(*Rows); ok {
					rowEvents++
				}
			}
			if tc.budget > 0 && files < rowEvents {
				t.Fatalf("%d files for %d row events: the budget did not make it spill", files, rowEvents)
			}
			t.Logf("%d transactions, %d row events, %d commits, %d files", w.txn, rowEvents, st.Version-1, files)
		})
	}
}

// TestPipelineResumesExactlyOnce stops the pipeline at random events (in
// the middle of transactions, too) and restarts it from the lake's position:
// the lake ends equal to the workload, no change lost or doubled.
func TestPipelineResumesExactlyOnce(t *testing.T) {
	w := newWorkload(2)
	for range 200 {
		w.step()
	}
	store, l := newLake(t)
	rnd := rand.New(rand.NewPCG(9, 9))
	src := &script{events: w.events}
	restarts := 0
	for {
		st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		src.openAt(st.Progress.Position)
		if src.i >= len(src.events) {
			break
		}
		src.stopAt = src.i + 1 + rnd.IntN(40)
		opts := Options{CommitInterval: time.Hour, MaxBatchBytes: int64(1 + rnd.IntN(8<<10)), MemoryBudget: int64(rnd.IntN(2) * 2000)}
		if err := New(tableformat.NewLog(store, tableformat.LogOptions{}), opts).Run(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		restarts++
	}
	if restarts < 20 {
		t.Fatalf("only %d restarts", restarts)
	}
	checkLake(t, store, w)
	_ = l
}
