package mysql

import (
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/tableformat"
)

// This file reads what an ALTER TABLE … ADD COLUMN gives the rows the table
// already holds (FORMAT.md §5, initial defaults): a constant DEFAULT
// converted to the column's type the way the server stores it, the type's
// implicit default for a NOT NULL column without one, or NULL. Where the
// value is not a constant the statement alone decides (an expression,
// CURRENT_TIMESTAMP, a generated or AUTO_INCREMENT column) or the
// conversion is one this file does not reproduce exactly (rounding, lenient
// date formats, charsets, time zones), the fill is unknown and the table is
// re-snapshotted instead: a value is never guessed.

// litKind is the kind of a constant DEFAULT.
type litKind int8

const (
	litExpr     litKind = iota // not a constant: an expression or a function
	litNull                    // NULL
	litNumber                  // a numeric literal, sign included: 12, -1.50, .5, 1e3
	litString                  // a string literal (adjacent ones joined), N'…', _utf8mb4'…'
	litBytes                   // X'…', 0x…, b'…', 0b…, _binary'…'
	litBool                    // TRUE, FALSE (text "1" or "0")
	litTemporal                // DATE '…', TIME '…', TIMESTAMP '…'
)

// literal is a DEFAULT value as written.
type literal struct {
	kind  litKind
	text  string // number text, string value, temporal text
	bytes []byte // litBytes
	bits  bool   // litBytes written as bits (b'…', 0b…)
}

// defaultLiteral reads the value after DEFAULT: a constant, or any simple
// expression (reported as litExpr).
func (p *ddlParser) defaultLiteral() (*literal, error) {
	start := p.i
	if lit := p.constant(); lit != nil {
		return lit, nil
	}
	p.i = start
	if err := p.expr(); err != nil {
		return nil, err
	}
	return &literal{kind: litExpr}, nil
}

// constant reads a constant literal, or returns nil (the position is then
// undefined: the caller rewinds).
func (p *ddlParser) constant() *literal {
	switch {
	case p.word("NULL"):
		return &literal{kind: litNull}
	case p.word("TRUE"):
		return &literal{kind: litBool, text: "1"}
	case p.word("FALSE"):
		return &literal{kind: litBool, text: "0"}
	}
	sign := ""
	for {
		if p.punct("-") {
			if sign == "-" {
				sign = ""
			} else {
				sign = "-"
			}
		} else if !p.punct("+") {
			break
		}
	}
	t, ok := p.peek()
	if !ok {
		return nil
	}
	if t.punct && !t.str && t.text == "." { // .5
		p.i++
		frac, ok := p.ident()
		if !ok || !allDigits(frac) {
			return nil
		}
		return &literal{kind: litNumber, text: sign + "0." + frac}
	}
	if !t.punct && !t.quoted && t.text[0] >= '0' && t.text[0] <= '9' {
		p.i++
		lower := strings.ToLower(t.text)
		switch {
		case sign == "" && strings.HasPrefix(lower, "0x") && len(lower) > 2:
			b, err := hex.DecodeString(padEven(lower[2:]))
			if err != nil {
				return nil
			}
			return &literal{kind: litBytes, bytes: b}
		case sign == "" && strings.HasPrefix(lower, "0b") && len(lower) > 2:
			return bitsLiteral(lower[2:])
		}
		text := t.text
		if p.atPunct(".") {
			p.i++
			text += "."
			if n, ok := p.peek(); ok && !n.punct && !n.quoted && allDigits(n.text) {
				p.i++
				text += n.text
			}
		}
		return &literal{kind: litNumber, text: sign + text}
	}
	if sign != "" {
		return nil
	}
	if t.str {
		return p.strings()
	}
	if t.punct || t.quoted {
		return nil
	}
	// A prefixed literal: X'…', B'…', N'…', _charset'…', DATE '…'.
	word := strings.ToUpper(t.text)
	p.i++
	n, ok := p.peek()
	if !ok || !n.str {
		return nil
	}
	switch {
	case word == "X":
		p.i++
		b, err := hex.DecodeString(unquote(n.text))
		if err != nil {
			return nil
		}
		return &literal{kind: litBytes, bytes: b}
	case word == "B":
		p.i++
		return bitsLiteral(unquote(n.text))
	case word == "N", word == "_UTF8", word == "_UTF8MB3", word == "_UTF8MB4":
		return p.strings()
	case word == "_BINARY":
		lit := p.strings()
		if lit == nil {
			return nil
		}
		return &literal{kind: litBytes, bytes: []byte(lit.text)}
	case word == "DATE", word == "TIME", word == "TIMESTAMP":
		p.i++
		return &literal{kind: litTemporal, text: unquote(n.text)}
	}
	return nil // another charset's introducer: its bytes are not UTF-8
}

