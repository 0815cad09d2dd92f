package mysql

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// Tests against a real MariaDB of its UUID, INET4 and INET6 types: the
// values the binlog, a snapshot and a re-snapshot give the lake, and the
// text the server prints for them.

// binaryTypesSetup creates net.early (before the source's start, so the
// source looks its types up) and, after start, net.hosts (whose CREATE the
// source reads), writes both through inserts, updates and deletes, adds
// columns with defaults to net.hosts, and returns the start.
func binaryTypesSetup(t *testing.T, ctx context.Context, m *testenv.MariaDB) tableformat.Position {
	t.Helper()
	m.Exec(t, "CREATE DATABASE net",
		"CREATE TABLE net.early (id INT PRIMARY KEY, u UUID, a6 INET6 NOT NULL, a4 INET4, b BINARY(16), c BINARY(4))",
		"INSERT INTO net.early VALUES (0, uuid(), '::1', '127.0.0.1', X'01', X'02')")
	start := currentPosition(t, ctx, m)
	m.Exec(t,
		`CREATE TABLE net.hosts (id UUID PRIMARY KEY, u UUID NULL, un UUID NOT NULL, a4 INET4 NULL, a4n INET4 NOT NULL,
			a6 INET6 NULL, a6n INET6 NOT NULL, b16 BINARY(16) NULL, b4 BINARY(4) NULL)`,
		// The nil and the max UUID, a time-based one (MariaDB orders those
		// by a swapped byte order), v4 and v7 ones, uuid()'s, NULLs; the
		// max INET6, IPv4-mapped and -compatible addresses, trailing zero
		// bytes (the binlog drops them).
		`INSERT INTO net.hosts VALUES
			('00000000-0000-0000-0000-000000000000', NULL, 'ffffffff-ffff-ffff-ffff-ffffffffffff', NULL, '0.0.0.0', NULL, '::', NULL, NULL),
			('ffffffff-ffff-ffff-ffff-ffffffffffff', '00000000-0000-0000-0000-000000000000', '6ccd780c-baba-1026-9564-5b8c656024db',
				'255.255.255.255', '255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::ffff:1.2.3.4', X'00112233445566778899aabbccddeeff', X'01020304'),
			('6ccd780c-baba-1026-9564-5b8c656024db', '8f14e45f-ceea-467a-9af9-2e9bd3c1d2e0', '01890a5d-ac96-774b-bcce-b302099a8057',
				'10.0.0.1', '1.2.3.4', '::1.2.3.4', '2001:db8::1', X'00', X'00000000'),
			(uuid(), uuid(), uuid(), '192.168.0.0', '8.8.8.8', '2001:db8:0:1:1:1:1:1', 'fe80::202:b3ff:fe1e:8329', NULL, NULL),
			('a0000000-0000-1000-8000-000000000001', NULL, '123e4567-e89b-12d3-a456-426614170000', NULL, '0.0.0.1', '::1', '1::', NULL, NULL),
			('01890a5d-ac96-774b-bcce-b302099a8057', NULL, uuid(), NULL, '1.1.1.1', '2001::', '::ffff:0.0.0.0', NULL, NULL)`,
		"UPDATE net.hosts SET u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', a6 = '::ffff:10.0.0.1' WHERE id = 'ffffffff-ffff-ffff-ffff-ffffffffffff'",
		"UPDATE net.hosts SET id = '6ccd780c-baba-1026-9564-5b8c656024dc' WHERE id = '6ccd780c-baba-1026-9564-5b8c656024db'",
		"DELETE FROM net.hosts WHERE id = '01890a5d-ac96-774b-bcce-b302099a8057'",
		"INSERT INTO net.early VALUES (1, '00000000-0000-0000-0000-000000000000', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', NULL, X'ff', NULL)",
		"UPDATE net.early SET a6 = '::ffff:1.2.3.4', a4 = '0.0.0.0' WHERE id = 0",
		// Added columns: the rows before read the server's values.
		`ALTER TABLE net.hosts ADD COLUMN ud UUID DEFAULT '6CCD780C-BABA-1026-9564-5B8C656024DB',
			ADD COLUMN a6d INET6 DEFAULT '::FFFF:10.0.0.1', ADD COLUMN a4d INET4 NOT NULL`,
		"INSERT INTO net.hosts (id, un, a4n, a6n, a4d) VALUES (uuid(), uuid(), '9.9.9.9', '::2', '4.4.4.4')",
	)
	return start
}

