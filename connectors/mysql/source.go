package mysql

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/tableformat"
)

// ErrPositionLost reports that the server no longer has the binlog at the
// start position (purged, or never there). Retrying cannot help: start a new
// lake, or replay from a position the server still has.
var ErrPositionLost = errors.New("the source no longer has the binlog at the start position")

// SourceConfig configures a BinlogSource. Zero values take the defaults
// (the DefaultX constants).
type SourceConfig struct {
	Flavor   string // "mariadb" or "mysql"
	Host     string
	Port     uint16
	User     string
	Password secret.String
	ServerID uint32      // this replica's id, unique among the source's replicas
	TLS      *tls.Config // nil: plain
	// Include reports whether a table is mirrored; nil: every table except
	// the system schemas (mysql, information_schema, performance_schema, sys).
	Include         func(db, table string) bool
	HeartbeatPeriod time.Duration
	ReadTimeout     time.Duration // 0 or less: 3×HeartbeatPeriod
	// StopAtCaughtUp: Next returns *ingest.CaughtUp (once) when every
	// transaction the server had written when the source was opened has
	// been returned, between transactions, and goes on streaming after it.
	StopAtCaughtUp bool
	Logger         *slog.Logger
	// SnapshotStrategy forces how the initial snapshot pins its binlog
	// position (see SnapshotSource); "" or "auto" chooses by flavour and
	// privileges.
	SnapshotStrategy SnapshotStrategy
	// SnapshotReaders is how many connections read the initial snapshot's
	// tables, each in a transaction of the same read view; 0 or less: one
	// per 1,000 tables, up to four (snapshot_readers.go).
	SnapshotReaders int
	// TableCharsets holds the default character sets of tables as of the
	// start position, by {db, table} (the lake's schemas): an ALTER that
	// adds a character column without a charset takes its table's, and by
	// the time the source reads it the server may have renamed or dropped
	// the table. Tables not in it are looked up on the live server.
	TableCharsets map[[2]string]string
}

// SourceConfig defaults. DefaultPort is the port both servers listen on
// unless told otherwise; Port itself has no default.
const (
	DefaultFlavor    = gomysql.MariaDBFlavor
	DefaultPort      = 3306
	DefaultHeartbeat = 10 * time.Second
)

// connectTimeout bounds each connection attempt and query of the control
// connection.
const connectTimeout = 10 * time.Second

// eventQueue is how many decoded events go-mysql may hold ahead of Next.
const eventQueue = 64

// maxCachedTables bounds the table structure cache; past it, each table id
// added evicts another, arbitrary one (whose next TableMap builds its entry
// again, and the pipeline then compares columns instead of pointers). It
// once started over instead, so a source writing to more tables than this
// rebuilt every table's entry each time it filled.
const maxCachedTables = 10_000

