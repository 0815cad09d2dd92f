package mysql

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// allTypesColumns covers every type of docs/types.md. id is the key.
func allTypesColumns() [][2]string {
	return [][2]string{
		{"id", "INT NOT NULL PRIMARY KEY"},
		{"ti", "TINYINT"}, {"tiu", "TINYINT UNSIGNED"},
		{"si", "SMALLINT"}, {"siu", "SMALLINT UNSIGNED"},
		{"mi", "MEDIUMINT"}, {"miu", "MEDIUMINT UNSIGNED"},
		{"i", "INT"}, {"iu", "INT UNSIGNED"},
		{"bi", "BIGINT"}, {"biu", "BIGINT UNSIGNED"},
		{"zf", "INT(8) UNSIGNED ZEROFILL"},
		{"d65", "DECIMAL(65,30)"}, {"d50", "DECIMAL(5,0)"}, {"d102", "DECIMAL(10,2) ZEROFILL"},
		{"f", "FLOAT"}, {"db", "DOUBLE"},
		{"dt", "DATE"}, {"y", "YEAR"},
		{"dtm", "DATETIME(6)"}, {"ts", "TIMESTAMP(6) NULL DEFAULT NULL"},
		{"tm", "TIME(6)"}, {"tm0", "TIME"},
		{"c", "CHAR(10) CHARACTER SET utf8mb4"}, {"vc", "VARCHAR(50) CHARACTER SET utf8mb4"},
		{"tx", "TEXT CHARACTER SET utf8mb4"},
		{"cl", "CHAR(5) CHARACTER SET latin1"}, {"vl", "VARCHAR(20) CHARACTER SET latin1"},
		{"tl", "TEXT CHARACTER SET latin1"},
		{"bn", "BINARY(16)"}, {"vb", "VARBINARY(300)"}, {"bl", "BLOB"},
		{"b1", "BIT(1)"}, {"b64", "BIT(64)"},
		{"e", `ENUM('a,b','it''s','"q"','x')`}, {"st", "SET('a','b','c','d')"},
		{"j", "JSON"}, {"g", "POINT"},
	}
}

// cell is one value of a test row: the SQL literal and the decoded value.
type cell struct {
	sql  string
	want any
}

func c(sql string, want any) cell { return cell{sql, want} }

func day(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// micros parses a UTC wall clock with the standard library, independently of
// ParseDatetime.
func micros(s string, offset time.Duration) int64 {
	tt, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return tt.Add(-offset).UnixMicro()
}

func point(x, y float64) []byte {
	b := make([]byte, 25)
	b[4] = 1                                // little-endian WKB
	binary.LittleEndian.PutUint32(b[5:], 1) // point
	binary.LittleEndian.PutUint64(b[9:], math.Float64bits(x))
	binary.LittleEndian.PutUint64(b[17:], math.Float64bits(y))
	return b // SRID 0, then WKB
}

func allBytes(reverse bool) ([]byte, string) {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
		if reverse {
			b[i] = byte(255 - i)
		}
	}
	return b, "X'" + hex.EncodeToString(b) + "'"
}

// insertZone is the session time zone of the inserts: TIMESTAMP literals
// are in it, the lake holds the UTC instant.
const insertZone = 5*time.Hour + 30*time.Minute

