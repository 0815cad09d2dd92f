package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"
	"golang.org/x/sync/errgroup"

	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/tableformat"
)

// Options configure an Engine. Zero values take the defaults (the DefaultX
// constants).
type Options struct {
	// Threads DuckDB may use.
	Threads int
	// MemoryLimit bounds DuckDB's memory, in DuckDB's syntax ("1GB"). Past
	// it, DuckDB spills to the cache's spill directory.
	MemoryLimit string
	// ResnapshotMemoryLimit bounds DuckDB's memory in a re-snapshot's
	// comparison (resnap.go), which runs inside the ingest daemon; default
	// MemoryLimit. Give it at least MinResnapshotMemory.
	ResnapshotMemoryLimit string
	// Timeout bounds each statement.
	Timeout time.Duration
	// FetchParallelism bounds concurrent downloads into the cache when a
	// session opens.
	FetchParallelism int
	// MaxSpill bounds DuckDB's temporary files of one session, in DuckDB's
	// syntax ("10GB"); DuckDB's own default would be 90% of the free disk.
	MaxSpill string
	// Meta exposes the _binlake_seq, _binlake_ts and _binlake_op columns in
	// the views.
	Meta bool
	// Materialize lets sessions write, in the background, a local snapshot
	// of a table whose view merges at least MaterializeRows delta rows
	// (localsnap.go); a session swaps its view to it once written. Sessions
	// use the local snapshots the cache holds either way.
	Materialize bool
	// MaterializeRows is the delta rows from which a view is worth a local
	// snapshot.
	MaterializeRows int64
	Logger          *slog.Logger
}

// Options defaults.
const (
	DefaultThreads          = 2
	DefaultMemoryLimit      = "1GB"
	DefaultTimeout          = 5 * time.Minute
	DefaultFetchParallelism = 8
	DefaultMaxSpill         = "10GB"
)

// MinResnapshotMemory is the least memory, in bytes, a re-snapshot's
// comparison is given: below it DuckDB's hash joins fail rather than spill
// (a 64 KiB limit failed every comparison).
const MinResnapshotMemory = 32 << 20

