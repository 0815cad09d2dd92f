package mysql

import (
	"fmt"
	"slices"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/tableformat"
)

// This file gives MariaDB's UUID, INET6 and INET4 columns their types on the
// binlog path. A TableMap event logs them exactly as BINARY(16), BINARY(16)
// and BINARY(4) columns (type STRING, binary collation, the byte length as
// metadata), and a row event their values as those bytes with trailing zero
// bytes dropped, as for BINARY: a UUID in the order of its text's hex
// digits (MariaDB sorts some UUID versions by a swapped order, but logs and
// casts them unswapped), an address in network order. So the source learns
// which columns have these types from the DDL it reads (CREATE TABLE, ALTER
// TABLE, renames, drops), and for a table whose DDL it has not read in full
// from the live server's information_schema, when a TableMap event shows a
// BINARY(16) or BINARY(4) column. The live type differs from the one at
// the event's position only if a later statement changed it; then the
// column reads under the later type (the bytes are the same) until the DDL
// that changed it is read, as for DDLDefaults.

// fixedBinaryLengths is the byte length each kind is logged with.
var fixedBinaryLengths = map[tableformat.TypeKind]int{
	tableformat.KindUUID: 16, tableformat.KindInet6: 16, tableformat.KindInet4: 4,
}

// fixedBinaryType is the type of a MariaDB UUID, INET4 or INET6 column.
func fixedBinaryType(k tableformat.TypeKind) tableformat.Type {
	return tableformat.Type{Kind: k, SQL: string(k)}
}

// loggedAsBinary reports whether a TableMap column may be a UUID, INET4 or
// INET6 column.
func loggedAsBinary(c TableColumn) bool {
	return c.Type.Kind == tableformat.KindBinary && (c.Type.Length == 16 || c.Type.Length == 4)
}

// columnKinds holds the kind of each column of a table, by lower-case name.
type columnKinds map[string]tableformat.TypeKind

// learntKinds is what the source knows of a table's column kinds: every
// column's, from its DDL (fromDDL), or only its UUID, INET6 and INET4
// columns', from information_schema.
type learntKinds struct {
	kinds   columnKinds
	fromDDL bool
}

// refineBinaryTypes gives the columns a TableMap event logs as BINARY(16)
// or BINARY(4) the UUID, INET6 or INET4 type kinds names for them.
func refineBinaryTypes(cols []TableColumn, kinds columnKinds) {
	for i, c := range cols {
		k, ok := kinds[strings.ToLower(c.Name)]
		if ok && loggedAsBinary(c) && fixedBinaryLengths[k] == c.Type.Length {
			cols[i].Type = fixedBinaryType(k)
		}
	}
}

// binaryTypes refines the columns of db.name as a TableMap event gives them
// (refineBinaryTypes), with the kinds learnt from DDL, else looked up.
func (s *BinlogSource) binaryTypes(db, name string, cols []TableColumn) error {
	if s.cfg.Flavor != gomysql.MariaDBFlavor || !slices.ContainsFunc(cols, loggedAsBinary) {
		return nil
	}
	key := [2]string{db, name}
	learnt, ok := s.colKinds[key]
	if !ok {
		kinds, err := s.lookupColumnKinds(db, name)
		if err != nil {
			return fmt.Errorf("binlog source: table %s.%s: the types of its binary(16) and binary(4) columns: %w", db, name, err)
		}
		learnt = &learntKinds{kinds: kinds}
		s.colKinds[key] = learnt
	}
	refineBinaryTypes(cols, learnt.kinds)
	return nil
}

// lookupColumnKinds reads the UUID, INET6 and INET4 columns of db.name from
// the live server's information_schema (none when the table is gone).
func (s *BinlogSource) lookupColumnKinds(db, name string) (columnKinds, error) {
	r, err := s.lookupQuery(`SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND DATA_TYPE IN ('uuid', 'inet6', 'inet4')`, db, name)
	if err != nil {
		return nil, err
	}
	kinds := columnKinds{}
	for i := range r.RowNumber() {
		col, _ := r.GetString(i, 0)
		typ, _ := r.GetString(i, 1)
		kinds[strings.ToLower(col)] = tableformat.TypeKind(strings.ToLower(typ))
	}
	return kinds, nil
}

// followColumnKinds keeps the learnt column kinds in step with a DDL the
// source read: a create read in full gives them, and an alter read in full
// changes those a create gave; any other create or alter forgets them (the
// next TableMap event looks them up), renames move them, drops forget them. Cached table structures of the tables named are
// dropped, so the next TableMap event is read with the new kinds.
func (s *BinlogSource) followColumnKinds(d *ingest.DDL) {
	key := [2]string{d.DB, d.Name}
	s.forgetStructures(d.DB, d.Name, d.Op == ingest.DDLDropDatabase)
	switch d.Op {
	case ingest.DDLCreate:
		if d.Table == nil {
			delete(s.colKinds, key)
			return
		}
		kinds := columnKinds{}
		for _, c := range d.Table.Columns {
			kinds[strings.ToLower(c.Name)] = c.Type.Kind
		}
		s.colKinds[key] = &learntKinds{kinds: kinds, fromDDL: true}
	case ingest.DDLAlter:
		learnt, ok := s.colKinds[key]
		if !ok || !learnt.fromDDL || !d.Complete {
			delete(s.colKinds, key)
			return
		}
		for _, op := range d.Alter {
			learnt.kinds.apply(op)
		}
	default: // renames, drops, truncations
		if d.Op == ingest.DDLRename {
			s.forgetStructures(d.NewDB, d.NewName, false)
		}
		followNames(s.colKinds, d)
	}
}

// apply changes the kinds as one column operation of an ALTER read in
// full does.
func (k columnKinds) apply(op ingest.AlterOp) {
	switch o := op.(type) {
	case *ingest.AddColumn:
		name := strings.ToLower(o.Column.Name)
		if _, exists := k[name]; !exists || !o.IfNotExists {
			k[name] = o.Column.Type.Kind
		}
	case *ingest.ModifyColumn:
		from := strings.ToLower(o.Name)
		if _, exists := k[from]; !exists && o.IfExists {
			return
		}
		delete(k, from)
		k[strings.ToLower(o.Column.Name)] = o.Column.Type.Kind
	case *ingest.RenameColumn:
		from := strings.ToLower(o.From)
		kind, exists := k[from]
		if !exists {
			return
		}
		delete(k, from)
		k[strings.ToLower(o.To)] = kind
	case *ingest.DropColumn:
		delete(k, strings.ToLower(o.Name))
	}
}

// forgetStructures drops the cached TableMap structures of db.name (of
// every table of db with all).
func (s *BinlogSource) forgetStructures(db, name string, all bool) {
	for id, c := range s.tables {
		if c.table != nil && c.table.DB == db && (all || c.table.Name == name) {
			delete(s.tables, id)
		}
	}
}
