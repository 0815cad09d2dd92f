package tableformat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// verifyFixture is a small lake with real Parquet files in a MemStore:
//
//	v1 create (checkpoint interval 3)
//	v2 ingest: table d.t1 created, data rows 1, 2            → "data2"
//	v3 ingest: data row 3, delete of row 1                   → "data3", "del3"; checkpoint 3
//	v4 compaction: snapshot of rows 2, 3 as of sequence 5    → "snap4"
//	v5 ingest: data row 4                                    → "data5"
//	v6 vacuum: removes data2 (folded into the snapshot)
//
// Every commit is at t0 (plus a microsecond each).
type verifyFixture struct {
	store  *MemStore
	t0     time.Time
	files  map[string]AddFile
	schema *Schema
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	t.Helper()
	ctx := context.Background()
	fx := &verifyFixture{store: NewMemStore(), t0: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), files: map[string]AddFile{}}
	l := NewLog(fx.store, LogOptions{WriterID: "verify-test", Now: func() time.Time { return fx.t0 }})
	if _, err := l.Create(ctx, "src", 3); err != nil {
		t.Fatal(err)
	}
	fx.schema = &Schema{Version: 1, Columns: []Column{
		{ID: 1, Name: "id", Type: Type{Kind: KindBigInt}},
		{ID: 2, Name: "name", Type: Type{Kind: KindVarchar, Length: 20}, Nullable: true},
	}, Key: []int{1}}
	ts := fx.t0.UnixMicro()
	row := func(seq int64, op Op, vals ...any) Row { return Row{Seq: seq, TS: ts + seq, Op: op, Values: vals} }
	write := func(name string, kind FileKind, rows ...Row) AddFile {
		f, err := WriteAddFile(ctx, fx.store, "d", "t1", 1, fx.schema, kind, FileWriterOptions{}, rows)
		if err != nil {
			t.Fatal(err)
		}
		fx.files[name] = f
		return f
	}
	progress := func(prev, seq int64) Progress {
		return Progress{Position: Position{GTIDSet: fmt.Sprintf("0-1-%d", seq), File: "bin.000001", Pos: uint64(seq * 100)},
			PrevSeq: prev, MaxSeq: seq, MaxTS: ts + seq}
	}
	txn := func(seq int64) []TxnMark {
		return []TxnMark{{Seq: seq, TS: ts + seq, GTID: fmt.Sprintf("0-1-%d", seq), File: "bin.000001", Pos: uint64(seq * 100)}}
	}
	snap := write("snap4", FileSnapshot, row(3, OpSnapshot, int64(2), "b"), row(4, OpSnapshot, int64(3), "c"))
	snap.AsOfSeq = 5
	fx.files["snap4"] = snap
	for _, e := range []*Entry{
		{Kind: KindIngest, Tables: []TableChange{{Op: TableCreate, TableID: 1, Seq: 1, DB: "d", Name: "t1", Schema: fx.schema}},
			Add:  []AddFile{write("data2", FileData, row(2, OpInsert, int64(1), "a"), row(3, OpInsert, int64(2), "b"))},
			Txns: txn(3), Progress: progress(0, 3)},
		{Kind: KindIngest, Add: []AddFile{write("data3", FileData, row(4, OpInsert, int64(3), "c")), write("del3", FileDelete, row(5, OpDelete, int64(1)))},
			Txns: txn(5), Progress: progress(3, 5)},
		{Kind: KindCompaction, Add: []AddFile{snap}},
		{Kind: KindIngest, Add: []AddFile{write("data5", FileData, row(6, OpInsert, int64(4), "d"))}, Txns: txn(6), Progress: progress(5, 6)},
		{Kind: KindVacuum, Remove: []RemoveFile{{Path: fx.files["data2"].Path, TableID: 1}}},
	} {
		if _, err := l.Commit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

func (fx *verifyFixture) verify(t *testing.T, opts VerifyOptions) *VerifyReport {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fx.t0.Add(2 * time.Hour) }
	}
	rep, err := Verify(context.Background(), fx.store, opts)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, p := range rep.Problems {
		t.Logf("%s %s — fix: %s", p.Severity, p, p.Fix)
	}
	return rep
}

