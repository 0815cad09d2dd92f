package query

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// history drives random source transactions on one table into a lake
// through real Parquet files: inserts, updates (some of the key), deletes,
// duplicate rows in a keyless table, ADD/DROP/RENAME COLUMN, RENAME TABLE,
// truncations, snapshots and delta merges. It keeps its own rows only to
// make valid changes; the expected answers come from tableformat.ScanTable,
// the format's reference reader.
type history struct {
	t       *testing.T
	ctx     context.Context
	store   tableformat.Store
	log     *tableformat.Log
	rnd     *rand.Rand
	keyed   bool
	schema  tableformat.Schema
	name    string
	rows    []histRow
	seq, ts int64
	nextKey int64
	maxCol  int
	prevSeq int64
	// the open commit
	data, dels []tableformat.Row
	changes    []tableformat.TableChange
	adds       []tableformat.AddFile
	txns       []tableformat.TxnMark
	// feed is every row change: what the change feed must show
	feed []feedRow
}

type feedRow struct {
	seq  int64
	op   string
	vals map[int]any
}

type histRow struct {
	seq  int64
	vals map[int]any // by column id
}

func newHistory(t *testing.T, keyed bool, seed uint64) *history {
	h := &history{t: t, ctx: context.Background(), store: tableformat.NewMemStore(), rnd: rand.New(rand.NewPCG(seed, 11)),
		keyed: keyed, name: "t", ts: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), maxCol: 2}
	h.log = tableformat.NewLog(h.store, tableformat.LogOptions{})
	if _, err := h.log.Create(h.ctx, "src", 5); err != nil {
		t.Fatal(err)
	}
	h.schema = tableformat.Schema{Version: 1, Columns: []tableformat.Column{
		{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
		{ID: 2, Name: "v", Type: tableformat.Type{Kind: tableformat.KindVarchar, Length: 20}, Nullable: true},
	}}
	if keyed {
		h.schema.Key = []int{1}
	}
	h.seq = 1
	sc := h.schema
	h.changes = append(h.changes, tableformat.TableChange{Op: tableformat.TableCreate, TableID: 1, Seq: 1, DB: "d", Name: "t", Schema: &sc})
	h.commit(tableformat.KindIngest)
	return h
}

func (h *history) value(c tableformat.Column) any {
	if c.ID == 1 {
		h.nextKey++
		return h.nextKey
	}
	if h.rnd.IntN(5) == 0 {
		return nil
	}
	if c.Type.Kind == tableformat.KindBigInt {
		return int64(h.rnd.IntN(3))
	}
	return fmt.Sprintf("v%d", h.rnd.IntN(3)) // few values: keyless duplicates happen
}

// image is a row's values in the current schema's column order.
func (h *history) image(r histRow) []any {
	out := make([]any, len(h.schema.Columns))
	for i, c := range h.schema.Columns {
		out[i] = r.vals[c.ID]
	}
	return out
}

func (h *history) keyImage(r histRow) []any {
	var out []any
	for _, c := range h.schema.KeyColumns() {
		out = append(out, r.vals[c.ID])
	}
	return out
}

