package query

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/query/render"
	"github.com/binlake/binlake/tableformat"
)

// typedLake commits one table holding a row of every column type, a row of
// other extremes and a row of NULLs.
func typedLake(t *testing.T) (*tableformat.Log, tableformat.Store) {
	t.Helper()
	k := func(kind tableformat.TypeKind) tableformat.Type { return tableformat.Type{Kind: kind} }
	types := []tableformat.Type{
		k(tableformat.KindBigInt), {Kind: tableformat.KindBigInt, Unsigned: true}, k(tableformat.KindTinyInt),
		{Kind: tableformat.KindDecimal, Precision: 10, Scale: 2}, {Kind: tableformat.KindDecimal, Precision: 65, Scale: 30},
		k(tableformat.KindFloat), k(tableformat.KindDouble), k(tableformat.KindDate), k(tableformat.KindYear),
		{Kind: tableformat.KindDatetime, FSP: 6}, {Kind: tableformat.KindTimestamp, FSP: 3}, {Kind: tableformat.KindTime, FSP: 6},
		{Kind: tableformat.KindVarchar, Length: 40}, k(tableformat.KindJSON), {Kind: tableformat.KindBinary, Length: 3},
		{Kind: tableformat.KindEnum, Elems: []string{"small", "large"}}, {Kind: tableformat.KindSet, Elems: []string{"a", "b"}},
		{Kind: tableformat.KindBit, Length: 8},
	}
	sc := tableformat.Schema{Version: 1, Key: []int{1}}
	for i, ty := range types {
		sc.Columns = append(sc.Columns, tableformat.Column{ID: i + 1, Name: fmt.Sprintf("c%d_%s", i+1, ty.Kind), Type: ty, Nullable: i > 0})
	}
	rows := []tableformat.Row{
		{Seq: 2, TS: 1_700_000_000_000_000, Op: tableformat.OpInsert, Values: []any{int64(1), uint64(18446744073709551615), int64(-128),
			"12.50", "-0.000000000000000000000000000001", float32(1.5), 0.1, int32(-354285), int64(2155),
			int64(-30610224000000000), int64(1_700_000_000_123_000), int64(-3020399000000), "a,\"b\"\nc", `{"b": 1, "a": [2.50]}`,
			[]byte{0, 1, 0xff}, "large", "a,b", uint64(255)}},
		{Seq: 3, TS: 1_700_000_000_000_000, Op: tableformat.OpInsert, Values: []any{int64(2), uint64(0), int64(0),
			"0.00", "0.000000000000000000000000000000", float32(0), 1e300, int32(0), int64(0),
			int64(0), int64(0), int64(1_500_000), "", `null`, []byte{0, 0, 0}, "small", "", uint64(0)}},
		{Seq: 4, TS: 1_700_000_000_000_000, Op: tableformat.OpInsert, Values: append([]any{int64(3)}, make([]any, len(types)-1)...)},
	}
	return oneTableLake(t, &sc, rows)
}

// oneTableLake commits a lake holding the table shop."all types" with
// schema sc and one data file of rows (in sequence order from 2, created at
// 1; sequences up to the last row's committed).
func oneTableLake(t testing.TB, sc *tableformat.Schema, rows []tableformat.Row) (*tableformat.Log, tableformat.Store) {
	t.Helper()
	ctx := context.Background()
	store := tableformat.NewMemStore()
	log := tableformat.NewLog(store, tableformat.LogOptions{})
	if _, err := log.Create(ctx, "src", 0); err != nil {
		t.Fatal(err)
	}
	last := max(rows[len(rows)-1].Seq, 4)
	f, err := tableformat.WriteAddFile(ctx, store, "shop", "all types", 1, sc, tableformat.FileData, tableformat.FileWriterOptions{}, rows)
	if err != nil {
		t.Fatal(err)
	}
	e := &tableformat.Entry{Kind: tableformat.KindIngest,
		Tables:   []tableformat.TableChange{{Op: tableformat.TableCreate, TableID: 1, Seq: 1, DB: "shop", Name: "all types", Schema: sc}},
		Add:      []tableformat.AddFile{f},
		Txns:     []tableformat.TxnMark{{Seq: last, TS: 1_700_000_000_000_000}},
		Progress: tableformat.Progress{MaxSeq: last, MaxTS: 1_700_000_000_000_000}}
	if _, err := log.Commit(ctx, e); err != nil {
		t.Fatal(err)
	}
	return log, store
}

func openLatest(t *testing.T, log *tableformat.Log, opts Options) *Session {
	t.Helper()
	return openLatestOn(t, newTestEngine(t, log, "", opts))
}

