package tableformat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// lakeBuilder makes valid entries against a log's latest state, for tests.
type lakeBuilder struct {
	t   testing.TB
	log *Log
	n   int // file name counter
}

func newLake(t testing.TB, store Store, interval int64) *lakeBuilder {
	t.Helper()
	l := NewLog(store, LogOptions{WriterID: "test"})
	if _, err := l.Create(context.Background(), "src", interval); err != nil {
		t.Fatal(err)
	}
	return &lakeBuilder{t: t, log: l}
}

func (b *lakeBuilder) latest() *State {
	b.t.Helper()
	st, err := b.log.Latest(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	return st
}

func (b *lakeBuilder) file(table int64, kind FileKind, minSeq, maxSeq, ts int64) AddFile {
	b.n++
	return AddFile{Path: fmt.Sprintf("t%d/%s/f%05d", table, kind, b.n), TableID: table, Kind: kind, SchemaVersion: 1,
		Rows: maxSeq - minSeq + 1, Bytes: 10, Checksum: sha256Hex([]byte{byte(b.n)}), MinSeq: minSeq, MaxSeq: maxSeq, MinTS: ts, MaxTS: ts}
}

// ingest commits txns transactions of one change each to table (created
// when missing), one second of source time apart, binlog positions and
// MariaDB GTIDs advancing with them.
func (b *lakeBuilder) ingest(table int64, txns int) *State {
	b.t.Helper()
	st := b.latest()
	e := &Entry{Kind: KindIngest}
	seq, ts := st.Progress.MaxSeq, st.Progress.MaxTS
	if ts == 0 {
		ts = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	}
	if st.Tables.Get(table) == nil {
		seq++
		e.Tables = append(e.Tables, TableChange{Op: TableCreate, TableID: table, Seq: seq, DB: "d", Name: fmt.Sprintf("t%d", table), Schema: testSchema(1)})
	}
	for range txns {
		seq++
		ts += 1_000_000
		e.Add = append(e.Add, b.file(table, FileData, seq, seq, ts))
		e.Txns = append(e.Txns, TxnMark{Seq: seq, TS: ts, GTID: fmt.Sprintf("0-1-%d", seq), File: "bin.000001", Pos: uint64(seq * 100)})
	}
	e.Progress = Progress{Position: Position{GTIDSet: fmt.Sprintf("0-1-%d", seq), File: "bin.000001", Pos: uint64(seq * 100)},
		PrevSeq: st.Progress.MaxSeq, MaxSeq: seq, MaxTS: ts}
	return b.commit(e)
}

func (b *lakeBuilder) commit(e *Entry) *State {
	b.t.Helper()
	st, err := b.log.Commit(context.Background(), e)
	if err != nil {
		b.t.Fatal(err)
	}
	return st
}

func imagesJSON(t testing.TB, s *State) string {
	t.Helper()
	b, err := json.Marshal(struct {
		S *State
		T []TableImage
	}{s, s.Images()})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replayFromOne folds entries 1…v read from the store, ignoring checkpoints.
func replayFromOne(t testing.TB, l *Log, v int64) *State {
	t.Helper()
	st := emptyState()
	for x := int64(1); x <= v; x++ {
		e, err := l.Entry(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		if st, err = st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestReloadSeesCommits(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	b := newLake(t, store, 3)
	for i := range 7 {
		b.ingest(int64(1+i%2), 2)
	}
	want := b.latest()
	got, err := NewLog(store, LogOptions{}).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if imagesJSON(t, got) != imagesJSON(t, want) {
		t.Fatal("a new reader sees another state")
	}
	if _, err := store.Stat(ctx, CheckpointKey(6)); err != nil {
		t.Fatalf("checkpoint of version 6: %v", err)
	}
	hint, err := ReadObject(ctx, store, lastCheckpointKey)
	if err != nil || !bytes.Contains(hint, []byte(`"version":6`)) {
		t.Fatalf("hint %s, %v", hint, err)
	}
}

// TestUploadWithoutCommitIsInvisible: files uploaded by a writer that
// crashed before creating its log entry are seen by no reader.
func TestUploadWithoutCommitIsInvisible(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	b := newLake(t, store, 10)
	b.ingest(1, 1)
	before := imagesJSON(t, b.latest())
	// The crashed writer's upload.
	if err := PutBytes(ctx, store, "d/t1/data/orphan.parquet", []byte("PAR1…")); err != nil {
		t.Fatal(err)
	}
	st, err := NewLog(store, LogOptions{}).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if imagesJSON(t, st) != before {
		t.Fatal("an uncommitted upload changed the state")
	}
	for tb := range st.Tables.Values() {
		for p := range tb.Files {
			if strings.Contains(p, "orphan") {
				t.Fatal("orphan file is live")
			}
		}
	}
}

func TestDamagedLog(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(store Store) (key string){
		"truncated entry": func(s Store) string {
			data, _ := ReadObject(ctx, s, EntryKey(3))
			_ = PutBytes(ctx, s, EntryKey(3), data[:len(data)-20])
			return EntryKey(3)
		},
		"garbage entry": func(s Store) string {
			_ = PutBytes(ctx, s, EntryKey(2), []byte("{\"version\":2,\"kind\":\"ingest\"}"))
			return EntryKey(2)
		},
		"zero-length entry": func(s Store) string {
			_ = PutBytes(ctx, s, EntryKey(4), nil)
			return EntryKey(4)
		},
		"gap": func(s Store) string {
			_ = s.Delete(ctx, EntryKey(3))
			return EntryKey(3)
		},
		"entry that does not apply": func(s Store) string {
			e, _ := DecodeEntry(EntryKey(4), 4, must(ReadObject(ctx, s, EntryKey(4))))
			e.Progress.PrevSeq = 0
			data, _ := EncodeEntry(e)
			_ = PutBytes(ctx, s, EntryKey(4), data)
			return EntryKey(4)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			store := NewMemStore()
			b := newLake(t, store, 100)
			for range 4 {
				b.ingest(1, 1)
			}
			key := damage(store)
			_, err := NewLog(store, LogOptions{}).Latest(ctx)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), key) {
				t.Fatalf("got %v, want a corruption error naming %s", err, key)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestDamagedCheckpointFallsBack: a bad checkpoint or hint costs time, never
// correctness.
func TestDamagedCheckpointFallsBack(t *testing.T) {
	ctx := context.Background()
	for name, damage := range map[string]func(Store){
		"checkpoint": func(s Store) { _ = PutBytes(ctx, s, CheckpointKey(8), []byte("{")) },
		"hint":       func(s Store) { _ = PutBytes(ctx, s, lastCheckpointKey, []byte("nonsense")) },
		"both": func(s Store) {
			_ = s.Delete(ctx, CheckpointKey(8))
			_ = PutBytes(ctx, s, lastCheckpointKey, []byte("{}"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			store := NewMemStore()
			b := newLake(t, store, 4)
			for range 9 {
				b.ingest(1, 1)
			}
			want := imagesJSON(t, b.latest())
			damage(store)
			got, err := NewLog(store, LogOptions{}).Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if imagesJSON(t, got) != want {
				t.Fatal("state differs after falling back")
			}
			old, err := NewLog(store, LogOptions{}).StateAt(ctx, 9)
			if err != nil || old.Version != 9 {
				t.Fatalf("state at 9: %v", err)
			}
		})
	}
}

func TestCreateIsIdempotentPerSource(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	newLake(t, store, 10)
	if _, err := NewLog(store, LogOptions{}).Create(ctx, "src", 10); err != nil {
		t.Fatalf("re-create of the same source: %v", err)
	}
	_, err := NewLog(store, LogOptions{}).Create(ctx, "other", 10)
	if err == nil || !strings.Contains(err.Error(), `"src"`) {
		t.Fatalf("create over another source's lake: %v", err)
	}
	if _, err := NewLog(NewMemStore(), LogOptions{}).Latest(ctx); !errors.Is(err, ErrNoLake) {
		t.Fatalf("empty store: %v", err)
	}
}

// TestCommitTimeGrows: a clock that goes back still gives growing commit
// times.
func TestCommitTimeGrows(t *testing.T) {
	store := NewMemStore()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLog(store, LogOptions{Now: func() time.Time { clock = clock.Add(-time.Hour); return clock }})
	if _, err := l.Create(context.Background(), "src", 10); err != nil {
		t.Fatal(err)
	}
	b := &lakeBuilder{t: t, log: l}
	prev := b.latest().CommitTime
	for range 5 {
		st := b.ingest(1, 1)
		if !st.CommitTime.After(prev) {
			t.Fatalf("commit time %v not after %v", st.CommitTime, prev)
		}
		if st.CommitTime.Sub(prev) != time.Microsecond {
			t.Fatalf("commit time jumped by %v with a clock going back", st.CommitTime.Sub(prev))
		}
		prev = st.CommitTime
	}
}

// TestSkewedClocks: the daemon's clock an hour behind the source's (whose
// transactions carry their own times) and the compactor's an hour ahead
// of it, committing in turn: the lake's commit times still grow, and "as
// of" a source time still finds the transactions committed by then — it
// reads the source's times, never a writer's clock.
func TestSkewedClocks(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	source := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // lakeBuilder's source times start here
	daemonNow, compactorNow := source.Add(-time.Hour), source.Add(time.Hour)
	daemon := NewLog(store, LogOptions{WriterID: "daemon", Now: func() time.Time { daemonNow = daemonNow.Add(time.Second); return daemonNow }})
	compactor := NewLog(store, LogOptions{WriterID: "compactor", Now: func() time.Time {
		compactorNow = compactorNow.Add(time.Second)
		return compactorNow
	}})
	if _, err := daemon.Create(ctx, "src", 4); err != nil {
		t.Fatal(err)
	}
	b := &lakeBuilder{t: t, log: daemon}
	var ingested []*State
	for i := range 8 {
		ingested = append(ingested, b.ingest(1, 2))
		if i%2 == 0 {
			st, err := compactor.Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			prog := st.Progress
			prog.PrevSeq = prog.MaxSeq
			if _, err := compactor.Commit(ctx, &Entry{Kind: KindCompaction, Progress: prog}); err != nil {
				t.Fatal(err)
			}
		}
	}
	latest, err := daemon.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var prev time.Time
	for v := int64(1); v <= latest.Version; v++ {
		e, err := daemon.Entry(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if !e.CommitTime.After(prev) {
			t.Fatalf("version %d committed at %v, not after version %d's %v", v, e.CommitTime, v-1, prev)
		}
		prev = e.CommitTime
	}
	for _, st := range ingested {
		p, err := daemon.AtTime(ctx, time.UnixMicro(st.Progress.MaxTS))
		if err != nil || p.Seq != st.Progress.MaxSeq {
			t.Fatalf("as of source time %v: seq %d (%v), want %d", time.UnixMicro(st.Progress.MaxTS).UTC(), p.Seq, err, st.Progress.MaxSeq)
		}
	}
}

// TestSecondIngestConflicts: two ingest writers on one lake: the second
// gets a conflict, not a duplicate commit.
func TestSecondIngestConflicts(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	a := newLake(t, store, 10)
	a.ingest(1, 1)
	b := &lakeBuilder{t: t, log: NewLog(store, LogOptions{WriterID: "b"})}
	stale := b.latest()
	a.ingest(1, 1)
	e := &Entry{Kind: KindIngest, Add: []AddFile{b.file(1, FileData, stale.Progress.MaxSeq+1, stale.Progress.MaxSeq+1, 5_000_000_000_000_000)},
		Progress: Progress{PrevSeq: stale.Progress.MaxSeq, MaxSeq: stale.Progress.MaxSeq + 1, MaxTS: 5_000_000_000_000_000}}
	_, err := b.log.Commit(ctx, e)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "another ingest") {
		t.Fatalf("got %v, want a conflict", err)
	}
}

// openCounter counts the opens of each key.
type openCounter struct {
	*MemStore
	mu    sync.Mutex
	opens map[string]int
}

func (s *openCounter) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opens[key]++
	s.mu.Unlock()
	return s.MemStore.Open(ctx, key)
}

func (s *openCounter) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens[key]
}

// TestEntryCacheBytes: the decoded entries a log keeps stay within
// EntryCacheBytes of encoding, the oldest going first, and an entry bigger
// than the bound is read from the store each time, whether the log read it
// or committed it.
func TestEntryCacheBytes(t *testing.T) {
	ctx := context.Background()
	store := &openCounter{MemStore: NewMemStore(), opens: map[string]int{}}
	b := newLake(t, store, 100)
	b.ingest(1, 1)  // version 2: creates the table
	b.ingest(1, 1)  // version 3: small
	b.ingest(1, 50) // version 4: big
	b.ingest(1, 1)  // version 5: small
	b.ingest(1, 1)  // version 6: small
	size := func(v int64) int64 {
		t.Helper()
		info, err := store.Stat(ctx, EntryKey(v))
		if err != nil {
			t.Fatal(err)
		}
		return info.Size
	}
	small := max(size(3), size(5), size(6))
	bound := 2*small + small/2 // room for two small entries, not three, nor the big one
	if size(4) <= bound || 3*min(size(3), size(5), size(6)) <= bound {
		t.Fatalf("entry sizes %d, %d (big), %d, %d do not suit the bound %d", size(3), size(4), size(5), size(6), bound)
	}
	l := NewLog(store, LogOptions{EntryCacheBytes: bound})
	read := func(v int64) {
		t.Helper()
		if _, err := l.Entry(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	opens := func(v int64) int { return store.count(EntryKey(v)) }
	before := map[int64]int{3: opens(3), 4: opens(4), 5: opens(5), 6: opens(6)}
	read(3)
	read(3)
	if got := opens(3) - before[3]; got != 1 {
		t.Fatalf("a small entry read twice was opened %d times, want 1 (kept)", got)
	}
	read(4)
	read(4)
	if got := opens(4) - before[4]; got != 2 {
		t.Fatalf("an entry bigger than the bound read twice was opened %d times, want 2 (not kept)", got)
	}
	read(5)
	read(6) // evicts version 3, the oldest
	read(5)
	read(6)
	read(3)
	if got := []int{opens(3) - before[3], opens(5) - before[5], opens(6) - before[6]}; got[0] != 2 || got[1] != 1 || got[2] != 1 {
		t.Fatalf("opens of versions 3, 5, 6: %v, want [2 1 1] (the oldest evicted for the third)", got)
	}

	// Commits: the small one is kept, the big one is not.
	w := &lakeBuilder{t: t, log: NewLog(store, LogOptions{WriterID: "test", EntryCacheBytes: bound}), n: 1000}
	small6 := w.ingest(1, 1).Version
	big7 := w.ingest(1, 50).Version
	for _, v := range []int64{small6, big7} {
		if _, err := w.log.Entry(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if opens(small6) != 0 || opens(big7) != 1 {
		t.Fatalf("after committing them, reading a small and a big entry opened them %d and %d times, want 0 and 1", opens(small6), opens(big7))
	}
}
