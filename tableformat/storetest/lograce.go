package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// seedLake creates a lake in store with one table, so later commits can add
// files to it. It returns the state after the table exists.
func seedLake(tb testing.TB, store tableformat.Store, interval int64) *tableformat.State {
	tb.Helper()
	ctx := context.Background()
	l := tableformat.NewLog(store, tableformat.LogOptions{WriterID: "seed"})
	if _, err := l.Create(ctx, "race", interval); err != nil {
		tb.Fatal(err)
	}
	schema := &tableformat.Schema{Version: 1, Columns: []tableformat.Column{{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}}}, Key: []int{1}}
	st, err := l.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindIngest,
		Tables:   []tableformat.TableChange{{Op: tableformat.TableCreate, TableID: 1, Seq: 1, DB: "d", Name: "t", Schema: schema}},
		Progress: tableformat.Progress{PrevSeq: 0, MaxSeq: 1, MaxTS: time.Now().UnixMicro()}})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// uploadFile stores a small object at path and returns the AddFile naming it.
func uploadFile(ctx context.Context, store tableformat.Store, path string, maxSeq int64) (tableformat.AddFile, error) {
	body := []byte("file " + path)
	if err := tableformat.PutBytes(ctx, store, path, body); err != nil {
		return tableformat.AddFile{}, err
	}
	sum := sha256.Sum256(body)
	return tableformat.AddFile{Path: path, TableID: 1, Kind: tableformat.FileData, SchemaVersion: 1, Rows: 1,
		Bytes: int64(len(body)), Checksum: hex.EncodeToString(sum[:]), MinSeq: 1, MaxSeq: maxSeq}, nil
}

// CommitRace has writers committers, each with its own Log, commit
// commitsEach entries to one lake at once, every entry adding a file it
// uploaded first. It then checks the log: every version has exactly one
// entry (no gap, no overwrite), every commit a writer was told succeeded is
// in the log at the version it was told, and no entry names a missing file.
func CommitRace(t *testing.T, store tableformat.Store, writers, commitsEach int) {
	ctx := context.Background()
	seedLake(t, store, 10)
	type success struct {
		version int64
		path    string
	}
	var (
		mu   sync.Mutex
		wins []success
		wg   sync.WaitGroup
		errs = make(chan error, writers*commitsEach)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := tableformat.NewLog(store, tableformat.LogOptions{WriterID: fmt.Sprintf("writer-%d", w), MaxCommitAttempts: 10000})
			for i := range commitsEach {
				f, err := uploadFile(ctx, store, fmt.Sprintf("d/t/data/w%02d-%04d.parquet", w, i), 1)
				if err != nil {
					errs <- err
					return
				}
				st, err := l.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindCompaction, Add: []tableformat.AddFile{f}})
				if err != nil {
					errs <- fmt.Errorf("writer %d commit %d: %w", w, i, err)
					return
				}
				mu.Lock()
				wins = append(wins, success{st.Version, f.Path})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	// A fresh reader: listing checks there is no gap.
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	st, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2 + writers*commitsEach); st.Version != want {
		t.Fatalf("the log has %d versions, want %d (2 + %d commits)", st.Version, want, writers*commitsEach)
	}
	seen := map[int64]bool{}
	for _, w := range wins {
		if seen[w.version] {
			t.Fatalf("two writers were told they committed version %d", w.version)
		}
		seen[w.version] = true
		e, err := l.Entry(ctx, w.version)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Add) != 1 || e.Add[0].Path != w.path {
			t.Fatalf("version %d holds %v, but its writer committed %s", w.version, e.Add, w.path)
		}
	}
	for _, f := range st.Tables.Get(1).Files {
		if _, err := store.Stat(ctx, f.Path); err != nil {
			t.Fatalf("the log names %s, which is missing: %v", f.Path, err)
		}
	}
	if len(st.Tables.Get(1).Files) != writers*commitsEach {
		t.Fatalf("%d live files, want %d", len(st.Tables.Get(1).Files), writers*commitsEach)
	}
}

