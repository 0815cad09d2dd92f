package e2e

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/tableformat"
)

// TestSnapshotKilled: the daemon is killed in the middle of a new lake's
// initial snapshot — after some of its chunks are in storage, after one
// file of its commit — while the source keeps changing. Nothing of the
// snapshot is visible (it is one commit), the next start takes it again,
// and from it on the lake equals the source at every transaction.
func TestSnapshotKilled(t *testing.T) {
	e := newEnv(t)
	// A small budget: the snapshot is spilled in many chunks before its
	// one commit.
	e.envs = append(e.envs, "BINLAKE_INGEST_MEMORY_BUDGET=65536")
	store := e.store()
	w := newWorkload(t, e.db, 9)
	ctx := context.Background()
	for i := range 120 {
		if i%20 == 0 {
			w.bigTxn(ctx, 500)
			clear(w.bulk) // the rows stay: the next big transaction inserts too
			continue
		}
		w.txn(ctx) // rows that exist before the lake
	}
	for _, fault := range []string{string(ingest.FaultSpilled) + ":2", string(ingest.FaultFileUploaded) + ":2", string(ingest.FaultUploaded) + ":1"} {
		saved := e.envs
		e.envs = append(e.envs[:len(e.envs):len(e.envs)], "BINLAKE_FAULT="+fault)
		cmd := e.ingest() // snapshot: auto
		e.envs = saved
		for range 20 {
			w.txn(ctx) // the source goes on meanwhile
		}
		err := cmd.Wait()
		if !killedBySignal(err) {
			t.Fatalf("fault %s during the snapshot: the daemon ended with %v, want killed by its fault", fault, err)
		}
		r := runBinary(t, e.envs, "", "tables", "-c", e.config, "--format", "json")
		if r.code != 0 || r.out != "" {
			t.Fatalf("after a kill at %s the lake lists tables (exit %d):\n%s", fault, r.code, r.out)
		}
	}
	cmd := e.ingest() // the snapshot again, then the binlog
	for range 100 {
		w.txn(ctx)
	}
	waitForGTID(t, store, w.moments[len(w.moments)-1].gtid, 60*time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	var after []moment
	for _, m := range w.moments {
		if _, err := l.AtGTID(ctx, m.gtid); errors.Is(err, tableformat.ErrBeforeHistory) {
			continue
		}
		after = append(after, m)
	}
	// The writes ran while the snapshot was taken: some are in it, the
	// rest after it, the last one included.
	if len(after) == 0 || after[len(after)-1].gtid != w.moments[len(w.moments)-1].gtid {
		t.Fatalf("%d of %d transactions after the snapshot: want the ones after it, the last included", len(after), len(w.moments))
	}
	t.Logf("the snapshot caught %d transactions; %d came after it", len(w.moments)-len(after), len(after))
	w.moments = after
	w.check(store)
}
