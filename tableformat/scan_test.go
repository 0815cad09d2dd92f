package tableformat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

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
