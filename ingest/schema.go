package ingest

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/binlake/binlake/tableformat"
)

// schemaTracker follows the lake's tables through the source's changes: it
// maps a source table to its lake table id and schema version, giving
// columns stable ids, and turns structure changes and DDL into table
// changes.
type schemaTracker struct {
	tables map[int64]*mirroredTable // live tables by id
	byName map[tableName]int64
	nextID int64
	// requests are the re-snapshots DDL asked for since they were last
	// taken.
	requests []ResnapshotRequest
}

// ResnapshotRequest asks for a table to be re-read from the source: a DDL
// changed its rows without row events, or the table is new to the lake.
type ResnapshotRequest struct {
	DB, Name string
	Reason   string
}

type tableName struct{ db, name string }

// mirroredTable is one live table of the lake as the schema tracker knows
// it: its lake id and name, the schema version in force, and what ALTERs
// not yet applied leave for the next TableMap to settle.
type mirroredTable struct {
	id       int64
	name     tableName
	schema   tableformat.Schema // the current version
	maxColID int                // the highest column id ever used
	// deferredIDs maps column names (lower case) to the ids they carry
	// once the next TableMap shows the table's structure, after ALTERs the
	// tracker could not apply (deferAlter): renamed columns keep their
	// ids, dropped ones retire theirs (a column added again under the name
	// gets a new id). nil: no ALTER deferred.
	deferredIDs map[string]int
	seen        *Table // the source's last Table value, already resolved
	// stale: an ALTER the tracker could not apply changed the table, so its
	// schema is known again only at the next Rows event; until then no
	// later ALTER is applied on top of the outdated schema.
	stale bool
	// charset, when set, is the default character set the next schema
	// takes from a deferred ALTER ("": unknown).
	charset *string
}

// newSchemaTracker starts from the live tables of a lake state.
func newSchemaTracker(st *tableformat.State) *schemaTracker {
	tr := &schemaTracker{tables: map[int64]*mirroredTable{}, byName: map[tableName]int64{}, nextID: st.MaxTableID() + 1}
	for t := range st.Tables.Values() {
		if t.DroppedSeq != 0 {
			continue
		}
		n := t.Current()
		tt := &mirroredTable{id: t.ID, name: tableName{n.DB, n.Name}, schema: *t.Schema()}
		for _, sv := range t.Schemas {
			for _, c := range sv.Schema.Columns {
				tt.maxColID = max(tt.maxColID, c.ID)
			}
		}
		tr.tables[t.ID] = tt
		tr.byName[tt.name] = t.ID
	}
	return tr
}

// resolve returns the lake table and schema for a source table as decoded
// at this point, and the table changes that make it so (a create, or an
// alter after a truncate when the new structure cannot read the rows before
// it, see evolve). nextSeq allocates the changes' sequences.
func (tr *schemaTracker) resolve(t *Table, nextSeq func() int64) (*mirroredTable, []tableformat.TableChange, error) {
	key := tableName{t.DB, t.Name}
	id, ok := tr.byName[key]
	if !ok {
		tt := &mirroredTable{id: tr.nextID, name: key}
		tr.nextID++
		sc, err := tt.schemaFor(t, 1)
		if err != nil {
			return nil, nil, err
		}
		tt.schema, tt.seen = sc, t
		tr.tables[tt.id] = tt
		tr.byName[key] = tt.id
		return tt, []tableformat.TableChange{{Op: tableformat.TableCreate, TableID: tt.id, Seq: nextSeq(),
			DB: t.DB, Name: t.Name, Schema: &sc}}, nil
	}
	tt := tr.tables[id]
	if tt.seen == t && tt.deferredIDs == nil && tt.charset == nil {
		return tt, nil, nil // the same structure as last time
	}
	tt.seen = t
	sc, err := tt.schemaFor(t, tt.schema.Version+1)
	if err != nil {
		return nil, nil, err
	}
	tt.deferredIDs, tt.stale, tt.charset = nil, false, nil
	if sameSchema(sc, tt.schema) {
		return tt, nil, nil
	}
	// A row event's structure says nothing of how values were converted:
	// the statement that changed it asked for a re-snapshot if needed.
	truncate, _ := tt.evolve(&sc, true)
	return tt, tt.changeTo(sc, truncate, "", nextSeq), nil
}

