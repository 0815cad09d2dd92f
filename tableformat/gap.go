package tableformat

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A gap is a stretch of a lake's history that does not mirror the source
// (FORMAT.md §16): the source purged binlog the lake had not read, the
// writer went on from the source's current position, and re-read every
// table. Points inside a gap are refused; the lake is whole again once every
// table the gap names is re-snapshotted.

// Gap is a stretch of history the lake does not have.
type Gap struct {
	// AfterSeq is the last sequence whose state mirrors the source: the
	// lake's max_seq when the binlog was found purged.
	AfterSeq int64 `json:"after_seq"`
	// UntilSeq is the first sequence whose state mirrors the source again
	// (the entry that ended the last re-snapshot it waited for); 0 while
	// the gap is open.
	UntilSeq int64 `json:"until_seq,omitempty"`
	// From is the position the lake could not read from; To the position
	// it went on from. FromTime and ToTime are the lake's effective source
	// times there (µs): the last one it had, and the source's clock when it
	// went on.
	From     Position `json:"from"`
	To       Position `json:"to"`
	FromTime int64    `json:"from_time"`
	ToTime   int64    `json:"to_time"`
	// Reason says why.
	Reason string `json:"reason"`
	// Pending lists the tables (db.name) whose re-snapshot the gap waits
	// for.
	Pending []string `json:"pending,omitempty"`
}

// Open reports whether the gap waits for re-snapshots.
func (g *Gap) Open() bool { return g.UntilSeq == 0 }

// Holds reports whether sequence seq lies inside the gap.
func (g *Gap) Holds(seq int64) bool { return seq > g.AfterSeq && (g.Open() || seq < g.UntilSeq) }

// GapOpen is an entry's `gap`: the entry moves the position past binlog
// the source no longer has, and opens a gap until the tables it names are
// re-snapshotted (the entry requests them).
type GapOpen struct {
	Reason string   `json:"reason"`
	Tables []string `json:"tables"`
}

// ErrInGap is returned for a point inside a gap of the lake's history.
var ErrInGap = errors.New("inside a gap in the lake's history")

// GapError names the point asked for and the gap it falls in.
type GapError struct {
	Point string
	Gap   Gap
}

func (e *GapError) Error() string {
	g := e.Gap
	msg := fmt.Sprintf("as of %s: %v: %s; the lake went on from %s. Points up to sequence %d (the lake at %s) answer",
		e.Point, ErrInGap, g.Reason, g.To, g.AfterSeq, g.From)
	if g.Open() {
		return msg + fmt.Sprintf("; later points answer once the re-snapshot of %s is committed", strings.Join(g.Pending, ", "))
	}
	return msg + fmt.Sprintf(", and from sequence %d on", g.UntilSeq)
}

// Unwrap makes errors.Is(err, ErrInGap) hold.
func (e *GapError) Unwrap() error { return ErrInGap }

// gapAt returns the gap of s that holds seq, if any.
func (s *State) gapAt(seq int64) (Gap, bool) {
	for _, g := range s.Gaps {
		if g.Holds(seq) {
			return g, true
		}
	}
	return Gap{}, false
}

// checkPoint refuses a point inside a gap of s.
func (s *State) checkPoint(seq int64, what string) error {
	if g, ok := s.gapAt(seq); ok {
		return &GapError{Point: what, Gap: g}
	}
	return nil
}

func (g *GapOpen) validateShape(e *Entry) error {
	switch {
	case e.Kind != KindIngest:
		return fmt.Errorf("a gap in a %s entry", e.Kind)
	case len(e.Txns) > 0 || e.Progress.MaxSeq != e.Progress.PrevSeq:
		return errors.New("a gap entry holds no transaction")
	case g.Reason == "":
		return errors.New("a gap without its reason")
	}
	for _, t := range g.Tables {
		db, name, ok := strings.Cut(t, ".")
		if !ok || db == "" || name == "" {
			return fmt.Errorf("gap table %q: want db.name", t)
		}
		if !slices.ContainsFunc(e.Resnapshot, func(op ResnapshotOp) bool {
			return op.Op == ResnapshotRequest && op.DB+"."+op.Name == t
		}) {
			return fmt.Errorf("gap table %s: the entry does not request its re-snapshot", t)
		}
	}
	return nil
}

// applyGaps opens the entry's gap, and closes what its re-snapshots end:
// a gap whose last pending table's re-snapshot ends is whole again from the
// entry's max_seq on.
func (a *applier) applyGaps(e *Entry, before Progress) error {
	n := a.st
	ends := map[string]bool{}
	for _, op := range e.Resnapshot {
		if op.Op == ResnapshotDone || op.Op == ResnapshotCancel {
			ends[op.DB+"."+op.Name] = true
		}
	}
	if e.Gap == nil && len(ends) == 0 {
		return nil
	}
	n.Gaps = slices.Clone(n.Gaps) // shared with the state before
	for i := range n.Gaps {
		g := &n.Gaps[i]
		if !g.Open() {
			continue
		}
		g.Pending = slices.DeleteFunc(slices.Clone(g.Pending), func(t string) bool { return ends[t] })
		if len(g.Pending) == 0 {
			g.Pending, g.UntilSeq = nil, max(e.Progress.MaxSeq, g.AfterSeq+1)
		}
	}
	if e.Gap != nil {
		if err := e.Gap.validateShape(e); err != nil {
			return err
		}
		n.Gaps = append(n.Gaps, Gap{AfterSeq: before.MaxSeq, From: before.Position, To: e.Progress.Position,
			FromTime: before.MaxTS, ToTime: e.Progress.MaxTS, Reason: e.Gap.Reason, Pending: slices.Clone(e.Gap.Tables)})
		if len(e.Gap.Tables) == 0 {
			n.Gaps[len(n.Gaps)-1].UntilSeq = before.MaxSeq + 1
		}
	}
	if len(n.Gaps) == 0 {
		n.Gaps = nil
	}
	return nil
}
