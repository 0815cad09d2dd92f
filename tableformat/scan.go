package tableformat

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"
)

// ErrNoTable is returned when a table does not exist at the point read.
var ErrNoTable = errors.New("no such table at this point")

// WriteAddFile writes rows of one table, schema version and kind as a delta
// file (FORMAT.md §12), uploads it under a fresh key in the table's folder
// (db and name form the key, NewFileKey) and returns the AddFile a log
// entry names it with: the inverse of ReadAddFile. A snapshot file's caller
// sets AsOfSeq.
func WriteAddFile(ctx context.Context, store Store, db, name string, tableID int64, schema *Schema, kind FileKind,
	opts FileWriterOptions, rows []Row) (AddFile, error) {
	f, err := WriteFile(ctx, store, func(minSeq int64) string { return NewFileKey(db, name, kind, minSeq, uuid.NewString()) },
		tableID, schema, kind, opts, rows)
	if err != nil {
		return f, fmt.Errorf("table %s.%s: %w", db, name, err)
	}
	return f, nil
}

// WriteFile is WriteAddFile with the key chosen by key, given the file's
// smallest sequence.
func WriteFile(ctx context.Context, store Store, key func(minSeq int64) string, tableID int64, schema *Schema, kind FileKind,
	opts FileWriterOptions, rows []Row) (AddFile, error) {
	var buf bytes.Buffer
	w, err := NewFileWriter(&buf, schema, kind, opts)
	if err != nil {
		return AddFile{}, err
	}
	if err := w.Write(rows...); err != nil {
		return AddFile{}, err
	}
	st, err := w.Close()
	if err != nil {
		return AddFile{}, err
	}
	k := key(st.MinSeq)
	if err := PutBytes(ctx, store, k, buf.Bytes()); err != nil {
		return AddFile{}, fmt.Errorf("upload %s: %w", k, err)
	}
	return AddFile{Path: k, TableID: tableID, Kind: kind, SchemaVersion: schema.Version, Rows: st.Rows, Bytes: st.Bytes,
		Checksum: st.Checksum, MinSeq: st.MinSeq, MaxSeq: st.MaxSeq, MinTS: st.MinTS, MaxTS: st.MaxTS}, nil
}

// ReadAddFile reads a file a log entry names, verifies its size and SHA-256
// against the entry, and decodes it. A missing, damaged or mismatching file
// is a CorruptError naming its key: never rows.
func ReadAddFile(ctx context.Context, store Store, f AddFile) (*FileContents, error) {
	data, err := ReadObject(ctx, store, f.Path)
	if IsNotExist(err) {
		return nil, &CorruptError{f.Path, "the log names this file but the store does not have it"}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	if err := VerifyChecksum(data, f.Bytes, f.Checksum); err != nil {
		return nil, &CorruptError{f.Path, err.Error()}
	}
	fc, err := ReadFile(data)
	if err != nil {
		return nil, &CorruptError{f.Path, err.Error()}
	}
	if fc.Kind != f.Kind || fc.Schema.Version != f.SchemaVersion || int64(len(fc.Rows)) != f.Rows {
		return nil, &CorruptError{f.Path, fmt.Sprintf("file holds %s rows of schema version %d (%d rows), the log says %s version %d (%d rows)",
			fc.Kind, fc.Schema.Version, len(fc.Rows), f.Kind, f.SchemaVersion, f.Rows)}
	}
	return fc, nil
}

// ScanTable returns the rows of a table at point p (FORMAT.md §8): the
// latest snapshot at or before p.Seq, the data rows after it, less the rows
// deleted by a later change up to p.Seq and the rows before the last
// truncation. Rows come in change-sequence order, with the columns of the
// schema in force at p.Seq; each keeps the sequence, time and op of the
// change that wrote it. It is the reference reader of the format: slow and
// simple, for tests and verification; the query layer reads the same files
// through DuckDB.
func ScanTable(ctx context.Context, store Store, p Point, tableID int64) (*Schema, []Row, error) {
	return ScanTableFrom(ctx, func(ctx context.Context, f AddFile) (*FileContents, error) {
		return ReadAddFile(ctx, store, f)
	}, p, tableID)
}

// FileSource reads a file the log names, checked against its entry
// (ReadAddFile); the contents are only read, never changed.
type FileSource func(ctx context.Context, f AddFile) (*FileContents, error)

// ScanTableFrom is ScanTable reading the files through read: a caller that
// scans many points of one lake can keep the decoded files (they never
// change once named by the log).
func ScanTableFrom(ctx context.Context, read FileSource, p Point, tableID int64) (*Schema, []Row, error) {
	t := p.State.Tables.Get(tableID)
	if t == nil || !t.ExistsAt(p.Seq) {
		return nil, nil, fmt.Errorf("table %d at sequence %d: %w", tableID, p.Seq, ErrNoTable)
	}
	s := tableScan{t: t, schema: t.SchemaAt(p.Seq), seq: p.Seq, trunc: t.TruncatedAt(p.Seq)}
	files := t.SortedFiles()
	for _, f := range files {
		if f.Kind == FileSnapshot && f.AsOfSeq <= p.Seq {
			s.snapSeq = max(s.snapSeq, f.AsOfSeq)
		}
	}
	var err error
	if s.fills, err = columnFills(t); err != nil {
		return nil, nil, err
	}
	var events []scanEvent
	for _, f := range files {
		if !s.reads(f) {
			continue
		}
		fc, err := read(ctx, f)
		if err != nil {
			return nil, nil, err
		}
		if events, err = s.appendEvents(events, f, fc); err != nil {
			return nil, nil, err
		}
	}
	// Deletes of a sequence come before inserts of the same sequence: an
	// update removes the old image, then adds the new one.
	slices.SortStableFunc(events, func(a, b scanEvent) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(boolInt(!a.del), boolInt(!b.del)))
	})
	applyDeletes(events)
	var out []Row
	for _, ev := range events {
		if ev.alive {
			out = append(out, ev.row)
		}
	}
	return s.schema, out, nil
}

