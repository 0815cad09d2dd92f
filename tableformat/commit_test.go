package tableformat_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/storetest"
)

// newSeededLake makes a lake with table 1 holding one file "d/t/data/base".
func newSeededLake(t *testing.T, store tableformat.Store) *tableformat.State {
	t.Helper()
	ctx := context.Background()
	l := tableformat.NewLog(store, tableformat.LogOptions{WriterID: "seed"})
	if _, err := l.Create(ctx, "src", 100); err != nil {
		t.Fatal(err)
	}
	schema := &tableformat.Schema{Version: 1, Columns: []tableformat.Column{{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}}}, Key: []int{1}}
	st, err := l.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindIngest,
		Tables:   []tableformat.TableChange{{Op: tableformat.TableCreate, TableID: 1, Seq: 1, DB: "d", Name: "t", Schema: schema}},
		Add:      []tableformat.AddFile{upload(t, store, "d/t/data/base")},
		Progress: tableformat.Progress{MaxSeq: 1, MaxTS: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func upload(t *testing.T, store tableformat.Store, path string) tableformat.AddFile {
	t.Helper()
	body := []byte(path)
	if err := tableformat.PutBytes(context.Background(), store, path, body); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	return tableformat.AddFile{Path: path, TableID: 1, Kind: tableformat.FileData, SchemaVersion: 1, Rows: 1,
		Bytes: int64(len(body)), Checksum: hex.EncodeToString(sum[:]), MinSeq: 1, MaxSeq: 1}
}

func addEntry(f tableformat.AddFile) *tableformat.Entry {
	return &tableformat.Entry{Kind: tableformat.KindCompaction, Add: []tableformat.AddFile{f}}
}

func latest(t *testing.T, store tableformat.Store) *tableformat.State {
	t.Helper()
	st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A crash between the upload and the log entry: the commit fails, and no
// reader sees the uploaded file.
func TestCommitCrashBeforeEntry(t *testing.T) {
	ctx := context.Background()
	fs := storetest.NewFaultStore(tableformat.NewMemStore())
	before := newSeededLake(t, fs)
	f := upload(t, fs, "d/t/data/lost")
	fs.Inject(storetest.Fault{Op: storetest.OpPutIfAbsent, Prefix: tableformat.LogDir, Nth: 1, Mode: storetest.Before})
	if _, err := tableformat.NewLog(fs, tableformat.LogOptions{}).Commit(ctx, addEntry(f)); !errors.Is(err, storetest.ErrInjected) {
		t.Fatalf("commit: %v, want the injected failure", err)
	}
	st := latest(t, fs)
	if st.Version != before.Version {
		t.Fatalf("version %d after a failed commit, want %d", st.Version, before.Version)
	}
	if _, ok := st.Tables.Get(1).Files[f.Path]; ok {
		t.Fatal("a reader sees the file of a failed commit")
	}
}

// The entry was written but the writer saw a timeout: it reads the entry
// back, recognises its own, and reports success once.
func TestCommitUnknownOutcomeLanded(t *testing.T) {
	ctx := context.Background()
	fs := storetest.NewFaultStore(tableformat.NewMemStore())
	before := newSeededLake(t, fs)
	f := upload(t, fs, "d/t/data/x")
	fs.Inject(storetest.Fault{Op: storetest.OpPutIfAbsent, Prefix: tableformat.LogDir, Nth: 1, Mode: storetest.After})
	st, err := tableformat.NewLog(fs, tableformat.LogOptions{}).Commit(ctx, addEntry(f))
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if fs.Fired() != 1 || st.Version != before.Version+1 {
		t.Fatalf("fired %d, version %d", fs.Fired(), st.Version)
	}
	if got := latest(t, fs); got.Version != before.Version+1 || len(got.Tables.Get(1).Files) != 2 {
		t.Fatalf("log has version %d with %d files: the commit landed twice or not at all", got.Version, len(got.Tables.Get(1).Files))
	}
}

// unknownNotApplied fails the first log put-if-absent with an unknown
// outcome without writing anything.
type unknownNotApplied struct {
	tableformat.Store
	done bool
}

func (u *unknownNotApplied) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if !u.done {
		u.done = true
		return fmt.Errorf("put %s: connection reset: %w", key, tableformat.ErrUnknownOutcome)
	}
	return u.Store.PutIfAbsent(ctx, key, data)
}

func TestCommitUnknownOutcomeNotLanded(t *testing.T) {
	ctx := context.Background()
	mem := tableformat.NewMemStore()
	before := newSeededLake(t, mem)
	f := upload(t, mem, "d/t/data/x")
	st, err := tableformat.NewLog(&unknownNotApplied{Store: mem}, tableformat.LogOptions{}).Commit(ctx, addEntry(f))
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if st.Version != before.Version+1 || latest(t, mem).Version != before.Version+1 {
		t.Fatalf("version %d, want %d", st.Version, before.Version+1)
	}
}

// The write's outcome is unknown and reading it back fails too: the commit
// reports an unknown outcome, and the entry is in the log exactly once; a
// retry of the same ingest batch is refused as a conflict, never doubled.
func TestCommitUnknownOutcomeUnreadable(t *testing.T) {
	ctx := context.Background()
	fs := storetest.NewFaultStore(tableformat.NewMemStore())
	before := newSeededLake(t, fs)
	f := upload(t, fs, "d/t/data/x")
	f.MinSeq, f.MaxSeq = 2, 2
	e := &tableformat.Entry{Kind: tableformat.KindIngest, Add: []tableformat.AddFile{f},
		Progress: tableformat.Progress{PrevSeq: 1, MaxSeq: 2, MaxTS: 2}}
	fs.Inject(storetest.Fault{Op: storetest.OpPutIfAbsent, Prefix: tableformat.LogDir, Nth: 1, Mode: storetest.After})
	fs.Inject(storetest.Fault{Op: storetest.OpOpen, Prefix: tableformat.EntryKey(before.Version + 1), Nth: 1, Mode: storetest.Before})
	l := tableformat.NewLog(fs, tableformat.LogOptions{})
	if _, err := l.Commit(ctx, e); !errors.Is(err, tableformat.ErrUnknownOutcome) {
		t.Fatalf("commit: %v, want an unknown outcome", err)
	}
	if _, err := l.Commit(ctx, e); !errors.Is(err, tableformat.ErrConflict) {
		t.Fatalf("retried commit: %v, want a conflict", err)
	}
	if got := latest(t, fs); got.Version != before.Version+1 {
		t.Fatalf("version %d, want %d", got.Version, before.Version+1)
	}
}

// Two committers computed the same next version: the barrier makes them
// collide. The loser retries on the next version when its entry still
// applies, and stops with a conflict when it does not.
func TestCommitCollision(t *testing.T) {
	ctx := context.Background()
	for _, conflicting := range []bool{false, true} {
		t.Run(fmt.Sprintf("conflicting=%v", conflicting), func(t *testing.T) {
			bs := storetest.NewBarrierStore(tableformat.NewMemStore())
			before := newSeededLake(t, bs)
			key := tableformat.EntryKey(before.Version + 1)
			bs.Hold(key)
			entry := func(name string) *tableformat.Entry {
				e := addEntry(upload(t, bs, "d/t/data/"+name))
				if conflicting { // both merge the base file away
					e.Remove = []tableformat.RemoveFile{{Path: "d/t/data/base", TableID: 1}}
				}
				return e
			}
			ea, eb := entry("a"), entry("b")
			resA, resB := make(chan error, 1), make(chan error, 1)
			go func() {
				_, err := tableformat.NewLog(bs, tableformat.LogOptions{WriterID: "a"}).Commit(ctx, ea)
				resA <- err
			}()
			if err := bs.WaitHeld(ctx, key, 1); err != nil {
				t.Fatal(err)
			}
			go func() {
				_, err := tableformat.NewLog(bs, tableformat.LogOptions{WriterID: "b"}).Commit(ctx, eb)
				resB <- err
			}()
			if err := bs.WaitHeld(ctx, key, 2); err != nil {
				t.Fatal(err)
			}
			bs.ReleaseOne(key)
			if err := <-resA; err != nil {
				t.Fatalf("first committer: %v", err)
			}
			bs.Release(key)
			errB := <-resB
			st := latest(t, bs)
			if conflicting {
				if !errors.Is(errB, tableformat.ErrConflict) || st.Version != before.Version+1 {
					t.Fatalf("second committer: %v, version %d: want a conflict and one commit", errB, st.Version)
				}
				return
			}
			if errB != nil || st.Version != before.Version+2 {
				t.Fatalf("second committer: %v, version %d: want both commits", errB, st.Version)
			}
			e, err := tableformat.NewLog(bs, tableformat.LogOptions{}).Entry(ctx, before.Version+2)
			if err != nil || e.WriterID != "b" {
				t.Fatalf("version %d written by %v (%v), want b", before.Version+2, e, err)
			}
		})
	}
}