// txn is one source transaction of 1–3 row changes.
func (h *history) txn() {
	h.ts += int64(h.rnd.IntN(2_000_000))
	for range 1 + h.rnd.IntN(3) {
		h.seq++
		switch r := h.rnd.IntN(10); {
		case r < 5 || len(h.rows) == 0:
			row := histRow{seq: h.seq, vals: map[int]any{}}
			for _, c := range h.schema.Columns {
				row.vals[c.ID] = h.value(c)
			}
			if !h.keyed && len(h.rows) > 0 && h.rnd.IntN(3) == 0 {
				row.vals = cloneVals(h.rows[h.rnd.IntN(len(h.rows))].vals) // an identical row
			}
			h.rows = append(h.rows, row)
			h.data = append(h.data, tableformat.Row{Seq: h.seq, TS: h.ts, Op: tableformat.OpInsert, Values: h.image(row)})
			h.feed = append(h.feed, feedRow{h.seq, "insert", row.vals})
		case r < 8:
			i := h.rnd.IntN(len(h.rows))
			old := h.rows[i]
			h.dels = append(h.dels, tableformat.Row{Seq: h.seq, TS: h.ts, Op: tableformat.OpUpdateBefore, Values: h.keyImage(h.lastIdentical(i))})
			row := histRow{seq: h.seq, vals: cloneVals(old.vals)}
			for _, c := range h.schema.Columns[1:] {
				row.vals[c.ID] = h.value(c)
			}
			if h.rnd.IntN(3) == 0 {
				row.vals[1] = h.value(h.schema.Columns[0])
			}
			h.feed = append(h.feed, feedRow{h.seq, "update_before", h.lastIdentical(i).vals}, feedRow{h.seq, "update_after", row.vals})
			h.rows = slices.Delete(h.rows, h.lastIndex(i), h.lastIndex(i)+1)
			h.rows = append(h.rows, row)
			h.data = append(h.data, tableformat.Row{Seq: h.seq, TS: h.ts, Op: tableformat.OpUpdateAfter, Values: h.image(row)})
		default:
			i := h.lastIndex(h.rnd.IntN(len(h.rows)))
			h.dels = append(h.dels, tableformat.Row{Seq: h.seq, TS: h.ts, Op: tableformat.OpDelete, Values: h.keyImage(h.rows[i])})
			h.feed = append(h.feed, feedRow{h.seq, "delete", h.rows[i].vals})
			h.rows = slices.Delete(h.rows, i, i+1)
		}
	}
	h.txns = append(h.txns, tableformat.TxnMark{Seq: h.seq, TS: h.ts})
}

// lastIndex is the most recent row identical to row i (a keyless delete
// removes that one).
func (h *history) lastIndex(i int) int {
	if h.keyed {
		return i
	}
	for j := len(h.rows) - 1; j >= 0; j-- {
		if fmt.Sprint(h.image(h.rows[j])) == fmt.Sprint(h.image(h.rows[i])) {
			return j
		}
	}
	return i
}

func (h *history) lastIdentical(i int) histRow { return h.rows[h.lastIndex(i)] }

