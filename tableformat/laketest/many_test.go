package laketest

import (
	"context"
	"testing"

	"github.com/binlake/binlake/tableformat"
)

// TestMany: every table of a generated many-table lake holds every row of
// its files at the latest point, and the lake verifies.
func TestMany(t *testing.T) {
	ctx := context.Background()
	store := tableformat.NewMemStore()
	st, err := Many(ctx, store, ManyOptions{Tables: 5, Files: 3, Rows: 4, CheckpointInterval: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st.Tables.Len() != 5 || st.Version != 4 {
		t.Fatalf("%d tables at version %d, want 5 at 4", st.Tables.Len(), st.Version)
	}
	p, err := tableformat.NewLog(store, tableformat.LogOptions{}).AtLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for id := range st.Tables.All() {
		_, rows, err := tableformat.ScanTable(ctx, store, p, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 12 {
			t.Fatalf("table %d: %d rows, want 12", id, len(rows))
		}
	}
	rep, err := tableformat.Verify(ctx, store, tableformat.VerifyOptions{AllVersions: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("verify: %v", rep.Problems)
	}
}
