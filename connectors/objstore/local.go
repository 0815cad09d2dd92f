package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// TempDirName is the directory, at the root of a local store, that holds
// objects being written. Keys never start with it and List never returns it.
// Files in it are named ".tmp-<random>"; one older than a few minutes was
// left by a crashed writer and can be removed (CleanTemp).
const TempDirName = ".binlake-tmp"

const (
	dirPerm  = 0o755
	filePerm = 0o644
	// placeAttempts bounds how often a write re-creates a parent directory
	// that a concurrent Delete in another process removed because it had
	// become empty (within one process, Local.dirs rules it out).
	placeAttempts = 10
	copyChunk     = 1 << 20
)

// Local is a Store in a local directory: each key is a file under the root,
// its slashes becoming directories. Writes go to a temporary file that is
// fsynced and then renamed (Put) or hard-linked (PutIfAbsent) into place, and
// the directory is fsynced, so readers see whole objects only and a crash
// loses at most the write in flight. Deleting the last object under a
// directory removes the directory.
//
// Unlike S3, a directory cannot hold both an object "a/b" and objects under
// "a/b/"; such a write fails with an error. The lake's layout never needs it.
// List does not follow symbolic links.
type Local struct {
	root string
	// dirs keeps a Delete from removing the directories it emptied while
	// a write of this store is between creating a key's directories and
	// placing its file there (writes share it, the removal takes it
	// alone). Writers in other processes are covered by place's retries.
	dirs sync.RWMutex
}

var _ tableformat.Store = (*Local)(nil)

// NewLocal opens the store rooted at dir, an absolute path, creating the
// directory if needed.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("local store: empty directory")
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("local store %q: relative path: use an absolute path", dir)
	}
	root := filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Join(root, TempDirName), dirPerm); err != nil {
		return nil, fmt.Errorf("local store %s: %w", root, err)
	}
	return &Local{root: root}, nil
}

// Root returns the store's directory.
func (l *Local) Root() string { return l.root }

// String returns the store's file:// URL.
func (l *Local) String() string { return (&url.URL{Scheme: "file", Path: l.root}).String() }

// Close does nothing; it exists so every store can be closed alike.
func (l *Local) Close() error { return nil }

func (l *Local) path(key string) string { return filepath.Join(l.root, filepath.FromSlash(key)) }

func (l *Local) checkKey(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateKey(key); err != nil {
		return err
	}
	if first, _, _ := strings.Cut(key, "/"); first == TempDirName {
		return fmt.Errorf("invalid key %q: %s is reserved for temporary files", key, TempDirName)
	}
	return nil
}

// Put implements tableformat.Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := l.checkKey(ctx, key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size < 0 {
		return fmt.Errorf("put %s: negative size %d", key, size)
	}
	tmp, err := l.writeTemp(ctx, r, size)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	placed := false
	defer func() {
		if !placed {
			os.Remove(tmp)
		}
	}()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	err = l.place(key, func(final string) error {
		err := os.Rename(tmp, final)
		placed = err == nil
		return err
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// PutIfAbsent implements tableformat.Store. The hard link fails if any file
// exists at the key, so exactly one of several racing writers succeeds, even
// across processes sharing the directory.
func (l *Local) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := l.checkKey(ctx, key); err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	tmp, err := l.writeTemp(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	defer os.Remove(tmp) // the link, if made, keeps the data
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	linked := false
	err = l.place(key, func(final string) error {
		err := os.Link(tmp, final)
		linked = err == nil
		return err
	})
	switch {
	case err == nil:
		return nil
	case linked:
		// The object is in place and visible, but may not survive a crash:
		// the caller must not assume it lost.
		return fmt.Errorf("put-if-absent %s: %w: %w", key, tableformat.ErrUnknownOutcome, err)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("put-if-absent %s: %w", key, fs.ErrExist)
	default:
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
}

// writeTemp writes exactly size bytes from r to a new fsynced file in the
// temporary directory and returns its path. On error it leaves nothing.
func (l *Local) writeTemp(ctx context.Context, r io.Reader, size int64) (path string, err error) {
	dir := filepath.Join(l.root, TempDirName)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, dirPerm); err == nil {
			f, err = os.CreateTemp(dir, ".tmp-*")
		}
	}
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	for done := int64(0); done < size; {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := io.CopyN(f, r, min(size-done, copyChunk))
		done += n
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read %d of %d bytes: %w", done, size, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return "", err
		}
	}
	if err := f.Chmod(filePerm); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// place creates key's parent directories and runs op(final path), retrying
// when a concurrent Delete removed an emptied parent in between, then fsyncs
// the parent directory.
func (l *Local) place(key string, op func(final string) error) error {
	final := l.path(key)
	parent := filepath.Dir(final)
	var err error
	for range placeAttempts {
		l.dirs.RLock()
		if err = mkdirAllSync(l.root, parent); err == nil {
			err = op(final)
		}
		l.dirs.RUnlock()
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("an object is in the way of this key's directories, "+
				"which a local directory cannot hold: %w", err)
		}
		if fi, serr := os.Lstat(final); serr == nil && fi.IsDir() {
			// Not wrapped: the EEXIST a link gets here is not a lost race.
			return fmt.Errorf("other objects have this key as their prefix, "+
				"which a local directory cannot hold: %v", err)
		}
		return err
	}
	return syncDir(parent)
}

