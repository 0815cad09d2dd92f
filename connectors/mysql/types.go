package mysql

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlake/binlake/tableformat"
)

// binaryCollation is the collation id of the binary character set: a
// character column with it holds bytes (BINARY, VARBINARY, BLOB).
const binaryCollation = 63

// ErrNoRowMetadata reports a TableMap event without column names: the
// server does not log full row metadata (binlog_row_metadata must be FULL).
var ErrNoRowMetadata = errors.New("table map event has no column names: set binlog_row_metadata=FULL " +
	"(SET GLOBAL and the server's config); events logged before cannot be decoded: start a new lake, or " +
	"--start-position/--start-gtid past them")

// TableColumn is one column as a TableMap event describes it.
type TableColumn struct {
	Name     string
	Type     tableformat.Type
	Nullable bool
	// Collation is the column's collation id for character, ENUM and SET
	// columns (63 = binary), 0 otherwise.
	Collation uint64
}

// ColumnsFromTableMap derives the columns of a table, in table order, and
// its primary key (indexes into cols, in key order; empty when the table has
// none) from a TableMap event logged with binlog_row_metadata=FULL.
func ColumnsFromTableMap(ev *replication.TableMapEvent) (cols []TableColumn, key []int, err error) {
	n := int(ev.ColumnCount)
	names := ev.ColumnNameString()
	if len(names) != n {
		return nil, nil, fmt.Errorf("table %s.%s: %w", ev.Schema, ev.Table, ErrNoRowMetadata)
	}
	unsigned := ev.UnsignedMap()
	collations := ev.CollationMap()
	enumSetCollations := ev.EnumSetCollationMap()
	enums := ev.EnumStrValueMap()
	sets := ev.SetStrValueMap()
	cols = make([]TableColumn, n)
	var errs []error
	for i := range n {
		c := TableColumn{Name: names[i]}
		if ok, nullable := ev.Nullable(i); ok {
			c.Nullable = nullable
		}
		coll, ok := collations[i]
		if !ok {
			coll, ok = enumSetCollations[i]
		}
		if ok {
			c.Collation = coll
		}
		c.Type, err = columnType(ev.ColumnType[i], ev.ColumnMeta[i], unsigned[i], c.Collation, enums[i], sets[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("column %q: %w", c.Name, err))
		}
		cols[i] = c
	}
	for _, k := range ev.PrimaryKey {
		if k >= uint64(n) {
			errs = append(errs, fmt.Errorf("primary key names column %d of %d", k, n))
			continue
		}
		key = append(key, int(k))
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("table %s.%s: %w", ev.Schema, ev.Table, errors.Join(errs...))
	}
	return cols, key, nil
}

