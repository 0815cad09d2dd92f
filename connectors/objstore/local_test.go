package objstore_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/storetest"
)

func TestValidateKey(t *testing.T) {
	for _, key := range []string{"a", "_log/00000000000000000001.json", "db/t/data/x.parquet", "a/..b/c..", ".hidden/x", "a b/%41/ü/~"} {
		if err := objstore.ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", key, err)
		}
	}
	for _, key := range storetest.InvalidKeys() {
		err := objstore.ValidateKey(key)
		if err == nil {
			t.Errorf("ValidateKey(%q) accepted it", key)
			continue
		}
		if key != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
			t.Errorf("ValidateKey(%q) = %q: the error does not name the key", key, err)
		}
	}
}

func TestNewLocalRejectsRelativePath(t *testing.T) {
	for _, dir := range []string{"", "lake", "./lake", "../lake"} {
		if _, err := objstore.NewLocal(dir); err == nil {
			t.Errorf("NewLocal(%q) accepted a relative path", dir)
		}
	}
}

func TestLocalNewLocalCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	l, err := objstore.NewLocal(dir + "/")
	if err != nil {
		t.Fatal(err)
	}
	if l.Root() != dir || l.String() != "file://"+dir {
		t.Fatalf("Root = %q, String = %q", l.Root(), l.String())
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("directory not created: %v", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := objstore.NewLocal(file); err == nil {
		t.Fatal("NewLocal on a regular file succeeded")
	}
}

func TestLocalTempFiles(t *testing.T) {
	ctx := t.Context()
	l := newLocal(t)
	tmpDir := filepath.Join(l.Root(), objstore.TempDirName)
	tempFiles := func() []string {
		entries, err := os.ReadDir(tmpDir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}

	// Successful and failed writes leave no temporary file behind.
	if err := tableformat.PutBytes(ctx, l, "a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := l.PutIfAbsent(ctx, "a/c", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := l.PutIfAbsent(ctx, "a/c", []byte("y")); !errors.Is(err, fs.ErrExist) {
		t.Fatal(err)
	}
	if err := l.Put(ctx, "a/d", strings.NewReader("short"), 10); err == nil {
		t.Fatal("short put succeeded")
	}
	if names := tempFiles(); len(names) != 0 {
		t.Fatalf("temporary files left: %q", names)
	}

	// A crashed writer's file is invisible to List and is cleaned once old.
	stale := filepath.Join(tmpDir, ".tmp-crashed")
	fresh := filepath.Join(tmpDir, ".tmp-inflight")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	infos, err := l.List(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range infos {
		if strings.Contains(o.Key, "tmp") {
			t.Fatalf("List returned a temporary file: %+v", infos)
		}
	}
	if len(infos) != 2 {
		t.Fatalf("List = %+v, want a/b and a/c", infos)
	}
	n, err := l.CleanTemp(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("CleanTemp = %d, %v; want 1", n, err)
	}
	if names := tempFiles(); !slices.Equal(names, []string{".tmp-inflight"}) {
		t.Fatalf("after CleanTemp: %q, want only the fresh file", names)
	}

	// The temporary directory is not a key.
	for _, key := range []string{objstore.TempDirName, objstore.TempDirName + "/x"} {
		if err := tableformat.PutBytes(ctx, l, key, []byte("x")); err == nil {
			t.Errorf("put %s: accepted a reserved key", key)
		}
	}
}

func TestLocalFilesAndDirectories(t *testing.T) {
	ctx := t.Context()
	l := newLocal(t)
	if err := tableformat.PutBytes(ctx, l, "a/file", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := tableformat.PutBytes(ctx, l, "a/dir/inner", []byte("x")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(l.Root(), "a", "file"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("object file mode = %v, %v; want 0644", fi.Mode(), err)
	}
	// An object in the way of a deeper key, and a key that is a directory:
	// clear errors, never fs.ErrExist.
	for _, key := range []string{"a/file/below", "a/dir"} {
		err := tableformat.PutBytes(ctx, l, key, []byte("x"))
		if err == nil || errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "local directory cannot hold") {
			t.Errorf("put %s: got %v", key, err)
		}
		err = l.PutIfAbsent(ctx, key, []byte("x"))
		if err == nil || errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "local directory cannot hold") {
			t.Errorf("put-if-absent %s: got %v", key, err)
		}
	}
	// Deleting the last object of a directory removes the emptied
	// directories, up to but not including the root.
	if err := l.Delete(ctx, "a/dir/inner"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.Root(), "a", "dir")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("emptied directory kept: %v", err)
	}
	if err := l.Delete(ctx, "a/file"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(l.Root())
	if err != nil || len(entries) != 1 || entries[0].Name() != objstore.TempDirName {
		t.Fatalf("root holds %v, %v; want only %s", entries, err, objstore.TempDirName)
	}
}

// Two Local values on one directory stand for two processes: exactly one
// create wins.
func TestLocalPutIfAbsentAcrossInstances(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	stores := make([]*objstore.Local, 4)
	for i := range stores {
		l, err := objstore.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = l
	}
	for v := int64(1); v <= 20; v++ {
		key := tableformat.EntryKey(v)
		errs := make([]error, len(stores))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				<-start
				errs[i] = s.PutIfAbsent(ctx, key, []byte{byte(i)})
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, fs.ErrExist):
				t.Fatalf("version %d: %v", v, err)
			}
		}
		if wins != 1 {
			t.Fatalf("version %d: %d winners", v, wins)
		}
	}
}