func (c SourceConfig) withDefaults() SourceConfig {
	if c.Flavor == "" {
		c.Flavor = DefaultFlavor
	}
	if c.HeartbeatPeriod <= 0 {
		c.HeartbeatPeriod = DefaultHeartbeat
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 3 * c.HeartbeatPeriod
	}
	if c.Include == nil {
		c.Include = defaultInclude
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of the config (after its defaults) that
// shows without a server, each a *settings.Problem naming its field. What
// connecting needs (a host, a user, a server id) is not checked here.
func (c SourceConfig) Validate() error {
	var ps settings.Problems
	if c.Flavor != gomysql.MariaDBFlavor && c.Flavor != gomysql.MySQLFlavor {
		ps.Add("flavor", "%q: use mariadb or mysql", c.Flavor)
	}
	if c.HeartbeatPeriod <= 0 {
		ps.Add("heartbeat_period", "%s: must be positive, such as %s", c.HeartbeatPeriod, settings.Duration(DefaultHeartbeat))
	}
	return ps.Err()
}

func defaultInclude(db, _ string) bool { return !SystemSchema(db) }

// SystemSchema reports whether db is one of the server's own schemas, which
// binlake never mirrors whatever source.include says. The server names them
// in lower case; a user's schema "Sys" is not one (names are case-sensitive
// on Linux).
func SystemSchema(db string) bool {
	switch db {
	case "mysql", "information_schema", "performance_schema", "sys":
		return true
	}
	return false
}

// BinlogSource streams a MySQL/MariaDB binlog as ingest events: whole
// transactions of Rows events, each followed by a Commit that names the
// position after it, and DDL.
type BinlogSource struct {
	cfg      SourceConfig
	syncer   *replication.BinlogSyncer
	streamer *replication.BinlogStreamer
	start    tableformat.Position

	// gtids is the executed set up to the last returned commit (nil when
	// the start has none: MySQL from a file position).
	gtids gomysql.GTIDSet
	file  string // the current binlog file (Rotate events)
	pos   uint32 // the end of the last event read, for errors

	// The open transaction.
	inTxn bool
	// multi: the transaction ends with XID or COMMIT (MariaDB GTID event
	// without the standalone flag, or a BEGIN); otherwise its one
	// statement, a DDL, is the whole transaction.
	multi   bool
	txnGTID string
	txnTime int64 // µs

	tables map[uint64]*cachedTable
	queue  []ingest.Event // events decided but not yet returned

	// target is the server's position when the source was opened
	// (StopAtCaughtUp); caughtUp is set once it is reached, told once
	// Next has returned *ingest.CaughtUp.
	target   tableformat.Position
	caughtUp bool
	told     bool

	zeroDates atomic.Int64

	// lookup: the connection DDL parsing reads the server's defaults
	// through, and TableMap events the types of binary columns
	// (lookupQuery).
	lookup *client.Conn
	// tableColl holds the default collations tables got from the DDL this
	// source read (CREATE TABLE, ALTER … DEFAULT CHARSET), following
	// renames: they win over the live lookup.
	tableColl map[[2]string]uint64
	// colKinds holds the column kinds of tables, from the DDL this source
	// read or looked up, for the columns a TableMap event logs as
	// BINARY(16) or BINARY(4) (binarytypes.go).
	colKinds map[[2]string]*learntKinds
}

// cachedTable is what the source keeps of a table id (one per table the
// binlog names, up to maxCachedTables): the structure its TableMap event
// logs, and the table its rows are decoded as, by the types of its columns
// (nil: not mirrored).
type cachedTable struct {
	fingerprint string
	table       *ingest.Table // nil: not mirrored
}

// NewBinlogSource connects to the server and starts streaming at start: its
// GTID set when it has one, else its file and offset; an empty start means
// the server's current position (see Start). A start the server no longer
// has yields ErrPositionLost, here or from the first Next.
func NewBinlogSource(ctx context.Context, cfg SourceConfig, start tableformat.Position) (*BinlogSource, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("binlog source: %w", err)
	}
	s := &BinlogSource{cfg: cfg, tables: map[uint64]*cachedTable{}, tableColl: map[[2]string]uint64{},
		colKinds: map[[2]string]*learntKinds{}}
	for t, cs := range cfg.TableCharsets {
		if id, ok := charsetCollation(cs); ok {
			s.tableColl[t] = id
		}
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	current, err := s.serverPosition(conn)
	if err != nil {
		return nil, err
	}
	if err := rowFormat(conn); err != nil {
		return nil, fmt.Errorf("binlog source: %s: %w", s.addr(), err)
	}
	s.target = current
	// Stream by GTID when the caller named a GTID set, else by file
	// position (a new lake starts at the server's current file position).
	byGTID := start.GTIDSet != ""
	switch {
	case start.IsZero():
		start = current
	case !byGTID && cfg.Flavor == gomysql.MariaDBFlavor:
		// Seed the running GTID set with the server's view of the file
		// position, so commits name both.
		start.GTIDSet, err = s.binlogGTIDPos(conn, start.File, start.Pos)
		if err != nil {
			return nil, err
		}
	}
	s.start = start
	// MariaDB: the executed set is always known (possibly empty); MySQL:
	// only when the start names it.
	if start.GTIDSet != "" || cfg.Flavor == gomysql.MariaDBFlavor {
		if s.gtids, err = s.parseGTIDSet(start.GTIDSet); err != nil {
			return nil, fmt.Errorf("binlog source: start: %w", err)
		}
	}
	if cfg.StopAtCaughtUp {
		s.caughtUp, err = s.reached(start)
		if err != nil {
			return nil, err
		}
	}
	if err := s.startSync(start, byGTID); err != nil {
		return nil, err
	}
	cfg.Logger.Info("binlog source started", "start", start.String(), "server_position", current.String())
	return s, nil
}

// Start returns the position the source was opened at (the server's current
// position when NewBinlogSource was given an empty one): what ingest.Begin
// records for a new lake.
func (s *BinlogSource) Start() tableformat.Position { return s.start }

// ZeroDates returns how many zero dates were turned into NULL so far.
func (s *BinlogSource) ZeroDates() int64 { return s.zeroDates.Load() }

// Close stops streaming; the syncer's goroutine ends before it returns.
func (s *BinlogSource) Close() error {
	if s.syncer != nil {
		s.syncer.Close()
	}
	if s.lookup != nil {
		s.lookup.Close()
		s.lookup = nil
	}
	return nil
}

func (s *BinlogSource) addr() string { return sourceAddr(s.cfg) }

func sourceAddr(cfg SourceConfig) string {
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

// connect opens the control connection (positions, GTID sets), which also
// checks the credentials before streaming starts.
func (s *BinlogSource) connect(ctx context.Context) (*client.Conn, error) {
	return dial(ctx, s.cfg, "binlog source")
}

// dial opens a client connection to the source with cfg's credentials and
// TLS; who names the caller in errors (never the password).
func dial(ctx context.Context, cfg SourceConfig, who string) (*client.Conn, error) {
	opts := []client.Option{}
	if cfg.TLS != nil {
		opts = append(opts, func(c *client.Conn) error { c.SetTLSConfig(cfg.TLS); return nil })
	}
	addr := sourceAddr(cfg)
	// The greeting tells whether the server offers TLS, for the error of a
	// plaintext login it refuses.
	var sniff greetingSniffer
	conn, err := client.ConnectWithDialer(ctx, "tcp", addr, cfg.User, cfg.Password.Reveal(), "", sniff.dial, opts...)
	if err != nil {
		return nil, connectFailed(fmt.Sprintf("%s: connect to %s as user %q", who, addr, cfg.User), err, cfg.TLS != nil, sniff.result())
	}
	return conn, nil
}

// ErrNotRowFormat reports a server that logs changes as statements
// (binlog_format STATEMENT or MIXED): only row events can be mirrored, so
// ingest refuses to run rather than lose those changes.
var ErrNotRowFormat = errors.New("the server logs changes as statements, which cannot be mirrored")

// rowFormat checks that the server logs changes as row events.
func rowFormat(conn *client.Conn) error {
	vars, err := serverVariables(conn, "binlog_format")
	if err != nil {
		return err
	}
	if f := vars["binlog_format"]; f != "" && !strings.EqualFold(f, "ROW") {
		return fmt.Errorf("binlog_format=%s: %w: SET GLOBAL binlog_format=ROW and put binlog_format=ROW in the server's config "+
			"(binlake check lists every prerequisite)", f, ErrNotRowFormat)
	}
	return nil
}

// IsAccessDenied reports whether err is the server refusing the user: a
// wrong password or a missing privilege, which retrying does not fix.
func IsAccessDenied(err error) bool {
	var me *gomysql.MyError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Code {
	case gomysql.ER_ACCESS_DENIED_ERROR, gomysql.ER_DBACCESS_DENIED_ERROR, gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, gomysql.ER_TABLEACCESS_DENIED_ERROR:
		return true
	}
	return false
}

// serverPosition reads the server's current binlog position and the GTID
// set executed up to it.
func (s *BinlogSource) serverPosition(conn *client.Conn) (tableformat.Position, error) {
	p, err := binlogStatus(conn)
	if err != nil {
		var me *gomysql.MyError
		if errors.As(err, &me) && me.Code == gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR {
			return p, fmt.Errorf("binlog source: %s: %w (grant it to user %q: GRANT %s ON *.* TO %s; binlake check lists every privilege ingest needs)",
				s.addr(), err, s.cfg.User, monitorPrivilege(s.cfg.Flavor), grantee(s.cfg))
		}
		return p, fmt.Errorf("binlog source: %s: %w", s.addr(), err)
	}
	if s.cfg.Flavor == gomysql.MySQLFlavor {
		return p, nil
	}
	p.GTIDSet, err = s.binlogGTIDPos(conn, p.File, p.Pos)
	return p, err
}

// ServerPosition returns the source's current binlog position (the end of
// its binlog, with the executed GTID set) and its clock, µs since the Unix
// epoch, just before it.
func ServerPosition(ctx context.Context, cfg SourceConfig) (tableformat.Position, int64, error) {
	s := &BinlogSource{cfg: cfg.withDefaults()}
	conn, err := s.connect(ctx)
	if err != nil {
		return tableformat.Position{}, 0, err
	}
	defer conn.Close()
	r, err := conn.Execute("SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)")
	if err != nil {
		return tableformat.Position{}, 0, fmt.Errorf("binlog source: server time: %w", err)
	}
	now, err := r.GetInt(0, 0)
	if err != nil {
		return tableformat.Position{}, 0, fmt.Errorf("binlog source: server time: %w", err)
	}
	p, err := s.serverPosition(conn)
	return p, now, err
}

// binlogGTIDPos asks MariaDB for the GTID set at a file position.
func (s *BinlogSource) binlogGTIDPos(conn *client.Conn, file string, pos uint64) (string, error) {
	return binlogGTIDPos(conn, "binlog source", file, pos)
}

// binlogGTIDPos asks MariaDB for the GTID set at a file position; who names
// the caller in errors.
func binlogGTIDPos(conn *client.Conn, who, file string, pos uint64) (string, error) {
	r, err := conn.Execute("SELECT BINLOG_GTID_POS(?, ?)", file, pos)
	if err != nil {
		return "", fmt.Errorf("%s: gtid position of %s:%d: %w", who, file, pos, err)
	}
	if r.RowNumber() == 0 {
		return "", positionLost(tableformat.Position{File: file, Pos: pos}, errors.New("binlog_gtid_pos gave no row"))
	}
	v, err := r.GetValue(0, 0)
	if err != nil || v == nil {
		return "", positionLost(tableformat.Position{File: file, Pos: pos}, errors.New("binlog_gtid_pos is NULL"))
	}
	set, _ := r.GetString(0, 0)
	return set, nil
}

func (s *BinlogSource) parseGTIDSet(set string) (gomysql.GTIDSet, error) {
	if s.cfg.Flavor == gomysql.MySQLFlavor {
		return gomysql.ParseMysqlGTIDSet(set)
	}
	return gomysql.ParseMariadbGTIDSet(set)
}

// reached reports whether p is at or past the caught-up target.
func (s *BinlogSource) reached(p tableformat.Position) (bool, error) {
	if p.GTIDSet != "" && s.target.GTIDSet != "" {
		have, err1 := tableformat.ParseGTIDSet(p.GTIDSet)
		want, err2 := tableformat.ParseGTIDSet(s.target.GTIDSet)
		if err := errors.Join(err1, err2); err != nil {
			return false, fmt.Errorf("binlog source: %w", err)
		}
		return have.ContainsSet(want)
	}
	if p.File == "" || s.target.File == "" {
		return false, nil
	}
	c, err := tableformat.CompareFilePos(p.File, p.Pos, s.target.File, s.target.Pos)
	if err != nil {
		return false, fmt.Errorf("binlog source: %w", err)
	}
	return c >= 0, nil
}

func (s *BinlogSource) startSync(start tableformat.Position, byGTID bool) error {
	cfg := SyncerConfig(replication.BinlogSyncerConfig{
		ServerID:        s.cfg.ServerID,
		Flavor:          s.cfg.Flavor,
		Host:            s.cfg.Host,
		Port:            s.cfg.Port,
		User:            s.cfg.User,
		Password:        s.cfg.Password.Reveal(),
		TLSConfig:       s.cfg.TLS,
		HeartbeatPeriod: s.cfg.HeartbeatPeriod,
		ReadTimeout:     s.cfg.ReadTimeout,
		// A broken connection ends Next with an error: the daemon resumes
		// from the lake's position, the only place a transaction can
		// restart from once some of its rows were handed out.
		DisableRetrySync: true,
		// go-mysql decodes ahead of Next into a buffered channel (10240
		// events by default: gigabytes of decoded rows when events carry
		// hundreds of rows and the pipeline is the slower stage). A short
		// queue keeps the decoder one step ahead without holding memory
		// the pipeline's budget does not see.
		EventCacheCount: eventQueue,
		Logger:          s.cfg.Logger,
	})
	s.syncer = replication.NewBinlogSyncer(cfg)
	var err error
	if byGTID {
		s.streamer, err = s.syncer.StartSyncGTID(s.gtids.Clone())
	} else {
		s.file = start.File
		s.streamer, err = s.syncer.StartSync(gomysql.Position{Name: start.File, Pos: uint32(start.Pos)})
	}
	if err != nil {
		s.syncer.Close()
		s.syncer = nil
		return s.streamError(start, err)
	}
	return nil
}

// streamError classifies an error of the replication stream.
func (s *BinlogSource) streamError(at tableformat.Position, err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG:
			return s.lost(at, err)
		case gomysql.ER_ACCESS_DENIED_ERROR, gomysql.ER_DBACCESS_DENIED_ERROR, gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR:
			return fmt.Errorf("binlog source: stream from %s as user %q: %w (reading the binlog needs REPLICATION SLAVE: GRANT REPLICATION SLAVE ON *.* TO %s; "+
				"binlake check lists every privilege ingest needs)", s.addr(), s.cfg.User, err, grantee(s.cfg))
		}
	}
	return fmt.Errorf("binlog source: stream from %s at %s: %w", s.addr(), at.String(), err)
}

func (s *BinlogSource) lost(at tableformat.Position, cause error) error {
	return positionLost(at, cause)
}

func positionLost(at tableformat.Position, cause error) error {
	return fmt.Errorf("binlog source: read at %s: %w (%v): start a new lake, or use --start-position/--start-gtid with a position the server still has (SHOW BINARY LOGS)",
		at.String(), ErrPositionLost, cause)
}

// Next returns the next event: Rows of the open transaction, the Commit
// that ends it, DDL (followed by its Commit), or Reached between
// transactions. With StopAtCaughtUp it returns *ingest.CaughtUp once the
// server's position at open is reached, between transactions.
func (s *BinlogSource) Next(ctx context.Context) (ingest.Event, error) {
	for {
		if len(s.queue) > 0 {
			ev := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			return ev, nil
		}
		if s.caughtUp && !s.inTxn && !s.told {
			s.told = true
			return &ingest.CaughtUp{}, nil
		}
		if s.streamer == nil {
			return nil, errors.New("binlog source: closed")
		}
		ev, err := s.streamer.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, s.streamError(s.position(s.pos), err)
		}
		if err := s.handle(ev); err != nil {
			return nil, err
		}
	}
}