// columnType maps a binlog column type and its metadata to a tableformat
// type. ENUM/SET labels arrive in the column's charset and are converted.
func columnType(wire byte, meta uint16, unsigned bool, collation uint64, enumLabels, setLabels []string) (tableformat.Type, error) {
	var t tableformat.Type
	sfx := ""
	if unsigned {
		sfx = " unsigned"
	}
	intType := func(k tableformat.TypeKind) tableformat.Type {
		return tableformat.Type{Kind: k, Unsigned: unsigned, SQL: string(k) + sfx}
	}
	switch wire {
	case mysql.MYSQL_TYPE_TINY:
		return intType(tableformat.KindTinyInt), nil
	case mysql.MYSQL_TYPE_SHORT:
		return intType(tableformat.KindSmallInt), nil
	case mysql.MYSQL_TYPE_INT24:
		return intType(tableformat.KindMediumInt), nil
	case mysql.MYSQL_TYPE_LONG:
		return intType(tableformat.KindInt), nil
	case mysql.MYSQL_TYPE_LONGLONG:
		return intType(tableformat.KindBigInt), nil
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		p, s := int(meta>>8), int(meta&0xff)
		t = tableformat.Type{Kind: tableformat.KindDecimal, Unsigned: unsigned, Precision: p, Scale: s,
			SQL: fmt.Sprintf("decimal(%d,%d)%s", p, s, sfx)}
	case mysql.MYSQL_TYPE_FLOAT:
		t = tableformat.Type{Kind: tableformat.KindFloat, Unsigned: unsigned, SQL: "float" + sfx}
	case mysql.MYSQL_TYPE_DOUBLE:
		t = tableformat.Type{Kind: tableformat.KindDouble, Unsigned: unsigned, SQL: "double" + sfx}
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		t = tableformat.Type{Kind: tableformat.KindDate, SQL: "date"}
	case mysql.MYSQL_TYPE_YEAR:
		t = tableformat.Type{Kind: tableformat.KindYear, SQL: "year(4)"}
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
		t = temporal(tableformat.KindDatetime, wire == mysql.MYSQL_TYPE_DATETIME2, meta)
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		t = temporal(tableformat.KindTimestamp, wire == mysql.MYSQL_TYPE_TIMESTAMP2, meta)
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		t = temporal(tableformat.KindTime, wire == mysql.MYSQL_TYPE_TIME2, meta)
	case mysql.MYSQL_TYPE_BIT:
		bits := int(meta>>8)*8 + int(meta&0xff)
		t = tableformat.Type{Kind: tableformat.KindBit, Length: bits, SQL: fmt.Sprintf("bit(%d)", bits)}
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return charType(tableformat.KindVarchar, tableformat.KindVarbinary, int(meta), collation)
	case mysql.MYSQL_TYPE_STRING:
		real, length := stringMeta(meta)
		switch real {
		case mysql.MYSQL_TYPE_ENUM:
			return labelType(tableformat.KindEnum, enumLabels, collation)
		case mysql.MYSQL_TYPE_SET:
			return labelType(tableformat.KindSet, setLabels, collation)
		}
		return charType(tableformat.KindChar, tableformat.KindBinary, length, collation)
	case mysql.MYSQL_TYPE_BLOB:
		return blobType(meta, collation)
	case mysql.MYSQL_TYPE_JSON: // MySQL's binary JSON; MariaDB logs JSON as LONGTEXT
		t = tableformat.Type{Kind: tableformat.KindJSON, Charset: "utf8mb4", SQL: "json"}
	case mysql.MYSQL_TYPE_GEOMETRY:
		t = tableformat.Type{Kind: tableformat.KindGeometry, SQL: "geometry"}
	default:
		return t, fmt.Errorf("unsupported binlog column type %d (meta %#x)", wire, meta)
	}
	return t, t.Validate()
}

func temporal(k tableformat.TypeKind, fractional bool, meta uint16) tableformat.Type {
	t := tableformat.Type{Kind: k, SQL: string(k)}
	if fractional && meta > 0 {
		t.FSP = int(meta)
		t.SQL = fmt.Sprintf("%s(%d)", k, meta)
	}
	return t
}

