package mysql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlake/binlake/tableformat"
)

// SnapshotStrategy is how the initial snapshot makes its consistent read
// correspond to a binlog position (SourceConfig.SnapshotStrategy). See
// SnapshotSource for what each one needs and holds.
type SnapshotStrategy string

// The snapshot strategies.
const (
	// SnapshotAuto (or ""): binlog_snapshot on MariaDB; on MySQL
	// global_read_lock when the user may take it, else table_locks.
	SnapshotAuto SnapshotStrategy = "auto"
	// SnapshotBinlogSnapshot: no lock; the server names the position of
	// the consistent read (MariaDB, and Percona Server for MySQL).
	SnapshotBinlogSnapshot SnapshotStrategy = "binlog_snapshot"
	// SnapshotGlobalReadLock: FLUSH TABLES WITH READ LOCK for the few
	// statements that start the read and read the position (RELOAD).
	SnapshotGlobalReadLock SnapshotStrategy = "global_read_lock"
	// SnapshotTableLocks: LOCK TABLES … READ on the mirrored tables, from
	// a second connection, for the same few statements (LOCK TABLES).
	SnapshotTableLocks SnapshotStrategy = "table_locks"
)

// SnapshotStrategies lists the values SourceConfig.SnapshotStrategy takes.
var SnapshotStrategies = []SnapshotStrategy{SnapshotAuto, SnapshotBinlogSnapshot, SnapshotGlobalReadLock, SnapshotTableLocks}

// ParseSnapshotStrategy parses a configured strategy; "" is auto.
func ParseSnapshotStrategy(s string) (SnapshotStrategy, error) {
	v := SnapshotStrategy(strings.ToLower(strings.TrimSpace(s)))
	if v == "" {
		return SnapshotAuto, nil
	}
	if slices.Contains(SnapshotStrategies, v) {
		return v, nil
	}
	return "", fmt.Errorf("snapshot strategy %q: want auto, binlog_snapshot, global_read_lock or table_locks", s)
}

// ErrSnapshotPrivilege reports that the source user may take none of the
// locks a consistent snapshot needs on this server; the message names the
// grant to add.
var ErrSnapshotPrivilege = errors.New("the source user lacks the privilege for a consistent snapshot")

// snapshotLockTimeout bounds the wait for a snapshot lock
// (lock_wait_timeout of the locking session): a long-running statement
// makes FLUSH TABLES WITH READ LOCK wait, and writers queue behind the
// waiting lock, so the snapshot gives up rather than stall the server.
var snapshotLockTimeout = 10 * time.Second

// maxTableLockAttempts bounds the retries of table_locks when the set of
// mirrored tables changes while the locks are taken.
const maxTableLockAttempts = 3

// testHookLocked, when set, runs while a snapshot lock is held, after the
// consistent read started and before the position is read (tests).
var testHookLocked func(SnapshotStrategy)

// errTableSetChanged: a mirrored table appeared or vanished between listing
// the tables and locking them (table_locks): take the locks again.
var errTableSetChanged = errors.New("the set of mirrored tables changed while it was being locked")

