package query

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/binlake/binlake/query/render"
	"github.com/binlake/binlake/tableformat"
)

// uuidInetLake is a lake of one table keyed by a uuid column, with a
// nullable uuid, an inet4 and an inet6 column.
func uuidInetLake(t *testing.T) (*tableformat.Log, tableformat.Store, *tableformat.Schema) {
	t.Helper()
	kind := func(k tableformat.TypeKind) tableformat.Type { return tableformat.Type{Kind: k, SQL: string(k)} }
	sc := &tableformat.Schema{Version: 1, Key: []int{1}, Columns: []tableformat.Column{
		{ID: 1, Name: "id", Type: kind(tableformat.KindUUID)},
		{ID: 2, Name: "u", Type: kind(tableformat.KindUUID), Nullable: true},
		{ID: 3, Name: "a4", Type: kind(tableformat.KindInet4), Nullable: true},
		{ID: 4, Name: "a6", Type: kind(tableformat.KindInet6), Nullable: true},
	}}
	id := func(last byte) []byte { b := make([]byte, 16); b[15] = last; return b }
	v1 := []byte{0x6c, 0xcd, 0x78, 0x0c, 0xba, 0xba, 0x10, 0x26, 0x95, 0x64, 0x5b, 0x8c, 0x65, 0x60, 0x24, 0xdb}
	rows := []tableformat.Row{
		{Seq: 2, Op: tableformat.OpInsert, Values: []any{id(1), v1, "1.2.3.4", "::ffff:1.2.3.4"}},
		{Seq: 3, Op: tableformat.OpInsert, Values: []any{id(2), make([]byte, 16), "0.0.0.0", "::"}},
		{Seq: 4, Op: tableformat.OpInsert, Values: []any{id(3), bytes.Repeat([]byte{0xff}, 16), "255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{Seq: 5, Op: tableformat.OpInsert, Values: []any{id(4), nil, nil, nil}},
	}
	log, store := oneTableLake(t, sc, rows)
	return log, store, sc
}

// TestUUIDAndInetColumns: a uuid column reads as DuckDB's UUID (and prints
// as its text), inet4 and inet6 columns as their text; the snapshot and
// merged files DuckDB writes of the table (lakewrite.go) are lake files the
// format's reader accepts, holding the same values.
func TestUUIDAndInetColumns(t *testing.T) {
	log, store, _ := uuidInetLake(t)
	s := openLatest(t, log, Options{})
	got := queryAll(t, s, `SELECT DISTINCT typeof(id), typeof(u), typeof(a4), typeof(a6) FROM shop."all types"`)
	if len(got) != 1 || !slices.Equal(got[0], []any{"UUID", "UUID", "VARCHAR", "VARCHAR"}) {
		t.Errorf("column types %v, want UUID, UUID, VARCHAR, VARCHAR", got)
	}
	wantCSV := `id,u,a4,a6
00000000-0000-0000-0000-000000000001,6ccd780c-baba-1026-9564-5b8c656024db,1.2.3.4,::ffff:1.2.3.4
00000000-0000-0000-0000-000000000002,00000000-0000-0000-0000-000000000000,0.0.0.0,::
00000000-0000-0000-0000-000000000003,ffffffff-ffff-ffff-ffff-ffffffffffff,255.255.255.255,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
00000000-0000-0000-0000-000000000004,,,
`
	if got := runFormat(t, s, render.FormatCSV, `SELECT * FROM shop."all types" ORDER BY id`); got != wantCSV {
		t.Errorf("csv:\n%s\nwant:\n%s", got, wantCSV)
	}
	// DuckDB compares UUIDs as UUIDs: a literal finds the row.
	if got := runFormat(t, s, render.FormatCSV, `SELECT a4 FROM shop."all types" WHERE u = '6CCD780C-BABA-1026-9564-5B8C656024DB'`); got != "a4\n1.2.3.4\n" {
		t.Errorf("lookup by uuid: %q", got)
	}

	checkWrittenFiles(t, log, store)
}

// TestUUIDInitialDefault: a uuid column added with an initial default
// reads it, as a UUID, in the rows written before it existed.
func TestUUIDInitialDefault(t *testing.T) {
	ctx := context.Background()
	log, _, sc := uuidInetLake(t)
	text := "6ccd780c-baba-1026-9564-5b8c656024db"
	v2 := *sc
	v2.Version = 2
	v2.Columns = append(slices.Clone(sc.Columns), tableformat.Column{ID: 5, Name: "added",
		Type: tableformat.Type{Kind: tableformat.KindUUID, SQL: "uuid"}, Nullable: true, InitialDefault: &text})
	ts := int64(1_700_000_000_000_001)
	if _, err := log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindIngest,
		Tables:   []tableformat.TableChange{{Op: tableformat.TableAlter, TableID: 1, Seq: 6, Schema: &v2}},
		Txns:     []tableformat.TxnMark{{Seq: 6, TS: ts}},
		Progress: tableformat.Progress{PrevSeq: 5, MaxSeq: 6, MaxTS: ts}}); err != nil {
		t.Fatal(err)
	}
	s := openLatest(t, log, Options{})
	want := "n,t,added\n4,UUID," + text + "\n"
	if got := runFormat(t, s, render.FormatCSV, `SELECT count(*) AS n, any_value(typeof(added)) AS t, any_value(added) AS added FROM shop."all types" GROUP BY added`); got != want {
		t.Errorf("added column:\n%s\nwant:\n%s", got, want)
	}
}
