package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/binlake/binlake/tableformat"
)

// StartPoint is where a user asked ingest to start: a binlog position or a
// GTID set (one of the two).
type StartPoint struct {
	File string
	Pos  uint64
	GTID string
}

// StringPos renders a binlog start point as FILE:POS ("" for a GTID).
func (p StartPoint) StringPos() string {
	if p.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", p.File, p.Pos)
}

func (p StartPoint) String() string {
	if p.GTID != "" {
		return "gtid " + p.GTID
	}
	return fmt.Sprintf("position %s:%d", p.File, p.Pos)
}

// Rewind prepares a lake for a replay from start (docs/design.md, Ingest): on a lake
// with no source progress yet it does nothing and returns the position to
// open the source at (start itself); on a lake that has got past start it
// commits a rewind to the newest version at or before start — history is
// kept — and returns that version's position, from which the source must be
// opened. A lake that has not reached start is an error: a gap would lose
// changes.
func Rewind(ctx context.Context, log *tableformat.Log, start StartPoint) (tableformat.Position, error) {
	st, err := log.Latest(ctx)
	if err != nil {
		return tableformat.Position{}, err
	}
	startPos := tableformat.Position{GTIDSet: start.GTID, File: start.File, Pos: start.Pos}
	if st.Progress.Position.IsZero() {
		return startPos, Begin(ctx, log, startPos)
	}
	var p tableformat.Point
	if start.GTID != "" {
		p, err = log.AtGTID(ctx, start.GTID)
	} else {
		p, err = log.AtFilePos(ctx, start.File, start.Pos)
	}
	if errors.Is(err, tableformat.ErrBeforeHistory) {
		// No change of the lake is at or before start: back to the lake's
		// beginning (Begin's commit), if it is not after start.
		p, err = log.AtVersion(ctx, firstPositioned(st))
		var first *tableformat.State
		if err == nil {
			first, err = log.StateAt(ctx, p.Version)
		}
		if err == nil && !reaches(tableformat.Position{GTIDSet: start.GTID, File: start.File, Pos: start.Pos}, StartPoint{
			GTID: first.Progress.Position.GTIDSet, File: first.Progress.Position.File, Pos: first.Progress.Position.Pos}) {
			return tableformat.Position{}, fmt.Errorf("%s is before the position this lake started from (%s): "+
				"create a new lake to start earlier", start, first.Progress.Position)
		}
	}
	if err != nil {
		return tableformat.Position{}, fmt.Errorf("rewind to %s: %w", start, err)
	}
	if p.Version == st.Version && p.Seq == st.Progress.MaxSeq {
		if !reaches(st.Progress.Position, start) {
			return tableformat.Position{}, fmt.Errorf("the lake stands at %s, before %s: starting there would skip the changes between; "+
				"resume without --start-position/--start-gtid, or start from an earlier point", st.Progress.Position, start)
		}
		return st.Progress.Position, nil // the lake is exactly at start
	}
	// The point may fall inside a commit: go back to the commit boundary
	// before it, so no commit is split. The point's State is the latest
	// state when its version is in the latest lineage: the rewind needs the
	// version's own.
	target, err := log.StateAt(ctx, p.Version)
	if err != nil {
		return tableformat.Position{}, err
	}
	if p.Seq != target.Progress.MaxSeq {
		prev, err := previousInLineage(st, p.Version)
		if err != nil {
			return tableformat.Position{}, err
		}
		if target, err = log.StateAt(ctx, prev); err != nil {
			return tableformat.Position{}, err
		}
	}
	if target.Progress.Position.IsZero() {
		return tableformat.Position{}, fmt.Errorf("%s is before the position this lake started from (version %d): "+
			"its history cannot be replayed from there; create a new lake to start earlier", start, firstPositioned(st))
	}
	if err := filesPresent(ctx, log.Store(), target); err != nil {
		return tableformat.Position{}, fmt.Errorf("rewind to version %d: %w", target.Version, err)
	}
	resnaps, err := keptResnapshots(ctx, log.Store(), target.Resnapshots)
	if err != nil {
		return tableformat.Position{}, fmt.Errorf("rewind to version %d: %w", target.Version, err)
	}
	if _, err := log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindRewind,
		Rewind: &tableformat.RewindInfo{ToVersion: target.Version, Tables: target.Images(), Resnapshots: resnaps,
			Gaps: target.Gaps},
		Progress: target.Progress,
		Info:     map[string]string{"requested": start.String()}}); err != nil {
		return tableformat.Position{}, fmt.Errorf("rewind to version %d: %w", target.Version, err)
	}
	return target.Progress.Position, nil
}