func allTypesRows() []map[string]cell {
	ascending, ascSQL := allBytes(false)
	descending, descSQL := allBytes(true)
	nines35 := strings.Repeat("9", 35) + "." + strings.Repeat("9", 30)
	long := strings.Repeat("ab😀ç", 500)
	return []map[string]cell{
		{ // maxima
			"id": c("1", int64(1)),
			"ti": c("127", int64(127)), "tiu": c("255", uint64(255)),
			"si": c("32767", int64(32767)), "siu": c("65535", uint64(65535)),
			"mi": c("8388607", int64(8388607)), "miu": c("16777215", uint64(16777215)),
			"i": c("2147483647", int64(math.MaxInt32)), "iu": c("4294967295", uint64(math.MaxUint32)),
			"bi": c("9223372036854775807", int64(math.MaxInt64)), "biu": c("18446744073709551615", uint64(math.MaxUint64)),
			"zf":  c("42", uint64(42)),
			"d65": c(nines35, nines35), "d50": c("99999", "99999"), "d102": c("12345678.9", "12345678.90"),
			"f": c("3.402823466e38", float32(math.MaxFloat32)), "db": c("1.7976931348623157e308", math.MaxFloat64),
			"dt": c("'9999-12-31'", day(9999, 12, 31)), "y": c("2155", int64(2155)),
			"dtm": c("'9999-12-31 23:59:59.999999'", micros("9999-12-31 23:59:59.999999", 0)),
			"ts":  c("'2038-01-19 08:44:07.999999'", micros("2038-01-19 03:14:07.999999", 0)),
			"tm":  c("'838:59:59.000000'", int64(maxTimeMicros)), "tm0": c("'838:59:59'", int64(maxTimeMicros)),
			"c": c("'😀é'", "😀é"), "vc": c("'héllo 😀 wörld'", "héllo 😀 wörld"), "tx": c("'"+long+"'", long),
			"cl": c("'Ünï'", "Ünï"), "vl": c("'€…ÿ½'", "€…ÿ½"), "tl": c("'Grüße ½'", "Grüße ½"),
			"bn": c("X'00112233445566778899AABBCCDDEE00'", []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0}),
			"vb": c(ascSQL, ascending), "bl": c(descSQL, descending),
			"b1": c("b'1'", uint64(1)), "b64": c("0xFFFFFFFFFFFFFFFF", uint64(math.MaxUint64)),
			"e": c("'a,b'", "a,b"), "st": c("'d,a'", "a,d"),
			"j": c(`'{"a": [1, 2.5, "x"], "b": null}'`, `{"a": [1, 2.5, "x"], "b": null}`),
			"g": c("POINT(1, 2)", point(1, 2)),
		},
		{ // minima
			"id": c("2", int64(2)),
			"ti": c("-128", int64(-128)), "tiu": c("0", uint64(0)),
			"si": c("-32768", int64(-32768)), "siu": c("0", uint64(0)),
			"mi": c("-8388608", int64(-8388608)), "miu": c("0", uint64(0)),
			"i": c("-2147483648", int64(math.MinInt32)), "iu": c("0", uint64(0)),
			"bi": c("-9223372036854775808", int64(math.MinInt64)), "biu": c("0", uint64(0)),
			"zf":  c("0", uint64(0)),
			"d65": c("-"+nines35, "-"+nines35), "d50": c("-99999", "-99999"), "d102": c("0.01", "0.01"),
			"f": c("-1.17549435e-38", float32(-1.17549435e-38)), "db": c("-2.2250738585072014e-308", -2.2250738585072014e-308),
			"dt": c("'1000-01-01'", day(1000, 1, 1)), "y": c("1901", int64(1901)),
			"dtm": c("'1000-01-01 00:00:00.000000'", micros("1000-01-01 00:00:00", 0)),
			"ts":  c("'1970-01-01 05:30:01'", int64(1_000_000)),
			"tm":  c("'-838:59:59.000000'", int64(-maxTimeMicros)), "tm0": c("'-838:59:59'", int64(-maxTimeMicros)),
			"c": c("''", ""), "vc": c("''", ""), "tx": c("''", ""),
			"cl": c("'a'", "a"), "vl": c("''", ""), "tl": c("''", ""),
			"bn": c("X'01'", append([]byte{1}, make([]byte, 15)...)),
			"vb": c("X''", []byte{}), "bl": c("X''", []byte{}),
			"b1": c("b'0'", uint64(0)), "b64": c("0", uint64(0)),
			"e": c(`'it''s'`, "it's"), "st": c("''", ""),
			"j": c("'[]'", "[]"),
			"g": c("POINT(-1.5, 1e300)", point(-1.5, 1e300)),
		},
		{"id": c("3", int64(3))}, // every other column NULL
		{ // zero dates and odd values
			"id": c("4", int64(4)),
			"ti": c("0", int64(0)), "biu": c("1", uint64(1)), "zf": c("4294967295", uint64(math.MaxUint32)),
			"d65": c("0", "0."+strings.Repeat("0", 30)), "d50": c("0", "0"), "d102": c("0", "0.00"),
			"f": c("0.1", float32(0.1)), "db": c("0.30000000000000004e0", 0.30000000000000004),
			"dt": c("'0000-00-00'", nil), "y": c("0", int64(0)),
			"dtm": c("'0000-00-00 00:00:00'", nil), "ts": c("'0000-00-00 00:00:00'", nil),
			"tm": c("'-00:00:00.5'", int64(-500_000)), "tm0": c("'100:00:00'", int64(100*3600*1_000_000)),
			"c": c("'a b  '", "a b"), "vc": c("'trailing  '", "trailing  "), "tx": c(`'"quoted" \\ back'`, `"quoted" \ back`),
			"cl": c("'ÿ'", "ÿ"), "vl": c("'x'", "x"), "tl": c("'€'", "€"),
			"bn": c("X'00000000000000000000000000000000'", make([]byte, 16)),
			"vb": c("X'000000'", []byte{0, 0, 0}), "bl": c("X'00'", []byte{0}),
			"b1": c("1", uint64(1)), "b64": c("0x8000000000000000", uint64(1)<<63),
			"e": c(`'"q"'`, `"q"`), "st": c("'a,b,c,d'", "a,b,c,d"),
			"j": c(`'  {"k" : "v"}  '`, `  {"k" : "v"}  `),
		},
		{ // invalid dates, small times
			"id": c("5", int64(5)),
			"dt": c("'2020-00-00'", nil), "dtm": c("'2020-01-00 10:00:00'", nil),
			"tm": c("'-00:00:00.000001'", int64(-1)), "tm0": c("'-1:00:00'", int64(-3600*1_000_000)),
			"bn": c("''", make([]byte, 16)),
		},
	}
}

