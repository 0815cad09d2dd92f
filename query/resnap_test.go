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
	seeds := uint64(8)
	if testing.Short() {
		seeds = 4 // the unit run (make test-unit): seed 3 is the one without unseen changes
	}
	for _, keyed := range []bool{true, false} {
		for seed := range seeds {
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
		h.Run(12)
		e := newTestEngine(t, h.Log, "", Options{ResnapshotMemoryLimit: "64KiB", MemoryLimit: "64KiB"})
		defer e.Close()
		rows := h.Rows(1)
		out := make([]tableformat.Row, len(rows))
		for j, r := range rows {
			out[j] = tableformat.Row{Seq: h.Seq(), TS: h.Time().UnixMicro(), Op: tableformat.OpSnapshot, Values: r}
		}
		name := h.State().Tables.Get(1).Current()
		job := &tableformat.ResnapshotJob{DB: name.DB, Name: name.Name, Reason: "test", Chunks: []tableformat.ResnapshotChunk{
			{Seq: h.Seq(), Rows: int64(len(out)), Last: true, Files: []tableformat.AddFile{h.WriteFile(1, tableformat.FileData, out, 0)}}}}
		diff, err := e.ResnapshotCompare(t.Context(), h.State(), job, 1)
		if err == nil {
			diff.Close()
			t.Fatal("a comparison at 64 KiB with query.memory_limit 64KiB succeeded; want it to run out of memory")
		}
		if !strings.Contains(err.Error(), "query.memory_limit 64KiB is the most a re-snapshot may use") {
			t.Fatalf("error %q does not name query.memory_limit", err)
		}
	})
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

func testResnapshotDiff(t *testing.T, keyed bool, seed uint64, diverge bool, opts Options) {
	ctx := t.Context()
	h := newHistory(t, keyed, seed)
	h.Run(12)
	e := newTestEngine(t, h.Log, "", opts)
	defer e.Close()

	// Changes the lake does not see.
	var lost [][]any
	if diverge {
		for range 1 + h.Rand.IntN(4) {
			if img := h.Unseen(1); img != nil {
				lost = append(lost, img)
			}
		}
	}

	// The chunks: key ranges read one after another while the stream
	// goes on (a keyless table: one chunk).
	name := h.State().Tables.Get(1).Current()
	job := &tableformat.ResnapshotJob{DB: name.DB, Name: name.Name, Reason: "test"}
	chunks := 1
	if keyed {
		chunks = 3
	}
	var after any
	for i := range chunks {
		rows := h.Rows(1) // the id first
		if keyed {
			slices.SortFunc(rows, func(a, b []any) int { return cmp.Compare(a[0].(int64), b[0].(int64)) })
			rows = slices.DeleteFunc(rows, func(r []any) bool { return after != nil && r[0].(int64) <= after.(int64) })
			if i < chunks-1 && len(rows) > 2 {
				rows = rows[:len(rows)/2]
			} else if i < chunks-1 {
				rows = nil
			}
			if len(rows) > 0 {
				after = rows[len(rows)-1][0]
			}
		}
		c := tableformat.ResnapshotChunk{Seq: h.Seq(), Rows: int64(len(rows)), Last: i == chunks-1}
		if len(rows) > 0 {
			out := make([]tableformat.Row, len(rows))
			for j, r := range rows {
				out[j] = tableformat.Row{Seq: h.Seq(), TS: h.Time().UnixMicro(), Op: tableformat.OpSnapshot, Values: r}
			}
			c.Files = []tableformat.AddFile{h.WriteFile(1, tableformat.FileData, out, 0)}
		}
		job.Chunks = append(job.Chunks, c)
		for range h.Rand.IntN(3) {
			h.RandomTxn()
			h.Commit()
		}
	}
	diff, err := e.ResnapshotCompare(ctx, h.State(), job, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer diff.Close()

	// The stream goes on while the comparison runs; among its changes, a
	// key the lake holds and the source lost is inserted again.
	for range h.Rand.IntN(4) {
		h.RandomTxn()
		h.Commit()
	}
	if keyed && len(lost) > 0 {
		vals := slices.Clone(lost[0])
		sc := h.Schema(1)
		vals[len(vals)-1] = h.UnseenValue(sc.Columns[len(sc.Columns)-1].Type)
		h.Insert(1, vals...)
		h.Commit()
	}
	switch h.Rand.IntN(3) {
	case 0:
		// A compaction's snapshot: of the lake's rows (h.Snapshot's are
		// the source's).
		p, err := e.Resolve(ctx, At{})
		if err != nil {
			t.Fatal(err)
		}
		_, rows, err := tableformat.ScanTable(ctx, h.Store, p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > 0 {
			for i := range rows {
				rows[i].Op = tableformat.OpSnapshot
			}
			f := h.WriteFile(1, tableformat.FileSnapshot, rows, h.Seq())
			if _, err := h.Log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindCompaction, Add: []tableformat.AddFile{f}}); err != nil {
				t.Fatal(err)
			}
		}
	case 1:
		h.Merge(1, tableformat.FileData)
	}

	st := h.State()
	files, n, err := diff.Changes(ctx, st, st.Progress.MaxSeq+1, h.Time().UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	if !diverge && n != 0 {
		t.Fatalf("nothing changed unseen, yet the re-snapshot wrote %d changes", n)
	}
	if n > 0 {
		h.AddFiles(files, n)
		h.Commit()
	}

	latest, err := e.Resolve(ctx, At{})
	if err != nil {
		t.Fatal(err)
	}
	want := h.Rows(1)
	_, scanned, err := tableformat.ScanTable(ctx, h.Store, latest, 1)
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
	s, err := e.Open(ctx, latest)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cur := latest.State.Tables.Get(1).Current()
	viewRows := queryAll(t, s, fmt.Sprintf("SELECT * FROM %s.%s", quoteIdent(cur.DB), quoteIdent(cur.Name)))
	if g, w := rowStrings(viewRows), rowStrings(want); !slices.Equal(g, w) {
		t.Fatalf("after the re-snapshot (%d changes), the view:\n got %v\nwant %v", n, g, w)
	}
}