// mkdirAllSync is os.MkdirAll that fsyncs the parent of every directory it
// creates, so the new path survives a crash.
func mkdirAllSync(root, dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(root, parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// isNotExist reports whether err means the path does not exist, including a
// path that goes through a regular file.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Open implements tableformat.Store.
func (l *Local) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := l.checkKey(ctx, key); err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	f, err := os.Open(l.path(key))
	if isNotExist(err) {
		return nil, fmt.Errorf("open %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return f, nil
}

// Stat implements tableformat.Store.
func (l *Local) Stat(ctx context.Context, key string) (tableformat.ObjectInfo, error) {
	if err := l.checkKey(ctx, key); err != nil {
		return tableformat.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(l.path(key))
	if isNotExist(err) || err == nil && !fi.Mode().IsRegular() {
		return tableformat.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return tableformat.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return tableformat.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements tableformat.Store. Deleting a key that names a
// directory deletes nothing.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := l.checkKey(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	path := l.path(key)
	fi, err := os.Lstat(path)
	if isNotExist(err) || err == nil && fi.IsDir() {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := os.Remove(path); err != nil && !isNotExist(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	// Remove the directories this delete emptied, as S3 has no empty
	// prefixes. Removing a non-empty directory fails, which stops the walk.
	l.dirs.Lock()
	defer l.dirs.Unlock()
	for dir := filepath.Dir(path); dir != l.root && strings.HasPrefix(dir, l.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// List implements tableformat.Store. It reads only the directories that can
// hold keys with the prefix, skips whole subtrees that sort before
// startAfter, and stats only the files it returns.
func (l *Local) List(ctx context.Context, prefix, startAfter string) ([]tableformat.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	if err := validatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var out []tableformat.ObjectInfo
	dir := prefix[:strings.LastIndexByte(prefix, '/')+1] // "" or "a/b/"
	if err := l.walk(ctx, dir, prefix, startAfter, &out); err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	return out, nil
}

// walk appends the objects under dir (a key prefix ending in "/", or "")
// that start with prefix and sort after startAfter, in lexical key order.
func (l *Local) walk(ctx context.Context, dir, prefix, startAfter string, out *[]tableformat.ObjectInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := readDirUnsorted(l.path(dir))
	if isNotExist(err) {
		return nil // nothing there, or it was deleted while we walked
	}
	if err != nil {
		return err
	}
	type item struct {
		key   string // a directory's ends in "/"
		entry fs.DirEntry
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		if dir == "" && e.Name() == TempDirName {
			continue
		}
		switch t := e.Type(); {
		case t.IsDir():
			key := dir + e.Name() + "/"
			inPrefix := strings.HasPrefix(key, prefix) || strings.HasPrefix(prefix, key)
			// Every key below sorts before startAfter unless startAfter is
			// inside this directory or after it.
			before := key < startAfter && !strings.HasPrefix(startAfter, key)
			if inPrefix && !before {
				items = append(items, item{key, e})
			}
		case t.IsRegular():
			key := dir + e.Name()
			if strings.HasPrefix(key, prefix) && key > startAfter {
				items = append(items, item{key, e})
			}
		}
	}
	// Sorting directories by name+"/" puts every key of a subtree exactly
	// where it belongs among its siblings ("a-b" < "a/c" < "a0").
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		if it.entry.IsDir() {
			if err := l.walk(ctx, it.key, prefix, startAfter, out); err != nil {
				return err
			}
			continue
		}
		fi, err := it.entry.Info()
		if isNotExist(err) {
			continue // deleted while we walked
		}
		if err != nil {
			return err
		}
		*out = append(*out, tableformat.ObjectInfo{Key: it.key, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return nil
}

// readDirUnsorted is os.ReadDir without its sort by name: walk sorts only
// the entries it keeps, by key.
func readDirUnsorted(dir string) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// CleanTemp removes temporary files older than olderThan, left behind by
// writers that crashed, and returns how many it removed. Writers hold a
// temporary file only while one object is written, so an hour is safe.
func (l *Local) CleanTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	dir := filepath.Join(l.root, TempDirName)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("clean %s: %w", dir, err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("clean %s: %w", dir, err)
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || !strings.HasPrefix(e.Name(), ".tmp-") || fi.ModTime().After(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			removed++
		} else if !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("clean %s: %w", dir, err)
		}
	}
	return removed, nil
}
