package mysql

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
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

// Rereader reads tables of the source again for re-snapshots
// (ingest.Rereader, docs/snapshot.md): each chunk in its own consistent
// read, a short REPEATABLE READ transaction whose binlog position the
// server names. On MariaDB (snapshot strategy binlog_snapshot, the default
// there) no lock is taken: binlog_snapshot_file/_position name the position
// of the read. On MySQL the read is pinned the way the initial snapshot
// pins it (a global read lock or a read lock on the one table, held for the
// few statements that start the read), as no status names the position of a
// read there. Rows are read in primary key order, a chunk after the last
// key of the one before, with the same decoding as the initial snapshot.
type Rereader struct {
	cfg SourceConfig

	mu   sync.Mutex
	idle []*client.Conn // connections between reads

	zeroDates atomic.Int64
}

// maxIdleRereads bounds the connections a Rereader keeps between reads.
const maxIdleRereads = 2

// NewRereader returns a Rereader of the source cfg names; it connects when
// it first reads.
func NewRereader(cfg SourceConfig) *Rereader { return &Rereader{cfg: cfg.withDefaults()} }

// Close closes the connections kept between reads.
func (r *Rereader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.idle {
		c.Close()
	}
	r.idle = nil
	return nil
}

// ZeroDates returns how many zero dates the reads turned into NULL.
func (r *Rereader) ZeroDates() int64 { return r.zeroDates.Load() }

func (r *Rereader) conn(ctx context.Context) (*client.Conn, error) {
	r.mu.Lock()
	if n := len(r.idle); n > 0 {
		c := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		return c, nil
	}
	r.mu.Unlock()
	c, err := dial(ctx, r.cfg, "re-snapshot")
	if err != nil {
		return nil, err
	}
	for _, q := range []string{
		SnapshotSessionSetup,
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		// A chunk's read holds a metadata lock on the table: a DDL waiting
		// behind it would hold up the table's writers, so the read is kept
		// short and never waits long for a lock itself.
		"SET SESSION lock_wait_timeout = 10",
	} {
		if _, err := c.Execute(q); err != nil {
			c.Close()
			return nil, fmt.Errorf("re-snapshot: %s: %w", q, err)
		}
	}
	return c, nil
}

func (r *Rereader) release(c *client.Conn, ok bool) {
	if ok {
		if _, err := c.Execute("ROLLBACK"); err == nil {
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.idle) < maxIdleRereads {
				r.idle = append(r.idle, c)
				return
			}
		}
	}
	c.Close()
}

// Pin starts a consistent read of db.name (an *ingest.TableAbsentError
// when the source has no such table). With known, the structure is taken as it is (see ingest.Rereader);
// without, it is read in the read (the table's metadata lock, taken by the
// first read, keeps it until the read ends).
func (r *Rereader) Pin(ctx context.Context, db, name string, known *ingest.Table) (ingest.Pinned, error) {
	c, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	pos, err := r.start(ctx, c, db, name)
	if err != nil {
		r.release(c, false)
		return nil, fmt.Errorf("re-snapshot %s.%s: %w", db, name, err)
	}
	p := &pinned{r: r, conn: c, at: pos, t: known}
	if known != nil {
		for _, col := range known.Columns {
			p.cols = append(p.cols, TableColumn{Name: col.Name, Type: col.Type, Nullable: col.Nullable})
		}
		for _, k := range known.Key {
			i := slices.IndexFunc(p.cols, func(c TableColumn) bool { return strings.EqualFold(c.Name, k) })
			if i < 0 {
				r.release(c, true)
				return nil, fmt.Errorf("re-snapshot %s.%s: key column %q is not among its columns", db, name, k)
			}
			p.key = append(p.key, i)
		}
		return p, nil
	}
	cols, key, err := InfoSchemaColumns(c, db, name)
	if tableGone(err) {
		// The position after the absence was seen: a DROP or RENAME
		// holds the table's metadata lock until it is binlogged.
		at, perr := binlogStatus(c)
		r.release(c, perr == nil)
		if perr != nil {
			return nil, fmt.Errorf("re-snapshot %s.%s: the source has no such table, and its position: %w", db, name, perr)
		}
		return nil, &ingest.TableAbsentError{DB: db, Name: name, At: at}
	}
	if err != nil {
		r.release(c, false)
		return nil, fmt.Errorf("re-snapshot: %w", err)
	}
	p.cols, p.key, p.t = cols, key, &ingest.Table{DB: db, Name: name}
	for _, k := range key {
		p.t.Key = append(p.t.Key, cols[k].Name)
	}
	for _, col := range cols {
		p.t.Columns = append(p.t.Columns, ingest.SourceColumn{Name: col.Name, Type: col.Type, Nullable: col.Nullable})
	}
	if cs, err := tableCharset(c, db, name); err == nil {
		p.t.Charset = cs
	}
	return p, nil
}

