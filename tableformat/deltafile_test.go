package tableformat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// allTypesSchema has a column of every type docs/types.md maps, with the
// parameters that change the Parquet layout.
func allTypesSchema() *Schema {
	k := func(kind TypeKind) Type { return Type{Kind: kind} }
	u := func(kind TypeKind) Type { return Type{Kind: kind, Unsigned: true} }
	dec := func(p, s int) Type { return Type{Kind: KindDecimal, Precision: p, Scale: s} }
	cols := []struct {
		name string
		typ  Type
	}{
		{"ti", k(KindTinyInt)}, {"tiu", u(KindTinyInt)}, {"si", k(KindSmallInt)}, {"siu", u(KindSmallInt)},
		{"mi", k(KindMediumInt)}, {"miu", u(KindMediumInt)}, {"i", k(KindInt)}, {"iu", u(KindInt)},
		{"bi", k(KindBigInt)}, {"biu", u(KindBigInt)},
		{"d5", dec(5, 0)}, {"d9", dec(9, 2)}, {"d18", dec(18, 4)}, {"d38", dec(38, 10)}, {"d65", dec(65, 30)}, {"d20", dec(20, 2)},
		{"f", k(KindFloat)}, {"db", k(KindDouble)}, {"dt", k(KindDate)}, {"y", k(KindYear)},
		{"dtm", Type{Kind: KindDatetime, FSP: 6}}, {"ts", Type{Kind: KindTimestamp, FSP: 6}}, {"tm", Type{Kind: KindTime, FSP: 6}},
		{"ch", Type{Kind: KindChar, Length: 10}}, {"vc", k(KindVarchar)}, {"tx", k(KindText)},
		{"bin", Type{Kind: KindBinary, Length: 16}}, {"vb", k(KindVarbinary)}, {"bl", k(KindBlob)},
		{"b1", Type{Kind: KindBit, Length: 1}}, {"b64", Type{Kind: KindBit, Length: 64}},
		{"en", Type{Kind: KindEnum, Elems: []string{"small", "large"}}},
		{"st", Type{Kind: KindSet, Elems: []string{"a", "b", "c"}}},
		{"js", k(KindJSON)}, {"geo", k(KindGeometry)},
		{"dtm0", Type{Kind: KindDatetime}}, {"tm0", Type{Kind: KindTime}},
	}
	s := &Schema{Version: 1, Key: []int{9}}
	for i, c := range cols {
		s.Columns = append(s.Columns, Column{ID: i + 1, Name: c.name, Type: c.typ, Nullable: true})
	}
	return s
}

// everyTypeSchema is allTypesSchema (the schema of the pinned file) with a
// column of each kind added since: uuid, inet4, inet6.
func everyTypeSchema() *Schema {
	s := allTypesSchema()
	for _, c := range []struct {
		name string
		kind TypeKind
	}{{"uu", KindUUID}, {"ip4", KindInet4}, {"ip6", KindInet6}} {
		s.Columns = append(s.Columns, Column{ID: len(s.Columns) + 1, Name: c.name, Type: Type{Kind: c.kind}, Nullable: true})
	}
	return s
}

// rowOf builds a row of s from values by column name; missing columns are NULL.
func rowOf(t testing.TB, s *Schema, seq int64, op Op, vals map[string]any) Row {
	t.Helper()
	r := Row{Seq: seq, TS: 1_700_000_000_000_000 + seq, Op: op, Values: make([]any, len(s.Columns))}
	for name, v := range vals {
		i := slices.IndexFunc(s.Columns, func(c Column) bool { return c.Name == name })
		if i < 0 {
			t.Fatalf("no column %q", name)
		}
		r.Values[i] = v
	}
	return r
}

func writeFile(t testing.TB, s *Schema, kind FileKind, opts FileWriterOptions, rows ...Row) ([]byte, FileStats) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewFileWriter(&buf, s, kind, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows...); err != nil {
		t.Fatal(err)
	}
	st, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}

// sameValue compares Go values exactly: same dynamic type, floats by bits.
func sameValue(a, b any) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	switch x := a.(type) {
	case float32:
		return math.Float32bits(x) == math.Float32bits(b.(float32))
	case float64:
		return math.Float64bits(x) == math.Float64bits(b.(float64))
	case []byte:
		return bytes.Equal(x, b.([]byte))
	}
	return reflect.DeepEqual(a, b)
}