// position is the position after an event ending at logPos.
func (s *BinlogSource) position(logPos uint32) tableformat.Position {
	p := tableformat.Position{File: s.file, Pos: uint64(logPos)}
	if s.gtids != nil {
		p.GTIDSet = s.gtids.String()
	}
	return p
}

func (s *BinlogSource) handle(ev *replication.BinlogEvent) error {
	if ev.Header.LogPos > 0 {
		s.pos = ev.Header.LogPos
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		s.file = string(e.NextLogName)
		return nil
	case *replication.MariadbGTIDEvent:
		s.begin(e.GTID.String(), ev.Header.Timestamp)
		s.multi = !e.IsStandalone()
		return nil
	case *replication.GTIDEvent:
		gtid := ""
		if e.GNO > 0 { // 0: an anonymous transaction (gtid_mode OFF)
			u, err := uuid.FromBytes(e.SID)
			if err != nil {
				return fmt.Errorf("binlog source: gtid event: %w", err)
			}
			gtid = u.String() + ":" + strconv.FormatInt(e.GNO, 10)
		}
		s.begin(gtid, ev.Header.Timestamp)
		return nil
	case *replication.TableMapEvent:
		_, err := s.table(e)
		return err
	case *replication.RowsEvent:
		return s.rows(ev.Header.EventType, e)
	case *replication.XIDEvent:
		return s.commit(ev.Header.LogPos)
	case *replication.QueryEvent:
		return s.query(ev, e)
	}
	if !s.inTxn && ev.Header.LogPos > 0 && s.file != "" {
		// Between transactions (format description, GTID list, checkpoint
		// events): the stream's position moves without a transaction.
		at := s.position(ev.Header.LogPos)
		s.queue = append(s.queue, &ingest.Reached{At: at})
		if s.cfg.StopAtCaughtUp && !s.caughtUp {
			ok, err := s.reached(at)
			if err != nil {
				return err
			}
			s.caughtUp = ok
		}
	}
	return nil
}

