package compaction

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tf "github.com/binlake/binlake/tableformat"
)

// clock is a settable wall clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// clockStore is a MemStore whose objects carry the test clock's time as
// their modification time.
type clockStore struct {
	*tf.MemStore
	clock *clock
	mu    sync.Mutex
	mtime map[string]time.Time
}

func newClockStore(c *clock) *clockStore {
	return &clockStore{MemStore: tf.NewMemStore(), clock: c, mtime: map[string]time.Time{}}
}

func (s *clockStore) stamp(key string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mtime[key] = t
}

func (s *clockStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := s.MemStore.Put(ctx, key, r, size); err != nil {
		return err
	}
	s.stamp(key, s.clock.Now())
	return nil
}

func (s *clockStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := s.MemStore.PutIfAbsent(ctx, key, data); err != nil {
		return err
	}
	s.stamp(key, s.clock.Now())
	return nil
}

func (s *clockStore) List(ctx context.Context, prefix, startAfter string) ([]tf.ObjectInfo, error) {
	objs, err := s.MemStore.List(ctx, prefix, startAfter)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range objs {
		objs[i].ModTime = s.mtime[objs[i].Key]
	}
	return objs, err
}

func (s *clockStore) Stat(ctx context.Context, key string) (tf.ObjectInfo, error) {
	o, err := s.MemStore.Stat(ctx, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	o.ModTime = s.mtime[key]
	return o, err
}

// vacuumLake builds a lake of three tables through real Parquet files: one
// source transaction of one change per commit, a minute of source time
// apart, the wall clock following the source a second behind.
type vacuumLake struct {
	t      *testing.T
	ctx    context.Context
	clock  *clock
	store  *clockStore
	log    *tf.Log
	schema *tf.Schema
	seq    int64
	ts     time.Time
	keys   map[int64][]int64 // live keys by table
	next   int64
}

var srcStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func newVacuumLake(t *testing.T) *vacuumLake {
	ctx := context.Background()
	c := &clock{now: srcStart}
	store := newClockStore(c)
	l := tf.NewLog(store, tf.LogOptions{WriterID: "test", Now: c.Now})
	if _, err := l.Create(ctx, "src", 5); err != nil {
		t.Fatal(err)
	}
	schema := &tf.Schema{Version: 1, Columns: []tf.Column{
		{ID: 1, Name: "id", Type: tf.Type{Kind: tf.KindBigInt}},
		{ID: 2, Name: "v", Type: tf.Type{Kind: tf.KindVarchar, Length: 20}, Nullable: true},
	}, Key: []int{1}}
	lk := &vacuumLake{t: t, ctx: ctx, clock: c, store: store, log: l, schema: schema, ts: srcStart, keys: map[int64][]int64{}}
	e := &tf.Entry{Kind: tf.KindSchema}
	for id := int64(1); id <= 3; id++ {
		lk.seq++
		e.Tables = append(e.Tables, tf.TableChange{Op: tf.TableCreate, TableID: id, Seq: lk.seq, DB: "d", Name: fmt.Sprintf("t%d", id), Schema: schema})
	}
	lk.commit(e)
	return lk
}

func (lk *vacuumLake) latest() *tf.State {
	st, err := lk.log.Latest(lk.ctx)
	if err != nil {
		lk.t.Fatal(err)
	}
	return st
}

// commit commits e as the next source transaction (of sequence lk.seq) for
// kinds that read the source, as is for the others.
func (lk *vacuumLake) commit(e *tf.Entry) *tf.State {
	lk.t.Helper()
	if e.Kind != tf.KindCompaction {
		lk.ts = lk.ts.Add(time.Minute)
		st := lk.latest()
		e.Txns = []tf.TxnMark{{Seq: lk.seq, TS: lk.ts.UnixMicro()}}
		e.Progress = tf.Progress{PrevSeq: st.Progress.MaxSeq, MaxSeq: lk.seq, MaxTS: lk.ts.UnixMicro()}
	}
	lk.clock.Set(lk.ts.Add(time.Second))
	st, err := lk.log.Commit(lk.ctx, e)
	if err != nil {
		lk.t.Fatal(err)
	}
	return st
}

func (lk *vacuumLake) write(table int64, kind tf.FileKind, rows []tf.Row, asOf int64) tf.AddFile {
	lk.t.Helper()
	f, err := tf.WriteAddFile(lk.ctx, lk.store, "d", fmt.Sprintf("t%d", table), table, lk.schema, kind, tf.FileWriterOptions{}, rows)
	if err != nil {
		lk.t.Fatal(err)
	}
	f.AsOfSeq = asOf
	return f
}

// change commits one change to table: an insert, or (op "update",
// "delete") a change of its oldest live key.
func (lk *vacuumLake) change(table int64, op string) {
	lk.t.Helper()
	lk.seq++
	ts := lk.ts.Add(time.Minute).UnixMicro()
	e := &tf.Entry{Kind: tf.KindIngest}
	keys := lk.keys[table]
	switch {
	case op == "insert" || len(keys) == 0:
		lk.next++
		lk.keys[table] = append(keys, lk.next)
		e.Add = []tf.AddFile{lk.write(table, tf.FileData, []tf.Row{{Seq: lk.seq, TS: ts, Op: tf.OpInsert, Values: []any{lk.next, fmt.Sprintf("v%d", lk.seq)}}}, 0)}
	case op == "update":
		e.Add = []tf.AddFile{
			lk.write(table, tf.FileDelete, []tf.Row{{Seq: lk.seq, TS: ts, Op: tf.OpUpdateBefore, Values: []any{keys[0]}}}, 0),
			lk.write(table, tf.FileData, []tf.Row{{Seq: lk.seq, TS: ts, Op: tf.OpUpdateAfter, Values: []any{keys[0], fmt.Sprintf("u%d", lk.seq)}}}, 0),
		}
	case op == "delete":
		e.Add = []tf.AddFile{lk.write(table, tf.FileDelete, []tf.Row{{Seq: lk.seq, TS: ts, Op: tf.OpDelete, Values: []any{keys[0]}}}, 0)}
		lk.keys[table] = keys[1:]
	default:
		lk.t.Fatalf("unknown change %q", op)
	}
	lk.commit(e)
}

// ddl commits a truncate or a drop of table.
func (lk *vacuumLake) ddl(table int64, op tf.TableOp) {
	lk.t.Helper()
	lk.seq++
	kind := tf.KindSchema
	if op == tf.TableTruncate {
		kind = tf.KindTruncate
		lk.keys[table] = nil
	}
	lk.commit(&tf.Entry{Kind: kind, Tables: []tf.TableChange{{Op: op, TableID: table, Seq: lk.seq}}})
}

// snapshot commits a compaction snapshot of table as of the lake's latest
// sequence, in two files.
func (lk *vacuumLake) snapshot(table int64) {
	lk.t.Helper()
	p, err := lk.log.AtLatest(lk.ctx)
	if err != nil {
		lk.t.Fatal(err)
	}
	_, rows, err := tf.ScanTable(lk.ctx, lk.store, p, table)
	if err != nil {
		lk.t.Fatal(err)
	}
	if len(rows) < 2 {
		lk.t.Fatalf("snapshot of table %d: %d rows, want two at least", table, len(rows))
	}
	for i := range rows {
		rows[i].Op = tf.OpSnapshot
	}
	half := len(rows) / 2
	lk.commit(&tf.Entry{Kind: tf.KindCompaction, Add: []tf.AddFile{
		lk.write(table, tf.FileSnapshot, rows[:half], p.Seq), lk.write(table, tf.FileSnapshot, rows[half:], p.Seq)}})
}

// read returns what every table holds at version v, read from the
// version's own state, or (latest) through AtVersion.
func (lk *vacuumLake) read(v int64, own bool) (string, error) {
	var p tf.Point
	var err error
	if own {
		var st *tf.State
		if st, err = lk.log.StateAt(lk.ctx, v); err == nil {
			p = tf.Point{Version: v, Seq: st.Progress.MaxSeq, State: st}
		}
	} else {
		p, err = lk.log.AtVersion(lk.ctx, v)
	}
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "seq %d:", p.Seq)
	for id := int64(1); id <= 3; id++ {
		_, rows, err := tf.ScanTable(lk.ctx, lk.store, p, id)
		if errors.Is(err, tf.ErrNoTable) {
			fmt.Fprintf(&b, " t%d absent;", id)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("version %d table %d: %w", v, id, err)
		}
		var vals []string
		for _, r := range rows {
			vals = append(vals, fmt.Sprintf("%v@%d", r.Values, r.Seq))
		}
		slices.Sort(vals)
		fmt.Fprintf(&b, " t%d %s;", id, strings.Join(vals, " "))
	}
	return b.String(), nil
}