const allTypesZeroDates = 5 // row 4: dt, dtm, ts; row 5: dt, dtm

// TestTypesAgainstMariaDB inserts every type with its extremes and checks
// that the binlog path and the snapshot path decode them to the same,
// expected values, and that the table format stores them.
func TestTypesAgainstMariaDB(t *testing.T) {
	// The process's zone must not leak into any value.
	saved := time.Local
	time.Local = time.FixedZone("PST8", -8*3600)
	t.Cleanup(func() { time.Local = saved })

	m := testenv.StartMariaDB(t)
	root := rootConn(t, m)
	defs := make([]string, len(allTypesColumns()))
	names := make([]string, len(allTypesColumns()))
	for i, cd := range allTypesColumns() {
		defs[i] = QuoteIdent(cd[0]) + " " + cd[1]
		names[i] = cd[0]
	}
	execAll(t, root, "CREATE DATABASE types",
		"CREATE TABLE types.t ("+strings.Join(defs, ", ")+")",
		"SET SESSION sql_mode = ''",
		fmt.Sprintf("SET SESSION time_zone = '+%02d:%02d'", int(insertZone.Hours()), int(insertZone.Minutes())%60))

	rows := allTypesRows()
	want := make([][]any, len(rows))
	start := masterPos(t, root)
	for r, row := range rows {
		var cols, vals []string
		want[r] = make([]any, len(names))
		for i, n := range names {
			if cl, ok := row[n]; ok {
				cols = append(cols, QuoteIdent(n))
				vals = append(vals, cl.sql)
				want[r][i] = cl.want
			}
		}
		execAll(t, root, fmt.Sprintf("INSERT INTO types.t (%s) VALUES (%s)", strings.Join(cols, ", "), strings.Join(vals, ", ")))
	}
	end := masterPos(t, root)

	events := readBinlog(t, m, start, end)
	if len(events) != len(rows) {
		t.Fatalf("binlog has %d row events, want %d", len(events), len(rows))
	}
	cols, key := checkTableMap(t, events[0].table)

	var fromBinlog [][]any
	zeroBinlog := 0
	for _, ev := range events {
		for _, raw := range ev.rows {
			row, zeros, err := decodeBinlogRow(cols, raw)
			if err != nil {
				t.Fatalf("binlog row %d: %v", len(fromBinlog)+1, err)
			}
			zeroBinlog += zeros
			fromBinlog = append(fromBinlog, row)
		}
	}
	// New sessions default to a zone other than UTC: only the snapshot
	// session's own setting may make TIMESTAMP text UTC.
	execAll(t, root, "SET GLOBAL time_zone = '-07:00'")
	fromSnapshot, zeroSnapshot := readSnapshot(t, m, "types", "t", cols, "id")

	if zeroBinlog != allTypesZeroDates || zeroSnapshot != allTypesZeroDates {
		t.Errorf("zero dates: binlog %d, snapshot %d, want %d", zeroBinlog, zeroSnapshot, allTypesZeroDates)
	}
	compareRows(t, "binlog", fromBinlog, want, cols)
	compareRows(t, "snapshot", fromSnapshot, want, cols)
	compareRows(t, "snapshot vs binlog", fromSnapshot, fromBinlog, cols)
	roundTrip(t, schemaOf(cols, key), fromBinlog)
}