// start starts the consistent read on c and returns its binlog position.
func (r *Rereader) start(ctx context.Context, c *client.Conn, db, name string) (tableformat.Position, error) {
	strategy := r.cfg.SnapshotStrategy
	if strategy == "" || strategy == SnapshotAuto && r.cfg.Flavor == gomysql.MariaDBFlavor {
		strategy = SnapshotBinlogSnapshot
	}
	if strategy == SnapshotBinlogSnapshot {
		return startBinlogSnapshot(c, r.cfg)
	}
	// A lock held for the few statements that start the read, as the
	// initial snapshot takes it, on this one table for table_locks.
	cfg := r.cfg
	cfg.Include = func(d, n string) bool { return d == db && n == name }
	s := &SnapshotSource{cfg: cfg, conn: c}
	if _, err := s.pin(ctx); err != nil {
		return tableformat.Position{}, err
	}
	return s.pos, nil
}

// tableCharset is the table's default character set.
func tableCharset(c *client.Conn, db, name string) (string, error) {
	res, err := c.Execute(`SELECT IFNULL(co.CHARACTER_SET_NAME, '') FROM information_schema.TABLES t
LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = t.TABLE_COLLATION WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?`, db, name)
	if err != nil || res.RowNumber() == 0 {
		return "", errors.Join(err, errTableGone)
	}
	return res.GetString(0, 0)
}

// pinned is one consistent read (ingest.Pinned).
type pinned struct {
	r     *Rereader
	conn  *client.Conn
	at    tableformat.Position
	t     *ingest.Table
	cols  []TableColumn
	key   []int
	ok    bool // the read ended without an error: the connection can be reused
	once  sync.Once
	start time.Time
}

func (p *pinned) At() tableformat.Position { return p.at }
func (p *pinned) Table() *ingest.Table     { return p.t }

func (p *pinned) Close() error {
	p.once.Do(func() { p.r.release(p.conn, p.ok || p.start.IsZero()) })
	return nil
}

// Read reads the rows after the key after, in key order: at most limit
// when the key can bound a range (integers, decimals, temporal, text and
// binary columns), else (no key, or a FLOAT key) every row.
func (p *pinned) Read(ctx context.Context, after []any, limit int, row func([]any) error) (int, bool, error) {
	p.start = time.Now()
	exprs := make([]string, len(p.cols))
	for i, c := range p.cols {
		exprs[i] = SnapshotSelectExpr(c)
	}
	q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + QuoteIdent(p.t.DB) + "." + QuoteIdent(p.t.Name)
	ranged := len(p.key) > 0 && limit > 0
	for _, k := range p.key {
		ranged = ranged && rangeable(p.cols[k].Type)
	}
	if ranged {
		where, err := p.after(after)
		if err != nil {
			return 0, false, err
		}
		if where != "" {
			q += " WHERE " + where
		}
		keys := make([]string, len(p.key))
		for i, k := range p.key {
			keys[i] = QuoteIdent(p.cols[k].Name)
		}
		q += " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(limit)
	} else if after != nil {
		return 0, true, nil // read whole by the first chunk
	}
	stop := context.AfterFunc(ctx, func() { p.conn.Close() })
	defer stop()
	n := 0
	err := streamRows(p.conn, q, p.cols, &p.r.zeroDates, func(v []any, _ int) error {
		n++
		err := row(v)
		if !ranged && errors.Is(err, ingest.ErrChunkFull) {
			return nil // read whole: it goes on
		}
		return err
	})
	if ranged && errors.Is(err, ingest.ErrChunkFull) {
		// Ended early: the rest of the result is not read, so the
		// connection is not reused (p.ok stays false).
		return n, false, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return n, false, ctx.Err()
		}
		return n, false, fmt.Errorf("re-snapshot: read %s.%s: %w", p.t.DB, p.t.Name, err)
	}
	p.ok = true
	return n, !ranged || n < limit, nil
}

