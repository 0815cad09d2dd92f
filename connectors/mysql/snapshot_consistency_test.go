package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// setHook installs testHookLocked for one test.
func setHook(t *testing.T, hook func(SnapshotStrategy)) {
	t.Helper()
	testHookLocked = hook
	t.Cleanup(func() { testHookLocked = nil })
}

// impatientWriter is a root session that gives up on a lock after a second.
func impatientWriter(t *testing.T, m *testenv.MariaDB) *client.Conn {
	t.Helper()
	w := rootConn(t, m)
	execAll(t, w, "SET SESSION lock_wait_timeout = 1")
	return w
}

func isLockWaitTimeout(err error) bool {
	var me *gomysql.MyError
	return errors.As(err, &me) && me.Code == gomysql.ER_LOCK_WAIT_TIMEOUT
}

// snapshotRowCount drains a snapshot and counts the rows of db.table, also
// reporting whether a row with the given first column was read.
func snapshotRowCount(t *testing.T, ctx context.Context, snap *SnapshotSource, table string, id int64) (rows int, sawID bool) {
	t.Helper()
	for _, ev := range drain(t, ctx, snap) {
		r, ok := ev.(*ingest.Rows)
		if !ok || r.Table.DB+"."+r.Table.Name != table {
			continue
		}
		rows += len(r.After)
		for _, row := range r.After {
			if fmt.Sprint(row[0]) == fmt.Sprint(id) {
				sawID = true
			}
		}
	}
	return rows, sawID
}

// TestSnapshotLockReleased: with each locking strategy, another session's
// write waits while the lock is held (the hook proves it) and goes through
// at once after the position is read, while the snapshot is still reading;
// that write is not in the snapshot (it is after its position).
func TestSnapshotLockReleased(t *testing.T) {
	for _, st := range []SnapshotStrategy{SnapshotGlobalReadLock, SnapshotTableLocks} {
		t.Run(string(st), func(t *testing.T) {
			ctx := testContext(t)
			m := testenv.StartMariaDB(t)
			grantFor(t, m, st, "s")
			m.Exec(t, "CREATE DATABASE s",
				"CREATE TABLE s.big (id INT PRIMARY KEY, v INT, s VARCHAR(40))",
				"INSERT INTO s.big SELECT seq, seq % 1000, CONCAT('row ', seq) FROM s.seq_1_to_20000")
			w := impatientWriter(t, m)
			var hooked atomic.Int32
			setHook(t, func(got SnapshotStrategy) {
				hooked.Add(1)
				if got != st {
					t.Errorf("hook called for %q, want %q", got, st)
				}
				_, err := w.Execute("INSERT INTO s.big VALUES (-1, 0, 'during the lock')")
				if !isLockWaitTimeout(err) {
					t.Errorf("a write while the %s lock is held: %v, want a lock wait timeout", st, err)
				}
			})
			var logs lockedBuffer
			cfg := sourceConfig(m, 0)
			cfg.Include = func(db, _ string) bool { return db == "s" }
			cfg.SnapshotStrategy = st
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			snap, err := NewSnapshotSource(ctx, cfg)
			if err != nil {
				t.Fatalf("new snapshot source: %v", err)
			}
			defer snap.Close()
			if hooked.Load() != 1 {
				t.Fatalf("lock hook ran %d times, want 1", hooked.Load())
			}
			// The reader is in the middle of s.big: its first chunk is out.
			if ev, err := snap.Next(ctx); err != nil {
				t.Fatalf("first snapshot event: %v", err)
			} else if r, ok := ev.(*ingest.Rows); !ok || len(r.After) != snapshotChunkRows {
				t.Fatalf("first snapshot event %T: want a full chunk of s.big", ev)
			}
			began := time.Now()
			execAll(t, w, "INSERT INTO s.big VALUES (30001, 1, 'after the position')",
				"UPDATE s.big SET v = -v WHERE id <= 10", "DELETE FROM s.big WHERE id = 20000")
			t.Logf("three writes during the snapshot's read took %v; lock held %v", time.Since(began), snap.LockHeld())
			// How long the lock was held depends on the machine; that it
			// was let go before the read is what the writes above show.
			if held := snap.LockHeld(); held <= 0 {
				t.Errorf("lock held %v", held)
			}
			if !strings.Contains(logs.String(), `msg="snapshot lock released" strategy=`+string(st)) ||
				!strings.Contains(logs.String(), " held=") {
				t.Errorf("no lock release logged:\n%s", logs.String())
			}
			rows, sawNew := snapshotRowCount(t, ctx, snap, "s.big", 30001)
			if rows != 20000-snapshotChunkRows || sawNew {
				t.Errorf("snapshot read %d more rows (want %d) and the later insert %v", rows, 20000-snapshotChunkRows, sawNew)
			}
		})
	}
}