// strings reads one or more adjacent string literals (MySQL joins them).
func (p *ddlParser) strings() *literal {
	var b strings.Builder
	n := 0
	for {
		s, ok := p.strValue()
		if !ok {
			break
		}
		b.WriteString(s)
		n++
	}
	if n == 0 {
		return nil
	}
	return &literal{kind: litString, text: b.String()}
}

func padEven(h string) string {
	if len(h)%2 == 1 {
		return "0" + h
	}
	return h
}

// bitsLiteral is b'0101…' as bytes, right-aligned.
func bitsLiteral(s string) *literal {
	if s == "" || strings.Trim(s, "01") != "" {
		return nil
	}
	x, ok := new(big.Int).SetString(s, 2)
	if !ok {
		return nil
	}
	b := x.Bytes()
	if len(b) == 0 {
		b = []byte{0}
	}
	return &literal{kind: litBytes, bytes: b, bits: true}
}

// errFillUnknown: the value old rows get is not known from the statement.
var errFillUnknown = errors.New("the value existing rows get is not a constant binlake reads")

// columnFill is the value the rows a table holds get in a column an ALTER
// adds with definition c (resolved to col): nil for NULL; errFillUnknown
// when only reading the rows can tell.
func (p *ddlParser) columnFill(c *colDef, col ingest.SourceColumn) (any, error) {
	switch {
	case c.generated:
		return nil, errors.New("a generated column: the server computes it for every row")
	case c.autoInc:
		return nil, errors.New("an AUTO_INCREMENT column: the server numbers every row")
	case c.def == nil && col.Nullable:
		return nil, nil
	case c.def == nil:
		return implicitDefault(c, col, p.env)
	}
	v, err := literalValue(c, col, *c.def)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if _, err := tableformat.FormatValue(col.Type, v); err != nil {
			return nil, errFillUnknown // e.g. more fraction digits than the column keeps: the server rounds
		}
	}
	return v, nil
}

// implicitDefault is the value the server gives existing rows in a NOT NULL
// column added without a DEFAULT: the zero of its type (MariaDB and MySQL:
// 0, ”, the first ENUM label, the zero date — which the lake holds as
// NULL).
func implicitDefault(c *colDef, col ingest.SourceColumn, env DDLEnv) (any, error) {
	t := col.Type
	switch t.Kind {
	case tableformat.KindTinyInt, tableformat.KindSmallInt, tableformat.KindMediumInt, tableformat.KindInt, tableformat.KindBigInt:
		if t.Unsigned {
			return uint64(0), nil
		}
		return int64(0), nil
	case tableformat.KindYear:
		return int64(0), nil
	case tableformat.KindBit:
		return uint64(0), nil
	case tableformat.KindDecimal:
		return CanonicalDecimal("0", t.Precision, t.Scale)
	case tableformat.KindFloat:
		return float32(0), nil
	case tableformat.KindDouble:
		return float64(0), nil
	case tableformat.KindTime:
		return int64(0), nil
	case tableformat.KindDate, tableformat.KindDatetime:
		return nil, nil // the zero date
	case tableformat.KindTimestamp:
		// Without explicit_defaults_for_timestamp a NOT NULL TIMESTAMP may
		// be given CURRENT_TIMESTAMP: only the setting of the server says.
		if env.Defaults == nil {
			return nil, errFillUnknown
		}
		explicit, err := env.Defaults.ExplicitDefaultsForTimestamp()
		if err != nil || !explicit {
			return nil, errFillUnknown
		}
		return nil, nil
	case tableformat.KindChar, tableformat.KindVarchar, tableformat.KindText, tableformat.KindSet:
		return "", nil
	case tableformat.KindEnum:
		return t.Elems[0], nil
	case tableformat.KindBinary:
		return make([]byte, t.Length), nil
	case tableformat.KindVarbinary, tableformat.KindBlob:
		return []byte{}, nil
	case tableformat.KindUUID, tableformat.KindInet4, tableformat.KindInet6:
		return fixedBinary(t, nil) // all zero bytes: the nil UUID, 0.0.0.0, ::
	}
	// JSON ('' fails its CHECK), GEOMETRY: the server refuses or decides.
	return nil, errFillUnknown
}