// pin starts the consistent read and sets s.pos to its binlog position,
// with the configured or automatic strategy. For table_locks it returns the
// tables it locked: the planned tables must be among them.
func (s *SnapshotSource) pin(ctx context.Context) (map[string]bool, error) {
	st := s.cfg.SnapshotStrategy
	if st == "" {
		st = SnapshotAuto
	}
	if _, err := ParseSnapshotStrategy(string(st)); err != nil {
		return nil, fmt.Errorf("snapshot source: %w", err)
	}
	if st == SnapshotAuto && s.cfg.Flavor == gomysql.MariaDBFlavor {
		st = SnapshotBinlogSnapshot
	}
	switch st {
	case SnapshotBinlogSnapshot:
		s.strategy = st
		return nil, s.pinBinlogSnapshot()
	case SnapshotGlobalReadLock:
		s.strategy = st
		err := s.pinGlobalReadLock(ctx)
		if isAccessDenied(err) {
			return nil, fmt.Errorf("%w: %w: GRANT RELOAD ON *.* TO %s (or use snapshot strategy table_locks, which needs LOCK TABLES)",
				err, ErrSnapshotPrivilege, grantee(s.cfg))
		}
		return nil, err
	case SnapshotTableLocks:
		s.strategy = st
		locked, err := s.pinTableLocks(ctx)
		if isAccessDenied(err) {
			return nil, fmt.Errorf("%w: %w: GRANT LOCK TABLES ON *.* TO %s (or on each mirrored database)",
				err, ErrSnapshotPrivilege, grantee(s.cfg))
		}
		return locked, err
	}
	// Auto on MySQL: the global read lock when the user may take it (the
	// shortest lock, the same for any number of tables), else table locks.
	// Trying is the surest test of the privilege (roles, partial revokes,
	// managed servers that refuse FLUSH TABLES WITH READ LOCK to everyone).
	s.strategy = SnapshotGlobalReadLock
	errGlobal := s.pinGlobalReadLock(ctx)
	if !isAccessDenied(errGlobal) {
		return nil, errGlobal
	}
	s.cfg.Logger.Warn("snapshot: no global read lock allowed; locking the mirrored tables instead", "err", errGlobal)
	s.strategy = SnapshotTableLocks
	locked, errTables := s.pinTableLocks(ctx)
	if !isAccessDenied(errTables) {
		return locked, errTables
	}
	return nil, fmt.Errorf("snapshot source: user %q may take neither a global read lock (%v) nor table locks (%v): %w: "+
		"GRANT RELOAD ON *.* TO %s (a global read lock held for a few milliseconds at the snapshot's start), "+
		"or GRANT LOCK TABLES ON *.* TO %s (read locks on the mirrored tables only, as briefly)",
		s.cfg.User, errGlobal, errTables, ErrSnapshotPrivilege, grantee(s.cfg), grantee(s.cfg))
}

// Strategy returns the strategy the snapshot used (never auto).
func (s *SnapshotSource) Strategy() SnapshotStrategy { return s.strategy }

// pinBinlogSnapshot: START TRANSACTION WITH CONSISTENT SNAPSHOT, whose
// binlog_snapshot_* status names the position of the read without a lock.
func (s *SnapshotSource) pinBinlogSnapshot() error {
	var err error
	if s.pos, err = s.startSharedBinlogSnapshot(); err != nil {
		return fmt.Errorf("snapshot source: %w", err)
	}
	if s.cfg.Flavor == gomysql.MariaDBFlavor {
		var err error
		if s.pos.GTIDSet, err = binlogGTIDPos(s.conn, "snapshot source", s.pos.File, s.pos.Pos); err != nil {
			return err
		}
	} else if s.pos.GTIDSet == "" {
		s.cfg.Logger.Warn("snapshot: the server names no GTID set for the snapshot's position; streaming by file position",
			"position", s.pos.FilePos())
	}
	s.cfg.Logger.Info("snapshot position pinned without a lock", "strategy", string(SnapshotBinlogSnapshot), "position", s.pos.String(),
		"readers", len(s.readers))
	return nil
}

// startBinlogSnapshot starts a consistent read on conn and returns the
// binlog file and offset the server names for it (binlog_snapshot_file and
// _position; Percona Server 8.0 names the GTID set too).
func startBinlogSnapshot(conn *client.Conn, cfg SourceConfig) (tableformat.Position, error) {
	var pos tableformat.Position
	if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return pos, fmt.Errorf("START TRANSACTION WITH CONSISTENT SNAPSHOT: %w", err)
	}
	r, err := conn.Execute("SHOW STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position', 'binlog_snapshot_gtid_executed')")
	if err != nil {
		return pos, fmt.Errorf("binlog snapshot position: %w", err)
	}
	found := false
	for i := range r.RowNumber() {
		name, _ := r.GetString(i, 0)
		value, _ := r.GetString(i, 1)
		switch strings.ToLower(name) {
		case "binlog_snapshot_file":
			found = true
			pos.File = value
		case "binlog_snapshot_position":
			if pos.Pos, err = strconv.ParseUint(value, 10, 64); err != nil {
				return pos, fmt.Errorf("binlog_snapshot_position %q: %w", value, err)
			}
		case "binlog_snapshot_gtid_executed": // Percona Server 8.0
			pos.GTIDSet = mysqlGTIDSetText(value)
		}
	}
	if !found {
		return pos, fmt.Errorf("%s has no binlog_snapshot_file status (MariaDB and Percona Server have it): %w; "+
			"use snapshot strategy global_read_lock or table_locks", sourceAddr(cfg), ErrSnapshotUnsupported)
	}
	if pos.File == "" || pos.Pos == 0 {
		return pos, fmt.Errorf("%s reports no binlog snapshot position: %s", sourceAddr(cfg), binlogOffFix)
	}
	return pos, nil
}

