package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/binlake/binlake/tableformat"
)

// A session binds lazily (docs/query.md, "What a session binds"): it
// creates the view, the table macro or the change feed of a table only
// when a statement names it, so a one-table query costs what it reads, not
// what the lake holds. DuckDB's lock-down cannot be widened once set
// (lock_configuration fixes allowed_paths), so a statement that names an
// object the session has not bound yet gets a new DuckDB that binds what
// the session bound so far and what the statement adds; the session's
// bindings only grow. A statement that reads the catalog (information_schema,
// pg_catalog, duckdb_tables(), SHOW TABLES, …) sees every table at the
// point: the tables it does not read are bound as stubs, views of the
// right columns that hold no rows and read no file.

// pointNames are the objects a session at a point can bind, by DuckDB's
// identity of names (nameKey): a view per table existing at the point (by
// its name then), a table macro and a change feed per table not dropped
// (by its current name).
//
// DuckDB compares schema, view and macro names without regard to ASCII
// case, so two views or two macros whose names differ only in case cannot
// both be created, and creating them would fail every session: the tables
// whose names clash so have none — both are left out, never one shown in
// the other's place (viewClash, macroClash). Views and macros are apart: a
// view and a macro may share a name.
type pointNames struct {
	views  map[string]*tableformat.TableState
	macros map[string]*tableformat.TableState // table macros and change feeds
	// feeds are the tables whose change feed is created: no table (view or
	// macro) has its name.
	feeds map[int64]bool
	// viewOrder and macroOrder list the tables by id, for stubs.
	viewOrder, macroOrder []*tableformat.TableState
	// viewClash and macroClash are the tables left out for their names.
	viewClash, macroClash map[int64]bool
}

// nameKey is how DuckDB tells names apart: ASCII case folded.
func nameKey(schema, name string) string { return asciiLower(schema) + "\x00" + asciiLower(name) }

// newPointNames walks the tables of p once; it is what a session costs per
// table of the lake.
func newPointNames(p tableformat.Point) *pointNames {
	size := p.State.Tables.Len()
	n := &pointNames{views: make(map[string]*tableformat.TableState, size), macros: make(map[string]*tableformat.TableState, 2*size),
		feeds: make(map[int64]bool, size), viewClash: map[int64]bool{}, macroClash: map[int64]bool{},
		viewOrder: make([]*tableformat.TableState, 0, size), macroOrder: make([]*tableformat.TableState, 0, size)}
	// add puts t in m under k, or marks both it and the table there as
	// clashing (the key stays, so a third clashes too).
	add := func(m map[string]*tableformat.TableState, clash map[int64]bool, k string, t *tableformat.TableState) {
		if other, taken := m[k]; taken {
			clash[other.ID], clash[t.ID] = true, true
			return
		}
		m[k] = t
	}
	for t := range p.State.Tables.Values() {
		if t.ExistsAt(p.Seq) {
			nm := t.NameAt(p.Seq)
			add(n.views, n.viewClash, nameKey(nm.DB, nm.Name), t)
			n.viewOrder = append(n.viewOrder, t)
		}
		if t.DroppedSeq == 0 {
			nm := t.Current()
			add(n.macros, n.macroClash, nameKey(nm.DB, nm.Name), t)
			n.macroOrder = append(n.macroOrder, t)
		}
	}
	n.viewOrder = leaveOut(n.views, n.viewOrder, n.viewClash, func(t *tableformat.TableState) tableformat.TableName { return t.NameAt(p.Seq) })
	n.macroOrder = leaveOut(n.macros, n.macroOrder, n.macroClash, (*tableformat.TableState).Current)
	// A change feed is named after its table; it is left out where a
	// table (of those in the session) has that name.
	exact := make(map[[2]string]bool, 2*size)
	for _, t := range n.viewOrder {
		nm := t.NameAt(p.Seq)
		exact[[2]string{nm.DB, nm.Name}] = true
	}
	for _, t := range n.macroOrder {
		nm := t.Current()
		exact[[2]string{nm.DB, nm.Name}] = true
	}
	for _, t := range n.macroOrder {
		nm := t.Current()
		if !exact[[2]string{nm.DB, nm.Name + "_changes"}] {
			n.feeds[t.ID] = true
			if _, taken := n.macros[nameKey(nm.DB, nm.Name+"_changes")]; !taken {
				n.macros[nameKey(nm.DB, nm.Name+"_changes")] = t
			}
		}
	}
	return n
}

