package query_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/binlake/binlake/tableformat"
)

// TestParquetCompat writes a delta file with every column type binlake maps
// (docs/types.md) and checks that DuckDB's read_parquet sees the intended types
// and the exact values: the regression test of the physical format in
// tableformat/FORMAT.md.
func TestParquetCompat(t *testing.T) {
	type col struct {
		typ       tableformat.Type
		duckType  string // DESCRIBE's column_type
		hi, lo    any    // two values written, rows 1 and 2 (row 3 is all NULL)
		hiT, loT  string // CAST(col AS VARCHAR) in DuckDB (TimeZone=UTC)
		parquetLT string // a substring of parquet_schema's logical_type, "" for none (DuckDB 1.5 prints IntType's bit width as a raw byte, so integers are checked for signedness; DESCRIBE checks their width)
	}
	k := func(kind tableformat.TypeKind) tableformat.Type { return tableformat.Type{Kind: kind} }
	u := func(kind tableformat.TypeKind) tableformat.Type { return tableformat.Type{Kind: kind, Unsigned: true} }
	dec := func(p, s int) tableformat.Type {
		return tableformat.Type{Kind: tableformat.KindDecimal, Precision: p, Scale: s}
	}
	fsp := func(kind tableformat.TypeKind, f int) tableformat.Type { return tableformat.Type{Kind: kind, FSP: f} }
	cols := []col{
		{k(tableformat.KindTinyInt), "TINYINT", int64(127), int64(-128), "127", "-128", "isSigned=1"},
		{u(tableformat.KindTinyInt), "UTINYINT", uint64(255), uint64(0), "255", "0", "isSigned=0"},
		{k(tableformat.KindSmallInt), "SMALLINT", int64(32767), int64(-32768), "32767", "-32768", "isSigned=1"},
		{u(tableformat.KindSmallInt), "USMALLINT", uint64(65535), uint64(0), "65535", "0", "isSigned=0"},
		{k(tableformat.KindMediumInt), "INTEGER", int64(8388607), int64(-8388608), "8388607", "-8388608", "isSigned=1"},
		{u(tableformat.KindMediumInt), "UINTEGER", uint64(16777215), uint64(0), "16777215", "0", "isSigned=0"},
		{k(tableformat.KindInt), "INTEGER", int64(2147483647), int64(-2147483648), "2147483647", "-2147483648", "isSigned=1"},
		{u(tableformat.KindInt), "UINTEGER", uint64(4294967295), uint64(0), "4294967295", "0", "isSigned=0"},
		{k(tableformat.KindBigInt), "BIGINT", int64(9223372036854775807), int64(-9223372036854775808), "9223372036854775807", "-9223372036854775808", "isSigned=1"},
		{u(tableformat.KindBigInt), "UBIGINT", uint64(18446744073709551615), uint64(0), "18446744073709551615", "0", "isSigned=0"},
		{dec(5, 0), "DECIMAL(5,0)", "99999", "-99999", "99999", "-99999", "DecimalType(scale=0, precision=5)"},
		{dec(9, 2), "DECIMAL(9,2)", "9999999.99", "-9999999.99", "9999999.99", "-9999999.99", "precision=9"},
		{dec(18, 4), "DECIMAL(18,4)", "99999999999999.9999", "-0.0001", "99999999999999.9999", "-0.0001", "precision=18"},
		{dec(20, 2), "DECIMAL(20,2)", "999999999999999999.99", "-999999999999999999.99", "999999999999999999.99", "-999999999999999999.99", "precision=20"},
		{dec(38, 10), "DECIMAL(38,10)", "9999999999999999999999999999.9999999999", "-9999999999999999999999999999.9999999999",
			"9999999999999999999999999999.9999999999", "-9999999999999999999999999999.9999999999", "precision=38"},
		{dec(65, 30), "VARCHAR", "99999999999999999999999999999999999.999999999999999999999999999999", "-0.000000000000000000000000000001",
			"99999999999999999999999999999999999.999999999999999999999999999999", "-0.000000000000000000000000000001", "StringType"},
		{k(tableformat.KindFloat), "FLOAT", float32(3.4028235e38), float32(-1.17549435e-38), "3.4028235e+38", "-1.1754944e-38", ""},
		{k(tableformat.KindDouble), "DOUBLE", 1.7976931348623157e308, 5e-324, "1.7976931348623157e+308", "5e-324", ""},
		{k(tableformat.KindDate), "DATE", int32(2932896), int32(-354285), "9999-12-31", "1000-01-01", "DateType"},
		{k(tableformat.KindYear), "SMALLINT", int64(2155), int64(1901), "2155", "1901", "isSigned=1"},
		{fsp(tableformat.KindDatetime, 6), "TIMESTAMP", int64(253402300799999999), int64(-30610224000000000),
			"9999-12-31 23:59:59.999999", "1000-01-01 00:00:00", "isAdjustedToUTC=0"},
		{fsp(tableformat.KindTimestamp, 6), "TIMESTAMP WITH TIME ZONE", int64(2147483647999999), int64(1000000),
			"2038-01-19 03:14:07.999999+00", "1970-01-01 00:00:01+00", "isAdjustedToUTC=1"},
		{fsp(tableformat.KindTime, 6), "BIGINT", int64(3020399000000), int64(-3020399000000), "3020399000000", "-3020399000000", "isSigned=1"},
		{k(tableformat.KindVarchar), "VARCHAR", "héllo 🦆", "", "héllo 🦆", "", "StringType"},
		{k(tableformat.KindText), "VARCHAR", "line\nbreak, \"quoted\"", "𝄞", "line\nbreak, \"quoted\"", "𝄞", "StringType"},
		{tableformat.Type{Kind: tableformat.KindEnum, Elems: []string{"small", "large"}}, "VARCHAR", "large", "small", "large", "small", "StringType"},
		{tableformat.Type{Kind: tableformat.KindSet, Elems: []string{"a", "b", "c"}}, "VARCHAR", "a,b", "", "a,b", "", "StringType"},
		{k(tableformat.KindJSON), "JSON", `{"a": [1, 2.5, null], "b": "é"}`, `[]`, `{"a": [1, 2.5, null], "b": "é"}`, `[]`, "JsonType"},
		{tableformat.Type{Kind: tableformat.KindBinary, Length: 4}, "BLOB", []byte{1, 0, 0, 0}, []byte{0, 0, 0, 0}, `\x01\x00\x00\x00`, `\x00\x00\x00\x00`, ""},
		{k(tableformat.KindBlob), "BLOB", []byte{0xff, 'a'}, []byte{}, `\xFFa`, ``, ""},
		{k(tableformat.KindGeometry), "BLOB", []byte{0, 0, 0, 0, 1, 1, 0, 0, 0}, []byte{0}, `\x00\x00\x00\x00\x01\x01\x00\x00\x00`, `\x00`, ""},
		{tableformat.Type{Kind: tableformat.KindBit, Length: 64}, "UBIGINT", uint64(18446744073709551615), uint64(1), "18446744073709551615", "1", "isSigned=0"},
	}
	schema := &tableformat.Schema{Version: 1, Key: []int{1}}
	hi := make([]any, len(cols))
	lo := make([]any, len(cols))
	for i, c := range cols {
		schema.Columns = append(schema.Columns, tableformat.Column{ID: i + 1, Name: "col" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Type: c.typ, Nullable: true})
		hi[i], lo[i] = c.hi, c.lo
	}
	path := filepath.Join(t.TempDir(), "data.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := tableformat.NewFileWriter(f, schema, tableformat.FileData, tableformat.FileWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(
		tableformat.Row{Seq: 1, TS: 1700000000123456, Op: tableformat.OpInsert, Values: hi},
		tableformat.Row{Seq: 2, TS: 1700000000123457, Op: tableformat.OpUpdateAfter, Values: lo},
		tableformat.Row{Seq: 3, TS: 1700000000123458, Op: tableformat.OpSnapshot, Values: make([]any, len(cols))},
	); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // SET applies to the one connection
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}

	// Types as DuckDB sees them, in file order, hidden columns last.
	rows, err := db.Query("DESCRIBE SELECT * FROM read_parquet(?)", path)
	if err != nil {
		t.Fatal(err)
	}
	var names, types []string
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			t.Fatal(err)
		}
		names, types = append(names, name), append(types, typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(types) != len(cols)+3 {
		t.Fatalf("DuckDB sees %d columns %v, want %d", len(types), names, len(cols)+3)
	}
	for i, c := range cols {
		if names[i] != tableformat.ColumnName(i+1) || types[i] != c.duckType {
			t.Errorf("column %d (%s): DuckDB sees %s %s, want %s %s", i+1, c.typ, names[i], types[i], tableformat.ColumnName(i+1), c.duckType)
		}
	}
	wantHidden := []string{tableformat.SeqColumn, "BIGINT", tableformat.TSColumn, "TIMESTAMP WITH TIME ZONE", tableformat.OpColumn, "INTEGER"}
	for j := range 3 {
		if names[len(cols)+j] != wantHidden[2*j] || types[len(cols)+j] != wantHidden[2*j+1] {
			t.Errorf("hidden column %d: DuckDB sees %s %s, want %s %s", j, names[len(cols)+j], types[len(cols)+j], wantHidden[2*j], wantHidden[2*j+1])
		}
	}

	// Field ids and logical types as written in the footer.
	meta, err := db.Query("SELECT name, field_id, coalesce(logical_type, '') FROM parquet_schema(?) WHERE name LIKE 'c%'", path)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for meta.Next() {
		var name, lt string
		var id sql.NullInt64
		if err := meta.Scan(&name, &id, &lt); err != nil {
			t.Fatal(err)
		}
		i := seen
		seen++
		if i >= len(cols) || name != tableformat.ColumnName(i+1) || !id.Valid || id.Int64 != int64(i+1) {
			t.Errorf("parquet_schema row %d: %s field_id %v, want %s field_id %d", i, name, id, tableformat.ColumnName(i+1), i+1)
			continue
		}
		if want := cols[i].parquetLT; !strings.Contains(lt, want) || (want == "" && lt != "") {
			t.Errorf("%s (%s): logical type %q, want one containing %q", name, cols[i].typ, lt, want)
		}
	}
	if err := meta.Err(); err != nil {
		t.Fatal(err)
	}
	meta.Close()
	if seen != len(cols) {
		t.Errorf("parquet_schema lists %d table columns, want %d", seen, len(cols))
	}

	// Values, as text, row by row.
	exprs := make([]string, 0, len(cols)+3)
	for i := range cols {
		exprs = append(exprs, "CAST("+tableformat.ColumnName(i+1)+" AS VARCHAR)")
	}
	exprs = append(exprs, "CAST(_binlake_seq AS VARCHAR)", "CAST(_binlake_ts AS VARCHAR)", "CAST(_binlake_op AS VARCHAR)")
	vals, err := db.Query("SELECT "+strings.Join(exprs, ", ")+" FROM read_parquet(?) ORDER BY _binlake_seq", path)
	if err != nil {
		t.Fatal(err)
	}
	defer vals.Close()
	wantHiddenVals := [][]string{
		{"1", "2023-11-14 22:13:20.123456+00", "1"},
		{"2", "2023-11-14 22:13:20.123457+00", "2"},
		{"3", "2023-11-14 22:13:20.123458+00", "5"},
	}
	for r := 0; vals.Next(); r++ {
		got := make([]sql.NullString, len(exprs))
		ptrs := make([]any, len(exprs))
		for i := range got {
			ptrs[i] = &got[i]
		}
		if err := vals.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, c := range cols {
			switch {
			case r == 2 && got[i].Valid:
				t.Errorf("row 3 %s (%s): %q, want NULL", tableformat.ColumnName(i+1), c.typ, got[i].String)
			case r < 2 && (!got[i].Valid || got[i].String != []string{c.hiT, c.loT}[r]):
				t.Errorf("row %d %s (%s): DuckDB reads %q (valid %v), want %q", r+1, tableformat.ColumnName(i+1), c.typ, got[i].String, got[i].Valid, []string{c.hiT, c.loT}[r])
			}
		}
		for j, want := range wantHiddenVals[r] {
			if g := got[len(cols)+j]; g.String != want {
				t.Errorf("row %d hidden column %d: %q, want %q", r+1, j, g.String, want)
			}
		}
	}
	if err := vals.Err(); err != nil {
		t.Fatal(err)
	}

	// Filters DuckDB may answer from the min/max statistics: wrongly ordered
	// statistics (unsigned or decimal bounds compared as signed bytes) would
	// prune the matching row.
	for _, where := range []string{
		"c2 = 255", "c10 = 18446744073709551615", "c10 > 9223372036854775807", "c8 > 2147483647",
		"c15 = 9999999999999999999999999999.9999999999", "c15 < -1", "c14 < 0", "c14 > 999999999999999999",
		"c13 < 0", "c12 > 0", "c19 = DATE '1000-01-01'", "c21 > TIMESTAMP '9999-12-31 23:59:59'",
		"c22 > TIMESTAMPTZ '2038-01-19 03:14:07+00'", "c32 = 18446744073709551615", "c24 = 'héllo 🦆'",
		"c17 < 0", "c18 > 1e308", "c9 < -9223372036854775807",
	} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM read_parquet(?) WHERE "+where, path).Scan(&n); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if n != 1 {
			t.Errorf("WHERE %s: %d rows, want 1", where, n)
		}
	}
}
