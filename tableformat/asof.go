package tableformat

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Point is a resolved "as of" point (FORMAT.md §11): read the state of Version,
// keeping only changes whose sequence is at most Seq. Seq always falls on a
// source transaction boundary.
type Point struct {
	Version int64
	Seq     int64
	State   *State
}

// ErrBeforeHistory is returned for a point before the lake's first change.
var ErrBeforeHistory = errors.New("before the lake's history")

// Every At* method returns an *OutsideRetentionError (wrapping
// ErrOutsideRetention) for a point whose history vacuum has removed, and
// resolves a version of the latest state's lineage to a Point whose State is
// the latest state (retention.go, pointAt).

// AtLatest resolves the newest point.
func (l *Log) AtLatest(ctx context.Context) (Point, error) {
	st, err := l.Latest(ctx)
	if err != nil {
		return Point{}, err
	}
	return l.pointAt(ctx, st, st.Version, st.Progress.MaxSeq, "the latest version")
}

// AtVersion resolves everything version v made visible.
func (l *Log) AtVersion(ctx context.Context, v int64) (Point, error) {
	latest, err := l.Latest(ctx)
	if err != nil {
		return Point{}, err
	}
	if v < 1 || v > latest.Version {
		return Point{}, fmt.Errorf("version %d (the lake has 1…%d): %w", v, latest.Version, ErrVersionNotFound)
	}
	e, err := l.Entry(ctx, v)
	if err != nil {
		return Point{}, err
	}
	return l.pointAt(ctx, latest, v, e.Progress.MaxSeq, fmt.Sprintf("version %d", v))
}

// AtTime resolves "as of T": every source transaction whose effective
// commit time (the running maximum of the source's commit times) is at or
// before t.
func (l *Log) AtTime(ctx context.Context, t time.Time) (Point, error) {
	us := t.UnixMicro()
	return l.resolve(ctx, fmt.Sprintf("time %s", t.UTC().Format(time.RFC3339Nano)),
		func(p Progress) (bool, error) { return p.MaxTS <= us, nil },
		func(m TxnMark, _ bool) (bool, error) { return m.TS <= us, nil },
		func(g Gap) (bool, error) { return g.FromTime < us && us < g.ToTime, nil })
}

// AtGTID resolves "as of GTID set G": the longest run of source transactions,
// in binlog order, whose GTIDs are all in G.
func (l *Log) AtGTID(ctx context.Context, set string) (Point, error) {
	g, err := ParseGTIDSet(set)
	if err != nil {
		return Point{}, err
	}
	return l.resolve(ctx, "gtid set "+set,
		func(p Progress) (bool, error) {
			have, err := ParseGTIDSet(p.Position.GTIDSet)
			if err != nil {
				return false, err
			}
			return g.ContainsSet(have)
		},
		func(m TxnMark, boundary bool) (bool, error) {
			if m.GTID == "" {
				// Table changes written between two transactions (a
				// re-snapshot's structure) sit at the position of the
				// transaction before them, which is in G. Any other
				// mark without a GTID — an initial snapshot, a source
				// without GTIDs — is in G only with its whole entry,
				// whose end position is already outside G.
				return boundary, nil
			}
			return g.ContainsGTID(m.GTID)
		},
		// Past the gap's start but short of its end: transactions the
		// lake does not have.
		func(gap Gap) (bool, error) {
			from, err1 := ParseGTIDSet(gap.From.GTIDSet)
			to, err2 := ParseGTIDSet(gap.To.GTIDSet)
			if err := errors.Join(err1, err2); err != nil || gap.From.GTIDSet == "" || gap.To.GTIDSet == "" {
				return false, err
			}
			before, err1 := from.ContainsSet(g)
			after, err2 := g.ContainsSet(to)
			return !before && !after, errors.Join(err1, err2)
		})
}