// Deletes that empty a directory race with writes into it.
func TestLocalDeleteRacesPut(t *testing.T) {
	ctx := t.Context()
	l := newLocal(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprintf("d/e/f/%d-%d", w, i)
				if err := tableformat.PutBytes(ctx, l, key, []byte("x")); err != nil {
					t.Errorf("put %s: %v", key, err)
					return
				}
				if err := l.Delete(ctx, key); err != nil {
					t.Errorf("delete %s: %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if infos, err := l.List(ctx, "", ""); err != nil || len(infos) != 0 {
		t.Fatalf("list = %+v, %v; want nothing", infos, err)
	}
}

const logFiles = 20000

// fillLog writes n log entries the way a lake does, plus a checkpoint every
// 1000 versions, straight into the directory.
func fillLog(tb testing.TB, l *objstore.Local, n int) {
	tb.Helper()
	dir := filepath.Join(l.Root(), "_log")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for v := int64(1); v <= int64(n); v++ {
		keys := []string{tableformat.EntryKey(v)}
		if v%1000 == 0 {
			keys = append(keys, tableformat.CheckpointKey(v))
		}
		for _, k := range keys {
			if err := os.WriteFile(filepath.Join(l.Root(), k), []byte("{}"), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func TestLocalListLargeLog(t *testing.T) {
	ctx := t.Context()
	l := newLocal(t)
	fillLog(t, l, logFiles)
	all, err := l.List(ctx, "_log/", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := logFiles + logFiles/1000; len(all) != want {
		t.Fatalf("listed %d, want %d", len(all), want)
	}
	if !slices.IsSortedFunc(all, func(a, b tableformat.ObjectInfo) int { return strings.Compare(a.Key, b.Key) }) {
		t.Fatal("not in lexical order")
	}
	tailList, err := l.List(ctx, "_log/", tableformat.EntryKey(logFiles-3))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range tailList {
		got = append(got, o.Key)
	}
	want := []string{tableformat.EntryKey(logFiles - 2), tableformat.EntryKey(logFiles - 1),
		tableformat.CheckpointKey(logFiles), tableformat.EntryKey(logFiles)}
	if !slices.Equal(got, want) {
		t.Fatalf("tail = %q, want %q", got, want)
	}
}

func BenchmarkLocalListLogTail(b *testing.B) {
	l, err := objstore.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	fillLog(b, l, logFiles)
	after := tableformat.EntryKey(logFiles - 10)
	ctx := b.Context()
	for b.Loop() {
		infos, err := l.List(ctx, "_log/", after)
		if err != nil || len(infos) != 11 {
			b.Fatalf("list = %d objects, %v", len(infos), err)
		}
	}
}