func (lk *vacuumLake) exists(key string) bool {
	_, err := lk.store.Stat(lk.ctx, key)
	if err != nil && !tf.IsNotExist(err) {
		lk.t.Fatal(err)
	}
	return err == nil
}

func (lk *vacuumLake) vacuum(now time.Time, opts VacuumOptions) VacuumResult {
	lk.t.Helper()
	opts.Now = func() time.Time { return now }
	lk.clock.Set(now)
	res, err := Vacuum(lk.ctx, lk.log, opts)
	if err != nil {
		lk.t.Fatalf("vacuum at %s: %v", now, err)
	}
	lk.t.Logf("vacuum at %s (dry run %v): version %d, retention %d %s (moved %v), removed %d files (%v), deleted %d objects (%d orphans), %d waiting",
		now.Format(time.RFC3339), res.DryRun, res.Version, res.Retention.FromSeq, res.Retention.FromTime.Format(time.RFC3339), res.RetentionMoved,
		res.FilesRemoved(), res.Plan.ByReason(), res.ObjectsDeleted, res.Orphans, res.Waiting)
	return res
}

// checkLiveFiles fails the test if a file the latest state names is not
// in storage.
func (lk *vacuumLake) checkLiveFiles() {
	lk.t.Helper()
	for tb := range lk.latest().Tables.Values() {
		for path := range tb.Files {
			if !lk.exists(path) {
				lk.t.Fatalf("live file %s was deleted", path)
			}
		}
	}
}

