package tableformat

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Retention says where a lake's retained history starts (FORMAT.md §13):
// points whose change sequence is below FromSeq are outside retention, and
// vacuum may have deleted the files they need. FromTime is the time the
// vacuum that set it kept history from: "as of" any time at or after it
// resolves inside retention.
type Retention struct {
	FromSeq int64 `json:"from_seq"`
	// FromTime is UTC with microseconds, like an entry's commit time.
	FromTime time.Time `json:"from_time"`
}

// ErrOutsideRetention is returned for a point whose history vacuum has
// removed. The error is an *OutsideRetentionError.
var ErrOutsideRetention = errors.New("outside retention")

// OutsideRetentionError names the point asked for and where the lake's
// retained history starts.
type OutsideRetentionError struct {
	// Point describes what was asked for: "version 12", "time …", ….
	Point     string
	Retention Retention
}

func (e *OutsideRetentionError) Error() string {
	return fmt.Sprintf("as of %s: %v: the lake keeps history from %s (seq %d); vacuum removed older files",
		e.Point, ErrOutsideRetention, e.Retention.FromTime.UTC().Format(time.RFC3339Nano), e.Retention.FromSeq)
}

// Unwrap makes errors.Is(err, ErrOutsideRetention) hold.
func (e *OutsideRetentionError) Unwrap() error { return ErrOutsideRetention }

// validateShape checks the retention of entry e against the entry alone.
func (r *Retention) validateShape(e *Entry) error {
	switch {
	case e.Kind != KindVacuum:
		return fmt.Errorf("retention belongs to vacuum entries only, not %s", e.Kind)
	case r.FromSeq < 1 || r.FromSeq > e.Progress.MaxSeq:
		return fmt.Errorf("retention from sequence %d, outside 1…%d", r.FromSeq, e.Progress.MaxSeq)
	case r.FromTime.IsZero():
		return errors.New("retention without a time")
	}
	return nil
}

// applyRetention is the fold's rule for retention: a vacuum entry moves it
// forward, never back, and a rewind may not set the lake back to a point
// outside it.
func (a *applier) applyRetention(e *Entry) error {
	n := a.st
	cur := n.Retention
	if e.Kind == KindRewind && cur != nil && e.Progress.MaxSeq < cur.FromSeq {
		return fmt.Errorf("rewind to version %d (sequence %d) is outside retention (the lake keeps history from sequence %d)",
			e.Rewind.ToVersion, e.Progress.MaxSeq, cur.FromSeq)
	}
	if e.Retention == nil {
		return nil
	}
	r := *e.Retention
	if cur != nil && (r.FromSeq < cur.FromSeq || r.FromTime.Before(cur.FromTime)) {
		return fmt.Errorf("retention from sequence %d (%s) moves back from sequence %d (%s)",
			r.FromSeq, r.FromTime.UTC().Format(time.RFC3339Nano), cur.FromSeq, cur.FromTime.UTC().Format(time.RFC3339Nano))
	}
	n.Retention = &r
	return nil
}

// pointAt returns the point (v, seq) for a reader, given the latest state
// (FORMAT.md §11): a version in the latest state's lineage is read through
// the latest state itself, which restricted to sequences up to seq gives the
// same answer (files are only added with higher sequences, and compaction
// and vacuum never change an answer inside retention) while the version's
// own files may have been vacuumed; such a point is outside retention when
// seq is below the retention's sequence. A version rewound away keeps its
// own state, and is outside retention when it was committed before the
// retention's time.
func (l *Log) pointAt(ctx context.Context, latest *State, v, seq int64, what string) (Point, error) {
	ret := latest.Retention
	if latest.inLineage(v) {
		if ret != nil && seq < ret.FromSeq {
			return Point{}, &OutsideRetentionError{Point: what, Retention: *ret}
		}
		if err := latest.checkPoint(seq, what); err != nil {
			return Point{}, err
		}
		return Point{Version: v, Seq: seq, State: latest}, nil
	}
	st, err := l.StateAt(ctx, v)
	if err != nil {
		return Point{}, err
	}
	if ret != nil && st.CommitTime.Before(ret.FromTime) {
		return Point{}, &OutsideRetentionError{Point: what, Retention: *ret}
	}
	if err := st.checkPoint(seq, what); err != nil {
		return Point{}, err
	}
	return Point{Version: v, Seq: seq, State: st}, nil
}