// leaveOut removes the clashing tables from m (by their names, name) and
// from order.
func leaveOut(m map[string]*tableformat.TableState, order []*tableformat.TableState, clash map[int64]bool,
	name func(*tableformat.TableState) tableformat.TableName) []*tableformat.TableState {
	if len(clash) == 0 {
		return order
	}
	return slices.DeleteFunc(order, func(t *tableformat.TableState) bool {
		if clash[t.ID] {
			nm := name(t)
			delete(m, nameKey(nm.DB, nm.Name))
			return true
		}
		return false
	})
}

// views returns the tables whose views catalog.schema.name may name.
func (n *pointNames) view(catalog, schema, name string) []*tableformat.TableState {
	return lookup(n.views, catalog, schema, name)
}

// macro returns the tables whose table macros or change feeds
// catalog.schema.name may name.
func (n *pointNames) macro(catalog, schema, name string) []*tableformat.TableState {
	return lookup(n.macros, catalog, schema, name)
}

// lookup finds catalog.schema.name the way DuckDB binds it in a session:
// the catalog is the session's database ("memory") or absent; an absent
// schema is "main"; and a two-part name memory.name may be the schema
// "memory" or the database's main.name (both are returned).
func lookup(m map[string]*tableformat.TableState, catalog, schema, name string) []*tableformat.TableState {
	if !inMemoryCatalog(catalog) {
		return nil
	}
	var out []*tableformat.TableState
	if t := m[nameKey(defaultSchema(schema), name)]; t != nil {
		out = append(out, t)
	}
	if catalog == "" && asciiLower(schema) == "memory" {
		if t := m[nameKey("main", name)]; t != nil {
			out = append(out, t)
		}
	}
	return out
}

// inMemoryCatalog reports whether a name's catalog part is the session's
// database (DuckDB's "memory"), or absent.
func inMemoryCatalog(catalog string) bool { return catalog == "" || asciiLower(catalog) == "memory" }

// defaultSchema is the schema DuckDB reads an unqualified name in.
func defaultSchema(schema string) string {
	if schema == "" {
		return "main"
	}
	return schema
}

// needs are what a statement makes a session bind.
type needs struct {
	views, macros map[int64]bool
	// stubViews: the statement reads the catalog; stubMacros: it lists
	// functions too.
	stubViews, stubMacros bool
}

func newNeeds() needs { return needs{views: map[int64]bool{}, macros: map[int64]bool{}} }

// covers reports whether other asks for nothing beyond what n holds.
func (n needs) covers(other needs) bool {
	for id := range other.views {
		if !n.views[id] {
			return false
		}
	}
	for id := range other.macros {
		if !n.macros[id] {
			return false
		}
	}
	return (n.stubViews || !other.stubViews) && (n.stubMacros || !other.stubMacros)
}

// relationListsFunctions reports whether a relation a statement reads by
// name, and which is none of the lake's tables, lists functions (and so
// needs the stub macros besides the stub views every such relation gets:
// it may describe the catalog, and an unknown name is bound against every
// table so that DuckDB's error suggests the right one).
func relationListsFunctions(schema, name string) bool {
	n := asciiLower(name)
	if asciiLower(schema) == "pg_catalog" || strings.HasPrefix(n, "pg_") {
		return n == "pg_proc"
	}
	return n == "duckdb_functions"
}