// damage replaces the object at key with what f makes of its bytes.
func (fx *verifyFixture) damage(t *testing.T, key string, f func([]byte) []byte) {
	t.Helper()
	ctx := context.Background()
	data, err := ReadObject(ctx, fx.store, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := PutBytes(ctx, fx.store, key, f(data)); err != nil {
		t.Fatal(err)
	}
}

// rewriteCheckpoint replaces the checkpoint of version v with a whole new
// one (new parts, a new top object) of its state as f changes it.
func (fx *verifyFixture) rewriteCheckpoint(t *testing.T, v int64, f func(*State)) {
	t.Helper()
	ctx := context.Background()
	st, _, err := readCheckpoint(ctx, fx.store, v, -1, "", 4, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	f(st)
	top, parts, _, err := encodeCheckpoint(st, newCheckpointID(), nil, DefaultCheckpointPartBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := putParts(ctx, fx.store, parts, 4); err != nil {
		t.Fatal(err)
	}
	if err := PutBytes(ctx, fx.store, CheckpointKey(v), top); err != nil {
		t.Fatal(err)
	}
}

// find returns the problems of severity sev about key.
func find(rep *VerifyReport, sev Severity, key string) []VerifyProblem {
	var out []VerifyProblem
	for _, p := range rep.Problems {
		if p.Severity == sev && p.Key == key {
			out = append(out, p)
		}
	}
	return out
}

// TestVerifyClean: an intact lake has no problem; every live file and the
// checkpoint are checked.
func TestVerifyClean(t *testing.T) {
	fx := newVerifyFixture(t)
	rep := fx.verify(t, VerifyOptions{})
	if len(rep.Problems) != 0 || rep.Err() != nil {
		t.Fatalf("problems in a clean lake: %+v", rep.Problems)
	}
	var live int64
	for _, k := range []string{"data3", "del3", "snap4", "data5"} {
		live += fx.files[k].Bytes
	}
	if rep.Version != 6 || rep.StateVersion != 6 || rep.Versions != 6 || rep.Checkpoints != 2 || rep.Files != 4 || rep.Bytes != live {
		t.Fatalf("report %+v, want 6 versions, checkpoints 3 and 6, 4 files of %d bytes", rep, live)
	}
	// With every version: data2, removed by the vacuum but still in the
	// grace period (now = t0 + 10m), is checked too.
	rep = fx.verify(t, VerifyOptions{AllVersions: true, Now: func() time.Time { return fx.t0.Add(10 * time.Minute) }})
	if len(rep.Problems) != 0 || rep.Files != 5 {
		t.Fatalf("all versions: %d files, problems %+v", rep.Files, rep.Problems)
	}
}

// TestVerifyDamagedFiles: each way of damaging a live file is named, by
// key and table, as an error — and the reference reader refuses the file,
// and a scan at a point that reads it, with an error naming the same file
// instead of returning rows.
func TestVerifyDamagedFiles(t *testing.T) {
	cases := []struct {
		name, file, want string
		// readSeq is a sequence at which ScanTable reads the file: 0 for
		// the latest, -1 when no point does (the snapshot covers it).
		readSeq int64
		damage  func(fx *verifyFixture, t *testing.T, key string)
	}{
		{"truncated", "data3", "truncated", 4, func(fx *verifyFixture, t *testing.T, key string) {
			fx.damage(t, key, func(b []byte) []byte { return b[:len(b)/2] })
		}},
		{"bit flip", "snap4", "SHA-256 differs", 0, func(fx *verifyFixture, t *testing.T, key string) {
			fx.damage(t, key, func(b []byte) []byte { c := slices.Clone(b); c[len(c)/2] ^= 0x10; return c })
		}},
		{"zero-length", "data5", "zero-length object", 0, func(fx *verifyFixture, t *testing.T, key string) {
			fx.damage(t, key, func([]byte) []byte { return nil })
		}},
		{"deleted", "data3", "missing", 4, func(fx *verifyFixture, t *testing.T, key string) {
			if err := fx.store.Delete(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted delete file", "del3", "missing", -1, func(fx *verifyFixture, t *testing.T, key string) {
			if err := fx.store.Delete(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		}},
		{"swapped", "data5", "not the one the log names", 0, func(fx *verifyFixture, t *testing.T, key string) {
			other := must(ReadObject(context.Background(), fx.store, fx.files["data3"].Path))
			fx.damage(t, key, func([]byte) []byte { return other })
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			fx := newVerifyFixture(t)
			f := fx.files[c.file]
			c.damage(fx, t, f.Path)
			rep := fx.verify(t, VerifyOptions{})
			ps := find(rep, SeverityError, f.Path)
			if len(ps) != 1 || rep.Errors() != 1 || !strings.Contains(ps[0].Problem, c.want) || ps[0].Table != "d.t1" {
				t.Fatalf("want one error about %s (%q, table d.t1), got %+v", f.Path, c.want, rep.Problems)
			}
			if !strings.Contains(ps[0].Fix, "restore the object") || !strings.Contains(ps[0].Fix, f.Checksum) {
				t.Errorf("fix %q", ps[0].Fix)
			}
			err := rep.Err()
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), f.Path) {
				t.Errorf("Err() = %v", err)
			}
			// The readers: an error naming the file, never rows.
			if _, err := ReadAddFile(ctx, fx.store, f); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), f.Path) {
				t.Errorf("ReadAddFile: %v", err)
			}
			if c.readSeq < 0 {
				return
			}
			st, lerr := NewLog(fx.store, LogOptions{}).Latest(ctx)
			if lerr != nil {
				t.Fatal(lerr)
			}
			p := Point{Version: st.Version, Seq: st.Progress.MaxSeq, State: st}
			if c.readSeq > 0 {
				p.Seq = c.readSeq
			}
			_, rows, serr := ScanTable(ctx, fx.store, p, 1)
			if !errors.Is(serr, ErrCorrupt) || !strings.Contains(serr.Error(), f.Path) {
				t.Fatalf("ScanTable at sequence %d: %d rows, err %v: want a corruption error naming %s", p.Seq, len(rows), serr, f.Path)
			}
		})
	}
}

// TestVerifyRewindHint: the fix for a file an ingest added names the
// ingest command that rewinds to before it.
func TestVerifyRewindHint(t *testing.T) {
	fx := newVerifyFixture(t)
	f := fx.files["data5"]
	fx.damage(t, f.Path, func(b []byte) []byte { return b[:10] })
	ps := find(fx.verify(t, VerifyOptions{}), SeverityError, f.Path)
	if len(ps) != 1 || ps[0].Version != 5 || !strings.Contains(ps[0].Fix, "--start-gtid '0-1-5'") {
		t.Fatalf("want version 5 and a rewind to GTID 0-1-5 (version 4's): %+v", ps)
	}
}

// TestVerifyFileMetadata: a file that is intact but does not match what
// its entry says (here: the source times) is named.
func TestVerifyFileMetadata(t *testing.T) {
	ctx := context.Background()
	fx := newVerifyFixture(t)
	l := NewLog(fx.store, LogOptions{Now: func() time.Time { return fx.t0 }})
	st, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ts := st.Progress.MaxTS
	f, err := WriteAddFile(ctx, fx.store, "d", "t1", 1, fx.schema, FileData, FileWriterOptions{},
		[]Row{{Seq: 7, TS: ts, Op: OpInsert, Values: []any{int64(5), "e"}}})
	if err != nil {
		t.Fatal(err)
	}
	f.MaxTS++ // the entry lies about the file
	if _, err := l.Commit(ctx, &Entry{Kind: KindIngest, Add: []AddFile{f}, Progress: Progress{PrevSeq: 6, MaxSeq: 7, MaxTS: f.MaxTS}}); err != nil {
		t.Fatal(err)
	}
	ps := find(fx.verify(t, VerifyOptions{}), SeverityError, f.Path)
	if len(ps) != 1 || !strings.Contains(ps[0].Problem, "source times") {
		t.Fatalf("want a metadata error about %s: %+v", f.Path, ps)
	}
}

// TestVerifyInvalidKey: an entry naming a file by a key no store accepts
// is damage named by that key, not a failure of the store.
func TestVerifyInvalidKey(t *testing.T) {
	ctx := context.Background()
	fx := newVerifyFixture(t)
	l := NewLog(fx.store, LogOptions{Now: func() time.Time { return fx.t0 }})
	bad := fx.files["data5"]
	bad.Path = "d/../../etc/passwd"
	if _, err := l.Commit(ctx, &Entry{Kind: KindCompaction, Add: []AddFile{bad}}); err != nil {
		t.Fatal(err)
	}
	rep := fx.verify(t, VerifyOptions{})
	if ps := find(rep, SeverityError, bad.Path); len(ps) != 1 || !strings.Contains(ps[0].Problem, "key no store can hold") {
		t.Fatalf("want an error about %s: %+v", bad.Path, rep.Problems)
	}
}

// failingStore fails every read of the keys under prefix.
type failingStore struct {
	*MemStore
	prefix string
	err    error
}

func (s *failingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.HasPrefix(key, s.prefix) {
		return nil, s.err
	}
	return s.MemStore.Open(ctx, key)
}

// TestVerifyStoreFails: a store that fails is an error of Verify (the lake
// could not be checked), not a report of damage.
func TestVerifyStoreFails(t *testing.T) {
	fx := newVerifyFixture(t)
	boom := errors.New("connection reset by peer")
	for _, prefix := range []string{LogDir, "d/t1/"} {
		rep, err := Verify(context.Background(), &failingStore{fx.store, prefix, boom}, VerifyOptions{})
		if !errors.Is(err, boom) || rep != nil {
			t.Fatalf("reads of %s fail: got %v, %+v", prefix, err, rep)
		}
	}
}

// TestVerifyDamagedLog: garbage in an entry, a gap, an entry that does not
// apply, a checkpoint that differs from the log, a damaged hint.
func TestVerifyDamagedLog(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		damage func(fx *verifyFixture, t *testing.T)
		key    string
		want   string
	}{
		{"garbage entry", func(fx *verifyFixture, t *testing.T) {
			fx.damage(t, EntryKey(4), func(b []byte) []byte { return append([]byte("{garbage"), b[8:]...) })
		}, EntryKey(4), "undecodable log entry"},
		{"zero-length entry", func(fx *verifyFixture, t *testing.T) {
			fx.damage(t, EntryKey(2), func([]byte) []byte { return nil })
		}, EntryKey(2), "empty log entry"},
		{"gap", func(fx *verifyFixture, t *testing.T) {
			if err := fx.store.Delete(ctx, EntryKey(4)); err != nil {
				t.Fatal(err)
			}
		}, EntryKey(4), "version 4 missing between 3 and 5"},
		{"first entry gone", func(fx *verifyFixture, t *testing.T) {
			if err := fx.store.Delete(ctx, EntryKey(1)); err != nil {
				t.Fatal(err)
			}
		}, EntryKey(1), "version 1 missing: the log starts at version 2"},
		{"entry that does not apply", func(fx *verifyFixture, t *testing.T) {
			fx.damage(t, EntryKey(5), func(b []byte) []byte {
				e := must(DecodeEntry(EntryKey(5), 5, b))
				e.Progress.PrevSeq = 1
				return must(EncodeEntry(e))
			})
		}, EntryKey(5), "does not apply to the state at version 4"},
		{"checkpoint differs", func(fx *verifyFixture, t *testing.T) {
			fx.rewriteCheckpoint(t, 3, func(st *State) { delete(st.Tables.Get(1).Files, fx.files["del3"].Path) })
		}, CheckpointKey(3), "file " + "%DEL3% is missing"},
		{"checkpoint garbage", func(fx *verifyFixture, t *testing.T) {
			fx.damage(t, CheckpointKey(6), func(b []byte) []byte { return b[:len(b)/3] })
		}, CheckpointKey(6), "unreadable checkpoint"},
		{"hint garbage", func(fx *verifyFixture, t *testing.T) {
			fx.damage(t, lastCheckpointKey, func([]byte) []byte { return []byte("\x00\x01") })
		}, lastCheckpointKey, "undecodable checkpoint hint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newVerifyFixture(t)
			c.damage(fx, t)
			rep := fx.verify(t, VerifyOptions{})
			want := strings.ReplaceAll(c.want, "%DEL3%", fx.files["del3"].Path)
			ps := find(rep, SeverityError, c.key)
			if len(ps) == 0 || !strings.Contains(ps[0].Problem, want) {
				t.Fatalf("want an error about %s saying %q, got %+v", c.key, want, rep.Problems)
			}
			if err := rep.Err(); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Err() = %v", err)
			}
		})
	}
}