// literalValue converts a constant DEFAULT to the value the column stores,
// for the conversions that are exact and unambiguous; anything else is
// errFillUnknown.
func literalValue(c *colDef, col ingest.SourceColumn, lit literal) (any, error) {
	t := col.Type
	switch lit.kind {
	case litNull:
		return nil, nil
	case litExpr:
		return nil, errors.New("an expression default: the server evaluates it")
	}
	switch t.Kind {
	case tableformat.KindTinyInt, tableformat.KindSmallInt, tableformat.KindMediumInt, tableformat.KindInt, tableformat.KindBigInt:
		return integerValue(t, lit)
	case tableformat.KindYear:
		return yearValue(lit)
	case tableformat.KindBit:
		return bitValue(lit)
	case tableformat.KindDecimal:
		if lit.kind != litNumber && lit.kind != litString && lit.kind != litBool || strings.ContainsAny(lit.text, "eE") {
			return nil, errFillUnknown
		}
		s, err := CanonicalDecimal(lit.text, t.Precision, t.Scale)
		if err != nil {
			return nil, errFillUnknown // rounded or out of range: the server decides
		}
		return s, nil
	case tableformat.KindFloat, tableformat.KindDouble:
		if len(c.typ.args) > 0 {
			return nil, errFillUnknown // FLOAT(M,D) rounds to D digits
		}
		return floatValue(t, lit)
	case tableformat.KindDate, tableformat.KindDatetime, tableformat.KindTime:
		return temporalValue(t, lit)
	case tableformat.KindTimestamp:
		// A TIMESTAMP literal is read in the session's time zone: only the
		// zero value is certain.
		if lit.kind == litString && (lit.text == "0000-00-00 00:00:00" || lit.text == "0000-00-00") {
			return nil, nil
		}
		return nil, errFillUnknown
	case tableformat.KindChar, tableformat.KindVarchar, tableformat.KindText:
		return charValue(t, lit)
	case tableformat.KindEnum:
		return enumValue(t, lit)
	case tableformat.KindSet:
		return setValue(t, lit)
	case tableformat.KindJSON:
		if lit.kind != litString {
			return nil, errFillUnknown
		}
		return lit.text, nil // the text as stored (checkValue refuses invalid JSON)
	case tableformat.KindBinary, tableformat.KindVarbinary, tableformat.KindBlob:
		return binaryValue(t, lit)
	case tableformat.KindUUID, tableformat.KindInet4, tableformat.KindInet6:
		return fixedBinaryValue(t, lit)
	}
	return nil, errFillUnknown
}

// yearValue converts a literal to a YEAR value: four digits, or the number
// 0 (two-digit years and the string '0' have rules of their own).
func yearValue(lit literal) (any, error) {
	if lit.kind != litNumber && lit.kind != litString {
		return nil, errFillUnknown
	}
	if lit.text == "0" && lit.kind == litNumber {
		return int64(0), nil
	}
	if len(lit.text) != 4 || !allDigits(lit.text) {
		return nil, errFillUnknown
	}
	y, _ := strconv.ParseInt(lit.text, 10, 64)
	return y, nil
}

// bitValue converts a binary literal of at most 8 bytes, or a number, to a
// BIT value.
func bitValue(lit literal) (any, error) {
	switch lit.kind {
	case litBytes:
		if len(lit.bytes) > 8 {
			return nil, errFillUnknown
		}
		var x uint64
		for _, b := range lit.bytes {
			x = x<<8 | uint64(b)
		}
		return x, nil
	case litNumber, litBool:
		return strconv.ParseUint(lit.text, 10, 64)
	}
	return nil, errFillUnknown
}