// changeTo makes sc the table's schema and returns the table changes that
// record it: an alter, after a truncate when the rows before it cannot be
// read under sc.
func (tt *mirroredTable) changeTo(sc tableformat.Schema, truncate bool, ddl string, nextSeq func() int64) []tableformat.TableChange {
	for _, c := range sc.Columns {
		tt.maxColID = max(tt.maxColID, c.ID)
	}
	tt.schema = sc
	var out []tableformat.TableChange
	if truncate {
		out = append(out, tableformat.TableChange{Op: tableformat.TableTruncate, TableID: tt.id, Seq: nextSeq(),
			DDL: "-- binlake: the rows before this change cannot be read under the new column types; a re-snapshot reloads them"})
	}
	return append(out, tableformat.TableChange{Op: tableformat.TableAlter, TableID: tt.id, Seq: nextSeq(), Schema: &sc, DDL: ddl})
}

// evolve checks a new schema version sc of the table against its current
// one, column by column id, for what readers and the source's conversion
// do to the values stored before (FORMAT.md §12):
//
//   - a column whose new type cannot read the stored values (a narrower
//     integer, INT to VARCHAR, …) gets a new id, so files written before
//     never reach it: its rows read NULL there until a re-snapshot
//     reloads them. A key column, or any column of a keyless table (whose
//     deletes identify rows by every column), cannot do that: the table
//     is truncated at the change instead (truncate), and the re-snapshot
//     reloads every row; the column's initial default goes with them.
//   - the initial default of a column that keeps its id is carried over,
//     in the new type's form.
//
// kept is false when the server may have converted stored values in a way
// the lake does not reproduce (see valuesKept): the table needs a
// re-snapshot. strict: the statement ran in a strict sql_mode.
func (tt *mirroredTable) evolve(sc *tableformat.Schema, strict bool) (truncate, kept bool) {
	kept = true
	keyless := len(sc.Key) == 0
	for _, c := range sc.Columns {
		tt.maxColID = max(tt.maxColID, c.ID) // ids the new columns took
	}
	for i := range sc.Columns {
		c := &sc.Columns[i]
		old, ok := tt.schema.ColumnByID(c.ID)
		if !ok {
			continue
		}
		if c.InitialDefault == nil {
			c.InitialDefault = old.InitialDefault
		}
		if reflect.DeepEqual(old.Type, c.Type) && (old.Nullable == c.Nullable || c.Nullable || strict) {
			continue
		}
		readable := tableformat.ReadableAs(old.Type, c.Type) == nil
		if !readable {
			kept = false
			if keyless || slices.Contains(sc.Key, c.ID) {
				// No row from before the change is read again: neither is
				// the default they held, which the new type may not hold.
				truncate, c.InitialDefault = true, nil
				continue
			}
			tt.maxColID++
			c.ID, c.InitialDefault = tt.maxColID, nil
			continue
		}
		if c.InitialDefault != nil {
			v, err := old.Fill()
			if err == nil {
				var text string
				if text, err = tableformat.FormatValue(c.Type, v); err == nil {
					c.InitialDefault = &text
				}
			}
			if err != nil {
				c.InitialDefault, kept = nil, false
			}
		}
		kept = kept && valuesKept(old, *c, strict)
	}
	return truncate, kept
}

// valuesKept reports whether MySQL/MariaDB keeps every value of column old
// unchanged when an ALTER redefines it as c (a change readers can read):
// widening numbers, more fractional digits, appended ENUM/SET labels,
// BINARY into VARBINARY or BLOB, and text into text that is no shorter, in
// a charset that holds every character of the old one. CHAR drops the
// trailing spaces of values converted into it. Under a strict sql_mode a
// value the new definition cannot hold fails the statement rather than
// being cut, clipped or replaced, so shorter lengths, narrower charsets and
// NOT NULL keep every value that was there.
func valuesKept(old, c tableformat.Column, strict bool) bool {
	if old.Nullable && !c.Nullable && !strict {
		return false // NULLs become the type's zero
	}
	o, n := old.Type, c.Type
	textual := func(k tableformat.TypeKind) bool {
		switch k {
		case tableformat.KindChar, tableformat.KindVarchar, tableformat.KindText, tableformat.KindEnum, tableformat.KindSet:
			return true
		}
		return false
	}
	switch {
	case textual(o.Kind) && textual(n.Kind):
		if n.Kind == tableformat.KindChar && o.Kind != tableformat.KindChar {
			return false // values lose their trailing spaces
		}
		if strict {
			return true
		}
		wider := o.Charset == n.Charset || n.Charset == "utf8mb4" || o.Charset == "ascii" ||
			n.Charset == "utf8mb3" && o.Charset != "utf8mb4" && o.Charset != "utf16" && o.Charset != "utf32"
		return wider && capacity(n) >= capacity(o)
	case o.Kind == tableformat.KindVarbinary || o.Kind == tableformat.KindBlob:
		return strict || capacity(n) >= capacity(o)
	}
	return true
}