// stringMeta splits the metadata of a MYSQL_TYPE_STRING column into its real
// type and its maximum length in bytes (the encoding go-mysql's decoder and
// MySQL's Field_string::do_save_field_metadata share).
func stringMeta(meta uint16) (real byte, length int) {
	if meta < 256 {
		return mysql.MYSQL_TYPE_STRING, int(meta)
	}
	b0, b1 := byte(meta>>8), byte(meta&0xff)
	if b0&0x30 != 0x30 {
		return b0 | 0x30, int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return b0, int(b1)
}

// charType is CHAR/VARCHAR (text) or BINARY/VARBINARY by collation. byteLen
// is the column's maximum length in bytes: CHAR(n) in utf8mb4 logs 4n.
func charType(text, binary tableformat.TypeKind, byteLen int, collation uint64) (tableformat.Type, error) {
	if collation == binaryCollation {
		t := tableformat.Type{Kind: binary, SQL: fmt.Sprintf("%s(%d)", binary, byteLen)}
		if binary == tableformat.KindBinary {
			t.Length = byteLen
		}
		return t, nil
	}
	charset, maxLen, err := charsetOf(collation)
	if err != nil {
		return tableformat.Type{}, err
	}
	chars := byteLen / maxLen
	t := tableformat.Type{Kind: text, Charset: charset, SQL: fmt.Sprintf("%s(%d)", text, chars)}
	if text == tableformat.KindChar {
		t.Length = chars
	}
	return t, nil
}

func blobType(packLen uint16, collation uint64) (tableformat.Type, error) {
	prefix := map[uint16]string{1: "tiny", 2: "", 3: "medium", 4: "long"}[packLen]
	if collation == binaryCollation {
		return tableformat.Type{Kind: tableformat.KindBlob, SQL: prefix + "blob"}, nil
	}
	charset, _, err := charsetOf(collation)
	if err != nil {
		return tableformat.Type{}, err
	}
	return tableformat.Type{Kind: tableformat.KindText, Charset: charset, SQL: prefix + "text"}, nil
}

func labelType(k tableformat.TypeKind, raw []string, collation uint64) (tableformat.Type, error) {
	if len(raw) == 0 {
		return tableformat.Type{}, fmt.Errorf("%s column without labels in the table map (binlog_row_metadata must be FULL)", k)
	}
	charset := "utf8mb4"
	if collation != 0 {
		var err error
		if charset, _, err = charsetOf(collation); err != nil {
			return tableformat.Type{}, err
		}
	}
	labels := make([]string, len(raw))
	for i, l := range raw {
		s, err := toUTF8([]byte(l), charset)
		if err != nil {
			return tableformat.Type{}, fmt.Errorf("%s label %d: %w", k, i+1, err)
		}
		labels[i] = s
	}
	return enumSetType(k, labels, charset)
}

// enumSetType is an ENUM or SET type with UTF-8 labels of a column in
// charset.
func enumSetType(k tableformat.TypeKind, labels []string, charset string) (tableformat.Type, error) {
	quoted := make([]string, len(labels))
	for i, s := range labels {
		quoted[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	t := tableformat.Type{Kind: k, Elems: labels, Charset: charset,
		SQL: fmt.Sprintf("%s(%s)", k, strings.Join(quoted, ","))}
	return t, t.Validate()
}

// charsetOf names the charset of a character column's collation; binary
// (63) means bytes. A column without a collation (metadata not logged) is
// taken as utf8mb4.
func charsetOf(collation uint64) (string, int, error) {
	if collation == 0 {
		return "utf8mb4", 4, nil
	}
	cs, maxLen, ok := collationCharset(collation)
	if !ok {
		return "", 0, fmt.Errorf("unknown collation id %d", collation)
	}
	return cs, maxLen, nil
}

// SnapshotSessionSetup is the statement a snapshot session runs before
// reading rows, so its text values equal what the binlog path decodes:
// TIMESTAMP text in UTC, and text, ENUM and SET values in each column's own
// charset (converted to UTF-8 by DecodeSnapshotValue like binlog values).
const SnapshotSessionSetup = "SET time_zone = '+00:00', character_set_results = NULL"

// SnapshotSelectExpr is the select-list expression that reads column c for
// DecodeSnapshotValue: the quoted name, except FLOAT, whose text the server
// rounds to 6 significant digits, which is read as CAST(c AS DOUBLE)
// (exact), and UUID, INET4 and INET6, read as their bytes
// (CAST(c AS BINARY(n))) as the binlog logs them, so both paths format an
// address with the same code.
func SnapshotSelectExpr(c TableColumn) string {
	q := QuoteIdent(c.Name)
	switch c.Type.Kind {
	case tableformat.KindFloat:
		return "CAST(" + q + " AS DOUBLE)"
	case tableformat.KindUUID, tableformat.KindInet6:
		return "CAST(" + q + " AS BINARY(16))"
	case tableformat.KindInet4:
		return "CAST(" + q + " AS BINARY(4))"
	}
	return q
}

// QuoteIdent quotes a MySQL identifier with backticks.
func QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}
