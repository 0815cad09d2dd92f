package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// resnapshotReason is the reason `binlake resnapshot` gives its requests.
const resnapshotReason = "binlake resnapshot"

// resnapshotPoll is how often `binlake resnapshot` reads the lake's
// progress; resnapshotIdleHint how long without progress before it says
// that no daemon may be running.
const (
	resnapshotPoll     = time.Second
	resnapshotIdleHint = 30 * time.Second
)

// tableList is a repeatable --table DB.TABLE flag of names, not patterns:
// a re-snapshot may ask for a table the lake does not hold yet.
type tableList []string

func (t *tableList) String() string { return strings.Join(*t, ",") }

func (t *tableList) Set(s string) error {
	db, name, ok := strings.Cut(s, ".")
	if !ok || db == "" || name == "" {
		return fmt.Errorf("%q: give a table as DB.TABLE", s)
	}
	*t = append(*t, s)
	return nil
}

// runResnapshot asks the lake's ingest daemon to re-read tables from the
// source (docs/snapshot.md): it commits the requests — an entry that no
// running daemon conflicts with, and that opens no replication stream of
// its own — and, unless --no-wait, follows their progress until the daemon
// has committed them.
func runResnapshot(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "resnapshot", "-c binlake.yaml --table DB.TABLE [--table DB.TABLE]... [--no-wait]")
	var tables tableList
	fs.Var(&tables, "table", "a table to re-read from the source (DB.TABLE; repeat for several)")
	noWait := fs.Bool("no-wait", false, "record the requests and return; the ingest daemon performs them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(tables) == 0 {
		return &usageError{"give the tables to re-snapshot with --table DB.TABLE"}
	}
	lk, err := openLake(ctx, env, *cfgPath)
	if err != nil {
		return err
	}
	defer lk.store.Close()
	include := tableFilter(lk.cfg.Source.Include, lk.cfg.Source.Exclude)
	var ops []tableformat.ResnapshotOp
	for _, t := range tables {
		db, name, _ := strings.Cut(t, ".")
		if !include(db, name) {
			return &usageError{fmt.Sprintf("--table %s: the lake does not mirror it (source.include and source.exclude)", t)}
		}
		ops = append(ops, tableformat.ResnapshotOp{Op: tableformat.ResnapshotRequest, DB: db, Name: name, Reason: resnapshotReason})
	}
	st, err := lk.log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindRequest, Resnapshot: ops})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "requested at lake version %d: %s; the ingest daemon reads the tables from the source\n",
		st.Version, strings.Join(tables, ", "))
	if *noWait {
		return nil
	}
	return waitResnapshots(ctx, env.stdout, lk.log, st.Version, tables)
}

// resnapshotProgress says where a re-snapshot in progress stands, from the
// lake's state: whether every chunk is read, the rows and chunks committed.
func resnapshotProgress(read bool, rows int64, chunks int) string {
	switch {
	case read:
		return fmt.Sprintf("read (%d rows in %d chunks); comparing with the lake", rows, chunks)
	case chunks > 0:
		return fmt.Sprintf("reading: %d rows in %d chunks", rows, chunks)
	}
	return "waiting for the ingest daemon"
}

// waitResnapshots follows the re-snapshots of tables requested at version
// from until each is committed or cancelled, printing their progress.
func waitResnapshots(ctx context.Context, w io.Writer, l *tableformat.Log, from int64, tables []string) error {
	last := map[string]string{}
	ended := map[string]bool{}
	lastChange, hinted := time.Now(), false
	seen := from
	var failed []string
	for len(ended) < len(tables) {
		st, err := l.Latest(ctx)
		if err != nil {
			return err
		}
		// How the re-snapshots that left the state ended.
		for v := seen + 1; v <= st.Version; v++ {
			e, err := l.Entry(ctx, v)
			if err != nil {
				return err
			}
			for _, op := range e.Resnapshot {
				name := op.DB + "." + op.Name
				switch {
				case ended[name] || !slices.Contains(tables, name):
				case op.Op == tableformat.ResnapshotDone:
					ended[name] = true
					fmt.Fprintf(w, "%s: committed at lake version %d: %d row changes\n", name, v, e.Progress.MaxSeq-e.Progress.PrevSeq)
				case op.Op == tableformat.ResnapshotCancel:
					ended[name] = true
					failed = append(failed, name)
					fmt.Fprintf(w, "%s: cancelled at lake version %d: %s\n", name, v, op.Reason)
				}
			}
		}
		seen = st.Version
		for _, t := range tables {
			db, name, _ := strings.Cut(t, ".")
			j, ok := st.Resnapshot(db, name)
			if !ok || ended[t] {
				continue
			}
			line := resnapshotProgress(j.Read(), j.Rows(), len(j.Chunks))
			if last[t] != line {
				fmt.Fprintf(w, "%s: %s\n", t, line)
				last[t], lastChange, hinted = line, time.Now(), false
			}
		}
		if len(ended) == len(tables) {
			break
		}
		if !hinted && time.Since(lastChange) > resnapshotIdleHint {
			fmt.Fprintf(w, "no progress for %v: is `binlake ingest` running? The requests stay in the lake until it performs them\n",
				resnapshotIdleHint)
			hinted = true
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(w, "stopped waiting; the requests stay in the lake and the ingest daemon performs them")
			return ctx.Err()
		case <-time.After(resnapshotPoll):
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("not re-snapshotted: %s", strings.Join(failed, ", "))
	}
	return nil
}