// charsetMaxBytes is the longest character of a charset in bytes (4 when
// not known: a TEXT then counts as holding fewer characters, which only
// makes a conversion into it look narrower).
func charsetMaxBytes(cs string) int64 {
	switch cs {
	case "latin1", "ascii", "binary", "latin2", "latin5", "latin7", "cp1250", "cp1251", "cp1256", "cp1257", "cp850",
		"cp852", "cp866", "koi8r", "koi8u", "greek", "hebrew", "armscii8", "dec8", "hp8", "keybcs2", "macce",
		"macroman", "swe7", "tis620", "geostd8":
		return 1
	case "ucs2", "big5", "gbk", "sjis", "cp932", "euckr":
		return 2
	case "utf8mb3", "ujis", "eucjpms":
		return 3
	}
	return 4
}

// capacity is how many characters (bytes for binary types) a column of
// type t holds at most: its declared length, or its TEXT/BLOB size.
func capacity(t tableformat.Type) int64 {
	if t.Kind == tableformat.KindEnum || t.Kind == tableformat.KindSet {
		n := 0
		for _, e := range t.Elems {
			n += len(e) + 1
		}
		return int64(n)
	}
	sql := strings.ToLower(t.SQL)
	if t.Kind == tableformat.KindText || t.Kind == tableformat.KindBlob {
		bytes := int64(1<<16 - 1)
		for prefix, n := range map[string]int64{"tiny": 255, "medium": 1<<24 - 1, "long": 1<<32 - 1} {
			if strings.HasPrefix(sql, prefix) {
				bytes = n
			}
		}
		if t.Kind == tableformat.KindText {
			return bytes / charsetMaxBytes(t.Charset) // TEXT sizes are in bytes
		}
		return bytes
	}
	if i := strings.IndexByte(sql, '('); i >= 0 {
		if n, err := strconv.ParseInt(strings.TrimSuffix(sql[i+1:], ")"), 10, 64); err == nil {
			return n
		}
	}
	return int64(t.Length)
}

// sameSchema reports whether two versions of a table's schema describe the
// same structure (their version numbers aside).
func sameSchema(a, b tableformat.Schema) bool {
	return reflect.DeepEqual(a.Columns, b.Columns) && reflect.DeepEqual(a.Key, b.Key) && a.Charset == b.Charset
}

// schemaFor builds the schema of t as version v, keeping the ids of columns
// the table already has (matched by name, case-insensitively, through the
// deferred ALTERs) and giving new columns fresh ids. A table whose default
// charset the source does not say keeps the one a deferred ALTER set, else
// the current one.
func (tt *mirroredTable) schemaFor(t *Table, v int) (tableformat.Schema, error) {
	sc := tableformat.Schema{Version: v, Charset: t.Charset}
	if sc.Charset == "" {
		sc.Charset = tt.schema.Charset
		if tt.charset != nil {
			sc.Charset = *tt.charset
		}
	}
	byName := tt.deferredIDs
	if byName == nil {
		byName = tt.columnIDs()
	}
	for _, c := range t.Columns {
		id, ok := byName[strings.ToLower(c.Name)]
		if !ok {
			tt.maxColID++
			id = tt.maxColID
		}
		tt.maxColID = max(tt.maxColID, id)
		col := tableformat.Column{ID: id, Name: c.Name, Type: c.Type, Nullable: c.Nullable}
		if old, ok := tt.schema.ColumnByID(id); ok && old.InitialDefault != nil {
			// Kept for the life of the column (evolve converts it when the
			// type changed).
			if _, err := tableformat.ParseValue(c.Type, *old.InitialDefault); err == nil {
				col.InitialDefault = old.InitialDefault
			}
		}
		sc.Columns = append(sc.Columns, col)
	}
	for _, k := range t.Key {
		found := false
		for _, c := range sc.Columns {
			if strings.EqualFold(c.Name, k) {
				sc.Key = append(sc.Key, c.ID)
				found = true
			}
		}
		if !found {
			return sc, fmt.Errorf("table %s.%s: key column %q is not among its columns", t.DB, t.Name, k)
		}
	}
	if err := sc.Validate(); err != nil {
		return sc, fmt.Errorf("table %s.%s: %w", t.DB, t.Name, err)
	}
	return sc, nil
}

