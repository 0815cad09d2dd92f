package storetest_test

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMemStoreConformance(t *testing.T) {
	storetest.RunConformance(t, func(*testing.T) tableformat.Store { return tableformat.NewMemStore() })
}

// The wrappers with nothing injected or held behave like the store they wrap.
func TestFaultStoreConformance(t *testing.T) {
	storetest.RunConformance(t, func(*testing.T) tableformat.Store {
		return storetest.NewFaultStore(tableformat.NewMemStore())
	})
}

func TestBarrierStoreConformance(t *testing.T) {
	storetest.RunConformance(t, func(*testing.T) tableformat.Store {
		return storetest.NewBarrierStore(tableformat.NewMemStore())
	})
}

func TestCountingStoreConformance(t *testing.T) {
	storetest.RunConformance(t, func(*testing.T) tableformat.Store {
		return storetest.NewCountingStore(tableformat.NewMemStore())
	})
}

// TestCountingStoreRecords: every call is recorded with its key, reads are
// counted by prefix, the bytes read are summed, and Reset forgets them.
func TestCountingStoreRecords(t *testing.T) {
	ctx := t.Context()
	c := storetest.NewCountingStore(tableformat.NewMemStore())
	if err := tableformat.PutBytes(ctx, c, "d/t/data/x", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	if err := c.PutIfAbsent(ctx, "_log/1", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if b, err := tableformat.ReadObject(ctx, c, "d/t/data/x"); err != nil || string(b) != "12345" {
		t.Fatalf("read back %q: %v", b, err)
	}
	if _, err := c.Stat(ctx, "_log/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(ctx, "_log/", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(ctx, "_log/nosuch"); err == nil {
		t.Fatal("open of a missing key succeeded")
	}
	want := []storetest.Call{{storetest.OpPut, "d/t/data/x"}, {storetest.OpPutIfAbsent, "_log/1"}, {storetest.OpOpen, "d/t/data/x"},
		{storetest.OpStat, "_log/1"}, {storetest.OpList, "_log/"}, {storetest.OpOpen, "_log/nosuch"}}
	if got := c.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls:\n got %v\nwant %v", got, want)
	}
	if got := c.Reads("_log/"); got != 3 {
		t.Fatalf("reads under _log/: %d, want 3", got)
	}
	if got := c.Keys(storetest.OpOpen, func(k string) bool { return k != "_log/nosuch" }); !slices.Equal(got, []string{"d/t/data/x"}) {
		t.Fatalf("opened: %v", got)
	}
	if got := c.BytesRead(); got != 5 {
		t.Fatalf("bytes read: %d, want 5", got)
	}
	c.Reset()
	if len(c.Calls()) != 0 || c.BytesRead() != 0 {
		t.Fatalf("after Reset: %v, %d bytes", c.Calls(), c.BytesRead())
	}
}

func TestFaultBefore(t *testing.T) {
	ctx := t.Context()
	mem := tableformat.NewMemStore()
	f := storetest.NewFaultStore(mem)
	f.Inject(storetest.Fault{Op: storetest.OpPutIfAbsent, Prefix: "_log/", Nth: 2, Mode: storetest.Before})

	if err := f.PutIfAbsent(ctx, "data/x", []byte("x")); err != nil {
		t.Fatalf("call outside the prefix failed: %v", err)
	}
	if err := f.PutIfAbsent(ctx, "_log/1", []byte("1")); err != nil {
		t.Fatalf("first matching call failed: %v", err)
	}
	err := f.PutIfAbsent(ctx, "_log/2", []byte("2"))
	if !errors.Is(err, storetest.ErrInjected) || errors.Is(err, tableformat.ErrUnknownOutcome) {
		t.Fatalf("second matching call: got %v, want ErrInjected without ErrUnknownOutcome", err)
	}
	if _, err := mem.Stat(ctx, "_log/2"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a Before fault reached the store: stat = %v", err)
	}
	if err := f.PutIfAbsent(ctx, "_log/2", []byte("2")); err != nil {
		t.Fatalf("third matching call failed: %v", err)
	}
	if got, want := f.Calls(storetest.OpPutIfAbsent), 4; got != want {
		t.Fatalf("Calls = %d, want %d", got, want)
	}
	if f.Fired() != 1 {
		t.Fatalf("Fired = %d, want 1", f.Fired())
	}
}

func TestFaultAfterIsUnknownOutcome(t *testing.T) {
	ctx := t.Context()
	mem := tableformat.NewMemStore()
	f := storetest.NewFaultStore(mem)
	f.Inject(storetest.Fault{Op: storetest.OpPutIfAbsent, Nth: 1, Mode: storetest.After})
	f.Inject(storetest.Fault{Op: storetest.OpPut, Nth: 1, Mode: storetest.After})
	f.Inject(storetest.Fault{Op: storetest.OpDelete, Nth: 1, Mode: storetest.After})

	err := f.PutIfAbsent(ctx, "_log/1", []byte("mine"))
	if !errors.Is(err, tableformat.ErrUnknownOutcome) || !errors.Is(err, storetest.ErrInjected) {
		t.Fatalf("got %v, want ErrUnknownOutcome and ErrInjected", err)
	}
	// The write happened: reading back tells the caller it won.
	if b, err := tableformat.ReadObject(ctx, f, "_log/1"); err != nil || string(b) != "mine" {
		t.Fatalf("read back = %q, %v; want the write to have been applied", b, err)
	}
	if err := tableformat.PutBytes(ctx, f, "d", []byte("d")); !errors.Is(err, tableformat.ErrUnknownOutcome) {
		t.Fatalf("put: got %v, want ErrUnknownOutcome", err)
	}
	if _, err := mem.Stat(ctx, "d"); err != nil {
		t.Fatalf("put after fault not applied: %v", err)
	}
	if err := f.Delete(ctx, "d"); !errors.Is(err, tableformat.ErrUnknownOutcome) {
		t.Fatalf("delete: got %v, want ErrUnknownOutcome", err)
	}
	if _, err := mem.Stat(ctx, "d"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("delete after fault not applied: %v", err)
	}
}

func TestFaultEveryReadCall(t *testing.T) {
	ctx := t.Context()
	mem := tableformat.NewMemStore()
	if err := tableformat.PutBytes(ctx, mem, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	f := storetest.NewFaultStore(mem)
	for _, op := range []storetest.Op{storetest.OpOpen, storetest.OpStat, storetest.OpList} {
		f.Inject(storetest.Fault{Op: op, Mode: storetest.After})
	}
	for range 3 {
		if _, err := f.Open(ctx, "k"); !errors.Is(err, storetest.ErrInjected) || errors.Is(err, tableformat.ErrUnknownOutcome) {
			t.Fatalf("open: got %v, want ErrInjected only", err)
		}
		if _, err := f.Stat(ctx, "k"); !errors.Is(err, storetest.ErrInjected) {
			t.Fatalf("stat: got %v, want ErrInjected", err)
		}
		if _, err := f.List(ctx, "", ""); !errors.Is(err, storetest.ErrInjected) {
			t.Fatalf("list: got %v, want ErrInjected", err)
		}
	}
	f.Clear()
	if _, err := f.Stat(ctx, "k"); err != nil {
		t.Fatalf("stat after Clear: %v", err)
	}
	if f.Fired() != 9 {
		t.Fatalf("Fired = %d, want 9", f.Fired())
	}
}

func TestFaultInjectRejectsBadFaults(t *testing.T) {
	f := storetest.NewFaultStore(tableformat.NewMemStore())
	for _, ft := range []storetest.Fault{
		{Op: "rename", Mode: storetest.Before},
		{Op: storetest.OpPut},
		{Op: storetest.OpPut, Mode: storetest.Before, Nth: -1},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Inject(%+v) did not panic", ft)
				}
			}()
			f.Inject(ft)
		}()
	}
}

