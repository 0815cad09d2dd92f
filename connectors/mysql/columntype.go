package mysql

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlake/binlake/tableformat"
)

// This file derives a table's columns from information_schema (the
// snapshot's view) exactly as ColumnsFromTableMap derives them from a
// TableMap event (the binlog's view): the same Kind, widths, charset,
// labels and SQL string, so the first binlog event after a snapshot does not
// look like a schema change. Where information_schema knows more than the
// TableMap (display widths, ZEROFILL, POINT vs GEOMETRY, TINYINT(1) as
// BOOLEAN, MariaDB's JSON being LONGTEXT with a json_valid check) the extra
// knowledge is dropped on purpose. MariaDB's UUID, INET4 and INET6 are the
// exception: the binlog path learns them too (binarytypes.go).

// errTableGone: the table was dropped (or renamed) while it was being read.
var errTableGone = errors.New("the table is gone (dropped or renamed meanwhile)")

// tableGone reports whether err says a table does not exist (any more):
// errTableGone, or the server's ER_NO_SUCH_TABLE or ER_TABLE_DEF_CHANGED.
func tableGone(err error) bool {
	var me *gomysql.MyError
	return errors.Is(err, errTableGone) || errors.As(err, &me) && (me.Code == gomysql.ER_NO_SUCH_TABLE || me.Code == 1412)
}

// InfoSchemaColumns reads the columns of db.table, in table order, and its
// primary key (indexes into cols, in key order) from information_schema, as
// ColumnsFromTableMap derives them from a TableMap event of the same table.
// The primary key is the PRIMARY index or, when there is none, the unique
// index of NOT NULL columns the server promotes to primary key (the columns
// information_schema marks PRI), as the TableMap event reports it.
// SchemaColumns reads many tables of a database at once.
func InfoSchemaColumns(conn *client.Conn, db, table string) (cols []TableColumn, key []int, err error) {
	defs, err := tableDefs(conn, db, table, func(string) bool { return true })
	if err != nil {
		return nil, nil, err
	}
	d := defs[table]
	if d == nil {
		return nil, nil, fmt.Errorf("table %s.%s: no columns in information_schema: %w", db, table, errTableGone)
	}
	return d.Columns, d.Key, d.Err
}

// TableDef is a table's columns and primary key as InfoSchemaColumns reads
// them; Err is why they could not be read.
type TableDef struct {
	Columns []TableColumn
	Key     []int
	Err     error
}

// SchemaColumns is InfoSchemaColumns for the tables of database db that
// want accepts, in two queries whatever their number (streamed, so memory
// holds only the wanted tables' columns): an initial snapshot of thousands
// of tables plans in a moment instead of two round trips per table. A
// wanted table that information_schema does not list (dropped meanwhile)
// is absent from the result.
func SchemaColumns(conn *client.Conn, db string, want func(table string) bool) (map[string]*TableDef, error) {
	return tableDefs(conn, db, "", want)
}

