package mysql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlake/binlake/tableformat"
)

// ErrZeroDate is returned with a nil value for a zero or invalid DATE,
// DATETIME or TIMESTAMP ('0000-00-00', '2020-00-00', '0000-00-00 00:00:00'):
// the lake stores NULL, and the caller counts and reports the value
// (docs/types.md). It is the only error after which the returned value is usable.
var ErrZeroDate = errors.New("zero or invalid date stored as NULL")

// SyncerConfig sets the fields of a go-mysql BinlogSyncerConfig that decide
// the Go values of row events, to what DecodeBinlogValue expects: decimals
// and temporal values as strings, TIMESTAMP rendered in UTC whatever the
// process's zone. The caller fills in the connection fields and the flavor.
func SyncerConfig(cfg replication.BinlogSyncerConfig) replication.BinlogSyncerConfig {
	cfg.UseDecimal = false
	cfg.ParseTime = false
	cfg.TimestampStringLocation = time.UTC
	return cfg
}

// DecodeBinlogValue turns a value of a go-mysql row event (decoded with a
// syncer configured by SyncerConfig) into the Go value the tableformat Type
// contract names for t. nil stays nil. Strings and byte slices are copied:
// go-mysql's values alias the event buffer.
func DecodeBinlogValue(t tableformat.Type, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	out, err := decodeBinlog(t, v)
	if errors.Is(err, ErrZeroDate) {
		return nil, ErrZeroDate
	}
	if err != nil {
		return nil, fmt.Errorf("%s value %s: %w", t, describe(v), err)
	}
	return out, err
}

func decodeBinlog(t tableformat.Type, v any) (any, error) {
	switch t.Kind {
	case tableformat.KindTinyInt, tableformat.KindSmallInt, tableformat.KindMediumInt,
		tableformat.KindInt, tableformat.KindBigInt:
		return binlogInt(t, v)
	case tableformat.KindYear:
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		}
	case tableformat.KindDecimal:
		switch x := v.(type) {
		case string:
			return CanonicalDecimal(x, t.Precision, t.Scale)
		case fmt.Stringer: // decimal.Decimal when UseDecimal is set
			return CanonicalDecimal(x.String(), t.Precision, t.Scale)
		}
	case tableformat.KindFloat:
		switch x := v.(type) {
		case float32:
			return x, nil
		case float64:
			return float32(x), nil
		}
	case tableformat.KindDouble:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		}
	case tableformat.KindDate, tableformat.KindDatetime, tableformat.KindTimestamp, tableformat.KindTime:
		switch x := v.(type) {
		case string:
			return parseTemporal(t, x)
		case time.Time: // ParseTime: DATETIME in UTC fields, TIMESTAMP an instant
			if t.Kind == tableformat.KindDatetime {
				return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.UTC).UnixMicro(), nil
			}
			if t.Kind == tableformat.KindTimestamp {
				return x.UnixMicro(), nil
			}
		}
	case tableformat.KindChar, tableformat.KindVarchar, tableformat.KindText, tableformat.KindJSON:
		b, ok := bytesOf(v)
		if !ok {
			break
		}
		s, err := toUTF8(b, t.Charset)
		if err == nil && t.Kind == tableformat.KindJSON && s == "" {
			s = "null" // MySQL's empty JSON document (non-strict inserts)
		}
		return s, err
	case tableformat.KindBinary, tableformat.KindVarbinary, tableformat.KindBlob, tableformat.KindGeometry:
		b, ok := bytesOf(v)
		if !ok {
			break
		}
		return padBinary(t, b)
	case tableformat.KindBit:
		if x, ok := v.(int64); ok {
			return checkBit(t, uint64(x))
		}
	case tableformat.KindEnum:
		if x, ok := v.(int64); ok {
			return EnumLabel(t.Elems, x)
		}
	case tableformat.KindSet:
		if x, ok := v.(int64); ok {
			return SetLabels(t.Elems, uint64(x))
		}
	case tableformat.KindUUID, tableformat.KindInet4, tableformat.KindInet6:
		b, ok := bytesOf(v)
		if !ok {
			break
		}
		return fixedBinary(t, b)
	default:
		return nil, fmt.Errorf("unknown column kind %q", t.Kind)
	}
	return nil, fmt.Errorf("unexpected Go type %T from the binlog decoder", v)
}