// pinGlobalReadLock: FLUSH TABLES WITH READ LOCK, START TRANSACTION WITH
// CONSISTENT SNAPSHOT, the binlog position, UNLOCK TABLES. No transaction
// commits while the lock is held, so the read sees exactly what the binlog
// holds up to the position. A global read lock is not a table lock:
// START TRANSACTION keeps it and UNLOCK TABLES keeps the transaction.
func (s *SnapshotSource) pinGlobalReadLock(ctx context.Context) (err error) {
	stop := s.killOnCancel(ctx, s.conn)
	defer func() {
		stop()
		err = withCtx(ctx, err)
	}()
	if err := s.setLockWaitTimeout(s.conn); err != nil {
		return err
	}
	w := lockWindow{s: s, strategy: SnapshotGlobalReadLock, what: "FLUSH TABLES WITH READ LOCK", requested: time.Now()}
	if _, err := s.conn.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
		return fmt.Errorf("snapshot source: FLUSH TABLES WITH READ LOCK: %w", lockError(err))
	}
	w.acquired = time.Now()
	unlock := func() error { _, err := s.conn.Execute("UNLOCK TABLES"); return err }
	defer w.releaseOnError(unlock, s.conn)
	if err := s.startReaders(); err != nil {
		return err
	}
	if testHookLocked != nil {
		testHookLocked(SnapshotGlobalReadLock)
	}
	pos, err := binlogStatus(s.conn)
	if err != nil {
		return fmt.Errorf("snapshot source: %w", err)
	}
	if err := w.release(unlock); err != nil {
		return err
	}
	return s.finishLocked(ctx, pos)
}

// pinTableLocks: LOCK TABLES … READ on every mirrored table from a second
// connection (a session's own LOCK TABLES and transactions end each other),
// then on the snapshot connection START TRANSACTION WITH CONSISTENT
// SNAPSHOT and the binlog position, then UNLOCK TABLES. No transaction that
// writes a mirrored table commits meanwhile (it waits for the read lock, or
// finished before the lock was granted), so for those tables the read sees
// exactly what the binlog holds up to the position.
func (s *SnapshotSource) pinTableLocks(ctx context.Context) (locked map[string]bool, err error) {
	tables, err := s.includedTables()
	if err != nil {
		return nil, err
	}
	locked = make(map[string]bool, len(tables))
	conns := []*client.Conn{s.conn}
	var lockConn *client.Conn
	if len(tables) > 0 {
		if lockConn, err = dial(ctx, s.cfg, "snapshot source (table locks)"); err != nil {
			return nil, err
		}
		defer func() {
			if lockConn.Quit() != nil {
				lockConn.Close()
			}
		}()
		conns = append(conns, lockConn)
	}
	stop := s.killOnCancel(ctx, conns...)
	defer func() {
		stop()
		err = withCtx(ctx, err)
	}()
	w := lockWindow{s: s, strategy: SnapshotTableLocks, what: fmt.Sprintf("LOCK TABLES (%d tables) READ", len(tables))}
	unlock := func() error { return nil }
	if lockConn != nil {
		if err := s.setLockWaitTimeout(lockConn); err != nil {
			return nil, err
		}
		items := make([]string, len(tables))
		for i, t := range tables {
			items[i] = QuoteIdent(t[0]) + "." + QuoteIdent(t[1]) + " READ"
			locked[tableKey(t[0], t[1])] = true
		}
		w.requested = time.Now()
		if _, err := lockConn.Execute("LOCK TABLES " + strings.Join(items, ", ")); err != nil {
			var me *gomysql.MyError
			if errors.As(err, &me) && me.Code == gomysql.ER_NO_SUCH_TABLE {
				return nil, fmt.Errorf("snapshot source: LOCK TABLES: %w: %w", err, errTableSetChanged)
			}
			return nil, fmt.Errorf("snapshot source: LOCK TABLES … READ: %w", lockError(err))
		}
		w.acquired = time.Now()
		unlock = func() error { _, err := lockConn.Execute("UNLOCK TABLES"); return err }
		defer w.releaseOnError(unlock, lockConn)
	} else {
		s.cfg.Logger.Info("snapshot: no mirrored table to lock")
	}
	if err := s.startReaders(); err != nil {
		return nil, err
	}
	if testHookLocked != nil {
		testHookLocked(SnapshotTableLocks)
	}
	pos, err := binlogStatus(s.conn)
	if err != nil {
		return nil, fmt.Errorf("snapshot source: %w", err)
	}
	if lockConn != nil {
		if err := w.release(unlock); err != nil {
			return nil, err
		}
	}
	return locked, s.finishLocked(ctx, pos)
}