func (s *BinlogSource) begin(gtid string, ts uint32) {
	s.inTxn, s.multi = true, false
	s.txnGTID = gtid
	s.txnTime = int64(ts) * 1_000_000
}

// commit ends the open transaction at logPos, adding its GTID to the
// executed set.
func (s *BinlogSource) commit(logPos uint32) error {
	if s.txnGTID != "" && s.gtids != nil {
		if err := s.gtids.Update(s.txnGTID); err != nil {
			return fmt.Errorf("binlog source: add gtid %s to %s: %w", s.txnGTID, s.gtids.String(), err)
		}
	}
	c := &ingest.Commit{GTID: s.txnGTID, End: s.position(logPos), Time: s.txnTime}
	s.queue = append(s.queue, c)
	s.inTxn, s.multi, s.txnGTID = false, false, ""
	if s.cfg.StopAtCaughtUp && !s.caughtUp {
		ok, err := s.reached(tableformat.Position{File: c.End.File, Pos: c.End.Pos})
		if err != nil {
			return err
		}
		s.caughtUp = ok
	}
	return nil
}

func (s *BinlogSource) query(ev *replication.BinlogEvent, e *replication.QueryEvent) error {
	sql := strings.TrimSpace(string(e.Query))
	switch strings.ToUpper(sql) {
	case "BEGIN":
		if !s.inTxn { // MySQL without GTIDs
			s.begin("", ev.Header.Timestamp)
		}
		s.multi = true
		return nil
	case "COMMIT": // non-transactional tables
		return s.commit(ev.Header.LogPos)
	}
	if verb, targets, ok := DMLTargets(string(e.Schema), sql); ok {
		for _, t := range targets {
			if s.cfg.Include(t[0], t[1]) {
				return s.statementLogged(ev, verb, t)
			}
		}
		// Changes to tables the lake does not mirror: nothing to lose.
	}
	if !s.inTxn {
		s.begin("", ev.Header.Timestamp)
	}
	env := queryEnv(e.StatusVars)
	env.Defaults = &serverDefaults{s: s}
	ds := ParseDDLWith(string(e.Schema), sql, env)
	for _, d := range ds {
		s.followTableDefaults(d)
		s.followColumnKinds(d)
	}
	// A create or alter the parser read completely carries the new
	// structure (DDL.Table, DDL.Alter): the lake records it at the DDL's
	// position; otherwise it shows at the table's next TableMap event.
	// Either way the pipeline compares the next TableMap with what it
	// holds, and the TableMap wins.
	for _, d := range mirroredDDL(ds, s.cfg.Include) {
		s.queue = append(s.queue, d)
	}
	if !s.multi {
		return s.commit(ev.Header.LogPos)
	}
	return nil
}

