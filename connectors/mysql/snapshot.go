package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/tableformat"
)

// ErrSnapshotUnsupported reports a flavour, or a strategy on this server,
// the snapshot source cannot read consistently with.
var ErrSnapshotUnsupported = errors.New("consistent snapshot not supported this way")

// Snapshot chunking: a Rows event holds at most snapshotChunkRows rows or
// about snapshotChunkBytes of values.
const (
	snapshotChunkRows  = 4096
	snapshotChunkBytes = 4 << 20
	// progressEvery is how often the log shows the snapshot's progress in
	// total, and that of a table being read; a table read in slowTable or
	// more gets a line at info when done (others at debug: at 10,000
	// tables a line each would flood the log).
	progressEvery = 10 * time.Second
	slowTable     = time.Second
)

// SnapshotSource reads the included tables in one consistent read and hands
// them out as ingest events: RowSnapshot chunks of every table (an empty
// table: one DDLCreate carrying its structure instead), then one Commit at
// the binlog position the read corresponds to, then io.EOF. A
// BinlogSource opened at Position() continues exactly after it.
//
// The read is one REPEATABLE READ transaction started WITH CONSISTENT
// SNAPSHOT. What differs between servers is how its binlog position is
// known: a commit between the start of the read and the reading of the
// position would be neither in the snapshot nor after the position. The
// strategy (SourceConfig.SnapshotStrategy, docs/snapshot.md) is one of:
//
//   - binlog_snapshot (auto on MariaDB): no lock. MariaDB's
//     binlog_snapshot_file/_position status variables name the position of
//     the consistent read; BINLOG_GTID_POS gives its GTID set. Needs no
//     privilege beyond SELECT. Percona Server for MySQL has the same status
//     variables (untested here).
//   - global_read_lock (auto on MySQL when allowed): FLUSH TABLES WITH READ
//     LOCK, START TRANSACTION WITH CONSISTENT SNAPSHOT, SHOW MASTER STATUS
//     (SHOW BINARY LOG STATUS on MySQL 8.4+: file, offset and, on MySQL,
//     Executed_Gtid_Set), UNLOCK TABLES. Needs RELOAD (and REPLICATION
//     CLIENT / BINLOG MONITOR for the status, which the binlog source needs
//     anyway). Writers wait only for those few statements, but taking the
//     lock waits for running statements to finish, and writers queue behind
//     it meanwhile: the wait is bounded by lock_wait_timeout (10 s), after
//     which the snapshot fails and can be retried.
//   - table_locks (auto on MySQL without RELOAD): LOCK TABLES t1 READ, …
//     on every mirrored table from a second connection, then the same
//     statements on the snapshot connection, then UNLOCK TABLES. Needs LOCK
//     TABLES (on *.* or on each mirrored database). Only writes to the
//     mirrored tables wait, and only as briefly; the position is exact for
//     those tables, which are all the lake holds. A mirrored table created
//     or dropped meanwhile makes the snapshot take its locks again.
//
// Both locks are released as soon as the position is read (also on an error
// or a cancelled context, which kills the waiting statement), and the log
// says how long they were held; the rows are read afterwards, inside the
// transaction, without any lock. performance_schema.log_status (MySQL
// 8.0.14+, BACKUP_ADMIN) is not an option: it names a position consistent
// with the logs, not with a transaction's read view, and LOCK INSTANCE FOR
// BACKUP does not stop commits.
//
// Only transactional (InnoDB) tables are consistent: MyISAM tables are read
// as they are while the snapshot runs. A table altered after the snapshot
// started fails its read (ER_TABLE_DEF_CHANGED): retry the snapshot.
type SnapshotSource struct {
	cfg  SourceConfig
	conn *client.Conn
	// readers read the tables, each in a transaction of the same read
	// view (snapshot_readers.go); the first is conn.
	readers []*client.Conn
	pos     tableformat.Position
	time    int64 // µs, the server's clock at the snapshot's start
	plans   []*snapshotTable

	strategy SnapshotStrategy // the strategy used (never auto)
	lockHeld time.Duration    // how long the snapshot's lock was held

	started  bool
	items    chan snapshotItem
	stop     chan struct{}
	wg       sync.WaitGroup
	done     bool  // the Commit was returned
	err      error // sticky
	stopOnce sync.Once

	zeroDates atomic.Int64

	// Progress (Progress): rows read, tables read, the estimates' sum,
	// when the read began (Unix ns), the table each reader reads.
	rowsRead   atomic.Int64
	tablesDone atomic.Int64
	estimated  int64
	readStart  atomic.Int64
	current    []atomic.Pointer[snapshotTable]
}