func checkRows(t *testing.T, cols []Column, got, want []Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.TS != w.TS || g.Op != w.Op || len(g.Values) != len(w.Values) {
			t.Fatalf("row %d: seq/ts/op %d/%d/%s with %d values, want %d/%d/%s with %d", i, g.Seq, g.TS, g.Op, len(g.Values), w.Seq, w.TS, w.Op, len(w.Values))
		}
		for j := range w.Values {
			if !sameValue(g.Values[j], w.Values[j]) {
				t.Errorf("row %d (seq %d) column %q (%s): got %T %#v, want %T %#v", i, w.Seq, cols[j].Name, cols[j].Type, g.Values[j], g.Values[j], w.Values[j], w.Values[j])
			}
		}
	}
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// extremeRows hold the limits of every type, NULL in every column, and the
// awkward values in between.
func extremeRows(t testing.TB, s *Schema) []Row {
	nines := func(n int) string { return strings.Repeat("9", n) }
	zeros := func(n int) string { return strings.Repeat("0", n) }
	wkbPoint := []byte{0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40}
	return []Row{
		rowOf(t, s, 1, OpInsert, map[string]any{
			"ti": int64(127), "tiu": uint64(255), "si": int64(32767), "siu": uint64(65535),
			"mi": int64(8388607), "miu": uint64(16777215), "i": int64(math.MaxInt32), "iu": uint64(math.MaxUint32),
			"bi": int64(math.MaxInt64), "biu": uint64(math.MaxUint64),
			"d5": "99999", "d9": "9999999.99", "d18": "99999999999999.9999", "d38": nines(28) + "." + nines(10),
			"d65": nines(35) + "." + nines(30), "d20": nines(18) + ".99",
			"f": float32(math.MaxFloat32), "db": math.MaxFloat64, "dt": int32(2932896), "y": int64(2155),
			"dtm": int64(253402300799999999), "ts": int64(2147483647999999), "tm": int64(3020399000000),
			"ch": "abcdefghij", "vc": "emoji 😀🦆 ok", "tx": strings.Repeat("𝄞é", 1000),
			"bin": []byte{'a', 'b', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "vb": allBytes(), "bl": allBytes(),
			"b1": uint64(1), "b64": uint64(math.MaxUint64), "en": "large", "st": "a,b", "js": `{"k": [1, "😀", null]}`,
			"geo": wkbPoint, "dtm0": int64(253402300799000000), "tm0": int64(3020399000000),
		}),
		rowOf(t, s, 2, OpUpdateAfter, map[string]any{
			"ti": int64(-128), "tiu": uint64(0), "si": int64(-32768), "siu": uint64(0),
			"mi": int64(-8388608), "miu": uint64(0), "i": int64(math.MinInt32), "iu": uint64(0),
			"bi": int64(math.MinInt64), "biu": uint64(0),
			"d5": "-99999", "d9": "-9999999.99", "d18": "-99999999999999.9999", "d38": "-" + nines(28) + "." + nines(10),
			"d65": "-" + nines(35) + "." + nines(30), "d20": "-" + nines(18) + ".99",
			"f": float32(-math.MaxFloat32), "db": -math.MaxFloat64, "dt": int32(-354285), "y": int64(1901),
			"dtm": int64(-30610224000000000), "ts": int64(1000000), "tm": int64(-3020399000000),
			"ch": "", "vc": "", "tx": "", "bin": make([]byte, 16), "vb": []byte{}, "bl": []byte{},
			"b1": uint64(0), "b64": uint64(0), "en": "small", "st": "", "js": "[]", "geo": []byte{},
			"dtm0": int64(-30610224000000000), "tm0": int64(-3020399000000),
		}),
		rowOf(t, s, 3, OpSnapshot, map[string]any{
			"ti": int64(0), "tiu": uint64(1), "si": int64(-1), "mi": int64(0), "bi": int64(-1), "biu": uint64(1 << 63),
			"d5": "0", "d9": "0.00", "d18": "-0.0001", "d38": "0." + zeros(10), "d65": "0." + zeros(30),
			"d20": "-0.01", "f": float32(math.SmallestNonzeroFloat32), "db": math.SmallestNonzeroFloat64,
			"dt": int32(0), "y": int64(0), "dtm": int64(0), "ts": int64(0), "tm": int64(-1),
			"vc": "\x00nul inside", "en": "", "st": "a,b,c", "js": `"s"`, "b1": uint64(1), "b64": uint64(1 << 63),
		}),
		rowOf(t, s, 4, OpInsert, map[string]any{
			"f": float32(math.Copysign(0, -1)), "db": math.Copysign(0, -1),
			"d65": "-0." + zeros(29) + "1", "d38": "-0." + zeros(9) + "1", "d20": "0.01", "d9": "-0.01", "d5": "-1",
			"js": "null", "st": "c", "tx": " ", "bl": []byte{0},
		}),
		rowOf(t, s, 5, OpInsert, nil), // NULL in every column
	}
}

func TestFileRoundTripAllTypes(t *testing.T) {
	s := allTypesSchema()
	rows := extremeRows(t, s)
	for _, kind := range []FileKind{FileData, FileSnapshot} {
		t.Run(string(kind), func(t *testing.T) {
			data, st := writeFile(t, s, kind, FileWriterOptions{}, rows...)
			fc, err := ReadFile(data)
			if err != nil {
				t.Fatal(err)
			}
			if fc.Kind != kind || !reflect.DeepEqual(fc.Schema, *s) || !reflect.DeepEqual(fc.Columns, s.Columns) {
				t.Fatalf("kind %s schema %+v columns %+v, want %s %+v", fc.Kind, fc.Schema, fc.Columns, kind, *s)
			}
			checkRows(t, fc.Columns, fc.Rows, rows)
			sum := sha256.Sum256(data)
			want := FileStats{Rows: 5, Bytes: int64(len(data)), Checksum: hex.EncodeToString(sum[:]),
				MinSeq: 1, MaxSeq: 5, MinTS: 1_700_000_000_000_001, MaxTS: 1_700_000_000_000_005}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
			if err := VerifyChecksum(data, st.Bytes, st.Checksum); err != nil {
				t.Error(err)
			}
		})
	}
}

// goldenDir holds format version 1 files: the layout FORMAT.md describes,
// and a file the current reader must keep reading. BINLAKE_UPDATE_GOLDEN=1
// rewrites them from the current writer.
const goldenDir = "testdata/deltafile/"

func golden(t *testing.T, name string, current []byte) []byte {
	t.Helper()
	if os.Getenv("BINLAKE_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenDir+name, current, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(goldenDir + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFileParquetLayout pins the physical format FORMAT.md describes.
func TestFileParquetLayout(t *testing.T) {
	s := everyTypeSchema()
	rows := append(extremeRows(t, s), rowOf(t, s, 6, OpInsert, map[string]any{
		"uu": make([]byte, 16), "ip4": "1.2.3.4", "ip6": "::ffff:1.2.3.4"}))
	data, _ := writeFile(t, s, FileData, FileWriterOptions{}, rows...)
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Schema().String() + "\n"
	if want := string(golden(t, "layout_v1.txt", []byte(got))); got != want {
		t.Errorf("Parquet schema:\n%s\nwant (%slayout_v1.txt):\n%s", got, goldenDir, want)
	}
	for key, want := range map[string]string{MetaFormatVersion: "1", MetaKind: "data"} {
		if got, ok := f.Lookup(key); !ok || got != want {
			t.Errorf("metadata %s = %q, want %q", key, got, want)
		}
	}
	if sum, _ := f.Lookup(MetaFileSHA256); len(sum) != 64 || sum == SelfSumPlaceholder || strings.Trim(sum, "0123456789abcdef") != "" {
		t.Errorf("metadata %s = %q, want a hex SHA-256", MetaFileSHA256, sum)
	}
	if js, _ := f.Lookup(MetaSchema); !strings.HasPrefix(js, `{"version":1,"columns":[{"id":1,"name":"ti"`) {
		t.Errorf("metadata %s = %.60s…", MetaSchema, js)
	}
	for _, rg := range f.Metadata().RowGroups {
		for i, cc := range rg.Columns {
			if got := cc.MetaData.Codec.String(); got != "ZSTD" {
				t.Errorf("column %v codec %s, want ZSTD", cc.MetaData.PathInSchema, got)
			}
			// Min/max everywhere but TEXT, BLOB, JSON and GEOMETRY columns.
			unbounded := i < len(s.Columns) && slices.Contains([]TypeKind{KindText, KindBlob, KindJSON, KindGeometry}, s.Columns[i].Type.Kind)
			if hasStats := cc.MetaData.Statistics.MaxValue != nil; hasStats == unbounded {
				t.Errorf("column %v: statistics %v, want %v", cc.MetaData.PathInSchema, hasStats, !unbounded)
			}
		}
	}
	if f.ColumnIndexes() == nil {
		t.Error("no page index (column indexes)")
	}
}

// TestFileReadsFormatV1 reads a file written by an earlier build: what
// the lake already holds must stay readable.
func TestFileReadsFormatV1(t *testing.T) {
	s := allTypesSchema()
	rows := extremeRows(t, s)
	current, _ := writeFile(t, s, FileData, FileWriterOptions{}, rows...)
	fc, err := ReadFile(golden(t, "alltypes_v1.parquet", current))
	if err != nil {
		t.Fatal(err)
	}
	if fc.Kind != FileData || !reflect.DeepEqual(fc.Schema, *s) {
		t.Fatalf("kind %s schema %+v", fc.Kind, fc.Schema)
	}
	checkRows(t, fc.Columns, fc.Rows, rows)
}

// TestFileRoundTripUUIDInet: UUID values keep their 16 bytes (the nil and
// the max UUID too), addresses their canonical text, in every file kind.
func TestFileRoundTripUUIDInet(t *testing.T) {
	s := everyTypeSchema()
	ff := bytes.Repeat([]byte{0xff}, 16)
	rows := []Row{
		rowOf(t, s, 1, OpInsert, map[string]any{"bi": int64(1), "uu": make([]byte, 16), "ip4": "0.0.0.0", "ip6": "::"}),
		rowOf(t, s, 2, OpUpdateAfter, map[string]any{"bi": int64(2), "uu": ff, "ip4": "255.255.255.255",
			"ip6": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}),
		rowOf(t, s, 3, OpSnapshot, map[string]any{"bi": int64(3), "uu": []byte{0x6c, 0xcd, 0x78, 0x0c, 0xba, 0xba, 0x10, 0x26, 0x95, 0x64, 0x5b, 0x8c, 0x65, 0x60, 0x24, 0xdb},
			"ip4": "10.0.0.1", "ip6": "::ffff:1.2.3.4"}),
		rowOf(t, s, 4, OpInsert, map[string]any{"bi": int64(4), "ip6": "2001:db8::1:1:1:1:1"}),
		rowOf(t, s, 5, OpInsert, nil),
	}
	for _, kind := range []FileKind{FileData, FileSnapshot} {
		data, _ := writeFile(t, s, kind, FileWriterOptions{}, rows...)
		fc, err := ReadFile(data)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		checkRows(t, fc.Columns, fc.Rows, rows)
	}
}

func TestFileDecimalByteWidth(t *testing.T) {
	// Parquet's table of minimal FIXED_LEN_BYTE_ARRAY widths per precision.
	want := map[int]int{19: 9, 20: 9, 21: 9, 22: 10, 23: 10, 24: 11, 26: 11, 27: 12, 28: 12, 29: 13, 31: 13, 32: 14, 33: 14, 34: 15, 35: 15, 36: 16, 38: 16}
	for p, n := range want {
		if got := decimalByteWidth(p); got != n {
			t.Errorf("decimalByteWidth(%d) = %d, want %d", p, got, n)
		}
	}
	// Every width holds its precision's extremes.
	for p := 19; p <= 38; p++ {
		s := &Schema{Version: 1, Columns: []Column{{ID: 1, Name: "d", Type: Type{Kind: KindDecimal, Precision: p, Scale: p / 3}}}}
		intDigits := p - p/3
		mk := func(sign, d string) string { return sign + strings.Repeat(d, intDigits) + "." + strings.Repeat(d, p/3) }
		rows := []Row{
			{Seq: 1, Op: OpInsert, Values: []any{mk("", "9")}},
			{Seq: 2, Op: OpInsert, Values: []any{mk("-", "9")}},
			{Seq: 3, Op: OpInsert, Values: []any{"1" + strings.Repeat("0", intDigits-1) + "." + strings.Repeat("0", p/3-1) + "1"}},
		}
		data, _ := writeFile(t, s, FileData, FileWriterOptions{}, rows...)
		fc, err := ReadFile(data)
		if err != nil {
			t.Fatalf("precision %d: %v", p, err)
		}
		checkRows(t, s.Columns, fc.Rows, rows)
	}
}

func TestFileDeleteKeys(t *testing.T) {
	base := []Column{
		{ID: 1, Name: "tenant", Type: Type{Kind: KindInt, Unsigned: true}},
		{ID: 2, Name: "payload", Type: Type{Kind: KindText}, Nullable: true},
		{ID: 3, Name: "region", Type: Type{Kind: KindVarchar}},
	}
	cases := []struct {
		name    string
		key     []int
		wantIDs []int
		values  [][]any
	}{
		{"composite key in key order", []int{3, 1}, []int{3, 1}, [][]any{{"eu", uint64(7)}, {"🌍", uint64(math.MaxUint32)}}},
		{"keyless table: the whole row", nil, []int{1, 2, 3}, [][]any{{uint64(1), nil, "x"}, {uint64(1), nil, "x"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Schema{Version: 3, Columns: base, Key: c.key}
			rows := []Row{
				{Seq: 10, TS: 5, Op: OpDelete, Values: c.values[0]},
				{Seq: 11, TS: 6, Op: OpUpdateBefore, Values: c.values[1]},
			}
			data, st := writeFile(t, s, FileDelete, FileWriterOptions{}, rows...)
			fc, err := ReadFile(data)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for _, col := range fc.Columns {
				ids = append(ids, col.ID)
			}
			if fc.Kind != FileDelete || !reflect.DeepEqual(ids, c.wantIDs) {
				t.Fatalf("kind %s column ids %v, want deletes %v", fc.Kind, ids, c.wantIDs)
			}
			checkRows(t, fc.Columns, fc.Rows, rows)
			if st.MinSeq != 10 || st.MaxSeq != 11 || st.MinTS != 5 || st.MaxTS != 6 {
				t.Errorf("stats %+v", st)
			}
			f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range c.wantIDs {
				if got := f.Root().Columns()[i].Name(); got != ColumnName(id) {
					t.Errorf("Parquet column %d is %s, want %s", i, got, ColumnName(id))
				}
			}
		})
	}
}

func TestFileOpsByKind(t *testing.T) {
	s := &Schema{Version: 1, Columns: []Column{{ID: 1, Name: "k", Type: Type{Kind: KindInt}}}, Key: []int{1}}
	for _, c := range []struct {
		kind FileKind
		op   Op
		ok   bool
	}{
		{FileData, OpInsert, true}, {FileData, OpUpdateAfter, true}, {FileData, OpSnapshot, true},
		{FileData, OpDelete, false}, {FileData, OpUpdateBefore, false}, {FileData, Op(0), false},
		{FileSnapshot, OpSnapshot, true}, {FileSnapshot, OpDelete, false},
		{FileDelete, OpDelete, true}, {FileDelete, OpUpdateBefore, true}, {FileDelete, OpInsert, false}, {FileDelete, Op(9), false},
	} {
		w, err := NewFileWriter(&bytes.Buffer{}, s, c.kind, FileWriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write(Row{Seq: 42, Op: c.op, Values: []any{int64(1)}})
		if (err == nil) != c.ok {
			t.Errorf("%s file, op %s: error %v, want ok=%v", c.kind, c.op, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "seq 42") {
			t.Errorf("error %q does not name the seq", err)
		}
	}
}

func TestFileValueValidation(t *testing.T) {
	dec := func(p, s int) Type { return Type{Kind: KindDecimal, Precision: p, Scale: s} }
	cases := []struct {
		typ  Type
		v    any
		want string // a substring of the reason
	}{
		{Type{Kind: KindTinyInt}, int64(128), "out of range -128…127"},
		{Type{Kind: KindTinyInt}, int64(-129), "out of range"},
		{Type{Kind: KindTinyInt}, 5, "Go type int, want int64"},
		{Type{Kind: KindTinyInt, Unsigned: true}, uint64(256), "out of range 0…255"},
		{Type{Kind: KindTinyInt, Unsigned: true}, int64(1), "Go type int64, want uint64"},
		{Type{Kind: KindSmallInt, Unsigned: true}, uint64(65536), "out of range"},
		{Type{Kind: KindMediumInt}, int64(-8388609), "out of range -8388608…8388607"},
		{Type{Kind: KindMediumInt, Unsigned: true}, uint64(16777216), "out of range 0…16777215"},
		{Type{Kind: KindInt}, int64(math.MaxInt32 + 1), "out of range"},
		{Type{Kind: KindBigInt}, uint64(1), "want int64"},
		{Type{Kind: KindBigInt, Unsigned: true}, int64(-1), "want uint64"},
		{dec(5, 2), "1.5", "exactly 2 fraction digits"},
		{dec(5, 2), "1.500", "exactly 2 fraction digits"},
		{dec(5, 2), "01.50", "leading zero"},
		{dec(5, 2), "1234.00", "4 integer digits, the type holds 3"},
		{dec(5, 2), "-0.00", "negative zero"},
		{dec(5, 2), "+1.00", "want digits"},
		{dec(5, 2), ".50", "want digits"},
		{dec(5, 2), "1e2", "want digits"},
		{dec(5, 2), "1.50 ", "fraction digits"},
		{dec(5, 2), "", "want digits"},
		{dec(5, 2), 1.5, "Go type float64, want string"},
		{dec(5, 0), "1.0", "scale 0 has no fraction"},
		{dec(5, 0), "-0", "negative zero"},
		{dec(38, 10), "1" + strings.Repeat("0", 28) + ".0000000000", "29 integer digits"},
		{dec(65, 30), "1." + strings.Repeat("0", 29), "exactly 30 fraction digits"},
		{dec(65, 30), "1" + strings.Repeat("0", 35) + "." + strings.Repeat("0", 30), "36 integer digits"},
		{Type{Kind: KindFloat}, float32(math.NaN()), "not a value MySQL can store"},
		{Type{Kind: KindFloat}, 1.5, "Go type float64, want float32"},
		{Type{Kind: KindDouble}, math.Inf(-1), "not a value MySQL can store"},
		{Type{Kind: KindDate}, int32(2932897), "outside 0000-01-01…9999-12-31"},
		{Type{Kind: KindDate}, int64(0), "want int32"},
		{Type{Kind: KindYear}, int64(1900), "outside 1901…2155"},
		{Type{Kind: KindDatetime}, int64(1_500_001), "more fractional digits than fsp 0"},
		{Type{Kind: KindDatetime, FSP: 3}, int64(1_000_100), "more fractional digits than fsp 3"},
		{Type{Kind: KindDatetime, FSP: 6}, int64(253402300800000000), "outside 0000-01-01"},
		{Type{Kind: KindTimestamp, FSP: 6}, "2024-01-01 00:00:00", "Go type string, want int64"},
		{Type{Kind: KindTime, FSP: 6}, int64(3020399000001), "outside -838:59:59…838:59:59"},
		{Type{Kind: KindTime, FSP: 6}, int64(-3020399000001), "outside"},
		{Type{Kind: KindVarchar}, "ok\xffno", "invalid UTF-8 at byte 2"},
		{Type{Kind: KindText}, []byte("text"), "Go type []uint8, want string"},
		{Type{Kind: KindChar, Length: 3}, "\xc3", "invalid UTF-8 at byte 0"},
		{Type{Kind: KindBinary, Length: 4}, []byte{1, 2, 3, 4, 5}, "binary(4) value has 5 bytes"},
		{Type{Kind: KindBinary, Length: 4}, []byte{1, 2, 3}, "value has 3 bytes, want exactly 4"},
		{Type{Kind: KindBlob}, "text", "Go type string, want []byte"},
		{Type{Kind: KindBit, Length: 1}, uint64(2), "out of range 0…1"},
		{Type{Kind: KindBit, Length: 12}, uint64(4096), "out of range 0…4095"},
		{Type{Kind: KindBit, Length: 64}, int64(1), "want uint64"},
		{Type{Kind: KindEnum, Elems: []string{"a", "b"}}, "c", `enum label "c" is not one of ("a","b")`},
		{Type{Kind: KindEnum, Elems: []string{"a", "b"}}, "A", "not one of"},
		{Type{Kind: KindSet, Elems: []string{"a", "b"}}, "b,a", "not in definition order"},
		{Type{Kind: KindSet, Elems: []string{"a", "b"}}, "a,a", "without repeats"},
		{Type{Kind: KindSet, Elems: []string{"a", "b"}}, "a,x", `set label "x"`},
		{Type{Kind: KindSet, Elems: []string{"a", "b"}}, "a,", `set label ""`},
		{Type{Kind: KindJSON}, `{"a":`, "invalid JSON text"},
		{Type{Kind: KindJSON}, "\"\xff\"", "invalid UTF-8"},
		{Type{Kind: KindGeometry}, nil, ""}, // NULL is always allowed
		{Type{Kind: KindUUID}, make([]byte, 15), "uuid value has 15 bytes, want 16"},
		{Type{Kind: KindUUID}, "6ccd780c-baba-1026-9564-5b8c656024db", "Go type string, want []byte"},
		{Type{Kind: KindInet4}, "1.2.3.04", "not an IPv4 address"},
		{Type{Kind: KindInet4}, []byte{1, 2, 3, 4}, "Go type []uint8, want string"},
		{Type{Kind: KindInet6}, "::FFFF:1.2.3.4", `not canonical: "::ffff:1.2.3.4"`},
		{Type{Kind: KindInet6}, "1.2.3.4", "not an IPv6 address"},
	}
	for _, c := range cases {
		s := &Schema{Version: 1, Columns: []Column{
			{ID: 1, Name: "id", Type: Type{Kind: KindBigInt}},
			{ID: 7, Name: "bad col", Type: c.typ},
		}}
		w, err := NewFileWriter(&bytes.Buffer{}, s, FileData, FileWriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		good := Row{Seq: 1, Op: OpInsert, Values: []any{int64(1), nil}}
		err = w.Write(good, Row{Seq: 99, Op: OpInsert, Values: []any{int64(2), c.v}})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s %#v: %v", c.typ, c.v, err)
			}
			continue
		}
		var ve *InvalidValueError
		if !errors.As(err, &ve) {
			t.Errorf("%s %#v: error %v, want an InvalidValueError", c.typ, c.v, err)
			continue
		}
		if ve.Column != "bad col" || ve.ColumnID != 7 || ve.Seq != 99 || !strings.Contains(ve.Reason, c.want) {
			t.Errorf("%s %#v: %+v, want column \"bad col\" (7), seq 99, reason with %q", c.typ, c.v, ve, c.want)
		}
		if msg := err.Error(); !strings.Contains(msg, `column "bad col"`) || !strings.Contains(msg, "seq 99") {
			t.Errorf("message %q does not name the column and seq", msg)
		}
		// The writer stays failed: no later write or close succeeds.
		if err2 := w.Write(good); err2 == nil {
			t.Errorf("%s: write after a failed write succeeded", c.typ)
		}
		if _, err2 := w.Close(); err2 == nil {
			t.Errorf("%s: close after a failed write succeeded", c.typ)
		}
	}
}

func TestFileRowShapeErrors(t *testing.T) {
	s := &Schema{Version: 1, Columns: []Column{{ID: 1, Name: "a", Type: Type{Kind: KindInt}}, {ID: 2, Name: "b", Type: Type{Kind: KindInt}}}}
	w, err := NewFileWriter(&bytes.Buffer{}, s, FileData, FileWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Write(Row{Seq: 8, Op: OpInsert, Values: []any{int64(1)}})
	if err == nil || !strings.Contains(err.Error(), "row seq 8 has 1 values, the data file holds 2 columns") {
		t.Errorf("error %v", err)
	}
	for _, bad := range []struct {
		s    *Schema
		kind FileKind
		want string
	}{
		{s, "bogus", `unknown file kind "bogus"`},
		{&Schema{Version: 1}, FileData, "no columns"},
		{&Schema{Version: 1, Columns: []Column{{ID: 1, Name: "d", Type: Type{Kind: KindDecimal, Precision: 70}}}}, FileData, "precision must be"},
	} {
		if _, err := NewFileWriter(&bytes.Buffer{}, bad.s, bad.kind, FileWriterOptions{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("NewFileWriter(%s): %v, want %q", bad.kind, err, bad.want)
		}
	}
}

func TestFileWriterOptionsValidate(t *testing.T) {
	err := FileWriterOptions{RowGroupRows: -1, RowGroupBytes: -2, PageBytes: -3, Compression: "lz5"}.Validate()
	for _, want := range []string{"row group rows -1", "row group bytes -2", "page bytes -3", `unknown compression "lz5"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want it to report %q", err, want)
		}
	}
	if err := (FileWriterOptions{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
}

func TestFileRowGroupsAndCompression(t *testing.T) {
	s := &Schema{Version: 1, Columns: []Column{
		{ID: 1, Name: "id", Type: Type{Kind: KindBigInt}},
		{ID: 2, Name: "body", Type: Type{Kind: KindText}, Nullable: true},
		{ID: 3, Name: "amount", Type: Type{Kind: KindDecimal, Precision: 30, Scale: 2}},
	}, Key: []int{1}}
	var rows []Row
	for i := range 2500 {
		var body any
		if i%3 != 0 {
			body = strings.Repeat("x", i%50)
		}
		rows = append(rows, Row{Seq: int64(i + 1), TS: int64(i), Op: OpInsert, Values: []any{int64(i), body, "-123456789012345678901234.5" + string(rune('0'+i%10))}})
	}
	for _, c := range []struct {
		name       string
		opts       FileWriterOptions
		wantGroups int
		codec      string
	}{
		{"defaults", FileWriterOptions{}, 1, "ZSTD"},
		{"by rows", FileWriterOptions{RowGroupRows: 1000, Compression: CompressionSnappy}, 3, "SNAPPY"},
		{"by bytes", FileWriterOptions{RowGroupBytes: 20_000, PageBytes: 4096, Compression: CompressionNone}, 6, "UNCOMPRESSED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewFileWriter(&buf, s, FileData, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			// Many small writes and one large one end up the same.
			for i := 0; i < 100; i++ {
				if err := w.Write(rows[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Write(rows[100:]...); err != nil {
				t.Fatal(err)
			}
			st, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			data := buf.Bytes()
			f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			groups := f.Metadata().RowGroups
			if c.wantGroups > 1 && len(groups) < c.wantGroups || c.wantGroups == 1 && len(groups) != 1 {
				t.Errorf("%d row groups, want %d", len(groups), c.wantGroups)
			}
			if got := groups[0].Columns[0].MetaData.Codec.String(); got != c.codec {
				t.Errorf("codec %s, want %s", got, c.codec)
			}
			fc, err := ReadFile(data)
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, fc.Columns, fc.Rows, rows)
			if st.Rows != 2500 || st.MinSeq != 1 || st.MaxSeq != 2500 || st.MaxTS != 2499 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestFileEmptyAndClosed(t *testing.T) {
	s := &Schema{Version: 1, Columns: []Column{{ID: 1, Name: "a", Type: Type{Kind: KindInt}}}}
	var buf bytes.Buffer
	w, err := NewFileWriter(&buf, s, FileData, FileWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 0 || st.Bytes != int64(buf.Len()) || st.MinSeq != 0 || st.MaxSeq != 0 {
		t.Errorf("stats of an empty file %+v", st)
	}
	fc, err := ReadFile(buf.Bytes())
	if err != nil || len(fc.Rows) != 0 {
		t.Fatalf("empty file reads %v, %v", fc, err)
	}
	if err := w.Write(Row{Seq: 1, Op: OpInsert, Values: []any{int64(1)}}); err == nil {
		t.Error("write after close succeeded")
	}
	if _, err := w.Close(); err == nil {
		t.Error("second close succeeded")
	}
}

// writeSizes records the size of each write.
type writeSizes struct {
	bytes.Buffer
	sizes []int
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

// TestFileWriterUnbuffered: a writer holds no write buffer of its own (32
// KiB in parquet-go, for each of thousands of small files of a commit): a
// small file reaches its output as the parts Parquet writes, the header's
// four bytes first, not in one write of the buffer at the end.
func TestFileWriterUnbuffered(t *testing.T) {
	s := &Schema{Version: 1, Columns: []Column{{ID: 1, Name: "a", Type: Type{Kind: KindInt}}}}
	var out writeSizes
	w, err := NewFileWriter(&out, s, FileData, FileWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Row{Seq: 1, Op: OpInsert, Values: []any{int64(1)}}); err != nil {
		t.Fatal(err)
	}
	st, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(out.sizes) < 2 || out.sizes[0] != 4 {
		t.Fatalf("a file of %d bytes was written as %v, want its 4-byte header first, then more writes", st.Bytes, out.sizes)
	}
	if _, err := ReadFile(out.Bytes()); err != nil {
		t.Fatal(err)
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestFileWriterOutputError(t *testing.T) {
	s := &Schema{Version: 1, Columns: []Column{{ID: 1, Name: "a", Type: Type{Kind: KindText}}}}
	w, err := NewFileWriter(&failingWriter{after: 100}, s, FileData, FileWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Write(Row{Seq: 1, Op: OpInsert, Values: []any{strings.Repeat("x", 1000)}})
	if err == nil {
		_, err = w.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v, want disk full", err)
	}
}

func TestFileVerifyChecksum(t *testing.T) {
	data := []byte("some file bytes")
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	if err := VerifyChecksum(data, int64(len(data)), good); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChecksum(data, int64(len(data)), strings.ToUpper(good)); err != nil {
		t.Errorf("upper-case hex: %v", err)
	}
	err := VerifyChecksum(data, 16, good)
	if !errors.Is(err, ErrCorruptFile) || !strings.Contains(err.Error(), "expected 16 bytes, got 15") {
		t.Errorf("size mismatch: %v", err)
	}
	bad := strings.Repeat("0", 64)
	err = VerifyChecksum(data, int64(len(data)), bad)
	if !errors.Is(err, ErrCorruptFile) || !strings.Contains(err.Error(), "expected "+bad+", got "+good) {
		t.Errorf("checksum mismatch: %v", err)
	}
}

// corruptionSample is a small file with one column of each storage class,
// small enough to flip every one of its bytes.
func corruptionSample(t *testing.T) ([]byte, *FileContents) {
	s := &Schema{Version: 1, Columns: []Column{
		{ID: 1, Name: "id", Type: Type{Kind: KindBigInt, Unsigned: true}},
		{ID: 2, Name: "small", Type: Type{Kind: KindTinyInt}, Nullable: true},
		{ID: 3, Name: "price", Type: Type{Kind: KindDecimal, Precision: 30, Scale: 4}, Nullable: true},
		{ID: 4, Name: "name", Type: Type{Kind: KindVarchar}, Nullable: true},
		{ID: 5, Name: "at", Type: Type{Kind: KindDatetime, FSP: 6}, Nullable: true},
		{ID: 6, Name: "raw", Type: Type{Kind: KindBinary, Length: 4}, Nullable: true},
		{ID: 7, Name: "x", Type: Type{Kind: KindDouble}, Nullable: true},
	}, Key: []int{1}}
	rows := []Row{
		{Seq: 1, TS: 100, Op: OpInsert, Values: []any{uint64(1), int64(-5), "-12.3400", "é🦆", int64(1_700_000_000_000_001), []byte{1, 0, 0, 0}, 2.5}},
		{Seq: 2, TS: 101, Op: OpUpdateAfter, Values: []any{uint64(math.MaxUint64), nil, "99999999999999999999999999.9999", "", int64(0), []byte{0, 0, 0, 0}, -0.0}},
		{Seq: 3, TS: 102, Op: OpInsert, Values: []any{uint64(3), int64(127), nil, nil, nil, nil, nil}},
	}
	data, _ := writeFile(t, s, FileData, FileWriterOptions{}, rows...)
	fc, err := ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return data, fc
}

func TestFileCorruption(t *testing.T) {
	data, orig := corruptionSample(t)
	mustFail := func(what string, b []byte) {
		t.Helper()
		fc, err := ReadFile(b)
		if err == nil {
			t.Fatalf("%s: read %d rows, want an error", what, len(fc.Rows))
		}
		if !errors.Is(err, ErrCorruptFile) {
			t.Fatalf("%s: error %v does not wrap ErrCorruptFile", what, err)
		}
	}
	mustFail("nil", nil)
	mustFail("zero-length", []byte{})
	mustFail("magic only", []byte("PAR1"))
	mustFail("not parquet", []byte("PAR1 this is not a parquet file PAR1"))
	for n := 1; n < len(data); n++ {
		mustFail(fmt.Sprintf("truncated to %d bytes", n), data[:n])
	}
	mustFail("tail only", data[len(data)/2:])

	// The file checks itself (binlake.file_sha256): a flipped bit anywhere,
	// footer and page index included, is an error before parquet-go parses
	// anything, so it can neither yield other rows nor make parquet-go size
	// buffers from garbage.
	for i := range data {
		for _, mask := range []byte{0x01, 0x80} {
			b := bytes.Clone(data)
			b[i] ^= mask
			mustFail(fmt.Sprintf("bit flip %#x at byte %d of %d", mask, i, len(data)), b)
		}
	}
	var ok *FileContents
	if ok, _ = ReadFile(data); ok == nil || !reflect.DeepEqual(ok.Rows, orig.Rows) {
		t.Fatal("the intact file no longer reads")
	}
}

func TestFileProjection(t *testing.T) {
	v1 := &Schema{Version: 1, Columns: []Column{
		{ID: 1, Name: "id", Type: Type{Kind: KindInt}},
		{ID: 2, Name: "name", Type: Type{Kind: KindVarchar}, Nullable: true},
	}, Key: []int{1}}
	rows := []Row{
		{Seq: 1, TS: 10, Op: OpInsert, Values: []any{int64(1), "one"}},
		{Seq: 2, TS: 11, Op: OpInsert, Values: []any{int64(-2), nil}},
	}
	data, _ := writeFile(t, v1, FileData, FileWriterOptions{}, rows...)
	fc, err := ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}

	// v2 drops "name", adds "note" (id 3) and widens id to bigint.
	v2 := &Schema{Version: 2, Columns: []Column{
		{ID: 3, Name: "note", Type: Type{Kind: KindText}, Nullable: true},
		{ID: 1, Name: "id", Type: Type{Kind: KindBigInt}},
	}, Key: []int{1}}
	got, err := fc.Project(v2)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, v2.Columns, got, []Row{
		{Seq: 1, TS: 10, Op: OpInsert, Values: []any{nil, int64(1)}},
		{Seq: 2, TS: 11, Op: OpInsert, Values: []any{nil, int64(-2)}},
	})

	// v3 renames column 2 and makes it a text: the values stay.
	v3 := &Schema{Version: 3, Columns: []Column{
		{ID: 1, Name: "id", Type: Type{Kind: KindInt}},
		{ID: 2, Name: "full name", Type: Type{Kind: KindText}, Nullable: true},
	}, Key: []int{1}}
	got, err = fc.Project(v3)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, v3.Columns, got, rows)

	// Changes whose stored values are not values of the new type fail, naming the column.
	for _, c := range []struct {
		typ  Type
		want string
	}{
		{Type{Kind: KindSmallInt}, "narrower"},
		{Type{Kind: KindInt, Unsigned: true}, "signedness"},
		{Type{Kind: KindDecimal, Precision: 12, Scale: 2}, "int value is not a decimal value"},
		{Type{Kind: KindVarchar}, "int value is not a varchar value"},
	} {
		target := &Schema{Version: 4, Columns: []Column{{ID: 1, Name: "ident", Type: c.typ}}}
		_, err := fc.Project(target)
		if err == nil || !strings.Contains(err.Error(), `column "ident" (id 1)`) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("project int as %s: %v, want an error naming the column with %q", c.typ, err, c.want)
		}
	}

	// A delete file projects onto the target's key columns.
	del, _ := writeFile(t, v1, FileDelete, FileWriterOptions{}, Row{Seq: 5, Op: OpDelete, Values: []any{int64(1)}})
	dc, err := ReadFile(del)
	if err != nil {
		t.Fatal(err)
	}
	keyed := &Schema{Version: 5, Columns: append([]Column{{ID: 4, Name: "shard", Type: Type{Kind: KindInt}}}, v1.Columns...), Key: []int{4, 1}}
	got, err = dc.Project(keyed)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, keyed.KeyColumns(), got, []Row{{Seq: 5, Op: OpDelete, Values: []any{nil, int64(1)}}})
}

func TestFileReadableAs(t *testing.T) {
	dec := func(p, s int) Type { return Type{Kind: KindDecimal, Precision: p, Scale: s} }
	cases := []struct {
		src, dst Type
		ok       bool
	}{
		{Type{Kind: KindTinyInt}, Type{Kind: KindBigInt}, true},
		{Type{Kind: KindInt, Unsigned: true}, Type{Kind: KindBigInt, Unsigned: true}, true},
		{Type{Kind: KindBigInt}, Type{Kind: KindInt}, false},
		{Type{Kind: KindInt, Unsigned: true}, Type{Kind: KindBigInt}, false},
		{dec(10, 2), dec(40, 2), true},
		{dec(10, 2), dec(9, 2), false},
		{dec(10, 2), dec(11, 3), false},
		{Type{Kind: KindFloat}, Type{Kind: KindDouble}, false},
		{Type{Kind: KindDatetime, FSP: 3}, Type{Kind: KindDatetime, FSP: 6}, true},
		{Type{Kind: KindDatetime, FSP: 6}, Type{Kind: KindDatetime}, false},
		{Type{Kind: KindDatetime}, Type{Kind: KindTimestamp}, false},
		{Type{Kind: KindChar, Length: 3}, Type{Kind: KindVarchar}, true},
		{Type{Kind: KindEnum, Elems: []string{"a"}}, Type{Kind: KindText}, true},
		{Type{Kind: KindEnum, Elems: []string{"a"}}, Type{Kind: KindEnum, Elems: []string{"a", "b"}}, true},
		{Type{Kind: KindEnum, Elems: []string{"a", "b"}}, Type{Kind: KindEnum, Elems: []string{"b", "a"}}, false},
		{Type{Kind: KindVarchar}, Type{Kind: KindEnum, Elems: []string{"a"}}, false},
		{Type{Kind: KindSet, Elems: []string{"a"}}, Type{Kind: KindEnum, Elems: []string{"a"}}, false},
		{Type{Kind: KindJSON}, Type{Kind: KindText}, true},
		{Type{Kind: KindText}, Type{Kind: KindJSON}, false},
		{Type{Kind: KindBinary, Length: 4}, Type{Kind: KindBlob}, true},
		{Type{Kind: KindVarbinary}, Type{Kind: KindBinary, Length: 4}, false},
		{Type{Kind: KindBlob}, Type{Kind: KindGeometry}, false},
		{Type{Kind: KindBit, Length: 8}, Type{Kind: KindBit, Length: 64}, true},
		{Type{Kind: KindBit, Length: 8}, Type{Kind: KindBit, Length: 4}, false},
		{Type{Kind: KindYear}, Type{Kind: KindSmallInt}, false},
		{Type{Kind: KindUUID}, Type{Kind: KindUUID}, true},
		{Type{Kind: KindBinary, Length: 16}, Type{Kind: KindUUID}, false},
		{Type{Kind: KindUUID}, Type{Kind: KindBinary, Length: 16}, false},
		{Type{Kind: KindInet4}, Type{Kind: KindInet6}, false},
		{Type{Kind: KindInet6}, Type{Kind: KindVarchar}, false},
		{Type{Kind: KindVarchar}, Type{Kind: KindInet6}, false},
	}
	for _, c := range cases {
		if why := readableAs(c.src, c.dst); (why == "") != c.ok {
			t.Errorf("readableAs(%s, %s) = %q, want ok=%v", c.src, c.dst, why, c.ok)
		}
	}
}

// fuzzSeeds are small valid files of each kind.
func fuzzSeeds(t testing.TB) [][]byte {
	s := allTypesSchema()
	data, _ := writeFile(t, s, FileData, FileWriterOptions{}, extremeRows(t, s)[1:3]...)
	small := &Schema{Version: 2, Columns: []Column{
		{ID: 1, Name: "k", Type: Type{Kind: KindBigInt, Unsigned: true}},
		{ID: 2, Name: "d", Type: Type{Kind: KindDecimal, Precision: 20, Scale: 2}, Nullable: true},
	}, Key: []int{1}}
	del, _ := writeFile(t, small, FileDelete, FileWriterOptions{Compression: CompressionNone},
		Row{Seq: 1, Op: OpDelete, Values: []any{uint64(7)}}, Row{Seq: 2, Op: OpUpdateBefore, Values: []any{uint64(8)}})
	snap, _ := writeFile(t, small, FileSnapshot, FileWriterOptions{Compression: CompressionNone},
		Row{Seq: 3, Op: OpSnapshot, Values: []any{uint64(9), "-1.25"}}, Row{Seq: 4, Op: OpSnapshot, Values: []any{uint64(10), nil}})
	old, err := os.ReadFile(goldenDir + "alltypes_v1.parquet")
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{data, del, snap, old}
}

// FuzzReadFile checks that no input makes ReadFile panic, and that whatever
// it accepts holds values the writer accepts too.
func FuzzReadFile(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := ReadFile(data)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		w, err := NewFileWriter(&buf, &fc.Schema, fc.Kind, FileWriterOptions{})
		if err != nil {
			t.Fatalf("ReadFile accepted a schema the writer refuses: %v", err)
		}
		if err := w.Write(fc.Rows...); err != nil {
			t.Fatalf("ReadFile returned rows the writer refuses: %v", err)
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := ReadFile(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, fc.Columns, again.Rows, fc.Rows)
	})
}

func TestFileLargeValuesStoredOnce(t *testing.T) {
	s := &Schema{Version: 1, Columns: []Column{
		{ID: 1, Name: "id", Type: Type{Kind: KindBigInt}},
		{ID: 2, Name: "b", Type: Type{Kind: KindBlob}},
		{ID: 3, Name: "t", Type: Type{Kind: KindText}},
	}, Key: []int{1}}
	rng := rand.New(rand.NewPCG(3, 4))
	blob := make([]byte, 1<<20)
	for i := range blob {
		blob[i] = byte(rng.IntN(256))
	}
	text := make([]byte, 1<<20)
	for i := range text {
		text[i] = byte('a' + rng.IntN(26))
	}
	row := Row{Seq: 1, Op: OpInsert, Values: []any{int64(1), blob, string(text)}}
	data, _ := writeFile(t, s, FileData, FileWriterOptions{}, row)
	// Statistics would add up to six copies of each value.
	if len(data) > 2<<20+64<<10 {
		t.Errorf("a file of a 1 MiB blob and a 1 MiB text takes %d bytes: values are stored more than once", len(data))
	}
	fc, err := ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, s.Columns, fc.Rows, []Row{row})
}

// TestSealFile: a file whose self-checksum is still the placeholder (as
// another writer leaves it) sealed in place equals the file binlake's own
// writer wrote, and the returned SHA-256 is the sealed file's; a file
// without the placeholder is refused.
func TestSealFile(t *testing.T) {
	sealed, err := os.ReadFile(goldenDir + "alltypes_v1.parquet")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := checkSelfSum(sealed)
	if err != nil {
		t.Fatal(err)
	}
	open := bytes.Replace(sealed, []byte(sum), []byte(SelfSumPlaceholder), 1)
	path := filepath.Join(t.TempDir(), "f.parquet")
	if err := os.WriteFile(path, open, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := SealFile(f, int64(len(open)))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	whole := sha256.Sum256(sealed)
	if !bytes.Equal(after, sealed) || got != hex.EncodeToString(whole[:]) {
		t.Fatalf("sealed file differs from the original (sum %s)", got)
	}
	if _, err := SealFile(f, int64(len(open))); !errors.Is(err, ErrCorruptFile) {
		t.Fatalf("sealing a sealed file: %v, want ErrCorruptFile", err)
	}
}