// TestVerifyDamagedCheckpointPart: a damaged part of a checkpoint is an
// error naming the part and the checkpoint.
func TestVerifyDamagedCheckpointPart(t *testing.T) {
	fx := newVerifyFixture(t)
	key := topOf(t, fx.store, 6).Parts[0].Key
	fx.damage(t, key, func(b []byte) []byte { return b[:len(b)-2] })
	rep := fx.verify(t, VerifyOptions{})
	ps := find(rep, SeverityError, key)
	if len(ps) == 0 || !strings.Contains(ps[0].Problem, "checkpoint part unreadable (checkpoint "+CheckpointKey(6)+" is unreadable)") {
		t.Fatalf("want an error about %s: %+v", key, rep.Problems)
	}
}

// TestVerifyGapAfterCheckpoint: with an entry gone after checkpoint 3, the
// files are still checked from checkpoint 6 on, and a file damaged there
// is still found.
func TestVerifyGapResumesFromCheckpoint(t *testing.T) {
	fx := newVerifyFixture(t)
	if err := fx.store.Delete(context.Background(), EntryKey(5)); err != nil {
		t.Fatal(err)
	}
	f := fx.files["snap4"]
	fx.damage(t, f.Path, func(b []byte) []byte { return b[:len(b)-1] })
	rep := fx.verify(t, VerifyOptions{})
	if len(find(rep, SeverityError, EntryKey(5))) != 1 || len(find(rep, SeverityError, f.Path)) != 1 ||
		len(find(rep, SeverityWarning, CheckpointKey(6))) != 1 || rep.StateVersion != 6 {
		t.Fatalf("want the gap, the damaged %s and a warning on checkpoint 6: %+v", f.Path, rep)
	}
}

