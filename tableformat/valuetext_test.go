package tableformat

import (
	"bytes"
	"reflect"
	"testing"
)

func TestInitialDefaultRoundTrip(t *testing.T) {
	cases := []struct {
		typ  Type
		v    any
		text string
	}{
		{Type{Kind: KindInt}, int64(-12), "-12"},
		{Type{Kind: KindBigInt, Unsigned: true}, uint64(18446744073709551615), "18446744073709551615"},
		{Type{Kind: KindYear}, int64(0), "0"},
		{Type{Kind: KindYear}, int64(2024), "2024"},
		{Type{Kind: KindBit, Length: 4}, uint64(5), "5"},
		{Type{Kind: KindDecimal, Precision: 5, Scale: 2}, "-12.50", "-12.50"},
		{Type{Kind: KindDecimal, Precision: 50, Scale: 0}, "12345678901234567890123456789012345678901234567890", "12345678901234567890123456789012345678901234567890"},
		{Type{Kind: KindFloat}, float32(0.1), "0.1"},
		{Type{Kind: KindDouble}, 1e300, "1e+300"},
		{Type{Kind: KindDate}, int32(-719528), "0000-01-01"},
		{Type{Kind: KindDate}, int32(18262), "2020-01-01"},
		{Type{Kind: KindDatetime}, int64(1577836800_000000), "2020-01-01T00:00:00"},
		{Type{Kind: KindDatetime, FSP: 6}, int64(-1), "1969-12-31T23:59:59.999999"},
		{Type{Kind: KindTimestamp, FSP: 3}, int64(1577836800_123000), "2020-01-01T00:00:00.123000Z"},
		{Type{Kind: KindTime}, int64(-(838*3600 + 59*60 + 59) * 1_000_000), "-838:59:59"},
		{Type{Kind: KindTime, FSP: 2}, int64(3_600_000_000 + 10_000), "1:00:00.010000"},
		{Type{Kind: KindVarchar}, "none", "none"},
		{Type{Kind: KindChar}, "", ""},
		{Type{Kind: KindEnum, Elems: []string{"a", "b"}}, "b", "b"},
		{Type{Kind: KindSet, Elems: []string{"a", "b"}}, "a,b", "a,b"},
		{Type{Kind: KindJSON}, `{"a":1}`, `{"a":1}`},
		{Type{Kind: KindBinary, Length: 3}, []byte{0, 0, 0}, "AAAA"},
		{Type{Kind: KindBlob}, []byte{}, ""},
		{Type{Kind: KindUUID}, []byte{0x6c, 0xcd, 0x78, 0x0c, 0xba, 0xba, 0x10, 0x26, 0x95, 0x64, 0x5b, 0x8c, 0x65, 0x60, 0x24, 0xdb}, "6ccd780c-baba-1026-9564-5b8c656024db"},
		{Type{Kind: KindUUID}, make([]byte, 16), "00000000-0000-0000-0000-000000000000"},
		{Type{Kind: KindInet4}, "0.0.0.0", "0.0.0.0"},
		{Type{Kind: KindInet6}, "::ffff:1.2.3.4", "::ffff:1.2.3.4"},
	}
	for _, c := range cases {
		got, err := FormatValue(c.typ, c.v)
		if err != nil || got != c.text {
			t.Errorf("format %s %v: %q, %v; want %q", c.typ.Kind, c.v, got, err, c.text)
			continue
		}
		back, err := ParseValue(c.typ, got)
		if err != nil || !reflect.DeepEqual(back, c.v) {
			t.Errorf("parse %s %q: %#v, %v; want %#v", c.typ.Kind, got, back, err, c.v)
		}
	}
}

func TestInitialDefaultRefused(t *testing.T) {
	cases := []struct {
		typ  Type
		text string
	}{
		{Type{Kind: KindTinyInt}, "300"},
		{Type{Kind: KindInt, Unsigned: true}, "-1"},
		{Type{Kind: KindDecimal, Precision: 5, Scale: 2}, "1.5"}, // not canonical
		{Type{Kind: KindDate}, "2020-13-01"},
		{Type{Kind: KindDatetime}, "2020-01-01T00:00:00.5"}, // more digits than fsp 0
		{Type{Kind: KindTime}, "839:00:00"},
		{Type{Kind: KindEnum, Elems: []string{"a"}}, "b"},
		{Type{Kind: KindJSON}, "{"},
		{Type{Kind: KindBinary, Length: 2}, "AAAA"}, // 3 bytes
		{Type{Kind: KindYear}, "1900"},
		{Type{Kind: KindUUID}, "6CCD780C-BABA-1026-9564-5B8C656024DB"}, // one text per value: lower case
		{Type{Kind: KindUUID}, "bM14DCA"},
		{Type{Kind: KindInet4}, "010.0.0.1"},
		{Type{Kind: KindInet6}, "0::1"},
	}
	for _, c := range cases {
		if v, err := ParseValue(c.typ, c.text); err == nil {
			t.Errorf("%s %q: read as %#v, want an error", c.typ.Kind, c.text, v)
		}
		s := Schema{Version: 1, Columns: []Column{{ID: 1, Name: "c", Type: c.typ, InitialDefault: &c.text}}}
		if err := s.Validate(); err == nil {
			t.Errorf("%s %q: schema validates", c.typ.Kind, c.text)
		}
	}
}

// TestProjectFillsInitialDefault: rows of a file written before a column
// was added read its initial default; a column without one reads NULL.
func TestProjectFillsInitialDefault(t *testing.T) {
	v1 := &Schema{Version: 1, Columns: []Column{{ID: 1, Name: "id", Type: Type{Kind: KindInt}}}, Key: []int{1}}
	var buf bytes.Buffer
	w, err := NewFileWriter(&buf, v1, FileData, FileWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Row{Seq: 1, TS: 1, Op: OpInsert, Values: []any{int64(7)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fc, err := ReadFile(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	note := "none"
	v2 := &Schema{Version: 2, Key: []int{1}, Columns: []Column{v1.Columns[0],
		{ID: 2, Name: "note", Type: Type{Kind: KindVarchar}, InitialDefault: &note},
		{ID: 3, Name: "n", Type: Type{Kind: KindInt}, Nullable: true}}}
	rows, err := fc.Project(v2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{int64(7), "none", nil}; !reflect.DeepEqual(rows[0].Values, want) {
		t.Fatalf("projected %#v, want %#v", rows[0].Values, want)
	}
}
