package query

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/binlake/binlake/tableformat"
)

// goldenLake is a lake of one table with the rows of the format's pinned
// every-type file (tableformat/testdata/deltafile/alltypes_v1.parquet).
func goldenLake(t *testing.T) (*tableformat.Log, tableformat.Store) {
	t.Helper()
	data, err := os.ReadFile("../tableformat/testdata/deltafile/alltypes_v1.parquet")
	if err != nil {
		t.Fatal(err)
	}
	fc, err := tableformat.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Schema.Key) == 0 || len(fc.Rows) < 3 {
		t.Fatalf("golden file: key %v, %d rows", fc.Schema.Key, len(fc.Rows))
	}
	// Its keys must be distinct for the snapshot to hold every row.
	rows := slices.Clone(fc.Rows)
	for i := range rows {
		rows[i].Seq, rows[i].Op = int64(i+2), tableformat.OpInsert
	}
	return oneTableLake(t, &fc.Schema, rows)
}

// TestWrittenFilesAreLakeFiles: snapshot and merged files written by DuckDB
// (lakewrite.go) are lake files the format's own reader accepts — sealed,
// every type in its Parquet form (tableformat/FORMAT.md §12) — holding
// exactly the rows the reference reader gives.
func TestWrittenFilesAreLakeFiles(t *testing.T) {
	log, store := goldenLake(t)
	checkWrittenFiles(t, log, store)
}

// checkWrittenFiles checks that the snapshot and merged files DuckDB
// writes of table 1 of log are lake files holding the reference reader's
// rows.
func checkWrittenFiles(t *testing.T, log *tableformat.Log, store tableformat.Store) {
	t.Helper()
	ctx := context.Background()
	e := newTestEngine(t, log, "", Options{})
	defer e.Close()
	p, err := e.Resolve(ctx, At{})
	if err != nil {
		t.Fatal(err)
	}
	_, want, err := tableformat.ScanTable(ctx, store, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, files []tableformat.WrittenFile, kind tableformat.FileKind, want []tableformat.Row) {
		t.Helper()
		var got []tableformat.Row
		for _, wf := range files {
			b, err := os.ReadFile(wf.Local)
			if err != nil {
				t.Fatal(err)
			}
			if err := tableformat.VerifyChecksum(b, wf.Add.Bytes, wf.Add.Checksum); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			fc, err := tableformat.ReadFile(b)
			if err != nil {
				t.Fatalf("%s: the format's reader refuses a written file: %v", name, err)
			}
			if fc.Kind != kind || fc.Schema.Version != wf.Add.SchemaVersion || int64(len(fc.Rows)) != wf.Add.Rows {
				t.Fatalf("%s: file holds %s v%d %d rows; Add says %+v", name, fc.Kind, fc.Schema.Version, len(fc.Rows), wf.Add)
			}
			for _, r := range fc.Rows {
				if r.Seq < wf.Add.MinSeq || r.Seq > wf.Add.MaxSeq || r.TS < wf.Add.MinTS || r.TS > wf.Add.MaxTS {
					t.Fatalf("%s: row seq %d ts %d outside the Add's bounds %+v", name, r.Seq, r.TS, wf.Add)
				}
			}
			got = append(got, fc.Rows...)
		}
		// A snapshot is in key order, the reference in change order.
		slices.SortStableFunc(got, func(a, b tableformat.Row) int { return cmp.Compare(a.Seq, b.Seq) })
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", name, len(got), len(want))
		}
		for i := range got {
			if g, w := fmt.Sprint(got[i]), fmt.Sprint(want[i]); g != w {
				t.Fatalf("%s: row %d:\n got %.300s\nwant %.300s", name, i, g, w)
			}
		}
	}

	snap, err := e.WriteSnapshot(ctx, p, 1, filepath.Join(t.TempDir(), "snap"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != 1 || snap[0].Add.AsOfSeq != p.Seq || snap[0].Add.Kind != tableformat.FileSnapshot {
		t.Fatalf("snapshot files: %+v", snap)
	}
	check("snapshot", snap, tableformat.FileSnapshot, want)

	tbl := p.State.Tables.Get(1)
	inputs := tbl.SortedFiles()
	merged, err := e.WriteMerged(ctx, tbl, inputs, filepath.Join(t.TempDir(), "merged"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var in []tableformat.Row
	for _, f := range inputs {
		fc, err := tableformat.ReadAddFile(ctx, store, f)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, fc.Rows...)
	}
	check("merged", merged, tableformat.FileData, in)
}

// TestWriteSnapshotSplitsFiles: a target size splits a snapshot into
// several files, in key order across them.
func TestWriteSnapshotSplitsFiles(t *testing.T) {
	ctx := context.Background()
	sc := &tableformat.Schema{Version: 1, Key: []int{1}, Columns: []tableformat.Column{
		{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
		{ID: 2, Name: "v", Type: tableformat.Type{Kind: tableformat.KindVarchar, Length: 64}, Nullable: true}}}
	// Three row groups' worth (DuckDB starts a new file after a row group
	// once past the size), keys descending so the sort shows.
	const n = 3 * 122880
	var rows []tableformat.Row
	for i := range n {
		rows = append(rows, tableformat.Row{Seq: int64(i + 2), TS: 1, Op: tableformat.OpInsert, Values: []any{int64(n - i), "x"}})
	}
	log, _ := oneTableLake(t, sc, rows)
	e := newTestEngine(t, log, "", Options{})
	p, err := e.Resolve(ctx, At{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := e.WriteSnapshot(ctx, p, 1, filepath.Join(t.TempDir(), "snap"), 1)
	if err != nil {
		t.Fatal(err)
	}
	// Each file one range of keys, in key order; together every key once.
	var ranges [][2]int64
	var count int64
	for _, wf := range files {
		b, _ := os.ReadFile(wf.Local)
		fc, err := tableformat.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range fc.Rows {
			if i > 0 && r.Values[0].(int64) != fc.Rows[i-1].Values[0].(int64)+1 {
				t.Fatalf("%s: key %v after %v", wf.Local, r.Values[0], fc.Rows[i-1].Values[0])
			}
		}
		ranges = append(ranges, [2]int64{fc.Rows[0].Values[0].(int64), fc.Rows[len(fc.Rows)-1].Values[0].(int64)})
		count += int64(len(fc.Rows))
	}
	slices.SortFunc(ranges, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	next := int64(1)
	for _, r := range ranges {
		if r[0] != next {
			t.Fatalf("key ranges %v", ranges)
		}
		next = r[1] + 1
	}
	if len(files) < 2 || next != n+1 || count != n {
		t.Fatalf("%d files, %d rows; want several files, %d rows", len(files), count, n)
	}
}
