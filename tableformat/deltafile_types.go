package tableformat

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// This file maps binlake column types to Parquet columns (docs/types.md,
// FORMAT.md §12): the Parquet node of each type, the check of a Go
// value against its column type, and the conversions between the Go values of
// the Type contract and Parquet values.

// colEncoding is how one column type is stored: its physical Parquet type and the
// Go value it holds. Several TypeKinds share one.
type colEncoding uint8

const (
	encInt32        colEncoding = iota + 1 // signed tinyint…int: INT32 INT(w,true); Go int64
	encUint32                              // unsigned tinyint…int: INT32 INT(w,false); Go uint64
	encInt64                               // bigint: INT64 INT(64,true); Go int64
	encUint64                              // bigint unsigned, bit: INT64 INT(64,false); Go uint64
	encDecimal32                           // decimal p ≤ 9: INT32 DECIMAL; Go string
	encDecimal64                           // decimal p ≤ 18: INT64 DECIMAL; Go string
	encDecimalFixed                        // decimal p ≤ 38: FIXED_LEN_BYTE_ARRAY DECIMAL; Go string
	encDecimalText                         // decimal p > 38: BYTE_ARRAY STRING; Go string
	encFloat                               // FLOAT; Go float32
	encDouble                              // DOUBLE; Go float64
	encDate                                // INT32 DATE; Go int32
	encYear                                // INT32 INT(16,true); Go int64
	encMicros                              // datetime, timestamp: INT64 TIMESTAMP(MICROS); Go int64
	encTime                                // INT64 INT(64,true) microseconds; Go int64
	encString                              // char, varchar, text: BYTE_ARRAY STRING; Go string
	encEnum                                // BYTE_ARRAY STRING holding the label; Go string
	encSet                                 // BYTE_ARRAY STRING holding the comma list; Go string
	encJSON                                // BYTE_ARRAY JSON; Go string
	encBytes                               // binary, varbinary, blob, geometry: BYTE_ARRAY; Go []byte
	encUUID                                // FIXED_LEN_BYTE_ARRAY(16) UUID; Go []byte of 16
	encInet4                               // BYTE_ARRAY STRING holding the canonical text; Go string
	encInet6                               // BYTE_ARRAY STRING holding the canonical text; Go string
)

// Value ranges the column types admit.
const (
	// minDayNumber and maxDayNumber bound dates to 0000-01-01 … 9999-12-31
	// (days since 1970-01-01): every date MySQL and MariaDB can store.
	minDayNumber = -719528
	maxDayNumber = 2932896
	microsPerDay = 86_400_000_000
	// minMicros and maxMicros bound datetime and timestamp values to
	// 0000-01-01 00:00:00 … 9999-12-31 23:59:59.999999.
	minMicros = minDayNumber * microsPerDay
	maxMicros = (maxDayNumber+1)*microsPerDay - 1
	// maxTimeMicros is TIME's bound, 838:59:59.000000, in microseconds.
	maxTimeMicros = (838*3600 + 59*60 + 59) * 1_000_000
)

// fileLayout is the Parquet schema of a delta file of one table schema and kind.
type fileLayout struct {
	kind    FileKind
	columns []Column
	codecs  []*columnCodec
	parquet *parquet.Schema
}

func newFileLayout(schema *Schema, kind FileKind) (*fileLayout, error) {
	if !kind.Valid() {
		return nil, fmt.Errorf("unknown file kind %q", kind)
	}
	if err := schema.Validate(); err != nil {
		return nil, err
	}
	l := &fileLayout{kind: kind, columns: schema.Columns}
	if kind == FileDelete {
		l.columns = schema.KeyColumns()
	}
	fields := make([]parquet.Field, 0, len(l.columns)+3)
	for _, c := range l.columns {
		cc, err := newColumnCodec(c)
		if err != nil {
			return nil, err
		}
		l.codecs = append(l.codecs, cc)
		fields = append(fields, namedField{Node: cc.node, name: ColumnName(c.ID)})
	}
	fields = append(fields,
		namedField{Node: parquet.Required(parquet.Int(64)), name: SeqColumn},
		namedField{Node: parquet.Required(parquet.Timestamp(parquet.Microsecond)), name: TSColumn},
		namedField{Node: parquet.Required(parquet.Int(32)), name: OpColumn},
	)
	l.parquet = parquet.NewSchema("binlake", orderedGroup(fields))
	return l, nil
}

