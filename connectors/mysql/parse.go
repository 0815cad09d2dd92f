package mysql

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

const (
	microsPerSecond = 1_000_000
	microsPerDay    = 86_400 * microsPerSecond
	// maxTimeMicros is TIME's range, ±838:59:59.
	maxTimeMicros = (838*3600 + 59*60 + 59) * microsPerSecond
)

// ParseDate parses MySQL DATE text (YYYY-MM-DD) into days since 1970-01-01.
// A zero or invalid date ('0000-00-00', '2020-00-00', '2021-02-30') yields
// ErrZeroDate.
func ParseDate(s string) (int32, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	days, err := civilDays(y, m, d)
	return int32(days), err
}

// ParseDatetime parses MySQL DATETIME or TIMESTAMP text (YYYY-MM-DD
// hh:mm:ss[.f…]) into microseconds since 1970-01-01T00:00:00 of the same
// wall clock. Zero or invalid dates yield ErrZeroDate.
func ParseDatetime(s string) (int64, error) {
	if len(s) < 19 || s[10] != ' ' {
		return 0, fmt.Errorf("datetime %q is not YYYY-MM-DD hh:mm:ss[.ffffff]", s)
	}
	days, err := ParseDate(s[:10])
	if err != nil {
		if errors.Is(err, ErrZeroDate) {
			return 0, err
		}
		return 0, fmt.Errorf("datetime %q: %w", s, err)
	}
	clock, err := parseClock(s[11:], 2)
	if err != nil {
		return 0, fmt.Errorf("datetime %q: %w", s, err)
	}
	if clock >= microsPerDay {
		return 0, fmt.Errorf("datetime %q: time of day past 23:59:59", s)
	}
	return int64(days)*microsPerDay + clock, nil
}

// ParseTime parses MySQL TIME text ([-]h…h:mm:ss[.f…]; hours beyond 24 and
// negative values included) into signed microseconds.
func ParseTime(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	colon := strings.IndexByte(body, ':')
	if colon < 1 {
		return 0, fmt.Errorf("time %q is not [-]hh:mm:ss[.ffffff]", s)
	}
	x, err := parseClock(body, colon)
	if err != nil {
		return 0, fmt.Errorf("time %q: %w", s, err)
	}
	if x > maxTimeMicros {
		return 0, fmt.Errorf("time %q is outside -838:59:59…838:59:59", s)
	}
	if neg {
		x = -x
	}
	return x, nil
}

// parseClock parses h…h:mm:ss[.f…] with hourDigits hour digits into
// microseconds.
func parseClock(s string, hourDigits int) (int64, error) {
	if len(s) < hourDigits+6 || s[hourDigits] != ':' || s[hourDigits+3] != ':' {
		return 0, fmt.Errorf("%q is not hh:mm:ss", s)
	}
	h, ok1 := digits(s[:hourDigits])
	m, ok2 := digits(s[hourDigits+1 : hourDigits+3])
	sec, ok3 := digits(s[hourDigits+4 : hourDigits+6])
	if !ok1 || !ok2 || !ok3 || m > 59 || sec > 59 {
		return 0, fmt.Errorf("%q is not hh:mm:ss", s)
	}
	x := (int64(h)*3600 + int64(m)*60 + int64(sec)) * microsPerSecond
	rest := s[hourDigits+6:]
	if rest == "" {
		return x, nil
	}
	frac := rest[1:]
	f, ok := digits(frac)
	if rest[0] != '.' || !ok || len(frac) == 0 || len(frac) > 6 {
		return 0, fmt.Errorf("fraction %q is not 1…6 digits", rest)
	}
	for range 6 - len(frac) {
		f *= 10
	}
	return x + int64(f), nil
}

// civilDays returns the days from 1970-01-01 to a proleptic Gregorian date,
// or ErrZeroDate when the month or day is zero or past the month's end.
func civilDays(y, m, d int) (int64, error) {
	if m < 1 || m > 12 || d < 1 {
		return 0, ErrZeroDate
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return 0, ErrZeroDate
	}
	return t.Unix() / 86_400, nil
}