// finishLocked completes a position read under a lock: on MariaDB the GTID
// set comes from BINLOG_GTID_POS, which may read the binlog file and so
// runs after the lock is gone (the position no longer moves).
func (s *SnapshotSource) finishLocked(ctx context.Context, pos tableformat.Position) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.conn.Execute("SET SESSION lock_wait_timeout = DEFAULT"); err != nil {
		return fmt.Errorf("snapshot source: %w", err)
	}
	if s.cfg.Flavor == gomysql.MariaDBFlavor {
		var err error
		if pos.GTIDSet, err = binlogGTIDPos(s.conn, "snapshot source", pos.File, pos.Pos); err != nil {
			return err
		}
	}
	s.pos = pos
	return nil
}

func (s *SnapshotSource) setLockWaitTimeout(conn *client.Conn) error {
	secs := max(1, int(snapshotLockTimeout/time.Second))
	if _, err := conn.Execute(fmt.Sprintf("SET SESSION lock_wait_timeout = %d", secs)); err != nil {
		return fmt.Errorf("snapshot source: set lock_wait_timeout: %w", err)
	}
	return nil
}

// includedTables lists the mirrored base tables (schema, name).
func (s *SnapshotSource) includedTables() ([][2]string, error) {
	out, err := includedTables(s.conn, s.cfg.Include)
	if err != nil {
		return nil, fmt.Errorf("snapshot source: %w", err)
	}
	return out, nil
}

