package enginetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/binlake/binlake/compaction"
	"github.com/binlake/binlake/query"
	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// genLake is a seeded random lake (tableformat/laketest): a keyed and a
// keyless table (ids 1 and 2) of decimal, integer and string columns,
// random transactions (inserts, updates of values and of the key,
// deletes, identical rows in the keyless one) and now and then DDL.
type genLake struct {
	*laketest.Lake
	t     *testing.T
	ctx   context.Context
	store *tableformat.MemStore
	log   *tableformat.Log
	read  tableformat.FileSource // each file decoded once for all the answers
}

func newGenLake(t *testing.T, seed uint64) *genLake {
	store := tableformat.NewMemStore()
	l := laketest.New(t, laketest.Options{Seed: seed, Store: store, Mix: &laketest.Mix{Alter: 5}, Types: []tableformat.Type{
		{Kind: tableformat.KindVarchar, Length: 20}, {Kind: tableformat.KindDecimal, Precision: 20, Scale: 2}, {Kind: tableformat.KindTinyInt}}})
	l.CreateRandomTable(true)
	l.CreateRandomTable(false)
	l.Commit()
	return &genLake{Lake: l, t: t, ctx: context.Background(), store: store, log: l.Log, read: laketest.CachedFiles(store)}
}

// txn commits a few random source transactions.
func (g *genLake) txn() { g.Step() }

// addColumn alters table 1: a new column, the next schema version.
func (g *genLake) addColumn() {
	g.AddColumn(1)
	g.Commit()
}

// answers reads every table at the sequence of every version up to the
// latest, through the reference reader, on the given state's files.
func (g *genLake) answers(st *tableformat.State, seqs []int64) map[string]string {
	g.t.Helper()
	out := map[string]string{}
	for _, seq := range seqs {
		p := tableformat.Point{Version: st.Version, Seq: seq, State: st}
		for _, id := range []int64{1, 2} {
			if !st.Tables.Get(id).ExistsAt(seq) {
				continue
			}
			sc, rows, err := tableformat.ScanTableFrom(g.ctx, g.read, p, id)
			if err != nil {
				g.t.Fatalf("seq %d table %d: %v", seq, id, err)
			}
			vals := make([]string, len(rows))
			for i, r := range rows {
				vals[i] = fmt.Sprint(r.Values)
			}
			if id == 2 {
				slices.Sort(vals) // a multiset
			}
			out[fmt.Sprintf("seq %d table %d", seq, id)] = fmt.Sprint(sc.Version, vals)
		}
	}
	return out
}

// record returns the sequence of every version so far, the latest state,
// and the answers at those sequences.
func (g *genLake) record() ([]int64, *tableformat.State, map[string]string) {
	g.t.Helper()
	seqs := g.versionSeqs()
	st, err := g.log.Latest(g.ctx)
	if err != nil {
		g.t.Fatal(err)
	}
	return seqs, st, g.answers(st, seqs)
}

// check compares the answers at seqs on the latest state with want, and
// returns that state.
func (g *genLake) check(seqs []int64, want map[string]string, when string) *tableformat.State {
	g.t.Helper()
	st, err := g.log.Latest(g.ctx)
	if err != nil {
		g.t.Fatal(err)
	}
	got := g.answers(st, seqs)
	for k, w := range want {
		if got[k] != w {
			g.t.Fatalf("%s %s:\n got %s\nwant %s", k, when, got[k], w)
		}
	}
	return st
}

// versionSeqs is the sequence of every version of the log so far.
func (g *genLake) versionSeqs() []int64 {
	g.t.Helper()
	st, err := g.log.Latest(g.ctx)
	if err != nil {
		g.t.Fatal(err)
	}
	var seqs []int64
	for v := int64(2); v <= st.Version; v++ {
		sv, err := g.log.StateAt(g.ctx, v)
		if err != nil {
			g.t.Fatal(err)
		}
		seqs = append(seqs, sv.Progress.MaxSeq)
	}
	return slices.Compact(seqs)
}

