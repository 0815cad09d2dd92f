package render

import (
	"bufio"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"
)

// Output formats (docs/query.md, Output). Values print the same way in every format
// (docs/query.md): decimals with exactly their scale, times in RFC 3339
// (TIMESTAMP without a zone, TIMESTAMPTZ in UTC with Z), TIME columns as
// [-]HH:MM:SS[.ffffff] never wrapped at 24 h, BLOBs as \x and lower-case hex
// (base64 in JSON), JSON columns as the source's text.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
)

// Writer writes a result's rows in one format.
type Writer interface {
	Header(cols []string) error
	Row(vals []Value) error
	Flush() error
}

// Value is one formatted value: Text is its text form; Null marks SQL NULL;
// JSON is its JSON encoding.
type Value struct {
	Text string
	Null bool
	JSON string
}

// NewWriter returns a writer of format to w.
func NewWriter(format string, w io.Writer) (Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case FormatCSV:
		return &csvWriter{w: bw}, nil
	case FormatJSON:
		return &jsonWriter{w: bw}, nil
	case FormatTable, "":
		return &tableWriter{w: bw, escapes: strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`)}, nil
	}
	return nil, fmt.Errorf("format %q: use table, csv or json", format)
}

// WriteRows formats every row of rows with w, at most maxRows of them (0:
// no limit), and reports how many it wrote and whether rows were left.
func WriteRows(rows *sql.Rows, w Writer, maxRows int64) (n int64, truncated bool, err error) {
	cols, err := rows.ColumnTypes()
	if err != nil {
		return 0, false, err
	}
	names := make([]string, len(cols))
	types := make([]string, len(cols))
	for i, c := range cols {
		names[i], types[i] = c.Name(), c.DatabaseTypeName()
	}
	if err := w.Header(names); err != nil {
		return 0, false, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := make([]Value, len(cols))
	for rows.Next() {
		if maxRows > 0 && n == maxRows {
			truncated = true
			break
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, false, err
		}
		for i, v := range vals {
			out[i] = FormatValue(v, types[i])
		}
		if err := w.Row(out); err != nil {
			return n, false, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, truncated, err
	}
	return n, truncated, w.Flush()
}

// FormatValue formats one scanned DuckDB value of the given database type.
func FormatValue(v any, dbType string) Value {
	text := func(s string) Value { return Value{Text: s, JSON: jsonString(s)} }
	num := func(s string) Value { return Value{Text: s, JSON: s} }
	switch x := v.(type) {
	case nil:
		return Value{Null: true, Text: "NULL", JSON: "null"}
	case bool:
		return num(strconv.FormatBool(x))
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return num(fmt.Sprint(x))
	case *big.Int:
		return num(x.String())
	case float32:
		return floatValue(float64(x), 32)
	case float64:
		return floatValue(x, 64)
	case duckdb.Decimal:
		return num(formatDecimal(x.Value, int(x.Scale)))
	case string:
		return text(x)
	case []byte:
		if dbType == "UUID" && len(x) == 16 {
			return text(fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]))
		}
		return Value{Text: `\x` + hex.EncodeToString(x), JSON: jsonString(base64.StdEncoding.EncodeToString(x))}
	case time.Time:
		return text(formatTime(x, dbType))
	case duckdb.Interval:
		return text(formatInterval(x))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return text(fmt.Sprint(v))
	}
	return Value{Text: string(b), JSON: string(b)}
}

func floatValue(f float64, bits int) Value {
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return Value{Text: s, JSON: jsonString(s)}
	}
	return Value{Text: s, JSON: s}
}

// formatDecimal prints an unscaled value with exactly scale fraction digits.
func formatDecimal(v *big.Int, scale int) string {
	if v == nil {
		return "0"
	}
	neg := v.Sign() < 0
	digits := new(big.Int).Abs(v).String()
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

func formatTime(t time.Time, dbType string) string {
	t = t.UTC()
	switch dbType {
	case "DATE":
		return t.Format("2006-01-02")
	case "TIME":
		return t.Format("15:04:05.999999")
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return t.Format("2006-01-02T15:04:05.999999Z")
	}
	return t.Format("2006-01-02T15:04:05.999999")
}

// formatInterval prints a MySQL TIME ([-]HH:MM:SS[.ffffff], hours past 24
// kept); intervals with months or days (from SQL expressions) say so first.
func formatInterval(iv duckdb.Interval) string {
	var b strings.Builder
	if iv.Months != 0 {
		fmt.Fprintf(&b, "%d months ", iv.Months)
	}
	if iv.Days != 0 {
		fmt.Fprintf(&b, "%d days ", iv.Days)
	}
	us := iv.Micros
	if us < 0 {
		b.WriteByte('-')
		us = -us
	}
	fmt.Fprintf(&b, "%02d:%02d:%02d", us/3_600_000_000, us/60_000_000%60, us/1_000_000%60)
	if frac := us % 1_000_000; frac != 0 {
		b.WriteString(strings.TrimRight(fmt.Sprintf(".%06d", frac), "0"))
	}
	return b.String()
}

func jsonString(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// csvWriter writes RFC 4180 with \n line ends: a header line, rows separated by
// \n, fields quoted when they hold a comma, quote, CR or LF, or are empty
// strings (an empty unquoted field is NULL).
type csvWriter struct{ w *bufio.Writer }

func (c *csvWriter) Header(cols []string) error {
	vals := make([]Value, len(cols))
	for i, n := range cols {
		vals[i] = Value{Text: n}
	}
	return c.Row(vals)
}

func (c *csvWriter) Row(vals []Value) error {
	for i, v := range vals {
		if i > 0 {
			c.w.WriteByte(',')
		}
		switch {
		case v.Null:
		case v.Text == "" || strings.ContainsAny(v.Text, ",\"\r\n"):
			c.w.WriteByte('"')
			c.w.WriteString(strings.ReplaceAll(v.Text, `"`, `""`))
			c.w.WriteByte('"')
		default:
			c.w.WriteString(v.Text)
		}
	}
	return c.w.WriteByte('\n')
}