// catalogFunc reports whether an allowed built-in table function describes
// the catalog, and whether it lists functions.
func catalogFunc(name string) (tables, funcs bool) {
	n := asciiLower(name)
	switch {
	case n == "duckdb_functions":
		return true, true
	case strings.HasPrefix(n, "duckdb_") || strings.HasPrefix(n, "pragma_") || n == "sql_auto_complete":
		return true, false
	}
	return false, false
}

// dbHandle is one DuckDB of a session and its spill directory.
type dbHandle struct {
	db    *sql.DB
	conn  *sql.Conn
	spill string
}

func (h *dbHandle) close() error {
	var errs []error
	if h.conn != nil {
		errs = append(errs, h.conn.Close())
	}
	if h.db != nil {
		errs = append(errs, h.db.Close())
	}
	if h.spill != "" {
		errs = append(errs, os.RemoveAll(h.spill))
	}
	h.conn, h.db, h.spill = nil, nil, ""
	return errors.Join(errs...)
}

// openHandle creates a spill directory under spillDir and an in-memory
// DuckDB.
func openHandle(ctx context.Context, spillDir string) (*dbHandle, error) {
	h := &dbHandle{}
	var err error
	if h.spill, err = os.MkdirTemp(spillDir, "session-*"); err != nil {
		return nil, fmt.Errorf("query cache: %w", err)
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		h.close()
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	h.db = sql.OpenDB(connector)
	if h.conn, err = h.db.Conn(ctx); err != nil {
		h.close()
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	return h, nil
}

// bind makes the session's DuckDB hold what n asks for, on top of what it
// holds: the objects not bound yet are planned (their files fetched and
// pinned) and a new DuckDB set up with every binding, and with stubs if n
// asks for them; the old one is closed once the new one is ready. On an
// error the session keeps its DuckDB and bindings.
func (s *Session) bind(ctx context.Context, n needs) error {
	if s.h != nil && s.bound.covers(n) {
		return nil
	}
	e := s.e
	// The schemas and files of the tables to plan, and of every table for
	// stubs: a reader's log reads them only now
	// (tableformat.LogOptions.LazyTables).
	var ids []int64
	if n.stubViews || n.stubMacros {
		ids = s.Point.State.Tables.IDs()
	} else {
		for id := range n.views {
			if !s.bound.views[id] {
				ids = append(ids, id)
			}
		}
		for id := range n.macros {
			if !s.bound.macros[id] {
				ids = append(ids, id)
			}
		}
	}
	st, err := e.log.LoadTables(ctx, s.loaded, ids...)
	if err != nil {
		return err
	}
	s.loaded = st
	var views, macros []*tablePlan
	for _, t := range s.names.viewOrder {
		if !n.views[t.ID] || s.bound.views[t.ID] {
			continue
		}
		v, pv, local, err := e.planView(s.Point, st.Tables.Get(t.ID))
		if local != nil {
			s.pins = append(s.pins, local.path)
			s.allowed = append(s.allowed, local.path)
			s.localViews++
		}
		if err != nil {
			return err
		}
		if pv != nil {
			s.pending = append(s.pending, *pv)
			s.allowed = append(s.allowed, pv.dst)
		}
		views = append(views, v)
	}
	for _, t := range s.names.macroOrder {
		if !n.macros[t.ID] || s.bound.macros[t.ID] {
			continue
		}
		m, err := planMacro(st.Tables.Get(t.ID))
		if err != nil {
			return err
		}
		macros = append(macros, m)
	}
	if err := e.fetch(ctx, s, append(slices.Clone(views), macros...)); err != nil {
		return err
	}
	for _, v := range views {
		s.stmts[objKey{v.tableID, objView}] = []string{e.viewStmt(v)}
	}
	for _, m := range macros {
		s.stmts[objKey{m.tableID, objMacro}] = e.macroStmts(s.Point, m, s.names.feeds[m.tableID])
	}
	// Stubs are set up again only for a statement that reads the catalog:
	// a client that looks at the catalog once and then reads table after
	// table would otherwise pay a stub per table of the lake on every new
	// table it reads.
	want := needs{views: union(s.bound.views, n.views), macros: union(s.bound.macros, n.macros),
		stubViews: n.stubViews, stubMacros: n.stubMacros}
	h, err := s.setUp(ctx, want)
	if err != nil {
		return err
	}
	if s.h != nil {
		if err := s.h.close(); err != nil {
			e.opts.Logger.Warn("query session: closing the replaced database failed", "err", err)
		}
	}
	s.h, s.bound = h, want
	return nil
}

// union is the union of two sets.
func union(a, b map[int64]bool) map[int64]bool {
	out := make(map[int64]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// setUp opens a DuckDB holding the bindings of want (their statements are
// in s.stmts), stubs where want asks for them, binlake.point and the
// binlake_seq functions, locked down to the session's files.
func (s *Session) setUp(ctx context.Context, want needs) (h *dbHandle, err error) {
	e := s.e
	h, err = openHandle(ctx, e.cache.SpillDir())
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	setup := e.settings(h.spill)
	schemas := map[string]bool{}
	schema := func(db string) {
		if !schemas[db] {
			schemas[db] = true
			setup = append(setup, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(db))
		}
	}
	for _, t := range s.names.viewOrder {
		if want.views[t.ID] || want.stubViews {
			schema(t.NameAt(s.Point.Seq).DB)
		}
	}
	for _, t := range s.names.macroOrder {
		if want.macros[t.ID] || want.stubMacros {
			schema(t.Current().DB)
		}
	}
	for _, t := range s.names.viewOrder {
		switch {
		case want.views[t.ID]:
			setup = append(setup, s.stmts[objKey{t.ID, objView}]...)
		case want.stubViews:
			t := s.loaded.Tables.Get(t.ID)
			nm, sc := t.NameAt(s.Point.Seq), t.SchemaAt(s.Point.Seq)
			setup = append(setup, fmt.Sprintf("CREATE VIEW %s.%s AS %s", quoteIdent(nm.DB), quoteIdent(nm.Name), emptySelect(sc, e.opts.Meta)))
		}
	}
	for _, t := range s.names.macroOrder {
		switch {
		case want.macros[t.ID]:
			setup = append(setup, s.stmts[objKey{t.ID, objMacro}]...)
		case want.stubMacros:
			t := s.loaded.Tables.Get(t.ID)
			nm, empty := t.Current(), emptySelect(t.Schema(), e.opts.Meta)
			setup = append(setup, fmt.Sprintf("CREATE MACRO %s.%s(%s) AS TABLE %s", quoteIdent(nm.DB), quoteIdent(nm.Name), macroParam, empty))
			if s.names.feeds[t.ID] {
				setup = append(setup, fmt.Sprintf("CREATE MACRO %s.%s(%s, %s) AS TABLE %s", quoteIdent(nm.DB), quoteIdent(nm.Name+"_changes"),
					fromParam, toParam, emptyChanges(t.Schema())))
			}
		}
	}
	setup = append(setup, s.pointTables()...)
	if err := registerSeqFuncs(h.conn, e); err != nil {
		return nil, err
	}
	allowed := slices.Clone(s.allowed)
	for _, path := range s.paths {
		allowed = append(allowed, path)
	}
	slices.Sort(allowed)
	setup = append(setup, lockDown(slices.Compact(allowed), h.spill)...)
	for _, stmt := range setup {
		if _, err := h.conn.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("set up the views: %w (statement: %.200s)", err, stmt)
		}
	}
	return h, nil
}

// objKind tells a table's bound objects apart: its view, or its table
// macro and change feed.
type objKind int

const (
	objView objKind = iota
	objMacro
)

type objKey struct {
	table int64
	kind  objKind
}
