package storetest

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/binlake/binlake/tableformat"
)

// Call is one call a CountingStore saw: the method and its key (for List,
// its prefix).
type Call struct {
	Op  Op
	Key string
}

// CountingStore wraps a Store and records every call and the bytes its
// readers returned, so a test or benchmark can say which objects an
// operation touched — "planning read nothing outside _log/" is
//
//	cs := storetest.NewCountingStore(store)
//	… plan …
//	if outside := cs.Keys(storetest.OpOpen, func(k string) bool { return !strings.HasPrefix(k, "_log/") }); len(outside) > 0 { … }
//
// It is safe for concurrent use.
type CountingStore struct {
	inner tableformat.Store

	mu    sync.Mutex
	calls []Call
	bytes int64
}

var _ tableformat.Store = (*CountingStore)(nil)

// NewCountingStore wraps inner with nothing recorded.
func NewCountingStore(inner tableformat.Store) *CountingStore {
	return &CountingStore{inner: inner}
}

// Reset forgets the calls and bytes recorded so far.
func (c *CountingStore) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls, c.bytes = nil, 0
}

// Calls returns the calls recorded since the last Reset, in order.
func (c *CountingStore) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// Keys returns the keys of the recorded calls of op for which keep returns
// true (every one when keep is nil), in call order.
func (c *CountingStore) Keys(op Op, keep func(key string) bool) []string {
	var out []string
	for _, k := range c.Calls() {
		if k.Op == op && (keep == nil || keep(k.Key)) {
			out = append(out, k.Key)
		}
	}
	return out
}

// Reads counts the recorded reads — Open, Stat and List — under prefix
// ("" counts them all).
func (c *CountingStore) Reads(prefix string) int {
	n := 0
	for _, k := range c.Calls() {
		if (k.Op == OpOpen || k.Op == OpStat || k.Op == OpList) && strings.HasPrefix(k.Key, prefix) {
			n++
		}
	}
	return n
}

// BytesRead returns the bytes read from the readers Open returned since
// the last Reset.
func (c *CountingStore) BytesRead() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

func (c *CountingStore) record(op Op, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, Call{Op: op, Key: key})
}

func (c *CountingStore) addBytes(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes += int64(n)
}

// Put implements tableformat.Store.
func (c *CountingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	c.record(OpPut, key)
	return c.inner.Put(ctx, key, r, size)
}

// PutIfAbsent implements tableformat.Store.
func (c *CountingStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	c.record(OpPutIfAbsent, key)
	return c.inner.PutIfAbsent(ctx, key, data)
}

// Open implements tableformat.Store.
func (c *CountingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	c.record(OpOpen, key)
	rc, err := c.inner.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, c: c}, nil
}

// Stat implements tableformat.Store.
func (c *CountingStore) Stat(ctx context.Context, key string) (tableformat.ObjectInfo, error) {
	c.record(OpStat, key)
	return c.inner.Stat(ctx, key)
}

// List implements tableformat.Store.
func (c *CountingStore) List(ctx context.Context, prefix, startAfter string) ([]tableformat.ObjectInfo, error) {
	c.record(OpList, prefix)
	return c.inner.List(ctx, prefix, startAfter)
}

// Delete implements tableformat.Store.
func (c *CountingStore) Delete(ctx context.Context, key string) error {
	c.record(OpDelete, key)
	return c.inner.Delete(ctx, key)
}

// countingReader adds what it reads to its store's bytes.
type countingReader struct {
	io.ReadCloser
	c *CountingStore
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.c.addBytes(n)
	return n, err
}