func (c *csvWriter) Flush() error { return c.w.Flush() }

// jsonWriter writes one JSON object per row.
type jsonWriter struct {
	w    *bufio.Writer
	keys []string
}

func (j *jsonWriter) Header(cols []string) error {
	j.keys = make([]string, len(cols))
	for i, c := range cols {
		j.keys[i] = jsonString(c)
	}
	return nil
}

func (j *jsonWriter) Row(vals []Value) error {
	j.w.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			j.w.WriteByte(',')
		}
		j.w.WriteString(j.keys[i])
		j.w.WriteByte(':')
		j.w.WriteString(v.JSON)
	}
	j.w.WriteString("}\n")
	return nil
}

func (j *jsonWriter) Flush() error { return j.w.Flush() }

// tableWriter aligns columns for a terminal. It holds the rows until
// Flush, so use it for results a person reads.
type tableWriter struct {
	w       *bufio.Writer
	cols    []string
	rows    [][]string
	escapes *strings.Replacer // control characters that would break the layout
}

func (t *tableWriter) Header(cols []string) error { t.cols = cols; return nil }

func (t *tableWriter) Row(vals []Value) error {
	r := make([]string, len(vals))
	for i, v := range vals {
		r[i] = t.escapes.Replace(v.Text)
	}
	t.rows = append(t.rows, r)
	return nil
}

func (t *tableWriter) Flush() error {
	width := make([]int, len(t.cols))
	for i, c := range t.cols {
		width[i] = utf8.RuneCountInString(c)
	}
	for _, r := range t.rows {
		for i, v := range r {
			width[i] = max(width[i], utf8.RuneCountInString(v))
		}
	}
	line := func(vals []string) {
		for i, v := range vals {
			if i > 0 {
				t.w.WriteString(" | ")
			}
			t.w.WriteString(v)
			if i < len(vals)-1 {
				t.w.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(v)))
			}
		}
		t.w.WriteByte('\n')
	}
	line(t.cols)
	sep := make([]string, len(t.cols))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	t.w.WriteString(strings.Join(sep, "-+-") + "\n")
	for _, r := range t.rows {
		line(r)
	}
	fmt.Fprintf(t.w, "(%d row%s)\n", len(t.rows), map[bool]string{true: "", false: "s"}[len(t.rows) == 1])
	t.rows = nil
	return t.w.Flush()
}
