package ingest

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/binlake/binlake/tableformat"
)

// tracker follows the lake's tables through the source's changes: it maps a
// source table to its lake table id and schema version, giving columns
// stable ids, and turns structure changes and DDL into table changes.
type tracker struct {
	tables map[int64]*tracked // live tables by id
	byName map[tableName]int64
	nextID int64
}

type tableName struct{ db, name string }

type tracked struct {
	id       int64
	name     tableName
	schema   tableformat.Schema // the current version
	maxColID int                // the highest column id ever used
	renames  map[string]string  // pending column renames from an ALTER
	seen     *Table             // the source's last Table value, already resolved
}

// newTracker starts from the live tables of a lake state.
func newTracker(st *tableformat.State) *tracker {
	tr := &tracker{tables: map[int64]*tracked{}, byName: map[tableName]int64{}, nextID: st.MaxTableID() + 1}
	for _, t := range st.Tables {
		if t.DroppedSeq != 0 {
			continue
		}
		n := t.Current()
		tt := &tracked{id: t.ID, name: tableName{n.DB, n.Name}, schema: *t.Schema()}
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
// at this point, and the table change that makes it so (create or alter),
// if any. nextSeq allocates the change's sequence.
func (tr *tracker) resolve(t *Table, nextSeq func() int64) (*tracked, *tableformat.TableChange, error) {
	key := tableName{t.DB, t.Name}
	id, ok := tr.byName[key]
	if !ok {
		tt := &tracked{id: tr.nextID, name: key}
		tr.nextID++
		sc, err := tt.schemaFor(t, 1)
		if err != nil {
			return nil, nil, err
		}
		tt.schema, tt.seen = sc, t
		tr.tables[tt.id] = tt
		tr.byName[key] = tt.id
		return tt, &tableformat.TableChange{Op: tableformat.TableCreate, TableID: tt.id, Seq: nextSeq(),
			DB: t.DB, Name: t.Name, Schema: &sc}, nil
	}
	tt := tr.tables[id]
	if tt.seen == t && tt.renames == nil {
		return tt, nil, nil // the same structure as last time
	}
	tt.seen = t
	sc, err := tt.schemaFor(t, tt.schema.Version+1)
	if err != nil {
		return nil, nil, err
	}
	tt.renames = nil
	if reflect.DeepEqual(sc.Columns, tt.schema.Columns) && reflect.DeepEqual(sc.Key, tt.schema.Key) {
		return tt, nil, nil
	}
	tt.schema = sc
	return tt, &tableformat.TableChange{Op: tableformat.TableAlter, TableID: tt.id, Seq: nextSeq(), Schema: &sc}, nil
}

// schemaFor builds the schema of t as version v, keeping the ids of columns
// the table already has (matched by name, case-insensitively, through any
// pending renames) and giving new columns fresh ids.
func (tt *tracked) schemaFor(t *Table, v int) (tableformat.Schema, error) {
	sc := tableformat.Schema{Version: v}
	byName := map[string]int{}
	for _, c := range tt.schema.Columns {
		name := strings.ToLower(c.Name)
		for old, renamed := range tt.renames {
			if strings.EqualFold(old, c.Name) {
				name = strings.ToLower(renamed)
			}
		}
		byName[name] = c.ID
	}
	for _, c := range t.Columns {
		id, ok := byName[strings.ToLower(c.Name)]
		if !ok {
			tt.maxColID++
			id = tt.maxColID
		}
		tt.maxColID = max(tt.maxColID, id)
		sc.Columns = append(sc.Columns, tableformat.Column{ID: id, Name: c.Name, Type: c.Type, Nullable: c.Nullable})
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

// ddl applies a DDL and returns its table change, if the table is one the
// lake mirrors (or one a create with a known structure brings in).
func (tr *tracker) ddl(d *DDL, seq func() int64) (*tableformat.TableChange, error) {
	id, ok := tr.byName[tableName{d.DB, d.Name}]
	if d.Op == DDLCreate && !ok && d.Table != nil {
		_, c, err := tr.resolve(d.Table, seq)
		return c, err
	}
	if !ok {
		return nil, nil
	}
	tt := tr.tables[id]
	switch d.Op {
	case DDLAlter, DDLCreate:
		if len(d.ColumnRenames) > 0 {
			if tt.renames == nil {
				tt.renames = map[string]string{}
			}
			for o, n := range d.ColumnRenames {
				tt.renames[o] = n
			}
		}
		if d.Table == nil {
			return nil, nil // the new columns show in the next Rows event
		}
		_, c, err := tr.resolve(d.Table, seq)
		if c != nil {
			c.DDL = d.SQL
		}
		return c, err
	case DDLRename:
		delete(tr.byName, tt.name)
		tt.name = tableName{d.NewDB, d.NewName}
		tr.byName[tt.name] = id
		return &tableformat.TableChange{Op: tableformat.TableRename, TableID: id, Seq: seq(), DB: d.NewDB, Name: d.NewName, DDL: d.SQL}, nil
	case DDLTruncate:
		return &tableformat.TableChange{Op: tableformat.TableTruncate, TableID: id, Seq: seq(), DDL: d.SQL}, nil
	case DDLDrop:
		delete(tr.byName, tt.name)
		delete(tr.tables, id)
		return &tableformat.TableChange{Op: tableformat.TableDrop, TableID: id, Seq: seq(), DDL: d.SQL}, nil
	}
	return nil, fmt.Errorf("table %s.%s: unknown DDL operation %d", d.DB, d.Name, d.Op)
}