// binlogInt widens go-mysql's sized integers. A signed Go integer for an
// unsigned column (signedness metadata missing) is reinterpreted at the
// column's width.
func binlogInt(t tableformat.Type, v any) (any, error) {
	var s int64
	var u uint64
	signed := true
	switch x := v.(type) {
	case int8:
		s = int64(x)
	case int16:
		s = int64(x)
	case int32:
		s = int64(x)
	case int64:
		s = x
	case int:
		s = int64(x)
	case uint8:
		u, signed = uint64(x), false
	case uint16:
		u, signed = uint64(x), false
	case uint32:
		u, signed = uint64(x), false
	case uint64:
		u, signed = x, false
	default:
		return nil, fmt.Errorf("unexpected Go type %T from the binlog decoder", v)
	}
	bits := intBits(t.Kind)
	switch {
	case t.Unsigned && signed:
		return uint64(s) & (math.MaxUint64 >> (64 - bits)), nil
	case t.Unsigned:
		return u, nil
	case signed:
		return s, nil
	default: // an unsigned Go value for a signed column: two's complement at the width
		return int64(u<<(64-bits)) >> (64 - bits), nil
	}
}

func intBits(k tableformat.TypeKind) uint {
	switch k {
	case tableformat.KindTinyInt:
		return 8
	case tableformat.KindSmallInt:
		return 16
	case tableformat.KindMediumInt:
		return 24
	case tableformat.KindInt:
		return 32
	}
	return 64
}

// DecodeSnapshotValue turns one field of a text-protocol result row (nil is
// NULL) into the Go value DecodeBinlogValue yields for the same stored
// value. The session must have run SnapshotSessionSetup and selected the
// column with SnapshotSelectExpr. raw is not retained.
func DecodeSnapshotValue(t tableformat.Type, raw []byte) (any, error) {
	if raw == nil {
		return nil, nil
	}
	out, err := decodeSnapshot(t, raw)
	if errors.Is(err, ErrZeroDate) {
		return nil, ErrZeroDate
	}
	if err != nil {
		return nil, fmt.Errorf("%s value %s: %w", t, describe(raw), err)
	}
	return out, err
}

func decodeSnapshot(t tableformat.Type, raw []byte) (any, error) {
	s := string(raw)
	switch t.Kind {
	case tableformat.KindTinyInt, tableformat.KindSmallInt, tableformat.KindMediumInt,
		tableformat.KindInt, tableformat.KindBigInt:
		if t.Unsigned {
			return strconv.ParseUint(s, 10, 64)
		}
		return strconv.ParseInt(s, 10, 64)
	case tableformat.KindYear:
		return strconv.ParseInt(s, 10, 64)
	case tableformat.KindDecimal:
		return CanonicalDecimal(s, t.Precision, t.Scale)
	case tableformat.KindFloat:
		f, err := strconv.ParseFloat(s, 64) // CAST(… AS DOUBLE): the exact float32 value
		return float32(f), err
	case tableformat.KindDouble:
		return strconv.ParseFloat(s, 64)
	case tableformat.KindDate, tableformat.KindDatetime, tableformat.KindTimestamp, tableformat.KindTime:
		return parseTemporal(t, s)
	case tableformat.KindChar, tableformat.KindVarchar, tableformat.KindText, tableformat.KindJSON,
		tableformat.KindEnum, tableformat.KindSet:
		return toUTF8(raw, t.Charset)
	case tableformat.KindBinary, tableformat.KindVarbinary, tableformat.KindBlob, tableformat.KindGeometry:
		return padBinary(t, raw)
	case tableformat.KindBit:
		if len(raw) > 8 {
			return nil, fmt.Errorf("%d bytes for a bit value", len(raw))
		}
		var buf [8]byte
		copy(buf[8-len(raw):], raw)
		return checkBit(t, binary.BigEndian.Uint64(buf[:]))
	case tableformat.KindUUID, tableformat.KindInet4, tableformat.KindInet6:
		return fixedBinary(t, raw) // SnapshotSelectExpr reads the bytes
	}
	return nil, fmt.Errorf("unknown column kind %q", t.Kind)
}

