package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// TestRewindAndReplay ingests a workload, rewinds to a chosen GTID (often
// inside a commit) and replays from the position Rewind returns: the lake
// again equals the workload at every transaction, and the versions before
// the rewind stay readable.
func TestRewindAndReplay(t *testing.T) {
	ctx := context.Background()
	for _, start := range []StartPoint{{GTID: "0-1-37"}, {File: "mysql-bin.000001", Pos: 12_000}, {GTID: "0-1-1"}} {
		t.Run(start.String(), func(t *testing.T) {
			w := newWorkload(3)
			for range 60 {
				w.step()
			}
			store, l := newLake(t)
			if err := Begin(ctx, l, binlogStart); err != nil {
				t.Fatal(err)
			}
			opts := Options{CommitInterval: time.Hour, MaxBatchBytes: 2 << 10}
			if err := New(l, opts).Run(ctx, &script{events: w.events}); err != nil {
				t.Fatal(err)
			}
			before, err := l.Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pos, err := Rewind(ctx, l, start)
			if err != nil {
				t.Fatal(err)
			}
			rewound, err := l.Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rewound.Version != before.Version+1 || rewound.Progress.MaxSeq >= before.Progress.MaxSeq {
				t.Fatalf("no rewind commit: version %d → %d", before.Version, rewound.Version)
			}
			// The position to resume from is at or before the start point.
			if reaches(pos, start) && pos.GTIDSet != start.GTID && pos.FilePos() != start.StringPos() {
				t.Fatalf("rewound past the start point: %s for %s", pos, start)
			}
			src := &script{events: w.events}
			src.openAt(pos)
			if err := New(l, opts).Run(ctx, src); err != nil {
				t.Fatal(err)
			}
			checkLake(t, store, w)
			old, err := l.AtVersion(ctx, before.Version)
			if err != nil || old.Seq != before.Progress.MaxSeq {
				t.Fatalf("the version before the rewind: %v (seq %d, want %d)", err, old.Seq, before.Progress.MaxSeq)
			}
		})
	}
}

// binlogStart is where the scripted source's binlog begins.
var binlogStart = tableformat.Position{File: "mysql-bin.000001", Pos: 4}

// A rewind to before where the lake started is refused: those changes were
// never read.
func TestRewindBeforeTheLakeStarted(t *testing.T) {
	ctx := context.Background()
	w := newWorkload(5)
	for range 10 {
		w.step()
	}
	_, l := newLake(t)
	src := &script{events: w.events}
	src.openAt(tableformat.Position{GTIDSet: "0-1-3"})
	if err := Begin(ctx, l, tableformat.Position{GTIDSet: "0-1-3"}); err != nil {
		t.Fatal(err)
	}
	if err := New(l, Options{}).Run(ctx, src); err != nil {
		t.Fatal(err)
	}
	if _, err := Rewind(ctx, l, StartPoint{GTID: "0-1-2"}); err == nil || !strings.Contains(err.Error(), "before the position this lake started from") {
		t.Fatalf("rewind before the start: %v", err)
	}
	pos, err := Rewind(ctx, l, StartPoint{GTID: "0-1-3"})
	if err != nil || pos.GTIDSet != "0-1-3" {
		t.Fatalf("rewind to the start: %v %v", pos, err)
	}
}

func TestRewindRefusesAGap(t *testing.T) {
	ctx := context.Background()
	w := newWorkload(4)
	for range 10 {
		w.step()
	}
	_, l := newLake(t)
	if err := New(l, Options{}).Run(ctx, &script{events: w.events}); err != nil {
		t.Fatal(err)
	}
	_, err := Rewind(ctx, l, StartPoint{GTID: "0-1-50"})
	if err == nil || !strings.Contains(err.Error(), "skip the changes") {
		t.Fatalf("start beyond the lake: %v", err)
	}
	pos, err := Rewind(ctx, l, StartPoint{GTID: "0-1-10"})
	if err != nil || pos.GTIDSet != "0-1-10" {
		t.Fatalf("start at the lake's position: %v %v", pos, err)
	}
}

