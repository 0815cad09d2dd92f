package render_test

import (
	"bytes"
	"context"
	"database/sql"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/binlake/binlake/query/render"
)

// TestFormatValue: every kind of value DuckDB hands back prints as
// docs/query.md says, as text and as JSON.
func TestFormatValue(t *testing.T) {
	hugeint, _ := new(big.Int).SetString("-170141183460469231731687303715884105728", 10)
	at := time.Date(2023, 11, 14, 22, 13, 20, 123_000_000, time.UTC)
	uuid := []byte{0x6c, 0xcd, 0x78, 0x0c, 0xba, 0xba, 0x10, 0x26, 0x95, 0x64, 0x5b, 0x8c, 0x65, 0x60, 0x24, 0xdb}
	cases := []struct {
		name     string
		v        any
		dbType   string
		text     string
		json     string
		wantNull bool
	}{
		{"null", nil, "INTEGER", "NULL", "null", true},
		{"bool", true, "BOOLEAN", "true", "true", false},
		{"tinyint", int8(-128), "TINYINT", "-128", "-128", false},
		{"ubigint", uint64(math.MaxUint64), "UBIGINT", "18446744073709551615", "18446744073709551615", false},
		{"hugeint", hugeint, "HUGEINT", hugeint.String(), hugeint.String(), false},
		{"float", float32(1.5), "FLOAT", "1.5", "1.5", false},
		{"double", 0.1, "DOUBLE", "0.1", "0.1", false},
		{"double exponent", 1e300, "DOUBLE", "1e+300", "1e+300", false},
		{"infinity", math.Inf(-1), "DOUBLE", "-Inf", `"-Inf"`, false},
		{"nan", math.NaN(), "DOUBLE", "NaN", `"NaN"`, false},
		{"decimal", duckdb.Decimal{Width: 10, Scale: 2, Value: big.NewInt(1250)}, "DECIMAL(10,2)", "12.50", "12.50", false},
		{"decimal zero keeps its scale", duckdb.Decimal{Width: 10, Scale: 2, Value: big.NewInt(0)}, "DECIMAL(10,2)", "0.00", "0.00", false},
		{"decimal below one", duckdb.Decimal{Width: 38, Scale: 30, Value: big.NewInt(-1)}, "DECIMAL(38,30)",
			"-0.000000000000000000000000000001", "-0.000000000000000000000000000001", false},
		{"decimal without scale", duckdb.Decimal{Width: 5, Value: big.NewInt(-42)}, "DECIMAL(5,0)", "-42", "-42", false},
		{"varchar", "a,\"b\"\nc", "VARCHAR", "a,\"b\"\nc", `"a,\"b\"\nc"`, false},
		{"varchar not UTF-8", "a\xffb", "VARCHAR", "a\xffb", "\"a\uFFFDb\"", false},
		{"blob", []byte{0, 1, 0xff}, "BLOB", `\x0001ff`, `"AAH/"`, false},
		{"uuid", uuid, "UUID", "6ccd780c-baba-1026-9564-5b8c656024db", `"6ccd780c-baba-1026-9564-5b8c656024db"`, false},
		{"16 bytes of blob", uuid, "BLOB", `\x6ccd780cbaba102695645b8c656024db`, `"bM14DLq6ECaVZFuMZWAk2w=="`, false},
		{"date", time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), "DATE", "1000-01-01", `"1000-01-01"`, false},
		{"time", time.Date(1, 1, 1, 12, 34, 56, 500_000_000, time.UTC), "TIME", "12:34:56.5", `"12:34:56.5"`, false},
		{"timestamp", at, "TIMESTAMP", "2023-11-14T22:13:20.123", `"2023-11-14T22:13:20.123"`, false},
		{"timestamptz in UTC", at.In(time.FixedZone("+02", 7200)), "TIMESTAMPTZ", "2023-11-14T22:13:20.123Z", `"2023-11-14T22:13:20.123Z"`, false},
		{"timestamp with time zone", at, "TIMESTAMP WITH TIME ZONE", "2023-11-14T22:13:20.123Z", `"2023-11-14T22:13:20.123Z"`, false},
		{"mysql time past a day", duckdb.Interval{Micros: -3_020_399_000_000}, "INTERVAL", "-838:59:59", `"-838:59:59"`, false},
		{"mysql time fraction", duckdb.Interval{Micros: 1_500_000}, "INTERVAL", "00:00:01.5", `"00:00:01.5"`, false},
		{"interval of months and days", duckdb.Interval{Months: 2, Days: 3, Micros: 3_600_000_001}, "INTERVAL",
			"2 months 3 days 01:00:00.000001", `"2 months 3 days 01:00:00.000001"`, false},
		{"struct", map[string]any{"a": int32(1), "b": []any{"x"}}, "STRUCT(a INTEGER, b VARCHAR[])", `{"a":1,"b":["x"]}`, `{"a":1,"b":["x"]}`, false},
	}
	for _, c := range cases {
		got := render.FormatValue(c.v, c.dbType)
		if got.Text != c.text || got.JSON != c.json || got.Null != c.wantNull {
			t.Errorf("%s: %+v, want text %q, json %s, null %v", c.name, got, c.text, c.json, c.wantNull)
		}
	}
}