// columnIDs maps the current schema's column names (lower case) to ids.
func (tt *mirroredTable) columnIDs() map[string]int {
	m := make(map[string]int, len(tt.schema.Columns))
	for _, c := range tt.schema.Columns {
		m[strings.ToLower(c.Name)] = c.ID
	}
	return m
}

// deferAlter records what an ALTER the tracker does not apply does to column
// names and to the table's default charset, for the next TableMap: renames
// and drops act on the columns as they were before the statement, then
// added names are new columns.
func (tt *mirroredTable) deferAlter(d *DDL) {
	if cs, ok := alterCharset(d); ok {
		tt.charset = &cs
	}
	if tt.deferredIDs == nil {
		tt.deferredIDs = tt.columnIDs()
	}
	renames := map[string]string{}
	for o, n := range d.ColumnRenames {
		renames[strings.ToLower(o)] = strings.ToLower(n)
	}
	dropped := map[string]bool{}
	for _, n := range d.ColumnDrops {
		dropped[strings.ToLower(n)] = true
	}
	next := make(map[string]int, len(tt.deferredIDs))
	for name, id := range tt.deferredIDs {
		if dropped[name] {
			continue
		}
		if n, ok := renames[name]; ok {
			name = n
		}
		next[name] = id
	}
	for _, n := range d.ColumnAdds {
		delete(next, strings.ToLower(n))
	}
	tt.deferredIDs = next
}