// checkParquetColumns checks that the file's Parquet schema is exactly the
// one its binlake schema and kind call for.
func checkParquetColumns(root *parquet.Column, layout *fileLayout) error {
	got := root.Columns()
	want := layout.parquet.Fields()
	if len(got) != len(want) {
		return fmt.Errorf("%d Parquet columns, the schema calls for %d", len(got), len(want))
	}
	hidden := len(layout.codecs) // the _binlake_* columns follow the table's
	for i, g := range got {
		w := want[i]
		// Other writers (DuckDB) write the hidden columns OPTIONAL: accepted,
		// and a NULL in one is refused row by row (decodeRow).
		sameRep := g.Optional() == w.Optional() && g.Required() == w.Required()
		if i >= hidden {
			sameRep = !g.Repeated()
		}
		same := g.Name() == w.Name() && g.Leaf() && g.ID() == w.ID() && sameRep && g.Type().Kind() == w.Type().Kind()
		if same && g.Type().Kind() == parquet.FixedLenByteArray {
			// A decimal may be wider than the narrowest width that holds
			// its precision, up to 16 bytes (DuckDB writes 16).
			n := g.Type().Length()
			same = n == w.Type().Length() || (i < hidden && layout.codecs[i].enc == encDecimalFixed && n > w.Type().Length() && n <= 16)
		}
		if same {
			same = logicalString(g.Type()) == logicalString(w.Type())
		}
		if !same {
			return fmt.Errorf("column %d of the Parquet schema is %s %q %s, the binlake schema calls for %s %q %s",
				i, repetition(g), g.Name(), g.Type(), repetition(w), w.Name(), w.Type())
		}
	}
	return nil
}

func logicalString(t parquet.Type) string {
	if lt := t.LogicalType(); lt != nil {
		return lt.String()
	}
	return ""
}

func repetition(n parquet.Node) string {
	switch {
	case n.Optional():
		return "optional"
	case n.Repeated():
		return "repeated"
	}
	return "required"
}

// orderedGroup is a Parquet group whose fields keep the order given
// (parquet.Group sorts them by name, which would put c10 before c2).
type orderedGroup []parquet.Field

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return parquet.NewSchema("binlake", g).String() }
func (g orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Fields() []parquet.Field     { return g }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return reflect.TypeFor[map[string]any]() }

// namedField is a field of an orderedGroup.
type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string { return f.name }

func (f namedField) Value(base reflect.Value) reflect.Value {
	if base.Kind() == reflect.Map {
		return base.MapIndex(reflect.ValueOf(f.name))
	}
	return reflect.Value{}
}

// columnCodec stores the values of one table column in one Parquet column.
type columnCodec struct {
	col  Column
	enc  colEncoding
	node parquet.Node // the optional leaf with its field id

	min, max  int64          // encInt32, encInt64: signed range
	umax      uint64         // encUint32, encUint64: unsigned range
	width     int            // encDecimalFixed: bytes of the FIXED_LEN_BYTE_ARRAY
	binaryLen int            // encBytes: the exact length of a BINARY(n) value, or 0
	unit      int64          // encMicros, encTime: a value is a multiple of unit (10^(6-fsp))
	labels    map[string]int // encEnum, encSet: label → definition index
}

