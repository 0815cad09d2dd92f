package tableformat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// newPartsLake is a lake of tables 1…tables (two files each) with
// checkpoints every interval versions in parts of about partBytes.
func newPartsLake(t testing.TB, store Store, interval int64, partBytes int64, tables int) *lakeBuilder {
	t.Helper()
	l := NewLog(store, LogOptions{WriterID: "test", CheckpointPartBytes: partBytes})
	if _, err := l.Create(context.Background(), "src", interval); err != nil {
		t.Fatal(err)
	}
	b := &lakeBuilder{t: t, log: l}
	for i := range tables {
		b.ingest(int64(i+1), 2)
	}
	return b
}

// ingestUntil commits one-file commits to table until the version before
// the next checkpoint, then the one that writes it, and returns that state.
func (b *lakeBuilder) ingestUntil(table, interval int64) *State {
	st := b.ingest(table, 1)
	for st.Version%interval != 0 {
		st = b.ingest(table, 1)
	}
	return st
}

// topOf reads the top object of checkpoint v.
func topOf(t *testing.T, store Store, v int64) *checkpoint {
	t.Helper()
	c, err := decodeCheckpoint(CheckpointKey(v), v, must(ReadObject(context.Background(), store, CheckpointKey(v))))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func keysUnder(t *testing.T, store Store) map[string]int64 {
	t.Helper()
	objs, err := store.List(context.Background(), LogDir, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, o := range objs {
		out[o.Key] = o.Size
	}
	return out
}

// TestCheckpointReusesParts: a checkpoint after commits to one table of
// many writes the parts on the path to that table only — one part of
// tables and one part per level above — and references every other part
// of the checkpoint before again; a reader gets the state replay gives.
func TestCheckpointReusesParts(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	const interval = 10
	b := newPartsLake(t, store, interval, 2<<10, 120) // ~500-byte tables: a handful a part, several levels
	b.ingestUntil(1, interval)
	prev := b.latest().Version
	before := keysUnder(t, store)
	st := b.ingestUntil(77, interval)
	top := topOf(t, store, st.Version)
	tree, err := readTree(ctx, store, st.Version, top.FormatVersion, top.Parts, 4, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.levels) < 3 {
		t.Fatalf("%d levels of parts: the test wants a tree of three or more", len(tree.levels))
	}
	var written []string
	for key := range keysUnder(t, store) {
		if _, ok := before[key]; !ok && isPartKey(key) {
			written = append(written, key)
		}
	}
	// The parts on the path to table 77 are new — one a level, or two where
	// the one grew past the size and split — every other is an earlier
	// checkpoint's, and the checkpoint wrote nothing else.
	var fresh []string
	for level, nodes := range tree.levels {
		n := 0
		for _, nd := range nodes {
			v, _, _ := parsePartKey(nd.ref.Key)
			holds := nd.ref.FirstID <= 77 && 77 <= nd.ref.LastID
			switch {
			case holds && v != st.Version:
				t.Errorf("level %d: the part holding table 77 is %s, not a part of checkpoint %d", level, nd.ref.Key, st.Version)
			case v == st.Version:
				n++
				fresh = append(fresh, nd.ref.Key)
			case v > prev:
				t.Errorf("level %d: part %s is of checkpoint %d, after %d", level, nd.ref.Key, v, prev)
			}
		}
		if n > 2 {
			t.Errorf("level %d: %d new parts of %d", level, n, len(nodes))
		}
	}
	slices.Sort(written)
	slices.Sort(fresh)
	if !slices.Equal(written, fresh) {
		t.Fatalf("the checkpoint wrote %v, its tree has the new parts %v", written, fresh)
	}
	// A reader of the newest checkpoint gets the fold of the log.
	got, err := NewLog(store, LogOptions{}).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if imagesJSON(t, got) != imagesJSON(t, replayFromOne(t, b.log, st.Version)) {
		t.Fatal("the state of the incremental checkpoint differs from replay")
	}
}

// TestCheckpointOfNewTablesStaysCompact: tables created one at a time, a
// checkpoint after each, fold into the last part (while it fits) instead
// of leaving a small part each.
func TestCheckpointOfNewTablesStaysCompact(t *testing.T) {
	store := NewMemStore()
	b := newPartsLake(t, store, 1, 4<<10, 0)
	for i := range 60 {
		b.ingest(int64(i+1), 1)
	}
	st := b.latest()
	top := topOf(t, store, st.Version)
	tree, err := readTree(context.Background(), store, st.Version, top.FormatVersion, top.Parts, 4, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, nd := range tree.levels[0] {
		total += nd.ref.Bytes
	}
	if n, most := len(tree.levels[0]), 2*total/(4<<10)+2; int64(n) > most {
		t.Fatalf("%d parts of tables for %d bytes of tables: more than %d", n, total, most)
	}
}

// TestDamagedCheckpointPartFallsBack: a checkpoint whose part is missing or
// damaged is skipped like a damaged checkpoint: the reader takes an older
// checkpoint, or replays the log, and gets the same state.
func TestDamagedCheckpointPartFallsBack(t *testing.T) {
	ctx := context.Background()
	const interval = 10
	for name, c := range map[string]struct {
		shared bool // a part the older checkpoint references too
		damage func(s Store, key string)
	}{
		"missing":          {false, func(s Store, key string) { _ = s.Delete(ctx, key) }},
		"truncated":        {false, func(s Store, key string) { _ = PutBytes(ctx, s, key, must(ReadObject(ctx, s, key))[:10]) }},
		"same size":        {false, func(s Store, key string) { _ = PutBytes(ctx, s, key, bytes.ToUpper(must(ReadObject(ctx, s, key)))) }},
		"shared, missing":  {true, func(s Store, key string) { _ = s.Delete(ctx, key) }},
		"shared, replaced": {true, func(s Store, key string) { _ = PutBytes(ctx, s, key, []byte("{}\n")) }},
	} {
		t.Run(name, func(t *testing.T) {
			store := NewMemStore()
			b := newPartsLake(t, store, interval, 2<<10, 30)
			b.ingestUntil(1, interval)
			st := b.ingestUntil(2, interval)
			b.ingest(3, 1)
			top := topOf(t, store, st.Version)
			tree, err := readTree(ctx, store, st.Version, top.FormatVersion, top.Parts, 4, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			var key string
			for _, nd := range tree.levels[0] {
				v, _, _ := parsePartKey(nd.ref.Key)
				if (v != st.Version) == c.shared {
					key = nd.ref.Key
					break
				}
			}
			if key == "" {
				t.Fatal("no part to damage")
			}
			c.damage(store, key)
			var logged bytes.Buffer
			got, err := NewLog(store, LogOptions{Logger: slog.New(slog.NewTextHandler(&logged, nil))}).Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if imagesJSON(t, got) != imagesJSON(t, replayFromOne(t, b.log, got.Version)) {
				t.Fatal("state differs after falling back")
			}
			if !strings.Contains(logged.String(), "ignoring an unreadable checkpoint") || !strings.Contains(logged.String(), key) {
				t.Fatalf("no warning naming %s: %s", key, logged.String())
			}
			old, err := NewLog(store, LogOptions{}).StateAt(ctx, st.Version)
			if err != nil || imagesJSON(t, old) != imagesJSON(t, replayFromOne(t, b.log, st.Version)) {
				t.Fatalf("state at %d: %v", st.Version, err)
			}
		})
	}
}

// encodeCheckpointV2 is the checkpoint encoder of format version 2 (one
// object holding every table), kept to write the checkpoints of older
// lakes.
func encodeCheckpointV2(t *testing.T, s *State) []byte {
	t.Helper()
	b, err := json.Marshal(struct {
		FormatVersion int          `json:"format_version"`
		State         *State       `json:"state"`
		Tables        []TableImage `json:"tables"`
	}{2, s, s.Images()})
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// encodeCheckpointV3 is a checkpoint of format version 3 (leaves holding
// whole tables; here one leaf) of s: its top object and its parts.
func encodeCheckpointV3(t *testing.T, s *State) ([]byte, []pendingPart) {
	t.Helper()
	id := newCheckpointID()
	var parts []pendingPart
	refs := []PartRef{}
	if images := s.Images(); len(images) > 0 {
		data := must(jsonLine(map[string]any{"format_version": 3, "level": 0, "tables": images}))
		key := CheckpointPartKey(s.Version, id, 0)
		parts = append(parts, pendingPart{key, data})
		refs = append(refs, PartRef{Key: key, Bytes: int64(len(data)), Checksum: sha256Hex(data), Level: 0,
			FirstID: images[0].ID, LastID: images[len(images)-1].ID, Tables: len(images)})
	}
	return must(jsonLine(map[string]any{"format_version": 3, "checkpoint_id": id, "state": s, "parts": refs})), parts
}

// TestOldCheckpointsStillRead: a lake whose checkpoints are of format
// version 2 (one object) or 3 (leaves holding whole tables) reads as
// before, lazily too, and a writer continues it with checkpoints of
// version 4 — the first whole, the next incremental.
func TestOldCheckpointsStillRead(t *testing.T) {
	for _, format := range []int{2, 3} {
		t.Run(fmt.Sprintf("version %d", format), func(t *testing.T) { testOldCheckpoints(t, format) })
	}
}

func testOldCheckpoints(t *testing.T, format int) {
	ctx := context.Background()
	store := NewMemStore()
	const interval = 5
	b := newPartsLake(t, store, interval, 1<<10, 12) // versions 1…13, checkpoints 5 and 10
	// Make it a lake an older binlake wrote: checkpoints of that version,
	// the hint naming the newest.
	for key := range keysUnder(t, store) {
		if isPartKey(key) {
			_ = store.Delete(ctx, key)
		}
	}
	var data []byte
	for _, v := range []int64{5, 10} {
		st := replayFromOne(t, b.log, v)
		var parts []pendingPart
		if format == 2 {
			data = encodeCheckpointV2(t, st)
		} else {
			data, parts = encodeCheckpointV3(t, st)
		}
		if err := putParts(ctx, store, parts, 1); err != nil {
			t.Fatal(err)
		}
		if err := PutBytes(ctx, store, CheckpointKey(v), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := PutBytes(ctx, store, lastCheckpointKey, must(jsonLine(lastCheckpoint{Version: 10, Bytes: int64(len(data)), Checksum: sha256Hex(data)}))); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	l := NewLog(store, LogOptions{WriterID: "new", CheckpointPartBytes: 1 << 10, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	got, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if imagesJSON(t, got) != imagesJSON(t, replayFromOne(t, b.log, got.Version)) || logged.Len() > 0 {
		t.Fatalf("the old checkpoint reads otherwise than replay: %s", logged.String())
	}
	for _, lazy := range []bool{false, true} {
		for v := int64(4); v <= got.Version; v++ {
			st, err := NewLog(store, LogOptions{LazyTables: lazy}).StateAt(ctx, v)
			if err != nil || imagesJSON(t, st) != imagesJSON(t, replayFromOne(t, b.log, v)) {
				t.Fatalf("state at %d (lazy %v): %v", v, lazy, err)
			}
		}
	}
	// The writer goes on: checkpoint 15 is whole (nothing to build on),
	// checkpoint 20 reuses its parts.
	b.log = l
	first := b.ingestUntil(3, interval)
	second := b.ingestUntil(4, interval)
	if _, err := store.Stat(ctx, CheckpointKey(first.Version)); err != nil {
		t.Fatalf("checkpoint %d: %v; %s", first.Version, err, logged.String())
	}
	if c := topOf(t, store, first.Version); c.FormatVersion != checkpointFormatVersion {
		t.Fatalf("checkpoint %d of format version %d", first.Version, c.FormatVersion)
	}
	top := topOf(t, store, second.Version)
	tree, err := readTree(ctx, store, second.Version, top.FormatVersion, top.Parts, 4, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	reused := 0
	for _, nodes := range tree.levels {
		for _, nd := range nodes {
			if v, _, _ := parsePartKey(nd.ref.Key); v == first.Version {
				reused++
			}
		}
	}
	if reused == 0 {
		t.Fatal("checkpoint 20 reuses no part of checkpoint 15")
	}
	got, err = NewLog(store, LogOptions{}).Latest(ctx)
	if err != nil || imagesJSON(t, got) != imagesJSON(t, replayFromOne(t, b.log, got.Version)) {
		t.Fatalf("latest after the new checkpoints: %v", err)
	}
}

// TestUnreferencedCheckpointParts: the parts of a checkpoint writer that
// stopped before its top, and of a top that another writer's beat, are
// unreferenced; every part a checkpoint references — through parts of
// references too, and of old checkpoints only — is not.
func TestUnreferencedCheckpointParts(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	const interval = 10
	b := newPartsLake(t, store, interval, 2<<10, 60)
	b.ingestUntil(1, interval)
	st := b.ingestUntil(2, interval)
	// A writer that stopped after its parts.
	_, parts, _, err := encodeCheckpoint(b.ingest(3, 1), newCheckpointID(), nil, 2<<10)
	if err != nil {
		t.Fatal(err)
	}
	// A writer that lost the top of st's version to the one that wrote it.
	_, lost, _, err := encodeCheckpoint(st, newCheckpointID(), nil, 2<<10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, p := range append(parts, lost...) {
		want[p.key] = true
	}
	if err := putParts(ctx, store, append(parts, lost...), 4); err != nil {
		t.Fatal(err)
	}
	got, err := UnreferencedCheckpointParts(ctx, store, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got {
		if !want[o.Key] {
			t.Errorf("%s is referenced, yet reported", o.Key)
		}
		delete(want, o.Key)
	}
	if len(want) > 0 {
		t.Fatalf("unreferenced parts not reported: %v", want)
	}
	// Deleting them leaves every checkpoint readable.
	for _, o := range got {
		_ = store.Delete(ctx, o.Key)
	}
	for v := int64(interval); v <= st.Version; v += interval {
		if _, _, err := readCheckpoint(ctx, store, v, -1, "", 4, nil, false); err != nil {
			t.Fatalf("checkpoint %d: %v", v, err)
		}
	}
}

// FuzzDecodeCheckpoint: the decoders of a checkpoint's top object and of
// its parts refuse what they cannot read as corruption, never panic, and
// what they accept passes their checks.
func FuzzDecodeCheckpoint(f *testing.F) {
	store := NewMemStore()
	b := newPartsLake(f, store, 5, 1<<10, 8)
	st := b.latest()
	top, parts, _, err := encodeCheckpoint(st, newCheckpointID(), nil, 1<<10)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(top, 0, int64(1), int64(1), 1)
	for _, p := range parts {
		f.Add(p.data, 0, int64(1), int64(8), 8)
		f.Add(p.data, 1, int64(1), int64(8), 8)
	}
	f.Fuzz(func(t *testing.T, data []byte, level int, first, last int64, tables int) {
		if c, err := decodeCheckpoint(CheckpointKey(st.Version), st.Version, data); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("top: error is not a corruption error: %v", err)
			}
		} else if c.State == nil || (c.FormatVersion >= checkpointFormatVersion && checkRefs(c.Parts, -1) != nil) {
			t.Fatal("top: accepted without a state or with bad references")
		}
		ref := PartRef{Key: CheckpointPartKey(5, "0123456789abcdef", 0), Bytes: int64(len(data)), Checksum: sha256Hex(data),
			Level: level, FirstID: first, LastID: last, Tables: tables}
		p, err := decodePart(ref, checkpointFormatVersion, data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("part: error is not a corruption error: %v", err)
			}
			return
		}
		if p.check(ref, checkpointFormatVersion) != nil {
			t.Fatal("part: accepted what its checks refuse")
		}
		for _, im := range p.Tables {
			if _, err := im.table(); err != nil {
				return
			}
		}
	})
}

// TestCheckpointBaseHoldsNoTables: the checkpoint a writer builds on keeps
// only the identities of its tables, so a table changed since that
// checkpoint is not held in memory twice (its state at the checkpoint is
// collected), while an unchanged one is still recognised and its part
// reused.
func TestCheckpointBaseHoldsNoTables(t *testing.T) {
	store := NewMemStore()
	b := newPartsLake(t, store, 10, 256, 3)
	b.ingestUntil(1, 10)
	base := b.log.checkpointBase()
	if base == nil || base.ids == nil || base.tables.Len() != 0 {
		t.Fatal("the log's checkpoint base holds its tables, or no identities")
	}
	// Table 2 changes after the checkpoint; table 3 does not.
	b.ingest(2, 1)
	b.ingest(2, 1)
	runtime.GC()
	runtime.GC()
	if base.ids[2].Value() != nil {
		t.Fatal("table 2's state at the checkpoint is still alive after it changed")
	}
	if base.ids[3].Value() == nil {
		t.Fatal("table 3's state, unchanged, was collected although the current state holds it")
	}
	st := b.ingestUntil(2, 10)
	if !base.unchanged(3, st.Tables.Get(3)) || base.unchanged(2, st.Tables.Get(2)) {
		t.Fatal("identities: table 3 should be unchanged since the base, table 2 changed")
	}
}
