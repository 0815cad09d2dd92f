package tableformat

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRetention: a vacuum entry sets the retention; it only moves forward;
// "as of" refuses points before it, by sequence in the latest lineage and by
// commit time for versions rewound away; checkpoints carry it.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	l := NewLog(store, LogOptions{WriterID: "test", Now: func() time.Time { return base }})
	if _, err := l.Create(ctx, "src", 4); err != nil {
		t.Fatal(err)
	}
	b := &lakeBuilder{t: t, log: l}
	// Versions 2…5: sequences 2,3,4 | 5,6,7 | 8,9,10 | 11,12,13 at source
	// times t0+1s … t0+12s, binlog offsets seq*100 (see TestResolveAsOf).
	for range 4 {
		b.ingest(1, 3)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

	v6 := b.commit(&Entry{Kind: KindVacuum, Retention: &Retention{FromSeq: 8, FromTime: at(7)}})
	if r := v6.Retention; r == nil || r.FromSeq != 8 || !r.FromTime.Equal(at(7)) {
		t.Fatalf("retention after the vacuum: %+v", r)
	}

	outside := func(name string, p Point, err error) {
		t.Helper()
		var oe *OutsideRetentionError
		if !errors.Is(err, ErrOutsideRetention) || !errors.As(err, &oe) {
			t.Fatalf("%s: got point %+v, %v; want outside retention", name, p, err)
		}
	}
	inside := func(name string, p Point, err error, version, seq, state int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Version != version || p.Seq != seq || p.State.Version != state {
			t.Fatalf("%s: version %d seq %d state %d, want %d %d %d", name, p.Version, p.Seq, p.State.Version, version, seq, state)
		}
	}
	_, err := l.AtVersion(ctx, 2)
	want := "as of version 2: outside retention: the lake keeps history from 2026-01-01T00:00:07Z (seq 8); vacuum removed older files"
	if err == nil || err.Error() != want {
		t.Fatalf("message:\n got %v\nwant %s", err, want)
	}
	p, err := l.AtVersion(ctx, 3)
	outside("version 3 (sequence 7)", p, err)
	p, err = l.AtTime(ctx, at(6))
	outside("time before the retention", p, err)
	if !strings.Contains(err.Error(), "as of time 2026-01-01T00:00:06Z") {
		t.Fatalf("the message does not name the point: %v", err)
	}
	p, err = l.AtGTID(ctx, "0-1-5")
	outside("gtid", p, err)
	p, err = l.AtFilePos(ctx, "bin.000001", 799)
	outside("binlog position", p, err)
	p, err = l.AtTime(ctx, at(7))
	inside("time at the retention", p, err, 4, 8, 6)
	p, err = l.AtFilePos(ctx, "bin.000001", 800)
	inside("binlog position at the retention", p, err, 4, 8, 6)
	p, err = l.AtVersion(ctx, 4)
	inside("old version inside retention: the latest state", p, err, 4, 10, 6)
	p, err = l.AtLatest(ctx)
	inside("latest", p, err, 6, 13, 6)

	// Retention moves forward only; retention belongs to vacuum entries.
	for name, r := range map[string]Retention{
		"sequence back": {FromSeq: 7, FromTime: at(7)},
		"time back":     {FromSeq: 8, FromTime: at(6)},
	} {
		if _, err := l.Commit(ctx, &Entry{Kind: KindVacuum, Retention: &r}); !errors.Is(err, ErrConflict) {
			t.Fatalf("%s: %v, want a conflict", name, err)
		}
	}
	if _, err := l.Commit(ctx, &Entry{Kind: KindCompaction, Retention: &Retention{FromSeq: 9, FromTime: at(8)}}); err == nil ||
		!strings.Contains(err.Error(), "vacuum entries only") {
		t.Fatalf("retention on a compaction entry: %v", err)
	}
	if _, err := l.Commit(ctx, &Entry{Kind: KindVacuum, Retention: &Retention{FromSeq: 14, FromTime: at(20)}}); err == nil ||
		!strings.Contains(err.Error(), "outside 1…13") {
		t.Fatalf("retention beyond the lake's sequence: %v", err)
	}

	// Version 7 moves the retention's time to version 6's commit time, with
	// the same sequence. Then version 8 rewinds to version 4: versions 5…7
	// are rewound away, and only version 5 was committed before that time.
	x := v6.CommitTime
	b.commit(&Entry{Kind: KindVacuum, Retention: &Retention{FromSeq: 8, FromTime: x}})
	v3, err := l.StateAt(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Commit(ctx, &Entry{Kind: KindRewind, Rewind: &RewindInfo{ToVersion: 3, Tables: v3.Images()}, Progress: v3.Progress}); !errors.Is(err, ErrConflict) ||
		!strings.Contains(err.Error(), "outside retention") {
		t.Fatalf("rewind outside retention: %v", err)
	}
	v4, err := l.StateAt(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	v8 := b.commit(&Entry{Kind: KindRewind, Rewind: &RewindInfo{ToVersion: 4, Tables: v4.Images()}, Progress: v4.Progress})
	if v8.Retention == nil || v8.Retention.FromSeq != 8 || !v8.Retention.FromTime.Equal(x) {
		t.Fatalf("a rewind changed the retention: %+v", v8.Retention)
	}
	p, err = l.AtVersion(ctx, 5)
	outside("version rewound away, committed before the retention's time", p, err)
	p, err = l.AtVersion(ctx, 6)
	inside("version rewound away, committed at the retention's time: its own state", p, err, 6, 13, 6)
	p, err = l.AtVersion(ctx, 4)
	inside("version 4 in the new lineage", p, err, 4, 10, 8)
	p, err = l.AtVersion(ctx, 3)
	outside("version 3 after the rewind", p, err)

	// Checkpoints (every 4 versions): version 8's holds the retention,
	// version 4's (older than any vacuum) does not and still reads.
	for v, has := range map[int64]bool{4: false, 8: true} {
		data, err := ReadObject(ctx, store, CheckpointKey(v))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(`"retention"`)) != has {
			t.Fatalf("checkpoint %d: retention present %v, want %v", v, !has, has)
		}
	}
	fresh := NewLog(store, LogOptions{})
	st, err := fresh.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retention == nil || *st.Retention != *v8.Retention {
		t.Fatalf("retention read from the checkpoint: %+v, want %+v", st.Retention, v8.Retention)
	}
	if got := replayFromOne(t, fresh, 8); got.Retention == nil || *got.Retention != *st.Retention {
		t.Fatalf("replay gives retention %+v, the checkpoint %+v", got.Retention, st.Retention)
	}
	old, err := fresh.StateAt(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if old.Retention != nil {
		t.Fatalf("version 5 (from checkpoint 4) has retention %+v", old.Retention)
	}
}