// newColumnCodec returns the codec of c.
func newColumnCodec(c Column) (*columnCodec, error) {
	t := c.Type
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("column %q: %w", c.Name, err)
	}
	cc := &columnCodec{col: c, unit: 1}
	var leaf parquet.Node
	switch t.Kind {
	case KindTinyInt, KindSmallInt, KindMediumInt, KindInt, KindBigInt:
		bitsOf := map[TypeKind]int{KindTinyInt: 8, KindSmallInt: 16, KindMediumInt: 24, KindInt: 32, KindBigInt: 64}
		n := bitsOf[t.Kind]
		parquetBits := n
		if n == 24 {
			parquetBits = 32 // Parquet has no 24-bit integer
		}
		switch {
		case t.Unsigned && n == 64:
			cc.enc, cc.umax = encUint64, math.MaxUint64
		case t.Unsigned:
			cc.enc, cc.umax = encUint32, 1<<n-1
		case n == 64:
			cc.enc, cc.min, cc.max = encInt64, math.MinInt64, math.MaxInt64
		default:
			cc.enc, cc.min, cc.max = encInt32, -1<<(n-1), 1<<(n-1)-1
		}
		if t.Unsigned {
			leaf = parquet.Uint(parquetBits)
		} else {
			leaf = parquet.Int(parquetBits)
		}
	case KindDecimal:
		switch p := t.Precision; {
		case p <= 9:
			cc.enc, leaf = encDecimal32, parquet.Decimal(t.Scale, p, parquet.Int32Type)
		case p <= 18:
			cc.enc, leaf = encDecimal64, parquet.Decimal(t.Scale, p, parquet.Int64Type)
		case p <= MaxDecimalPrecision:
			cc.enc, cc.width = encDecimalFixed, decimalByteWidth(p)
			leaf = parquet.Decimal(t.Scale, p, parquet.FixedLenByteArrayType(cc.width))
		default:
			cc.enc, leaf = encDecimalText, parquet.String()
		}
	case KindFloat:
		cc.enc, leaf = encFloat, parquet.Leaf(parquet.FloatType)
	case KindDouble:
		cc.enc, leaf = encDouble, parquet.Leaf(parquet.DoubleType)
	case KindDate:
		cc.enc, leaf = encDate, parquet.Date()
	case KindYear:
		cc.enc, leaf = encYear, parquet.Int(16)
	case KindDatetime, KindTimestamp:
		cc.enc, cc.unit = encMicros, pow10(6-t.FSP)
		leaf = parquet.TimestampAdjusted(parquet.Microsecond, t.Kind == KindTimestamp)
	case KindTime:
		cc.enc, cc.unit, leaf = encTime, pow10(6-t.FSP), parquet.Int(64)
	case KindChar, KindVarchar, KindText:
		cc.enc, leaf = encString, parquet.String()
	case KindEnum, KindSet:
		cc.enc, leaf = encEnum, parquet.String()
		if t.Kind == KindSet {
			cc.enc = encSet
		}
		cc.labels = make(map[string]int, len(t.Elems))
		for i, e := range t.Elems {
			if _, dup := cc.labels[e]; !dup {
				cc.labels[e] = i
			}
		}
	case KindJSON:
		cc.enc, leaf = encJSON, parquet.JSON()
	case KindBinary, KindVarbinary, KindBlob, KindGeometry:
		cc.enc, leaf = encBytes, parquet.Leaf(parquet.ByteArrayType)
		if t.Kind == KindBinary {
			cc.binaryLen = t.Length
		}
	case KindBit:
		cc.enc, leaf = encUint64, parquet.Uint(64)
		cc.umax = math.MaxUint64 >> (64 - t.Length)
	case KindUUID:
		cc.enc, leaf = encUUID, parquet.UUID()
	case KindInet4:
		cc.enc, leaf = encInet4, parquet.String()
	case KindInet6:
		cc.enc, leaf = encInet6, parquet.String()
	default:
		return nil, fmt.Errorf("column %q: no Parquet mapping for type %q", c.Name, t.Kind)
	}
	cc.node = parquet.Optional(parquet.FieldID(leaf, c.ID))
	return cc, nil
}