// mirroredDDL keeps the statements of one DDL that concern mirrored tables
// (include), as the lake sees them. A table renamed out of the mirror is
// dropped there (a later DROP of its new name is not mirrored) — unless the
// same statement renames a table the lake does not mirror to its name (an
// online schema change tool's swap, RENAME TABLE t TO _t_old, _t_new TO t,
// with the shadow table outside source.include): the lake's table then
// stays, its structure follows at its next row event, and it is re-read
// from the source.
func mirroredDDL(ds []*ingest.DDL, include func(db, table string) bool) []*ingest.DDL {
	var out []*ingest.DDL
	swapped := map[*ingest.DDL]bool{}
	for i, d := range ds {
		if swapped[d] {
			continue
		}
		oldIn, newIn := include(d.DB, d.Name), d.NewName != "" && include(d.NewDB, d.NewName)
		switch {
		case d.Op == ingest.DDLRename && oldIn && !newIn:
			in := -1
			for j := i + 1; j < len(ds) && in < 0; j++ {
				x := ds[j]
				if x.Op == ingest.DDLRename && x.NewDB == d.DB && x.NewName == d.Name && !include(x.DB, x.Name) {
					in = j
				}
			}
			if in < 0 {
				out = append(out, &ingest.DDL{Op: ingest.DDLDrop, DB: d.DB, Name: d.Name, SQL: d.SQL})
				continue
			}
			x := ds[in]
			swapped[x] = true
			out = append(out, &ingest.DDL{Op: ingest.DDLAlter, DB: d.DB, Name: d.Name, SQL: d.SQL,
				Resnapshot: "swapped with " + x.DB + "." + x.Name + " (RENAME TABLE), a table the lake does not mirror"})
		case d.Op == ingest.DDLDropDatabase || oldIn || newIn:
			out = append(out, d)
		}
	}
	return out
}

