package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlake/binlake/tableformat"
)

// LagProbe measures how far a position (the lake's last commit) is behind
// the server's binlog, in bytes. It keeps one connection open between
// calls and reopens it after an error. It needs BINLOG MONITOR on MariaDB
// (REPLICATION CLIENT on MySQL), which ingest needs anyway.
type LagProbe struct {
	cfg  SourceConfig
	mu   sync.Mutex
	conn *client.Conn
}

// NewLagProbe returns a probe of the source cfg describes; it connects on
// first use.
func NewLagProbe(cfg SourceConfig) *LagProbe { return &LagProbe{cfg: cfg.withDefaults()} }

// BinlogFile is one binlog file of the server and its size.
type BinlogFile struct {
	Name string
	Size int64
}

// BytesBehind returns the bytes of binlog between pos and the server's
// current end of binlog, summed over the files in between (SHOW BINARY
// LOGS): the rest of pos's file, every later file, and the current file up
// to SHOW MASTER STATUS. It is 0 when pos is at the end, and also when the
// server has executed no transaction beyond pos's GTID set (after a binlog
// rotation the new file's headers hold nothing to ingest). A position whose
// file the server no longer has is an error.
func (p *LagProbe) BytesBehind(ctx context.Context, pos tableformat.Position) (int64, error) {
	if pos.File == "" {
		return 0, errors.New("lag probe: the position names no binlog file")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		conn, err := dial(ctx, p.cfg, "lag probe")
		if err != nil {
			return 0, err
		}
		p.conn = conn
	}
	n, err := p.bytesBehind(ctx, pos)
	var me *gomysql.MyError
	if err != nil && !errors.As(err, &me) {
		// A broken connection (not an error the server answered with):
		// open a new one next time.
		p.conn.Close()
		p.conn = nil
	}
	return n, err
}

func (p *LagProbe) bytesBehind(ctx context.Context, pos tableformat.Position) (int64, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(connectTimeout)
	}
	if err := p.conn.SetDeadline(deadline); err != nil {
		return 0, fmt.Errorf("lag probe: %w", err)
	}
	defer p.conn.SetDeadline(time.Time{})

	files, err := binaryLogs(p.conn)
	if err != nil {
		return 0, err
	}
	cur, err := binlogStatus(p.conn)
	if err != nil {
		return 0, fmt.Errorf("lag probe: %s: %w", sourceAddr(p.cfg), err)
	}
	if pos.GTIDSet != "" {
		if caughtUp, err := p.executedWithin(pos.GTIDSet); err != nil {
			return 0, err
		} else if caughtUp {
			return 0, nil
		}
	}
	return BytesBetween(files, tableformat.Position{File: cur.File, Pos: cur.Pos}, pos)
}

// executedWithin reports whether every transaction the server has written
// to its binlog is in set.
func (p *LagProbe) executedWithin(set string) (bool, error) {
	q := "SELECT @@GLOBAL.gtid_binlog_pos"
	if p.cfg.Flavor == gomysql.MySQLFlavor {
		q = "SELECT @@GLOBAL.gtid_executed"
	}
	r, err := p.conn.Execute(q)
	if err != nil {
		return false, fmt.Errorf("lag probe: %s: %w", q, err)
	}
	server, _ := r.GetString(0, 0)
	have, err1 := tableformat.ParseGTIDSet(set)
	want, err2 := tableformat.ParseGTIDSet(strings.ReplaceAll(server, "\n", ""))
	if err := errors.Join(err1, err2); err != nil {
		return false, fmt.Errorf("lag probe: %w", err)
	}
	if want.IsEmpty() {
		// No GTIDs (MySQL with gtid_mode OFF): the file position decides.
		return false, nil
	}
	ok, err := have.ContainsSet(want)
	if err != nil {
		return false, fmt.Errorf("lag probe: %w", err)
	}
	return ok, nil
}

// binaryLogs lists the server's binlog files (SHOW BINARY LOGS).
func binaryLogs(conn *client.Conn) ([]BinlogFile, error) {
	r, err := conn.Execute("SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("lag probe: show binary logs: %w", err)
	}
	defer r.Close() // returns its buffers to a pool: copy what is kept
	files := make([]BinlogFile, 0, r.RowNumber())
	for i := range r.RowNumber() {
		name, _ := r.GetString(i, 0)
		size, _ := r.GetInt(i, 1)
		files = append(files, BinlogFile{Name: strings.Clone(name), Size: size})
	}
	return files, nil
}

// BytesBetween returns the bytes of binlog from pos to end (the server's
// current position), given the server's binlog files and sizes: the rest of
// pos's file, every file after it, and end's file up to end.Pos. A pos at or
// past end gives 0.
func BytesBetween(files []BinlogFile, end, pos tableformat.Position) (int64, error) {
	c, err := tableformat.CompareFilePos(pos.File, pos.Pos, end.File, end.Pos)
	if err != nil {
		return 0, fmt.Errorf("lag probe: %w", err)
	}
	if c >= 0 {
		return 0, nil
	}
	found := false
	var n int64
	for _, f := range files {
		cf, err := tableformat.CompareFilePos(f.Name, 0, pos.File, 0)
		if err != nil {
			return 0, fmt.Errorf("lag probe: %w", err)
		}
		ce, err := tableformat.CompareFilePos(f.Name, 0, end.File, 0)
		if err != nil {
			return 0, fmt.Errorf("lag probe: %w", err)
		}
		size := f.Size
		if ce == 0 {
			size = int64(end.Pos)
		}
		switch {
		case cf < 0 || ce > 0:
			continue
		case cf == 0:
			found = true
			n += max(0, size-int64(pos.Pos))
		default:
			n += size
		}
	}
	if !found {
		return 0, fmt.Errorf("lag probe: the server no longer has binlog file %s (SHOW BINARY LOGS)", pos.File)
	}
	return n, nil
}

// Close closes the probe's connection.
func (p *LagProbe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		return nil
	}
	err := p.conn.Close()
	p.conn = nil
	return err
}
