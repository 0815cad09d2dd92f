package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// runCmd runs the binary with args (the env's config and environment) and
// returns stdout, stderr and the exit code.
func (e *env) runCmd(args ...string) (string, string, int) {
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Env, cmd.Stdout, cmd.Stderr = e.envs, &out, &errb
	err := cmd.Run()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("binlake %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

// lakeObjects counts the lake's objects outside _log/ and the files the
// latest state names.
func lakeObjects(t *testing.T, store tableformat.Store) (objects, live int) {
	t.Helper()
	ctx := context.Background()
	objs, err := store.List(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, tableformat.LogDir) {
			objects++
		}
	}
	st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for tb := range st.Tables.Values() {
		live += len(tb.Files)
	}
	return objects, live
}

// lakeAnswers reads, with the format's reference reader, every table at the
// point of each GTID set: "gtid db.table" → the rows, sorted.
func lakeAnswers(t *testing.T, store tableformat.Store, gtids []string) map[string]string {
	t.Helper()
	ctx := context.Background()
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	read := laketest.CachedFiles(store) // each file decoded once for all the points
	out := map[string]string{}
	for _, g := range gtids {
		p, err := l.AtGTID(ctx, g)
		if err != nil {
			t.Fatalf("as of %s: %v", g, err)
		}
		for _, tb := range p.State.SortedTables() {
			if !tb.ExistsAt(p.Seq) {
				continue
			}
			_, rows, err := tableformat.ScanTableFrom(ctx, read, p, tb.ID)
			if err != nil {
				t.Fatalf("as of %s, table %d: %v", g, tb.ID, err)
			}
			n := tb.NameAt(p.Seq)
			out[g+" "+n.DB+"."+n.Name] = strings.Join(laketest.Render(rows), "\n")
		}
	}
	return out
}

// sameAnswers fails unless got has want's answer for every key of want.
func sameAnswers(t *testing.T, when string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("%s: %s differs from before compaction:\n got %.400s\nwant %.400s", when, k, got[k], w)
		}
	}
}

