package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
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
	for _, tb := range st.Tables {
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
			_, rows, err := tableformat.ScanTable(ctx, store, p, tb.ID)
			if err != nil {
				t.Fatalf("as of %s, table %d: %v", g, tb.ID, err)
			}
			vals := make([]string, len(rows))
			for i, r := range rows {
				vals[i] = fmt.Sprint(r.Values)
			}
			slices.Sort(vals)
			n := tb.NameAt(p.Seq)
			out[g+" "+n.DB+"."+n.Name] = strings.Join(vals, "\n")
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
// in chunks, with a two-second pause two thirds in. Every moment reads the
// same (reference reader) after compaction and, inside retention, after
// vacuum; and for a sample of
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
	// Retention will start between two moments two seconds apart: the
	// source's commit times have second resolution.
	cut := steps * 2 / 3
	var exps []map[string]expTable
	var stamps []time.Time
	cache := map[*tableSnap]expTable{}
	for len(w.moments) < steps {
		for range min(1+rnd.IntN(20), steps-len(w.moments)) {
			if len(w.moments) == cut {
				time.Sleep(2 * time.Second)
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

	// Retention from the moment before the cut: now - retain falls half a
	// second after the second of its commit, and at least half a second
	// before the cut's (vacuum keeps history from the last transaction at
	// or before it).
	from := stamps[cut-1].Truncate(time.Second).Add(1500 * time.Millisecond)
	retain := time.Since(from).Round(time.Millisecond)
	out, errs, code = e.runCmd("vacuum", "-c", e.config, "--retain", retain.String(), "--grace", "1ms")
	if code != 0 {
		t.Fatalf("binlake vacuum: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("binlake vacuum --retain %s:\n%s", retain, out)
	// The files this vacuum removed were live a moment ago: the next
	// vacuum, past the grace, deletes them.
	time.Sleep(10 * time.Millisecond)
	if out, errs, code = e.runCmd("vacuum", "-c", e.config, "--retain", retain.String(), "--grace", "1ms"); code != 0 {
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
// start reads right.
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
		at   time.Time
		exps map[string]expTable
	}
	var (
		mu    sync.Mutex
		moms  []published
		stop  = make(chan struct{})
		wg    sync.WaitGroup
		stats = map[string]int{}
		fails []error
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
	const runFor = 45 * time.Second
	const retain = 20 * time.Second
	// The writer: one transaction every ~100 ms.
	wg.Add(1)
	go func() {
		defer wg.Done()
		cache := map[*tableSnap]expTable{}
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			w.txn(ctx)
			x := expectTables(w, cache)
			mu.Lock()
			moms = append(moms, published{len(w.moments) - 1, w.moments[len(w.moments)-1].gtid, time.Now(), x})
			mu.Unlock()
		}
	}()
	// Readers: a moment between 2 s (committed by then: 100 ms group
	// commit) and retain/2 old.
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(r), 3))
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				var cands []published
				for _, p := range moms {
					if age := time.Since(p.at); age > 2*time.Second && age < retain/2 {
						cands = append(cands, p)
					}
				}
				mu.Unlock()
				if len(cands) == 0 {
					time.Sleep(200 * time.Millisecond)
					continue
				}
				p := cands[rnd.IntN(len(cands))]
				names := slices.Sorted(func(yield func(string) bool) {
					for k := range p.exps {
						if !yield(k) {
							return
						}
					}
				})
				name := names[rnd.IntN(len(names))]
				if err := q.checkTable(name, p.exps[name], "--as-of-gtid", p.gtid); err != nil {
					fail(fmt.Errorf("reader, moment %d: %w", p.i, err))
				}
				count("queries")
			}
		}()
	}
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, _, code := e.runCmd("log", "-c", e.config, "--tail", "1"); code == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the daemon made no lake within 30 s")
		}
	}
	// Compaction and vacuum in a loop; every third round two compactors at
	// once, every fourth one killed with -9 after 100-800 ms.
	deadline := time.Now().Add(runFor)
	rnd := rand.New(rand.NewPCG(9, 9))
	for round := 0; time.Now().Before(deadline); round++ {
		switch {
		case round%4 == 3:
			cmd := exec.Command(binary, "compact", "-c", e.config, "--force")
			cmd.Env = e.envs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(100+rnd.IntN(700)) * time.Millisecond)
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
		if out, errs, code := e.runCmd("vacuum", "-c", e.config, "--retain", retain.String(), "--grace", "3s"); code != 0 {
			// A vacuum that lost to a compaction changed nothing: again next round.
			if !strings.Contains(errs, "conflict") {
				fail(fmt.Errorf("binlake vacuum: exit %d\n%s%s", code, out, errs))
			}
			count("vacuum conflicts")
		} else {
			count("vacuums")
		}
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	if len(fails) > 0 {
		t.Fatalf("%d failures (stats %v); first: %v", len(fails), stats, fails[0])
	}
	mu.Unlock()

	// The end: the lake catches up and equals the source at the last moment.
	last := moms[len(moms)-1]
	var err error
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		err = nil
		for name, x := range last.exps {
			if err = q.checkTable(name, x, "--as-of-gtid", last.gtid); err != nil {
				break
			}
		}
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("the lake at the last moment: %v", err)
	}
	// No orphan once past the grace: only the files the lake names remain.
	time.Sleep(3 * time.Second)
	if out, errs, code := e.runCmd("vacuum", "-c", e.config, "--retain", "1h", "--grace", "1ms"); code != 0 {
		t.Fatalf("final vacuum: exit %d\n%s%s", code, out, errs)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	daemon.Wait()
	if out, errs, code := e.runCmd("vacuum", "-c", e.config, "--retain", "1h", "--grace", "1ms"); code != 0 {
		t.Fatalf("final vacuum: exit %d\n%s%s", code, out, errs)
	}
	objs, live := lakeObjects(t, e.store())
	if objs != live {
		t.Fatalf("%d objects outside _log/, the lake names %d: orphans left", objs, live)
	}
	t.Logf("%d transactions; %v; %d objects at the end", len(moms), stats, objs)
	if stats["queries"] < 20 || stats["compactors killed"] < 2 || stats["racing compaction pairs"] < 2 {
		t.Fatalf("too little happened: %v", stats)
	}
}