// tableScan is what decides, in one ScanTableFrom, which rows of a table's
// files count at the point read.
type tableScan struct {
	t      *TableState
	schema *Schema // the schema in force at seq
	seq    int64   // the point's change sequence
	// snapSeq is the as-of sequence of the snapshot used, 0 if none: the
	// rows of other files up to it are in the snapshot.
	snapSeq int64
	trunc   int64 // rows before the last truncation are gone
	// fills are what a column a file lacks holds, by column id, for
	// matching keys across files of different schema versions (a keyless
	// delete holds the whole row).
	fills map[int]any
}

// columnFills maps the id of every column t ever had to what a file
// written without it holds there (Column.Fill).
func columnFills(t *TableState) (map[int]any, error) {
	fills := map[int]any{}
	for _, sv := range t.Schemas {
		for _, c := range sv.Schema.Columns {
			v, err := c.Fill()
			if err != nil {
				return nil, fmt.Errorf("table %d: %w", t.ID, err)
			}
			fills[c.ID] = v
		}
	}
	return fills, nil
}

// reads reports whether the scan reads file f: the snapshot used, and the
// data and delete files with rows after it, up to the point, not all before
// the last truncation.
func (s *tableScan) reads(f AddFile) bool {
	switch {
	case f.Kind == FileSnapshot && f.AsOfSeq != s.snapSeq:
		return false
	case f.Kind != FileSnapshot && (f.MaxSeq <= s.snapSeq || f.MinSeq > s.seq):
		return false
	case f.Kind == FileSnapshot && f.AsOfSeq < s.trunc, f.Kind != FileSnapshot && f.MaxSeq < s.trunc:
		// Every row is before the truncation; the schema after it may
		// not read the file (a type change that truncated the table).
		return false
	}
	return true
}

