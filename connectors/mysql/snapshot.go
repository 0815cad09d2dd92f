package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// ErrSnapshotUnsupported reports a flavour the snapshot source cannot read
// consistently yet.
var ErrSnapshotUnsupported = errors.New("initial snapshot not supported yet for this flavor")

// Snapshot chunking: a Rows event holds at most snapshotChunkRows rows or
// about snapshotChunkBytes of values.
const (
	snapshotChunkRows  = 4096
	snapshotChunkBytes = 4 << 20
	progressEvery      = 10 * time.Second
)

// SnapshotSource reads the included tables in one consistent read and hands
// them out as ingest events: RowSnapshot chunks of every table (an empty
// table: one DDLCreate carrying its structure instead), then one Commit at
// the binlog position the read corresponds to, then io.EOF. A
// BinlogSource opened at Position() continues exactly after it.
//
// On MariaDB the consistent read is START TRANSACTION WITH CONSISTENT
// SNAPSHOT, whose binlog_snapshot_file/_position status variables name the
// binlog position of the snapshot without any lock (needs no privilege
// beyond SELECT; BINLOG_GTID_POS needs none either). Only transactional
// (InnoDB) tables are consistent: MyISAM tables are read as they are while
// the snapshot runs. A table altered after the snapshot started fails its
// read (ER_TABLE_DEF_CHANGED): retry the snapshot.
//
// MySQL is not supported yet: it has no binlog_snapshot_* variables, so the
// position needs a short global lock around START TRANSACTION WITH
// CONSISTENT SNAPSHOT and SHOW MASTER STATUS: FLUSH TABLES WITH READ LOCK
// (RELOAD privilege) or, on 8.0+, LOCK INSTANCE FOR BACKUP (BACKUP_ADMIN)
// with performance_schema.log_status.
type SnapshotSource struct {
	cfg   SourceConfig
	conn  *client.Conn
	pos   tableformat.Position
	time  int64 // µs, the server's clock at the snapshot's start
	plans []*snapshotTable

	started  bool
	items    chan snapshotItem
	stop     chan struct{}
	wg       sync.WaitGroup
	done     bool  // the Commit was returned
	err      error // sticky
	stopOnce sync.Once

	zeroDates atomic.Int64
}

type snapshotTable struct {
	table    *ingest.Table
	cols     []TableColumn
	key      []int
	estimate int64 // information_schema.TABLES.TABLE_ROWS
	rows     atomic.Int64
	state    atomic.Int32 // 0 waiting, 1 reading, 2 read
}

type snapshotItem struct {
	ev  ingest.Event
	err error
}

// NewSnapshotSource opens a consistent read of the included tables and the
// binlog position it corresponds to. No rows are read before the first Next.
func NewSnapshotSource(ctx context.Context, cfg SourceConfig) (*SnapshotSource, error) {
	cfg = cfg.withDefaults()
	if cfg.Flavor != gomysql.MariaDBFlavor {
		return nil, fmt.Errorf("snapshot source: flavor %q: %w (mariadb only; mysql needs FLUSH TABLES WITH READ LOCK or LOCK INSTANCE FOR BACKUP)", cfg.Flavor, ErrSnapshotUnsupported)
	}
	conn, err := dial(ctx, cfg, "snapshot source")
	if err != nil {
		return nil, err
	}
	s := &SnapshotSource{cfg: cfg, conn: conn, stop: make(chan struct{})}
	if err := s.open(); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *SnapshotSource) open() error {
	for _, q := range []string{
		SnapshotSessionSetup,
		// A paused consumer must not make the server drop the stream.
		"SET SESSION net_write_timeout = 3600, net_read_timeout = 3600",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT",
	} {
		if _, err := s.conn.Execute(q); err != nil {
			return fmt.Errorf("snapshot source: %s: %w", q, err)
		}
	}
	r, err := s.conn.Execute("SHOW STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position')")
	if err != nil {
		return fmt.Errorf("snapshot source: binlog snapshot position: %w", err)
	}
	for i := range r.RowNumber() {
		name, _ := r.GetString(i, 0)
		value, _ := r.GetString(i, 1)
		switch strings.ToLower(name) {
		case "binlog_snapshot_file":
			s.pos.File = value
		case "binlog_snapshot_position":
			if s.pos.Pos, err = strconv.ParseUint(value, 10, 64); err != nil {
				return fmt.Errorf("snapshot source: binlog_snapshot_position %q: %w", value, err)
			}
		}
	}
	if s.pos.File == "" || s.pos.Pos == 0 {
		return fmt.Errorf("snapshot source: %s reports no binlog snapshot position (is log_bin on?)", sourceAddr(s.cfg))
	}
	if s.pos.GTIDSet, err = binlogGTIDPos(s.conn, "snapshot source", s.pos.File, s.pos.Pos); err != nil {
		return err
	}
	r, err = s.conn.Execute("SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)")
	if err != nil {
		return fmt.Errorf("snapshot source: server time: %w", err)
	}
	if s.time, err = r.GetInt(0, 0); err != nil {
		return fmt.Errorf("snapshot source: server time: %w", err)
	}
	return s.planTables()
}

