package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/binlake/binlake/tableformat"
)

// Op names a Store method.
type Op string

// The Store methods a fault can target.
const (
	OpPut         Op = "put"
	OpPutIfAbsent Op = "put-if-absent"
	OpOpen        Op = "open"
	OpStat        Op = "stat"
	OpList        Op = "list"
	OpDelete      Op = "delete"
)

// Mode says when an injected fault strikes.
type Mode int

// Fault modes.
const (
	// Before fails the call without reaching the wrapped store: nothing
	// happened, and the caller knows it.
	Before Mode = 1
	// After performs the call on the wrapped store, discards its result and
	// returns an error wrapping tableformat.ErrUnknownOutcome, like a timeout
	// that struck after the request was sent. For reads (Open, Stat, List)
	// the error wraps only ErrInjected.
	After Mode = 2
)

// ErrInjected is wrapped by every error a FaultStore injects.
var ErrInjected = errors.New("injected fault")

// Fault describes a failure to inject.
type Fault struct {
	Op Op
	// Prefix restricts the fault to calls whose key (for List, whose
	// prefix) starts with it; "" matches every call of Op.
	Prefix string
	// Nth is the matching call, counted from when the fault is injected,
	// that fails (1 is the next one); 0 fails every matching call.
	Nth  int
	Mode Mode
}

// FaultStore wraps a Store and fails chosen calls, so tests can reproduce a
// crash or a lost response at an exact point: "the first put-if-absent under
// _log/ times out after the entry was written" is
//
//	fs := storetest.NewFaultStore(store)
//	fs.Inject(storetest.Fault{Op: storetest.OpPutIfAbsent, Prefix: "_log/", Nth: 1, Mode: storetest.After})
//
// It is safe for concurrent use.
type FaultStore struct {
	inner tableformat.Store

	mu     sync.Mutex
	faults []*faultState
	calls  map[Op]int
	fired  int
}

type faultState struct {
	Fault
	seen int
	done bool
}

var _ tableformat.Store = (*FaultStore)(nil)

// NewFaultStore wraps inner with no faults injected.
func NewFaultStore(inner tableformat.Store) *FaultStore {
	return &FaultStore{inner: inner, calls: make(map[Op]int)}
}

// Inject adds a fault. It panics on a Fault with an unknown Op or Mode or a
// negative Nth: that is a bug in the test.
func (f *FaultStore) Inject(ft Fault) {
	switch ft.Op {
	case OpPut, OpPutIfAbsent, OpOpen, OpStat, OpList, OpDelete:
	default:
		panic(fmt.Sprintf("storetest: unknown op %q", ft.Op))
	}
	if ft.Mode != Before && ft.Mode != After {
		panic(fmt.Sprintf("storetest: unknown mode %d", ft.Mode))
	}
	if ft.Nth < 0 {
		panic(fmt.Sprintf("storetest: negative Nth %d", ft.Nth))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &faultState{Fault: ft})
}

// Clear removes every injected fault; call counts are kept.
func (f *FaultStore) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Calls returns how many calls of op the store has seen, failed ones included.
func (f *FaultStore) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Fired returns how many faults have been injected into calls so far.
func (f *FaultStore) Fired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// check counts a call and returns the mode of the fault it must suffer, or 0.
func (f *FaultStore) check(op Op, key string) Mode {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	var mode Mode
	for _, ft := range f.faults {
		if ft.done || ft.Op != op || !strings.HasPrefix(key, ft.Prefix) {
			continue
		}
		ft.seen++
		if ft.Nth == 0 || ft.seen == ft.Nth {
			ft.done = ft.Nth != 0
			if mode == 0 {
				mode = ft.Mode
			}
		}
	}
	if mode != 0 {
		f.fired++
	}
	return mode
}

func injected(op Op, key string, mode Mode) error {
	if mode == After && (op == OpPut || op == OpPutIfAbsent || op == OpDelete) {
		return fmt.Errorf("%s %s: %w after the request was applied: %w", op, key, ErrInjected, tableformat.ErrUnknownOutcome)
	}
	return fmt.Errorf("%s %s: %w", op, key, ErrInjected)
}

// Put implements tableformat.Store.
func (f *FaultStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	mode := f.check(OpPut, key)
	if mode == Before {
		return injected(OpPut, key, mode)
	}
	err := f.inner.Put(ctx, key, r, size)
	if mode == After {
		return injected(OpPut, key, mode)
	}
	return err
}

// PutIfAbsent implements tableformat.Store.
func (f *FaultStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	mode := f.check(OpPutIfAbsent, key)
	if mode == Before {
		return injected(OpPutIfAbsent, key, mode)
	}
	err := f.inner.PutIfAbsent(ctx, key, data)
	if mode == After {
		return injected(OpPutIfAbsent, key, mode)
	}
	return err
}

// Open implements tableformat.Store.
func (f *FaultStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	mode := f.check(OpOpen, key)
	if mode == Before {
		return nil, injected(OpOpen, key, mode)
	}
	rc, err := f.inner.Open(ctx, key)
	if mode == After {
		if err == nil {
			rc.Close()
		}
		return nil, injected(OpOpen, key, mode)
	}
	return rc, err
}

// Stat implements tableformat.Store.
func (f *FaultStore) Stat(ctx context.Context, key string) (tableformat.ObjectInfo, error) {
	mode := f.check(OpStat, key)
	if mode == Before {
		return tableformat.ObjectInfo{}, injected(OpStat, key, mode)
	}
	info, err := f.inner.Stat(ctx, key)
	if mode == After {
		return tableformat.ObjectInfo{}, injected(OpStat, key, mode)
	}
	return info, err
}

// List implements tableformat.Store.
func (f *FaultStore) List(ctx context.Context, prefix, startAfter string) ([]tableformat.ObjectInfo, error) {
	mode := f.check(OpList, prefix)
	if mode == Before {
		return nil, injected(OpList, prefix, mode)
	}
	infos, err := f.inner.List(ctx, prefix, startAfter)
	if mode == After {
		return nil, injected(OpList, prefix, mode)
	}
	return infos, err
}

// Delete implements tableformat.Store.
func (f *FaultStore) Delete(ctx context.Context, key string) error {
	mode := f.check(OpDelete, key)
	if mode == Before {
		return injected(OpDelete, key, mode)
	}
	err := f.inner.Delete(ctx, key)
	if mode == After {
		return injected(OpDelete, key, mode)
	}
	return err
}
