package tableformat

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// modelRow is a row of the test model with the sequence that wrote it.
type modelRow struct {
	seq  int64
	vals []any
}

// scanModel drives a random workload into a lake through real Parquet files
// and keeps the expected contents of the table after every transaction.
type scanModel struct {
	t       *testing.T
	ctx     context.Context
	store   Store
	log     *Log
	rnd     *rand.Rand
	schema  *Schema
	keyed   bool
	rows    []modelRow // current contents
	seq, ts int64
	nextKey int64
	// expected contents after each transaction: by its last sequence
	want map[int64][]string
	tss  map[int64]int64 // transaction's last sequence → its time
	// pending changes of the open commit
	data, dels []Row
	txns       []TxnMark
	prevSeq    int64
	file       int
}

func newScanModel(t *testing.T, keyed bool, seed uint64) *scanModel {
	ctx := context.Background()
	store := NewMemStore()
	l := NewLog(store, LogOptions{})
	if _, err := l.Create(ctx, "src", 7); err != nil {
		t.Fatal(err)
	}
	schema := &Schema{Version: 1, Columns: []Column{
		{ID: 1, Name: "id", Type: Type{Kind: KindBigInt}},
		{ID: 2, Name: "v", Type: Type{Kind: KindVarchar, Length: 20}, Nullable: true},
	}}
	if keyed {
		schema.Key = []int{1}
	}
	m := &scanModel{t: t, ctx: ctx, store: store, log: l, rnd: rand.New(rand.NewPCG(seed, 7)), schema: schema, keyed: keyed,
		want: map[int64][]string{}, tss: map[int64]int64{}, ts: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()}
	m.seq = 1 // the create
	m.commitPending(&Entry{Kind: KindIngest, Tables: []TableChange{{Op: TableCreate, TableID: 1, Seq: 1, DB: "d", Name: "t", Schema: schema}}})
	return m
}

func (m *scanModel) value() any {
	if m.rnd.IntN(5) == 0 {
		return nil
	}
	return fmt.Sprintf("v%d", m.rnd.IntN(4)) // few values: keyless duplicates happen
}

func (m *scanModel) keyOf(vals []any) []any {
	if m.keyed {
		return vals[:1]
	}
	return vals
}

// txn applies one random source transaction of 1–3 changes.
func (m *scanModel) txn() {
	m.ts += int64(m.rnd.IntN(2_000_000)) // equal times happen
	for range 1 + m.rnd.IntN(3) {
		m.seq++
		switch r := m.rnd.IntN(10); {
		case r < 5 || len(m.rows) == 0: // insert
			var id int64
			if m.keyed || m.rnd.IntN(2) == 0 || len(m.rows) == 0 {
				m.nextKey++
				id = m.nextKey
			} else {
				id = m.rows[m.rnd.IntN(len(m.rows))].vals[0].(int64) // a duplicate id
			}
			vals := []any{id, m.value()}
			m.rows = append(m.rows, modelRow{m.seq, vals})
			m.data = append(m.data, Row{Seq: m.seq, TS: m.ts, Op: OpInsert, Values: vals})
		case r < 8: // update, sometimes of the key
			i := m.rnd.IntN(len(m.rows))
			old := m.rows[i]
			m.dels = append(m.dels, Row{Seq: m.seq, TS: m.ts, Op: OpUpdateBefore, Values: m.keyOf(old.vals)})
			vals := []any{old.vals[0], m.value()}
			if m.rnd.IntN(3) == 0 {
				m.nextKey++
				vals[0] = m.nextKey
			}
			m.rows = slices.Delete(m.rows, i, i+1)
			m.rows = append(m.rows, modelRow{m.seq, vals})
			m.data = append(m.data, Row{Seq: m.seq, TS: m.ts, Op: OpUpdateAfter, Values: vals})
		default: // delete
			i := m.rnd.IntN(len(m.rows))
			if !m.keyed {
				// A keyless delete removes the most recent identical row.
				for j := len(m.rows) - 1; j >= 0; j-- {
					if fmt.Sprint(m.rows[j].vals) == fmt.Sprint(m.rows[i].vals) {
						i = j
						break
					}
				}
			}
			m.dels = append(m.dels, Row{Seq: m.seq, TS: m.ts, Op: OpDelete, Values: m.keyOf(m.rows[i].vals)})
			m.rows = slices.Delete(m.rows, i, i+1)
		}
	}
	m.txns = append(m.txns, TxnMark{Seq: m.seq, TS: m.ts})
	m.want[m.seq] = m.contents()
	m.tss[m.seq] = m.ts
}

