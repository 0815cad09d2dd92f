package query

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// Cache is a local directory of lake files for DuckDB to read (DuckDB here
// has no httpfs, and a query must never read a file its pinned version does
// not name). Files are content-addressed by the SHA-256 the log records for
// them, verified when fetched, published by rename, so two processes can
// share one cache, and evicted least recently used first once the cache
// outgrows its bound — never while a session has them pinned.
//
// Layout: <dir>/objects/<first two hex digits>/<sha256>.parquet, downloads in
// <dir>/tmp/, DuckDB's spill files in <dir>/spill/.
type Cache struct {
	dir      string
	maxBytes int64
	logger   *slog.Logger

	mu   sync.Mutex
	pins map[string]*pin // object path → this process's shared lock on it
	// downloaded counts the bytes this process has added: eviction walks
	// the cache only when it grew.
	downloaded atomic.Int64
}

type pin struct {
	f    *os.File
	refs int
}

// DefaultCacheMaxBytes bounds a cache opened with no bound of its own.
const DefaultCacheMaxBytes = 10 << 30

// OpenCache opens (creating it if needed) the cache in dir, bounded to
// maxBytes (0 or less: DefaultCacheMaxBytes).
func OpenCache(dir string, maxBytes int64, logger *slog.Logger) (*Cache, error) {
	if !filepath.IsAbs(dir) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("query cache %q: %w", dir, err)
		}
		dir = abs
	}
	if maxBytes <= 0 {
		maxBytes = DefaultCacheMaxBytes
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, sub := range []string{"objects", "tmp", "spill"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("query cache: %w (set query.cache_dir to a writable directory)", err)
		}
	}
	return &Cache{dir: dir, maxBytes: maxBytes, logger: logger, pins: map[string]*pin{}}, nil
}

// SpillDir is where DuckDB may write temporary files.
func (c *Cache) SpillDir() string { return filepath.Join(c.dir, "spill") }

func (c *Cache) objectPath(checksum string) (string, error) {
	if len(checksum) != 64 || strings.Trim(strings.ToLower(checksum), "0123456789abcdef") != "" {
		return "", fmt.Errorf("checksum %q is not a hex SHA-256", checksum)
	}
	sum := strings.ToLower(checksum)
	return filepath.Join(c.dir, "objects", sum[:2], sum+".parquet"), nil
}

// Fetch returns the local path of the file f names, downloading and
// verifying it first if the cache lacks it, and pins it (shared lock) until
// Unpin: eviction, here or in another process, skips pinned files.
func (c *Cache) Fetch(ctx context.Context, store tableformat.Store, f tableformat.AddFile) (string, error) {
	path, err := c.objectPath(f.Checksum)
	if err != nil {
		return "", &tableformat.CorruptError{Key: f.Path, Reason: err.Error()}
	}
	for attempt := 0; ; attempt++ {
		if err := c.pin(path, f.Bytes); err == nil {
			return path, nil
		} else if !errors.Is(err, fs.ErrNotExist) || attempt >= 3 {
			return "", fmt.Errorf("query cache: %w", err)
		}
		if err := c.download(ctx, store, f, path); err != nil {
			return "", err
		}
	}
}

// pin opens path with a shared lock, checks its size and marks it used.
func (c *Cache) pin(path string, size int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pins[path]; ok {
		p.refs++
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return fmt.Errorf("lock %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	// An evicting process may have removed the file between our open and
	// our lock: the name must still be this file.
	if cur, err := os.Stat(path); err != nil || !os.SameFile(fi, cur) {
		f.Close()
		return fs.ErrNotExist
	}
	if fi.Size() != size {
		// A file cut short (a crash after the rename, before the data
		// reached the disk): fetch it again.
		f.Close()
		c.logger.Warn("query cache: refetching a damaged file", "path", path, "size", fi.Size(), "expected", size)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return fs.ErrNotExist
	}
	now := time.Now()
	_ = os.Chtimes(path, now, now) // the eviction order: least recently used first
	c.pins[path] = &pin{f: f, refs: 1}
	return nil
}

// Unpin releases one Fetch of path.
func (c *Cache) Unpin(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pins[path]
	if !ok {
		return
	}
	if p.refs--; p.refs == 0 {
		p.f.Close() // releases the lock
		delete(c.pins, path)
	}
}

// download copies f from the store into the cache, verifying its size and
// SHA-256 against the log before publishing it under path.
func (c *Cache) download(ctx context.Context, store tableformat.Store, f tableformat.AddFile, path string) error {
	rc, err := store.Open(ctx, f.Path)
	if tableformat.IsNotExist(err) {
		return &tableformat.CorruptError{Key: f.Path, Reason: "the log names this file but the store does not have it"}
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %w", f.Path, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "fetch-*")
	if err != nil {
		return fmt.Errorf("query cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: a no-op
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(rc, f.Bytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %w", f.Path, err)
	}
	if n != f.Bytes {
		return &tableformat.CorruptError{Key: f.Path, Reason: fmt.Sprintf("%v: size: expected %d bytes, got %d", tableformat.ErrCorruptFile, f.Bytes, n)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, f.Checksum) {
		return &tableformat.CorruptError{Key: f.Path, Reason: fmt.Sprintf("%v: sha-256: expected %s, got %s", tableformat.ErrCorruptFile, f.Checksum, got)}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("query cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("query cache: %w", err)
	}
	c.downloaded.Add(n)
	return nil
}

// Downloaded is the number of bytes this process has added to the cache.
func (c *Cache) Downloaded() int64 { return c.downloaded.Load() }

// Evict removes least recently used files until the cache fits its bound,
// skipping files any process has pinned, and returns the bytes it holds.
func (c *Cache) Evict() (int64, error) {
	type obj struct {
		path string
		size int64
		used time.Time
	}
	var objs []obj
	var total int64
	root := filepath.Join(c.dir, "objects")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed by another process meanwhile
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		objs = append(objs, obj{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("query cache: %w", err)
	}
	if total <= c.maxBytes {
		return total, nil
	}
	slices.SortFunc(objs, func(a, b obj) int { return a.used.Compare(b.used) })
	for _, o := range objs {
		if total <= c.maxBytes {
			break
		}
		if c.tryRemove(o.path) {
			total -= o.size
		}
	}
	if total > c.maxBytes {
		c.logger.Warn("query cache is over its bound: the files in use do not fit", "bytes", total, "bound", c.maxBytes)
	}
	return total, nil
}

// tryRemove deletes path if no process holds a lock on it.
func (c *Cache) tryRemove(path string) bool {
	c.mu.Lock()
	_, mine := c.pins[path]
	c.mu.Unlock()
	if mine {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false // pinned by another process
	}
	return os.Remove(path) == nil
}
