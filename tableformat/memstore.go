package tableformat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemStore is an in-memory Store for tests: safe for concurrent use, List in
// lexical key order, every object stamped with the time it was written. Data
// is copied on the way in, so a caller may reuse its buffers, and stored
// objects are never modified in place, so readers never see a later write.
//
// It applies the same key rules as the real stores (connectors/objstore), so
// a test that passes on MemStore does not trip over a key the local
// directory store would refuse.
type MemStore struct {
	mu      sync.RWMutex
	objects map[string]memObject
}

type memObject struct {
	data    []byte
	modTime time.Time
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{objects: make(map[string]memObject)}
}

var _ Store = (*MemStore)(nil)

// Put implements Store. It reads exactly size bytes from r.
func (m *MemStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := memCheck(ctx, key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size < 0 {
		return fmt.Errorf("put %s: negative size %d", key, size)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(size, 64<<20)))
	// Copy in chunks so a cancelled context stops a long copy.
	for done := int64(0); done < size; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		n, err := io.CopyN(&buf, r, min(size-done, 1<<20))
		done += n
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("put %s: read %d of %d bytes: %w", key, done, size, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = memObject{data: buf.Bytes(), modTime: time.Now()}
	return nil
}

// PutIfAbsent implements Store.
func (m *MemStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := memCheck(ctx, key); err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok {
		return fmt.Errorf("put-if-absent %s: %w", key, fs.ErrExist)
	}
	m.objects[key] = memObject{data: bytes.Clone(data), modTime: time.Now()}
	return nil
}

// Open implements Store.
func (m *MemStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := memCheck(ctx, key); err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	m.mu.RLock()
	o, ok := m.objects[key]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("open %s: %w", key, fs.ErrNotExist)
	}
	// o.data is never modified after it is stored: reading it needs no copy.
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Stat implements Store.
func (m *MemStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := memCheck(ctx, key); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	m.mu.RLock()
	o, ok := m.objects[key]
	m.mu.RUnlock()
	if !ok {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, fs.ErrNotExist)
	}
	return ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}

// List implements Store.
func (m *MemStore) List(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	if err := ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	m.mu.RLock()
	var out []ObjectInfo
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			out = append(out, ObjectInfo{Key: k, Size: int64(len(o.data)), ModTime: o.modTime})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements Store.
func (m *MemStore) Delete(ctx context.Context, key string) error {
	if err := memCheck(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// memCheck returns the context's error or the reason key is not a valid key.
func memCheck(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ValidateKey(key)
}