func (m *scanModel) contents() []string {
	out := make([]string, len(m.rows))
	for i, r := range m.rows {
		out[i] = fmt.Sprint(r.vals)
	}
	slices.Sort(out)
	return out
}

func (m *scanModel) writeFile(kind FileKind, rows []Row, asOf int64) AddFile {
	f, err := WriteAddFile(m.ctx, m.store, "d", "t", 1, m.schema, kind, FileWriterOptions{}, rows)
	if err != nil {
		m.t.Fatal(err)
	}
	f.AsOfSeq = asOf
	return f
}

// commitPending commits the open transactions as one ingest entry (plus e's
// table changes).
func (m *scanModel) commitPending(e *Entry) {
	if len(m.data) > 0 {
		e.Add = append(e.Add, m.writeFile(FileData, m.data, 0))
	}
	if len(m.dels) > 0 {
		e.Add = append(e.Add, m.writeFile(FileDelete, m.dels, 0))
	}
	e.Txns = m.txns
	e.Progress = Progress{PrevSeq: m.prevSeq, MaxSeq: m.seq, MaxTS: m.ts}
	if _, err := m.log.Commit(m.ctx, e); err != nil {
		m.t.Fatal(err)
	}
	m.data, m.dels, m.txns, m.prevSeq = nil, nil, nil, m.seq
}

// snapshot commits a compaction snapshot of the current contents.
func (m *scanModel) snapshot() {
	rows := make([]Row, len(m.rows))
	for i, r := range m.rows {
		rows[i] = Row{Seq: r.seq, TS: m.ts, Op: OpSnapshot, Values: r.vals}
	}
	if len(rows) == 0 {
		return
	}
	f := m.writeFile(FileSnapshot, rows, m.seq)
	if _, err := m.log.Commit(m.ctx, &Entry{Kind: KindCompaction, Add: []AddFile{f}}); err != nil {
		m.t.Fatal(err)
	}
}

// merge rewrites all live files of one delta kind into one file that keeps
// every row's sequence, time and op (delta merging: history survives).
func (m *scanModel) merge(kind FileKind) {
	st, err := m.log.Latest(m.ctx)
	if err != nil {
		m.t.Fatal(err)
	}
	var rows []Row
	var remove []RemoveFile
	for _, f := range st.Tables[1].SortedFiles() {
		if f.Kind != kind {
			continue
		}
		fc, err := ReadAddFile(m.ctx, m.store, f)
		if err != nil {
			m.t.Fatal(err)
		}
		rows = append(rows, fc.Rows...)
		remove = append(remove, RemoveFile{Path: f.Path, TableID: 1})
	}
	if len(remove) < 2 {
		return
	}
	add := m.writeFile(kind, rows, 0)
	if _, err := m.log.Commit(m.ctx, &Entry{Kind: KindCompaction, Remove: remove, Add: []AddFile{add}}); err != nil {
		m.t.Fatal(err)
	}
}

// truncate empties the table at a sequence of its own.
func (m *scanModel) truncate() {
	m.seq++
	m.ts++
	m.txns = append(m.txns, TxnMark{Seq: m.seq, TS: m.ts})
	m.rows = nil
	m.want[m.seq] = nil
	m.tss[m.seq] = m.ts
	m.commitPending(&Entry{Kind: KindTruncate, Tables: []TableChange{{Op: TableTruncate, TableID: 1, Seq: m.seq}}})
}

func (m *scanModel) check(p Point, what string) {
	m.t.Helper()
	_, rows, err := ScanTable(m.ctx, m.store, p, 1)
	if err != nil {
		m.t.Fatalf("%s: %v", what, err)
	}
	got := make([]string, len(rows))
	for i, r := range rows {
		got[i] = fmt.Sprint(r.Values)
	}
	slices.Sort(got)
	if want := m.want[p.Seq]; strings.Join(got, " ") != strings.Join(want, " ") {
		m.t.Fatalf("%s (version %d seq %d):\n got %v\nwant %v", what, p.Version, p.Seq, got, want)
	}
}