// TestSnapshotLockWaitEnds: a lock the snapshot cannot get (another session
// holds a write lock on a mirrored table) ends with the context, or with the
// lock timeout, and leaves no lock and no session behind.
func TestSnapshotLockWaitEnds(t *testing.T) {
	for _, st := range []SnapshotStrategy{SnapshotGlobalReadLock, SnapshotTableLocks} {
		t.Run(string(st), func(t *testing.T) {
			m := testenv.StartMariaDB(t)
			grantFor(t, m, st, "s")
			m.Exec(t, "CREATE DATABASE s", "CREATE TABLE s.t (id INT PRIMARY KEY)", "INSERT INTO s.t VALUES (1)")
			holder := rootConn(t, m)
			execAll(t, holder, "LOCK TABLES s.t WRITE")
			cfg := sourceConfig(m, 0)
			cfg.Include = func(db, _ string) bool { return db == "s" }
			cfg.SnapshotStrategy = st

			// A lock timeout far beyond the test: only the context can end
			// the wait (the test fails if it is not over well within it).
			defer func(d time.Duration) { snapshotLockTimeout = d }(snapshotLockTimeout)
			snapshotLockTimeout = time.Hour
			ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
			defer cancel()
			began := time.Now()
			_, err := NewSnapshotSource(ctx, cfg)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("snapshot with a cancelled context: %v, want context.DeadlineExceeded", err)
			}
			t.Logf("cancelled after %v: %v", time.Since(began), err)
			noSessionsLeft(t, m)

			// The lock timeout ends the wait too.
			snapshotLockTimeout = time.Second
			_, err = NewSnapshotSource(testContext(t), cfg)
			if !isLockWaitTimeout(err) || !strings.Contains(err.Error(), "retry later") {
				t.Fatalf("snapshot behind a write lock: %v, want a lock wait timeout", err)
			}
			noSessionsLeft(t, m)

			execAll(t, holder, "UNLOCK TABLES")
			w := impatientWriter(t, m)
			execAll(t, w, "INSERT INTO s.t VALUES (2)", "FLUSH TABLES")
		})
	}
}