// planTables lists the included base tables and their columns.
func (s *SnapshotSource) planTables() error {
	r, err := s.conn.Execute(`SELECT TABLE_SCHEMA, TABLE_NAME, IFNULL(TABLE_ROWS, 0) FROM information_schema.TABLES
WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME`)
	if err != nil {
		return fmt.Errorf("snapshot source: list tables: %w", err)
	}
	for i := range r.RowNumber() {
		db, _ := r.GetString(i, 0)
		name, _ := r.GetString(i, 1)
		if !s.cfg.Include(db, name) {
			continue
		}
		est, _ := r.GetInt(i, 2)
		cols, key, err := InfoSchemaColumns(s.conn, db, name)
		if err != nil {
			return fmt.Errorf("snapshot source: %w", err)
		}
		t := &ingest.Table{DB: db, Name: name, Columns: make([]ingest.SourceColumn, len(cols))}
		for j, c := range cols {
			t.Columns[j] = ingest.SourceColumn{Name: c.Name, Type: c.Type, Nullable: c.Nullable}
		}
		for _, k := range key {
			t.Key = append(t.Key, cols[k].Name)
		}
		s.plans = append(s.plans, &snapshotTable{table: t, cols: cols, key: key, estimate: est})
	}
	return nil
}

// Position returns the binlog position (GTID set and file:pos) of the
// consistent read: stream the binlog from here afterwards.
func (s *SnapshotSource) Position() tableformat.Position { return s.pos }

// Tables returns the tables the snapshot reads, in reading order.
func (s *SnapshotSource) Tables() []*ingest.Table {
	out := make([]*ingest.Table, len(s.plans))
	for i, p := range s.plans {
		out[i] = p.table
	}
	return out
}

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
		s.conn.Close()
	})
	return nil
}

var errSnapshotStopped = errors.New("snapshot source: closed")

// read streams every table, in the reader goroutine.
func (s *SnapshotSource) read() error {
	for _, p := range s.plans {
		if err := s.readTable(p); err != nil {
			if errors.Is(err, errSnapshotStopped) {
				return nil
			}
			return err
		}
	}
	// Release the read view; the connection stays open until Close.
	if _, err := s.conn.Execute("ROLLBACK"); err != nil {
		return fmt.Errorf("snapshot source: end the consistent read: %w", err)
	}
	return nil
}

// TableProgress is how far the snapshot of one table has got.
type TableProgress struct {
	DB, Table string
	Rows      int64 // rows read and handed on
	Estimate  int64 // the server's estimate of the table's rows
	Reading   bool
	Done      bool
}

// Progress returns every table's progress; safe to call while Next runs.
func (s *SnapshotSource) Progress() []TableProgress {
	out := make([]TableProgress, len(s.plans))
	for i, p := range s.plans {
		st := p.state.Load()
		out[i] = TableProgress{DB: p.table.DB, Table: p.table.Name, Rows: p.rows.Load(), Estimate: p.estimate,
			Reading: st == 1, Done: st == 2}
	}
	return out
}

func (s *SnapshotSource) readTable(p *snapshotTable) error {
	t := p.table
	log := s.cfg.Logger.With("table", t.DB+"."+t.Name)
	log.Info("snapshot table started", "estimated_rows", p.estimate)
	p.state.Store(1)
	defer p.state.Store(2)
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
		chunk, chunkBytes = nil, 0
		select {
		case s.items <- snapshotItem{ev: ev}:
		case <-s.stop:
			return errSnapshotStopped
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
	raw := make([]byte, 0, 64) // never nil: nil is NULL to DecodeSnapshotValue
	var result gomysql.Result
	err := s.conn.ExecuteSelectStreaming(q, &result, func(fields []gomysql.FieldValue) error {
		if len(fields) != len(p.cols) {
			return fmt.Errorf("%d fields, want %d", len(fields), len(p.cols))
		}
		row := make([]any, len(p.cols))
		for i, c := range p.cols {
			raw = textOf(raw[:0], fields[i])
			if fields[i].Type == gomysql.FieldValueTypeNull {
				continue
			}
			chunkBytes += len(raw) + 16
			v, err := DecodeSnapshotValue(c.Type, raw)
			if errors.Is(err, ErrZeroDate) {
				s.zeroDates.Add(1)
				continue
			}
			if err != nil {
				return fmt.Errorf("column %q: %w", c.Name, err)
			}
			row[i] = v
		}
		chunk = append(chunk, row)
		total++
		if len(chunk) >= snapshotChunkRows || chunkBytes >= snapshotChunkBytes {
			return send()
		}
		return nil
	}, nil)
	if err == nil {
		err = send()
	}
	if err == nil && total == 0 {
		// An empty table has no Rows to carry its structure: declare it,
		// inside the snapshot's transaction, so the lake lists it.
		select {
		case s.items <- snapshotItem{ev: &ingest.DDL{Op: ingest.DDLCreate, DB: t.DB, Name: t.Name, Table: t}}:
		case <-s.stop:
			err = errSnapshotStopped
		}
	}
	if errors.Is(err, errSnapshotStopped) {
		return err
	}
	if err != nil {
		return fmt.Errorf("snapshot source: read table %s.%s after %d rows: %w", t.DB, t.Name, total, err)
	}
	secs := time.Since(start).Seconds()
	log.Info("snapshot table done", "rows", total, "seconds", math.Round(secs*1000)/1000,
		"rows_per_s", math.Round(float64(total)/max(secs, 1e-9)))
	return nil
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
