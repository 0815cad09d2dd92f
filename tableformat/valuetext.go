package tableformat

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The value text is how the log writes a single value of a column type:
// a column's initial default (FORMAT.md §5) — the value rows written
// before the column existed hold in it — and the key a re-snapshot chunk
// ends at (§15). One form per type kind:
//
//	tinyint…bigint, year, bit   decimal integer ("-12", "2024", "5")
//	decimal                     the canonical decimal text ("12.50")
//	float, double               the shortest decimal that reads back as the value ("0.1")
//	date                        YYYY-MM-DD
//	datetime                    YYYY-MM-DDTHH:MM:SS, then .ffffff when the fsp is above 0
//	timestamp                   the same in UTC, with a trailing Z
//	time                        [-]H:MM:SS, then .ffffff when the fsp is above 0 (hours up to 838)
//	char…text, enum, set, json  the text itself
//	inet4, inet6                the text itself (canonical, FormatInet4/FormatInet6)
//	uuid                        8-4-4-4-12 lower-case hex digits (FormatUUID)
//	binary…blob, geometry       standard base64 of the bytes
//
// Readers accept 0 to 6 fraction digits; writers write exactly 6.

// FormatValue returns the value text of v, a value of type t (never nil:
// NULL has no value text).
func FormatValue(t Type, v any) (string, error) {
	if err := checkValue(t, v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case int64:
		switch t.Kind {
		case KindDatetime, KindTimestamp:
			s := time.UnixMicro(x).UTC().Format("2006-01-02T15:04:05")
			if t.FSP > 0 {
				s += fmt.Sprintf(".%06d", ((x%1_000_000)+1_000_000)%1_000_000)
			}
			if t.Kind == KindTimestamp {
				s += "Z"
			}
			return s, nil
		case KindTime:
			return formatTimeMicros(x, t.FSP > 0), nil
		}
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case int32:
		return time.Unix(int64(x)*86400, 0).UTC().Format("2006-01-02"), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case string:
		return x, nil
	case []byte:
		if t.Kind == KindUUID {
			return FormatUUID(x)
		}
		return base64.StdEncoding.EncodeToString(x), nil
	}
	return "", wrongGoType(v, "a value of the Type contract")
}

// ParseValue reads the value text of a value of type t into the Go value of
// the Type contract.
func ParseValue(t Type, s string) (any, error) {
	v, err := parseDefaultText(t, s)
	if err != nil {
		return nil, fmt.Errorf("value %q of a %s column: %w", abbreviate(s), t.Kind, err)
	}
	if err := checkValue(t, v); err != nil {
		return nil, fmt.Errorf("value %q of a %s column: %w", abbreviate(s), t.Kind, err)
	}
	return v, nil
}

func parseDefaultText(t Type, s string) (any, error) {
	switch t.Kind {
	case KindTinyInt, KindSmallInt, KindMediumInt, KindInt, KindBigInt:
		if t.Unsigned {
			return strconv.ParseUint(s, 10, 64)
		}
		return strconv.ParseInt(s, 10, 64)
	case KindYear:
		return strconv.ParseInt(s, 10, 64)
	case KindBit:
		return strconv.ParseUint(s, 10, 64)
	case KindDecimal:
		return s, nil
	case KindFloat:
		f, err := strconv.ParseFloat(s, 32)
		return float32(f), err
	case KindDouble:
		return strconv.ParseFloat(s, 64)
	case KindDate:
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return nil, err
		}
		return int32(d.Unix() / 86400), nil
	case KindDatetime, KindTimestamp:
		layout := "2006-01-02T15:04:05.999999"
		if t.Kind == KindTimestamp {
			layout += "Z"
		}
		d, err := time.Parse(layout, s)
		if err != nil {
			return nil, err
		}
		return d.UnixMicro(), nil
	case KindTime:
		return parseTimeMicros(s)
	case KindBinary, KindVarbinary, KindBlob, KindGeometry:
		return base64.StdEncoding.DecodeString(s)
	case KindUUID:
		return ParseUUID(s)
	}
	return s, nil // char…text, enum, set, json, inet4, inet6
}

// formatTimeMicros renders a TIME value as [-]H:MM:SS[.ffffff].
func formatTimeMicros(us int64, frac bool) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	secs := us / 1_000_000
	s := fmt.Sprintf("%s%d:%02d:%02d", sign, secs/3600, secs/60%60, secs%60)
	if frac {
		s += fmt.Sprintf(".%06d", us%1_000_000)
	}
	return s
}

// parseTimeMicros reads [-]H:MM:SS[.f…] into microseconds.
func parseTimeMicros(s string) (int64, error) {
	bad := fmt.Errorf("want [-]H:MM:SS[.ffffff]")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	parts := strings.Split(whole, ":")
	if len(parts) != 3 || len(parts[1]) != 2 || len(parts[2]) != 2 || hasFrac && (len(frac) == 0 || len(frac) > 6) {
		return 0, bad
	}
	var n [3]int64
	for i, p := range parts {
		if p == "" || !allDigits(p) {
			return 0, bad
		}
		n[i], _ = strconv.ParseInt(p, 10, 64)
	}
	if n[1] > 59 || n[2] > 59 {
		return 0, bad
	}
	us := ((n[0]*60+n[1])*60 + n[2]) * 1_000_000
	if hasFrac {
		if !allDigits(frac) {
			return 0, bad
		}
		f, _ := strconv.ParseInt((frac + "00000")[:6], 10, 64)
		us += f
	}
	if neg {
		us = -us
	}
	return us, nil
}

// checkValue checks v against type t as a file writer would (ranges,
// canonical forms, labels, fractional digits).
func checkValue(t Type, v any) error {
	cc, err := newColumnCodec(Column{ID: 1, Name: "default", Type: t})
	if err != nil {
		return err
	}
	scratch := make([]byte, 0, 16)
	_, err = cc.encode(v, &scratch)
	return err
}

// Fill returns the value rows written before c existed hold in it: its
// initial default, or nil (NULL).
func (c Column) Fill() (any, error) {
	if c.InitialDefault == nil {
		return nil, nil
	}
	v, err := ParseValue(c.Type, *c.InitialDefault)
	if err != nil {
		return nil, fmt.Errorf("initial default: %w", err)
	}
	return v, nil
}