// encode checks v against the column type and returns its Parquet value
// (without levels). scratch holds the bytes of fixed-length values until
// they are written; it must have room for cc.width more bytes.
func (cc *columnCodec) encode(v any, scratch *[]byte) (parquet.Value, error) {
	switch cc.enc {
	case encInt32, encInt64:
		x, ok := v.(int64)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "int64")
		}
		if x < cc.min || x > cc.max {
			return parquet.Value{}, fmt.Errorf("%d out of range %d…%d", x, cc.min, cc.max)
		}
		if cc.enc == encInt64 {
			return parquet.Int64Value(x), nil
		}
		return parquet.Int32Value(int32(x)), nil
	case encUint32, encUint64:
		x, ok := v.(uint64)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "uint64")
		}
		if x > cc.umax {
			return parquet.Value{}, fmt.Errorf("%d out of range 0…%d", x, cc.umax)
		}
		if cc.enc == encUint64 {
			return parquet.Int64Value(int64(x)), nil
		}
		return parquet.Int32Value(int32(uint32(x))), nil
	case encDecimal32, encDecimal64, encDecimalFixed, encDecimalText:
		s, ok := v.(string)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "string")
		}
		return cc.encodeDecimal(s, scratch)
	case encFloat:
		x, ok := v.(float32)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "float32")
		}
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return parquet.Value{}, fmt.Errorf("%v is not a value MySQL can store", x)
		}
		return parquet.FloatValue(x), nil
	case encDouble:
		x, ok := v.(float64)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "float64")
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return parquet.Value{}, fmt.Errorf("%v is not a value MySQL can store", x)
		}
		return parquet.DoubleValue(x), nil
	case encDate:
		x, ok := v.(int32)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "int32 (days since 1970-01-01)")
		}
		if x < minDayNumber || x > maxDayNumber {
			return parquet.Value{}, fmt.Errorf("day %d is outside 0000-01-01…9999-12-31", x)
		}
		return parquet.Int32Value(x), nil
	case encYear:
		x, ok := v.(int64)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "int64")
		}
		if x != 0 && (x < 1901 || x > 2155) {
			return parquet.Value{}, fmt.Errorf("year %d is outside 1901…2155 (or 0)", x)
		}
		return parquet.Int32Value(int32(x)), nil
	case encMicros, encTime:
		x, ok := v.(int64)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "int64 (microseconds)")
		}
		if cc.enc == encTime && (x < -maxTimeMicros || x > maxTimeMicros) {
			return parquet.Value{}, fmt.Errorf("%dµs is outside -838:59:59…838:59:59", x)
		}
		if cc.enc == encMicros && (x < minMicros || x > maxMicros) {
			return parquet.Value{}, fmt.Errorf("%dµs is outside 0000-01-01…9999-12-31 23:59:59.999999", x)
		}
		if x%cc.unit != 0 {
			return parquet.Value{}, fmt.Errorf("%dµs has more fractional digits than fsp %d", x, cc.col.Type.FSP)
		}
		return parquet.Int64Value(x), nil
	case encString, encJSON, encEnum, encSet, encInet4, encInet6:
		s, ok := v.(string)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "string")
		}
		if err := cc.checkText(s); err != nil {
			return parquet.Value{}, err
		}
		return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s))), nil
	case encBytes:
		b, ok := v.([]byte)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "[]byte")
		}
		if cc.binaryLen > 0 && len(b) != cc.binaryLen {
			return parquet.Value{}, fmt.Errorf("binary(%d) value has %d bytes, want exactly %d (padded with zero bytes)", cc.binaryLen, len(b), cc.binaryLen)
		}
		return parquet.ByteArrayValue(b), nil
	case encUUID:
		b, ok := v.([]byte)
		if !ok {
			return parquet.Value{}, wrongGoType(v, "[]byte (16 bytes)")
		}
		if len(b) != 16 {
			return parquet.Value{}, fmt.Errorf("uuid value has %d bytes, want 16", len(b))
		}
		return parquet.FixedLenByteArrayValue(b), nil
	}
	return parquet.Value{}, fmt.Errorf("unknown encoding %d", cc.enc)
}

// checkText checks a value of a text column: valid UTF-8, a known label,
// valid JSON, a canonical address.
func (cc *columnCodec) checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("invalid UTF-8 at byte %d", invalidUTF8At(s))
	}
	switch cc.enc {
	case encEnum:
		// "" is MySQL's error value (index 0) that an invalid label becomes
		// outside strict mode: the source can hold it, so the lake does too.
		if _, ok := cc.labels[s]; !ok && s != "" {
			return fmt.Errorf("enum label %q is not one of %s", s, quoteLabels(cc.col.Type.Elems))
		}
	case encSet:
		if s == "" {
			return nil
		}
		prev := -1
		for label := range strings.SplitSeq(s, ",") {
			i, ok := cc.labels[label]
			if !ok {
				return fmt.Errorf("set label %q is not one of %s", label, quoteLabels(cc.col.Type.Elems))
			}
			if i <= prev {
				return fmt.Errorf("set value %q is not in definition order without repeats", s)
			}
			prev = i
		}
	case encJSON:
		if !json.Valid(unsafe.Slice(unsafe.StringData(s), len(s))) {
			return fmt.Errorf("invalid JSON text %s", abbreviate(s))
		}
	case encInet4, encInet6:
		return checkInet(s, cc.enc == encInet6)
	}
	return nil
}

