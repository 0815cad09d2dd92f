package query

import (
	"bytes"
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/binlake/binlake/tableformat"
)

// TestResnapshotDiffBringsLakeToSource: through random histories of a
// keyed and a keyless table, rows changed without the lake's knowing
// (deleted, changed, added: what a statement without row events does), a
// re-snapshot read in chunks while the stream goes on, compared at one
// sequence and written at a later one after more changes (among them an
// insert of a key the lake held stale), leaves the lake's rows equal to
// the source's, by the reference reader and by the DuckDB view; with
// nothing changed unseen it writes nothing.
func TestResnapshotDiffBringsLakeToSource(t *testing.T) {
	for _, keyed := range []bool{true, false} {
		for seed := range uint64(8) {
			t.Run(fmt.Sprintf("keyed=%v/seed=%d", keyed, seed), func(t *testing.T) {
				testResnapshotDiff(t, keyed, seed, seed%4 != 3, Options{})
			})
		}
	}
}

// TestResnapshotDiffMoreMemory: a comparison that runs out of memory at
// the re-snapshot limit (64 KiB fails every one) is run again with twice
// the memory until it fits, up to query.memory_limit; at that ceiling it
// fails with an error that names the setting.
func TestResnapshotDiffMoreMemory(t *testing.T) {
	for _, keyed := range []bool{true, false} {
		t.Run(fmt.Sprintf("keyed=%v", keyed), func(t *testing.T) {
			var logged bytes.Buffer
			testResnapshotDiff(t, keyed, 3, true, Options{ResnapshotMemoryLimit: "64KiB", MemoryLimit: "1GB",
				Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			if !strings.Contains(logged.String(), "DuckDB ran out of memory; trying again with more") {
				t.Fatalf("no comparison ran out of memory at 64 KiB; the log:\n%s", logged.String())
			}
		})
	}
	t.Run("ceiling", func(t *testing.T) {
		h := newHistory(t, true, 3)
		h.run(12)
		e := newTestEngine(t, h.log, "", Options{ResnapshotMemoryLimit: "64KiB", MemoryLimit: "64KiB"})
		defer e.Close()
		st, err := h.log.Latest(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]tableformat.Row, len(h.rows))
		for j, r := range h.rows {
			out[j] = tableformat.Row{Seq: h.seq, TS: h.ts, Op: tableformat.OpSnapshot, Values: h.image(r)}
		}
		job := &tableformat.ResnapshotJob{DB: "d", Name: h.name, Reason: "test", Chunks: []tableformat.ResnapshotChunk{
			{Seq: h.seq, Rows: int64(len(out)), Last: true, Files: []tableformat.AddFile{h.writeFile(tableformat.FileData, out, 0)}}}}
		diff, err := e.ResnapshotCompare(h.ctx, st, job, 1)
		if err == nil {
			diff.Close()
			t.Fatal("a comparison at 64 KiB with query.memory_limit 64KiB succeeded; want it to run out of memory")
		}
		if !strings.Contains(err.Error(), "query.memory_limit 64KiB is the most a re-snapshot may use") {
			t.Fatalf("error %q does not name query.memory_limit", err)
		}
	})
}

func testResnapshotDiff(t *testing.T, keyed bool, seed uint64, diverge bool, opts Options) {
	h := newHistory(t, keyed, seed)
	h.run(12)
	e := newTestEngine(t, h.log, "", opts)
	defer e.Close()

	// Changes the lake does not see.
	var lost []map[int]any
	if diverge {
		for range 1 + h.rnd.IntN(4) {
			switch r := h.rnd.IntN(3); {
			case r == 0 && len(h.rows) > 0:
				i := h.rnd.IntN(len(h.rows))
				lost = append(lost, h.rows[i].vals)
				h.rows = slices.Delete(h.rows, i, i+1)
			case r == 1 && len(h.rows) > 0:
				i := h.rnd.IntN(len(h.rows))
				h.rows[i].vals = cloneVals(h.rows[i].vals)
				c := h.schema.Columns[len(h.schema.Columns)-1]
				h.rows[i].vals[c.ID] = h.unseen(c)
			default:
				row := histRow{seq: h.seq, vals: map[int]any{}}
				for _, c := range h.schema.Columns {
					row.vals[c.ID] = h.value(c)
				}
				h.rows = append(h.rows, row)
			}
		}
	}

	// The chunks: key ranges read one after another while the stream
	// goes on (a keyless table: one chunk).
	job := &tableformat.ResnapshotJob{DB: "d", Name: h.name, Reason: "test"}
	chunks := 1
	if keyed {
		chunks = 3
	}
	var after any
	for i := range chunks {
		rows := slices.Clone(h.rows)
		if keyed {
			slices.SortFunc(rows, func(a, b histRow) int { return cmp.Compare(a.vals[1].(int64), b.vals[1].(int64)) })
			rows = slices.DeleteFunc(rows, func(r histRow) bool { return after != nil && r.vals[1].(int64) <= after.(int64) })
			if i < chunks-1 && len(rows) > 2 {
				rows = rows[:len(rows)/2]
			} else if i < chunks-1 {
				rows = nil
			}
			if len(rows) > 0 {
				after = rows[len(rows)-1].vals[1]
			}
		}
		c := tableformat.ResnapshotChunk{Seq: h.seq, Rows: int64(len(rows)), Last: i == chunks-1}
		if len(rows) > 0 {
			out := make([]tableformat.Row, len(rows))
			for j, r := range rows {
				out[j] = tableformat.Row{Seq: h.seq, TS: h.ts, Op: tableformat.OpSnapshot, Values: h.image(r)}
			}
			c.Files = []tableformat.AddFile{h.writeFile(tableformat.FileData, out, 0)}
		}
		job.Chunks = append(job.Chunks, c)
		for range h.rnd.IntN(3) {
			h.txn()
			h.commit(tableformat.KindIngest)
		}
	}
	st, err := h.log.Latest(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := e.ResnapshotCompare(h.ctx, st, job, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer diff.Close()

	// The stream goes on while the comparison runs; among its changes, a
	// key the lake holds and the source lost is inserted again.
	for range h.rnd.IntN(4) {
		h.txn()
		h.commit(tableformat.KindIngest)
	}
	if keyed && len(lost) > 0 {
		h.seq++
		row := histRow{seq: h.seq, vals: cloneVals(lost[0])}
		c := h.schema.Columns[len(h.schema.Columns)-1]
		row.vals[c.ID] = h.unseen(c)
		h.rows = append(h.rows, row)
		h.data = append(h.data, tableformat.Row{Seq: h.seq, TS: h.ts, Op: tableformat.OpInsert, Values: h.image(row)})
		h.txns = append(h.txns, tableformat.TxnMark{Seq: h.seq, TS: h.ts})
		h.commit(tableformat.KindIngest)
	}
	switch h.rnd.IntN(3) {
	case 0:
		// A compaction's snapshot: of the lake's rows (h.snapshot's are
		// the source's).
		p, err := e.Resolve(h.ctx, At{})
		if err != nil {
			t.Fatal(err)
		}
		_, rows, err := tableformat.ScanTable(h.ctx, h.store, p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > 0 {
			for i := range rows {
				rows[i].Op = tableformat.OpSnapshot
			}
			f := h.writeFile(tableformat.FileSnapshot, rows, h.seq)
			if _, err := h.log.Commit(h.ctx, &tableformat.Entry{Kind: tableformat.KindCompaction, Add: []tableformat.AddFile{f}}); err != nil {
				t.Fatal(err)
			}
		}
	case 1:
		h.merge(tableformat.FileData)
	}

	st, err = h.log.Latest(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, n, err := diff.Changes(h.ctx, st, st.Progress.MaxSeq+1, h.ts)
	if err != nil {
		t.Fatal(err)
	}
	if !diverge && n != 0 {
		t.Fatalf("nothing changed unseen, yet the re-snapshot wrote %d changes", n)
	}
	if n > 0 {
		h.adds = files
		h.seq += n
		h.txns = append(h.txns, tableformat.TxnMark{Seq: h.seq, TS: h.ts})
		h.commit(tableformat.KindIngest)
	}

	latest, err := e.Resolve(h.ctx, At{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]any, len(h.rows))
	for i, r := range h.rows {
		want[i] = h.image(r)
	}
	_, scanned, err := tableformat.ScanTable(h.ctx, h.store, latest, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := make([][]any, len(scanned))
	for i, r := range scanned {
		got[i] = r.Values
	}
	if g, w := rowStrings(got), rowStrings(want); !slices.Equal(g, w) {
		t.Fatalf("after the re-snapshot (%d changes), the reference reader:\n got %v\nwant %v", n, g, w)
	}
	s, err := e.Open(h.ctx, latest)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cur := latest.State.Tables[1].Current()
	viewRows := queryAll(t, s, fmt.Sprintf("SELECT * FROM %s.%s", quoteIdent(cur.DB), quoteIdent(cur.Name)))
	if g, w := rowStrings(viewRows), rowStrings(want); !slices.Equal(g, w) {
		t.Fatalf("after the re-snapshot (%d changes), the view:\n got %v\nwant %v", n, g, w)
	}
}

// unseen is a value of c's type no history makes.
func (h *history) unseen(c tableformat.Column) any {
	if c.Type.Kind == tableformat.KindBigInt {
		return int64(1000 + h.rnd.IntN(100))
	}
	return fmt.Sprintf("unseen%d", h.rnd.IntN(100))
}

func TestDoubledMemory(t *testing.T) {
	for _, c := range []struct {
		limit, most, want string
		ok                bool
	}{
		{"64KiB", "1GB", "131072B", true},
		{"33554432B", "1GB", "67108864B", true},
		{"600MB", "1GB", "1000000000B", true},
		{"1GB", "1GB", "", false},
		{"2GiB", "1GB", "", false},
		{"32 MiB", "1 GiB", "67108864B", true},
		{"lots", "1GB", "", false},
		{"1GB", "", "", false},
	} {
		got, ok := doubledMemory(c.limit, c.most)
		if got != c.want || ok != c.ok {
			t.Errorf("doubledMemory(%q, %q) = %q, %v; want %q, %v", c.limit, c.most, got, ok, c.want, c.ok)
		}
	}
}