// AtFilePos resolves "as of binlog position FILE:POS": every source
// transaction that ended at or before it.
func (l *Log) AtFilePos(ctx context.Context, file string, pos uint64) (Point, error) {
	before := func(f string, p uint64) (bool, error) {
		if f == "" {
			return true, nil
		}
		c, err := CompareFilePos(f, p, file, pos)
		return c <= 0, err
	}
	return l.resolve(ctx, fmt.Sprintf("binlog position %s:%d", file, pos),
		func(p Progress) (bool, error) { return before(p.Position.File, p.Position.Pos) },
		func(m TxnMark, _ bool) (bool, error) {
			if m.File == "" {
				return false, errors.New("the lake recorded no binlog positions for its transactions: resolve by time or GTID")
			}
			return before(m.File, m.Pos)
		},
		func(g Gap) (bool, error) {
			if g.From.File == "" || g.To.File == "" {
				return false, nil
			}
			a, err1 := CompareFilePos(g.From.File, g.From.Pos, file, pos)
			b, err2 := CompareFilePos(file, pos, g.To.File, g.To.Pos)
			return a < 0 && b < 0, errors.Join(err1, err2)
		})
}

// resolve finds the point where the lake's history stops satisfying a
// monotone predicate: within(p) says every transaction up to progress p is
// inside the point; txnIn says one transaction is, told whether the mark is
// at the binlog position of the one before it (a boundary mark: changes
// written between two transactions, FORMAT.md §11). inGap says the point
// names the source inside a gap of the history (FORMAT.md §16): between its
// last transaction before the gap and the source's position where the lake
// went on, where the lake lacks transactions.
func (l *Log) resolve(ctx context.Context, what string, within func(Progress) (bool, error), txnIn func(m TxnMark, boundary bool) (bool, error),
	inGap func(Gap) (bool, error)) (Point, error) {
	latest, err := l.Latest(ctx)
	if err != nil {
		return Point{}, err
	}
	for _, g := range latest.Gaps {
		in, err := inGap(g)
		if err != nil {
			return Point{}, fmt.Errorf("resolve %s: %w", what, err)
		}
		if in {
			return Point{}, &GapError{Point: what, Gap: g}
		}
	}
	var versions []int64
	for _, r := range latest.Lineage {
		for v := r.From; v <= r.To; v++ {
			versions = append(versions, v)
		}
	}
	// The first version (in history order) that reaches past the point.
	var searchErr error
	i := sort.Search(len(versions), func(i int) bool {
		if searchErr != nil {
			return true
		}
		e, err := l.Entry(ctx, versions[i])
		if err != nil {
			searchErr = err
			return true
		}
		ok, err := within(e.Progress)
		if err != nil {
			searchErr = err
		}
		return !ok
	})
	if searchErr != nil {
		return Point{}, fmt.Errorf("resolve %s: %w", what, searchErr)
	}
	if i == len(versions) {
		return l.pointAt(ctx, latest, latest.Version, latest.Progress.MaxSeq, what)
	}
	e, err := l.Entry(ctx, versions[i])
	if err != nil {
		return Point{}, err
	}
	// The position before the entry's first mark: the end of the entry
	// before it, which is inside the point.
	var prev Position
	if i > 0 {
		pe, err := l.Entry(ctx, versions[i-1])
		if err != nil {
			return Point{}, err
		}
		prev = pe.Progress.Position
	}
	seq := e.Progress.PrevSeq
	for _, m := range e.Txns {
		boundary := m.File != "" && m.File == prev.File && m.Pos == prev.Pos
		ok, err := txnIn(m, boundary)
		if err != nil {
			return Point{}, fmt.Errorf("resolve %s: %w", what, err)
		}
		if !ok {
			break
		}
		seq = m.Seq
		prev.File, prev.Pos = m.File, m.Pos
	}
	v := versions[i]
	if seq == e.Progress.PrevSeq {
		if i == 0 {
			return Point{}, fmt.Errorf("%s: %w", what, ErrBeforeHistory)
		}
		v = versions[i-1]
	}
	if seq == 0 {
		return Point{}, fmt.Errorf("%s comes before the lake's first change: %w", what, ErrBeforeHistory)
	}
	return l.pointAt(ctx, latest, v, seq, what)
}