func cloneVals(m map[int]any) map[int]any {
	out := make(map[int]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// alter changes the table's structure between transactions.
func (h *history) alter() {
	h.flushFiles()
	h.seq++
	h.ts++
	sc := h.schema
	sc.Version++
	sc.Columns = slices.Clone(sc.Columns)
	switch r := h.rnd.IntN(4); {
	case r == 0 && len(sc.Columns) > 2:
		i := 1 + h.rnd.IntN(len(sc.Columns)-1)
		sc.Columns = slices.Delete(sc.Columns, i, i+1) // DROP COLUMN
	case r == 1:
		i := 1 + h.rnd.IntN(len(sc.Columns)-1)
		sc.Columns[i].Name += "x" // RENAME COLUMN: the id stays
	case r == 2:
		h.name += "_r" // RENAME TABLE
		h.changes = append(h.changes, tableformat.TableChange{Op: tableformat.TableRename, TableID: 1, Seq: h.seq, DB: "d", Name: h.name})
		h.txns = append(h.txns, tableformat.TxnMark{Seq: h.seq, TS: h.ts})
		return
	default:
		h.maxCol++
		kind := tableformat.KindBigInt
		if h.rnd.IntN(2) == 0 {
			kind = tableformat.KindVarchar
		}
		col := tableformat.Column{ID: h.maxCol, Name: fmt.Sprintf("n%d", h.maxCol),
			Type: tableformat.Type{Kind: kind, Length: 20}, Nullable: true}
		if h.rnd.IntN(2) == 0 {
			// ADD COLUMN … DEFAULT: every row written before holds the
			// initial default (in every image the feed shows of it too).
			var fill any = "dflt"
			if kind == tableformat.KindBigInt {
				fill = int64(7)
			}
			text, err := tableformat.FormatValue(col.Type, fill)
			if err != nil {
				h.t.Fatal(err)
			}
			col.InitialDefault = &text
			for _, r := range h.rows {
				r.vals[col.ID] = fill
			}
			for _, f := range h.feed {
				f.vals[col.ID] = fill
			}
		}
		sc.Columns = append(sc.Columns, col)
	}
	h.schema = sc
	h.changes = append(h.changes, tableformat.TableChange{Op: tableformat.TableAlter, TableID: 1, Seq: h.seq, Schema: &sc})
	h.txns = append(h.txns, tableformat.TxnMark{Seq: h.seq, TS: h.ts})
}

func (h *history) truncate() {
	h.flushFiles()
	h.seq++
	h.ts++
	h.rows = nil
	h.changes = append(h.changes, tableformat.TableChange{Op: tableformat.TableTruncate, TableID: 1, Seq: h.seq})
	h.txns = append(h.txns, tableformat.TxnMark{Seq: h.seq, TS: h.ts})
	h.commit(tableformat.KindTruncate)
}

func (h *history) writeFile(kind tableformat.FileKind, rows []tableformat.Row, asOf int64) tableformat.AddFile {
	sc := h.schema
	f, err := tableformat.WriteAddFile(h.ctx, h.store, "d", "t", 1, &sc, kind, tableformat.FileWriterOptions{}, rows)
	if err != nil {
		h.t.Fatal(err)
	}
	f.AsOfSeq = asOf
	return f
}

// flushFiles writes the open commit's rows under the current schema.
func (h *history) flushFiles() {
	if len(h.data) > 0 {
		h.adds = append(h.adds, h.writeFile(tableformat.FileData, h.data, 0))
	}
	if len(h.dels) > 0 {
		h.adds = append(h.adds, h.writeFile(tableformat.FileDelete, h.dels, 0))
	}
	h.data, h.dels = nil, nil
}

func (h *history) commit(kind tableformat.EntryKind) {
	h.flushFiles()
	e := &tableformat.Entry{Kind: kind, Tables: h.changes, Add: h.adds, Txns: h.txns,
		Progress: tableformat.Progress{PrevSeq: h.prevSeq, MaxSeq: h.seq, MaxTS: h.ts}}
	if _, err := h.log.Commit(h.ctx, e); err != nil {
		h.t.Fatal(err)
	}
	h.changes, h.adds, h.txns, h.prevSeq = nil, nil, nil, h.seq
}

// snapshot commits the table's current contents as a snapshot file.
func (h *history) snapshot() {
	if len(h.rows) == 0 {
		return
	}
	rows := make([]tableformat.Row, len(h.rows))
	for i, r := range h.rows {
		rows[i] = tableformat.Row{Seq: r.seq, TS: h.ts, Op: tableformat.OpSnapshot, Values: h.image(r)}
	}
	f := h.writeFile(tableformat.FileSnapshot, rows, h.seq)
	if _, err := h.log.Commit(h.ctx, &tableformat.Entry{Kind: tableformat.KindCompaction, Add: []tableformat.AddFile{f}}); err != nil {
		h.t.Fatal(err)
	}
}

// merge rewrites the live delta files of one kind written under the
// current schema version into one file keeping every row's sequence.
func (h *history) merge(kind tableformat.FileKind) {
	st, err := h.log.Latest(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	var rows []tableformat.Row
	var remove []tableformat.RemoveFile
	for _, f := range st.Tables[1].SortedFiles() {
		if f.Kind != kind || f.SchemaVersion != h.schema.Version {
			continue
		}
		fc, err := tableformat.ReadAddFile(h.ctx, h.store, f)
		if err != nil {
			h.t.Fatal(err)
		}
		rows = append(rows, fc.Rows...)
		remove = append(remove, tableformat.RemoveFile{Path: f.Path, TableID: 1})
	}
	if len(remove) < 2 {
		return
	}
	add := h.writeFile(kind, rows, 0)
	if _, err := h.log.Commit(h.ctx, &tableformat.Entry{Kind: tableformat.KindCompaction, Remove: remove, Add: []tableformat.AddFile{add}}); err != nil {
		h.t.Fatal(err)
	}
}

// run makes n commits of random work.
func (h *history) run(n int) {
	for range n {
		for range 1 + h.rnd.IntN(4) {
			if h.rnd.IntN(8) == 0 {
				h.alter()
			}
			h.txn()
		}
		h.commit(tableformat.KindIngest)
		switch h.rnd.IntN(14) {
		case 0, 1:
			h.snapshot()
		case 2:
			h.truncate()
		case 3:
			h.merge(tableformat.FileData)
		case 4:
			h.merge(tableformat.FileDelete)
		}
	}
}

// rowStrings renders rows for comparison, sorted.
func rowStrings(rows [][]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprint(r)
	}
	slices.Sort(out)
	return out
}

func queryAll(t *testing.T, s *Session, q string) [][]any {
	t.Helper()
	rows, cancel, err := s.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer cancel()
	out, err := scanAll(rows)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// scanAll reads and closes rows.
func scanAll(rows *sql.Rows) ([][]any, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// newTestEngine returns an engine on log with a cache in cacheDir (a fresh
// temporary one when "").
func newTestEngine(t testing.TB, log *tableformat.Log, cacheDir string, opts Options) *Engine {
	t.Helper()
	if cacheDir == "" {
		cacheDir = t.TempDir()
	}
	cache, err := OpenCache(cacheDir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewEngine(log, cache, opts)
}

// TestViewsMatchScanTable: through random histories of a keyed and a
// keyless table, the DuckDB view of the table at every lake version, and
// the table macro at every version's sequence, equal the reference reader.
//
// With materialize, every session also writes a local snapshot of the
// table at its point (MaterializeRows 1): the view, once swapped to it,
// gives the same rows, and later versions' views read the newest local
// snapshot that still fits the history plus the deltas after it.
func TestViewsMatchScanTable(t *testing.T) {
	for _, materialize := range []bool{false, true} {
		for _, keyed := range []bool{true, false} {
			for seed := range uint64(2) {
				t.Run(fmt.Sprintf("materialize=%v/keyed=%v/%d", materialize, keyed, seed), func(t *testing.T) {
					testViewsMatchScanTable(t, materialize, keyed, seed)
				})
			}
		}
	}
}

func testViewsMatchScanTable(t *testing.T, materialize, keyed bool, seed uint64) {
	h := newHistory(t, keyed, seed)
	h.run(25)
	e := newTestEngine(t, h.log, "", Options{Materialize: materialize, MaterializeRows: 1})
	defer e.Close()
	var usedLocal, swapped int
	latest, err := e.Resolve(h.ctx, At{})
	if err != nil {
		t.Fatal(err)
	}
	// The macros are read through a session of an engine that writes no
	// local snapshot: one written for the latest point could serve every
	// point of the same state, and the sessions below would have none of
	// their own to swap to.
	macroEngine := newTestEngine(t, h.log, "", Options{})
	defer macroEngine.Close()
	ls, err := macroEngine.Open(h.ctx, latest)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	lt := latest.State.Tables[1]
	for v := int64(2); v <= latest.Version; v++ {
		p, sc, want, wantVals, s := h.openAt(e, v)
		n := p.State.Tables[1].NameAt(p.Seq)
		usedLocal += s.localViews
		got := queryAll(t, s, fmt.Sprintf("SELECT * FROM %s.%s", quoteIdent(n.DB), quoteIdent(n.Name)))
		if g, w := rowStrings(got), rowStrings(wantVals); !slices.Equal(g, w) {
			t.Fatalf("view at version %d (seq %d, local snapshots %d):\n got %v\nwant %v", v, p.Seq, s.localViews, g, w)
		}
		if len(s.pending) > 0 {
			<-s.pending[0].b.done
			got := queryAll(t, s, fmt.Sprintf("SELECT * FROM %s.%s", quoteIdent(n.DB), quoteIdent(n.Name)))
			if s.localViews > 0 {
				swapped++
			}
			if g, w := rowStrings(got), rowStrings(wantVals); !slices.Equal(g, w) {
				t.Fatalf("view at version %d (seq %d) on its local snapshot:\n got %v\nwant %v", v, p.Seq, g, w)
			}
		}
		s.Close()
		// The macro shows the latest columns: project the reference.
		proj := make([][]any, len(want))
		for i, r := range want {
			for _, c := range lt.Schema().Columns {
				// A column the point did not have yet: its initial default.
				val, err := c.Fill()
				if err != nil {
					t.Fatal(err)
				}
				for j, oc := range sc.Columns {
					if oc.ID == c.ID {
						val = r.Values[j]
					}
				}
				proj[i] = append(proj[i], val)
			}
		}
		cur := lt.Current()
		got = queryAll(t, ls, fmt.Sprintf("SELECT * FROM %s.%s(%d)", quoteIdent(cur.DB), quoteIdent(cur.Name), p.Seq))
		if g, w := rowStrings(got), rowStrings(proj); !slices.Equal(g, w) {
			t.Fatalf("macro at version %d (seq %d):\n got %v\nwant %v", v, p.Seq, g, w)
		}
	}
	// (Points of one sequence share one local snapshot: most sessions find
	// one written for an earlier session.)
	// Which sessions build and which find a snapshot written before
	// depends on how fast the background builds run (one at a time): the
	// test asks that local snapshots were read, both ways together.
	if materialize && usedLocal+swapped < 5 {
		t.Fatalf("local snapshots: %d sessions opened on one, %d views swapped to one; want at least 5 in all", usedLocal, swapped)
	}
	if !materialize && usedLocal+swapped > 0 {
		t.Fatalf("local snapshots used without materialize: %d, %d", usedLocal, swapped)
	}
}

// TestChangeFeedMatchesHistory: the table's change feed between random
// pairs of versions lists exactly the row changes made between them, in
// order, with whole row images (deleted rows' too).
func TestChangeFeedMatchesHistory(t *testing.T) {
	for _, keyed := range []bool{true, false} {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("keyed=%v/%d", keyed, seed), func(t *testing.T) {
				h := newHistory(t, keyed, seed+10)
				h.run(30)
				e := newTestEngine(t, h.log, "", Options{})
				latest, err := e.Resolve(h.ctx, At{})
				if err != nil {
					t.Fatal(err)
				}
				s, err := e.Open(h.ctx, latest)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				cur := latest.State.Tables[1]
				name := cur.Current()
				for range 25 {
					a := 1 + h.rnd.Int64N(latest.Version)
					b := a + h.rnd.Int64N(latest.Version-a+1)
					var from, to int64
					if err := s.conn.QueryRowContext(h.ctx, "SELECT binlake_seq_at_version($1), binlake_seq_at_version($2)", a, b).Scan(&from, &to); err != nil {
						t.Fatal(err)
					}
					var want []string
					for _, f := range h.feed {
						if f.seq > from && f.seq <= to {
							vals := []any{f.seq, f.op}
							for _, c := range cur.Schema().Columns {
								vals = append(vals, f.vals[c.ID])
							}
							want = append(want, fmt.Sprint(vals))
						}
					}
					rows := queryAll(t, s, fmt.Sprintf("SELECT * EXCLUDE (_binlake_ts) FROM %s.%s(%d, %d)", quoteIdent(name.DB), quoteIdent(name.Name+"_changes"), from, to))
					var got []string
					for _, r := range rows {
						got = append(got, fmt.Sprint(r))
					}
					if !slices.Equal(got, want) {
						t.Fatalf("changes (%d, %d] (versions %d to %d):\n got %v\nwant %v", from, to, a, b, got, want)
					}
				}
			})
		}
	}
}

// TestLocalSnapshotsUnderEviction: in a cache bounded to one byte every
// file is evicted as soon as no session pins it, local snapshots too, even
// between being written and being swapped in: the views stay right,
// falling back to the lake's files.
func TestLocalSnapshotsUnderEviction(t *testing.T) {
	h := newHistory(t, true, 3)
	h.run(12)
	cache, err := OpenCache(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(h.log, cache, Options{Materialize: true, MaterializeRows: 1})
	defer e.Close()
	latest, err := e.Resolve(h.ctx, At{})
	if err != nil {
		t.Fatal(err)
	}
	for v := int64(2); v <= latest.Version; v++ {
		p, _, _, wantVals, s := h.openAt(e, v)
		for _, pv := range s.pending {
			<-pv.b.done
		}
		n := p.State.Tables[1].NameAt(p.Seq)
		got := queryAll(t, s, fmt.Sprintf("SELECT * FROM %s.%s", quoteIdent(n.DB), quoteIdent(n.Name)))
		s.Close()
		if g, w := rowStrings(got), rowStrings(wantVals); !slices.Equal(g, w) {
			t.Fatalf("view at version %d (seq %d):\n got %v\nwant %v", v, p.Seq, g, w)
		}
	}
}

// openAt opens a session of e at version v, and returns with it the
// reference reader's schema and rows of the table there (also as values).
func (h *history) openAt(e *Engine, v int64) (tableformat.Point, *tableformat.Schema, []tableformat.Row, [][]any, *Session) {
	h.t.Helper()
	p, err := e.Resolve(h.ctx, At{Version: v})
	if err != nil {
		h.t.Fatal(err)
	}
	sc, want, err := tableformat.ScanTable(h.ctx, h.store, p, 1)
	if err != nil {
		h.t.Fatal(err)
	}
	wantVals := make([][]any, len(want))
	for i, r := range want {
		wantVals[i] = r.Values
	}
	s, err := e.Open(h.ctx, p)
	if err != nil {
		h.t.Fatalf("version %d: %v", v, err)
	}
	return p, sc, want, wantVals, s
}

// TestMacrosRefuseOutsideRetention: after a vacuum commit moves retention,
// the table macro and the change feed at sequences before it fail with an
// error naming where history starts; inside it they answer as before.
func TestMacrosRefuseOutsideRetention(t *testing.T) {
	h := newHistory(t, true, 4)
	h.run(10)
	latest, err := h.log.Latest(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	from := latest.Progress.MaxSeq / 2
	e := newTestEngine(t, h.log, "", Options{})
	p, err := e.Resolve(h.ctx, At{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Open(h.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	cur := p.State.Tables[1].Current()
	name := quoteIdent(cur.DB) + "." + quoteIdent(cur.Name)
	before := queryAll(t, s, fmt.Sprintf("SELECT * FROM %s(%d)", name, from))
	s.Close()
	if _, err := h.log.Commit(h.ctx, &tableformat.Entry{Kind: tableformat.KindVacuum,
		Retention: &tableformat.Retention{FromSeq: from, FromTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	if p, err = e.Resolve(h.ctx, At{}); err != nil {
		t.Fatal(err)
	}
	if s, err = e.Open(h.ctx, p); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := queryAll(t, s, fmt.Sprintf("SELECT * FROM %s(%d)", name, from)); !slices.Equal(rowStrings(got), rowStrings(before)) {
		t.Fatalf("macro at the retention start changed: %v, was %v", got, before)
	}
	for _, q := range []string{
		fmt.Sprintf("SELECT * FROM %s(%d)", name, from-1),
		fmt.Sprintf("SELECT * FROM %s.%s(%d, %d)", quoteIdent(cur.DB), quoteIdent(cur.Name+"_changes"), from-1, from+1),
	} {
		rows, cancel, err := s.Query(h.ctx, q)
		if err == nil {
			_, err = scanAll(rows)
			cancel()
		}
		if err == nil || !strings.Contains(err.Error(), "outside retention") || !strings.Contains(err.Error(), fmt.Sprintf("seq %d", from)) {
			t.Fatalf("%s: %v; want an outside-retention error naming seq %d", q, err, from)
		}
	}
}