// statementLogged is the error for a change to a mirrored table that the
// server logged as SQL text: its session ran with binlog_format STATEMENT
// or MIXED. Its rows are not in the binlog, so ingest stops before the
// transaction that holds it; skipping it would lose the change.
func (s *BinlogSource) statementLogged(ev *replication.BinlogEvent, verb string, t [2]string) error {
	start := ev.Header.LogPos
	if start >= ev.Header.EventSize {
		start -= ev.Header.EventSize // where the event begins
	}
	at := tableformat.Position{File: s.file, Pos: uint64(start)}.FilePos()
	if s.txnGTID != "" {
		at += " (GTID " + s.txnGTID + ")"
	}
	return fmt.Errorf("binlog source: at %s the server logged %s on %s.%s as a statement, not as rows; "+
		"the session that ran it had binlog_format STATEMENT or MIXED: %w. Make every writer log rows "+
		"(SET GLOBAL binlog_format=ROW, and reconnect or fix sessions that set their own format), then re-snapshot the lake: "+
		"run ingest once with source.snapshot: always (BINLAKE_SOURCE_SNAPSHOT=always); the lake's history is kept",
		at, verb, t[0], t[1], ErrNotRowFormat)
}

// Query event status variable codes (MariaDB's log_event.h).
const (
	qFlags2        = 0
	qSQLMode       = 1
	qCatalog       = 2
	qAutoIncrement = 3
	qCharset       = 4
	qTimeZone      = 5
	qCatalogNZ     = 6
	qLCTimeNames   = 7
	qCharsetDB     = 8
	qTableMap      = 9
	qMasterData    = 10
	qInvoker       = 11
	qHRNow         = 128
	qXID           = 129
)

// queryEnv reads the session's sql_mode and client charset from a Query
// event's status variables; SessionUnknown when sql_mode is not among
// them (the variables come in code order, sql_mode second: an unknown code
// before it stops the scan).
func queryEnv(vars []byte) DDLEnv {
	env := DDLEnv{SessionUnknown: true}
	for i := 0; i < len(vars); {
		code := vars[i]
		i++
		n := 0
		switch code {
		case qFlags2, qMasterData:
			n = 4
		case qSQLMode:
			if i+8 > len(vars) {
				return env
			}
			env.SQLMode = binary.LittleEndian.Uint64(vars[i:])
			env.SessionUnknown = false
			n = 8
		case qCatalog:
			if i >= len(vars) {
				return env
			}
			n = 1 + int(vars[i]) + 1
		case qAutoIncrement:
			n = 4
		case qCharset:
			if i+6 > len(vars) {
				return env
			}
			env.ClientCollation = uint64(binary.LittleEndian.Uint16(vars[i:]))
			n = 6
		case qTimeZone, qCatalogNZ:
			if i >= len(vars) {
				return env
			}
			n = 1 + int(vars[i])
		case qLCTimeNames, qCharsetDB:
			n = 2
		case qTableMap, qXID:
			n = 8
		case qInvoker:
			if i >= len(vars) {
				return env
			}
			n = 1 + int(vars[i])
			if i+n >= len(vars) {
				return env
			}
			n += 1 + int(vars[i+n])
		case qHRNow:
			n = 3
		default:
			return env
		}
		i += n
	}
	return env
}

