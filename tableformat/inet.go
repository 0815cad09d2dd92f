package tableformat

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// This file holds the text forms of the uuid, inet4 and inet6 kinds
// (FORMAT.md §12, canonical values): a UUID's text, and the one text of an
// IPv4 or IPv6 address that a column of these kinds stores, which is the
// text MariaDB prints for the address. Sources format binary addresses with
// FormatInet4 and FormatInet6, so every path into the lake gives one text.

// errUUIDText: a UUID's value text is not the canonical form.
var errUUIDText = errors.New("want 8-4-4-4-12 lower-case hex digits")

// FormatUUID returns the text of a 16-byte UUID: its bytes in order as 32
// lower-case hex digits, grouped 8-4-4-4-12 by hyphens
// ("6ccd780c-baba-1026-9564-5b8c656024db").
func FormatUUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("a uuid holds 16 bytes, not %d", len(b))
	}
	var buf [36]byte
	hex.Encode(buf[0:8], b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], b[10:16])
	return string(buf[:]), nil
}

// ParseUUID reads the text FormatUUID writes (and only it: lower-case
// digits, hyphens where FormatUUID puts them) into the UUID's 16 bytes.
func ParseUUID(s string) ([]byte, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, errUUIDText
	}
	digits := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if strings.ToLower(digits) != digits {
		return nil, errUUIDText
	}
	b, err := hex.DecodeString(digits)
	if err != nil {
		return nil, errUUIDText
	}
	return b, nil
}

// FormatInet4 returns the text of a 4-byte IPv4 address: four decimal
// numbers without leading zeros, joined by dots.
func FormatInet4(b []byte) (string, error) {
	if len(b) != 4 {
		return "", fmt.Errorf("an inet4 address holds 4 bytes, not %d", len(b))
	}
	return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3]), nil
}

// FormatInet6 returns the text of a 16-byte IPv6 address as MariaDB prints
// an INET6 value (and MySQL's INET6_NTOA): the eight 16-bit groups in
// lower-case hex without leading zeros, joined by colons, the longest run of
// zero groups (the first of runs of equal length, even a run of one group)
// written as "::". An address whose first five groups are zero and whose
// sixth is ffff (IPv4-mapped), or whose first six groups alone are zero
// (IPv4-compatible: the seventh group is not zero), ends in its last four
// bytes as dotted decimal ("::ffff:1.2.3.4", "::1.2.3.4"). This differs from
// RFC 5952 (a single zero group is compressed here) and from Go's
// net/netip.
func FormatInet6(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("an inet6 address holds 16 bytes, not %d", len(b))
	}
	var words [8]uint16
	for i := range words {
		words[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	// The gap: the first longest run of zero groups.
	gapPos, gapLen := -1, 0
	for i := 0; i < 8; {
		if words[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && words[j] == 0 {
			j++
		}
		if j-i > gapLen {
			gapPos, gapLen = i, j-i
		}
		i = j
	}
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		switch {
		case i == gapPos:
			if i == 0 {
				sb.WriteByte(':')
			}
			sb.WriteByte(':')
			i += gapLen - 1
		case i == 6 && gapPos == 0 && (gapLen == 6 || gapLen == 5 && words[5] == 0xffff):
			v4, _ := FormatInet4(b[12:16])
			sb.WriteString(v4)
			return sb.String(), nil
		default:
			sb.WriteString(strconv.FormatUint(uint64(words[i]), 16))
			if i != 7 {
				sb.WriteByte(':')
			}
		}
	}
	return sb.String(), nil
}

// ParseInet4 reads an IPv4 address in dotted decimal without leading zeros
// into its 4 bytes.
func ParseInet4(s string) ([]byte, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("%q is not an IPv4 address in dotted decimal", s)
	}
	b := a.As4()
	return b[:], nil
}

// ParseInet6 reads an IPv6 address in any of the standard text forms
// (groups of hex digits of any case, with or without "::", with or without
// a dotted IPv4 tail; no zone) into its 16 bytes.
func ParseInet6(s string) ([]byte, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return nil, fmt.Errorf("%q is not an IPv6 address", s)
	}
	b := a.As16()
	return b[:], nil
}

// checkInet reports whether s is the canonical text of an inet4 (v6 false)
// or inet6 address: the text FormatInet4 or FormatInet6 gives its bytes.
func checkInet(s string, v6 bool) error {
	parse, format, kind := ParseInet4, FormatInet4, KindInet4
	if v6 {
		parse, format, kind = ParseInet6, FormatInet6, KindInet6
	}
	b, err := parse(s)
	if err != nil {
		return err
	}
	if canonical, _ := format(b); canonical != s {
		return fmt.Errorf("%s text %q is not canonical: %q", kind, s, canonical)
	}
	return nil
}