// floatValue converts a number to a FLOAT or DOUBLE value, when it is in
// the type's range.
func floatValue(t tableformat.Type, lit literal) (any, error) {
	if lit.kind != litNumber && lit.kind != litBool {
		return nil, errFillUnknown
	}
	f, err := strconv.ParseFloat(lit.text, 64)
	if err != nil || math.IsInf(f, 0) || (t.Unsigned && f < 0) {
		return nil, errFillUnknown
	}
	if t.Kind == tableformat.KindFloat {
		if math.Abs(f) > math.MaxFloat32 {
			return nil, errFillUnknown
		}
		return float32(f), nil
	}
	return f, nil
}

// charValue converts a literal to a CHAR, VARCHAR or TEXT value that fits
// the declared length.
func charValue(t tableformat.Type, lit literal) (any, error) {
	s, err := textValue(t, lit)
	if err != nil {
		return nil, err
	}
	if t.Kind == tableformat.KindChar {
		s = strings.TrimRight(s, " ") // CHAR values read without their padding
	}
	if n, ok := declaredLength(t); ok && utf8.RuneCountInString(s) > n {
		return nil, errFillUnknown
	}
	return s, nil
}

// enumValue converts a label, or a label's number (from 1), to an ENUM
// value.
func enumValue(t tableformat.Type, lit literal) (any, error) {
	if lit.kind == litNumber {
		i, err := strconv.Atoi(lit.text)
		if err != nil || i < 1 || i > len(t.Elems) {
			return nil, errFillUnknown
		}
		return t.Elems[i-1], nil
	}
	if lit.kind != litString || !slices.Contains(t.Elems, lit.text) {
		return nil, errFillUnknown // a label of another case, spaces: collation rules
	}
	return lit.text, nil
}

// setValue converts a string of comma-separated labels to a SET value: the
// labels in the type's order, each once.
func setValue(t tableformat.Type, lit literal) (any, error) {
	if lit.kind != litString {
		return nil, errFillUnknown
	}
	if lit.text == "" {
		return "", nil
	}
	seen := map[int]bool{}
	for label := range strings.SplitSeq(lit.text, ",") {
		i := slices.Index(t.Elems, label)
		if i < 0 {
			return nil, errFillUnknown
		}
		seen[i] = true
	}
	var out []string
	for i, e := range t.Elems {
		if seen[i] {
			out = append(out, e)
		}
	}
	return strings.Join(out, ","), nil
}

// binaryValue converts a binary literal (not written as bits) or a
// string's bytes to a BINARY, VARBINARY or BLOB value that fits the
// declared length; BINARY pads it with zero bytes.
func binaryValue(t tableformat.Type, lit literal) (any, error) {
	var b []byte
	switch lit.kind {
	case litBytes:
		if lit.bits {
			return nil, errFillUnknown
		}
		b = lit.bytes
	case litString:
		b = []byte(lit.text) // a UTF-8 client's bytes, unconverted
	default:
		return nil, errFillUnknown
	}
	if t.Kind == tableformat.KindBinary {
		if len(b) > t.Length {
			return nil, errFillUnknown
		}
		return append(slices.Clone(b), make([]byte, t.Length-len(b))...), nil
	}
	if n, ok := declaredLength(t); ok && len(b) > n {
		return nil, errFillUnknown
	}
	return slices.Clone(b), nil
}

// fixedBinaryValue converts a literal to a UUID, INET4 or INET6 value: the
// type's bytes as a binary literal (X'…', 0x…) of their exact length, or a
// string in a form read the same by the server and here (a UUID's
// 8-4-4-4-12 or 32 hex digits of any case, an address in the standard
// forms); the server's other leniencies (leading zeros in an IPv4 part,
// hyphens elsewhere in a UUID) are errFillUnknown.
func fixedBinaryValue(t tableformat.Type, lit literal) (any, error) {
	var b []byte
	switch {
	case lit.kind == litBytes && !lit.bits && len(lit.bytes) == fixedBinaryLengths[t.Kind]:
		b = lit.bytes
	case lit.kind == litString && t.Kind == tableformat.KindUUID:
		text := strings.ToLower(lit.text)
		if len(text) == 32 {
			b, _ = hex.DecodeString(text)
		} else {
			b, _ = tableformat.ParseUUID(text)
		}
	case lit.kind == litString && t.Kind == tableformat.KindInet4:
		b, _ = tableformat.ParseInet4(lit.text)
	case lit.kind == litString:
		b, _ = tableformat.ParseInet6(lit.text)
	}
	if b == nil {
		return nil, errFillUnknown
	}
	return fixedBinary(t, b)
}

