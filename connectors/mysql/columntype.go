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
func InfoSchemaColumns(conn *client.Conn, db, table string) (cols []TableColumn, key []int, err error) {
	r, err := conn.Execute(`SELECT c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_KEY, IFNULL(co.ID, 0)
FROM information_schema.COLUMNS c LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = c.COLLATION_NAME
WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION`, db, table)
	if err != nil {
		return nil, nil, fmt.Errorf("table %s.%s: read columns: %w", db, table, err)
	}
	if r.RowNumber() == 0 {
		return nil, nil, fmt.Errorf("table %s.%s: no columns in information_schema: %w", db, table, errTableGone)
	}
	pri := map[string]bool{}
	var errs []error
	for i := range r.RowNumber() {
		name, _ := r.GetString(i, 0)
		colType, _ := r.GetString(i, 1)
		nullable, _ := r.GetString(i, 2)
		colKey, _ := r.GetString(i, 3)
		coll, _ := r.GetUint(i, 4)
		t, coll, err := typeFromColumnType(colType, coll)
		if err != nil {
			errs = append(errs, fmt.Errorf("column %q: %w", name, err))
		}
		cols = append(cols, TableColumn{Name: name, Type: t, Nullable: nullable == "YES", Collation: coll})
		if colKey == "PRI" {
			pri[name] = true
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("table %s.%s: %w", db, table, errors.Join(errs...))
	}
	if len(pri) == 0 {
		return cols, nil, nil
	}
	key, err = primaryKey(conn, db, table, cols, pri)
	if err != nil {
		return nil, nil, fmt.Errorf("table %s.%s: %w", db, table, err)
	}
	return cols, key, nil
}

// primaryKey finds the index whose columns are the ones marked PRI.
func primaryKey(conn *client.Conn, db, table string, cols []TableColumn, pri map[string]bool) ([]int, error) {
	r, err := conn.Execute(`SELECT INDEX_NAME, COLUMN_NAME, SEQ_IN_INDEX FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0`, db, table)
	if err != nil {
		return nil, fmt.Errorf("read indexes: %w", err)
	}
	type part struct {
		seq  uint64
		name string
	}
	var order []string // index names in the server's key order
	parts := map[string][]part{}
	for i := range r.RowNumber() {
		idx, _ := r.GetString(i, 0)
		col, _ := r.GetString(i, 1)
		seq, _ := r.GetUint(i, 2)
		if _, ok := parts[idx]; !ok {
			order = append(order, idx)
		}
		parts[idx] = append(parts[idx], part{seq, col})
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
