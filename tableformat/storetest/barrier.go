package storetest

import (
	"context"
	"fmt"
	"sync"

	"github.com/binlake/binlake/tableformat"
)

// BarrierStore wraps a Store and holds PutIfAbsent calls on chosen keys
// until the test lets them through, so two committers that both computed the
// same next version can be made to collide on purpose:
//
//	bs := storetest.NewBarrierStore(store)
//	bs.Hold(key)
//	go commitA() // blocks in PutIfAbsent(key)
//	bs.WaitHeld(ctx, key, 1)
//	go commitB() // blocks too
//	bs.WaitHeld(ctx, key, 2)
//	bs.ReleaseOne(key) // A goes first and wins; wait for it
//	bs.Release(key)    // B loses with fs.ErrExist
//
// Calls are held before they reach the wrapped store and are released in the
// order they arrived. A held call whose context ends returns the context's
// error without writing. Other methods pass straight through. It is safe for
// concurrent use.
type BarrierStore struct {
	tableformat.Store

	mu    sync.Mutex
	gates map[string]*gate
}

// gate is the state of one held key.
type gate struct {
	queue   []chan struct{} // held calls, oldest first; closing one lets it go
	arrived chan struct{}   // closed (and replaced) whenever the queue changes
}

var _ tableformat.Store = (*BarrierStore)(nil)

// NewBarrierStore wraps inner with no key held.
func NewBarrierStore(inner tableformat.Store) *BarrierStore {
	return &BarrierStore{Store: inner, gates: make(map[string]*gate)}
}

// Hold makes PutIfAbsent calls on key wait from now on until released.
func (b *BarrierStore) Hold(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gates[key] == nil {
		b.gates[key] = &gate{arrived: make(chan struct{})}
	}
}

// Held returns how many PutIfAbsent calls on key are waiting.
func (b *BarrierStore) Held(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g := b.gates[key]; g != nil {
		return len(g.queue)
	}
	return 0
}

// WaitHeld blocks until at least n PutIfAbsent calls on key are waiting, or
// ctx ends. Hold(key) must have been called.
func (b *BarrierStore) WaitHeld(ctx context.Context, key string, n int) error {
	for {
		b.mu.Lock()
		g := b.gates[key]
		if g == nil {
			b.mu.Unlock()
			return fmt.Errorf("wait for %d held calls on %s: key is not held", n, key)
		}
		if len(g.queue) >= n {
			b.mu.Unlock()
			return nil
		}
		changed := g.arrived
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d held calls on %s (%d held): %w", n, key, b.Held(key), ctx.Err())
		}
	}
}

// ReleaseOne lets the oldest waiting call on key proceed; it reports whether
// there was one. The key stays held.
func (b *BarrierStore) ReleaseOne(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.gates[key]
	if g == nil || len(g.queue) == 0 {
		return false
	}
	close(g.queue[0])
	g.queue = g.queue[1:]
	g.changed()
	return true
}

// Release lets every waiting call on key proceed, all at once, and stops
// holding the key.
func (b *BarrierStore) Release(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.gates[key]
	if g == nil {
		return
	}
	for _, c := range g.queue {
		close(c)
	}
	g.queue = nil
	g.changed()
	delete(b.gates, key)
}

// changed wakes WaitHeld callers; b.mu must be held.
func (g *gate) changed() {
	close(g.arrived)
	g.arrived = make(chan struct{})
}

// PutIfAbsent implements tableformat.Store.
func (b *BarrierStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	b.mu.Lock()
	g := b.gates[key]
	if g == nil {
		b.mu.Unlock()
		return b.Store.PutIfAbsent(ctx, key, data)
	}
	me := make(chan struct{})
	g.queue = append(g.queue, me)
	g.changed()
	b.mu.Unlock()

	select {
	case <-me:
		return b.Store.PutIfAbsent(ctx, key, data)
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-me: // released at the same moment: still do not write
		default:
			for i, c := range g.queue {
				if c == me {
					g.queue = append(g.queue[:i:i], g.queue[i+1:]...)
					g.changed()
					break
				}
			}
		}
		return fmt.Errorf("put-if-absent %s: held: %w", key, ctx.Err())
	}
}
