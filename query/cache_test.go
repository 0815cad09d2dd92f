package query

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

func putFile(t *testing.T, store tableformat.Store, key string, data []byte) tableformat.AddFile {
	t.Helper()
	if err := tableformat.PutBytes(context.Background(), store, key, data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return tableformat.AddFile{Path: key, Bytes: int64(len(data)), Checksum: hex.EncodeToString(sum[:])}
}

func TestCacheFetchVerifiesAndShares(t *testing.T) {
	ctx := context.Background()
	store := tableformat.NewMemStore()
	f := putFile(t, store, "d/t/data/a.parquet", []byte("the bytes of a file"))
	dir := t.TempDir()
	c1, err := OpenCache(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := OpenCache(dir, 0, nil) // another process's view of the same directory
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	paths := make([]string, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Go(func() {
			c := c1
			if i%2 == 1 {
				c = c2
			}
			paths[i], errs[i] = c.Fetch(ctx, store, f)
		})
	}
	wg.Wait()
	for i := range 8 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if paths[i] != paths[0] {
			t.Fatalf("fetches of one file gave %s and %s", paths[0], paths[i])
		}
	}
	got, err := os.ReadFile(paths[0])
	if err != nil || string(got) != "the bytes of a file" {
		t.Fatalf("cached file: %q, %v", got, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "*")); len(left) != 0 {
		t.Fatalf("downloads left behind: %v", left)
	}

	// A file whose bytes do not match the log is refused, never cached.
	bad := putFile(t, store, "d/t/data/b.parquet", []byte("original"))
	if err := tableformat.PutBytes(ctx, store, bad.Path, []byte("tampered")); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Fetch(ctx, store, bad); !errors.Is(err, tableformat.ErrCorrupt) {
		t.Fatalf("tampered file: %v, want a corruption error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", bad.Checksum[:2], bad.Checksum+".parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tampered file reached the cache: %v", err)
	}
	missing := f
	missing.Path, missing.Checksum = "d/t/data/gone.parquet", fmt.Sprintf("%064x", 1)
	if _, err := c1.Fetch(ctx, store, missing); !errors.Is(err, tableformat.ErrCorrupt) {
		t.Fatalf("missing file: %v, want a corruption error", err)
	}

	// A cached file cut short is fetched again.
	p := paths[0]
	for range 8 {
		c1.Unpin(p)
	}
	if err := os.Truncate(p, 3); err != nil {
		t.Fatal(err)
	}
	if p2, err := c1.Fetch(ctx, store, f); err != nil || p2 != p {
		t.Fatalf("refetch: %s, %v", p2, err)
	}
	if got, _ := os.ReadFile(p); string(got) != "the bytes of a file" {
		t.Fatalf("refetched file: %q", got)
	}
}

func TestCacheEvictsLeastRecentlyUsedUnpinned(t *testing.T) {
	ctx := context.Background()
	store := tableformat.NewMemStore()
	dir := t.TempDir()
	c, err := OpenCache(dir, 250, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := OpenCache(dir, 250, nil)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range 4 {
		f := putFile(t, store, fmt.Sprintf("k%d", i), []byte(fmt.Sprintf("%0100d", i)))
		p, err := c.Fetch(ctx, store, f)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		// Distinct last-use times, oldest first.
		used := time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
		if err := os.Chtimes(p, used, used); err != nil {
			t.Fatal(err)
		}
	}
	// All pinned: nothing goes, whatever the bound.
	if total, err := other.Evict(); err != nil || total != 400 {
		t.Fatalf("evict with everything pinned: %d bytes, %v", total, err)
	}
	c.Unpin(paths[0])
	c.Unpin(paths[1])
	c.Unpin(paths[3])
	total, err := other.Evict()
	if err != nil {
		t.Fatal(err)
	}
	if total != 200 {
		t.Fatalf("after evicting: %d bytes, want 200", total)
	}
	for i, want := range []bool{false, false, true, true} {
		_, err := os.Stat(paths[i])
		if (err == nil) != want {
			t.Errorf("file %d present=%v, want %v", i, err == nil, want)
		}
	}
}