// tableDefs reads the definitions of the tables of db that want accepts:
// only of table when it is not "" (information_schema then opens that
// table alone).
func tableDefs(conn *client.Conn, db, table string, want func(string) bool) (map[string]*TableDef, error) {
	where, args, what := "TABLE_SCHEMA = ?", []any{db}, "database "+db
	if table != "" {
		where, args, what = where+" AND TABLE_NAME = ?", append(args, table), "table "+db+"."+table
	}
	rows := map[string][]infoColumn{}
	err := streamPrepared(conn, `SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_KEY, IFNULL(co.ID, 0)
FROM information_schema.COLUMNS c LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = c.COLLATION_NAME
WHERE c.`+where+` ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`, args, func(f []gomysql.FieldValue) {
		if t := fieldString(f[0]); want(t) {
			rows[t] = append(rows[t], infoColumn{name: fieldString(f[1]), colType: fieldString(f[2]), nullable: fieldString(f[3]),
				colKey: fieldString(f[4]), coll: fieldUint(f[5])})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: read columns: %w", what, err)
	}
	parts := map[string][]indexPart{}
	err = streamPrepared(conn, `SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SEQ_IN_INDEX FROM information_schema.STATISTICS
WHERE `+where+` AND NON_UNIQUE = 0`, args, func(f []gomysql.FieldValue) {
		if t := fieldString(f[0]); rows[t] != nil {
			parts[t] = append(parts[t], indexPart{index: fieldString(f[1]), column: fieldString(f[2]), seq: fieldUint(f[3])})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: read indexes: %w", what, err)
	}
	out := make(map[string]*TableDef, len(rows))
	for t, cs := range rows {
		d := &TableDef{}
		var pri map[string]bool
		d.Columns, pri, d.Err = tableColumns(db, t, cs)
		if d.Err == nil && len(pri) > 0 {
			if d.Key, d.Err = primaryKey(d.Columns, pri, parts[t]); d.Err != nil {
				d.Err = fmt.Errorf("table %s.%s: %w", db, t, d.Err)
			}
		}
		out[t] = d
	}
	return out, nil
}

// streamPrepared runs q, a statement with parameters, with args and hands
// each row to row (string values alias the packet: clone what is kept).
func streamPrepared(conn *client.Conn, q string, args []any, row func([]gomysql.FieldValue)) error {
	stmt, err := conn.Prepare(q)
	if err != nil {
		return err
	}
	defer stmt.Close()
	var res gomysql.Result
	return stmt.ExecuteSelectStreaming(&res, func(f []gomysql.FieldValue) error { row(f); return nil }, nil, args...)
}

// fieldString is a streamed field's text, copied out of the packet.
func fieldString(f gomysql.FieldValue) string {
	if f.Type == gomysql.FieldValueTypeString {
		return string(f.AsString())
	}
	return string(textOf(nil, f))
}

// fieldUint is a streamed integer field (0 when NULL or not a number).
func fieldUint(f gomysql.FieldValue) uint64 {
	switch f.Type {
	case gomysql.FieldValueTypeUnsigned:
		return f.AsUint64()
	case gomysql.FieldValueTypeSigned:
		return uint64(f.AsInt64())
	case gomysql.FieldValueTypeString:
		n, _ := strconv.ParseUint(string(f.AsString()), 10, 64)
		return n
	}
	return 0
}

// infoColumn is a row of information_schema.COLUMNS.
type infoColumn struct {
	name, colType, nullable, colKey string
	coll                            uint64
}

// indexPart is a row of information_schema.STATISTICS of a unique index.
type indexPart struct {
	index, column string
	seq           uint64
}

// tableColumns turns db.table's information_schema.COLUMNS rows, in table
// order, into its columns and the names of those marked PRI.
func tableColumns(db, table string, rows []infoColumn) ([]TableColumn, map[string]bool, error) {
	var cols []TableColumn
	pri := map[string]bool{}
	var errs []error
	for _, r := range rows {
		t, coll, err := typeFromColumnType(r.colType, r.coll)
		if err != nil {
			errs = append(errs, fmt.Errorf("column %q: %w", r.name, err))
		}
		cols = append(cols, TableColumn{Name: r.name, Type: t, Nullable: r.nullable == "YES", Collation: coll})
		if r.colKey == "PRI" {
			pri[r.name] = true
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("table %s.%s: %w", db, table, errors.Join(errs...))
	}
	return cols, pri, nil
}

// primaryKey finds, among the parts of the table's unique indexes, the
// index whose columns are the ones marked PRI.
func primaryKey(cols []TableColumn, pri map[string]bool, rows []indexPart) ([]int, error) {
	type part struct {
		seq  uint64
		name string
	}
	var order []string // index names in the server's key order
	parts := map[string][]part{}
	for _, r := range rows {
		if _, ok := parts[r.index]; !ok {
			order = append(order, r.index)
		}
		parts[r.index] = append(parts[r.index], part{r.seq, r.column})
	}
	if _, ok := parts["PRIMARY"]; ok {
		order = append([]string{"PRIMARY"}, order...)
	}
	byName := map[string]int{}
	for i, c := range cols {
		byName[c.Name] = i
	}
	for _, idx := range order {
		ps := parts[idx]
		if len(ps) != len(pri) {
			continue
		}
		slices.SortFunc(ps, func(a, b part) int { return int(a.seq) - int(b.seq) })
		key := make([]int, 0, len(ps))
		for _, p := range ps {
			i, ok := byName[p.name]
			if !ok || !pri[p.name] {
				break
			}
			key = append(key, i)
		}
		if len(key) == len(ps) {
			return key, nil
		}
	}
	return nil, errors.New("no unique index matches the primary key columns")
}

// typeFromColumnType maps information_schema.COLUMNS.COLUMN_TYPE and the
// column's collation id (0: none) to the type ColumnsFromTableMap gives the
// same column, and the collation id the TableMap event logs (63 for binary
// strings).
func typeFromColumnType(colType string, collation uint64) (tableformat.Type, uint64, error) {
	base, args, rest, err := splitColumnType(colType)
	if err != nil {
		return tableformat.Type{}, 0, err
	}
	flags := strings.Fields(strings.ToLower(rest))
	unsigned := slices.Contains(flags, "unsigned") || slices.Contains(flags, "zerofill")
	sfx := ""
	if unsigned {
		sfx = " unsigned"
	}
	num := func(i, def int) (int, error) {
		if i >= len(args) {
			return def, nil
		}
		return strconv.Atoi(strings.TrimSpace(args[i]))
	}
	intType := func(k tableformat.TypeKind) (tableformat.Type, uint64, error) {
		return tableformat.Type{Kind: k, Unsigned: unsigned, SQL: string(k) + sfx}, 0, nil
	}
	var t tableformat.Type
	switch base {
	case "tinyint", "bool", "boolean":
		return intType(tableformat.KindTinyInt)
	case "smallint":
		return intType(tableformat.KindSmallInt)
	case "mediumint":
		return intType(tableformat.KindMediumInt)
	case "int", "integer":
		return intType(tableformat.KindInt)
	case "bigint":
		return intType(tableformat.KindBigInt)
	case "decimal", "numeric", "dec", "fixed":
		p, err1 := num(0, 10)
		s, err2 := num(1, 0)
		if err := errors.Join(err1, err2); err != nil {
			return t, 0, fmt.Errorf("column type %q: %w", colType, err)
		}
		t = tableformat.Type{Kind: tableformat.KindDecimal, Unsigned: unsigned, Precision: p, Scale: s,
			SQL: fmt.Sprintf("decimal(%d,%d)%s", p, s, sfx)}
	case "float":
		t = tableformat.Type{Kind: tableformat.KindFloat, Unsigned: unsigned, SQL: "float" + sfx}
	case "double", "real", "double precision":
		t = tableformat.Type{Kind: tableformat.KindDouble, Unsigned: unsigned, SQL: "double" + sfx}
	case "date":
		t = tableformat.Type{Kind: tableformat.KindDate, SQL: "date"}
	case "year":
		t = tableformat.Type{Kind: tableformat.KindYear, SQL: "year(4)"}
	case "datetime", "timestamp", "time":
		fsp, err := num(0, 0)
		if err != nil {
			return t, 0, fmt.Errorf("column type %q: %w", colType, err)
		}
		t = temporal(tableformat.TypeKind(base), true, uint16(fsp))
	case "bit":
		n, err := num(0, 1)
		if err != nil {
			return t, 0, fmt.Errorf("column type %q: %w", colType, err)
		}
		t = tableformat.Type{Kind: tableformat.KindBit, Length: n, SQL: fmt.Sprintf("bit(%d)", n)}
	case "char", "varchar", "binary", "varbinary":
		n, err := num(0, 1)
		if err != nil {
			return t, 0, fmt.Errorf("column type %q: %w", colType, err)
		}
		if base == "binary" || base == "varbinary" || collation == 0 {
			collation = binaryCollation
		}
		byteLen := n
		if collation != binaryCollation {
			_, maxLen, err := charsetOf(collation)
			if err != nil {
				return t, 0, err
			}
			byteLen = n * maxLen
		}
		text, bin := tableformat.KindChar, tableformat.KindBinary
		if base == "varchar" || base == "varbinary" {
			text, bin = tableformat.KindVarchar, tableformat.KindVarbinary
		}
		t, err := charType(text, bin, byteLen, collation)
		return t, collation, err
	case "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob":
		packLen := map[string]uint16{"tiny": 1, "": 2, "medium": 3, "long": 4}[strings.TrimSuffix(strings.TrimSuffix(base, "text"), "blob")]
		if strings.HasSuffix(base, "blob") || collation == 0 {
			collation = binaryCollation
		}
		t, err := blobType(packLen, collation)
		return t, collation, err
	case "enum", "set":
		charset, _, err := charsetOf(collation)
		if err != nil {
			return t, 0, err
		}
		k := tableformat.KindEnum
		if base == "set" {
			k = tableformat.KindSet
		}
		t, err := enumSetType(k, args, charset)
		return t, collation, err
	case "json": // MySQL's binary JSON; MariaDB reports its JSON as longtext
		t = tableformat.Type{Kind: tableformat.KindJSON, Charset: "utf8mb4", SQL: "json"}
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection":
		// MariaDB logs spatial columns as character columns of the binary
		// collation.
		return tableformat.Type{Kind: tableformat.KindGeometry, SQL: "geometry"}, binaryCollation, nil
	case "uuid", "inet4", "inet6":
		// MariaDB logs them as BINARY(16) and BINARY(4) columns
		// (binarytypes.go).
		return fixedBinaryType(tableformat.TypeKind(base)), binaryCollation, nil
	default:
		return t, 0, fmt.Errorf("unsupported column type %q", colType)
	}
	return t, 0, t.Validate()
}

// splitColumnType splits a COLUMN_TYPE such as "int(10) unsigned zerofill",
// "decimal(10,2)" or "enum('a','b')" into its lower-case base name, the
// arguments in parentheses (ENUM and SET labels unquoted, doubled quotes and
// backslash escapes undone, in their own case) and the rest.
func splitColumnType(colType string) (base string, args []string, rest string, err error) {
	s := strings.TrimSpace(colType)
	i := strings.IndexAny(s, "( ")
	if i < 0 {
		return strings.ToLower(s), nil, "", nil
	}
	base = strings.ToLower(s[:i])
	if base == "double" && strings.HasPrefix(strings.ToLower(s[i:]), " precision") {
		base, i = "double precision", i+len(" precision")
	}
	if i >= len(s) || s[i] != '(' {
		return base, nil, s[i:], nil
	}
	if base != "enum" && base != "set" {
		j := strings.IndexByte(s[i:], ')')
		if j < 0 {
			return "", nil, "", fmt.Errorf("column type %q: unbalanced parenthesis", colType)
		}
		return base, strings.Split(s[i+1:i+j], ","), s[i+j+1:], nil
	}
	// Quoted labels: '' and backslash escapes inside, separated by commas.
	p := i + 1
	for {
		if p >= len(s) || s[p] != '\'' {
			return "", nil, "", fmt.Errorf("column type %q: expected a quoted label at offset %d", colType, p)
		}
		var b strings.Builder
		p++
		for {
			if p >= len(s) {
				return "", nil, "", fmt.Errorf("column type %q: unterminated label", colType)
			}
			c := s[p]
			switch {
			case c == '\'' && p+1 < len(s) && s[p+1] == '\'':
				b.WriteByte('\'')
				p += 2
				continue
			case c == '\'':
				p++
			case c == '\\' && p+1 < len(s):
				b.WriteByte(unescape(s[p+1]))
				p += 2
				continue
			default:
				b.WriteByte(c)
				p++
				continue
			}
			break
		}
		args = append(args, b.String())
		if p < len(s) && s[p] == ',' {
			p++
			continue
		}
		if p < len(s) && s[p] == ')' {
			return base, args, s[p+1:], nil
		}
		return "", nil, "", fmt.Errorf("column type %q: expected , or ) at offset %d", colType, p)
	}
}

func unescape(c byte) byte {
	switch c {
	case '0':
		return 0
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'Z':
		return 0x1a
	}
	return c
}