// decode turns a Parquet value of this column back into its Go value and
// checks it against the column type, so a damaged file cannot yield a value
// the type does not admit.
func (cc *columnCodec) decode(v parquet.Value) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	var out any
	switch cc.enc {
	case encInt32:
		out = int64(v.Int32())
	case encUint32:
		out = uint64(v.Uint32())
	case encInt64, encMicros, encTime:
		out = v.Int64()
	case encUint64:
		out = v.Uint64()
	case encDecimal32:
		out = formatDecimal(int64(v.Int32()) < 0, absInt64(int64(v.Int32())), 0, cc.col.Type.Scale)
	case encDecimal64:
		out = formatDecimal(v.Int64() < 0, absInt64(v.Int64()), 0, cc.col.Type.Scale)
	case encDecimalFixed:
		b := v.ByteArray()
		if len(b) < cc.width || len(b) > 16 {
			return nil, fmt.Errorf("decimal holds %d bytes, want %d to 16", len(b), cc.width)
		}
		out = decodeDecimalBytes(b, cc.col.Type.Scale)
	case encFloat:
		out = v.Float()
	case encDouble:
		out = v.Double()
	case encDate:
		out = v.Int32()
	case encYear:
		out = int64(v.Int32())
	case encDecimalText, encString, encEnum, encSet, encJSON, encInet4, encInet6:
		out = string(v.ByteArray())
	case encBytes, encUUID:
		out = append([]byte{}, v.ByteArray()...)
	default:
		return nil, fmt.Errorf("unknown encoding %d", cc.enc)
	}
	scratch := make([]byte, 0, cc.width)
	if _, err := cc.encode(out, &scratch); err != nil {
		return nil, err
	}
	return out, nil
}

// size estimates the uncompressed bytes of a column value: its fixed
// width, or 4 plus the length of a string or byte slice.
func (cc *columnCodec) size(v any) int {
	switch cc.enc {
	case encInt32, encUint32, encDecimal32, encFloat, encDate, encYear:
		return 4
	case encInt64, encUint64, encDecimal64, encDouble, encMicros, encTime:
		return 8
	case encDecimalFixed:
		return cc.width
	case encUUID:
		return 16
	}
	switch x := v.(type) {
	case string:
		return 4 + len(x)
	case []byte:
		return 4 + len(x)
	}
	return 4
}

// keepStatistics reports whether the column gets min/max statistics (page
// headers, column chunk, page index). Not for TEXT, BLOB, JSON and GEOMETRY:
// parquet-go stores bounds untruncated, up to six copies per page, so one
// 1 MiB value would add 6 MiB to the file; such columns are not pruned by
// range anyway.
func (cc *columnCodec) keepStatistics() bool {
	switch cc.col.Type.Kind {
	case KindText, KindBlob, KindJSON, KindGeometry:
		return false
	}
	return true
}

// physicalKind is the Parquet physical type the encoding stores.
func (cc *columnCodec) physicalKind() parquet.Kind {
	return cc.node.Type().Kind()
}

