package compaction_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/binlake/binlake/compaction"
	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
)

// TestVacuumLocalStore: on a local directory, vacuum also removes the stale
// temporary files of crashed writers and old orphans, keeping young ones.
func TestVacuumLocalStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	if _, err := l.Create(ctx, "src", 10); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Hour)
	write := func(rel string, mtime time.Time) string {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	staleTemp := write(objstore.TempDirName+"/.tmp-crashed", old)
	freshTemp := write(objstore.TempDirName+"/.tmp-writing", time.Now())
	oldOrphan := write("d/t/data/part-orphan.parquet", old)
	youngOrphan := write("d/t/data/part-inflight.parquet", time.Now())

	res, err := compaction.Vacuum(ctx, l, compaction.VacuumOptions{Retain: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.TempFilesRemoved != 1 || res.ObjectsDeleted != 1 || res.Orphans != 1 || res.Version != 0 {
		t.Fatalf("result %+v: want one temp file and one orphan removed, nothing committed", res)
	}
	for p, want := range map[string]bool{staleTemp: false, freshTemp: true, oldOrphan: false, youngOrphan: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", p, err == nil, want)
		}
	}
}
