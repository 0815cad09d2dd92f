package mysql

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/tableformat"
)

var (
	uuidType  = fixedBinaryType(tableformat.KindUUID)
	inet4Type = fixedBinaryType(tableformat.KindInet4)
	inet6Type = fixedBinaryType(tableformat.KindInet6)
)

// TestDecodeUUIDInet: the binlog's bytes (trailing zero bytes dropped) and
// the snapshot's (CAST(… AS BINARY(n)), whole) decode to one value: a UUID's
// 16 bytes, an address's canonical text.
func TestDecodeUUIDInet(t *testing.T) {
	v1 := []byte{0x6c, 0xcd, 0x78, 0x0c, 0xba, 0xba, 0x10, 0x26, 0x95, 0x64, 0x5b, 0x8c, 0x65, 0x60, 0x24, 0xdb}
	trailing := append(bytes.Clone(v1[:14]), 0, 0) // 123e4567-…-426614170000 style: the binlog drops the zeros
	for _, tc := range []struct {
		t        tableformat.Type
		binlog   string // as go-mysql hands it over
		snapshot []byte // as SnapshotSelectExpr reads it
		want     any
	}{
		{uuidType, string(v1), v1, v1},
		{uuidType, string(trailing[:14]), trailing, trailing},
		{uuidType, "", make([]byte, 16), make([]byte, 16)},
		{uuidType, strings.Repeat("\xff", 16), bytes.Repeat([]byte{0xff}, 16), bytes.Repeat([]byte{0xff}, 16)},
		{inet4Type, "", []byte{0, 0, 0, 0}, "0.0.0.0"},
		{inet4Type, "\x0a", []byte{10, 0, 0, 0}, "10.0.0.0"},
		{inet4Type, "\xff\xff\xff\xff", []byte{255, 255, 255, 255}, "255.255.255.255"},
		{inet6Type, "", make([]byte, 16), "::"},
		{inet6Type, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04", []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04"), "::ffff:1.2.3.4"},
		{inet6Type, "\x20\x01\x0d\xb8", []byte("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "2001:db8::"},
		{inet6Type, strings.Repeat("\xff", 16), bytes.Repeat([]byte{0xff}, 16), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	} {
		got, err := DecodeBinlogValue(tc.t, tc.binlog)
		if err != nil || !equalValue(got, tc.want) {
			t.Errorf("DecodeBinlogValue(%s, %q) = %#v, %v; want %#v", tc.t, tc.binlog, got, err, tc.want)
		}
		got, err = DecodeBinlogValue(tc.t, []byte(tc.binlog))
		if err != nil || !equalValue(got, tc.want) {
			t.Errorf("DecodeBinlogValue(%s, []byte %q) = %#v, %v; want %#v", tc.t, tc.binlog, got, err, tc.want)
		}
		got, err = DecodeSnapshotValue(tc.t, tc.snapshot)
		if err != nil || !equalValue(got, tc.want) {
			t.Errorf("DecodeSnapshotValue(%s, %x) = %#v, %v; want %#v", tc.t, tc.snapshot, got, err, tc.want)
		}
		if _, err := tableformat.FormatValue(tc.t, got); err != nil {
			t.Errorf("%s %#v is not a lake value: %v", tc.t, got, err)
		}
	}
	for _, bad := range []struct {
		t tableformat.Type
		v any
	}{
		{uuidType, strings.Repeat("x", 17)}, {inet4Type, "12345"}, {inet6Type, int64(1)}, {uuidType, uint64(1)},
	} {
		if v, err := DecodeBinlogValue(bad.t, bad.v); err == nil {
			t.Errorf("DecodeBinlogValue(%s, %#v) = %#v, want an error", bad.t, bad.v, v)
		}
	}
	if v, err := DecodeSnapshotValue(uuidType, []byte("6ccd780c-baba-1026-9564-5b8c656024db")); err == nil {
		t.Errorf("the snapshot reads a UUID's bytes, not its text: %#v", v)
	}
	if v, err := DecodeSnapshotValue(inet6Type, nil); v != nil || err != nil {
		t.Errorf("NULL: %#v, %v", v, err)
	}
}

func TestSnapshotSelectExprBinaryTypes(t *testing.T) {
	for typ, want := range map[tableformat.TypeKind]string{
		tableformat.KindUUID: "CAST(`a``b` AS BINARY(16))", tableformat.KindInet6: "CAST(`a``b` AS BINARY(16))",
		tableformat.KindInet4: "CAST(`a``b` AS BINARY(4))", tableformat.KindBinary: "`a``b`",
	} {
		if got := SnapshotSelectExpr(TableColumn{Name: "a`b", Type: tableformat.Type{Kind: typ}}); got != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
	}
}

// TestKeyLiteralBinaryTypes: a chunk's last key, after its round trip
// through the value text, is a literal the server compares with the column.
func TestKeyLiteralBinaryTypes(t *testing.T) {
	for _, tc := range []struct {
		t    tableformat.Type
		text string
		want string
	}{
		{uuidType, "6ccd780c-baba-1026-9564-5b8c656024db", "'6ccd780c-baba-1026-9564-5b8c656024db'"},
		{inet6Type, "::1", "_utf8mb4 X'3a3a31'"},
		{inet4Type, "1.2.3.4", "_utf8mb4 X'312e322e332e34'"},
	} {
		v, err := tableformat.ParseValue(tc.t, tc.text)
		if err != nil {
			t.Fatal(err)
		}
		got, err := keyLiteral(tc.t, v)
		if err != nil || got != tc.want {
			t.Errorf("keyLiteral(%s, %q) = %s, %v; want %s", tc.t, tc.text, got, err, tc.want)
		}
		if !rangeable(tc.t) {
			t.Errorf("%s key cannot bound a chunk", tc.t)
		}
	}
}

func tableCols(specs ...string) []TableColumn {
	var out []TableColumn
	for _, s := range specs {
		name, typ, _ := strings.Cut(s, " ")
		c := TableColumn{Name: name, Type: tableformat.Type{Kind: tableformat.KindInt}}
		switch typ {
		case "binary(16)":
			c.Type = tableformat.Type{Kind: tableformat.KindBinary, Length: 16, SQL: typ}
		case "binary(4)":
			c.Type = tableformat.Type{Kind: tableformat.KindBinary, Length: 4, SQL: typ}
		}
		out = append(out, c)
	}
	return out
}

func kindsOf(cols []TableColumn) string {
	var out []string
	for _, c := range cols {
		out = append(out, c.Name+" "+c.Type.String())
	}
	return strings.Join(out, ", ")
}

func TestRefineBinaryTypes(t *testing.T) {
	cols := tableCols("id binary(16)", "a binary(4)", "B binary(16)", "c binary(16)", "d int", "e binary(4)")
	refineBinaryTypes(cols, columnKinds{
		"id": tableformat.KindUUID, "a": tableformat.KindInet4, "b": tableformat.KindInet6,
		"c": tableformat.KindInet4, // a length that does not fit: left binary
		"d": tableformat.KindUUID,  // not logged as binary: left as it is
	})
	want := "id uuid, a inet4, B inet6, c binary(16), d int, e binary(4)"
	if got := kindsOf(cols); got != want {
		t.Errorf("refined: %s\nwant     %s", got, want)
	}
}

// TestFollowColumnKinds: the kinds learnt from DDL follow creates, alters,
// renames and drops; what a statement leaves unknown is forgotten (and
// looked up at the next TableMap event); cached structures of the tables
// named are dropped.
func TestFollowColumnKinds(t *testing.T) {
	s := &BinlogSource{cfg: SourceConfig{}.withDefaults(), tables: map[uint64]*cachedTable{}, colKinds: map[[2]string]*learntKinds{}}
	run := func(sql string) {
		for _, d := range ParseDDLWith("d", sql, DDLEnv{Defaults: &fakeDefaults{tables: map[string]uint64{"d.t": 45, "d.u": 45}, databases: map[string]uint64{"d": 45}}}) {
			s.followColumnKinds(d)
		}
	}
	show := func(db, name string) string {
		l, ok := s.colKinds[[2]string{db, name}]
		if !ok {
			return "unknown"
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(l.kinds)) {
			parts = append(parts, k+" "+string(l.kinds[k]))
		}
		return strings.Join(parts, ", ")
	}
	steps := []struct{ sql, db, name, want string }{
		{"CREATE TABLE t (id UUID PRIMARY KEY, a INET4, b BINARY(16))", "d", "t", "a inet4, b binary, id uuid"},
		{"ALTER TABLE t MODIFY b INET6, ADD c UUID, CHANGE a a4 INET4, DROP COLUMN id", "d", "t", "a4 inet4, b inet6, c uuid"},
		{"ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT, RENAME COLUMN b TO b6", "d", "t", "a4 inet4, b6 inet6, c uuid"},
		{"RENAME TABLE t TO u", "d", "u", "a4 inet4, b6 inet6, c uuid"},
		{"ALTER TABLE u ADD d UUID, ADD e INT AS (1) VIRTUAL, FROBNICATE", "d", "u", "unknown"},
		{"CREATE TABLE t LIKE u", "d", "t", "unknown"},
		{"CREATE TABLE w (a UUID)", "d", "w", "a uuid"},
		{"DROP TABLE w", "d", "w", "unknown"},
		{"CREATE TABLE x.w (a UUID)", "x", "w", "a uuid"},
		{"DROP DATABASE x", "x", "w", "unknown"},
	}
	for _, st := range steps {
		run(st.sql)
		if got := show(st.db, st.name); got != st.want {
			t.Errorf("after %s: %s.%s %s, want %s", st.sql, st.db, st.name, got, st.want)
		}
	}
	if show("d", "t") != "unknown" {
		t.Errorf("d.t after RENAME TABLE t TO u: %s", show("d", "t"))
	}

	// A lookup's kinds (only the UUID and INET columns) are forgotten by
	// any ALTER: which other columns exist is not known.
	s.colKinds[[2]string{"d", "l"}] = &learntKinds{kinds: columnKinds{"a": tableformat.KindUUID}}
	run("ALTER TABLE l ADD b INT")
	if got := show("d", "l"); got != "unknown" {
		t.Errorf("looked-up kinds after an ALTER: %s", got)
	}

	// Cached structures of the table named are dropped.
	s.tables[1] = &cachedTable{table: &ingest.Table{DB: "d", Name: "v"}}
	s.tables[2] = &cachedTable{table: &ingest.Table{DB: "d", Name: "other"}}
	s.tables[3] = &cachedTable{} // not mirrored
	run("ALTER TABLE v MODIFY a UUID")
	if _, ok := s.tables[1]; ok || len(s.tables) != 2 {
		t.Errorf("cached structures after an ALTER of d.v: %v", slices.Sorted(maps.Keys(s.tables)))
	}
}