// TestVerifyStrays: objects no entry names — orphans, temporary files,
// zero-length objects, strays under _log/ — are warnings, not errors.
func TestVerifyStrays(t *testing.T) {
	ctx := context.Background()
	fx := newVerifyFixture(t)
	strays := map[string][]byte{
		"d/t1/data/part-00000000000000000009-orphan.parquet": must(ReadObject(ctx, fx.store, fx.files["data5"].Path)),
		"d/t1/data/.tmp-4711":                                []byte("half a file"),
		"d/t1/deletes/part-00000000000000000010-x.parquet":   nil,
		"_log/00000000000000000007.json.tmp":                 []byte("{"),
		CheckpointPartKey(3, "0123456789abcdef", 0):          []byte("{}"), // a checkpoint writer's that stopped
		"elsewhere": nil,
	}
	for k, b := range strays {
		if err := PutBytes(ctx, fx.store, k, b); err != nil {
			t.Fatal(err)
		}
	}
	rep := fx.verify(t, VerifyOptions{})
	if rep.Errors() != 0 || rep.Err() != nil || rep.Warnings() != len(strays) {
		t.Fatalf("want %d warnings and no error: %+v", len(strays), rep.Problems)
	}
	for k := range strays {
		ps := find(rep, SeverityWarning, k)
		if len(ps) != 1 {
			t.Fatalf("no warning about %s", k)
		}
		if strings.HasPrefix(k, "d/t1/") && (ps[0].Table != "d.t1" || !strings.Contains(ps[0].Fix, "binlake vacuum")) {
			t.Errorf("%s: %+v", k, ps[0])
		}
	}
	for k, what := range map[string]string{"d/t1/data/.tmp-4711": "temporary file", "d/t1/deletes/part-00000000000000000010-x.parquet": "zero-length"} {
		if p := find(rep, SeverityWarning, k)[0]; !strings.Contains(p.Problem, what) {
			t.Errorf("%s: %q lacks %q", k, p.Problem, what)
		}
	}
}