// TestCompactionKeepsAnswers: the randomized workload (with DDL), ingested
// in chunks; two thirds in, the source's clock passes a second boundary
// between two moments. Every moment reads the same (reference reader)
// after compaction and, inside retention (vacuum --retain-from a time
// between those two moments), after vacuum; and for a sample of
// moments and every table, `binlake query --as-of-gtid` (and
// --as-of-version where a version ends at the moment) equals the model
// before compaction, after `binlake compact --force`, and after `binlake
// vacuum` for the moments inside retention; the moments before it fail
// with "outside retention". Vacuum deletes the merged-away files.
func TestCompactionKeepsAnswers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 5)
	w.ddlEvery = 9
	rnd := rand.New(rand.NewPCG(5, 9))
	const steps = 90
	// Retention will start between two moments in different seconds: the
	// source's commit times have second resolution.
	cut := steps * 2 / 3
	var exps []map[string]expTable
	var stamps []time.Time
	cache := map[*tableSnap]expTable{}
	for len(w.moments) < steps {
		for range min(1+rnd.IntN(20), steps-len(w.moments)) {
			if len(w.moments) == cut {
				// The cut's transaction in a later second than the one
				// before it: the clock must pass a second boundary.
				testenv.Eventually(t, time.Minute, "the clock in the second after the moment before the cut", func() error {
					if now := time.Now(); !now.Truncate(time.Second).After(stamps[cut-1]) {
						return fmt.Errorf("it is %s", now.Format(time.RFC3339Nano))
					}
					return nil
				})
			}
			w.txn(ctx)
			stamps = append(stamps, time.Now())
			exps = append(exps, expectTables(w, cache))
		}
		e.catchUp(start)
	}
	t.Logf("workload: %v; %d ingest runs", w.stats, e.runs)
	places := txnPlaces(t, e.store())
	q := newQuerier(t, e)

	all := make([]int, len(w.moments))
	for i := range all {
		all[i] = i
	}
	sample := spread(all, 10)
	check := func(when string, moments []int) {
		t.Helper()
		var errs []error
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		n := 0
		for _, i := range moments {
			m := w.moments[i]
			points := [][2]string{{"--as-of-gtid", m.gtid}}
			if p := places[m.gtid]; p.last {
				points = append(points, [2]string{"--as-of-version", fmt.Sprint(p.version)})
			}
			for _, pt := range points {
				for _, name := range slices.Sorted(func(yield func(string) bool) {
					for k := range exps[i] {
						if !yield(k) {
							return
						}
					}
				}) {
					n++
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer func() { <-sem; wg.Done() }()
						if err := q.checkTable(name, exps[i][name], pt[0], pt[1]); err != nil {
							mu.Lock()
							errs = append(errs, fmt.Errorf("moment %d (%s): %w", i, m.what, err))
							mu.Unlock()
						}
					}()
				}
			}
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%s: %d of %d answers differ; first: %v", when, len(errs), n, errs[0])
		}
		t.Logf("%s: %d answers equal the model", when, n)
	}
	check("before compaction", sample)
	obj0, live0 := lakeObjects(t, e.store())
	// Every moment, with the reference reader (the binary's answers on
	// the sample above equal the model).
	var gtids []string
	for _, m := range w.moments {
		gtids = append(gtids, m.gtid)
	}
	ref := lakeAnswers(t, e.store(), gtids)

	out, errs, code := e.runCmd("compact", "-c", e.config, "--force")
	if code != 0 {
		t.Fatalf("binlake compact --force: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("binlake compact --force:\n%s", out)
	if !strings.Contains(out, "snapshot shop.") || !strings.Contains(out, "merge shop.") {
		t.Fatalf("compact did not snapshot and merge:\n%s", out)
	}
	check("after compaction", sample)
	sameAnswers(t, "after compaction", lakeAnswers(t, e.store(), gtids), ref)
	t.Logf("all %d moments, %d table answers: the same after compaction", len(gtids), len(ref))
	out, errs, code = e.runCmd("compact", "-c", e.config, "--force")
	if code != 0 || !strings.Contains(out, "nothing to compact") {
		t.Fatalf("a second binlake compact --force: exit %d\n%s%s", code, out, errs)
	}
	obj1, live1 := lakeObjects(t, e.store())

	// Retention from the moment before the cut: half a second into the
	// second of its commit (or later), and before the cut's second (vacuum
	// keeps history from the last transaction at or before it). Pinned,
	// not a window back from now, so that it is the same for both vacuums
	// however long they take.
	from := stamps[cut-1].Truncate(time.Second).Add(500 * time.Millisecond).Format(time.RFC3339Nano)
	out, errs, code = e.runCmd("vacuum", "-c", e.config, "--retain-from", from, "--grace", "1ms")
	if code != 0 {
		t.Fatalf("binlake vacuum: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("binlake vacuum --retain-from %s:\n%s", from, out)
	// The files this vacuum removed were live until its commit: the next
	// vacuum deletes them once that commit is older than the grace.
	vacuumed, err := tableformat.NewLog(e.store(), tableformat.LogOptions{}).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the vacuum's commit past the grace", func() error {
		if age := time.Since(vacuumed.CommitTime); age <= time.Millisecond {
			return fmt.Errorf("it is %v old", age)
		}
		return nil
	})
	if out, errs, code = e.runCmd("vacuum", "-c", e.config, "--retain-from", from, "--grace", "1ms"); code != 0 {
		t.Fatalf("a second binlake vacuum: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("again:\n%s", out)
	obj2, live2 := lakeObjects(t, e.store())
	t.Logf("objects outside _log/ (files the latest state names): %d (%d) before compaction, %d (%d) after, %d (%d) after vacuum",
		obj0, live0, obj1, live1, obj2, live2)
	if obj2 != live2 || obj2 >= obj1 {
		t.Fatalf("objects %d (live %d) after vacuum: want only the live files, fewer than %d", obj2, live2, obj1)
	}
	var inside, outside []int
	for _, i := range all {
		if i >= cut-1 {
			inside = append(inside, i)
		} else {
			outside = append(outside, i)
		}
	}
	check("after vacuum, inside retention", spread(inside, 6))
	var kept []string
	for _, i := range inside {
		kept = append(kept, w.moments[i].gtid)
	}
	keptRef := map[string]string{}
	for k, v := range ref {
		if slices.Contains(kept, strings.Fields(k)[0]) {
			keptRef[k] = v
		}
	}
	sameAnswers(t, "after vacuum", lakeAnswers(t, e.store(), kept), keptRef)
	t.Logf("all %d moments inside retention, %d table answers: the same after vacuum", len(kept), len(keptRef))
	for _, i := range spread(outside, 4) {
		m := w.moments[i]
		for name, x := range exps[i] {
			out, stderr, code := q.query(x.sql(name), "--as-of-gtid", m.gtid)
			if code == 0 || !strings.Contains(stderr, "outside retention") {
				t.Fatalf("moment %d before retention, shop.%s: exit %d, %q %q; want an outside-retention error", i, name, code, out, stderr)
			}
			break
		}
	}
	out, _, code = e.runCmd("log", "-c", e.config, "--tail", "30")
	if code != 0 || !strings.Contains(out, "compaction") || !strings.Contains(out, "vacuum") {
		t.Fatalf("binlake log: exit %d\n%s", code, out)
	}
}

// TestCompactionWhileIngesting: the daemon ingests a steady workload while
// compactions (also two at once, and some killed with -9 mid-run) and
// vacuums run in a loop and readers query recent points: no reader error
// inside retention, every answer equals the model, and at the end the lake
// equals the source, holds no orphan, and its history since the retention
// start reads right. It runs until enough of each has happened, however
// long that takes; readers read only moments the lake has reached, and
// each vacuum keeps the history from a moment no reader is before.
func TestCompactionWhileIngesting(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 8)
	w.ddlEvery = 15
	daemon := e.ingest("--start-gtid", start)
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
	}()
	q := newQuerier(t, e)

	type published struct {
		i    int
		gtid string
		// began is the wall clock just before the moment's transaction:
		// its source time is in this second or a later one.
		began time.Time
		exps  map[string]expTable
	}
	// keepBehind is how many moments behind the lake's position the
	// retention may start.
	const keepBehind = 50
	var (
		mu      sync.Mutex
		changed = sync.NewCond(&mu) // reached, floor or stopping moved
		moms    []published
		// Readers read moms[floor:reached]: the lake holds them, and
		// retention starts at or before floor. reading counts the readers
		// of each moment: floor never passes one.
		reached, floor int
		reading        = map[int]int{}
		stopping       bool
		stop           = make(chan struct{})
		wg             sync.WaitGroup
		stats          = map[string]int{}
		fails          []error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		fails = append(fails, err)
	}
	count := func(k string) {
		mu.Lock()
		defer mu.Unlock()
		stats[k]++
	}
	// The writer: one transaction about every 100 ms.
	wg.Add(1)
	go func() {
		defer wg.Done()
		cache := map[*tableSnap]expTable{}
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond): // load shaping, not synchronisation
			}
			began := time.Now()
			w.txn(ctx)
			x := expectTables(w, cache)
			mu.Lock()
			moms = append(moms, published{len(w.moments) - 1, w.moments[len(w.moments)-1].gtid, began, x})
			mu.Unlock()
		}
	}()
	// Readers: a moment the lake holds, at or after the retention floor.
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(r), 3))
			for {
				mu.Lock()
				for !stopping && reached <= floor {
					changed.Wait()
				}
				if stopping {
					mu.Unlock()
					return
				}
				i := floor + rnd.IntN(reached-floor)
				p := moms[i]
				reading[i]++
				mu.Unlock()
				names := slices.Sorted(maps.Keys(p.exps))
				name := names[rnd.IntN(len(names))]
				if err := q.checkTable(name, p.exps[name], "--as-of-gtid", p.gtid); err != nil {
					fail(fmt.Errorf("reader, moment %d: %w", p.i, err))
				}
				mu.Lock()
				if reading[i]--; reading[i] == 0 {
					delete(reading, i)
				}
				stats["queries"]++
				mu.Unlock()
			}
		}()
	}
	testenv.Eventually(t, 2*time.Minute, "the daemon's lake", func() error {
		if out, errs, code := e.runCmd("log", "-c", e.config, "--tail", "1"); code != 0 {
			return fmt.Errorf("binlake log: exit %d\n%s%s", code, out, errs)
		}
		return nil
	})
	lake := tableformat.NewLog(e.store(), tableformat.LogOptions{})
	// advance moves reached to the lake's position and floor up to
	// keepBehind moments behind it, never past a moment being read, and
	// returns where the retention may start: just before the second of
	// the floor's transaction (false before the first moment).
	advance := func() (time.Time, bool) {
		st, err := lake.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		have, err := tableformat.ParseGTIDSet(st.Progress.Position.GTIDSet)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		defer changed.Broadcast()
		for ; reached < len(moms); reached++ {
			g, err := tableformat.ParseGTIDSet(moms[reached].gtid)
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := have.ContainsSet(g); !ok {
				break
			}
		}
		next := max(floor, reached-keepBehind)
		for i := range reading {
			next = min(next, i)
		}
		floor = next
		if floor >= len(moms) {
			return time.Time{}, false
		}
		return moms[floor].began.Truncate(time.Second).Add(-time.Microsecond), true
	}
	// Compaction and vacuum in a loop until enough happened; every third
	// round two compactors at once, every fourth one killed with -9 after
	// 100-800 ms.
	rnd := rand.New(rand.NewPCG(9, 9))
	round := 0
	testenv.Eventually(t, 10*time.Minute, "enough queries, compactions, kills and vacuums", func() error {
		switch {
		case round%4 == 3:
			cmd := exec.Command(binary, "compact", "-c", e.config, "--force")
			cmd.Env = e.envs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(100+rnd.IntN(700)) * time.Millisecond) // where the kill lands, not synchronisation
			cmd.Process.Kill()
			cmd.Wait()
			count("compactors killed")
		case round%3 == 2:
			var cw sync.WaitGroup
			for range 2 {
				cw.Add(1)
				go func() {
					defer cw.Done()
					if out, errs, code := e.runCmd("compact", "-c", e.config, "--force"); code != 0 {
						fail(fmt.Errorf("racing binlake compact: exit %d\n%s%s", code, out, errs))
					}
				}()
			}
			cw.Wait()
			count("racing compaction pairs")
		default:
			if out, errs, code := e.runCmd("compact", "-c", e.config, "--force"); code != 0 {
				fail(fmt.Errorf("binlake compact: exit %d\n%s%s", code, out, errs))
			}
			count("compactions")
		}
		round++
		if from, ok := advance(); ok {
			// The grace is far longer than a reader takes from resolving its
			// point to reading the point's files, on any machine.
			out, errs, code := e.runCmd("vacuum", "-c", e.config, "--retain-from", from.Format(time.RFC3339Nano), "--grace", "1m")
			switch {
			case code == 0:
				count("vacuums")
			case strings.Contains(errs, "conflict"):
				// A vacuum that lost to a compaction changed nothing: again next round.
				count("vacuum conflicts")
			default:
				fail(fmt.Errorf("binlake vacuum: exit %d\n%s%s", code, out, errs))
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(fails) > 0 || stats["queries"] >= 20 && stats["compactors killed"] >= 2 && stats["racing compaction pairs"] >= 2 && stats["vacuums"] >= 2 {
			return nil
		}
		return fmt.Errorf("so far %v", stats)
	})
	mu.Lock()
	stopping = true
	changed.Broadcast()
	mu.Unlock()
	close(stop)
	wg.Wait()
	if len(fails) > 0 {
		t.Fatalf("%d failures (stats %v); first: %v", len(fails), stats, fails[0])
	}

	// The end: the lake catches up and equals the source at the last moment.
	last := moms[len(moms)-1]
	waitForGTID(t, e.store(), last.gtid, 3*time.Minute)
	testenv.Eventually(t, time.Minute, "the lake equal to the source at the last moment", func() error {
		for name, x := range last.exps {
			if err := q.checkTable(name, x, "--as-of-gtid", last.gtid); err != nil {
				return err
			}
		}
		return nil
	})
	// No orphan once past the grace: only the files the lake names remain.
	if out, errs, code := e.runCmd("vacuum", "-c", e.config, "--retain", "1h", "--grace", "1ms"); code != 0 {
		t.Fatalf("final vacuum: exit %d\n%s%s", code, out, errs)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	daemon.Wait()
	var objs int
	testenv.Eventually(t, 2*time.Minute, "only the files the lake names in storage", func() error {
		if out, errs, code := e.runCmd("vacuum", "-c", e.config, "--retain", "1h", "--grace", "1ms"); code != 0 {
			t.Fatalf("final vacuum: exit %d\n%s%s", code, out, errs)
		}
		var live int
		if objs, live = lakeObjects(t, e.store()); objs != live {
			return fmt.Errorf("%d objects outside _log/, the lake names %d: orphans left", objs, live)
		}
		return nil
	})
	t.Logf("%d transactions, %d rounds; %v; %d objects at the end", len(moms), round, stats, objs)
}