// appendEvents appends to events the rows of file f (contents fc) that
// count at the point: data and snapshot rows projected to the point's
// schema, delete rows as the keys they remove.
func (s *tableScan) appendEvents(events []scanEvent, f AddFile, fc *FileContents) ([]scanEvent, error) {
	var projected []Row
	if f.Kind != FileDelete {
		var err error
		if projected, err = fc.Project(s.schema); err != nil {
			return nil, &CorruptError{f.Path, err.Error()}
		}
	}
	// A delete of a keyed table removes every row of its key; one of a
	// keyless table, one identical row (§8).
	multiset := false
	if f.Kind == FileDelete {
		fsc, ok := s.t.SchemaVersion(f.SchemaVersion)
		if !ok {
			return nil, &CorruptError{f.Path, fmt.Sprintf("schema version %d of table %d is not in the log", f.SchemaVersion, s.t.ID)}
		}
		multiset = len(fsc.Key) == 0
	}
	byID := make(map[int]int, len(fc.Columns))
	ids := make([]int, len(fc.Columns))
	for i, c := range fc.Columns {
		byID[c.ID], ids[i] = i, c.ID
	}
	for i, r := range fc.Rows {
		if r.Seq > s.seq || r.Seq < s.trunc || (f.Kind != FileSnapshot && r.Seq <= s.snapSeq) {
			continue
		}
		ev := scanEvent{seq: r.Seq, del: f.Kind == FileDelete, multiset: multiset, byID: byID, raw: r.Values, fills: s.fills}
		if ev.del {
			ev.keyIDs = ids
		} else {
			ev.row = projected[i]
		}
		events = append(events, ev)
	}
	return events, nil
}

// applyDeletes marks alive the rows of events (in sequence order, deletes
// of a sequence first) that no later delete removes. Live rows are indexed
// by each set of column ids that deletes identify rows by (one set, unless
// the key changed); entries of rows deleted through another set are
// skipped by their alive flag.
func applyDeletes(events []scanEvent) {
	index := map[string]map[string][]*scanEvent{}
	var keySets [][]int
	for i := range events {
		ev := &events[i]
		if !ev.del {
			ev.alive = true
			for _, ids := range keySets {
				m, k := index[fmt.Sprint(ids)], ev.key(ids)
				m[k] = append(m[k], ev)
			}
			continue
		}
		name := fmt.Sprint(ev.keyIDs)
		m := index[name]
		if m == nil {
			m = map[string][]*scanEvent{}
			for j := range events[:i] {
				if x := &events[j]; x.alive {
					k := x.key(ev.keyIDs)
					m[k] = append(m[k], x)
				}
			}
			index[name] = m
			keySets = append(keySets, ev.keyIDs)
		}
		// Every live row of the key with a lower sequence goes (a keyed
		// table holds one, unless rows vanished without row events and came
		// back); of a keyless table, a multiset, the most recent such row.
		k := ev.key(ev.keyIDs)
		cands := m[k]
		for j := len(cands) - 1; j >= 0; j-- {
			if cands[j].alive && cands[j].seq < ev.seq {
				cands[j].alive = false
				cands = slices.Delete(cands, j, j+1)
				if ev.multiset {
					break
				}
			}
		}
		m[k] = cands
	}
}

type scanEvent struct {
	seq   int64
	del   bool
	alive bool
	// multiset: a keyless table's delete, which removes one row
	multiset bool
	row      Row         // data and snapshot rows: projected to the point's schema
	raw      []any       // the values as the file holds them
	byID     map[int]int // column id → index in raw
	keyIDs   []int       // deletes: the column ids of raw
	fills    map[int]any // what a column raw lacks holds: its initial default
}

// key encodes the values of the given column ids, unambiguously.
func (ev *scanEvent) key(ids []int) string {
	var b []byte
	for _, id := range ids {
		i, ok := ev.byID[id]
		if !ok {
			b = appendKeyValue(b, ev.fills[id])
			continue
		}
		b = appendKeyValue(b, ev.raw[i])
	}
	return string(b)
}

func appendKeyValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 0)
	case int64:
		return binary.BigEndian.AppendUint64(append(b, 1), uint64(x))
	case uint64:
		return binary.BigEndian.AppendUint64(append(b, 2), x)
	case int32:
		return binary.BigEndian.AppendUint32(append(b, 3), uint32(x))
	case float32:
		return binary.BigEndian.AppendUint64(append(b, 4), math.Float64bits(float64(x)))
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 4), math.Float64bits(x))
	case string:
		return append(binary.AppendUvarint(append(b, 5), uint64(len(x))), x...)
	case []byte:
		return append(binary.AppendUvarint(append(b, 6), uint64(len(x))), x...)
	}
	return fmt.Appendf(append(b, 7), "%T:%v;", v, v)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