// TestVerifyAllVersions: a file removed from the state but still inside the
// grace period is required with AllVersions; once the grace period has
// passed, vacuum may have deleted it and its absence is fine.
func TestVerifyAllVersions(t *testing.T) {
	fx := newVerifyFixture(t)
	f := fx.files["data2"]
	if err := fx.store.Delete(context.Background(), f.Path); err != nil {
		t.Fatal(err)
	}
	inGrace := func() time.Time { return fx.t0.Add(10 * time.Minute) }
	if rep := fx.verify(t, VerifyOptions{Now: inGrace}); rep.Errors() != 0 {
		t.Fatalf("latest state only: %+v", rep.Problems)
	}
	rep := fx.verify(t, VerifyOptions{AllVersions: true, Now: inGrace})
	if ps := find(rep, SeverityError, f.Path); len(ps) != 1 || !strings.Contains(ps[0].Problem, "missing") || ps[0].Version != 2 {
		t.Fatalf("all versions, in the grace period: %+v", rep.Problems)
	}
	if rep := fx.verify(t, VerifyOptions{AllVersions: true}); rep.Errors() != 0 || rep.Files != 4 {
		t.Fatalf("all versions, after the grace period: %d files, %+v", rep.Files, rep.Problems)
	}
}

// TestVerifyNoLake: an empty store is ErrNoLake, not a report.
func TestVerifyNoLake(t *testing.T) {
	if _, err := Verify(context.Background(), NewMemStore(), VerifyOptions{}); !errors.Is(err, ErrNoLake) {
		t.Fatalf("got %v", err)
	}
	if _, err := Verify(context.Background(), NewMemStore(), VerifyOptions{Grace: -1, Parallelism: -1}); err == nil ||
		!strings.Contains(err.Error(), "grace") || !strings.Contains(err.Error(), "parallelism") {
		t.Fatalf("bad options: %v", err)
	}
}