// Begin records where a new lake starts reading the source: a commit with
// no changes whose progress holds start. A later rewind to a point before
// the lake's first change then resumes from start. It does nothing on a lake
// that already has a position.
func Begin(ctx context.Context, log *tableformat.Log, start tableformat.Position) error {
	st, err := log.Latest(ctx)
	if err != nil {
		return err
	}
	if !st.Progress.Position.IsZero() {
		return nil
	}
	if start.IsZero() {
		return errors.New("begin: no start position")
	}
	_, err = log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindIngest,
		Progress: tableformat.Progress{Position: start, PrevSeq: st.Progress.MaxSeq, MaxSeq: st.Progress.MaxSeq, MaxTS: st.Progress.MaxTS},
		Info:     map[string]string{"begin": start.String()}})
	return err
}

// reaches reports whether the lake's position is at or past start (for the
// flavour start names).
func reaches(pos tableformat.Position, start StartPoint) bool {
	if start.GTID != "" {
		have, err1 := tableformat.ParseGTIDSet(pos.GTIDSet)
		want, err2 := tableformat.ParseGTIDSet(start.GTID)
		ok, err3 := have.ContainsSet(want)
		return err1 == nil && err2 == nil && err3 == nil && ok
	}
	c, err := tableformat.CompareFilePos(pos.File, pos.Pos, start.File, start.Pos)
	return err == nil && c >= 0
}

// firstPositioned returns the first version of st's history after the
// create (the one that recorded where the lake started), or 1.
func firstPositioned(st *tableformat.State) int64 {
	if len(st.Lineage) > 0 && st.Lineage[0].To >= 2 {
		return 2
	}
	return 1
}

// previousInLineage returns the version before v in st's history.
func previousInLineage(st *tableformat.State, v int64) (int64, error) {
	var prev int64
	for _, r := range st.Lineage {
		for x := r.From; x <= r.To; x++ {
			if x == v {
				if prev == 0 {
					return 0, fmt.Errorf("version %d has no earlier version to rewind to", v)
				}
				return prev, nil
			}
			prev = x
		}
	}
	return 0, fmt.Errorf("version %d is not in the lake's history", v)
}

// filesPresent checks that the store still holds every file st names: a
// rewind to a version whose files vacuum has deleted (once compaction
// replaced them) would name missing files.
// keptResnapshots returns the re-snapshots in progress at the rewind's
// target as the rewind restores them: each with its chunks while their
// files are in storage, else from its start (no chunks). Chunk files are
// no reader's: vacuum deletes them once their re-snapshot has ended, and
// the re-read costs time, never rows.
func keptResnapshots(ctx context.Context, store tableformat.Store, jobs []tableformat.ResnapshotJob) ([]tableformat.ResnapshotJob, error) {
	out := slices.Clone(jobs)
	for i := range out {
		var missing bool
		for _, c := range out[i].Chunks {
			for _, f := range c.Files {
				_, err := store.Stat(ctx, f.Path)
				if tableformat.IsNotExist(err) {
					missing = true
				} else if err != nil {
					return nil, fmt.Errorf("check %s: %w", f.Path, err)
				}
			}
		}
		if missing {
			out[i].Chunks = nil
		}
	}
	return out, nil
}

func filesPresent(ctx context.Context, store tableformat.Store, st *tableformat.State) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, t := range st.SortedTables() {
		for _, f := range t.SortedFiles() {
			g.Go(func() error {
				_, err := store.Stat(gctx, f.Path)
				if tableformat.IsNotExist(err) {
					return fmt.Errorf("its file %s is no longer in storage (vacuum deleted it after compaction replaced it): "+
						"rewind to a later point, or replay into a new lake", f.Path)
				}
				if err != nil {
					return fmt.Errorf("check %s: %w", f.Path, err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}