// encodeDecimal checks that s is the canonical text of a value of the
// column's decimal(p,s) type and returns its Parquet value.
func (cc *columnCodec) encodeDecimal(s string, scratch *[]byte) (parquet.Value, error) {
	t := cc.col.Type
	neg, intPart, frac, err := parseCanonicalDecimal(s, t.Precision, t.Scale)
	if err != nil {
		return parquet.Value{}, err
	}
	switch cc.enc {
	case encDecimal32, encDecimal64:
		var u int64
		for _, part := range [2]string{intPart, frac} {
			for i := 0; i < len(part); i++ {
				u = u*10 + int64(part[i]-'0')
			}
		}
		if neg {
			u = -u
		}
		if cc.enc == encDecimal32 {
			return parquet.Int32Value(int32(u)), nil
		}
		return parquet.Int64Value(u), nil
	case encDecimalFixed:
		var hi, lo uint64
		for _, part := range [2]string{intPart, frac} {
			for i := 0; i < len(part); i++ {
				// (hi, lo) = (hi, lo)*10 + digit; p ≤ 38 digits fit in 127 bits.
				h1, l1 := bits.Mul64(lo, 10)
				l2, carry := bits.Add64(l1, uint64(part[i]-'0'), 0)
				hi, lo = hi*10+h1+carry, l2
			}
		}
		if neg {
			lo, hi = negate128(hi, lo)
		}
		buf := (*scratch)[len(*scratch) : len(*scratch)+cc.width]
		*scratch = (*scratch)[:len(*scratch)+cc.width]
		for i := range buf {
			shift := uint(8 * (cc.width - 1 - i))
			switch {
			case shift >= 64:
				buf[i] = byte(hi >> (shift - 64))
			default:
				buf[i] = byte(lo >> shift)
			}
		}
		return parquet.FixedLenByteArrayValue(buf), nil
	default:
		return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s))), nil
	}
}

// parseCanonicalDecimal checks that s is the canonical text of a
// decimal(precision, scale) value: an optional "-" (never on zero), the
// integer digits without leading zeros (a lone "0" when the integer part is
// zero), at most precision-scale of them, then "." and exactly scale digits
// when scale > 0. It returns the sign and the integer and fraction digits;
// together they are the digits of the unscaled value.
func parseCanonicalDecimal(s string, precision, scale int) (neg bool, intPart, frac string, err error) {
	bad := func(why string) (bool, string, string, error) {
		return false, "", "", fmt.Errorf("decimal text %s is not canonical for decimal(%d,%d): %s", abbreviate(s), precision, scale, why)
	}
	rest := s
	if strings.HasPrefix(rest, "-") {
		neg, rest = true, rest[1:]
	}
	intPart, frac, hasDot := strings.Cut(rest, ".")
	if intPart == "" || !allDigits(intPart) {
		return bad("want digits before the point")
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return bad("leading zero")
	}
	if scale == 0 && hasDot {
		return bad("scale 0 has no fraction")
	}
	if scale > 0 && (!hasDot || len(frac) != scale || !allDigits(frac)) {
		return bad(fmt.Sprintf("want exactly %d fraction digits", scale))
	}
	intDigits := len(intPart)
	if intPart == "0" {
		intDigits = 0
	}
	if intDigits > precision-scale {
		return bad(fmt.Sprintf("%d integer digits, the type holds %d", intDigits, precision-scale))
	}
	if neg && intDigits == 0 && strings.Trim(frac, "0") == "" {
		return bad("negative zero")
	}
	return neg, intPart, frac, nil
}

// formatDecimal renders the unscaled value (hi, lo) with scale fraction
// digits, the canonical text parseCanonicalDecimal accepts.
func formatDecimal(neg bool, lo, hi uint64, scale int) string {
	var digits string
	switch {
	case hi == 0:
		digits = strconv.FormatUint(lo, 10)
	default:
		// hi < 2^63 < 10^19, so the quotient fits in 64 bits.
		q, r := bits.Div64(hi, lo, 1e19)
		rs := strconv.FormatUint(r, 10)
		digits = strconv.FormatUint(q, 10) + strings.Repeat("0", 19-len(rs)) + rs
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	var b strings.Builder
	if neg && strings.Trim(digits, "0") != "" {
		b.WriteByte('-')
	}
	if scale == 0 {
		b.WriteString(digits)
	} else {
		b.WriteString(digits[:len(digits)-scale])
		b.WriteByte('.')
		b.WriteString(digits[len(digits)-scale:])
	}
	return b.String()
}

// decodeDecimalBytes renders a big-endian two's complement unscaled value.
func decodeDecimalBytes(b []byte, scale int) string {
	var hi, lo uint64
	if len(b) > 0 && b[0]&0x80 != 0 {
		hi, lo = math.MaxUint64, math.MaxUint64 // sign extension
	}
	for _, c := range b {
		hi = hi<<8 | lo>>56
		lo = lo<<8 | uint64(c)
	}
	neg := int64(hi) < 0
	if neg {
		lo, hi = negate128(hi, lo)
	}
	return formatDecimal(neg, lo, hi, scale)
}

// negate128 returns the two's complement of (hi, lo) as (lo, hi).
func negate128(hi, lo uint64) (uint64, uint64) {
	lo, borrow := bits.Sub64(0, lo, 0)
	hi, _ = bits.Sub64(0, hi, borrow)
	return lo, hi
}

// decimalByteWidth is the fewest bytes whose two's complement holds every
// unscaled value of precision p: the smallest n with 10^p-1 ≤ 2^(8n-1)-1.
func decimalByteWidth(p int) int {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)
	for n := 1; ; n++ {
		if new(big.Int).Lsh(big.NewInt(1), uint(8*n-1)).Cmp(limit) >= 0 {
			return n
		}
	}
}

