package mysql

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"golang.org/x/sync/errgroup"

	"github.com/binlake/binlake/tableformat"
)

// The initial snapshot of many tables reads them over several connections,
// each in a transaction of the same read view. One transaction that reads
// thousands of tables is slow on the server: every table it opens stays
// locked (metadata lock) and in use until it ends, and each open costs more
// the more it holds (MariaDB 10.11, 10,000 small tables: 48 s in one
// transaction, 14 s split over four, 4 s without a transaction;
// BENCHMARKS.md, "Many tables").
const (
	// tablesPerReader is how many tables justify a reader connection.
	tablesPerReader = 1000
	// maxAutoReaders bounds the readers chosen by the number of tables.
	maxAutoReaders = 4
	// sharedViewAttempts bounds the attempts of binlog_snapshot at
	// starting every reader's transaction at the same binlog position.
	sharedViewAttempts = 5
)

// snapshotReaders is how many connections read a snapshot of n tables:
// configured when positive, else one per tablesPerReader tables up to
// maxAutoReaders; never more than the tables, never less than one.
func snapshotReaders(n, configured int) int {
	if configured <= 0 {
		configured = min(maxAutoReaders, 1+(n-1)/tablesPerReader)
	}
	return max(1, min(configured, n))
}

// setUpSession prepares a connection for a snapshot read.
func setUpSession(conn *client.Conn) error {
	for _, q := range []string{
		SnapshotSessionSetup,
		// A paused consumer must not make the server drop the stream.
		"SET SESSION net_write_timeout = 3600, net_read_timeout = 3600",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	} {
		if _, err := conn.Execute(q); err != nil {
			return fmt.Errorf("snapshot source: %s: %w", q, err)
		}
	}
	return nil
}

// dialReaders opens the n-1 connections that read beside the snapshot
// connection (s.readers; the snapshot connection is the first). They only
// make the read faster: one the server refuses (max_user_connections, …)
// leaves fewer readers, with a warning.
func (s *SnapshotSource) dialReaders(ctx context.Context, n int) {
	for i := 1; i < n; i++ {
		c, err := dial(ctx, s.cfg, "snapshot source (reader)")
		if err == nil {
			if err = setUpSession(c); err != nil {
				c.Close()
			}
		}
		if err != nil {
			s.cfg.Logger.Warn("snapshot: reading with fewer connections", "readers", len(s.readers), "wanted", n, "err", err)
			return
		}
		s.readers = append(s.readers, c)
	}
}

// startReaders starts the consistent read on every reader at once; under
// a lock that holds every commit back (global_read_lock, table_locks) they
// share one read view.
func (s *SnapshotSource) startReaders() error {
	var g errgroup.Group
	for _, c := range s.readers {
		g.Go(func() error {
			if _, err := c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
				return fmt.Errorf("snapshot source: START TRANSACTION WITH CONSISTENT SNAPSHOT: %w", err)
			}
			return nil
		})
	}
	return g.Wait()
}