// lookupTimeout bounds a lookup of the server's defaults for a DDL.
const lookupTimeout = 10 * time.Second

// serverDefaults answers DDLDefaults from the live server's
// information_schema: the defaults as they are now, not necessarily as they
// were at the DDL's position (see DDLDefaults).
type serverDefaults struct{ s *BinlogSource }

func (d *serverDefaults) query(q string, args ...any) (*gomysql.Result, error) {
	r, err := d.s.lookupQuery(q, args...)
	if err != nil {
		d.s.cfg.Logger.Warn("ddl defaults lookup failed: the structure shows at the next row event", "err", err)
	}
	return r, err
}

// lookupQuery runs a query on the connection that looks up what DDL and
// TableMap events leave to the server (opened when first needed, closed by
// Close, and after an error).
func (s *BinlogSource) lookupQuery(q string, args ...any) (*gomysql.Result, error) {
	if s.lookup == nil {
		ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
		defer cancel()
		conn, err := dial(ctx, s.cfg, "binlog source: lookup")
		if err != nil {
			return nil, err
		}
		s.lookup = conn
	}
	if err := s.lookup.SetDeadline(time.Now().Add(lookupTimeout)); err != nil {
		return nil, err
	}
	r, err := s.lookup.Execute(q, args...)
	if err != nil {
		s.lookup.Close()
		s.lookup = nil
		return nil, err
	}
	return r, nil
}

func (d *serverDefaults) id(q string, args ...any) (uint64, error) {
	r, err := d.query(q, args...)
	if err != nil {
		return 0, err
	}
	if r.RowNumber() == 0 {
		return 0, errors.New("not found")
	}
	return r.GetUint(0, 0)
}

// LearnTableCollation records a table's default collation from its DDL
// (0: unknown again, ask the server).
func (d *serverDefaults) LearnTableCollation(db, table string, id uint64) {
	if id == 0 {
		delete(d.s.tableColl, [2]string{db, table})
		return
	}
	d.s.tableColl[[2]string{db, table}] = id
}

// followTableDefaults moves or forgets learnt table defaults as tables are
// renamed and dropped.
func (s *BinlogSource) followTableDefaults(d *ingest.DDL) { followNames(s.tableColl, d) }

// followNames keeps what m holds per table in step with a DDL: an entry
// moves with its table's rename (replacing any under the new name), and is
// forgotten with its table's drop or its database's.
func followNames[V any](m map[[2]string]V, d *ingest.DDL) {
	key := [2]string{d.DB, d.Name}
	switch d.Op {
	case ingest.DDLRename:
		v, ok := m[key]
		delete(m, key)
		delete(m, [2]string{d.NewDB, d.NewName})
		if ok {
			m[[2]string{d.NewDB, d.NewName}] = v
		}
	case ingest.DDLDrop:
		delete(m, key)
	case ingest.DDLDropDatabase:
		for k := range m {
			if k[0] == d.DB {
				delete(m, k)
			}
		}
	}
}

// TableCollation is the table's default collation: as learnt from the DDL
// read so far, else the live one.
func (d *serverDefaults) TableCollation(db, table string) (uint64, error) {
	if id, ok := d.s.tableColl[[2]string{db, table}]; ok {
		return id, nil
	}
	return d.id(`SELECT co.ID FROM information_schema.TABLES t JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = t.TABLE_COLLATION
WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?`, db, table)
}

func (d *serverDefaults) DatabaseCollation(db string) (uint64, error) {
	return d.id(`SELECT co.ID FROM information_schema.SCHEMATA s JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = s.DEFAULT_COLLATION_NAME
WHERE s.SCHEMA_NAME = ?`, db)
}

func (d *serverDefaults) ExplicitDefaultsForTimestamp() (bool, error) {
	v, err := d.id("SELECT @@GLOBAL.explicit_defaults_for_timestamp + 0")
	return v != 0, err
}