// readableAs reports why values written under src cannot be read as values
// of dst without conversion, or "" when every value src admits is a value of
// dst with the same Go representation (an integer widened, a decimal's
// precision grown, labels appended to an enum, a char turned into a text…).
// ReadableAs reports whether every value stored under type src is a value
// of type dst as it is, so a file written before a column's type changed
// reads under the new type (FORMAT.md §12, schema evolution on read); the
// error says why not.
func ReadableAs(src, dst Type) error {
	if why := readableAs(src, dst); why != "" {
		return fmt.Errorf("stored as %s, cannot read as %s: %s", src, dst, why)
	}
	return nil
}

func readableAs(src, dst Type) string {
	same := func(ok bool, why string) string {
		if ok {
			return ""
		}
		return why
	}
	class := func(t Type) string {
		switch t.Kind {
		case KindChar, KindVarchar, KindText, KindEnum, KindSet, KindJSON:
			return "text"
		case KindBinary, KindVarbinary, KindBlob:
			return "binary"
		}
		if t.IsInteger() {
			return "integer"
		}
		return string(t.Kind)
	}
	if class(src) != class(dst) {
		return fmt.Sprintf("a %s value is not a %s value", src.Kind, dst.Kind)
	}
	switch {
	case src.IsInteger():
		widths := map[TypeKind]int{KindTinyInt: 1, KindSmallInt: 2, KindMediumInt: 3, KindInt: 4, KindBigInt: 8}
		if src.Unsigned != dst.Unsigned {
			return "signedness differs"
		}
		return same(widths[dst.Kind] >= widths[src.Kind], "the integer type is narrower")
	case src.Kind == KindDecimal:
		return same(src.Scale == dst.Scale && dst.Precision-dst.Scale >= src.Precision-src.Scale,
			"the decimal scale differs or its integer digits shrank")
	case src.Kind == KindDatetime || src.Kind == KindTimestamp || src.Kind == KindTime:
		return same(dst.FSP >= src.FSP, "fewer fractional second digits")
	case src.Kind == KindBit:
		return same(dst.Length >= src.Length, "fewer bits")
	case dst.Kind == KindEnum || dst.Kind == KindSet:
		return same(src.Kind == dst.Kind && isPrefix(src.Elems, dst.Elems), "labels changed other than by appending")
	case dst.Kind == KindJSON:
		return same(src.Kind == KindJSON, "text is not JSON")
	case dst.Kind == KindBinary:
		return same(src.Kind == KindBinary && src.Length == dst.Length, "binary length differs")
	}
	return ""
}

func isPrefix(a, b []string) bool {
	return len(a) <= len(b) && reflect.DeepEqual(a, b[:len(a)])
}

func wrongGoType(v any, want string) error {
	return fmt.Errorf("value of Go type %T, want %s", v, want)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func absInt64(x int64) uint64 {
	if x < 0 {
		return -uint64(x)
	}
	return uint64(x)
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

func invalidUTF8At(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return len(s)
}

func quoteLabels(elems []string) string {
	q := make([]string, len(elems))
	for i, e := range elems {
		q[i] = strconv.Quote(e)
	}
	return "(" + strings.Join(q, ",") + ")"
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "…"
	}
	return strconv.Quote(s)
}