type snapshotTable struct {
	table    *ingest.Table
	cols     []TableColumn
	key      []int
	estimate int64 // the server's estimate (rowEstimates)
	rows     atomic.Int64
	started  atomic.Int64 // Unix ns; 0: not yet
}

type snapshotItem struct {
	ev  ingest.Event
	err error
}

// NewSnapshotSource opens a consistent read of the included tables and the
// binlog position it corresponds to. No rows are read before the first Next.
func NewSnapshotSource(ctx context.Context, cfg SourceConfig) (*SnapshotSource, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil { // after the defaults, only the flavour can be wrong
		return nil, fmt.Errorf("snapshot source: %w (%w)", err, ErrSnapshotUnsupported)
	}
	if _, err := ParseSnapshotStrategy(string(cfg.SnapshotStrategy)); err != nil {
		return nil, fmt.Errorf("snapshot source: %w", err)
	}
	conn, err := dial(ctx, cfg, "snapshot source")
	if err != nil {
		return nil, err
	}
	s := &SnapshotSource{cfg: cfg, conn: conn, readers: []*client.Conn{conn}, stop: make(chan struct{})}
	if err := s.open(ctx); err != nil {
		s.closeReaders()
		conn.Close()
		return nil, err
	}
	s.current = make([]atomic.Pointer[snapshotTable], len(s.readers))
	return s, nil
}

func (s *SnapshotSource) open(ctx context.Context) error {
	if err := setUpSession(s.conn); err != nil {
		return err
	}
	tables, err := s.includedTables()
	if err != nil {
		return err
	}
	s.dialReaders(ctx, snapshotReaders(len(tables), s.cfg.SnapshotReaders))
	for attempt := 1; ; attempt++ {
		locked, err := s.pin(ctx)
		if err == nil {
			err = s.readServerTime()
		}
		if err == nil {
			err = s.planTables()
		}
		if err == nil && locked != nil {
			for _, p := range s.plans {
				if !locked[tableKey(p.table.DB, p.table.Name)] {
					err = fmt.Errorf("snapshot source: table %s.%s was not locked: %w", p.table.DB, p.table.Name, errTableSetChanged)
					break
				}
			}
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, errTableSetChanged) || attempt == maxTableLockAttempts {
			return err
		}
		s.cfg.Logger.Warn("snapshot: the mirrored tables changed while they were locked; locking them again", "err", err, "attempt", attempt)
		if rerr := s.rollbackReaders(); rerr != nil {
			return rerr
		}
		s.plans, s.pos = nil, tableformat.Position{}
	}
}

// readServerTime reads the server's clock, the time of the snapshot's rows.
func (s *SnapshotSource) readServerTime() error {
	r, err := s.conn.Execute("SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)")
	if err != nil {
		return fmt.Errorf("snapshot source: server time: %w", err)
	}
	if s.time, err = r.GetInt(0, 0); err != nil {
		return fmt.Errorf("snapshot source: server time: %w", err)
	}
	return nil
}

// planTables lists the included base tables and their columns (two
// queries per database, whatever the number of tables: SchemaColumns) and
// the server's estimates of their rows (rowEstimates).
func (s *SnapshotSource) planTables() error {
	r, err := s.conn.Execute(`SELECT t.TABLE_SCHEMA, t.TABLE_NAME, IFNULL(co.CHARACTER_SET_NAME, '')
FROM information_schema.TABLES t LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = t.TABLE_COLLATION
WHERE t.TABLE_TYPE = 'BASE TABLE' ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME`)
	if err != nil {
		return fmt.Errorf("snapshot source: list tables: %w", err)
	}
	s.plans, s.estimated = nil, 0
	type listed struct{ db, name, charset string }
	var tables []listed
	names := map[string]map[string]bool{} // by database
	for i := range r.RowNumber() {
		db, _ := r.GetString(i, 0)
		name, _ := r.GetString(i, 1)
		if !s.cfg.Include(db, name) {
			continue
		}
		t := listed{db: db, name: name}
		t.charset, _ = r.GetString(i, 2)
		tables = append(tables, t)
		if names[db] == nil {
			names[db] = map[string]bool{}
		}
		names[db][name] = true
	}
	estimates := map[string]map[string]int64{}
	for db := range names {
		estimates[db] = s.rowEstimates(db)
	}
	defs := map[string]map[string]*TableDef{}
	for db, in := range names {
		if defs[db], err = SchemaColumns(s.conn, db, func(t string) bool { return in[t] }); err != nil {
			return fmt.Errorf("snapshot source: %w", err)
		}
	}
	for _, lt := range tables {
		d := defs[lt.db][lt.name]
		if d == nil || tableGone(d.Err) {
			// Dropped after the snapshot's position (the listing is not
			// transactional): the binlog from there holds the DROP.
			s.cfg.Logger.Warn("snapshot: table dropped while planning, skipped", "table", lt.db+"."+lt.name)
			continue
		}
		if d.Err != nil {
			return fmt.Errorf("snapshot source: %w", d.Err)
		}
		t := &ingest.Table{DB: lt.db, Name: lt.name, Charset: lt.charset, Columns: make([]ingest.SourceColumn, len(d.Columns))}
		for j, c := range d.Columns {
			t.Columns[j] = ingest.SourceColumn{Name: c.Name, Type: c.Type, Nullable: c.Nullable}
		}
		for _, k := range d.Key {
			t.Key = append(t.Key, d.Columns[k].Name)
		}
		s.plans = append(s.plans, &snapshotTable{table: t, cols: d.Columns, key: d.Key, estimate: estimates[lt.db][lt.name]})
		s.estimated += estimates[lt.db][lt.name]
	}
	return nil
}