// write prints a header and rows of values, formatted by FormatValue, in
// format.
func write(t *testing.T, format string, cols []string, rows [][]any) string {
	t.Helper()
	var out bytes.Buffer
	w, err := render.NewWriter(format, &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Header(cols); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		vals := make([]render.Value, len(r))
		for i, v := range r {
			vals[i] = render.FormatValue(v, "VARCHAR")
		}
		if err := w.Row(vals); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestWriters: csv quotes what needs it and tells NULL (an empty field)
// from the empty string (""); json writes one object per row; table aligns
// the columns by characters, shows control characters escaped and counts
// the rows; an unknown format is refused, no format is table.
func TestWriters(t *testing.T) {
	cols := []string{"id", "note"}
	rows := [][]any{{int64(1), "a,b"}, {int64(2), ""}, {int64(3), nil}, {int64(4), "x\ny\t\"q\""}, {int64(5), "äöüäöüäöüä"}}
	for _, c := range []struct{ format, want string }{
		{render.FormatCSV, "id,note\n1,\"a,b\"\n2,\"\"\n3,\n4,\"x\ny\t\"\"q\"\"\"\n5,äöüäöüäöüä\n"},
		{render.FormatJSON, `{"id":1,"note":"a,b"}` + "\n" + `{"id":2,"note":""}` + "\n" + `{"id":3,"note":null}` + "\n" +
			`{"id":4,"note":"x\ny\t\"q\""}` + "\n" + `{"id":5,"note":"äöüäöüäöüä"}` + "\n"},
		{render.FormatTable, "id | note\n" +
			"---+-----------\n" +
			"1  | a,b\n" +
			"2  | \n" +
			"3  | NULL\n" +
			`4  | x\ny\t"q"` + "\n" +
			"5  | äöüäöüäöüä\n" +
			"(5 rows)\n"},
		{"", "id | note\n---+-----\n1  | a,b\n(1 row)\n"},
	} {
		in := rows
		if c.format == "" {
			in = rows[:1]
		}
		if got := write(t, c.format, cols, in); got != c.want {
			t.Errorf("format %q:\n%s\nwant:\n%s", c.format, got, c.want)
		}
	}
	if _, err := render.NewWriter("xml", &bytes.Buffer{}); err == nil || err.Error() != `format "xml": use table, csv or json` {
		t.Errorf("format xml: %v", err)
	}
}

// TestWriteRows: rows of a real DuckDB result print with their database
// types (a TIMESTAMPTZ in UTC with Z, DuckDB's own TIME, INTERVAL and
// UUID); at most maxRows of them, saying whether rows were left.
func TestWriteRows(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	const q = `SELECT i AS n, i * 1.5::DECIMAL(4,1) AS d, TIMESTAMPTZ '2026-01-02 03:04:05.25+02' AS ts, TIME '12:34:56' AS t,
		INTERVAL 90 MINUTE AS iv, UUID '6ccd780c-baba-1026-9564-5b8c656024db' AS u FROM range(3) r(i) ORDER BY i`
	row := func(n, d string) string {
		return n + "," + d + ",2026-01-02T01:04:05.25Z,12:34:56,01:30:00,6ccd780c-baba-1026-9564-5b8c656024db\n"
	}
	all := "n,d,ts,t,iv,u\n" + row("0", "0.0") + row("1", "1.5") + row("2", "3.0")
	for _, c := range []struct {
		maxRows   int64
		n         int64
		truncated bool
		want      string
	}{
		{0, 3, false, all},
		{3, 3, false, all},
		{2, 2, true, all[:strings.LastIndex(strings.TrimSuffix(all, "\n"), "\n")+1]},
	} {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		w, err := render.NewWriter(render.FormatCSV, &out)
		if err != nil {
			t.Fatal(err)
		}
		n, truncated, err := render.WriteRows(rows, w, c.maxRows)
		rows.Close()
		if err != nil || n != c.n || truncated != c.truncated || out.String() != c.want {
			t.Errorf("max %d rows: %d rows, truncated %v, %v:\n%s\nwant %d rows, truncated %v:\n%s",
				c.maxRows, n, truncated, err, out.String(), c.n, c.truncated, c.want)
		}
	}
}
