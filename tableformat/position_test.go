package tableformat

import (
	"errors"
	"testing"
)

func TestGTIDSetContains(t *testing.T) {
	const u1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	const u2 = "4E11FA47-71CA-11E1-9E33-C80AA9429562"
	cases := []struct {
		set, other string
		want       bool
	}{
		{"0-1-46", "0-1-46", true},
		{"0-1-46", "0-1-45", true},
		{"0-1-46", "0-1-47", false},
		{"0-1-46", "0-2-40", true}, // the server id does not order transactions
		{"0-1-46,1-2-7", "1-2-7", true},
		{"0-1-46", "1-2-7", false},
		{"0-1-46", "0-1-46,1-1-1", false},
		{"0-1-46", "", true},
		{"", "0-1-1", false},
		{u1 + ":1-5:7", u1 + ":1-5", true},
		{u1 + ":1-5:7", u1 + ":6", false},
		{u1 + ":1-5:7", u1 + ":7", true},
		{u1 + ":1-5:6-9", u1 + ":4-8", true}, // adjacent intervals merge
		{u1 + ":1-5," + u2 + ":1-2", u2 + ":2", true},
		{u1 + ":1-5", u2 + ":1", false},
	}
	for _, c := range cases {
		g, err := ParseGTIDSet(c.set)
		if err != nil {
			t.Fatalf("parse %q: %v", c.set, err)
		}
		o, err := ParseGTIDSet(c.other)
		if err != nil {
			t.Fatalf("parse %q: %v", c.other, err)
		}
		got, err := g.ContainsSet(o)
		if err != nil || got != c.want {
			t.Errorf("%q ⊇ %q = %v, %v; want %v", c.set, c.other, got, err, c.want)
		}
	}
	g, _ := ParseGTIDSet("0-1-5")
	m, _ := ParseGTIDSet(u1 + ":1")
	if _, err := g.ContainsSet(m); !errors.Is(err, ErrGTIDFlavour) {
		t.Errorf("mixed flavours: %v", err)
	}
}

func TestGTIDSetParseErrors(t *testing.T) {
	for _, s := range []string{"0-1", "a-b-c", "0-1-2,0-3-4", "xyz:1", "3e11fa47-71ca-11e1-9e33-c80aa9429562:0",
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3", "3e11fa47-71ca-11e1-9e33-c80aa9429562", "-1-2-3"} {
		if _, err := ParseGTIDSet(s); err == nil {
			t.Errorf("ParseGTIDSet(%q) succeeded", s)
		}
	}
	if g, err := ParseGTIDSet(" 1-2-3 , 0-1-5"); err != nil || g.String() != "0-1-5,1-2-3" {
		t.Errorf("canonical form: %q %v", g.String(), err)
	}
}

func TestFilePos(t *testing.T) {
	f, p, err := ParseFilePos("mysql-bin.000003:1234")
	if err != nil || f != "mysql-bin.000003" || p != 1234 {
		t.Fatalf("got %q %d %v", f, p, err)
	}
	for _, s := range []string{"", "mysql-bin.000003", ":5", "mysql-bin:5", "mysql-bin.000003:x", "mysql-bin.00000x:5"} {
		if _, _, err := ParseFilePos(s); err == nil {
			t.Errorf("ParseFilePos(%q) succeeded", s)
		}
	}
	c, err := CompareFilePos("b.000010", 4, "b.000009", 999999)
	if err != nil || c != 1 {
		t.Errorf("file order by number: %d %v", c, err)
	}
	c, err = CompareFilePos("b.000010", 4, "b.000010", 5)
	if err != nil || c != -1 {
		t.Errorf("offset order: %d %v", c, err)
	}
	if _, err := CompareFilePos("a.000001", 4, "b.000001", 4); err == nil {
		t.Error("different logs compared")
	}
}

func FuzzParseGTIDSet(f *testing.F) {
	for _, s := range []string{"0-1-46", "0-1-46,1-2-7", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGTIDSet(s)
		if err != nil {
			return
		}
		// The canonical form parses to the same set.
		g2, err := ParseGTIDSet(g.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", g.String(), s, err)
		}
		if g2.String() != g.String() {
			t.Fatalf("canonical form unstable: %q → %q", g.String(), g2.String())
		}
		if ok, err := g.ContainsSet(g2); err != nil || !ok {
			t.Fatalf("%q does not contain itself: %v", s, err)
		}
	})
}