// table returns the cached description of a TableMap event's table, or nil
// when the table is not mirrored. The same *ingest.Table is returned while
// the table id and its structure are unchanged.
func (s *BinlogSource) table(e *replication.TableMapEvent) (*cachedTable, error) {
	fp := fingerprint(e)
	if c, ok := s.tables[e.TableID]; ok && c.fingerprint == fp {
		return c, nil
	}
	if _, ok := s.tables[e.TableID]; !ok && len(s.tables) >= maxCachedTables {
		for id := range s.tables {
			delete(s.tables, id)
			break
		}
	}
	c := &cachedTable{fingerprint: fp}
	db, name := string(e.Schema), string(e.Table)
	if s.cfg.Include(db, name) {
		cols, key, err := ColumnsFromTableMap(e)
		if err != nil {
			return nil, fmt.Errorf("binlog source: %w", err)
		}
		if err := s.binaryTypes(db, name, cols); err != nil {
			return nil, err
		}
		t := &ingest.Table{DB: db, Name: name, Columns: make([]ingest.SourceColumn, len(cols))}
		for i, col := range cols {
			t.Columns[i] = ingest.SourceColumn{Name: col.Name, Type: col.Type, Nullable: col.Nullable}
		}
		for _, k := range key {
			t.Key = append(t.Key, cols[k].Name)
		}
		c.table = t
	}
	s.tables[e.TableID] = c
	return c, nil
}

// fingerprint identifies a table's structure as a TableMap event logs it.
func fingerprint(e *replication.TableMapEvent) string {
	var b strings.Builder
	field := func(p []byte) {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.Write(p)
	}
	field(e.Schema)
	field(e.Table)
	field(e.ColumnType)
	for _, m := range e.ColumnMeta {
		b.WriteString(strconv.Itoa(int(m)))
		b.WriteByte(',')
	}
	field(e.NullBitmap)
	field(e.SignednessBitmap)
	for _, names := range e.ColumnName {
		field(names)
	}
	for _, pk := range e.PrimaryKey {
		b.WriteString(strconv.FormatUint(pk, 10))
		b.WriteByte(',')
	}
	b.WriteByte('|')
	for _, v := range [][]uint64{e.DefaultCharset, e.ColumnCharset, e.EnumSetDefaultCharset, e.EnumSetColumnCharset} {
		for _, x := range v {
			b.WriteString(strconv.FormatUint(x, 10))
			b.WriteByte(',')
		}
		b.WriteByte('|')
	}
	for _, labels := range append(append([][][]byte{}, e.EnumStrValue...), e.SetStrValue...) {
		for _, l := range labels {
			field(l)
		}
		b.WriteByte('|')
	}
	return b.String()
}

func (s *BinlogSource) rows(typ replication.EventType, e *replication.RowsEvent) error {
	if e.Table == nil {
		return fmt.Errorf("binlog source: rows event for table id %d without a table map", e.TableID)
	}
	c, err := s.table(e.Table)
	if err != nil {
		return err
	}
	if c.table == nil {
		return nil
	}
	var op ingest.RowOp
	switch typ {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		op = ingest.RowInsert
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1, replication.PARTIAL_UPDATE_ROWS_EVENT:
		op = ingest.RowUpdate
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		op = ingest.RowDelete
	default:
		return fmt.Errorf("binlog source: table %s.%s: unexpected rows event %s", c.table.DB, c.table.Name, typ)
	}
	for _, skipped := range e.SkippedColumns {
		if len(skipped) > 0 {
			return fmt.Errorf("binlog source: table %s.%s: %w", c.table.DB, c.table.Name, ErrPartialRowImage)
		}
	}
	r := &ingest.Rows{Table: c.table, Op: op, Time: s.txnTime}
	for i, raw := range e.Rows {
		row, err := s.decodeRow(c, raw)
		if err != nil {
			return err
		}
		switch {
		case op == ingest.RowInsert:
			r.After = append(r.After, row)
		case op == ingest.RowDelete:
			r.Before = append(r.Before, row)
		case i%2 == 0:
			r.Before = append(r.Before, row)
		default:
			r.After = append(r.After, row)
		}
	}
	if len(r.Before) != len(r.After) && op == ingest.RowUpdate {
		return fmt.Errorf("binlog source: table %s.%s: update event with an odd number of row images", c.table.DB, c.table.Name)
	}
	s.queue = append(s.queue, r)
	return nil
}

func (s *BinlogSource) decodeRow(c *cachedTable, raw []any) ([]any, error) {
	cols := c.table.Columns
	if len(raw) != len(cols) {
		return nil, fmt.Errorf("binlog source: table %s.%s: row of %d values, table map has %d columns",
			c.table.DB, c.table.Name, len(raw), len(cols))
	}
	// The decoded values replace go-mysql's in its own slice: the event
	// is not read again, and a row costs one allocation less.
	row := raw
	for i, col := range cols {
		v, err := DecodeBinlogValue(col.Type, raw[i])
		if errors.Is(err, ErrZeroDate) {
			s.zeroDates.Add(1) // v is nil: the lake stores NULL
		} else if err != nil {
			return nil, fmt.Errorf("binlog source: table %s.%s column %q: %w", c.table.DB, c.table.Name, col.Name, err)
		}
		row[i] = v
	}
	return row, nil
}