// noSessionsLeft waits until the least-privilege user has no session open.
func noSessionsLeft(t *testing.T, m *testenv.MariaDB) {
	t.Helper()
	testenv.Eventually(t, time.Minute, "no session of "+m.User+" left", func() error {
		n := strings.TrimSpace(m.Query(t, fmt.Sprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '%s'", m.User)))
		if n != "0" {
			return fmt.Errorf("%s sessions still open:\n%s", n, m.Query(t, "SELECT ID, COMMAND, STATE, INFO FROM information_schema.PROCESSLIST"))
		}
		return nil
	})
}

// TestSnapshotAutoStrategy: the automatic choice. MariaDB takes no lock;
// MySQL (the mysql flavour, here against MariaDB, whose SHOW MASTER STATUS
// has no GTID column) takes the global read lock with RELOAD, table locks
// with LOCK TABLES only, and without either fails naming the grants. A
// forced strategy the user lacks the privilege for names its grant.
func TestSnapshotAutoStrategy(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE s", "CREATE TABLE s.t (id INT PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO s.t SELECT seq, 'x' FROM s.seq_1_to_100")
	cfg := sourceConfig(m, 0)
	cfg.Include = func(db, _ string) bool { return db == "s" }
	mysqlCfg := cfg
	mysqlCfg.Flavor = gomysql.MySQLFlavor
	user := fmt.Sprintf("'%s'@'%%'", m.User)

	expect := func(cfg SourceConfig, want SnapshotStrategy, wantGTID bool) {
		t.Helper()
		snap, err := NewSnapshotSource(ctx, cfg)
		if err != nil {
			t.Fatalf("%s flavour, strategy %q: %v", cfg.Flavor, cfg.SnapshotStrategy, err)
		}
		defer snap.Close()
		pos := snap.Position()
		if snap.Strategy() != want || pos.File == "" || pos.Pos == 0 || (pos.GTIDSet != "") != wantGTID {
			t.Errorf("%s flavour, strategy %q: used %q at %+v, want %q (GTID set: %v)", cfg.Flavor, cfg.SnapshotStrategy,
				snap.Strategy(), pos, want, wantGTID)
		}
		if rows, _ := snapshotRowCount(t, ctx, snap, "s.t", 0); rows != 100 {
			t.Errorf("%s flavour, strategy %q: %d rows, want 100", cfg.Flavor, want, rows)
		}
	}
	refused := func(cfg SourceConfig, grants ...string) {
		t.Helper()
		snap, err := NewSnapshotSource(ctx, cfg)
		if err == nil {
			snap.Close()
		}
		if !errors.Is(err, ErrSnapshotPrivilege) {
			t.Fatalf("%s flavour, strategy %q without the privilege: %v, want ErrSnapshotPrivilege", cfg.Flavor, cfg.SnapshotStrategy, err)
		}
		for _, g := range grants {
			if !strings.Contains(err.Error(), g) {
				t.Errorf("error %q does not name %q", err, g)
			}
		}
		t.Logf("%s flavour, strategy %q: %v", cfg.Flavor, cfg.SnapshotStrategy, err)
	}

	// Neither RELOAD nor LOCK TABLES.
	expect(cfg, SnapshotBinlogSnapshot, true)
	refused(mysqlCfg, "GRANT RELOAD ON *.* TO "+user, "GRANT LOCK TABLES ON *.* TO "+user)
	forced := mysqlCfg
	forced.SnapshotStrategy = SnapshotGlobalReadLock
	refused(forced, "GRANT RELOAD ON *.* TO "+user)
	forced.SnapshotStrategy = SnapshotTableLocks
	refused(forced, "GRANT LOCK TABLES ON *.* TO "+user)
	noSessionsLeft(t, m)
	// MariaDB's binlog_snapshot_* status, as Percona Server has it, without
	// a GTID set (the mysql flavour cannot use MariaDB's).
	forced.SnapshotStrategy = SnapshotBinlogSnapshot
	expect(forced, SnapshotBinlogSnapshot, false)

	// LOCK TABLES on the mirrored database only.
	m.Exec(t, "GRANT LOCK TABLES ON s.* TO "+user)
	expect(mysqlCfg, SnapshotTableLocks, false)
	forced.SnapshotStrategy = SnapshotGlobalReadLock
	refused(forced, "GRANT RELOAD ON *.* TO "+user)

	// RELOAD too: the global read lock is preferred; MariaDB still takes
	// no lock unless told to.
	m.Exec(t, "GRANT RELOAD ON *.* TO "+user)
	expect(mysqlCfg, SnapshotGlobalReadLock, false)
	expect(cfg, SnapshotBinlogSnapshot, true)
	forced = cfg
	forced.SnapshotStrategy = SnapshotGlobalReadLock
	expect(forced, SnapshotGlobalReadLock, true)
}

// TestSnapshotTableLocksRetry: a mirrored table created while the table
// locks are held (so not locked) makes the snapshot lock again, and the new
// table is read.
func TestSnapshotTableLocksRetry(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	grantFor(t, m, SnapshotTableLocks, "s")
	m.Exec(t, "CREATE DATABASE s", "CREATE TABLE s.a (id INT PRIMARY KEY)", "INSERT INTO s.a VALUES (1), (2)")
	var calls atomic.Int32
	setHook(t, func(SnapshotStrategy) {
		if calls.Add(1) == 1 {
			m.Exec(t, "CREATE TABLE s.b (id INT PRIMARY KEY)", "INSERT INTO s.b VALUES (7)")
		}
	})
	var logs lockedBuffer
	cfg := sourceConfig(m, 0)
	cfg.Include = func(db, _ string) bool { return db == "s" }
	cfg.SnapshotStrategy = SnapshotTableLocks
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	snap, err := NewSnapshotSource(ctx, cfg)
	if err != nil {
		t.Fatalf("new snapshot source: %v", err)
	}
	defer snap.Close()
	if calls.Load() != 2 || !strings.Contains(logs.String(), "locking them again") {
		t.Errorf("%d lock windows, want 2 (a retry); log:\n%s", calls.Load(), logs.String())
	}
	var names []string
	for _, tb := range snap.Tables() {
		names = append(names, tb.DB+"."+tb.Name)
	}
	if strings.Join(names, ",") != "s.a,s.b" {
		t.Errorf("tables %v, want s.a and s.b", names)
	}
	if rows, saw := snapshotRowCount(t, ctx, snap, "s.b", 7); rows != 1 || !saw {
		t.Errorf("s.b: %d rows (saw 7: %v), want its one row", rows, saw)
	}
}

// textResult builds a result as the client reads it off the wire.
func textResult(t *testing.T, names []string, rows [][]any) *gomysql.Result {
	t.Helper()
	rs, err := gomysql.BuildSimpleTextResultset(names, rows)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range rs.Fields {
		rs.FieldNames[string(f.Name)] = i
	}
	for _, rd := range rs.RowDatas {
		v, err := rd.Parse(rs.Fields, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		rs.Values = append(rs.Values, v)
	}
	return &gomysql.Result{Resultset: rs}
}

// TestParseBinlogStatus: the MySQL 8 SHOW MASTER STATUS / SHOW BINARY LOG
// STATUS row gives the position in the form the binlog source records
// (go-mysql's canonical text, no line breaks).
func TestParseBinlogStatus(t *testing.T) {
	names := []string{"File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB", "Executed_Gtid_Set"}
	const set = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3:7"
	p, err := parseBinlogStatus(textResult(t, names, [][]any{{"binlog.000042", uint64(1307), "", "", set}}))
	if err != nil {
		t.Fatal(err)
	}
	want := tableformat.Position{File: "binlog.000042", Pos: 1307, GTIDSet: strings.ReplaceAll(set, "\n", "")}
	if p != want {
		t.Errorf("position %+v, want %+v", p, want)
	}
	parsed, err := gomysql.ParseMysqlGTIDSet(p.GTIDSet)
	if err != nil || parsed.String() != p.GTIDSet {
		t.Errorf("GTID set %q: go-mysql reads %v (%v)", p.GTIDSet, parsed, err)
	}
	if _, err := tableformat.ParseGTIDSet(p.GTIDSet); err != nil {
		t.Errorf("GTID set %q: %v", p.GTIDSet, err)
	}

	// GTIDs off: an empty set; MariaDB: no column.
	for _, row := range [][]any{{"binlog.000001", uint64(4), "", "", ""}, {"binlog.000001", uint64(4), "", ""}} {
		if p, err := parseBinlogStatus(textResult(t, names[:len(row)], [][]any{row})); err != nil || p != (tableformat.Position{File: "binlog.000001", Pos: 4}) {
			t.Errorf("%d columns: %+v, %v", len(row), p, err)
		}
	}
	if _, err := parseBinlogStatus(textResult(t, names, nil)); err == nil || !strings.Contains(err.Error(), "log_bin") {
		t.Errorf("no row: %v, want an error naming log_bin", err)
	}
}

func TestParseSnapshotStrategy(t *testing.T) {
	for in, want := range map[string]SnapshotStrategy{"": SnapshotAuto, "AUTO": SnapshotAuto, " table_locks ": SnapshotTableLocks,
		"global_read_lock": SnapshotGlobalReadLock, "binlog_snapshot": SnapshotBinlogSnapshot} {
		if got, err := ParseSnapshotStrategy(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseSnapshotStrategy("lock_instance"); err == nil {
		t.Error("unknown strategy accepted")
	}
}