// ddl applies a DDL and returns its table changes: none when the table is
// not one the lake mirrors (and no create with a known structure brings it
// in), one for most statements, one drop per table for DROP DATABASE.
//
// An ALTER whose operations are Complete is applied to the tracked schema
// at once: the new schema version takes effect at the DDL's own sequence,
// so it is in the lake commit that holds the DDL's transaction even when
// no row of the table follows. The next Rows event's structure is then
// compared by value (seen is cleared): if the source's TableMap disagrees
// with what the DDL said (a gap in the DDL parser), the TableMap's
// structure becomes the next version there — the row events' structure is
// the authority. An ALTER that is not Complete (or that the tracker cannot
// decide, see applyAlter) changes nothing now: its effect on column names waits, and
// the new structure shows at the table's next Rows event, as it always did.
func (tr *schemaTracker) ddl(d *DDL, seq func() int64) ([]tableformat.TableChange, error) {
	if d.Op == DDLDropDatabase {
		var ids []int64
		for id, tt := range tr.tables {
			if tt.name.db == d.DB {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		var out []tableformat.TableChange
		for _, id := range ids {
			delete(tr.byName, tr.tables[id].name)
			delete(tr.tables, id)
			out = append(out, tableformat.TableChange{Op: tableformat.TableDrop, TableID: id, Seq: seq(), DDL: d.SQL})
		}
		return out, nil
	}
	withDDL := func(cs []tableformat.TableChange) []tableformat.TableChange {
		if n := len(cs); n > 0 {
			cs[n-1].DDL = d.SQL
		}
		return cs
	}
	id, ok := tr.byName[tableName{d.DB, d.Name}]
	switch {
	case d.Op == DDLCreate && d.Table == nil:
		// CREATE … LIKE, … SELECT, IF NOT EXISTS, a definition not read:
		// the table is read from the source (a known one is truncated by a
		// CREATE OR REPLACE's drop first, and comes back the same way).
		tr.request(d.DB, d.Name, "CREATE TABLE not fully understood")
		if ok {
			tt := tr.tables[id]
			tt.stale, tt.seen = true, nil
		}
		return nil, nil
	case d.Op == DDLCreate && !ok:
		_, cs, err := tr.resolve(d.Table, seq)
		return withDDL(cs), err
	case d.Op == DDLRename && !ok:
		// A table the lake does not hold takes a mirrored name (an online
		// schema change tool's swap, a table moved into source.include):
		// its rows are read from the source.
		tr.request(d.NewDB, d.NewName, "renamed from "+d.DB+"."+d.Name+", a table the lake does not hold")
		return nil, nil
	case !ok:
		return nil, nil
	}
	tt := tr.tables[id]
	switch d.Op {
	case DDLAlter, DDLCreate:
		if d.Op == DDLAlter && d.Resnapshot != "" {
			tr.request(tt.name.db, tt.name.name, d.Resnapshot)
		}
		if d.Op == DDLAlter && d.Table == nil && d.Complete && !tt.stale && tt.deferredIDs == nil {
			sc, applied, err := tt.applyAlter(d.Alter)
			if err != nil {
				return nil, err
			}
			if applied {
				tt.seen = nil // compare the next TableMap by value
				sc.Charset = tt.schema.Charset
				if cs, ok := alterCharset(d); ok {
					sc.Charset = cs
				}
				if sameSchema(sc, tt.schema) {
					return nil, nil // ADD INDEX, ENGINE=, …: no structural change
				}
				truncate, kept := tt.evolve(&sc, d.Strict)
				if !kept && d.Resnapshot == "" {
					tr.request(tt.name.db, tt.name.name, "a column's values were converted by the server")
				}
				return tt.changeTo(sc, truncate, d.SQL, seq), nil
			}
		}
		if d.Op == DDLAlter {
			if d.Resnapshot == "" && slices.ContainsFunc(d.Alter, func(op AlterOp) bool {
				a, ok := op.(*AddColumn)
				return ok && a.Fill != nil
			}) {
				// The structure waits for the next row event, which does
				// not say what the rows before hold in the added column.
				tr.request(tt.name.db, tt.name.name, "a column added with a default, applied at the next row event")
			}
			tt.deferAlter(d)
		}
		if d.Table == nil {
			// The new columns show in the next Rows event.
			tt.stale, tt.seen = true, nil
			return nil, nil
		}
		_, cs, err := tr.resolve(d.Table, seq)
		return withDDL(cs), err
	case DDLRename:
		delete(tr.byName, tt.name)
		tt.name = tableName{d.NewDB, d.NewName}
		tr.byName[tt.name] = id
		return []tableformat.TableChange{{Op: tableformat.TableRename, TableID: id, Seq: seq(), DB: d.NewDB, Name: d.NewName, DDL: d.SQL}}, nil
	case DDLTruncate:
		return []tableformat.TableChange{{Op: tableformat.TableTruncate, TableID: id, Seq: seq(), DDL: d.SQL}}, nil
	case DDLDrop:
		delete(tr.byName, tt.name)
		delete(tr.tables, id)
		return []tableformat.TableChange{{Op: tableformat.TableDrop, TableID: id, Seq: seq(), DDL: d.SQL}}, nil
	}
	return nil, fmt.Errorf("table %s.%s: unknown DDL operation %d", d.DB, d.Name, d.Op)
}

// request asks for a re-snapshot of db.name (docs/snapshot.md): the rows
// of the table may differ from what the lake holds.
func (tr *schemaTracker) request(db, name, reason string) {
	tr.requests = append(tr.requests, ResnapshotRequest{DB: db, Name: name, Reason: reason})
}

// alterCharset is the default charset an ALTER gives its table ("": one
// the source did not read), and whether it changes it at all.
func alterCharset(d *DDL) (string, bool) {
	switch {
	case d.CharsetUnknown:
		return "", true
	case d.Charset != "":
		return d.Charset, true
	}
	return "", false
}

// applyAlter computes the schema an ALTER's operations give the table, the
// way the server builds the new column list (mysql_prepare_alter_table):
// the old columns in order, less the dropped ones, each changed or renamed
// column in its old place (keeping its id); then, in statement order, each
// added column appended (or put FIRST / AFTER a column of the new list) and
// each changed column with FIRST / AFTER moved there. New columns get fresh
// ids. applied is false when the result cannot be decided from the schema
// alone (the server may promote a unique index to the key: on a table
// without a key, a dropped column, a column made NOT NULL or an added
// unique index; a key column dropped or made nullable) or when the
// operations do not fit the table (the server would have refused them, so
// the schema the tracker holds is not the server's): the caller then waits
// for the next TableMap.
func (tt *mirroredTable) applyAlter(ops []AlterOp) (sc tableformat.Schema, applied bool, err error) {
	plan := newAlterPlan(tt, ops)
	for _, op := range ops {
		ok, err := plan.take(op)
		if err != nil || !ok {
			return tableformat.Schema{}, false, err
		}
	}
	cols, ok := plan.columns()
	if !ok {
		return tableformat.Schema{}, false, nil
	}
	key, ok := plan.key(cols)
	if !ok {
		return tableformat.Schema{}, false, nil
	}
	sc = tableformat.Schema{Version: tt.schema.Version + 1, Columns: cols, Key: key}
	if err := sc.Validate(); err != nil {
		return tableformat.Schema{}, false, nil
	}
	return sc, true, nil
}

// alterPlan gathers, in statement order, what an ALTER's operations do to
// the columns the table had before it (applyAlter). Old columns are named by
// their index in old.
type alterPlan struct {
	tt      *mirroredTable
	old     []tableformat.Column
	dropped map[int]bool               // old columns dropped
	changed map[int]tableformat.Column // old columns redefined or renamed, as they become
	// placements are the added columns and the changed ones moved with
	// FIRST / AFTER, in statement order.
	placements []placement
	setKey     []string   // the columns of ADD PRIMARY KEY; nil: the key stays
	uniques    [][]string // the columns of each unique index added
	added      []string   // the names of the added columns
	nextID     int        // the last column id given out
	// droppedNames are the columns (lower case) the statement drops: it
	// may add them again.
	droppedNames map[string]bool
}

// placement puts a column of the new list FIRST, AFTER another, or last.
type placement struct {
	col   tableformat.Column
	move  bool // a changed column (already in the list) rather than an added one
	first bool
	after string
}

func newAlterPlan(tt *mirroredTable, ops []AlterOp) *alterPlan {
	a := &alterPlan{tt: tt, old: tt.schema.Columns, dropped: map[int]bool{}, changed: map[int]tableformat.Column{},
		nextID: tt.maxColID, droppedNames: map[string]bool{}}
	for _, op := range ops {
		if o, ok := op.(*DropColumn); ok {
			a.droppedNames[strings.ToLower(o.Name)] = true
		}
	}
	return a
}

// take adds one operation to the plan; ok is false when the operation does
// not fit the table or leaves the result to the server (see applyAlter).
func (a *alterPlan) take(op AlterOp) (ok bool, err error) {
	switch o := op.(type) {
	case *AddColumn:
		return a.addColumn(o)
	case *DropColumn:
		return a.dropColumn(o), nil
	case *ModifyColumn:
		return a.modifyColumn(o), nil
	case *RenameColumn:
		return a.renameColumn(o), nil
	case *SetKey:
		if a.setKey != nil {
			return false, nil
		}
		a.setKey = o.Columns
		return true, nil
	case *AddUnique:
		a.uniques = append(a.uniques, o.Columns)
		return true, nil
	}
	return false, fmt.Errorf("table %s.%s: unknown ALTER operation %T", a.tt.name.db, a.tt.name.name, op)
}

// target finds the old column an operation names: skip when it is absent
// and the operation says IF EXISTS, bad when it is absent or an earlier
// operation already dropped or changed it (the server's rules there are
// not worth guessing: the next TableMap decides).
func (a *alterPlan) target(name string, ifExists bool) (i int, skip, bad bool) {
	i = findColumn(a.old, name)
	if i < 0 {
		return i, ifExists, !ifExists
	}
	_, done := a.changed[i]
	return i, false, a.dropped[i] || done
}

func (a *alterPlan) inKey(id int) bool { return slices.Contains(a.tt.schema.Key, id) }

func (a *alterPlan) keyless() bool { return len(a.tt.schema.Key) == 0 }

func (a *alterPlan) addColumn(o *AddColumn) (ok bool, err error) {
	exists := findColumn(a.old, o.Column.Name) >= 0 && !a.droppedNames[strings.ToLower(o.Column.Name)] ||
		slices.ContainsFunc(a.added, func(n string) bool { return strings.EqualFold(n, o.Column.Name) })
	if exists {
		return o.IfNotExists, nil
	}
	a.nextID++
	a.added = append(a.added, o.Column.Name)
	col := tableformat.Column{ID: a.nextID, Name: o.Column.Name, Type: o.Column.Type, Nullable: o.Column.Nullable}
	if o.Fill != nil {
		// The rows already there hold the fill (FORMAT.md §5).
		text, err := tableformat.FormatValue(o.Column.Type, o.Fill)
		if err != nil {
			return false, fmt.Errorf("table %s.%s: column %q: %w", a.tt.name.db, a.tt.name.name, o.Column.Name, err)
		}
		col.InitialDefault = &text
	}
	a.placements = append(a.placements, placement{col: col, first: o.First, after: o.After})
	return true, nil
}

func (a *alterPlan) dropColumn(o *DropColumn) bool {
	i, skip, bad := a.target(o.Name, o.IfExists)
	if skip {
		return true
	}
	// On a keyless table the drop is applied as keyless: should it have
	// left a unique index of NOT NULL columns the server promotes to a
	// key, the next TableMap records the key (no rows are written under
	// this version before it).
	if bad || a.inKey(a.old[i].ID) {
		return false
	}
	a.dropped[i] = true
	return true
}

func (a *alterPlan) modifyColumn(o *ModifyColumn) bool {
	i, skip, bad := a.target(o.Name, o.IfExists)
	if skip {
		return true
	}
	if bad {
		return false
	}
	c := tableformat.Column{ID: a.old[i].ID, Name: o.Column.Name, Type: o.Column.Type, Nullable: o.Column.Nullable}
	if a.inKey(c.ID) && c.Nullable || a.keyless() && a.old[i].Nullable && !c.Nullable {
		return false
	}
	a.changed[i] = c
	if o.First || o.After != "" {
		a.placements = append(a.placements, placement{col: c, move: true, first: o.First, after: o.After})
	}
	return true
}

func (a *alterPlan) renameColumn(o *RenameColumn) bool {
	i, skip, bad := a.target(o.From, o.IfExists)
	if skip {
		return true
	}
	if bad {
		return false
	}
	c := a.old[i]
	c.Name = o.To
	a.changed[i] = c
	return true
}

// columns is the new column list: the old columns in order less the
// dropped ones, the changed ones in their place, then the placements in
// statement order. ok is false when an AFTER names no column of the list.
func (a *alterPlan) columns() (cols []tableformat.Column, ok bool) {
	for i, c := range a.old {
		if a.dropped[i] {
			continue
		}
		if n, ok := a.changed[i]; ok {
			c = n
		}
		cols = append(cols, c)
	}
	for _, p := range a.placements {
		if p.move {
			cols = slices.DeleteFunc(cols, func(c tableformat.Column) bool { return c.ID == p.col.ID })
		}
		switch {
		case p.first:
			cols = slices.Insert(cols, 0, p.col)
		case p.after != "":
			i := findColumn(cols, p.after)
			if i < 0 {
				return nil, false
			}
			cols = slices.Insert(cols, i+1, p.col)
		default:
			cols = append(cols, p.col)
		}
	}
	return cols, true
}

// key is the key of the new column list cols: ADD PRIMARY KEY's columns
// (made NOT NULL in cols, as the server makes them), else the old key. ok
// is false when a key column is not in cols or named twice, or when an
// added unique index of NOT NULL columns on a table left without a key
// may become its key.
func (a *alterPlan) key(cols []tableformat.Column) (key []int, ok bool) {
	if a.setKey != nil {
		for _, k := range a.setKey {
			i := findColumn(cols, k)
			if i < 0 || slices.Contains(key, cols[i].ID) {
				return nil, false
			}
			cols[i].Nullable = false // primary key columns are NOT NULL
			key = append(key, cols[i].ID)
		}
	} else {
		key = slices.Clone(a.tt.schema.Key)
	}
	for _, u := range a.uniques {
		if len(key) > 0 {
			break // a unique index never displaces the key a table has
		}
		nullable := false
		for _, k := range u {
			i := findColumn(cols, k)
			if i < 0 {
				return nil, false
			}
			nullable = nullable || cols[i].Nullable
		}
		if !nullable {
			return nil, false // the server may make it the key
		}
	}
	return key, true
}

// findColumn returns the index of the column named name
// (case-insensitively) in cols, or -1.
func findColumn(cols []tableformat.Column, name string) int {
	return slices.IndexFunc(cols, func(c tableformat.Column) bool { return strings.EqualFold(c.Name, name) })
}