// integerValue converts an integer literal, a string of digits or a
// boolean; anything the server would round, clip or parse leniently is
// errFillUnknown.
func integerValue(t tableformat.Type, lit literal) (any, error) {
	var s string
	switch lit.kind {
	case litNumber, litBool:
		s = lit.text
	case litString:
		s = lit.text
		if strings.HasPrefix(s, "+") {
			s = s[1:]
		}
	case litBytes:
		if lit.bits || len(lit.bytes) > 8 {
			return nil, errFillUnknown
		}
		var x uint64
		for _, b := range lit.bytes {
			x = x<<8 | uint64(b)
		}
		s = strconv.FormatUint(x, 10)
	default:
		return nil, errFillUnknown
	}
	body := strings.TrimPrefix(s, "-")
	if body == "" || !allDigits(body) {
		return nil, errFillUnknown
	}
	if t.Unsigned {
		if strings.HasPrefix(s, "-") {
			return nil, errFillUnknown
		}
		x, err := strconv.ParseUint(body, 10, 64)
		if err != nil {
			return nil, errFillUnknown
		}
		return x, nil
	}
	x, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, errFillUnknown
	}
	return x, nil
}

// temporalValue reads a DATE, DATETIME or TIME literal written in the form
// the server prints it; the zero date is NULL in the lake.
func temporalValue(t tableformat.Type, lit literal) (any, error) {
	if lit.kind != litString && lit.kind != litTemporal {
		return nil, errFillUnknown
	}
	s := lit.text
	var v any
	var err error
	switch t.Kind {
	case tableformat.KindDate:
		v, err = ParseDate(s)
	case tableformat.KindDatetime:
		if len(s) == 10 {
			s += " 00:00:00"
		}
		v, err = ParseDatetime(s)
	case tableformat.KindTime:
		if !strings.Contains(s, ":") || strings.Count(s, ":") != 2 {
			return nil, errFillUnknown // 'HHMMSS', 'D HH:MM': lenient forms
		}
		v, err = ParseTime(s)
	}
	switch {
	case errors.Is(err, ErrZeroDate):
		// Only the all-zero date is certain: a zero month or day in a
		// valid year depends on NO_ZERO_IN_DATE.
		if strings.Trim(strings.NewReplacer("-", "", ":", "", " ", "", ".", "").Replace(s), "0") == "" {
			return nil, nil
		}
		return nil, errFillUnknown
	case err != nil:
		return nil, errFillUnknown
	}
	return v, nil
}

// textValue is a literal as the text a character column stores, when the
// conversion keeps it: a string (ASCII, or any text for a Unicode column)
// or a plain number.
func textValue(t tableformat.Type, lit literal) (string, error) {
	switch lit.kind {
	case litString:
		s := lit.text
		if !utf8.ValidString(s) {
			return "", errFillUnknown
		}
		if !isASCII(s) && t.Charset != "utf8mb4" && t.Charset != "utf8mb3" {
			return "", errFillUnknown // converted to another charset
		}
		return s, nil
	case litNumber:
		if body := strings.TrimPrefix(lit.text, "-"); body != "" && allDigits(body) {
			return lit.text, nil
		}
	}
	return "", errFillUnknown
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// declaredLength is the length a CHAR, VARCHAR, VARBINARY column was
// declared with (characters, or bytes for binary types); false for types
// without one.
func declaredLength(t tableformat.Type) (int, bool) {
	switch t.Kind {
	case tableformat.KindChar, tableformat.KindVarchar, tableformat.KindVarbinary:
	default:
		return 0, false
	}
	_, args, _, err := splitColumnType(t.SQL)
	if err != nil || len(args) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(args[0])
	return n, err == nil
}
