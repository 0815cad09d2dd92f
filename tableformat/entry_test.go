package tableformat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
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

// sameAsMarshal fails t unless got, e encoded, is json.Marshal's bytes of
// e and a newline.
func sameAsMarshal(t *testing.T, e *Entry, got []byte) {
	t.Helper()
	want, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want)+"\n" {
		t.Fatalf("encoded:\n%s\njson.Marshal and a newline:\n%s", got, want)
	}
}

// TestEncodeEntryBytes: an entry's encoding is json.Marshal's, HTML and
// line separators escaped, invalid UTF-8 replaced, map keys sorted, and a
// newline — for every entry of the fold cases and for hostile text.
func TestEncodeEntryBytes(t *testing.T) {
	e := validEntry(2)
	e.Tables[0].DDL = "CREATE TABLE `<t>` (a INT) COMMENT 'a & b \u2028 \u2029 \xff \x00 \x7f \b\f\t\r\n \\ \" é 😀'"
	def := "<a & b> \u2028 é"
	e.Tables[0].Schema.Columns[1].InitialDefault = &def
	e.Info = map[string]string{"z": "1", "a": "<2>", "m": ""}
	data, err := EncodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	sameAsMarshal(t, e, data)
	files, err := filepath.Glob("testdata/fold/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("fold cases: %v, %v", files, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Steps []struct {
				Entry Entry `json:"entry"`
			} `json:"steps"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range c.Steps {
			e := &c.Steps[i].Entry
			fillEntry(e, int64(i+1), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			got, err := encodeJSONLine(e, 0)
			if err != nil {
				t.Fatalf("%s, step %d: %v", name, i+1, err)
			}
			sameAsMarshal(t, e, got)
		}
	}
}

// TestEncodeEntryAllocatesItsSize: encoding an entry of 10,000 files (a
// commit of a lake of 10,000 tables) allocates about its size, not several
// times it (json.Marshal's pooled buffer grown by doubling, its copy, and
// another to append the newline).
func TestEncodeEntryAllocatesItsSize(t *testing.T) {
	e := validEntry(2)
	e.Add = nil
	for i := range 10_000 {
		e.Add = append(e.Add, AddFile{Path: fmt.Sprintf("many10000/t%05d/data/%020d-%s.parquet", i, 2+i, sha256Hex([]byte{byte(i)})[:16]),
			TableID: 1, Kind: FileData, SchemaVersion: 1, Rows: 1, Bytes: 1543, Checksum: sha256Hex([]byte{byte(i), 1}),
			MinSeq: 2, MaxSeq: 3, MinTS: 5, MaxTS: 5})
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	data, err := EncodeEntry(e)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(data))*3/2 {
		t.Fatalf("encoding an entry of %d bytes allocated %d bytes", len(data), alloc)
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

// FuzzDecodeEntry: no input panics, and whatever decodes re-encodes, as
// json.Marshal would, to an entry that decodes the same.
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
			sameAsMarshal(t, e, b)
			if _, err := DecodeEntry(EntryKey(v), v, b); err != nil {
				t.Fatalf("re-encoded entry does not decode: %v", err)
			}
			// Applying a decoded entry never panics.
			_, _ = emptyState().Apply(e)
		}
	})
}