// TestScanTableMatchesModel: for random histories of a keyed and a keyless
// table (updates that change keys, duplicate rows, snapshots, truncations),
// the table read at every transaction boundary — by time and by version —
// equals the model's contents then.
func TestScanTableMatchesModel(t *testing.T) {
	for _, keyed := range []bool{true, false} {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("keyed=%v/%d", keyed, seed), func(t *testing.T) {
				m := newScanModel(t, keyed, seed)
				for range 40 {
					for range 1 + m.rnd.IntN(4) {
						m.txn()
					}
					m.commitPending(&Entry{Kind: KindIngest})
					switch m.rnd.IntN(12) {
					case 0, 1:
						m.snapshot()
					case 2:
						m.truncate()
					case 3:
						m.merge(FileData)
					case 4:
						m.merge(FileDelete)
					}
				}
				seqs := make([]int64, 0, len(m.want))
				for s := range m.want {
					seqs = append(seqs, s)
				}
				slices.Sort(seqs)
				l := NewLog(m.store, LogOptions{})
				for i, s := range seqs {
					// Only a transaction whose time differs from the next one's
					// can be named by time.
					if i+1 < len(seqs) && m.tss[seqs[i+1]] == m.tss[s] {
						continue
					}
					p, err := l.AtTime(m.ctx, time.UnixMicro(m.tss[s]))
					if err != nil {
						t.Fatal(err)
					}
					if p.Seq != s {
						t.Fatalf("as of the time of seq %d resolved to seq %d", s, p.Seq)
					}
					m.check(p, fmt.Sprintf("as of time %d", m.tss[s]))
				}
				latest, err := l.Latest(m.ctx)
				if err != nil {
					t.Fatal(err)
				}
				for v := int64(2); v <= latest.Version; v++ {
					p, err := l.AtVersion(m.ctx, v)
					if err != nil {
						t.Fatal(err)
					}
					m.check(p, fmt.Sprintf("as of version %d", v))
				}
			})
		}
	}
}

func TestCorruptFileIsCorruption(t *testing.T) {
	_, err := ReadFile([]byte("not parquet"))
	if !errors.Is(err, ErrCorruptFile) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%v: want both ErrCorruptFile and ErrCorrupt", err)
	}
}

// TestScanSkipsFilesBeforeATruncation: a type change the stored values do
// not fit truncates a keyless table (the writer re-reads it); files from
// before the truncation are not read under the new schema, which could
// not read them.
func TestScanSkipsFilesBeforeATruncation(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	l := NewLog(store, LogOptions{})
	if _, err := l.Create(ctx, "src", 7); err != nil {
		t.Fatal(err)
	}
	dec := func(version, scale int) *Schema {
		return &Schema{Version: version, Columns: []Column{{ID: 1, Name: "amount", Type: Type{Kind: KindDecimal, Precision: 10, Scale: scale}}}}
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	old, err := WriteAddFile(ctx, store, "d", "t", 1, dec(1, 2), FileData, FileWriterOptions{},
		[]Row{{Seq: 2, TS: ts, Op: OpInsert, Values: []any{"12.50"}}})
	if err != nil {
		t.Fatal(err)
	}
	now, err := WriteAddFile(ctx, store, "d", "t", 1, dec(2, 0), FileData, FileWriterOptions{},
		[]Row{{Seq: 4, TS: ts, Op: OpInsert, Values: []any{"13"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Entry{
		{Kind: KindIngest, Tables: []TableChange{{Op: TableCreate, TableID: 1, Seq: 1, DB: "d", Name: "t", Schema: dec(1, 2)}},
			Add: []AddFile{old}, Txns: []TxnMark{{Seq: 2, TS: ts}}, Progress: Progress{MaxSeq: 2, MaxTS: ts}},
		{Kind: KindSchema, Tables: []TableChange{{Op: TableAlter, TableID: 1, Seq: 3, Schema: dec(2, 0)}, {Op: TableTruncate, TableID: 1, Seq: 3}},
			Txns: []TxnMark{{Seq: 3, TS: ts}}, Progress: Progress{PrevSeq: 2, MaxSeq: 3, MaxTS: ts}},
		{Kind: KindIngest, Add: []AddFile{now}, Txns: []TxnMark{{Seq: 4, TS: ts}}, Progress: Progress{PrevSeq: 3, MaxSeq: 4, MaxTS: ts}},
	} {
		if _, err := l.Commit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for seq, want := range map[int64]string{2: "[12.50]", 3: "", 4: "[13]"} {
		p, err := l.AtVersion(ctx, seq) // version v holds sequence v here
		if err != nil {
			t.Fatal(err)
		}
		_, rows, err := ScanTable(ctx, store, p, 1)
		if err != nil {
			t.Fatalf("sequence %d: %v", seq, err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprint(r.Values))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("sequence %d: %q, want %q", seq, got, want)
		}
	}
}
