package tableformat

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestResolveAsOf(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	b := newLake(t, store, 2)
	// Versions 2…5: three transactions each, one second apart. Version 2
	// also creates the table at sequence 1, so transactions carry sequences
	// 2,3,4 | 5,6,7 | 8,9,10 | 11,12,13 at times t0+1s … t0+12s and end at
	// binlog offsets seq*100.
	for range 4 {
		b.ingest(1, 3)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	l := NewLog(store, LogOptions{})

	// A point of the latest lineage is read through the latest state; an
	// abandoned version (after the rewind below) through its own.
	check := func(name string, p Point, err error, version, seq int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		latest := b.latest()
		wantState := latest.Version
		if !latest.inLineage(version) {
			wantState = version
		}
		if p.Version != version || p.Seq != seq || p.State == nil || p.State.Version != wantState {
			t.Fatalf("%s: version %d seq %d (state %d), want version %d seq %d (state %d)", name, p.Version, p.Seq, p.State.Version, version, seq, wantState)
		}
	}
	p, err := l.AtTime(ctx, at(2))
	check("inside an entry", p, err, 2, 3)
	p, err = l.AtTime(ctx, at(2).Add(999*time.Millisecond))
	check("between transactions", p, err, 2, 3)
	p, err = l.AtTime(ctx, at(3))
	check("at an entry's last transaction", p, err, 2, 4)
	p, err = l.AtTime(ctx, at(4).Add(-time.Microsecond))
	check("just before the next entry", p, err, 2, 4)
	p, err = l.AtTime(ctx, at(4))
	check("next entry's first transaction", p, err, 3, 5)
	p, err = l.AtTime(ctx, at(1000))
	check("after everything", p, err, 5, 13)
	if _, err = l.AtTime(ctx, at(0)); !errors.Is(err, ErrBeforeHistory) {
		t.Fatalf("before the first change: %v", err)
	}

	p, err = l.AtGTID(ctx, "0-1-6")
	check("gtid", p, err, 3, 6)
	p, err = l.AtGTID(ctx, "0-1-7")
	check("gtid at an entry end", p, err, 3, 7)
	p, err = l.AtGTID(ctx, "0-1-99")
	check("gtid past the end", p, err, 5, 13)
	if _, err = l.AtGTID(ctx, "0-1-1"); !errors.Is(err, ErrBeforeHistory) {
		t.Fatalf("gtid before the first change: %v", err)
	}
	if _, err = l.AtGTID(ctx, "1-1-9"); !errors.Is(err, ErrBeforeHistory) {
		t.Fatalf("gtid of another domain: %v", err)
	}

	p, err = l.AtFilePos(ctx, "bin.000001", 650)
	check("binlog position", p, err, 3, 6)
	p, err = l.AtFilePos(ctx, "bin.000001", 1000)
	check("binlog position at an entry end", p, err, 4, 10)
	p, err = l.AtFilePos(ctx, "bin.000002", 4)
	check("binlog position in a later file", p, err, 5, 13)

	p, err = l.AtVersion(ctx, 3)
	check("version", p, err, 3, 7)
	if _, err = l.AtVersion(ctx, 6); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("missing version: %v", err)
	}

	// Rewind to version 3, then ingest again: the new branch reuses source
	// times of the abandoned one. "As of" follows the current history; the
	// abandoned versions stay readable by number.
	old, err := l.StateAt(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	b.commit(&Entry{Kind: KindRewind, Rewind: &RewindInfo{ToVersion: 3, Tables: old.Images()}, Progress: old.Progress})
	b.ingest(1, 2) // version 7: sequences 8, 9 at t0+7s, t0+8s
	p, err = l.AtTime(ctx, at(8))
	check("time after a rewind", p, err, 7, 9)
	p, err = l.AtTime(ctx, at(6))
	check("time before the rewind point (the rewind version holds the same state)", p, err, 6, 7)
	p, err = l.AtTime(ctx, at(7))
	check("time on the new branch", p, err, 7, 8)
	p, err = l.AtVersion(ctx, 5)
	check("abandoned version", p, err, 5, 13)
	p, err = l.AtLatest(ctx)
	check("latest", p, err, 7, 9)
}

// TestResolveNonMonotonicSourceTime: a source clock that steps back does not
// break "as of": transactions are placed by their effective time, the running
// maximum.
func TestResolveNonMonotonicSourceTime(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	b := newLake(t, store, 10)
	b.ingest(1, 1) // seq 1 (create) and 2 at t0+1s
	st := b.latest()
	ts := st.Progress.MaxTS
	// The source said t0+0.5s for the next transaction; its effective time
	// is t0+1s.
	e := &Entry{Kind: KindIngest,
		Add:      []AddFile{b.file(1, FileData, 3, 3, ts-500_000)},
		Txns:     []TxnMark{{Seq: 3, TS: ts}},
		Progress: Progress{PrevSeq: 2, MaxSeq: 3, MaxTS: ts}}
	b.commit(e)
	p, err := NewLog(store, LogOptions{}).AtTime(ctx, time.UnixMicro(ts))
	if err != nil || p.Seq != 3 {
		t.Fatalf("got seq %d, %v; want 3", p.Seq, err)
	}
}

// TestGapRefusesPoints: points inside a gap (FORMAT.md §16) are refused by
// every way of naming them, naming the gap; points before it and, once the
// re-snapshots it waits for are committed, after it answer.
func TestGapRefusesPoints(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	b := newLake(t, store, 3)
	b.ingest(1, 2) // sequences 2, 3 at t0+1s, t0+2s
	// The binlog from here is gone: the lake goes on from a later file.
	// The source's clock when the lake went on: t0+10s.
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.commit(&Entry{Kind: KindIngest, Gap: &GapOpen{Reason: "the source purged the binlog", Tables: []string{"d.t1"}},
		Resnapshot: []ResnapshotOp{{Op: ResnapshotRequest, DB: "d", Name: "t1", Reason: "the source purged the binlog"}},
		Progress: Progress{Position: Position{GTIDSet: "0-1-50", File: "bin.000009", Pos: 4}, PrevSeq: 3, MaxSeq: 3,
			MaxTS: t0.Add(10 * time.Second).UnixMicro()}})
	b.ingest(1, 1) // sequence 4 at t0+11s: inside the gap
	l := NewLog(store, LogOptions{})
	inGap := func(name string, _ Point, err error) {
		t.Helper()
		var ge *GapError
		if !errors.As(err, &ge) || !errors.Is(err, ErrInGap) || ge.Gap.AfterSeq != 3 {
			t.Fatalf("%s: %v, want a gap error", name, err)
		}
	}
	answers := func(name string, p Point, err error, seq int64) {
		t.Helper()
		if err != nil || p.Seq != seq {
			t.Fatalf("%s: seq %d, %v; want seq %d", name, p.Seq, err, seq)
		}
	}
	p, err := l.AtLatest(ctx)
	inGap("latest", p, err)
	p, err = l.AtTime(ctx, t0.Add(11*time.Second))
	inGap("time of a change after the gap", p, err)
	p, err = l.AtTime(ctx, t0.Add(5*time.Second))
	inGap("time of the transactions the lake lacks", p, err)
	p, err = l.AtGTID(ctx, "0-1-4")
	inGap("gtid of a transaction the lake lacks", p, err)
	p, err = l.AtFilePos(ctx, "bin.000005", 100)
	inGap("position the lake lacks", p, err)
	p, err = l.AtGTID(ctx, "0-1-3")
	answers("gtid before the gap", p, err, 3)
	p, err = l.AtTime(ctx, t0.Add(2*time.Second))
	answers("time before the gap", p, err, 3)
	p, err = l.AtVersion(ctx, 2)
	answers("version before the gap", p, err, 3)
	// The re-snapshot ends the gap.
	last := b.latest().Progress
	b.commit(&Entry{Kind: KindIngest, Resnapshot: []ResnapshotOp{{Op: ResnapshotChunkRead, DB: "d", Name: "t1", Chunk: &ResnapshotChunk{Seq: 4, Last: true}}},
		Progress: Progress{Position: last.Position, PrevSeq: 4, MaxSeq: 4, MaxTS: last.MaxTS}})
	b.commit(&Entry{Kind: KindResnapshot, Add: []AddFile{b.file(1, FileDelete, 5, 5, last.MaxTS)}, Txns: []TxnMark{{Seq: 5, TS: last.MaxTS}},
		Resnapshot: []ResnapshotOp{{Op: ResnapshotDone, DB: "d", Name: "t1"}},
		Progress:   Progress{Position: last.Position, PrevSeq: 4, MaxSeq: 5, MaxTS: last.MaxTS}})
	p, err = l.AtLatest(ctx)
	answers("latest after the gap", p, err, 5)
	p, err = l.AtTime(ctx, t0.Add(11*time.Second))
	answers("time of the last change", p, err, 5)
	p, err = l.AtGTID(ctx, "0-1-50")
	answers("gtid where the lake went on", p, err, 5)
	p, err = l.AtTime(ctx, t0.Add(5*time.Second))
	inGap("time of the transactions the lake lacks, after the gap closed", p, err)
	p, err = l.AtVersion(ctx, 4)
	var ge *GapError
	if !errors.As(err, &ge) || ge.Gap.UntilSeq != 5 {
		t.Fatalf("version inside the closed gap: %v", err)
	}
}

// TestResolveGTIDAcrossBoundaryMarks: table changes written between two
// source transactions (a re-snapshot's structure, ingest's schemaTxn) carry
// a mark without a GTID at the position of the transaction before them. A
// GTID set reaching past them includes them and the transactions after
// them in the same entry; a point between stops at them. (A mark without a
// GTID used to end the run: "as of" the next transactions of the entry
// resolved to the point before the mark, missing them.)
func TestResolveGTIDAcrossBoundaryMarks(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	b := newLake(t, store, 100)
	b.ingest(1, 2) // version 2: create at 1, transactions 2, 3 (0-1-2, 0-1-3; offsets 200, 300)
	ts := b.latest().Progress.MaxTS
	mark := func(seq int64, gtid string, pos uint64) TxnMark {
		ts += 1_000_000
		return TxnMark{Seq: seq, TS: ts, GTID: gtid, File: "bin.000001", Pos: pos}
	}
	// Version 3: a boundary mark first (at version 2's end), then a
	// transaction, a boundary mark after it, and two more transactions.
	e := &Entry{Kind: KindIngest, Txns: []TxnMark{
		mark(4, "", 300), mark(5, "0-1-5", 500), mark(6, "", 500), mark(7, "0-1-7", 700), mark(8, "0-1-8", 800)}}
	for _, m := range e.Txns {
		e.Add = append(e.Add, b.file(1, FileData, m.Seq, m.Seq, m.TS))
	}
	e.Progress = Progress{Position: Position{GTIDSet: "0-1-8", File: "bin.000001", Pos: 800}, PrevSeq: 3, MaxSeq: 8, MaxTS: ts}
	b.commit(e)
	l := NewLog(store, LogOptions{})
	for _, c := range []struct {
		set          string
		version, seq int64
	}{
		{"0-1-3", 3, 4}, // the boundary mark at version 2's end is in
		{"0-1-5", 3, 6}, // the transaction and the mark after it
		{"0-1-7", 3, 7}, // past the mark: the transaction after it
		{"0-1-8", 3, 8},
	} {
		p, err := l.AtGTID(ctx, c.set)
		if err != nil {
			t.Fatalf("as of %s: %v", c.set, err)
		}
		if p.Version != c.version || p.Seq != c.seq {
			t.Fatalf("as of %s: version %d seq %d, want version %d seq %d", c.set, p.Version, p.Seq, c.version, c.seq)
		}
	}
}