func parseTemporal(t tableformat.Type, s string) (any, error) {
	switch t.Kind {
	case tableformat.KindDate:
		return ParseDate(s)
	case tableformat.KindDatetime, tableformat.KindTimestamp:
		// TIMESTAMP text is UTC (syncer TimestampStringLocation, snapshot
		// session time_zone), so both are read as UTC wall clocks.
		return ParseDatetime(s)
	case tableformat.KindTime:
		return ParseTime(s)
	}
	return nil, fmt.Errorf("not a temporal kind %q", t.Kind)
}

func bytesOf(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	}
	return nil, false
}

// padBinary copies b, right-padding BINARY(n) values with zero bytes to n
// bytes (the binlog drops trailing zeros).
func padBinary(t tableformat.Type, b []byte) ([]byte, error) {
	n := len(b)
	if t.Kind == tableformat.KindBinary {
		if len(b) > t.Length {
			return nil, fmt.Errorf("%d bytes exceed binary(%d)", len(b), t.Length)
		}
		n = t.Length
	}
	out := make([]byte, n)
	copy(out, b)
	return out, nil
}

// fixedBinary decodes the bytes of a UUID, INET4 or INET6 value as the
// binlog logs them (trailing zero bytes dropped, as for BINARY) and as
// SnapshotSelectExpr reads them: a UUID as its 16 bytes, an address as its
// canonical text (the text MariaDB prints).
func fixedBinary(t tableformat.Type, b []byte) (any, error) {
	n := fixedBinaryLengths[t.Kind]
	if len(b) > n {
		return nil, fmt.Errorf("%d bytes for a %s value of %d", len(b), t.Kind, n)
	}
	full := make([]byte, n)
	copy(full, b)
	switch t.Kind {
	case tableformat.KindUUID:
		return full, nil
	case tableformat.KindInet4:
		return tableformat.FormatInet4(full)
	}
	return tableformat.FormatInet6(full)
}

func checkBit(t tableformat.Type, x uint64) (uint64, error) {
	if t.Length > 0 && t.Length < 64 && x>>uint(t.Length) != 0 {
		return 0, fmt.Errorf("%#x is wider than bit(%d)", x, t.Length)
	}
	return x, nil
}

// EnumLabel returns the label of a 1-based ENUM index; 0 is MySQL's error
// value, the empty string.
func EnumLabel(labels []string, index int64) (string, error) {
	if index == 0 {
		return "", nil
	}
	if index < 0 || index > int64(len(labels)) {
		return "", fmt.Errorf("enum index %d outside 1…%d", index, len(labels))
	}
	return labels[index-1], nil
}

// SetLabels returns the labels of a SET bitmask (bit i = label i), joined by
// commas in definition order.
func SetLabels(labels []string, mask uint64) (string, error) {
	if len(labels) < 64 && mask>>uint(len(labels)) != 0 {
		return "", fmt.Errorf("set bitmask %#x has bits beyond its %d labels", mask, len(labels))
	}
	var out []string
	for i, l := range labels {
		if mask&(1<<uint(i)) != 0 {
			out = append(out, l)
		}
	}
	return strings.Join(out, ","), nil
}

func describe(v any) string {
	var s string
	switch x := v.(type) {
	case []byte:
		s = strconv.Quote(string(x))
	case string:
		s = strconv.Quote(x)
	default:
		s = fmt.Sprintf("%v (%T)", v, v)
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