// startSharedBinlogSnapshot starts the consistent read on every reader at
// once, without a lock, and returns the position the server names for the
// snapshot connection's. Readers whose transaction the server places at the
// same binlog position read what it reads (the same binlogged transactions
// are committed in both: MariaDB takes the read view and the position
// together, in commit order); when a commit lands between the starts, they
// all start again, up to sharedViewAttempts times, after which the readers
// at another position are closed and fewer read.
func (s *SnapshotSource) startSharedBinlogSnapshot() (tableformat.Position, error) {
	for attempt := 1; ; attempt++ {
		pos := make([]tableformat.Position, len(s.readers))
		var g errgroup.Group
		for i, c := range s.readers {
			g.Go(func() (err error) {
				pos[i], err = startBinlogSnapshot(c, s.cfg)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return tableformat.Position{}, err
		}
		var keep []*client.Conn
		for i, c := range s.readers {
			if pos[i] == pos[0] {
				keep = append(keep, c)
			}
		}
		if len(keep) == len(s.readers) {
			return pos[0], nil
		}
		if attempt == sharedViewAttempts {
			s.cfg.Logger.Info("snapshot: commits kept the readers from sharing a read view; reading with fewer",
				"readers", len(keep), "wanted", len(s.readers), "attempts", attempt)
			for i, c := range s.readers {
				if pos[i] != pos[0] {
					c.Close() // ends its transaction
				}
			}
			s.readers = keep
			return pos[0], nil
		}
		if err := s.rollbackReaders(); err != nil {
			return tableformat.Position{}, err
		}
	}
}

// rollbackReaders ends every reader's transaction.
func (s *SnapshotSource) rollbackReaders() error {
	for _, c := range s.readers {
		if _, err := c.Execute("ROLLBACK"); err != nil {
			return fmt.Errorf("snapshot source: end the consistent read: %w", err)
		}
	}
	return nil
}

// closeReaders closes the readers beside the snapshot connection.
func (s *SnapshotSource) closeReaders() {
	for _, c := range s.readers[min(1, len(s.readers)):] {
		c.Close()
	}
}

// read streams every table over the readers, in the reader goroutine: each
// reader takes the next table not taken yet; the items go out in table
// order, so the lake's table ids follow the tables' order whatever the
// readers' speed. A reader blocks once it holds one chunk that is not its
// table's turn yet, so at most one chunk per reader waits in memory.
func (s *SnapshotSource) read() error {
	outs := make([]chan snapshotItem, len(s.plans))
	for i := range outs {
		outs[i] = make(chan snapshotItem)
	}
	quit := make(chan struct{})
	var taken atomic.Int64
	take := func() int { return int(taken.Add(1) - 1) }
	s.readStart.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	for r, c := range s.readers {
		wg.Go(func() { s.readTables(c, &s.current[r], take, outs, quit) })
	}
	defer func() {
		close(quit)
		wg.Wait()
	}()
	lastLog := time.Now()
	for i := range s.plans {
		for {
			var it snapshotItem
			var ok bool
			select {
			case it, ok = <-outs[i]:
			case <-s.stop:
				return nil
			}
			if !ok {
				break
			}
			if it.err != nil {
				return it.err
			}
			select {
			case s.items <- it:
			case <-s.stop:
				return nil
			}
			if now := time.Now(); now.Sub(lastLog) >= progressEvery {
				lastLog = now
				s.logProgress("snapshot progress", false)
			}
		}
	}
	s.logProgress("snapshot read", true)
	return nil
}

// readTables is one reader: it reads the tables take hands it until none
// is left, each table's items into its channel of outs (closed after the
// table), then ends its transaction (the snapshot connection stays open
// until Close). current holds the table it reads, for Progress.
func (s *SnapshotSource) readTables(conn *client.Conn, current *atomic.Pointer[snapshotTable], take func() int, outs []chan snapshotItem,
	quit <-chan struct{}) {
	defer current.Store(nil)
	for {
		i := take()
		if i >= len(s.plans) {
			break
		}
		p := s.plans[i]
		current.Store(p)
		err := s.readTable(conn, p, outs[i], quit)
		if tableGone(err) && p.rows.Load() == 0 {
			// Dropped after the snapshot's position and before its first
			// read (once read, the transaction's metadata lock holds a
			// DROP back). Its rows can no longer be read: the lake has no
			// history of the table between the snapshot's position and
			// the DROP that follows in the binlog.
			s.cfg.Logger.Warn("snapshot: table dropped before it was read, skipped", "table", p.table.DB+"."+p.table.Name)
			err = nil
		}
		if err == nil {
			s.tablesDone.Add(1)
		}
		if err != nil && !errors.Is(err, errSnapshotStopped) {
			select {
			case outs[i] <- snapshotItem{err: err}:
			case <-quit:
			case <-s.stop:
			}
		}
		close(outs[i])
		if err != nil {
			return
		}
	}
	if _, err := conn.Execute("ROLLBACK"); err != nil {
		s.cfg.Logger.Warn("snapshot: end a reader's consistent read; closing it", "err", err)
		conn.Close()
	}
}