// rowEstimates returns the server's estimates of the rows of db's tables:
// InnoDB's persistent statistics (mysql.innodb_table_stats, partitions
// summed), which cost one query; when the user may not read them,
// information_schema.TABLES.TABLE_ROWS, which opens every table of db (at
// thousands of tables, seconds on the server). Tables without an estimate
// (none is needed: only progress reports use them) are absent.
func (s *SnapshotSource) rowEstimates(db string) map[string]int64 {
	out := map[string]int64{}
	add := func(f []gomysql.FieldValue) {
		name := fieldString(f[0])
		if i := strings.Index(strings.ToUpper(name), "#P#"); i > 0 {
			name = name[:i]
		}
		out[name] += int64(fieldUint(f[1]))
	}
	err := streamPrepared(s.conn, "SELECT table_name, n_rows FROM mysql.innodb_table_stats WHERE database_name = ?", []any{db}, add)
	if err == nil {
		return out
	}
	s.cfg.Logger.Debug("snapshot: InnoDB's statistics are not readable; estimating rows from information_schema", "err", err)
	clear(out)
	err = streamPrepared(s.conn, "SELECT TABLE_NAME, IFNULL(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", []any{db}, add)
	if err != nil {
		s.cfg.Logger.Warn("snapshot: no estimate of the tables' rows; progress shows no ETA", "database", db, "err", err)
	}
	return out
}

// Position returns the binlog position (GTID set and file:pos) of the
// consistent read: stream the binlog from here afterwards.
func (s *SnapshotSource) Position() tableformat.Position { return s.pos }

// LockHeld returns how long the snapshot held its lock (zero for
// binlog_snapshot, which takes none).
func (s *SnapshotSource) LockHeld() time.Duration { return s.lockHeld }

// Tables returns the tables the snapshot reads, in reading order.
func (s *SnapshotSource) Tables() []*ingest.Table {
	out := make([]*ingest.Table, len(s.plans))
	for i, p := range s.plans {
		out[i] = p.table
	}
	return out
}

// Readers returns how many connections read the tables.
func (s *SnapshotSource) Readers() int { return len(s.readers) }

// ZeroDates returns how many zero dates were turned into NULL so far.
func (s *SnapshotSource) ZeroDates() int64 { return s.zeroDates.Load() }

// Next returns the next chunk of snapshot rows (or the DDLCreate of an empty
// table), then the Commit at Position(), then io.EOF.
func (s *SnapshotSource) Next(ctx context.Context) (ingest.Event, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.done {
		return nil, io.EOF
	}
	if !s.started {
		s.started = true
		s.items = make(chan snapshotItem, 1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer close(s.items)
			if err := s.read(); err != nil {
				select {
				case s.items <- snapshotItem{err: err}:
				case <-s.stop:
				}
			}
		}()
	}
	select {
	case it, ok := <-s.items:
		if !ok {
			s.done = true
			return &ingest.Commit{End: s.pos, Time: s.time}, nil
		}
		if it.err != nil {
			s.err = it.err
			return nil, it.err
		}
		return it.ev, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops reading and closes the connection (ending the transaction).
func (s *SnapshotSource) Close() error {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.closeReaders()
		s.conn.Close()
	})
	return nil
}

var errSnapshotStopped = errors.New("snapshot source: closed")

