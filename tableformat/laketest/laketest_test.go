package laketest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// TestModelMatchesScanTable: for random histories of keyed and keyless
// tables (updates that change keys, identical rows, DDL, snapshots,
// merges, truncations, drops, and rewinds), every table read by the
// reference reader at every transaction boundary of the lake's history —
// by time and by version — equals the generator's model then. It is what
// makes the model a sound expectation for the tests that use it.
func TestModelMatchesScanTable(t *testing.T) {
	rewinding := laketest.DefaultMix()
	rewinding.Rewind = 5
	decimals := []tableformat.Type{{Kind: tableformat.KindDecimal, Precision: 20, Scale: 2}, {Kind: tableformat.KindTinyInt},
		{Kind: tableformat.KindInt, Unsigned: true}, {Kind: tableformat.KindVarchar, Length: 8}}
	// Files with the writer's default compression in the first case; the
	// others spare themselves its cost (most of all under -race): the model
	// does not depend on it.
	plain := tableformat.FileWriterOptions{Compression: tableformat.CompressionNone}
	for _, c := range []struct {
		name  string
		mix   *laketest.Mix
		types []tableformat.Type
		files tableformat.FileWriterOptions
	}{{"default", nil, nil, tableformat.FileWriterOptions{}}, {"rewinds", &rewinding, nil, plain}, {"types", nil, decimals, plain}} {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%s/%d", c.name, seed), func(t *testing.T) {
				l := laketest.New(t, laketest.Options{Seed: seed, Mix: c.mix, Types: c.types, Files: c.files})
				l.Run(40)
				checkModel(t, l)
			})
		}
	}
}

// TestScriptedLake: the calls a scripted lake makes give the versions,
// kinds, positions and times they document.
func TestScriptedLake(t *testing.T) {
	l := laketest.New(t, laketest.Options{Source: "shop"})
	id := l.CreateTable("shop", "orders", tableformat.Schema{Key: []int{1}, Columns: []tableformat.Column{
		{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
		{ID: 2, Name: "total", Type: tableformat.Type{Kind: tableformat.KindDecimal, Precision: 12, Scale: 2}, Nullable: true}}})
	l.Insert(id, int64(7), "12.50")
	l.EndTxn()
	if st := l.Commit(); st.Version != 2 || st.Progress.MaxSeq != 2 || st.Progress.Position.String() != "0-1-2 ("+laketest.BinlogFile+":200)" {
		t.Fatalf("after the first commit: version %d, %+v", st.Version, st.Progress)
	}
	l.RenameTable(id, "shop", "purchases")
	st := l.Commit()
	e, err := l.Log.Entry(context.Background(), st.Version)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != tableformat.KindSchema || st.Tables.Get(id).Current().Name != "purchases" || l.TxnTime(3) != l.TxnTime(1) {
		t.Fatalf("the rename: %s entry, table %+v", e.Kind, st.Tables.Get(id).Current())
	}
	if rows, ok := l.Contents(3, id); !ok || strings.Join(rows, " ") != "[7 12.50]" {
		t.Fatalf("contents at 3: %v %v", rows, ok)
	}
	checkModel(t, l)
}

// checkModel compares the model with ScanTable at every transaction
// boundary (by time, where the time names it alone) and every version of
// the lake's history.
func checkModel(t *testing.T, l *laketest.Lake) {
	t.Helper()
	ctx := context.Background()
	r := tableformat.NewLog(l.Store, tableformat.LogOptions{}) // a reader of its own: nothing cached from the writer
	read := laketest.CachedFiles(l.Store)
	seqs := l.TxnSeqs()
	for i, s := range seqs {
		if i+1 < len(seqs) && l.TxnTime(seqs[i+1]).Equal(l.TxnTime(s)) {
			continue
		}
		p, err := r.AtTime(ctx, l.TxnTime(s))
		if err != nil {
			t.Fatal(err)
		}
		if p.Seq != s {
			t.Fatalf("as of the time of seq %d resolved to seq %d", s, p.Seq)
		}
		checkPoint(t, l, read, p, fmt.Sprintf("as of time %s", l.TxnTime(s).Format("15:04:05.000000")))
	}
	latest, err := r.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var versions int
	for _, vr := range latest.Lineage {
		for v := vr.From; v <= vr.To; v++ {
			p, err := r.AtVersion(ctx, v)
			if err != nil {
				t.Fatalf("version %d: %v", v, err)
			}
			checkPoint(t, l, read, p, fmt.Sprintf("as of version %d", v))
			versions++
		}
	}
	t.Logf("%d transactions, %d versions of the history checked (%d in all)", len(seqs), versions, latest.Version)
}

func checkPoint(t *testing.T, l *laketest.Lake, read tableformat.FileSource, p tableformat.Point, what string) {
	t.Helper()
	for _, tb := range p.State.SortedTables() {
		want, ok := l.Contents(p.Seq, tb.ID)
		if !tb.ExistsAt(p.Seq) {
			if ok {
				t.Fatalf("%s (seq %d): table %d does not exist, the model has it", what, p.Seq, tb.ID)
			}
			continue
		}
		if !ok {
			t.Fatalf("%s (seq %d): the model lacks table %d", what, p.Seq, tb.ID)
		}
		_, rows, err := tableformat.ScanTableFrom(context.Background(), read, p, tb.ID)
		if err != nil {
			t.Fatalf("%s, table %d: %v", what, tb.ID, err)
		}
		if got := laketest.Render(rows); !slices.Equal(got, want) {
			t.Fatalf("%s (version %d seq %d), table %d:\n got %v\nwant %v", what, p.Version, p.Seq, tb.ID, got, want)
		}
	}
}
