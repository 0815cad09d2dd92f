package tableformat

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func validEntry(v int64) *Entry {
	e := &Entry{Kind: KindIngest,
		Tables:   []TableChange{{Op: TableCreate, TableID: 1, Seq: 1, DB: "d", Name: "t", Schema: testSchema(1)}},
		Add:      []AddFile{{Path: "d/t/data/a", TableID: 1, Kind: FileData, Rows: 2, MinSeq: 2, MaxSeq: 3, MinTS: 5, MaxTS: 5}},
		Progress: Progress{Position: Position{GTIDSet: "0-1-9", File: "b.000001", Pos: 77}, PrevSeq: 0, MaxSeq: 3, MaxTS: 5},
		Txns:     []TxnMark{{Seq: 3, TS: 5, GTID: "0-1-9", File: "b.000001", Pos: 77}},
	}
	if v == 1 {
		e = &Entry{Kind: KindCreate}
	}
	fillEntry(e, v, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return e
}

// roundTrip encodes e and decodes the bytes as version 2.
func roundTrip(t *testing.T, e *Entry) (data []byte, got *Entry) {
	t.Helper()
	data, err := EncodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = DecodeEntry(EntryKey(2), 2, data); err != nil {
		t.Fatal(err)
	}
	return data, got
}

func TestEntryRoundTrip(t *testing.T) {
	data, got := roundTrip(t, validEntry(2))
	again, _ := EncodeEntry(got)
	if string(again) != string(data) {
		t.Fatalf("round trip differs:\n%s\n%s", data, again)
	}
}

// TestDecodeEntrySchemasAtLength: a decoded entry's schemas, which the
// lake's state keeps for every table, hold no room for more columns, key
// columns or labels than they have (the decoder starts a slice with room
// for ten).
func TestDecodeEntrySchemasAtLength(t *testing.T) {
	e := validEntry(2)
	e.Tables[0].Schema.Columns = append(e.Tables[0].Schema.Columns, Column{ID: 3, Name: "e", Type: Type{Kind: KindEnum, Elems: []string{"a", "b"}}})
	_, got := roundTrip(t, e)
	sc := got.Tables[0].Schema
	elems := sc.Columns[2].Type.Elems
	if !reflect.DeepEqual(sc, e.Tables[0].Schema) {
		t.Fatalf("decoded schema %+v, want %+v", sc, e.Tables[0].Schema)
	}
	if cap(sc.Columns) >= 2*len(sc.Columns) || cap(sc.Key) >= 2*len(sc.Key) || cap(elems) >= 2*len(elems) {
		t.Fatalf("capacities: %d columns, %d key columns, %d labels; want about 3, 1, 2", cap(sc.Columns), cap(sc.Key), cap(elems))
	}
}

func TestDecodeEntryDamaged(t *testing.T) {
	data, err := EncodeEntry(validEntry(2))
	if err != nil {
		t.Fatal(err)
	}
	key := EntryKey(2)
	cases := map[string][]byte{
		"empty":          {},
		"truncated":      data[:len(data)/2],
		"garbage":        []byte("\x00\x01binary"),
		"trailing":       append(append([]byte{}, data...), []byte(`{"x":1}`)...),
		"unknown field":  []byte(strings.Replace(string(data), `"kind"`, `"kindx":1,"kind"`, 1)),
		"wrong version":  []byte(strings.Replace(string(data), `"version":2`, `"version":3`, 1)),
		"future format":  []byte(strings.Replace(string(data), fmt.Sprintf(`"format_version":%d`, EntryFormatVersion), `"format_version":99`, 1)),
		"bad checksum":   []byte(strings.Replace(string(data), `"sha256":"`, `"sha256":"X`, 1)),
		"unknown kind":   []byte(strings.Replace(string(data), `"kind":"ingest"`, `"kind":"bogus"`, 1)),
		"bad file kind":  []byte(strings.Replace(string(data), `"kind":"data"`, `"kind":"other"`, 1)),
		"seq disorder":   []byte(strings.Replace(string(data), `"max_seq":3,"max_ts":5}`, `"max_seq":1,"max_ts":5}`, 1)),
		"no commit time": []byte(strings.Replace(string(data), `"commit_time":"2026-01-01T00:00:02Z"`, `"commit_time":"0001-01-01T00:00:00Z"`, 1)),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if name != "empty" && name != "truncated" && name != "garbage" && string(b) == string(data) {
				t.Fatal("the case did not change the entry")
			}
			_, err := DecodeEntry(key, 2, b)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), key) {
				t.Fatalf("got %v, want a corruption error naming %s", err, key)
			}
		})
	}
}

// FuzzDecodeEntry: no input panics, and whatever decodes re-encodes to an
// entry that decodes the same.
func FuzzDecodeEntry(f *testing.F) {
	seeds, _ := os.ReadDir("testdata/fold")
	for _, s := range seeds {
		b, _ := os.ReadFile("testdata/fold/" + s.Name())
		f.Add(b)
	}
	for _, v := range []int64{1, 2} {
		b, _ := EncodeEntry(validEntry(v))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []int64{1, 2} {
			e, err := DecodeEntry(EntryKey(v), v, data)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error is not a corruption error: %v", err)
				}
				continue
			}
			b, err := EncodeEntry(e)
			if err != nil {
				t.Fatalf("decoded entry does not encode: %v", err)
			}
			if _, err := DecodeEntry(EntryKey(v), v, b); err != nil {
				t.Fatalf("re-encoded entry does not decode: %v", err)
			}
			// Applying a decoded entry never panics.
			_, _ = emptyState().Apply(e)
		}
	})
}