// SnapshotProgress is how far a snapshot has got, in total and for the
// tables being read.
type SnapshotProgress struct {
	Tables     int   // tables the snapshot reads
	TablesDone int   // tables read whole (or skipped: dropped meanwhile)
	Rows       int64 // rows read so far, every table
	// EstimatedRows sums the server's estimates of the tables' rows at the
	// snapshot's start (0: none known).
	EstimatedRows int64
	Started       time.Time // when the reading began; zero: not yet
	// Reading are the tables being read now, at most one per reader.
	Reading []TableProgress
}

// TableProgress is how far the snapshot of one table has got.
type TableProgress struct {
	DB, Table string
	Rows      int64 // rows read so far
	Estimate  int64 // the server's estimate of the table's rows (0: none)
	Started   time.Time
}

// Progress returns the snapshot's progress, in time proportional to the
// readers, not the tables; safe to call while Next runs.
func (s *SnapshotSource) Progress() SnapshotProgress {
	sp := SnapshotProgress{Tables: len(s.plans), TablesDone: int(s.tablesDone.Load()), Rows: s.rowsRead.Load(),
		EstimatedRows: s.estimated}
	if ns := s.readStart.Load(); ns != 0 {
		sp.Started = time.Unix(0, ns)
	}
	for i := range s.current {
		if p := s.current[i].Load(); p != nil {
			sp.Reading = append(sp.Reading, TableProgress{DB: p.table.DB, Table: p.table.Name, Rows: p.rows.Load(),
				Estimate: p.estimate, Started: time.Unix(0, p.started.Load())})
		}
	}
	return sp
}

// logProgress logs the snapshot's progress in total, with an ETA from the
// rate of rows or of tables so far, whichever is further.
func (s *SnapshotSource) logProgress(msg string, done bool) {
	sp := s.Progress()
	secs := time.Since(sp.Started).Seconds()
	attrs := []any{"tables_done", sp.TablesDone, "tables", sp.Tables, "rows", sp.Rows, "seconds", math.Round(secs),
		"rows_per_s", math.Round(float64(sp.Rows) / max(secs, 1e-9))}
	if done {
		s.cfg.Logger.Info(msg, append(attrs, "readers", len(s.readers))...)
		return
	}
	if sp.EstimatedRows > 0 {
		attrs = append(attrs, "estimated_rows", sp.EstimatedRows)
	}
	if eta := sp.ETA(time.Now()); eta > 0 {
		attrs = append(attrs, "eta", eta.Round(time.Second).String())
	}
	s.cfg.Logger.Info(msg, attrs...)
}

// ETA estimates the time left at now: from the rate of rows read (against
// the estimates) or of tables read, whichever is further (many small
// tables cost per table, a few big ones per row); 0: unknown.
func (sp SnapshotProgress) ETA(now time.Time) time.Duration {
	elapsed := now.Sub(sp.Started)
	if sp.Started.IsZero() || elapsed <= 0 {
		return 0
	}
	var eta time.Duration
	if sp.EstimatedRows > sp.Rows && sp.Rows > 0 {
		eta = time.Duration(float64(elapsed) * float64(sp.EstimatedRows-sp.Rows) / float64(sp.Rows))
	}
	if sp.TablesDone > 0 && sp.Tables > sp.TablesDone {
		eta = max(eta, time.Duration(float64(elapsed)*float64(sp.Tables-sp.TablesDone)/float64(sp.TablesDone)))
	}
	return eta
}