// BenchmarkCommit measures the latency of one commit (probe for a newer
// version, create the next entry) on store, as µs/commit, beside the floor it
// is measured against: a bare put-if-absent of an object of the same size on
// the same store, in the same run.
func BenchmarkCommit(b *testing.B, store tableformat.Store) {
	ctx := context.Background()
	st := seedLake(b, store, tableformat.DefaultCheckpointInterval)
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	seq := st.Progress.MaxSeq
	var entrySize int
	b.Run("commit", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			seq++
			e := &tableformat.Entry{Kind: tableformat.KindIngest,
				Add:      []tableformat.AddFile{fakeFile(seq)},
				Txns:     []tableformat.TxnMark{{Seq: seq, TS: st.Progress.MaxTS}},
				Progress: tableformat.Progress{PrevSeq: seq - 1, MaxSeq: seq, MaxTS: st.Progress.MaxTS}}
			next, err := l.Commit(ctx, e)
			if err != nil {
				b.Fatal(err)
			}
			if entrySize == 0 {
				data, _ := tableformat.ReadObject(ctx, store, tableformat.EntryKey(next.Version))
				entrySize = len(data)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/commit")
	})
	b.Run("bare_put_if_absent", func(b *testing.B) {
		body := make([]byte, max(entrySize, 1))
		start := time.Now()
		for i := range b.N {
			if err := store.PutIfAbsent(ctx, fmt.Sprintf("bench/put-%d-%d", b.N, i), body); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/put")
	})
}

func fakeFile(seq int64) tableformat.AddFile {
	sum := sha256.Sum256([]byte(fmt.Sprint(seq)))
	return tableformat.AddFile{Path: fmt.Sprintf("d/t/data/part-%020d.parquet", seq), TableID: 1, Kind: tableformat.FileData,
		SchemaVersion: 1, Rows: 1, Bytes: 1000, Checksum: hex.EncodeToString(sum[:]), MinSeq: seq, MaxSeq: seq}
}

// BuildLongLog gives the lake in store versions versions (one file each)
// with the default checkpoint interval. Entries are written directly (not
// through Commit's list-then-put), which is what makes a 10,000-version lake
// quick to build; the result is a valid log, checked by reading it.
func BuildLongLog(tb testing.TB, store tableformat.Store, versions int64) {
	tb.Helper()
	ctx := context.Background()
	st := seedLake(tb, store, tableformat.DefaultCheckpointInterval)
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	seq := st.Progress.MaxSeq
	for st.Version < versions {
		seq++
		e := &tableformat.Entry{FormatVersion: tableformat.EntryFormatVersion, Version: st.Version + 1, Kind: tableformat.KindIngest,
			CommitTime: st.CommitTime.Add(time.Millisecond), WriterID: "bench", CommitID: fmt.Sprint(seq),
			Add:      []tableformat.AddFile{fakeFile(seq)},
			Txns:     []tableformat.TxnMark{{Seq: seq, TS: st.Progress.MaxTS}},
			Progress: tableformat.Progress{PrevSeq: seq - 1, MaxSeq: seq, MaxTS: st.Progress.MaxTS}}
		next, err := st.Apply(e)
		if err != nil {
			tb.Fatal(err)
		}
		data, err := tableformat.EncodeEntry(e)
		if err != nil {
			tb.Fatal(err)
		}
		if err := store.PutIfAbsent(ctx, tableformat.EntryKey(e.Version), data); err != nil {
			tb.Fatal(err)
		}
		if next.Version%next.Lake.CheckpointInterval == 0 {
			if err := l.WriteCheckpoint(ctx, next); err != nil {
				tb.Fatal(err)
			}
		}
		st = next
	}
}

// BenchmarkOpenLatest measures how long a fresh reader takes to load the
// latest state of a lake of versions versions (checkpoint hint, checkpoint,
// then the entries after it), as ms/open beside the target of one second.
// The lake is built once per run.
func BenchmarkOpenLatest(b *testing.B, store tableformat.Store, versions int64) {
	BuildLongLog(b, store, versions)
	ctx := context.Background()
	b.Run(fmt.Sprintf("versions=%d", versions), func(b *testing.B) {
		start := time.Now()
		for range b.N {
			st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if st.Version != versions {
				b.Fatalf("version %d, want %d", st.Version, versions)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/open")
		b.ReportMetric(1000, "target_ms")
	})
}