// TestResyncReplacesContents: a snapshot wrapped in Resync leaves the lake
// equal to the snapshot, with the earlier contents kept as history.
func TestResyncReplacesContents(t *testing.T) {
	ctx := context.Background()
	w := newWorkload(6)
	for range 30 {
		w.step()
	}
	store, l := newLake(t)
	if err := New(l, Options{}).Run(ctx, &script{events: w.events}); err != nil {
		t.Fatal(err)
	}
	before, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A "snapshot": one two-column table's current rows, differently from
	// the lake, and another table found empty (it comes as its CREATE).
	var tb, empty *wlTable
	for _, x := range w.live() {
		switch {
		case tb == nil && len(x.t.Columns) == 2:
			tb = x
		case empty == nil && len(x.rows) > 0:
			empty = x
		}
	}
	if tb == nil || empty == nil {
		t.Fatalf("the workload has no two-column table, or no second table with rows: %d tables", len(w.live()))
	}
	snap := &script{events: []Event{
		&Rows{Table: tb.t, Op: RowSnapshot, After: [][]any{{int64(9001), "fresh"}}, Time: w.ts + 1},
		&DDL{Op: DDLCreate, DB: empty.t.DB, Name: empty.t.Name, Table: empty.t},
		&Commit{Time: w.ts + 1, End: tableformat.Position{GTIDSet: "0-1-999", File: "mysql-bin.000002", Pos: 4}},
	}}
	if err := New(l, Options{}).Run(ctx, Resync(snap)); err != nil {
		t.Fatal(err)
	}
	scan := func(p tableformat.Point, x *wlTable) []tableformat.Row {
		t.Helper()
		table, ok := p.State.TableByName(x.t.DB, x.t.Name, p.Seq)
		if !ok {
			t.Fatalf("table %s.%s missing", x.t.DB, x.t.Name)
		}
		_, rows, err := tableformat.ScanTable(ctx, store, p, table.ID)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	p, err := l.AtLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rows := scan(p, tb); len(rows) != 1 || rows[0].Values[1] != "fresh" {
		t.Fatalf("after resync: %v", rows)
	}
	if rows := scan(p, empty); len(rows) != 0 {
		t.Fatalf("the table the snapshot found empty holds %d rows after resync", len(rows))
	}
	old, err := l.AtVersion(ctx, before.Version)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*wlTable{tb, empty} {
		if rows := scan(old, x); len(rows) != len(x.rows) {
			t.Fatalf("history of %s.%s before the resync: %d rows; want %d", x.t.DB, x.t.Name, len(rows), len(x.rows))
		}
	}
}

// TestRewindRefusesMissingFiles: a rewind to a version one of whose files
// is gone from storage (vacuum deletes files that compaction replaced) is
// refused, naming the file, and commits nothing.
func TestRewindRefusesMissingFiles(t *testing.T) {
	ctx := context.Background()
	w := newWorkload(8)
	for range 30 {
		w.step()
	}
	store, l := newLake(t)
	if err := Begin(ctx, l, binlogStart); err != nil {
		t.Fatal(err)
	}
	if err := New(l, Options{CommitInterval: time.Hour, MaxBatchBytes: 2 << 10}).Run(ctx, &script{events: w.events}); err != nil {
		t.Fatal(err)
	}
	p, err := l.AtGTID(ctx, "0-1-10")
	if err != nil {
		t.Fatal(err)
	}
	target, err := l.StateAt(ctx, p.Version)
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	for _, tbl := range target.SortedTables() {
		for _, f := range tbl.SortedFiles() {
			victim = f.Path
		}
	}
	if victim == "" {
		t.Fatal("no file at the target version")
	}
	if err := store.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	before, _ := l.Latest(ctx)
	if _, err := Rewind(ctx, l, StartPoint{GTID: "0-1-10"}); err == nil || !strings.Contains(err.Error(), victim) {
		t.Fatalf("rewind with %s gone: %v", victim, err)
	}
	if after, _ := l.Latest(ctx); after.Version != before.Version {
		t.Fatalf("a refused rewind committed version %d", after.Version)
	}
}

// TestRewindKeepsChunksWithFiles: a rewind restores a re-snapshot in
// progress with its chunks while their files are in storage, and from its
// start once vacuum has deleted one (the re-snapshot ended after the
// target and its chunk files went).
func TestRewindKeepsChunksWithFiles(t *testing.T) {
	ctx := context.Background()
	store := tableformat.NewMemStore()
	if err := tableformat.PutBytes(ctx, store, "d/a/resnapshot/kept.parquet", []byte("x")); err != nil {
		t.Fatal(err)
	}
	chunk := func(path string) tableformat.ResnapshotChunk {
		return tableformat.ResnapshotChunk{Seq: 3, Rows: 1, After: []string{"1"}, Files: []tableformat.AddFile{{Path: path, Rows: 1}}}
	}
	jobs := []tableformat.ResnapshotJob{
		{DB: "d", Name: "a", Reason: "r", RequestedSeq: 2, Chunks: []tableformat.ResnapshotChunk{chunk("d/a/resnapshot/kept.parquet")}},
		{DB: "d", Name: "b", Reason: "r", RequestedSeq: 2, Chunks: []tableformat.ResnapshotChunk{chunk("d/b/resnapshot/gone.parquet")}},
	}
	got, err := keptResnapshots(ctx, store, jobs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0].Chunks) != 1 || got[1].Chunks != nil || got[1].RequestedSeq != 2 || got[1].Reason != "r" {
		t.Fatalf("restored %+v", got)
	}
	if len(jobs[1].Chunks) != 1 {
		t.Fatal("the target state's jobs were modified")
	}
}