// readTable reads one table on conn into out, until quit or Close.
func (s *SnapshotSource) readTable(conn *client.Conn, p *snapshotTable, out chan<- snapshotItem, quit <-chan struct{}) error {
	t := p.table
	log := s.cfg.Logger.With("table", t.DB+"."+t.Name)
	log.Debug("snapshot table started", "estimated_rows", p.estimate)
	exprs := make([]string, len(p.cols))
	for i, c := range p.cols {
		exprs[i] = SnapshotSelectExpr(c)
	}
	q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + QuoteIdent(t.DB) + "." + QuoteIdent(t.Name)
	if len(p.key) > 0 {
		keys := make([]string, len(p.key))
		for i, k := range p.key {
			keys[i] = QuoteIdent(p.cols[k].Name)
		}
		q += " ORDER BY " + strings.Join(keys, ", ")
	}
	start := time.Now()
	p.started.Store(start.UnixNano())
	lastLog := start
	var total int64
	var chunk [][]any
	var chunkBytes int
	send := func() error {
		if len(chunk) == 0 {
			return nil
		}
		ev := &ingest.Rows{Table: t, Op: ingest.RowSnapshot, After: chunk, Time: s.time}
		p.rows.Add(int64(len(chunk)))
		s.rowsRead.Add(int64(len(chunk)))
		chunk, chunkBytes = nil, 0
		if err := s.hand(out, quit, ev); err != nil {
			return err
		}
		if now := time.Now(); now.Sub(lastLog) >= progressEvery {
			lastLog = now
			rate := float64(total) / now.Sub(start).Seconds()
			attrs := []any{"rows", total, "rows_per_s", math.Round(rate)}
			if p.estimate > total && rate > 0 {
				attrs = append(attrs, "estimated_rows", p.estimate,
					"eta", time.Duration(float64(p.estimate-total)/rate*float64(time.Second)).Round(time.Second).String())
			}
			log.Info("snapshot table progress", attrs...)
		}
		return nil
	}
	err := streamRows(conn, q, p.cols, &s.zeroDates, func(row []any, size int) error {
		chunkBytes += size
		chunk = append(chunk, row)
		total++
		if len(chunk) >= snapshotChunkRows || chunkBytes >= snapshotChunkBytes {
			return send()
		}
		return nil
	})
	if err == nil {
		err = send()
	}
	switch {
	case err == nil && total > 0:
		// Its rows can go to storage while the next tables are read.
		err = s.hand(out, quit, &ingest.TableComplete{Table: t})
	case err == nil:
		// An empty table has no Rows to carry its structure: declare it,
		// inside the snapshot's transaction, so the lake lists it.
		err = s.hand(out, quit, &ingest.DDL{Op: ingest.DDLCreate, DB: t.DB, Name: t.Name, Table: t})
	}
	if errors.Is(err, errSnapshotStopped) {
		return err
	}
	if err != nil {
		return fmt.Errorf("snapshot source: read table %s.%s after %d rows: %w", t.DB, t.Name, total, err)
	}
	took := time.Since(start)
	level := slog.LevelDebug
	if took >= slowTable {
		level = slog.LevelInfo
	}
	log.Log(context.Background(), level, "snapshot table done", "rows", total, "seconds", math.Round(took.Seconds()*1000)/1000,
		"rows_per_s", math.Round(float64(total)/max(took.Seconds(), 1e-9)))
	return nil
}

// hand passes one item of a table to the emitter (read), unless the
// snapshot stops first.
func (s *SnapshotSource) hand(out chan<- snapshotItem, quit <-chan struct{}, ev ingest.Event) error {
	select {
	case out <- snapshotItem{ev: ev}:
		return nil
	case <-quit:
		return errSnapshotStopped
	case <-s.stop:
		return errSnapshotStopped
	}
}

// streamRows runs q, a SELECT of cols (each by SnapshotSelectExpr), and
// hands over each row decoded by DecodeSnapshotValue, with the size of its
// values in bytes; a zero date becomes NULL and is counted in zero.
func streamRows(conn *client.Conn, q string, cols []TableColumn, zero *atomic.Int64, row func([]any, int) error) error {
	raw := make([]byte, 0, 64) // never nil: nil is NULL to DecodeSnapshotValue
	var result gomysql.Result
	return conn.ExecuteSelectStreaming(q, &result, func(fields []gomysql.FieldValue) error {
		if len(fields) != len(cols) {
			return fmt.Errorf("%d fields, want %d", len(fields), len(cols))
		}
		out := make([]any, len(cols))
		size := 0
		for i, c := range cols {
			raw = textOf(raw[:0], fields[i])
			if fields[i].Type == gomysql.FieldValueTypeNull {
				continue
			}
			size += len(raw) + 16
			v, err := DecodeSnapshotValue(c.Type, raw)
			if errors.Is(err, ErrZeroDate) {
				zero.Add(1)
				continue
			}
			if err != nil {
				return fmt.Errorf("column %q: %w", c.Name, err)
			}
			out[i] = v
		}
		return row(out, size)
	}, nil)
}

// textOf renders a text-protocol field as the server sent it: go-mysql
// parses integer and floating-point fields, whose text is restored exactly
// (the shortest repr of a float64 parses back to the same value).
func textOf(dst []byte, f gomysql.FieldValue) []byte {
	switch f.Type {
	case gomysql.FieldValueTypeUnsigned:
		return strconv.AppendUint(dst, f.AsUint64(), 10)
	case gomysql.FieldValueTypeSigned:
		return strconv.AppendInt(dst, f.AsInt64(), 10)
	case gomysql.FieldValueTypeFloat:
		return strconv.AppendFloat(dst, f.AsFloat64(), 'g', -1, 64)
	case gomysql.FieldValueTypeString:
		return append(dst, f.AsString()...)
	}
	return dst
}