// checkTableMap checks what ColumnsFromTableMap derives for the all-types
// table, and marks the JSON column as JSON (MariaDB logs JSON as LONGTEXT:
// schema history knows it from the DDL).
func checkTableMap(t *testing.T, tm *replication.TableMapEvent) ([]TableColumn, []int) {
	t.Helper()
	cols, key, err := ColumnsFromTableMap(tm)
	if err != nil {
		t.Fatalf("columns from table map: %v", err)
	}
	if len(cols) != len(allTypesColumns()) {
		t.Fatalf("table map has %d columns, want %d", len(cols), len(allTypesColumns()))
	}
	if !slices.Equal(key, []int{0}) {
		t.Errorf("primary key = %v, want [0]", key)
	}
	byName := map[string]TableColumn{}
	for i, col := range cols {
		if col.Name != allTypesColumns()[i][0] {
			t.Errorf("column %d is %q, want %q", i, col.Name, allTypesColumns()[i][0])
		}
		if col.Nullable != (i != 0) {
			t.Errorf("column %q nullable = %v", col.Name, col.Nullable)
		}
		byName[col.Name] = col
	}
	for name, wantType := range map[string]tableformat.Type{
		"tiu":  {Kind: tableformat.KindTinyInt, Unsigned: true, SQL: "tinyint unsigned"},
		"mi":   {Kind: tableformat.KindMediumInt, SQL: "mediumint"},
		"biu":  {Kind: tableformat.KindBigInt, Unsigned: true, SQL: "bigint unsigned"},
		"zf":   {Kind: tableformat.KindInt, Unsigned: true, SQL: "int unsigned"},
		"d65":  {Kind: tableformat.KindDecimal, Precision: 65, Scale: 30, SQL: "decimal(65,30)"},
		"d102": {Kind: tableformat.KindDecimal, Unsigned: true, Precision: 10, Scale: 2, SQL: "decimal(10,2) unsigned"},
		"f":    {Kind: tableformat.KindFloat, SQL: "float"},
		"dt":   {Kind: tableformat.KindDate, SQL: "date"},
		"y":    {Kind: tableformat.KindYear, SQL: "year(4)"},
		"dtm":  {Kind: tableformat.KindDatetime, FSP: 6, SQL: "datetime(6)"},
		"ts":   {Kind: tableformat.KindTimestamp, FSP: 6, SQL: "timestamp(6)"},
		"tm0":  {Kind: tableformat.KindTime, SQL: "time"},
		"c":    {Kind: tableformat.KindChar, Length: 10, Charset: "utf8mb4", SQL: "char(10)"},
		"vc":   {Kind: tableformat.KindVarchar, Charset: "utf8mb4", SQL: "varchar(50)"},
		"tx":   {Kind: tableformat.KindText, Charset: "utf8mb4", SQL: "text"},
		"cl":   {Kind: tableformat.KindChar, Length: 5, Charset: "latin1", SQL: "char(5)"},
		"tl":   {Kind: tableformat.KindText, Charset: "latin1", SQL: "text"},
		"bn":   {Kind: tableformat.KindBinary, Length: 16, SQL: "binary(16)"},
		"vb":   {Kind: tableformat.KindVarbinary, SQL: "varbinary(300)"},
		"bl":   {Kind: tableformat.KindBlob, SQL: "blob"},
		"b1":   {Kind: tableformat.KindBit, Length: 1, SQL: "bit(1)"},
		"b64":  {Kind: tableformat.KindBit, Length: 64, SQL: "bit(64)"},
		"e":    {Kind: tableformat.KindEnum, Elems: []string{"a,b", "it's", `"q"`, "x"}, Charset: "utf8mb4", SQL: `enum('a,b','it''s','"q"','x')`},
		"st":   {Kind: tableformat.KindSet, Elems: []string{"a", "b", "c", "d"}, Charset: "utf8mb4", SQL: "set('a','b','c','d')"},
		"j":    {Kind: tableformat.KindText, Charset: "utf8mb4", SQL: "longtext"},
		"g":    {Kind: tableformat.KindGeometry, SQL: "geometry"},
	} {
		if got := byName[name].Type; !typesEqual(got, wantType) {
			t.Errorf("column %q: type %+v, want %+v", name, got, wantType)
		}
	}
	for i := range cols {
		if cols[i].Name == "j" {
			cols[i].Type.Kind, cols[i].Type.SQL = tableformat.KindJSON, "json"
		}
	}
	return cols, key
}

func typesEqual(a, b tableformat.Type) bool {
	return a.Kind == b.Kind && a.Unsigned == b.Unsigned && a.Precision == b.Precision && a.Scale == b.Scale &&
		a.FSP == b.FSP && a.Length == b.Length && slices.Equal(a.Elems, b.Elems) && a.Charset == b.Charset && a.SQL == b.SQL
}

func compareRows(t *testing.T, what string, got, want [][]any, cols []TableColumn) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
		return
	}
	for r := range got {
		for i, col := range cols {
			if !equalValue(got[r][i], want[r][i]) {
				t.Errorf("%s: row %d column %q (%s) = %s, want %s", what, r+1, col.Name, col.Type, show(got[r][i]), show(want[r][i]))
			}
		}
	}
}

func show(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}
