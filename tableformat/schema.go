package tableformat

import (
	"fmt"
	"slices"
	"strings"
)

// TypeKind names a MySQL/MariaDB column type. It is persisted by name in the
// log, so the values below never change.
type TypeKind string

// The column types binlake mirrors (FORMAT.md §5, docs/types.md). Integer widths keep their
// MySQL names; Type.Unsigned selects the unsigned variant.
const (
	KindTinyInt   TypeKind = "tinyint"
	KindSmallInt  TypeKind = "smallint"
	KindMediumInt TypeKind = "mediumint"
	KindInt       TypeKind = "int"
	KindBigInt    TypeKind = "bigint"
	KindDecimal   TypeKind = "decimal"
	KindFloat     TypeKind = "float"
	KindDouble    TypeKind = "double"
	KindDate      TypeKind = "date"
	KindYear      TypeKind = "year"
	KindDatetime  TypeKind = "datetime"
	KindTimestamp TypeKind = "timestamp"
	KindTime      TypeKind = "time"
	KindChar      TypeKind = "char"
	KindVarchar   TypeKind = "varchar"
	KindText      TypeKind = "text"
	KindBinary    TypeKind = "binary"
	KindVarbinary TypeKind = "varbinary"
	KindBlob      TypeKind = "blob"
	KindBit       TypeKind = "bit"
	KindEnum      TypeKind = "enum"
	KindSet       TypeKind = "set"
	KindJSON      TypeKind = "json"
	KindGeometry  TypeKind = "geometry"
	KindUUID      TypeKind = "uuid"  // MariaDB's UUID
	KindInet4     TypeKind = "inet4" // MariaDB's INET4
	KindInet6     TypeKind = "inet6" // MariaDB's INET6
)

var allKinds = []TypeKind{
	KindTinyInt, KindSmallInt, KindMediumInt, KindInt, KindBigInt, KindDecimal,
	KindFloat, KindDouble, KindDate, KindYear, KindDatetime, KindTimestamp,
	KindTime, KindChar, KindVarchar, KindText, KindBinary, KindVarbinary,
	KindBlob, KindBit, KindEnum, KindSet, KindJSON, KindGeometry,
	KindUUID, KindInet4, KindInet6,
}

// MaxDecimalPrecision is the largest DECIMAL precision stored as a Parquet
// DECIMAL; wider decimals are stored as exact decimal strings.
const MaxDecimalPrecision = 38

// Type is a column's source type.
//
// The Go value a row holds for a non-NULL column of each kind (nil is NULL):
//
//	tinyint…bigint    int64, or uint64 when Unsigned
//	year              int64 (e.g. 2024)
//	decimal           string: canonical decimal text, "-"? digits ("." exactly Scale digits)?
//	float, double     float32, float64
//	date              int32: days since 1970-01-01
//	datetime          int64: microseconds since 1970-01-01T00:00:00 of the wall clock (no zone)
//	timestamp         int64: microseconds since the Unix epoch (UTC instant)
//	time              int64: microseconds, signed, −838:59:59 … 838:59:59
//	char…text, enum, set, json
//	                  string (valid UTF-8; SET as the comma-separated labels)
//	binary, varbinary, blob, geometry
//	                  []byte (BINARY(n) padded to n bytes; GEOMETRY as SRID + WKB)
//	bit               uint64
//	uuid              []byte: exactly 16 bytes, in the order of the text's hex digits
//	inet4, inet6      string: the address's canonical text (FormatInet4, FormatInet6)
type Type struct {
	Kind      TypeKind `json:"kind"`
	Unsigned  bool     `json:"unsigned,omitempty"`
	Precision int      `json:"precision,omitempty"` // decimal: total digits
	Scale     int      `json:"scale,omitempty"`     // decimal: fraction digits
	FSP       int      `json:"fsp,omitempty"`       // datetime, timestamp, time: fractional second digits
	Length    int      `json:"length,omitempty"`    // char/binary: length; bit: width in bits
	Elems     []string `json:"elems,omitempty"`     // enum, set: labels in definition order
	Charset   string   `json:"charset,omitempty"`   // character columns: the source charset
	SQL       string   `json:"sql,omitempty"`       // the type as the source spelled it, for display
}

// Validate reports whether t is a type this format can store.
func (t Type) Validate() error {
	if !slices.Contains(allKinds, t.Kind) {
		return fmt.Errorf("unknown column type %q", t.Kind)
	}
	switch t.Kind {
	case KindDecimal:
		if t.Precision < 1 || t.Precision > 65 || t.Scale < 0 || t.Scale > 38 || t.Scale > t.Precision {
			return fmt.Errorf("decimal(%d,%d): precision must be 1…65 and scale 0…min(38, precision)", t.Precision, t.Scale)
		}
	case KindDatetime, KindTimestamp, KindTime:
		if t.FSP < 0 || t.FSP > 6 {
			return fmt.Errorf("%s(%d): fractional seconds must be 0…6", t.Kind, t.FSP)
		}
	case KindBit:
		if t.Length < 1 || t.Length > 64 {
			return fmt.Errorf("bit(%d): width must be 1…64", t.Length)
		}
	case KindEnum, KindSet:
		if len(t.Elems) == 0 {
			return fmt.Errorf("%s without labels", t.Kind)
		}
	}
	return nil
}

// IsInteger reports whether values of t are int64 or uint64 integers.
func (t Type) IsInteger() bool {
	switch t.Kind {
	case KindTinyInt, KindSmallInt, KindMediumInt, KindInt, KindBigInt:
		return true
	}
	return false
}

