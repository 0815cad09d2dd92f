package tableformat

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// readRecorder records the keys read through it.
type readRecorder struct {
	Store
	mu   sync.Mutex
	keys []string
}

func (r *readRecorder) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	return r.Store.Open(ctx, key)
}

func (r *readRecorder) reset() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.keys
	r.keys = nil
	return out
}

// loadAll loads every table's files of st.
func loadAll(t *testing.T, l *Log, st *State) *State {
	t.Helper()
	out, err := l.LoadTables(context.Background(), st, st.Tables.IDs()...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLazyTablesLoadOnDemand: a log with LazyTables opens a lake reading its
// checkpoint's tables but none of its leaves, except those of tables that
// entries after the checkpoint change; LoadTables reads the leaves of the
// tables asked for, and the states it gives equal replaying the log, at
// every version; a state is never changed by loading (a copy is); a leaf
// damaged is corruption, found when it is loaded; such a log cannot commit.
func TestLazyTablesLoadOnDemand(t *testing.T) {
	ctx := context.Background()
	mem := NewMemStore()
	const interval = 10
	b := newPartsLake(t, mem, interval, 1<<10, 30) // ~2 tables a leaf
	b.ingestUntil(7, interval)
	b.ingest(3, 2) // after the checkpoint: table 3's files change
	want := b.latest()

	rec := &readRecorder{Store: mem}
	l := NewLog(rec, LogOptions{LazyTables: true})
	st, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Tables.Get(3).Loaded() || st.Tables.Get(5).Loaded() {
		t.Fatalf("loaded: table 3 %v (changed after the checkpoint: want true), table 5 %v (want false)",
			st.Tables.Get(3).Loaded(), st.Tables.Get(5).Loaded())
	}
	_, tree, err := readCheckpoint(ctx, mem, st.Version/interval*interval, -1, "", 1, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rec.reset() {
		for _, leaf := range tree.levels[0] {
			if leaf.ref.Key == k && (leaf.ref.FirstID > 3 || leaf.ref.LastID < 3) {
				t.Errorf("opening the lake read leaf %s (tables %d…%d): only table 3's is needed", k, leaf.ref.FirstID, leaf.ref.LastID)
			}
		}
	}
	if len(tree.levels[0]) < 10 {
		t.Fatalf("%d leaves: the test wants ten or more", len(tree.levels[0]))
	}

	one, err := l.LoadTables(ctx, st, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !one.Tables.Get(5).Loaded() || st.Tables.Get(5).Loaded() || one.Tables.Get(9).Loaded() && st.Tables.Get(9).leaf.Key != st.Tables.Get(5).leaf.Key {
		t.Fatal("LoadTables loaded otherwise than asked, or changed the state it was given")
	}
	if got := rec.reset(); len(got) != 1 || got[0] != st.Tables.Get(5).leaf.Key {
		t.Fatalf("loading table 5 read %v, want its leaf only", got)
	}
	if imagesJSON(t, loadAll(t, l, st)) != imagesJSON(t, want) {
		t.Fatal("the lazy state, loaded, differs from the writer's")
	}
	for v := int64(1); v <= want.Version; v++ {
		sv, err := NewLog(mem, LogOptions{LazyTables: true}).StateAt(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if imagesJSON(t, loadAll(t, l, sv)) != imagesJSON(t, replayFromOne(t, b.log, v)) {
			t.Fatalf("state at %d, loaded, differs from replay", v)
		}
	}

	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "not loaded") {
				t.Errorf("SortedFiles of a table not loaded: %v, want a panic naming it", r)
			}
		}()
		st.Tables.Get(5).SortedFiles()
	}()
	if _, err := l.Commit(ctx, &Entry{Kind: KindIngest}); err == nil {
		t.Error("a lazy log committed")
	}

	// A damaged leaf: found when a table in it is loaded, by a new log.
	key := st.Tables.Get(20).leaf.Key
	if err := PutBytes(ctx, mem, key, []byte(`{"format_version":4,"level":0,"tables":[]}`+"\n")); err != nil {
		t.Fatal(err)
	}
	l2 := NewLog(mem, LogOptions{LazyTables: true})
	st2, err := l2.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l2.LoadTables(ctx, st2, 20); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), key) {
		t.Fatalf("loading a table of a damaged leaf: %v, want corruption naming %s", err, key)
	}
}
