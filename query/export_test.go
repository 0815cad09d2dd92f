package query

import (
	"context"
	"database/sql"
	"errors"
)

// Hooks into the package's internals for BenchmarkQuery (bench_test.go),
// which is an external test: the benchmark lake it reads, query/benchlake,
// imports this package.

// LocalViewsForTest is the number of the session's views that read a local
// snapshot.
func (s *Session) LocalViewsForTest() int { return s.localViews }

// PendingForTest is the number of local snapshots the session waits for.
func (s *Session) PendingForTest() int { return len(s.pending) }

// WaitLocalForTest waits until the session's first pending local snapshot
// is written and returns its path.
func (s *Session) WaitLocalForTest() (string, error) {
	if len(s.pending) == 0 {
		return "", errors.New("no local snapshot under way")
	}
	pv := s.pending[0]
	<-pv.b.done
	return pv.dst, pv.b.err
}

// CheckForTest runs the statement gate alone.
func (s *Session) CheckForTest(ctx context.Context, query string) error { return s.check(ctx, query) }

// ScanAllForTest reads and closes rows.
func ScanAllForTest(rows *sql.Rows) ([][]any, error) { return scanAll(rows) }