func newCompactor(t *testing.T, log *tableformat.Log, policy compaction.Policy) *compaction.Compactor {
	cache, err := query.OpenCache(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := query.NewEngine(log, cache, query.Options{})
	t.Cleanup(func() { e.Close() })
	return &compaction.Compactor{Log: log, Writer: e, Policy: policy, TempDir: t.TempDir()}
}

// TestCompactionKeepsEveryAnswer: snapshots and merges, run several times
// between more transactions, never change the rows of any table at any
// sequence of the history, and they do cut the files a point reads.
func TestCompactionKeepsEveryAnswer(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := newGenLake(t, seed)
			c := newCompactor(t, g.log, compaction.Policy{Force: true})
			var committed, snapshots, merges int
			for round := range 4 {
				for range 12 {
					g.txn()
				}
				if round == 1 {
					g.addColumn()
				}
				seqs, _, want := g.record()
				jobs, err := c.Plan(g.ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(jobs) == 0 {
					t.Fatalf("round %d: a forced plan with new deltas has no job", round)
				}
				for _, j := range jobs {
					res, err := c.Run(g.ctx, j)
					if err != nil {
						t.Fatalf("round %d %s %s.%s: %v", round, j.Kind, j.DB, j.Name, err)
					}
					if res.Conflict || res.Version == 0 {
						t.Fatalf("round %d %s: not committed: %+v", round, j.Kind, res)
					}
					committed++
					if j.Kind == compaction.JobSnapshot {
						snapshots++
					} else {
						merges++
						if res.RowsOut != res.RowsIn || res.FilesOut >= res.FilesIn {
							t.Fatalf("merge: %d rows in %d files → %d rows in %d files", res.RowsIn, res.FilesIn, res.RowsOut, res.FilesOut)
						}
					}
				}
				after := g.check(seqs, want, fmt.Sprintf("in round %d, after compaction", round))
				if again := compaction.Plan(after, compaction.Policy{Force: true}); len(again) != 0 {
					t.Fatalf("round %d: right after compaction the plan still has %d jobs: %+v", round, len(again), again[0])
				}
			}
			if snapshots < 4 || merges < 4 {
				t.Fatalf("%d jobs: %d snapshots, %d merges", committed, snapshots, merges)
			}
		})
	}
}

// barrierStore holds every log-entry write until n writers are waiting at
// it (once), so that n committers collide on one version.
type barrierStore struct {
	*tableformat.MemStore
	n       int
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func (s *barrierStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if strings.HasPrefix(key, tableformat.LogDir) && strings.HasSuffix(key, ".json") && !strings.Contains(key, "checkpoint") {
		s.mu.Lock()
		if s.waiting < s.n {
			s.waiting++
			if s.waiting == s.n {
				close(s.release)
			}
			s.mu.Unlock()
			select {
			case <-s.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		} else {
			s.mu.Unlock()
		}
	}
	return s.MemStore.PutIfAbsent(ctx, key, data)
}

// TestTwoCompactorsRace: two compactors run the same plan at once, their
// log writes held until both are ready to commit the same version: for
// every job exactly one commits, the other reports a conflict (its files
// left as orphans), and every answer stays the same — no snapshot counted
// twice, no file merged twice.
func TestTwoCompactorsRace(t *testing.T) {
	g := newGenLake(t, 7)
	for range 30 {
		g.txn()
	}
	seqs, before, want := g.record()
	jobs := compaction.Plan(before, compaction.Policy{Force: true})
	if len(jobs) < 3 {
		t.Fatalf("plan: %d jobs", len(jobs))
	}
	for _, j := range jobs {
		bs := &barrierStore{MemStore: g.store, n: 2, release: make(chan struct{})}
		var res [2]compaction.Result
		var errs [2]error
		var wg sync.WaitGroup
		for i := range 2 {
			c := newCompactor(t, tableformat.NewLog(bs, tableformat.LogOptions{}), compaction.Policy{Force: true})
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = c.Run(g.ctx, j)
			}()
		}
		wg.Wait()
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("%s %s.%s, compactor %d: %v", j.Kind, j.DB, j.Name, i, errs[i])
			}
		}
		if (res[0].Version == 0) == (res[1].Version == 0) || res[0].Conflict == res[1].Conflict {
			t.Fatalf("%s %s.%s: want one commit and one conflict, got %+v and %+v", j.Kind, j.DB, j.Name, res[0], res[1])
		}
	}
	after := g.check(seqs, want, "after the race")
	if again := compaction.Plan(after, compaction.Policy{Force: true}); len(again) != 0 {
		t.Fatalf("after the race the plan still has %d jobs", len(again))
	}
}

