package query

import (
	"context"
	"sync"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// DefaultSessionIdle is how long a Pool keeps a session no statement uses.
const DefaultSessionIdle = 5 * time.Minute

// Pool keeps sessions warm between statements, by point: a server asking
// for a session at a point it served before gets one that has bound (and
// fetched) what earlier statements named, instead of a new one. It holds at
// most max idle sessions, closes the least recently used past that, and
// those idle longer than idle. It is safe for concurrent use; each session
// it hands out is used by one caller until Put.
type Pool struct {
	e    *Engine
	max  int
	idle time.Duration
	now  func() time.Time

	mu     sync.Mutex
	free   []pooled // least recently used first
	closed bool
}

type pooled struct {
	s    *Session
	used time.Time
}

// NewPool returns a pool of at most max idle sessions of e, each kept idle
// at most idle (DefaultSessionIdle when 0).
func (e *Engine) NewPool(max int, idle time.Duration) *Pool {
	if idle <= 0 {
		idle = DefaultSessionIdle
	}
	return &Pool{e: e, max: max, idle: idle, now: time.Now}
}

// Get returns an idle session at p (same version and change sequence) or
// opens one.
func (pl *Pool) Get(ctx context.Context, p tableformat.Point) (*Session, error) {
	pl.mu.Lock()
	expired := pl.expireLocked()
	var found *Session
	for i := len(pl.free) - 1; i >= 0; i-- {
		if s := pl.free[i].s; s.Point.Version == p.Version && s.Point.Seq == p.Seq {
			found = s
			pl.free = append(pl.free[:i], pl.free[i+1:]...)
			break
		}
	}
	pl.mu.Unlock()
	for _, s := range expired {
		pl.closeSession(s)
	}
	if found != nil {
		return found, nil
	}
	return pl.e.Open(ctx, p)
}

// Put hands a session back (its rows closed) for reuse, or closes it when
// the pool is closed or keeps no sessions.
func (pl *Pool) Put(s *Session) {
	pl.mu.Lock()
	if pl.closed || pl.max <= 0 {
		pl.mu.Unlock()
		pl.closeSession(s)
		return
	}
	pl.free = append(pl.free, pooled{s: s, used: pl.now()})
	var drop []*Session
	for len(pl.free) > pl.max {
		drop = append(drop, pl.free[0].s)
		pl.free = pl.free[1:]
	}
	drop = append(drop, pl.expireLocked()...)
	pl.mu.Unlock()
	for _, d := range drop {
		pl.closeSession(d)
	}
}

// Close closes the idle sessions; sessions handed out are closed by Put.
func (pl *Pool) Close() {
	pl.mu.Lock()
	pl.closed = true
	free := pl.free
	pl.free = nil
	pl.mu.Unlock()
	for _, f := range free {
		pl.closeSession(f.s)
	}
}

// expireLocked removes the sessions idle longer than pl.idle and returns
// them.
func (pl *Pool) expireLocked() []*Session {
	var out []*Session
	cut := pl.now().Add(-pl.idle)
	keep := pl.free[:0]
	for _, f := range pl.free {
		if f.used.Before(cut) {
			out = append(out, f.s)
		} else {
			keep = append(keep, f)
		}
	}
	pl.free = keep
	return out
}

func (pl *Pool) closeSession(s *Session) {
	if err := s.Close(); err != nil {
		pl.e.opts.Logger.Warn("query session close failed", "err", err)
	}
}