// digits parses a non-empty string of ASCII digits (at most 9).
func digits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// CanonicalDecimal rewrites decimal text (as go-mysql or the text protocol
// give it, ZEROFILL padding included) into the canonical form tableformat
// stores: an optional "-" (never on zero), the integer digits without
// leading zeros ("0" when none), and "." with exactly scale digits when
// scale > 0. It never rounds: extra fraction digits must be zeros, and the
// integer part must fit precision-scale digits.
func CanonicalDecimal(s string, precision, scale int) (string, error) {
	body := s
	neg := false
	if strings.HasPrefix(body, "-") {
		neg, body = true, body[1:]
	} else if strings.HasPrefix(body, "+") {
		body = body[1:]
	}
	intPart, frac, hasDot := strings.Cut(body, ".")
	if (intPart == "" && frac == "") || !allDigits(intPart) || !allDigits(frac) || (hasDot && frac == "" && intPart == "") {
		return "", fmt.Errorf("decimal %q is not [-]digits[.digits]", s)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return "", fmt.Errorf("decimal %q has more than %d fraction digits", s, scale)
		}
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", scale-len(frac))
	if len(intPart) > precision-scale {
		return "", fmt.Errorf("decimal %q does not fit decimal(%d,%d)", s, precision, scale)
	}
	if intPart == "" {
		intPart = "0"
	}
	if intPart == "0" && strings.Trim(frac, "0") == "" {
		neg = false
	}
	var b strings.Builder
	b.Grow(len(intPart) + len(frac) + 2)
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(intPart)
	if scale > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// toUTF8 converts text stored in a MySQL/MariaDB charset into valid UTF-8.
func toUTF8(b []byte, charset string) (string, error) {
	switch charset {
	case "", "utf8mb4", "utf8mb3", "utf8", "ascii":
		if !utf8.Valid(b) {
			return "", fmt.Errorf("invalid %s text at byte %d", charsetName(charset), invalidAt(b))
		}
		return string(b), nil
	case "latin1":
		return latin1ToUTF8(b), nil
	case "binary":
		return "", errors.New("binary charset is not text")
	}
	enc := charsetEncoding(charset)
	if enc == nil {
		return "", fmt.Errorf("charset %s is not supported", charset)
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", fmt.Errorf("decode %s text: %w", charset, err)
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("decode %s text: invalid result", charset)
	}
	return string(out), nil
}

func charsetName(cs string) string {
	if cs == "" {
		return "utf8mb4"
	}
	return cs
}

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// latin1ToUTF8 decodes MySQL's latin1, which is Windows-1252 with the five
// bytes cp1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) mapped to the C1
// controls of the same value, so every byte has a character.
func latin1ToUTF8(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		switch {
		case c < 0x80 || c >= 0xa0:
			sb.WriteRune(rune(c))
		default:
			sb.WriteRune(cp1252High(c))
		}
	}
	return sb.String()
}

func cp1252High(c byte) rune {
	switch c {
	case 0x81, 0x8d, 0x8f, 0x90, 0x9d:
		return rune(c)
	}
	r := charmap.Windows1252.DecodeByte(c)
	return r
}

// charsetEncoding returns the x/text decoder of a MariaDB charset, or nil.
func charsetEncoding(cs string) encoding.Encoding {
	switch cs {
	case "ucs2", "utf16":
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	case "utf16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case "utf32":
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)
	case "latin2":
		return charmap.ISO8859_2
	case "latin5":
		return charmap.ISO8859_9
	case "latin7":
		return charmap.ISO8859_13
	case "greek":
		return charmap.ISO8859_7
	case "hebrew":
		return charmap.ISO8859_8
	case "cp1250":
		return charmap.Windows1250
	case "cp1251":
		return charmap.Windows1251
	case "cp1256":
		return charmap.Windows1256
	case "cp1257":
		return charmap.Windows1257
	case "cp850":
		return charmap.CodePage850
	case "cp852":
		return charmap.CodePage852
	case "cp866":
		return charmap.CodePage866
	case "koi8r":
		return charmap.KOI8R
	case "koi8u":
		return charmap.KOI8U
	case "macroman":
		return charmap.Macintosh
	case "tis620":
		return charmap.Windows874
	case "sjis", "cp932":
		return japanese.ShiftJIS
	case "ujis", "eucjpms":
		return japanese.EUCJP
	case "euckr":
		return korean.EUCKR
	case "gbk", "gb2312":
		return simplifiedchinese.GBK
	case "big5":
		return traditionalchinese.Big5
	}
	return nil
}