// includedTables lists the base tables include admits, by schema and name.
func includedTables(conn *client.Conn, include func(db, name string) bool) ([][2]string, error) {
	r, err := conn.Execute("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var out [][2]string
	for i := range r.RowNumber() {
		db, _ := r.GetString(i, 0)
		name, _ := r.GetString(i, 1)
		if include(db, name) {
			out = append(out, [2]string{db, name})
		}
	}
	return out, nil
}

// MirroredTables lists the source's base tables the configuration mirrors
// (SourceConfig.Include), by schema and name.
func MirroredTables(ctx context.Context, cfg SourceConfig) ([][2]string, error) {
	cfg = cfg.withDefaults()
	conn, err := dial(ctx, cfg, "list tables")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return includedTables(conn, cfg.Include)
}

func tableKey(db, name string) string { return db + "\x00" + name }

// lockWindow measures and logs one snapshot lock.
type lockWindow struct {
	s                   *SnapshotSource
	strategy            SnapshotStrategy
	what                string
	requested, acquired time.Time
	released            bool
}

// release ends the lock and logs how long writers could have been held up.
func (w *lockWindow) release(unlock func() error) error {
	err := unlock()
	w.released = true
	end := time.Now()
	if err != nil {
		return fmt.Errorf("snapshot source: UNLOCK TABLES: %w", err)
	}
	w.s.lockHeld = end.Sub(w.acquired)
	w.s.cfg.Logger.Info("snapshot lock released", "strategy", string(w.strategy), "lock", w.what,
		"wait", w.acquired.Sub(w.requested).Round(time.Microsecond).String(),
		"held", end.Sub(w.acquired).Round(time.Microsecond).String())
	return nil
}

// releaseOnError (deferred) ends a lock still held after an error; when
// UNLOCK TABLES fails too, closing the connection ends the lock.
func (w *lockWindow) releaseOnError(unlock func() error, conn *client.Conn) {
	if w.released {
		return
	}
	w.released = true
	if err := unlock(); err != nil {
		conn.Close()
	}
	w.s.cfg.Logger.Warn("snapshot lock released after an error", "strategy", string(w.strategy), "lock", w.what,
		"held", time.Since(w.acquired).Round(time.Microsecond).String())
}

// killOnCancel ends the statements of conns when ctx is done before stop is
// called: a lock request waiting for a long query, or a lock held, must not
// outlive the caller. A user may always kill its own connections.
func (s *SnapshotSource) killOnCancel(ctx context.Context, conns ...*client.Conn) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		kctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		k, err := dial(kctx, s.cfg, "snapshot source (cancel)")
		if err != nil {
			s.cfg.Logger.Warn("snapshot: cannot kill the locking sessions; closing them", "err", err)
			for _, c := range conns {
				c.Close()
			}
			return
		}
		defer k.Close()
		for _, c := range conns {
			if _, err := k.Execute("KILL CONNECTION " + strconv.FormatUint(uint64(c.GetConnectionID()), 10)); err != nil {
				s.cfg.Logger.Warn("snapshot: kill the locking session", "err", err)
				c.Close()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// withCtx reports a cancelled context rather than the error of the
// statement it ended.
func withCtx(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("snapshot source: %w (%v)", ctx.Err(), err)
	}
	return err
}

// lockError explains a lock wait timeout.
func lockError(err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) && me.Code == gomysql.ER_LOCK_WAIT_TIMEOUT {
		return fmt.Errorf("%w (waited %v for running statements or locks of other sessions: retry later)", err, snapshotLockTimeout)
	}
	return err
}

// isAccessDenied reports a missing privilege.
func isAccessDenied(err error) bool {
	var me *gomysql.MyError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Code {
	case gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, gomysql.ER_DBACCESS_DENIED_ERROR,
		gomysql.ER_ACCESS_DENIED_ERROR, gomysql.ER_TABLEACCESS_DENIED_ERROR:
		return true
	}
	return false
}

// binlogStatus reads the server's current binlog position: SHOW MASTER
// STATUS, or SHOW BINARY LOG STATUS on MySQL 8.4+, which dropped the
// former. On MySQL the GTID set is its Executed_Gtid_Set column (the same
// as @@global.gtid_executed), empty when GTIDs are off; MariaDB has no such
// column (the caller asks BINLOG_GTID_POS).
func binlogStatus(conn *client.Conn) (tableformat.Position, error) {
	r, err := conn.Execute("SHOW MASTER STATUS")
	var me *gomysql.MyError
	if errors.As(err, &me) && me.Code == gomysql.ER_PARSE_ERROR {
		r, err = conn.Execute("SHOW BINARY LOG STATUS")
	}
	if err != nil {
		return tableformat.Position{}, fmt.Errorf("binlog position: %w", err)
	}
	return parseBinlogStatus(r)
}

// binlogOffFix says what to do about a server that reports no binlog
// position.
const binlogOffFix = "binary logging is off: add log_bin (e.g. log_bin=mysql-bin) to the server's [mysqld] config and restart it " +
	"(binlake check lists every prerequisite)"

func parseBinlogStatus(r *gomysql.Result) (tableformat.Position, error) {
	if r == nil || r.Resultset == nil || r.RowNumber() == 0 {
		return tableformat.Position{}, errors.New("the server reports no binlog position: " + binlogOffFix)
	}
	var p tableformat.Position
	var err error
	if p.File, err = r.GetString(0, 0); err != nil {
		return p, fmt.Errorf("binlog file: %w", err)
	}
	if p.Pos, err = r.GetUint(0, 1); err != nil {
		return p, fmt.Errorf("binlog offset: %w", err)
	}
	if i, ok := r.FieldNames["Executed_Gtid_Set"]; ok {
		set, _ := r.GetString(0, i)
		p.GTIDSet = mysqlGTIDSetText(set)
	}
	if p.File == "" || p.Pos == 0 {
		return p, fmt.Errorf("the server reports binlog position %q:%d", p.File, p.Pos)
	}
	return p, nil
}

// mysqlGTIDSetText is a MySQL GTID set as the binlog source records it:
// the server breaks long sets into lines after each comma.
func mysqlGTIDSetText(set string) string {
	return strings.ReplaceAll(strings.TrimSpace(set), "\n", "")
}