// String renders the type the way the source would, when known.
func (t Type) String() string {
	if t.SQL != "" {
		return t.SQL
	}
	var b strings.Builder
	b.WriteString(string(t.Kind))
	switch t.Kind {
	case KindDecimal:
		fmt.Fprintf(&b, "(%d,%d)", t.Precision, t.Scale)
	case KindDatetime, KindTimestamp, KindTime:
		if t.FSP > 0 {
			fmt.Fprintf(&b, "(%d)", t.FSP)
		}
	case KindChar, KindBinary, KindBit:
		if t.Length > 0 {
			fmt.Fprintf(&b, "(%d)", t.Length)
		}
	}
	if t.Unsigned {
		b.WriteString(" unsigned")
	}
	return b.String()
}

// Column is one column of a table schema. ID is stable for the life of the
// table: a renamed or modified column keeps its ID, an added column gets the
// next unused one, and an ID is never reused after a drop.
type Column struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Type     Type   `json:"type"`
	Nullable bool   `json:"nullable,omitempty"`
	// InitialDefault is the value rows written before the column existed
	// hold in it, in its log text (initialdefault.go); nil: NULL. It is set
	// when an ALTER adds the column to a table with rows, and never changes
	// afterwards (a later DEFAULT clause concerns new rows only).
	InitialDefault *string `json:"initial_default,omitempty"`
}

// Schema is one version of a table's columns.
type Schema struct {
	// Version numbers a table's schemas 1, 2, 3, … in the order they took effect.
	Version int `json:"version"`
	// Columns in table order.
	Columns []Column `json:"columns"`
	// Key lists the IDs of the key columns (primary key, or a non-null unique
	// key) in key order. Empty means the table has no key: the whole row is
	// its key (FORMAT.md §8).
	Key []int `json:"key,omitempty"`
	// Charset is the table's default character set as of this version (a
	// character column added later without one takes it), as the source
	// names it ("utf8mb4", "latin1"); empty: not known.
	Charset string `json:"charset,omitempty"`
}

// Validate reports every problem with s at once.
func (s *Schema) Validate() error {
	var errs []string
	if len(s.Columns) == 0 {
		errs = append(errs, "no columns")
	}
	ids := map[int]bool{}
	names := map[string]bool{}
	for i, c := range s.Columns {
		if c.ID <= 0 {
			errs = append(errs, fmt.Sprintf("column %d (%q): id must be positive", i, c.Name))
		}
		if ids[c.ID] {
			errs = append(errs, fmt.Sprintf("column %q: duplicate id %d", c.Name, c.ID))
		}
		ids[c.ID] = true
		lower := strings.ToLower(c.Name)
		if c.Name == "" || names[lower] {
			errs = append(errs, fmt.Sprintf("column %d: empty or duplicate name %q", i, c.Name))
		}
		names[lower] = true
		if strings.HasPrefix(lower, "_binlake_") {
			errs = append(errs, fmt.Sprintf("column %q: the _binlake_ prefix is reserved", c.Name))
		}
		if err := c.Type.Validate(); err != nil {
			errs = append(errs, fmt.Sprintf("column %q: %v", c.Name, err))
		} else if _, err := c.Fill(); err != nil {
			errs = append(errs, fmt.Sprintf("column %q: %v", c.Name, err))
		}
	}
	for _, id := range s.Key {
		if !ids[id] {
			errs = append(errs, fmt.Sprintf("key names column id %d, which the schema lacks", id))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid schema: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ColumnByID returns the column with the given ID.
func (s *Schema) ColumnByID(id int) (Column, bool) {
	for _, c := range s.Columns {
		if c.ID == id {
			return c, true
		}
	}
	return Column{}, false
}

// shrink reallocates the schema's slices at their length. decodeStrict's
// decoder gives a slice room for ten elements, then twice as many, so a
// decoded schema of three columns holds room for ten (1.5 KiB): for every
// table of a lake, as long as the lake's state keeps it.
func (s *Schema) shrink() {
	s.Columns, s.Key = slices.Clone(s.Columns), slices.Clone(s.Key)
	for i := range s.Columns {
		s.Columns[i].Type.Elems = slices.Clone(s.Columns[i].Type.Elems)
	}
}

// KeyColumns returns the columns a delete file holds: the key columns in key
// order, or every column when the table has no key.
func (s *Schema) KeyColumns() []Column {
	if len(s.Key) == 0 {
		return s.Columns
	}
	out := make([]Column, 0, len(s.Key))
	for _, id := range s.Key {
		if c, ok := s.ColumnByID(id); ok {
			out = append(out, c)
		}
	}
	return out
}

// Op is the operation a row of a delta file records. Persisted as an integer.
type Op int8

// Operations. A data file holds OpInsert, OpUpdateAfter and OpSnapshot rows;
// a delete file holds OpDelete and OpUpdateBefore keys.
const (
	OpInsert       Op = 1 // a row inserted
	OpUpdateAfter  Op = 2 // the new image of an updated row
	OpDelete       Op = 3 // the key of a deleted row
	OpUpdateBefore Op = 4 // the old key of an updated row
	OpSnapshot     Op = 5 // a row read by an initial snapshot or written by compaction
)

func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdateAfter:
		return "update_after"
	case OpDelete:
		return "delete"
	case OpUpdateBefore:
		return "update_before"
	case OpSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("op(%d)", int8(o))
}

// Row is one row of a delta file: the change sequence and source commit time
// of the change that produced it, the operation, and the column values in
// the order of the file's columns (all columns for data and snapshot files,
// Schema.KeyColumns for delete files). Values follow the Type contract.
type Row struct {
	Seq    int64
	TS     int64 // source commit time, microseconds since the Unix epoch (UTC)
	Op     Op
	Values []any
}