// after is the condition that selects the rows whose key follows the key
// k, in the index's order: (k1 > v1) OR (k1 = v1 AND k2 > v2) …, the form
// the range optimizer reads.
func (p *pinned) after(k []any) (string, error) {
	if k == nil {
		return "", nil
	}
	if len(k) != len(p.key) {
		return "", fmt.Errorf("re-snapshot: a key of %d values for %d key columns", len(k), len(p.key))
	}
	lits := make([]string, len(k))
	for i, ki := range p.key {
		l, err := keyLiteral(p.cols[ki].Type, k[i])
		if err != nil {
			return "", fmt.Errorf("re-snapshot: key column %q: %w", p.cols[ki].Name, err)
		}
		lits[i] = l
	}
	var ors []string
	for i := range p.key {
		var ands []string
		for j := range i {
			ands = append(ands, QuoteIdent(p.cols[p.key[j]].Name)+" = "+lits[j])
		}
		ands = append(ands, QuoteIdent(p.cols[p.key[i]].Name)+" > "+lits[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return strings.Join(ors, " OR "), nil
}

// rangeable reports whether a key column of type t bounds a chunk: its
// values compare on the server as the literal keyLiteral writes.
func rangeable(t tableformat.Type) bool {
	switch t.Kind {
	case tableformat.KindFloat, tableformat.KindDouble, tableformat.KindJSON, tableformat.KindGeometry,
		tableformat.KindText, tableformat.KindBlob:
		return false
	}
	return true
}

// keyLiteral is SQL for the key value v of type t (a value the snapshot
// decoded from the same column) that compares with the column the way the
// column's own values do: numbers as numbers, ENUM and SET by their index
// (the order of their index), text as a UTF-8 string (converted to the
// column's charset and compared in its collation; an INET4 or INET6
// address's text is read as the address), bytes in hex, a UUID in its text
// form, temporal values in the server's text form (TIMESTAMP in UTC, the
// session's zone).
func keyLiteral(t tableformat.Type, v any) (string, error) {
	switch x := v.(type) {
	case int64:
		switch t.Kind {
		case tableformat.KindDatetime, tableformat.KindTimestamp:
			return "'" + time.UnixMicro(x).UTC().Format("2006-01-02 15:04:05.000000") + "'", nil
		case tableformat.KindTime:
			return "'" + formatTime(x) + "'", nil
		}
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case int32:
		return "'" + time.Unix(int64(x)*86400, 0).UTC().Format("2006-01-02") + "'", nil
	case []byte:
		if t.Kind == tableformat.KindUUID {
			text, err := tableformat.FormatUUID(x)
			return "'" + text + "'", err
		}
		if len(x) == 0 {
			return "''", nil
		}
		return "X'" + hex.EncodeToString(x) + "'", nil
	case string:
		switch t.Kind {
		case tableformat.KindDecimal:
			return x, nil
		case tableformat.KindEnum:
			i := slices.Index(t.Elems, x)
			return strconv.Itoa(i + 1), nil // "" is 0, the error value
		case tableformat.KindSet:
			var mask uint64
			if x != "" {
				for label := range strings.SplitSeq(x, ",") {
					i := slices.Index(t.Elems, label)
					if i < 0 {
						return "", fmt.Errorf("set label %q", label)
					}
					mask |= 1 << uint(i)
				}
			}
			return strconv.FormatUint(mask, 10), nil
		}
		return "_utf8mb4 X'" + hex.EncodeToString([]byte(x)) + "'", nil
	}
	return "", fmt.Errorf("no key literal for %T of a %s column", v, t.Kind)
}

// formatTime is TIME's text, [-]H:MM:SS.ffffff.
func formatTime(us int64) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	s := us / 1_000_000
	return fmt.Sprintf("%s%d:%02d:%02d.%06d", sign, s/3600, s/60%60, s%60, us%1_000_000)
}