// WithDefaults fills in the zero (and negative) values.
func (o Options) WithDefaults() Options {
	if o.Threads <= 0 {
		o.Threads = DefaultThreads
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.ResnapshotMemoryLimit == "" {
		o.ResnapshotMemoryLimit = o.MemoryLimit
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.FetchParallelism <= 0 {
		o.FetchParallelism = DefaultFetchParallelism
	}
	if o.MaxSpill == "" {
		o.MaxSpill = DefaultMaxSpill
	}
	if o.MaterializeRows <= 0 {
		o.MaterializeRows = DefaultMaterializeRows
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports every problem of the options (after WithDefaults) at
// once, each a *settings.Problem naming its field.
func (o Options) Validate() error {
	var ps settings.Problems
	if o.Threads <= 0 {
		ps.Add("threads", "%d: must be at least 1, such as %d", o.Threads, DefaultThreads)
	}
	if o.Timeout <= 0 {
		ps.Add("timeout", "%s: must be positive, such as %s", o.Timeout, settings.Duration(DefaultTimeout))
	}
	for _, size := range []struct{ field, value, example string }{
		{"memory_limit", o.MemoryLimit, DefaultMemoryLimit},
		{"resnapshot_memory_limit", o.ResnapshotMemoryLimit, DefaultMemoryLimit},
		{"max_spill", o.MaxSpill, DefaultMaxSpill},
	} {
		if !duckDBSize.MatchString(size.value) {
			ps.Add(size.field, "%q: a size in DuckDB's syntax, such as 512MB or %s", size.value, size.example)
		}
	}
	if o.FetchParallelism <= 0 {
		ps.Add("fetch_parallelism", "%d: must be at least 1, such as %d", o.FetchParallelism, DefaultFetchParallelism)
	}
	return ps.Err()
}

// duckDBSize is DuckDB's syntax for memory_limit and
// max_temp_directory_size: a number and a unit, a percentage, or no limit.
var duckDBSize = regexp.MustCompile(`(?i)^\s*(-1|none|[0-9]+(\.[0-9]+)?\s*(b|bytes?|k|kb|kib|kilobytes?|m|mb|mib|megabytes?|g|gb|gib|gigabytes?|t|tb|tib|terabytes?|%)?)\s*$`)

// Engine opens sessions on one lake. Close it to stop its background work.
type Engine struct {
	log   *tableformat.Log
	cache *Cache
	opts  Options

	// local snapshots being written (localsnap.go)
	bmu    sync.Mutex
	builds map[string]*build // by destination path
	closed bool
	stop   chan struct{}
	sem    chan struct{} // one build at a time
	wg     sync.WaitGroup

	// parser parses statements for the gate (parse).
	pmu    sync.Mutex
	parser *dbHandle
}

// NewEngine returns an engine reading the lake of log through cache.
func NewEngine(log *tableformat.Log, cache *Cache, opts Options) *Engine {
	return &Engine{log: log, cache: cache, opts: opts.WithDefaults(),
		builds: map[string]*build{}, stop: make(chan struct{}), sem: make(chan struct{}, 1)}
}

// At names an "as of" point the way a user does; the zero At is the latest.
// At most one field may be set.
type At struct {
	Time     time.Time
	Version  int64
	GTID     string
	Position string // binlog FILE:POS
}

// String describes the point for messages.
func (a At) String() string {
	switch {
	case !a.Time.IsZero():
		return "time " + a.Time.UTC().Format(time.RFC3339Nano)
	case a.Version > 0:
		return fmt.Sprintf("version %d", a.Version)
	case a.GTID != "":
		return "gtid set " + a.GTID
	case a.Position != "":
		return "position " + a.Position
	}
	return "latest"
}

// Resolve turns a user's point into a lake point.
func (e *Engine) Resolve(ctx context.Context, a At) (tableformat.Point, error) {
	set := 0
	for _, b := range []bool{!a.Time.IsZero(), a.Version != 0, a.GTID != "", a.Position != ""} {
		if b {
			set++
		}
	}
	if set > 1 {
		return tableformat.Point{}, errors.New("give at most one of a time, a version, a GTID set and a position")
	}
	switch {
	case !a.Time.IsZero():
		return e.log.AtTime(ctx, a.Time)
	case a.Version != 0:
		if a.Version < 0 {
			return tableformat.Point{}, fmt.Errorf("version %d: versions start at 1", a.Version)
		}
		return e.log.AtVersion(ctx, a.Version)
	case a.GTID != "":
		return e.log.AtGTID(ctx, a.GTID)
	case a.Position != "":
		file, pos, err := tableformat.ParseFilePos(a.Position)
		if err != nil {
			return tableformat.Point{}, err
		}
		return e.log.AtFilePos(ctx, file, pos)
	}
	return e.log.AtLatest(ctx)
}

// Session is an in-memory DuckDB whose views show the lake at one point.
// It binds what its statements name (bind.go). It is not safe for
// concurrent use.
type Session struct {
	Point tableformat.Point
	e     *Engine
	cache *Cache
	opts  Options
	names *pointNames
	// h is the DuckDB holding the session's bindings (nil before its first
	// statement); bound says what it holds and stmts how each binding is
	// created.
	h     *dbHandle
	bound needs
	// loaded is Point.State with the tables the session bound, or stubbed,
	// loaded (tableformat.Log.LoadTables).
	loaded *tableformat.State
	stmts  map[objKey][]string
	pins   []string
	// allowed are the local files (local snapshots) the session may read,
	// besides paths.
	allowed []string
	paths   map[string]string // fetched files by checksum
	// pending are views whose local snapshot is being written.
	pending []pendingView
	// localViews counts the views reading a local snapshot.
	localViews int
	// clashing names the tables left out because their names differ from
	// another's only in case (pointNames).
	clashing []string
}

// Open opens a session at p. It binds nothing yet: each statement binds
// the views and macros it names, fetching (and verifying) their files
// first, so that a query never waits on, or reads past, the pinned
// version, and costs what it reads rather than what the lake holds.
func (e *Engine) Open(ctx context.Context, p tableformat.Point) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Session{Point: p, e: e, cache: e.cache, opts: e.opts, bound: newNeeds(), stmts: map[objKey][]string{},
		paths: map[string]string{}, loaded: p.State}
	s.names = newPointNames(p)
	s.clashing = clashingNames(p, s.names.viewClash, s.names.macroClash)
	if len(s.clashing) > 0 {
		e.opts.Logger.Warn("tables left out of the session: their names differ only in case, which DuckDB cannot tell apart",
			"tables", strings.Join(s.clashing, ", "))
	}
	return s, nil
}

// fetch brings every file the plans name into the cache, each once, a few
// at a time (a cold cache on S3 is bound by round trips, not bandwidth),
// pins them for s (s.paths, by checksum) and points the plans' files at
// them.
func (e *Engine) fetch(ctx context.Context, s *Session, plans []*tablePlan) error {
	var files []*planFile
	unique := map[string]tableformat.AddFile{}
	for _, pl := range plans {
		for _, f := range pl.files() {
			if !f.local {
				files = append(files, f)
				if s.paths[f.add.Checksum] == "" {
					unique[f.add.Checksum] = f.add
				}
			}
		}
	}
	before := e.cache.Downloaded()
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.FetchParallelism)
	for sum, add := range unique {
		g.Go(func() error {
			path, err := e.cache.Fetch(gctx, e.log.Store(), add)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			s.paths[sum] = path
			s.pins = append(s.pins, path) // released by Close, also after an error
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, f := range files {
		f.path = s.paths[f.add.Checksum]
	}
	if e.cache.Downloaded() != before {
		if _, err := e.cache.Evict(); err != nil {
			e.opts.Logger.Warn("query cache eviction failed", "err", err)
		}
	}
	return nil
}

// settings are the statements that set a session's DuckDB up: the
// engine's limits, spilling to spill, UTC, and no extension loaded behind
// the session's back.
func (e *Engine) settings(spill string) []string {
	return []string{
		fmt.Sprintf("SET threads = %d", e.opts.Threads),
		"SET memory_limit = " + quoteString(e.opts.MemoryLimit),
		"SET temp_directory = " + quoteString(spill),
		"SET max_temp_directory_size = " + quoteString(e.opts.MaxSpill),
		"SET TimeZone = 'UTC'",
		// Footers are read once per file: by the statement check and again
		// by the query.
		"SET parquet_metadata_cache = true",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
	}
}

// viewStmt creates a table's view db.table.
func (e *Engine) viewStmt(v *tablePlan) string {
	return fmt.Sprintf("CREATE VIEW %s.%s AS %s", quoteIdent(v.db), quoteIdent(v.name), v.selectSQL(e.opts.Meta))
}

// macroStmts create a table's macro db.table(seq) and, with feed (no table
// has its name), its change feed db.table_changes(from, to).
func (e *Engine) macroStmts(p tableformat.Point, m *tablePlan, feed bool) []string {
	stmts := []string{fmt.Sprintf("CREATE MACRO %s.%s(%s) AS TABLE %s", quoteIdent(m.db), quoteIdent(m.name), macroParam,
		pointGuard(m.selectSQL(e.opts.Meta), p.State, macroParam))}
	if !feed {
		e.opts.Logger.Warn("no change feed macro: a table has its name", "table", m.db+"."+m.name+"_changes")
		return stmts
	}
	return append(stmts, fmt.Sprintf("CREATE MACRO %s.%s(%s, %s) AS TABLE %s", quoteIdent(m.db), quoteIdent(m.name+"_changes"), fromParam, toParam,
		pointGuard(m.changesSQL(), p.State, fromParam, toParam)))
}

// lockDown are the last statements of a session's setup: the files of its
// point only (allowed) and its spill directory, no extensions, no secrets
// (nor their directory under ~/.duckdb), no settings.
func lockDown(allowed []string, spill string) []string {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = quoteString(a)
	}
	return []string{
		"SET allowed_paths = [" + strings.Join(quoted, ", ") + "]",
		"SET allowed_directories = [" + quoteString(spill+string(filepath.Separator)) + "]",
		"SET allow_community_extensions = false",
		"SET allow_persistent_secrets = false",
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	}
}

// planView plans the view of t at p: over the newest local snapshot the
// cache holds that still fits the history, if any (returned pinned, also
// with an error); and, when the engine materializes and the view would
// merge many delta rows, starts writing the local snapshot at p (returned
// as pending).
func (e *Engine) planView(p tableformat.Point, t *tableformat.TableState) (*tablePlan, *pendingView, *localSnap, error) {
	local, err := e.cache.pinnedLocal(p.State.Lake.LakeID, t, p.Seq)
	if err != nil {
		return nil, nil, nil, err
	}
	v, err := planTable(t, p.Seq, local)
	if err != nil || !e.opts.Materialize || v.deltaRows() < e.opts.MaterializeRows {
		return v, nil, local, err
	}
	key, err := localKey(t, p.Seq)
	if err != nil {
		return nil, nil, local, err
	}
	dst, err := e.cache.localPath(p.State.Lake.LakeID, t, p.Seq, key)
	if err != nil {
		return nil, nil, local, err
	}
	return v, &pendingView{t: t, b: e.startBuild(p, t, dst), dst: dst}, local, nil
}

// pointTables creates binlake.point: one row, the session's lake version
// and change sequence. (The functions that turn a time, a version, a GTID
// set or a position into a sequence are Go UDFs: registerSeqFuncs.)
func (s *Session) pointTables() []string {
	return []string{
		"CREATE SCHEMA IF NOT EXISTS binlake",
		"CREATE TABLE binlake.point AS SELECT " + fmt.Sprintf("%d::BIGINT AS version, %d::BIGINT AS seq", s.Point.Version, s.Point.Seq),
	}
}

// Close releases the session's database and its pins on cached files.
func (s *Session) Close() error {
	var err error
	if s.h != nil {
		err = s.h.close()
		s.h = nil
	}
	for _, p := range s.pins {
		s.cache.Unpin(p)
	}
	s.pins = nil
	return err
}

// ErrRefused marks a statement the session does not run.
var ErrRefused = errors.New("statement refused")

// Query runs one read-only statement (a SELECT) and
// returns its rows; anything else — several statements, COPY, ATTACH, SET,
// PRAGMA, INSTALL, LOAD, CREATE, … — is refused before it runs. The
// statement is bounded by the session's timeout.
func (s *Session) Query(ctx context.Context, query string) (*sql.Rows, context.CancelFunc, error) {
	if err := s.check(ctx, query); err != nil {
		return nil, nil, err
	}
	if len(s.pending) > 0 {
		s.swapLocal(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	rows, err := s.h.conn.QueryContext(ctx, query)
	if err != nil {
		stopped := ctx.Err()
		cancel()
		if stopped != nil {
			return nil, nil, fmt.Errorf("query stopped after %s (the statement time limit): %w", s.opts.Timeout, ctx.Err())
		}
		if len(s.clashing) > 0 {
			err = fmt.Errorf("%w (left out of every session: %s, whose names differ from another table's only in case, "+
				"which DuckDB cannot tell apart; see docs/query.md)", err, strings.Join(s.clashing, ", "))
		}
		return nil, nil, err
	}
	return rows, cancel, nil
}

// check refuses query unless it is exactly one SELECT statement that calls
// no function able to reach past the lock-down, and binds what it names.
// DuckDB's own parser decides, through json_serialize_sql, which parses
// without running anything and serializes SELECT statements only. The
// syntax tree it returns is then walked: a table function runs only if it
// is one of the harmless built-ins (tableFuncsAllowed) or one of the
// point's table macros, and no function of funcsRefused is called anywhere
// (some table functions change the session despite lock_configuration, or
// run SQL the gate never saw); the walk also collects the tables and
// macros the statement names, which the session then binds (bind.go). Last
// the statement is prepared alone — with the driver's Prepare, which
// refuses several statements instead of running every statement but the
// last as PrepareContext does — and its prepared type checked once more.
// Parsing, binding and preparing are bounded by the session's timeout.
func (s *Session) check(ctx context.Context, query string) error {
	switch {
	case strings.TrimSpace(query) == "":
		return fmt.Errorf("%w: the statement is empty", ErrRefused)
	case strings.IndexByte(query, 0) >= 0:
		// DuckDB's parser stops at a NUL: the text after it would be
		// checked by nobody.
		return fmt.Errorf("%w: the statement contains a NUL byte", ErrRefused)
	case !utf8.ValidString(query):
		return fmt.Errorf("%w: the statement is not valid UTF-8", ErrRefused)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	parsed, err := s.e.parse(ctx, query)
	if err != nil {
		return fmt.Errorf("parse the statement: %w", err)
	}
	var res struct {
		Error      bool   `json:"error"`
		ErrorType  string `json:"error_type"`
		Message    string `json:"error_message"`
		Statements []any  `json:"statements"`
	}
	if err := json.Unmarshal([]byte(parsed), &res); err != nil {
		return fmt.Errorf("parse the statement: %w", err)
	}
	switch {
	case res.Error && res.ErrorType == "parser":
		return fmt.Errorf("%w: %s", ErrRefused, res.Message)
	case res.Error:
		return fmt.Errorf("%w: only SELECT statements run here (%s)", ErrRefused, res.Message)
	case len(res.Statements) != 1:
		return fmt.Errorf("%w: one statement per query, not %d", ErrRefused, len(res.Statements))
	}
	w := walk{names: s.names, need: newNeeds(), ctes: map[string]bool{}}
	collectCTEs(res.Statements[0], w.ctes)
	if err := w.node(res.Statements[0]); err != nil {
		return err
	}
	if err := s.bind(ctx, w.need); err != nil {
		return err
	}
	return s.h.conn.Raw(func(dc any) error {
		c, ok := dc.(*duckdb.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		// Prepare, unlike PrepareContext, runs nothing: it fails on a
		// string of several statements.
		st, err := c.Prepare(query)
		if err != nil {
			return err
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return fmt.Errorf("unexpected driver statement %T", st)
		}
		typ, err := ds.StatementType()
		if err != nil {
			return err
		}
		if typ != duckdb.STATEMENT_TYPE_SELECT {
			return fmt.Errorf("%w: only SELECT statements run here; this is a %s statement", ErrRefused, stmtTypeName(typ))
		}
		return nil
	})
}

// parse serializes query's syntax tree with DuckDB's json_serialize_sql,
// on the engine's parser: a DuckDB that binds nothing and reads no file
// (the function parses; it runs nothing).
func (e *Engine) parse(ctx context.Context, query string) (string, error) {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	if e.parser == nil {
		h, err := openHandle(ctx, e.cache.SpillDir())
		if err != nil {
			return "", err
		}
		for _, stmt := range append(e.settings(h.spill), lockDown(nil, h.spill)...) {
			if _, err := h.conn.ExecContext(ctx, stmt); err != nil {
				h.close()
				return "", fmt.Errorf("set up the parser: %w", err)
			}
		}
		e.parser = h
	}
	var parsed string
	err := e.parser.conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(CAST($1 AS VARCHAR)) AS VARCHAR)", query).Scan(&parsed)
	return parsed, err
}

// tableFuncsAllowed are the built-in table functions and table macros a
// statement may call: they compute, or describe the session, and touch no
// file. Every other table function is refused unless it names one of the
// point's table macros (db.table(seq), db.table_changes(from, to)); the
// lake's views and macros read their files themselves.
var tableFuncsAllowed = map[string]bool{
	"range": true, "generate_series": true, "unnest": true, "repeat": true, "repeat_row": true,
	"json_each": true, "json_tree": true, "test_all_types": true, "test_vector_types": true,
	"icu_calendar_names": true, "pg_timezone_names": true, "summary": true, "sql_auto_complete": true,
	"histogram": true, "histogram_values": true,
	"duckdb_approx_database_count": true, "duckdb_columns": true, "duckdb_connection_count": true,
	"duckdb_constraints": true, "duckdb_coordinate_systems": true, "duckdb_databases": true,
	"duckdb_dependencies": true, "duckdb_functions": true, "duckdb_indexes": true, "duckdb_keywords": true,
	"duckdb_memory": true, "duckdb_optimizers": true, "duckdb_schemas": true, "duckdb_sequences": true,
	"duckdb_settings": true, "duckdb_tables": true, "duckdb_temporary_files": true, "duckdb_types": true,
	"duckdb_variables": true, "duckdb_views": true, "duckdb_table_sample": true,
	"pragma_collations": true, "pragma_database_size": true, "pragma_metadata_info": true,
	"pragma_platform": true, "pragma_show": true, "pragma_storage_info": true, "pragma_table_info": true,
	"pragma_user_agent": true, "pragma_version": true,
}

// funcsRefused are refused wherever a statement names them, whatever the
// schema: they change the session although lock_configuration is set
// (parser, logging, profiling), run SQL or plans the gate never parsed,
// take raw memory pointers, or write.
var funcsRefused = map[string]string{
	"arrow_scan": "takes raw memory pointers", "arrow_scan_dumb": "takes raw memory pointers",
	"enable_peg_parser": "changes the session's parser", "disable_peg_parser": "changes the session's parser",
	"check_peg_parser": "changes the session's parser",
	"enable_logging":   "changes the session's logging", "disable_logging": "changes the session's logging",
	"truncate_duckdb_logs": "changes the session's logging", "write_log": "writes to the session's log",
	"enable_profiling": "changes the session's profiling", "disable_profiling": "changes the session's profiling",
	"checkpoint": "writes the database", "force_checkpoint": "writes the database",
	"query": "runs SQL given as a string", "query_table": "runs SQL given as a string",
	"json_execute_serialized_sql": "runs serialized SQL", "json_serialize_plan": "plans SQL given as a string",
}

// walk goes through a statement's serialized syntax tree for the
// functions it calls (see check) and the lake's objects it names.
type walk struct {
	names *pointNames
	need  needs
	ctes  map[string]bool // the names of the statement's common table expressions
}

func (w *walk) node(node any) error {
	switch n := node.(type) {
	case []any:
		for _, c := range n {
			if err := w.node(c); err != nil {
				return err
			}
		}
	case map[string]any:
		if name, ok := n["function_name"].(string); ok {
			if why, bad := funcsRefused[strings.ToLower(name)]; bad {
				return fmt.Errorf("%w: %s %s", ErrRefused, name, why)
			}
		}
		switch n["type"] {
		case "TABLE_FUNCTION":
			if err := w.tableFunc(n); err != nil {
				return err
			}
		case "BASE_TABLE":
			catalog, _ := n["catalog_name"].(string)
			schema, _ := n["schema_name"].(string)
			name, _ := n["table_name"].(string)
			w.relation(catalog, schema, name)
		case "SHOW_REF":
			if n["query"] == nil {
				// SHOW TABLES, SHOW ALL TABLES, SHOW DATABASES, …
				w.need.stubViews = true
			}
		}
		for _, c := range n {
			if err := w.node(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// tableFunc checks a table function call and notes the macro it names.
func (w *walk) tableFunc(n map[string]any) error {
	f, _ := n["function"].(map[string]any)
	name, _ := f["function_name"].(string)
	catalog, _ := f["catalog"].(string)
	schema, _ := f["schema"].(string)
	if name == "" {
		return fmt.Errorf("%w: a table function the gate cannot name", ErrRefused)
	}
	if tableFuncsAllowed[strings.ToLower(name)] {
		tables, funcs := catalogFunc(name)
		w.need.stubViews = w.need.stubViews || tables
		w.need.stubMacros = w.need.stubMacros || funcs
		return nil
	}
	if ts := w.names.macro(catalog, schema, name); len(ts) > 0 {
		for _, t := range ts {
			w.need.macros[t.ID] = true
		}
		return nil
	}
	return fmt.Errorf("%w: table function %s: only the lake's tables and macros, and built-in table functions that read no files, run here", ErrRefused, name)
}

// relation notes the view a relation the statement reads names, or that it
// reads the catalog.
func (w *walk) relation(catalog, schema, name string) {
	if ts := w.names.view(catalog, schema, name); len(ts) > 0 {
		for _, t := range ts {
			w.need.views[t.ID] = true
		}
		return
	}
	switch {
	case catalog == "" && schema == "" && w.ctes[asciiLower(name)]:
		return
	case asciiLower(schema) == "binlake" && asciiLower(name) == "point":
		return
	}
	w.need.stubViews = true
	w.need.stubMacros = w.need.stubMacros || relationListsFunctions(schema, name)
}

// collectCTEs gathers the names of every common table expression of a
// statement's tree (cte_map entries), in lower case.
func collectCTEs(node any, into map[string]bool) {
	switch n := node.(type) {
	case []any:
		for _, c := range n {
			collectCTEs(c, into)
		}
	case map[string]any:
		if m, ok := n["cte_map"].(map[string]any); ok {
			entries, _ := m["map"].([]any)
			for _, e := range entries {
				if kv, ok := e.(map[string]any); ok {
					if k, ok := kv["key"].(string); ok {
						into[asciiLower(k)] = true
					}
				}
			}
		}
		for _, c := range n {
			collectCTEs(c, into)
		}
	}
}

func stmtTypeName(t duckdb.StmtType) string {
	names := map[duckdb.StmtType]string{
		duckdb.STATEMENT_TYPE_INSERT: "INSERT", duckdb.STATEMENT_TYPE_UPDATE: "UPDATE", duckdb.STATEMENT_TYPE_DELETE: "DELETE",
		duckdb.STATEMENT_TYPE_CREATE: "CREATE", duckdb.STATEMENT_TYPE_DROP: "DROP", duckdb.STATEMENT_TYPE_ALTER: "ALTER",
		duckdb.STATEMENT_TYPE_COPY: "COPY", duckdb.STATEMENT_TYPE_ATTACH: "ATTACH", duckdb.STATEMENT_TYPE_DETACH: "DETACH",
		duckdb.STATEMENT_TYPE_SET: "SET", duckdb.STATEMENT_TYPE_PRAGMA: "PRAGMA", duckdb.STATEMENT_TYPE_LOAD: "INSTALL or LOAD",
		duckdb.STATEMENT_TYPE_EXPORT: "EXPORT", duckdb.STATEMENT_TYPE_TRANSACTION: "transaction",
		duckdb.STATEMENT_TYPE_CALL: "CALL", duckdb.STATEMENT_TYPE_VACUUM: "VACUUM", duckdb.STATEMENT_TYPE_PREPARE: "PREPARE",
		duckdb.STATEMENT_TYPE_EXECUTE: "EXECUTE", duckdb.STATEMENT_TYPE_ANALYZE: "ANALYZE", duckdb.STATEMENT_TYPE_VARIABLE_SET: "SET VARIABLE",
		duckdb.STATEMENT_TYPE_CREATE_FUNC: "CREATE FUNCTION", duckdb.STATEMENT_TYPE_MULTI: "multi-statement",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprintf("type-%d", t)
}