// failingStore fails every object upload after the first n, and every
// log entry write while failLog is set.
type failingStore struct {
	*tableformat.MemStore
	mu      sync.Mutex
	n       int
	failLog bool
}

func (s *failingStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	fail := s.failLog
	s.mu.Unlock()
	if fail {
		return errors.New("injected: killed before the log write")
	}
	return s.MemStore.PutIfAbsent(ctx, key, data)
}

func (s *failingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	s.mu.Lock()
	s.n--
	fail := s.n < 0
	s.mu.Unlock()
	if fail {
		return errors.New("injected: the connection dropped")
	}
	return s.MemStore.Put(ctx, key, r, size)
}

// TestCompactorDiesMidWrite: a compaction whose uploads fail, or that dies
// between its uploads and its log write, commits nothing: the lake's state
// and every answer are unchanged, the files it did upload are named by no
// commit (orphans for vacuum), and a later run does the work.
func TestCompactorDiesMidWrite(t *testing.T) {
	g := newGenLake(t, 9)
	for range 30 {
		g.txn()
	}
	seqs, before, want := g.record()
	objects := func() int {
		objs, err := g.store.List(g.ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
		return len(objs)
	}
	n0 := objects()
	fs := &failingStore{MemStore: g.store, n: 1}
	c := newCompactor(t, tableformat.NewLog(fs, tableformat.LogOptions{}), compaction.Policy{Force: true, TargetFileBytes: 1 << 20})
	var failed int
	for _, j := range compaction.Plan(before, compaction.Policy{Force: true}) {
		fs.mu.Lock()
		fs.n = 0 // the job's first upload fails
		fs.mu.Unlock()
		if _, err := c.Run(g.ctx, j); err == nil {
			t.Fatalf("%s %s.%s: no error with the store failing", j.Kind, j.DB, j.Name)
		}
		failed++
	}
	after, err := g.log.Latest(g.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || failed == 0 {
		t.Fatalf("version %d → %d after %d failed jobs", before.Version, after.Version, failed)
	}
	if n := objects(); n != n0 {
		t.Fatalf("%d objects before, %d after failed uploads", n0, n)
	}
	// Uploads that did land, then a crash before the log write: orphans.
	fs.mu.Lock()
	fs.n, fs.failLog = 1<<30, true
	fs.mu.Unlock()
	for _, j := range compaction.Plan(before, compaction.Policy{Force: true}) {
		if _, err := c.Run(g.ctx, j); err == nil {
			t.Fatalf("%s %s.%s: no error with the log write failing", j.Kind, j.DB, j.Name)
		}
	}
	if v, err := g.log.Latest(g.ctx); err != nil || v.Version != before.Version {
		t.Fatalf("after failed log writes: %v", err)
	}
	if n := objects(); n <= n0 {
		t.Fatalf("%d objects before, %d after uploads without commits: want orphans", n0, n)
	}
	ok := newCompactor(t, g.log, compaction.Policy{Force: true})
	results, err := ok.RunAll(g.ctx)
	if err != nil || len(results) == 0 {
		t.Fatalf("the run after: %d results, %v", len(results), err)
	}
	g.check(seqs, want, "after a run that completes")
}
