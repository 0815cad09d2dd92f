package mysql

import (
	"errors"
	"math"
	"testing"

	"github.com/binlake/binlake/tableformat"
)

func TestParseTime(t *testing.T) {
	const s = 1_000_000
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "00:00:00", want: 0},
		{in: "12:34:56", want: (12*3600 + 34*60 + 56) * s},
		{in: "838:59:59", want: maxTimeMicros},
		{in: "-838:59:59", want: -maxTimeMicros},
		{in: "-838:59:59.000000", want: -maxTimeMicros},
		{in: "838:59:59.000001", bad: true},
		{in: "839:00:00", bad: true},
		{in: "100:00:00", want: 100 * 3600 * s},
		{in: "-00:00:00.5", want: -500_000},
		{in: "-00:00:01.000001", want: -1_000_001},
		{in: "01:02:03.123", want: (3600+2*60+3)*s + 123_000},
		{in: "24:00:00.000001", want: 24*3600*s + 1},
		{in: "1:00:00", want: 3600 * s},
		{in: "12:60:00", bad: true},
		{in: "12:00:60", bad: true},
		{in: "12:00:00.", bad: true},
		{in: "12:00:00.1234567", bad: true},
		{in: "12:00", bad: true},
		{in: "-", bad: true},
		{in: "", bad: true},
		{in: "ab:cd:ef", bad: true},
	} {
		got, err := ParseTime(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseTime(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTime(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDateAndDatetime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
		zero bool
		bad  bool
	}{
		{in: "1970-01-01", want: 0},
		{in: "1969-12-31", want: -1},
		{in: "1000-01-01", want: -354285},
		{in: "9999-12-31", want: 2932896},
		{in: "0000-01-01", want: -719528},
		{in: "2024-02-29", want: 19782},
		{in: "0000-00-00", zero: true},
		{in: "2020-00-00", zero: true},
		{in: "2020-01-00", zero: true},
		{in: "2021-02-29", zero: true},
		{in: "2020-13-01", zero: true},
		{in: "2020-1-01", bad: true},
		{in: "20200101", bad: true},
		{in: "2020-01-0x", bad: true},
	} {
		got, err := ParseDate(tc.in)
		switch {
		case tc.zero:
			if !errors.Is(err, ErrZeroDate) {
				t.Errorf("ParseDate(%q) = %d, %v; want ErrZeroDate", tc.in, got, err)
			}
		case tc.bad:
			if err == nil || errors.Is(err, ErrZeroDate) {
				t.Errorf("ParseDate(%q) = %d, %v; want a syntax error", tc.in, got, err)
			}
		case err != nil || got != tc.want:
			t.Errorf("ParseDate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}

	for _, tc := range []struct {
		in   string
		want int64
		zero bool
		bad  bool
	}{
		{in: "1970-01-01 00:00:00", want: 0},
		{in: "1970-01-01 00:00:01.5", want: 1_500_000},
		{in: "9999-12-31 23:59:59.999999", want: 253402300799999999},
		{in: "1000-01-01 00:00:00.000000", want: -30610224000000000},
		{in: "1969-12-31 23:59:59.999999", want: -1},
		{in: "0000-00-00 00:00:00", zero: true},
		{in: "0000-00-00 00:00:00.000000", zero: true},
		{in: "2020-02-00 10:00:00", zero: true},
		{in: "2020-02-01 24:00:00", bad: true},
		{in: "2020-02-01T10:00:00", bad: true},
		{in: "2020-02-01 10:00", bad: true},
	} {
		got, err := ParseDatetime(tc.in)
		switch {
		case tc.zero:
			if !errors.Is(err, ErrZeroDate) {
				t.Errorf("ParseDatetime(%q) = %d, %v; want ErrZeroDate", tc.in, got, err)
			}
		case tc.bad:
			if err == nil || errors.Is(err, ErrZeroDate) {
				t.Errorf("ParseDatetime(%q) = %d, %v; want a syntax error", tc.in, got, err)
			}
		case err != nil || got != tc.want:
			t.Errorf("ParseDatetime(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestCanonicalDecimal(t *testing.T) {
	for _, tc := range []struct {
		in         string
		prec, sc   int
		want       string
		shouldFail bool
	}{
		{in: "0", prec: 5, sc: 0, want: "0"},
		{in: "-0", prec: 5, sc: 0, want: "0"},
		{in: "-0.00", prec: 10, sc: 2, want: "0.00"},
		{in: "00012.5", prec: 10, sc: 2, want: "12.50"},
		{in: "0000012.50", prec: 10, sc: 2, want: "12.50"},
		{in: "-.5", prec: 10, sc: 2, want: "-0.50"},
		{in: "12.", prec: 10, sc: 2, want: "12.00"},
		{in: "-99999", prec: 5, sc: 0, want: "-99999"},
		{in: "1.2300", prec: 10, sc: 2, want: "1.23"},
		{in: "+7", prec: 3, sc: 1, want: "7.0"},
		{in: "1.234", prec: 10, sc: 2, shouldFail: true},
		{in: "100000", prec: 5, sc: 0, shouldFail: true},
		{in: "1e5", prec: 10, sc: 0, shouldFail: true},
		{in: "", prec: 10, sc: 0, shouldFail: true},
		{in: ".", prec: 10, sc: 0, shouldFail: true},
		{in: "-", prec: 10, sc: 0, shouldFail: true},
		{in: "1.2.3", prec: 10, sc: 2, shouldFail: true},
		{
			in:   "-99999999999999999999999999999999999.999999999999999999999999999999",
			prec: 65, sc: 30,
			want: "-99999999999999999999999999999999999.999999999999999999999999999999",
		},
	} {
		got, err := CanonicalDecimal(tc.in, tc.prec, tc.sc)
		if tc.shouldFail {
			if err == nil {
				t.Errorf("CanonicalDecimal(%q, %d, %d) = %q, want an error", tc.in, tc.prec, tc.sc, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CanonicalDecimal(%q, %d, %d) = %q, %v; want %q", tc.in, tc.prec, tc.sc, got, err, tc.want)
		}
	}
}

func TestSetAndEnumLabels(t *testing.T) {
	labels := []string{"a", "b,c", "it's", "d"}
	for _, tc := range []struct {
		mask uint64
		want string
		bad  bool
	}{
		{mask: 0, want: ""},
		{mask: 1, want: "a"},
		{mask: 0b1010, want: "b,c,d"},
		{mask: 0b1111, want: "a,b,c,it's,d"},
		{mask: 0b10000, bad: true},
	} {
		got, err := SetLabels(labels, tc.mask)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("SetLabels(%b) = %q, %v; want %q (error %v)", tc.mask, got, err, tc.want, tc.bad)
		}
	}
	many := make([]string, 64)
	for i := range many {
		many[i] = string(rune('A' + i%26))
	}
	if got, err := SetLabels(many, math.MaxUint64); err != nil || len(got) != 64*2-1 {
		t.Errorf("SetLabels(64 labels, all bits) = %q, %v", got, err)
	}
	for i, want := range []string{"", "a", "b,c", "it's", "d"} {
		if got, err := EnumLabel(labels, int64(i)); err != nil || got != want {
			t.Errorf("EnumLabel(%d) = %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := EnumLabel(labels, 5); err == nil {
		t.Errorf("EnumLabel(5) of 4 labels: want an error")
	}
}

func TestToUTF8(t *testing.T) {
	for _, tc := range []struct {
		in      []byte
		charset string
		want    string
		bad     bool
	}{
		{in: []byte("h\xc3\xa9 \xf0\x9f\x98\x80"), charset: "utf8mb4", want: "hé 😀"},
		{in: []byte("h\xc3\xa9"), charset: "utf8mb3", want: "hé"},
		{in: []byte("\xff"), charset: "utf8mb4", bad: true},
		{in: []byte("Gr\xfc\xdfe \x80 \x85 \xbd \x81 \xff"), charset: "latin1", want: "Grüße € … ½ \u0081 ÿ"},
		{in: []byte("\xae\x6c\x75\xbb\x6f"), charset: "latin2", want: "Žluťo"},
		{in: []byte{0x00, 0x41, 0xd8, 0x3d, 0xde, 0x00}, charset: "utf16", want: "A😀"},
		{in: []byte{0x00, 0xe9}, charset: "ucs2", want: "é"},
		{in: []byte("x"), charset: "nosuchcharset", bad: true},
		{in: []byte("x"), charset: "binary", bad: true},
	} {
		got, err := toUTF8(tc.in, tc.charset)
		if tc.bad {
			if err == nil {
				t.Errorf("toUTF8(%q, %s) = %q, want an error", tc.in, tc.charset, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("toUTF8(%q, %s) = %q, %v; want %q", tc.in, tc.charset, got, err, tc.want)
		}
	}
	// Every latin1 byte decodes to one valid character.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if s, err := toUTF8(all, "latin1"); err != nil || len([]rune(s)) != 256 {
		t.Errorf("latin1 of all bytes: %d runes, %v", len([]rune(s)), err)
	}
}

func TestDecodeBinlogValueUnit(t *testing.T) {
	ty := func(k tableformat.TypeKind, unsigned bool) tableformat.Type {
		return tableformat.Type{Kind: k, Unsigned: unsigned}
	}
	for _, tc := range []struct {
		t    tableformat.Type
		in   any
		want any
	}{
		{ty(tableformat.KindTinyInt, false), int8(-128), int64(-128)},
		{ty(tableformat.KindTinyInt, true), uint8(255), uint64(255)},
		{ty(tableformat.KindTinyInt, true), int8(-1), uint64(255)},
		{ty(tableformat.KindMediumInt, true), int32(-1), uint64(1<<24 - 1)},
		{ty(tableformat.KindBigInt, true), uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{ty(tableformat.KindBigInt, true), int64(-1), uint64(math.MaxUint64)},
		{ty(tableformat.KindSmallInt, false), uint16(65535), int64(-1)},
		{ty(tableformat.KindYear, false), 2155, int64(2155)},
		{tableformat.Type{Kind: tableformat.KindBinary, Length: 4}, "\x01", []byte{1, 0, 0, 0}},
		{tableformat.Type{Kind: tableformat.KindBit, Length: 64}, int64(-1), uint64(math.MaxUint64)},
		{tableformat.Type{Kind: tableformat.KindEnum, Elems: []string{"x", "y"}}, int64(2), "y"},
		{tableformat.Type{Kind: tableformat.KindSet, Elems: []string{"x", "y"}}, int64(3), "x,y"},
		{tableformat.Type{Kind: tableformat.KindDecimal, Precision: 5, Scale: 2}, "-0.00", "0.00"},
		{tableformat.Type{Kind: tableformat.KindText, Charset: "latin1"}, []byte("\xe9"), "é"},
		{tableformat.Type{Kind: tableformat.KindJSON, Charset: "utf8mb4"}, []byte(""), "null"},
		{tableformat.Type{Kind: tableformat.KindTime, FSP: 6}, "-838:59:59.000000", int64(-maxTimeMicros)},
	} {
		got, err := DecodeBinlogValue(tc.t, tc.in)
		if err != nil || !equalValue(got, tc.want) {
			t.Errorf("DecodeBinlogValue(%s, %#v) = %#v, %v; want %#v", tc.t, tc.in, got, err, tc.want)
		}
	}
	if v, err := DecodeBinlogValue(tableformat.Type{Kind: tableformat.KindDate}, "0000-00-00"); v != nil || !errors.Is(err, ErrZeroDate) {
		t.Errorf("zero date = %v, %v; want nil, ErrZeroDate", v, err)
	}
	if _, err := DecodeBinlogValue(tableformat.Type{Kind: tableformat.KindInt}, "12"); err == nil {
		t.Errorf("a string for an int column: want an error")
	}
	if _, err := DecodeBinlogValue(tableformat.Type{Kind: tableformat.KindBit, Length: 3}, int64(8)); err == nil {
		t.Errorf("8 in bit(3): want an error")
	}
}

// FuzzParsers checks that the text parsers never panic, that what they
// accept is in range, and that canonical decimals are a fixed point.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{"-838:59:59.000000", "12:00:00.5", "2020-00-00", "9999-12-31 23:59:59.999999", "-0012.50", "0", ".", "1e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if x, err := ParseTime(s); err == nil && (x > maxTimeMicros || x < -maxTimeMicros) {
			t.Errorf("ParseTime(%q) = %d out of range", s, x)
		}
		if d, err := ParseDate(s); err == nil && (d < -719528 || d > 2932896) {
			t.Errorf("ParseDate(%q) = %d out of range", s, d)
		}
		ParseDatetime(s)
		if c, err := CanonicalDecimal(s, 65, 10); err == nil {
			if again, err := CanonicalDecimal(c, 65, 10); err != nil || again != c {
				t.Errorf("CanonicalDecimal(%q) = %q, then %q, %v", s, c, again, err)
			}
		}
		toUTF8([]byte(s), "latin1")
		splitStatements(s)
	})
}
