package tableformat

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFormatInet6 pins the text of the addresses whose form MariaDB's
// INET6 decides: which zero run is compressed, single zero groups, the
// IPv4-mapped and IPv4-compatible tails (connectors/mysql checks the same
// texts against a running server).
func TestFormatInet6(t *testing.T) {
	cases := []struct{ hex, text string }{
		{"00000000000000000000000000000000", "::"},
		{"00000000000000000000000000000001", "::1"},
		{"ffffffffffffffffffffffffffffffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"00000000000000000000ffff01020304", "::ffff:1.2.3.4"},
		{"00000000000000000000ffff00000000", "::ffff:0.0.0.0"},
		{"00000000000000000000ffffffffffff", "::ffff:255.255.255.255"},
		{"00000000000000000000000001020304", "::1.2.3.4"},
		{"00000000000000000000000001020000", "::1.2.0.0"},
		{"00000000000000000000000000000102", "::102"},               // first six zero but the seventh too: not IPv4-compatible
		{"0000000000000000000000010000ffff", "::1:0:ffff"},          // only five leading zero groups, sixth not ffff
		{"000000000000000000010000ffff0102", "::1:0:ffff:102"},      // no IPv4 tail
		{"20010db8000000000000000000000001", "2001:db8::1"},         // the longest run
		{"20010db8000000010001000100010001", "2001:db8::1:1:1:1:1"}, // a single zero group is compressed (RFC 5952 would not)
		{"20010db8000000000001000000000001", "2001:db8::1:0:0:1"},   // runs of equal length: the first
		{"20010000000000010000000000000000", "2001:0:0:1::"},        // a longer run later wins
		{"00010000000000000000000000000000", "1::"},
		{"0001000200030004000500060007000a", "1:2:3:4:5:6:7:a"},
		{"fe800000000000000202b3fffe1e8329", "fe80::202:b3ff:fe1e:8329"},
		{"00000000000000000000ffff0a000001", "::ffff:10.0.0.1"},
		{"000000000000000000000000ffff0001", "::255.255.0.1"},
	}
	for _, c := range cases {
		b := mustHex(t, c.hex)
		got, err := FormatInet6(b)
		if err != nil || got != c.text {
			t.Errorf("FormatInet6(%s) = %q, %v; want %q", c.hex, got, err, c.text)
			continue
		}
		back, err := ParseInet6(got)
		if err != nil || !bytes.Equal(back, b) {
			t.Errorf("ParseInet6(%q) = %x, %v; want %s", got, back, err, c.hex)
		}
		if err := checkInet(got, true); err != nil {
			t.Errorf("checkInet(%q): %v", got, err)
		}
	}
	if _, err := FormatInet6(make([]byte, 15)); err == nil {
		t.Error("FormatInet6 of 15 bytes: no error")
	}
}

func TestFormatInet4(t *testing.T) {
	for b, text := range map[[4]byte]string{
		{0, 0, 0, 0}: "0.0.0.0", {255, 255, 255, 255}: "255.255.255.255", {10, 0, 0, 1}: "10.0.0.1", {1, 2, 3, 4}: "1.2.3.4",
	} {
		got, err := FormatInet4(b[:])
		if err != nil || got != text {
			t.Errorf("FormatInet4(%v) = %q, %v; want %q", b, got, err, text)
		}
		back, err := ParseInet4(text)
		if err != nil || !bytes.Equal(back, b[:]) {
			t.Errorf("ParseInet4(%q) = %v, %v", text, back, err)
		}
	}
	if _, err := FormatInet4([]byte{1, 2, 3}); err == nil {
		t.Error("FormatInet4 of 3 bytes: no error")
	}
}

// TestInetCanonical: a column stores one text per address; any other
// spelling of it, and anything that is not an address, is refused.
func TestInetCanonical(t *testing.T) {
	refused := []struct {
		v6   bool
		text string
	}{
		{false, "01.2.3.4"}, {false, "1.2.3"}, {false, "256.0.0.1"}, {false, "::1"}, {false, " 1.2.3.4"}, {false, ""},
		{true, "::FFFF:1.2.3.4"}, {true, "::ffff:102:304"}, {true, "0::1"}, {true, "2001:db8:0:1:1:1:1:1"},
		{true, "2001:0db8::1"}, {true, "1.2.3.4"}, {true, "fe80::1%eth0"}, {true, "::0.0.1.2"}, {true, ""}, {true, ":::"},
	}
	for _, c := range refused {
		if err := checkInet(c.text, c.v6); err == nil {
			t.Errorf("checkInet(%q, v6 %v): accepted", c.text, c.v6)
		}
	}
}

func TestUUIDText(t *testing.T) {
	b := mustHex(t, "6ccd780cbaba102695645b8c656024db")
	s, err := FormatUUID(b)
	if err != nil || s != "6ccd780c-baba-1026-9564-5b8c656024db" {
		t.Fatalf("FormatUUID = %q, %v", s, err)
	}
	back, err := ParseUUID(s)
	if err != nil || !bytes.Equal(back, b) {
		t.Fatalf("ParseUUID(%q) = %x, %v", s, back, err)
	}
	for _, bad := range []string{
		"6CCD780C-BABA-1026-9564-5B8C656024DB", "6ccd780cbaba102695645b8c656024db", "{6ccd780c-baba-1026-9564-5b8c656024db}",
		"6ccd780c-baba-1026-9564-5b8c656024d", "6ccd780c-baba-1026-9564-5b8c656024dx", "6ccd780c-baba-10269-564-5b8c656024db", "",
	} {
		if v, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) = %x, want an error", bad, v)
		}
	}
	if _, err := FormatUUID(b[:15]); err == nil {
		t.Error("FormatUUID of 15 bytes: no error")
	}
}

// FuzzInet6: every 16 bytes have one text, which reads back as them and is
// the canonical one.
func FuzzInet6(f *testing.F) {
	f.Add(make([]byte, 16))
	f.Add(mustHex(f, "00000000000000000000ffff01020304"))
	f.Add(mustHex(f, "20010db8000000010001000100010001"))
	f.Add(mustHex(f, "00000000000000000000000001020304"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 16 {
			if _, err := FormatInet6(b); err == nil {
				t.Fatalf("FormatInet6 of %d bytes: no error", len(b))
			}
			return
		}
		s, err := FormatInet6(b)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseInet6(s)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("%x → %q → %x, %v", b, s, back, err)
		}
		if err := checkInet(s, true); err != nil {
			t.Fatalf("%x → %q: %v", b, s, err)
		}
	})
}