// openLatestOn opens a session of e at the latest version, closed when the
// test ends.
func openLatestOn(t *testing.T, e *Engine) *Session {
	t.Helper()
	p, err := e.Resolve(context.Background(), At{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func runFormat(t *testing.T, s *Session, format, q string) string {
	t.Helper()
	rows, cancel, err := s.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer cancel()
	defer rows.Close()
	var out bytes.Buffer
	w, err := render.NewWriter(format, &out)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := render.WriteRows(rows, w, 0); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestEveryTypeInEveryFormat(t *testing.T) {
	log, _ := typedLake(t)
	s := openLatest(t, log, Options{})
	q := `SELECT * FROM shop."all types" ORDER BY 1`
	wantCSV := `c1_bigint,c2_bigint,c3_tinyint,c4_decimal,c5_decimal,c6_float,c7_double,c8_date,c9_year,c10_datetime,c11_timestamp,c12_time,c13_varchar,c14_json,c15_binary,c16_enum,c17_set,c18_bit
1,18446744073709551615,-128,12.50,-0.000000000000000000000000000001,1.5,0.1,1000-01-01,2155,1000-01-01T00:00:00,2023-11-14T22:13:20.123Z,-838:59:59,"a,""b""
c","{""b"": 1, ""a"": [2.50]}",\x0001ff,large,"a,b",255
2,0,0,0.00,0.000000000000000000000000000000,0,1e+300,1970-01-01,0,1970-01-01T00:00:00,1970-01-01T00:00:00Z,00:00:01.5,"",null,\x000000,small,"",0
3,,,,,,,,,,,,,,,,,
`
	if got := runFormat(t, s, render.FormatCSV, q); got != wantCSV {
		t.Errorf("csv:\n%s\nwant:\n%s", got, wantCSV)
	}
	gotJSON := runFormat(t, s, render.FormatJSON, q+" LIMIT 1")
	wantJSON := `{"c1_bigint":1,"c2_bigint":18446744073709551615,"c3_tinyint":-128,"c4_decimal":12.50,"c5_decimal":"-0.000000000000000000000000000001","c6_float":1.5,"c7_double":0.1,"c8_date":"1000-01-01","c9_year":2155,"c10_datetime":"1000-01-01T00:00:00","c11_timestamp":"2023-11-14T22:13:20.123Z","c12_time":"-838:59:59","c13_varchar":"a,\"b\"\nc","c14_json":"{\"b\": 1, \"a\": [2.50]}","c15_binary":"AAH/","c16_enum":"large","c17_set":"a,b","c18_bit":255}` + "\n"
	if gotJSON != wantJSON {
		t.Errorf("json:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
	table := runFormat(t, s, render.FormatTable, `SELECT c1_bigint, c13_varchar FROM shop."all types" ORDER BY 1`)
	if !strings.Contains(table, `1         | a,"b"\nc`) || !strings.HasSuffix(table, "(3 rows)\n") {
		t.Errorf("table:\n%s", table)
	}
	// The JSON functions take the JSON column's text.
	if got := runFormat(t, s, render.FormatCSV, `SELECT c14_json->>'$.b' AS b FROM shop."all types" WHERE c1_bigint = 1`); got != "b\n1\n" {
		t.Errorf("json function: %q", got)
	}
}

// TestRefusedStatements: a session runs one SELECT; every other statement
// is refused by type before it runs, and the lock-down stops reads and
// writes outside the point's files.
func TestRefusedStatements(t *testing.T) {
	log, _ := typedLake(t)
	s := openLatest(t, log, Options{Timeout: 10 * time.Second})
	outside := filepath.Join(t.TempDir(), "outside.csv")
	if err := os.WriteFile(outside, []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"", "   ", "COPY (SELECT 1) TO '" + outside + "'", "ATTACH '" + outside + ".db' AS x",
		"INSTALL httpfs", "LOAD httpfs", "SET threads = 64", "PRAGMA enable_profiling", "CREATE TABLE x AS SELECT 1",
		"SELECT 1; SELECT 2", "SELECT 1; COPY (SELECT 1) TO '" + outside + "'", "DROP VIEW shop.\"all types\"",
		"EXPORT DATABASE '" + t.TempDir() + "'", "CALL pragma_version()", "BEGIN TRANSACTION", "DETACH memory",
		"CREATE MACRO m() AS 1", "INSERT INTO binlake.point VALUES (1, 1)", "SET VARIABLE x = 1", "RESET threads",
	} {
		if _, _, err := s.Query(context.Background(), q); !errors.Is(err, ErrRefused) {
			t.Errorf("%q: %v, want a refusal", q, err)
		}
	}
	for _, q := range []string{
		"SELECT * FROM read_csv('" + outside + "')", "SELECT * FROM read_text('/etc/passwd')",
		"SELECT * FROM glob('/etc/*')", "SELECT * FROM read_parquet('/etc/*.parquet')",
		"SELECT * FROM query('COPY (SELECT 1) TO ''" + outside + "2''')", "SELECT current_setting('threads') FROM (SELECT set_config('threads', '9'))",
	} {
		if _, _, err := s.Query(context.Background(), q); err == nil {
			t.Errorf("%q ran", q)
		}
	}
	if _, err := os.Stat(outside + "2"); err == nil {
		t.Error("a file was written outside the cache")
	}
}