// TestBinaryTypesMirror: UUID, INET4 and INET6 columns reach the lake as
// uuid, inet4 and inet6 through the binlog (from the CREATE the source
// reads, and looked up for a table created before it started), their
// values equal to what a snapshot and a re-snapshot read, and to the text
// the server prints; BINARY(16) and BINARY(4) columns stay binary; a column
// added with a default holds it in the rows before.
func TestBinaryTypesMirror(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	start := binaryTypesSetup(t, ctx, m)
	l := newLake(t, ctx)
	ingestToCaughtUp(t, ctx, l, openSource(t, ctx, m, 1, start))

	want := map[string]string{
		"early": "id int, u uuid, a6 inet6, a4 inet4, b binary(16), c binary(4)",
		"hosts": "id uuid, u uuid, un uuid, a4 inet4, a4n inet4, a6 inet6, a6n inet6, b16 binary(16), b4 binary(4), ud uuid, a6d inet6, a4d inet4",
	}
	lakeRows := map[string][][]any{}
	for _, name := range []string{"early", "hosts"} {
		cols, rows := lakeTable(t, ctx, l, "net", name)
		if got := kindsOf(cols); got != want[name] {
			t.Errorf("net.%s in the lake: %s\nwant %s", name, got, want[name])
		}
		// The snapshot path (DecodeSnapshotValue) reads the same values.
		if n := assertMirrors(t, ctx, l, m, "net", name); n == 0 {
			t.Errorf("net.%s: no rows", name)
		}
		lakeRows[name] = rows
		checkServerText(t, m, name, cols, rows)
	}
	if n := len(lakeRows["hosts"]); n != 6 {
		t.Errorf("net.hosts: %d rows in the lake, want 6", n)
	}

	// The added columns' initial defaults are the server's values.
	p, err := l.AtLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := p.State.TableByName("net", "hosts", p.Seq)
	for name, text := range map[string]string{"ud": "6ccd780c-baba-1026-9564-5b8c656024db", "a6d": "::ffff:10.0.0.1", "a4d": "0.0.0.0"} {
		i := slices.IndexFunc(ts.Schema().Columns, func(c tableformat.Column) bool { return c.Name == name })
		if c := ts.Schema().Columns[i]; c.InitialDefault == nil || *c.InitialDefault != text {
			t.Errorf("column %s: initial default %v, want %q", name, c.InitialDefault, text)
		}
	}

	// The snapshot source reads the same columns and values.
	cfg := sourceConfig(m, 2)
	cfg.Include = func(db, _ string) bool { return db == "net" }
	snap, err := NewSnapshotSource(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	snapRows := map[string][][]any{}
	for _, ev := range drain(t, ctx, snap) {
		if r, ok := ev.(*ingest.Rows); ok {
			var cols []TableColumn
			for _, c := range r.Table.Columns {
				cols = append(cols, TableColumn{Name: c.Name, Type: c.Type})
			}
			if got := kindsOf(cols); got != want[r.Table.Name] {
				t.Errorf("net.%s in the snapshot: %s\nwant %s", r.Table.Name, got, want[r.Table.Name])
			}
			snapRows[r.Table.Name] = append(snapRows[r.Table.Name], r.After...)
		}
	}
	for name, rows := range lakeRows {
		if a, b := rowKeys(rows), rowKeys(snapRows[name]); !slices.Equal(a, b) {
			t.Errorf("net.%s: binlog rows\n%s\nsnapshot rows\n%s", name, strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
	}

	// A re-snapshot reads them again in chunks whose bounds are UUID keys
	// round-tripped through their value text: every row once, in the
	// server's key order, with the same values.
	got, keys := rereadAll(t, ctx, m, "net", "hosts", 2)
	if a, b := rowKeys(got), rowKeys(lakeRows["hosts"]); !slices.Equal(a, b) {
		t.Errorf("net.hosts: re-snapshot rows\n%s\nbinlog rows\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	order := strings.Fields(m.Query(t, "SELECT CAST(id AS CHAR) FROM net.hosts ORDER BY id"))
	if !slices.Equal(keys, order) {
		t.Errorf("re-snapshot key order %v, server's %v", keys, order)
	}
	if sorted := slices.Sorted(slices.Values(order)); slices.Equal(sorted, order) {
		t.Errorf("the server's UUID order %v is the text order: the test no longer covers a swapped order", order)
	}
}

// checkServerText compares the lake's rows of net.name with the server's
// text of every column (CAST(… AS CHAR); binary columns in hex), matched by
// the first column.
func checkServerText(t *testing.T, m *testenv.MariaDB, name string, cols []TableColumn, rows [][]any) {
	t.Helper()
	var exprs []string
	for _, c := range cols {
		q := QuoteIdent(c.Name)
		switch c.Type.Kind {
		case tableformat.KindBinary:
			q = "HEX(" + q + ")"
		default:
			q = "CAST(" + q + " AS CHAR)"
		}
		exprs = append(exprs, "IFNULL("+q+", 'NULL')")
	}
	server := map[string]string{}
	for line := range strings.Lines(m.Query(t, "SELECT "+strings.Join(exprs, ", ")+" FROM net."+QuoteIdent(name))) {
		fields := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		server[fields[0]] = strings.Join(fields, " | ")
	}
	for _, r := range rows {
		var parts []string
		for i, v := range r {
			var s string
			switch {
			case v == nil:
				s = "NULL"
			case cols[i].Type.Kind == tableformat.KindBinary:
				s = strings.ToUpper(hex.EncodeToString(v.([]byte)))
			default:
				var err error
				if s, err = tableformat.FormatValue(cols[i].Type, v); err != nil {
					t.Fatalf("net.%s column %s: %v", name, cols[i].Name, err)
				}
			}
			parts = append(parts, s)
		}
		if got := strings.Join(parts, " | "); server[parts[0]] != got {
			t.Errorf("net.%s row %s:\n lake   %s\n server %s", name, parts[0], got, server[parts[0]])
		}
	}
}

// rereadAll reads db.name whole through a Rereader in chunks of limit rows,
// each after the last key of the one before as the log keeps it (its value
// text), and returns the rows and the text of their first column (the
// key's) in read order.
func rereadAll(t *testing.T, ctx context.Context, m *testenv.MariaDB, db, name string, limit int) ([][]any, []string) {
	t.Helper()
	r := NewRereader(sourceConfig(m, 3))
	defer r.Close()
	var rows [][]any
	var keys []string
	var after []any
	var keyType tableformat.Type
	for chunk := 0; ; chunk++ {
		if chunk > 1000 {
			t.Fatalf("re-snapshot of %s.%s: no end after %d chunks", db, name, chunk)
		}
		p, err := r.Pin(ctx, db, name, nil)
		if err != nil || p == nil {
			t.Fatalf("pin %s.%s: %v", db, name, err)
		}
		tbl := p.Table()
		keyType = tbl.Columns[0].Type
		var last []any
		_, done, err := p.Read(ctx, after, limit, func(row []any) error {
			rows = append(rows, row)
			last = row
			return nil
		})
		p.Close()
		if err != nil {
			t.Fatalf("re-snapshot of %s.%s after %v: %v", db, name, after, err)
		}
		if last != nil {
			after = nil
			for _, k := range tbl.Key {
				i := slices.IndexFunc(tbl.Columns, func(c ingest.SourceColumn) bool { return c.Name == k })
				typ := tbl.Columns[i].Type
				text, err := tableformat.FormatValue(typ, last[i])
				if err != nil {
					t.Fatal(err)
				}
				v, err := tableformat.ParseValue(typ, text)
				if err != nil {
					t.Fatal(err)
				}
				after = append(after, v)
			}
		}
		if done {
			break
		}
	}
	for _, row := range rows {
		text, err := tableformat.FormatValue(keyType, row[0])
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, text)
	}
	return rows, keys
}

// TestBinaryTypesChunkBounds: INET6 and INET4 keys bound re-snapshot
// chunks too: every row once, in the server's order.
func TestBinaryTypesChunkBounds(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE net",
		"CREATE TABLE net.k6 (a INET6 PRIMARY KEY, n INT)",
		"CREATE TABLE net.k4 (a INET4 NOT NULL, n INT, UNIQUE KEY (a))",
		`INSERT INTO net.k6 VALUES ('::', 1), ('::1', 2), ('::ffff:1.2.3.4', 3), ('::1.2.3.4', 4), ('2001:db8::1', 5),
			('2001:db8:0:1:1:1:1:1', 6), ('fe80::1', 7), ('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 8), ('1::', 9), ('::ffff:0.0.0.0', 10)`,
		`INSERT INTO net.k4 VALUES ('0.0.0.0', 1), ('9.0.0.1', 2), ('10.0.0.1', 3), ('255.255.255.255', 4), ('1.2.3.4', 5), ('100.0.0.0', 6), ('99.255.0.0', 7)`)
	for _, name := range []string{"k6", "k4"} {
		rows, keys := rereadAll(t, ctx, m, "net", name, 3)
		order := strings.Fields(m.Query(t, "SELECT CAST(a AS CHAR) FROM net."+name+" ORDER BY a"))
		if !slices.Equal(keys, order) || len(rows) != len(order) {
			t.Errorf("net.%s: re-snapshot keys %v, server's order %v", name, keys, order)
		}
	}
}

// TestBinaryTypesServerText: FormatInet6, FormatInet4 and FormatUUID give
// the text the server prints, for the addresses whose form has rules
// (zero runs, IPv4 tails) and for thousands of random ones.
func TestBinaryTypesServerText(t *testing.T) {
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE net", "CREATE TABLE net.texts (i INT PRIMARY KEY, a INET6, b INET4, u UUID)")
	rnd := rand.New(rand.NewPCG(7, 11))
	var values []string
	add := func(a6 []byte) {
		b4, u := make([]byte, 4), make([]byte, 16)
		for i := range b4 {
			b4[i] = byte(rnd.IntN(3) * 127) // 0, 127, 254: zeros and wide numbers
		}
		for i := range u {
			u[i] = byte(rnd.Uint32())
		}
		values = append(values, fmt.Sprintf("(%d, X'%x', X'%x', X'%x')", len(values), a6, b4, u))
	}
	for _, h := range []string{
		"00000000000000000000000000000000", "00000000000000000000000000000001", "00000000000000000000ffff01020304",
		"00000000000000000000ffff00000000", "00000000000000000000000001020304", "00000000000000000000000001020000",
		"00000000000000000000000000000102", "0000000000000000000000010000ffff", "000000000000000000010000ffff0102",
		"20010db8000000010001000100010001", "20010db8000000000001000000000001", "20010000000000010000000000000000",
		"00010000000000000000000000000000", "000000000000000000000000ffff0001", "ffffffffffffffffffffffffffffffff",
		"0000000000000000ffff000001020304", "00000000000000000000fffe01020304",
	} {
		b, _ := hex.DecodeString(h)
		add(b)
	}
	for range 3000 {
		b := make([]byte, 16)
		for g := range 8 {
			switch rnd.IntN(4) {
			case 0, 1: // zero groups make runs
			case 2:
				b[2*g+1] = byte(rnd.IntN(16))
			default:
				b[2*g], b[2*g+1] = byte(rnd.Uint32()), byte(rnd.Uint32())
			}
		}
		if rnd.IntN(8) == 0 { // IPv4-mapped and -compatible
			clear(b[:12])
			if rnd.IntN(2) == 0 {
				b[10], b[11] = 0xff, 0xff
			}
		}
		add(b)
	}
	for batch := range slices.Chunk(values, 500) {
		m.Exec(t, "INSERT INTO net.texts VALUES "+strings.Join(batch, ", "))
	}
	out := m.Query(t, "SELECT HEX(CAST(a AS BINARY(16))), CAST(a AS CHAR), HEX(CAST(b AS BINARY(4))), CAST(b AS CHAR), HEX(CAST(u AS BINARY(16))), CAST(u AS CHAR) FROM net.texts")
	n := 0
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		for i, typ := range []tableformat.Type{inet6Type, inet4Type, uuidType} {
			raw, err := hex.DecodeString(f[2*i])
			if err != nil {
				t.Fatal(err)
			}
			v, err := DecodeSnapshotValue(typ, raw)
			if err != nil {
				t.Fatalf("%s %s: %v", typ, f[2*i], err)
			}
			text, err := tableformat.FormatValue(typ, v)
			if err != nil || text != f[2*i+1] {
				t.Errorf("%s %s: %q, %v; the server prints %q", typ, f[2*i], text, err, f[2*i+1])
			}
		}
		n++
	}
	if n != len(values) {
		t.Fatalf("%d rows read back, %d written", n, len(values))
	}
}