// Two committers held on the same key, released one after the other: the
// first wins, the second loses with fs.ErrExist and the first's bytes stay.
func TestBarrierOrderedCollision(t *testing.T) {
	ctx := t.Context()
	b := storetest.NewBarrierStore(tableformat.NewMemStore())
	const key = "_log/00000000000000000002.json"
	b.Hold(key)

	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { errA <- b.PutIfAbsent(ctx, key, []byte("A")) }()
	waitHeld(t, b, key, 1)
	go func() { errB <- b.PutIfAbsent(ctx, key, []byte("B")) }()
	waitHeld(t, b, key, 2)

	if !b.ReleaseOne(key) {
		t.Fatal("ReleaseOne found nothing held")
	}
	if err := <-errA; err != nil {
		t.Fatalf("A: %v", err)
	}
	if b.Held(key) != 1 {
		t.Fatalf("Held = %d, want 1 (B)", b.Held(key))
	}
	b.Release(key)
	if err := <-errB; !errors.Is(err, fs.ErrExist) {
		t.Fatalf("B: got %v, want fs.ErrExist", err)
	}
	if got, _ := tableformat.ReadObject(ctx, b, key); string(got) != "A" {
		t.Fatalf("stored %q, want A", got)
	}
	// Released keys are no longer held.
	if err := b.PutIfAbsent(ctx, "_log/3", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestBarrierReleaseAllRace(t *testing.T) {
	ctx := t.Context()
	b := storetest.NewBarrierStore(tableformat.NewMemStore())
	const key, n = "_log/9", 8
	b.Hold(key)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = b.PutIfAbsent(ctx, key, []byte{byte(i)}) })
	}
	waitHeld(t, b, key, n)
	b.Release(key)
	wg.Wait()
	won := slices.IndexFunc(errs, func(err error) bool { return err == nil })
	if won < 0 {
		t.Fatal("nobody won")
	}
	for i, err := range errs {
		if i != won && !errors.Is(err, fs.ErrExist) {
			t.Fatalf("racer %d: got %v, want fs.ErrExist", i, err)
		}
	}
}

func TestBarrierCanceledHeldCall(t *testing.T) {
	b := storetest.NewBarrierStore(tableformat.NewMemStore())
	const key = "_log/1"
	b.Hold(key)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.PutIfAbsent(ctx, key, []byte("x")) }()
	waitHeld(t, b, key, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if b.Held(key) != 0 {
		t.Fatalf("Held = %d after cancel, want 0", b.Held(key))
	}
	if _, err := b.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("canceled held call wrote: stat = %v", err)
	}
	// WaitHeld gives up with its context.
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer wcancel()
	if err := b.WaitHeld(wctx, key, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitHeld: got %v, want DeadlineExceeded", err)
	}
	if err := b.WaitHeld(t.Context(), "not-held", 1); err == nil {
		t.Fatal("WaitHeld on a key that is not held succeeded")
	}
}

func waitHeld(t *testing.T, b *storetest.BarrierStore, key string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := b.WaitHeld(ctx, key, n); err != nil {
		t.Fatal(err)
	}
}