func (lk *vacuumLake) objectCount() int {
	objs, err := lk.store.List(lk.ctx, "", "")
	if err != nil {
		lk.t.Fatal(err)
	}
	return len(objs)
}

// TestVacuum: after a vacuum, every version inside retention reads what it
// read before, from the vacuumed state; versions before get
// ErrOutsideRetention; removed files stay in storage for the grace period,
// then go, with old orphans; live files and young uploads stay; a dry run
// changes nothing; a second run is a no-op.
func TestVacuum(t *testing.T) {
	lk := newVacuumLake(t)
	// 32 changes: table 1 gets inserts, updates and deletes, a snapshot,
	// a truncation and two more snapshots; table 2 is dropped; table 3 gets
	// one snapshot.
	var cutAfter time.Time // the source time the retention will start from
	for i := 1; i <= 32; i++ {
		switch {
		case i%4 == 2:
			lk.change(2+int64(i%8)/4, "insert") // tables 2 and 3 in turn
		case i%5 == 0:
			lk.change(1, "update")
		case i%7 == 0:
			lk.change(1, "delete")
		default:
			lk.change(1, "insert")
		}
		switch i {
		case 8:
			lk.snapshot(1)
		case 12:
			lk.ddl(1, tf.TableTruncate)
		case 17:
			lk.snapshot(1)
			lk.snapshot(3)
		case 19:
			lk.ddl(2, tf.TableDrop)
		case 22:
			cutAfter = lk.ts.Add(30 * time.Second)
		case 26:
			lk.snapshot(1)
		}
	}
	before := lk.latest()
	want := map[int64]string{}
	for v := int64(2); v <= before.Version; v++ {
		s, err := lk.read(v, true)
		if err != nil {
			t.Fatal(err)
		}
		want[v] = s
	}
	retainedSeq, err := lk.log.AtTime(lk.ctx, cutAfter)
	if err != nil {
		t.Fatal(err)
	}
	fromSeq := retainedSeq.Seq

	// An orphan of a failed write older than the grace period, and one
	// young enough to be an upload in flight.
	t1 := lk.ts.Add(10 * time.Minute)
	retain := t1.Sub(cutAfter)
	for key, age := range map[string]time.Duration{"d/t1/data/orphan-old": 2 * time.Hour, "d/t1/data/orphan-young": 10 * time.Minute} {
		if err := tf.PutBytes(lk.ctx, lk.store, key, []byte("lost")); err != nil {
			t.Fatal(err)
		}
		lk.store.stamp(key, t1.Add(-age))
	}

	// Run 1: the vacuum commit; only the old orphan is old enough to go.
	res := lk.vacuum(t1, VacuumOptions{Retain: retain})
	after := lk.latest()
	if res.Version != before.Version+1 || after.Version != res.Version || !res.RetentionMoved ||
		res.Retention.FromSeq != fromSeq || !res.Retention.FromTime.Equal(cutAfter) {
		t.Fatalf("run 1: %+v", res)
	}
	if after.Retention == nil || *after.Retention != res.Retention {
		t.Fatalf("the lake's retention %+v, the result's %+v", after.Retention, res.Retention)
	}
	reasons := res.Plan.ByReason()
	for _, r := range []VacuumReason{ReasonDropped, ReasonOldSnapshot, ReasonInSnapshot} {
		if reasons[r] == 0 {
			t.Errorf("run 1 removed no file for %q: %v", r, reasons)
		}
	}
	if res.ObjectsDeleted != 1 || res.Orphans != 1 || lk.exists("d/t1/data/orphan-old") || !lk.exists("d/t1/data/orphan-young") {
		t.Fatalf("run 1 deleted %d objects (%d orphans); want the old orphan only", res.ObjectsDeleted, res.Orphans)
	}
	if res.Waiting != 1 {
		t.Fatalf("run 1: %d objects waiting, want the young orphan (the removed files are still needed)", res.Waiting)
	}
	for _, f := range res.Plan.Remove {
		if _, live := after.Tables.Get(f.File.TableID).Files[f.File.Path]; live || !lk.exists(f.File.Path) {
			t.Fatalf("%s: live %v after its removal, or deleted inside the grace period", f.File.Path, live)
		}
	}
	checkReads := func(what string) {
		t.Helper()
		inside := 0
		for v := int64(2); v <= before.Version; v++ {
			p, err := lk.log.AtVersion(lk.ctx, v)
			if errors.Is(err, tf.ErrOutsideRetention) {
				var seq int64
				fmt.Sscanf(want[v], "seq %d:", &seq)
				if seq >= fromSeq {
					t.Fatalf("%s: version %d (seq %d) is inside retention (from %d): %v", what, v, seq, fromSeq, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: version %d: %v", what, v, err)
			}
			if p.Seq < fromSeq {
				t.Fatalf("%s: version %d (seq %d) resolved though before the retention (%d)", what, v, p.Seq, fromSeq)
			}
			got, err := lk.read(v, false)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if got != want[v] {
				t.Fatalf("%s: version %d reads\n  %s\nwant\n  %s", what, v, got, want[v])
			}
			inside++
		}
		if inside < 10 {
			t.Fatalf("%s: only %d versions inside retention: the test lost its point", what, inside)
		}
	}
	checkReads("after run 1")

	// Run 2 at the same time: nothing to do.
	objects := lk.objectCount()
	res = lk.vacuum(t1, VacuumOptions{Retain: retain})
	if res.Version != 0 || res.RetentionMoved || res.FilesRemoved() != 0 || res.ObjectsDeleted != 0 || lk.latest().Version != after.Version ||
		lk.objectCount() != objects {
		t.Fatalf("run 2 did something: %+v", res)
	}

	// Two hours later (with the same retention start): a dry run reports
	// the removed files and the orphan, now past the grace period, and
	// changes nothing.
	t2 := t1.Add(2 * time.Hour)
	res = lk.vacuum(t2, VacuumOptions{Retain: retain + 2*time.Hour, DryRun: true})
	wantDeleted := 0
	for _, f := range PlanVacuum(before, fromSeq, cutAfter).Remove {
		if lk.exists(f.File.Path) {
			wantDeleted++
		}
	}
	if !res.DryRun || res.Version != 0 || res.ObjectsDeleted != wantDeleted+1 || res.Orphans != 1 ||
		lk.objectCount() != objects || lk.latest().Version != after.Version {
		t.Fatalf("dry run: %+v (want %d objects to delete, nothing changed)", res, wantDeleted+1)
	}

	// The real run deletes them; every file the live state names stays.
	res = lk.vacuum(t2, VacuumOptions{Retain: retain + 2*time.Hour})
	if res.Version != 0 || res.ObjectsDeleted != wantDeleted+1 || res.Orphans != 1 || lk.exists("d/t1/data/orphan-young") {
		t.Fatalf("run 3: %+v", res)
	}
	lk.checkLiveFiles()
	for _, f := range PlanVacuum(before, fromSeq, cutAfter).Remove {
		if lk.exists(f.File.Path) {
			t.Fatalf("removed file %s survived the grace period", f.File.Path)
		}
	}
	checkReads("after the removed files were deleted")
	if res = lk.vacuum(t2, VacuumOptions{Retain: retain + 2*time.Hour}); res.ObjectsDeleted != 0 || res.Version != 0 {
		t.Fatalf("run 4 did something: %+v", res)
	}
}

// TestVacuumResnapshotChunks: the files of a re-snapshot's chunks are kept
// while the re-snapshot is in progress, however old, and deleted once it
// has ended and the grace period has passed.
func TestVacuumResnapshotChunks(t *testing.T) {
	lk := newVacuumLake(t)
	for range 4 {
		lk.change(1, "insert")
	}
	same := func(kind tf.EntryKind, ops ...tf.ResnapshotOp) {
		t.Helper()
		p := lk.latest().Progress
		p.PrevSeq = p.MaxSeq
		lk.clock.Set(lk.clock.Now().Add(time.Second))
		if _, err := lk.log.Commit(lk.ctx, &tf.Entry{Kind: kind, Progress: p, Resnapshot: ops}); err != nil {
			t.Fatal(err)
		}
	}
	same(tf.KindRequest, tf.ResnapshotOp{Op: tf.ResnapshotRequest, DB: "d", Name: "t1", Reason: "test"})
	// A chunk at the lake's sequence: its rows, in a file under resnapshot/.
	chunk := func(ids []int64, after string, last bool) string {
		t.Helper()
		seq := lk.latest().Progress.MaxSeq
		var rows []tf.Row
		for _, id := range ids {
			rows = append(rows, tf.Row{Seq: seq, TS: lk.ts.UnixMicro(), Op: tf.OpSnapshot, Values: []any{id, "r"}})
		}
		f, err := tf.WriteFile(lk.ctx, lk.store, func(minSeq int64) string { return tf.NewChunkKey("d", "t1", minSeq, after) },
			1, lk.schema, tf.FileData, tf.FileWriterOptions{}, rows)
		if err != nil {
			t.Fatal(err)
		}
		c := &tf.ResnapshotChunk{Seq: seq, Rows: int64(len(rows)), Files: []tf.AddFile{f}, Last: last}
		if !last {
			c.After = []string{after}
		}
		same(tf.KindIngest, tf.ResnapshotOp{Op: tf.ResnapshotChunkRead, DB: "d", Name: "t1", Chunk: c})
		return f.Path
	}
	first := chunk([]int64{1, 2}, "2", false)
	for range 6 {
		lk.change(2, "insert")
	}
	// A day later, with retention starting after the chunk: the
	// re-snapshot is in progress, so its chunk stays.
	now := lk.ts.Add(24 * time.Hour)
	res := lk.vacuum(now, VacuumOptions{Retain: 24*time.Hour + time.Minute})
	if !res.RetentionMoved || !lk.exists(first) {
		t.Fatalf("the chunk file of a re-snapshot in progress was deleted (or retention did not move): %+v", res)
	}
	second := chunk([]int64{3, 4}, "4", true)
	same(tf.KindResnapshot, tf.ResnapshotOp{Op: tf.ResnapshotDone, DB: "d", Name: "t1", Reason: "test"})
	for range 3 {
		lk.change(2, "insert")
	}
	// Ended within the grace period: kept (a reader that read the state
	// before may still be at it); past it: deleted, whatever the retention
	// (no reader of any point reads chunk files; a rewind to a point inside
	// the re-snapshot starts it over, ingest.keptResnapshots).
	// (The commits since the last vacuum are stamped just after it: the
	// log's commit times never go back.)
	ended := now
	now = ended.Add(30 * time.Minute)
	lk.vacuum(now, VacuumOptions{Retain: 1000 * time.Hour})
	if !lk.exists(first) || !lk.exists(second) {
		t.Fatal("the chunk files of a re-snapshot that ended inside the grace period were deleted")
	}
	now = ended.Add(2 * time.Hour)
	res = lk.vacuum(now, VacuumOptions{Retain: 1000 * time.Hour})
	if lk.exists(first) || lk.exists(second) || res.ObjectsDeleted != 2 {
		t.Fatalf("the chunk files of a re-snapshot that ended before the grace period were not deleted: %+v", res)
	}
	lk.checkLiveFiles()
}

// TestVacuumCheckpointParts: vacuum deletes a checkpoint part that no
// checkpoint references once it is older than the grace period, and never
// a part a checkpoint references, however old.
func TestVacuumCheckpointParts(t *testing.T) {
	lk := newVacuumLake(t)
	for i := 1; i <= 12; i++ {
		lk.change(int64(1+i%3), "insert") // checkpoints 5 and 10
	}
	partsNow := func() map[string]bool {
		objs, err := lk.store.List(lk.ctx, tf.LogDir, "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, o := range objs {
			if strings.Contains(o.Key, ".checkpoint.") && !strings.HasSuffix(o.Key, ".checkpoint.json") {
				out[o.Key] = true
			}
		}
		return out
	}
	referenced := partsNow()
	if len(referenced) == 0 {
		t.Fatal("the lake has no checkpoint parts")
	}
	// Two checkpoint writers that stopped after writing a part: one long
	// ago, one just now.
	old, young := tf.CheckpointPartKey(10, "0123456789abcdef", 0), tf.CheckpointPartKey(10, "fedcba9876543210", 0)
	if err := tf.PutBytes(lk.ctx, lk.store, old, []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	now := lk.clock.Now().Add(2 * time.Hour)
	lk.clock.Set(now)
	if err := tf.PutBytes(lk.ctx, lk.store, young, []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	res := lk.vacuum(now, VacuumOptions{Retain: 1000 * time.Hour})
	if lk.exists(old) || !lk.exists(young) || res.Orphans != 1 || res.Waiting < 1 {
		t.Fatalf("the old orphan part is left or the young one deleted: %+v", res)
	}
	for key := range referenced {
		if !lk.exists(key) {
			t.Fatalf("vacuum deleted %s, which a checkpoint references", key)
		}
	}
	rep, err := tf.Verify(lk.ctx, lk.store, tf.VerifyOptions{Now: func() time.Time { return now }})
	if err != nil || rep.Errors() != 0 {
		t.Fatalf("verify after vacuum: %v %+v", err, rep)
	}
}
