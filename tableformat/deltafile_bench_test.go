package tableformat

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// benchRowsPerFile is the rows written per delta file in BenchmarkFileWriter.
const benchRowsPerFile = 100_000

// benchTable is a realistic mixed row: bigint key, int, varchar(~20
// characters), decimal(12,2), datetime(6) and a nullable text.
type benchTable struct {
	schema  *Schema
	rows    []Row // as binlake's writer takes them
	ids     []int64
	qty     []int32
	names   []string
	cents   []int64 // decimal(12,2) unscaled
	at      []int64
	notes   []string
	hasNote []bool
}

func newBenchTable() *benchTable {
	bt := &benchTable{schema: &Schema{Version: 1, Columns: []Column{
		{ID: 1, Name: "id", Type: Type{Kind: KindBigInt}},
		{ID: 2, Name: "qty", Type: Type{Kind: KindInt}},
		{ID: 3, Name: "name", Type: Type{Kind: KindVarchar}},
		{ID: 4, Name: "amount", Type: Type{Kind: KindDecimal, Precision: 12, Scale: 2}},
		{ID: 5, Name: "created_at", Type: Type{Kind: KindDatetime, FSP: 6}},
		{ID: 6, Name: "note", Type: Type{Kind: KindText}, Nullable: true},
	}, Key: []int{1}}}
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"}
	for i := range benchRowsPerFile {
		id := int64(1_000_000 + i)
		qty := rng.Int32N(1000)
		name := fmt.Sprintf("%s-%s-%08d", words[rng.IntN(10)], words[rng.IntN(10)], rng.IntN(1e8))
		cents := rng.Int64N(1e11) - 5e10
		at := int64(1_700_000_000_000_000) + int64(i)*1_000 + rng.Int64N(1000)
		note, has := "", rng.IntN(10) < 7
		if has {
			note = fmt.Sprintf("order %d for %s shipped via %s", id, name, words[rng.IntN(10)])
		}
		bt.ids, bt.qty, bt.names, bt.cents, bt.at = append(bt.ids, id), append(bt.qty, qty), append(bt.names, name), append(bt.cents, cents), append(bt.at, at)
		bt.notes, bt.hasNote = append(bt.notes, note), append(bt.hasNote, has)
		var noteVal any
		if has {
			noteVal = note
		}
		bt.rows = append(bt.rows, Row{Seq: int64(i + 1), TS: at, Op: OpInsert, Values: []any{
			id, int64(qty), name, formatDecimal(cents < 0, absInt64(cents), 0, 2), at, noteVal,
		}})
	}
	return bt
}

// BenchmarkFileWriter writes files of benchRowsPerFile rows with binlake's
// writer and, beside it, with parquet-go's dynamic writer (parquet.Rows built
// directly: the limit binlake's writer is measured against) and its typed
// struct writer (the fastest parquet-go path), all zstd, one goroutine.
func BenchmarkFileWriter(b *testing.B) {
	bt := newBenchTable()
	report := func(b *testing.B, size int) {
		b.ReportMetric(float64(b.N)*benchRowsPerFile/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(size)/benchRowsPerFile, "file_B/row")
	}

	b.Run("binlake", func(b *testing.B) {
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			w, err := NewFileWriter(&buf, bt.schema, FileData, FileWriterOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Write(bt.rows...); err != nil {
				b.Fatal(err)
			}
			if _, err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		report(b, buf.Len())
	})

	b.Run("parquetgo_dynamic", func(b *testing.B) {
		schema := parquet.NewSchema("bench", parquet.Group{
			"c1": parquet.Optional(parquet.Int(64)),
			"c2": parquet.Optional(parquet.Int(32)),
			"c3": parquet.Optional(parquet.String()),
			"c4": parquet.Optional(parquet.Decimal(2, 12, parquet.Int64Type)),
			"c5": parquet.Optional(parquet.TimestampAdjusted(parquet.Microsecond, false)),
			"c6": parquet.Optional(parquet.String()),
			"s":  parquet.Required(parquet.Int(64)),
			"t":  parquet.Required(parquet.Timestamp(parquet.Microsecond)),
			"o":  parquet.Required(parquet.Int(32)),
		})
		// Column indexes follow the sorted names: c1…c6, o, s, t.
		var buf bytes.Buffer
		rows := make([]parquet.Row, 0, 1024)
		for b.Loop() {
			buf.Reset()
			w := parquet.NewWriter(&buf, schema, parquet.Compression(&parquet.Zstd))
			for i := range benchRowsPerFile {
				note := parquet.NullValue().Level(0, 0, 5)
				if bt.hasNote[i] {
					note = parquet.ValueOf(bt.notes[i]).Level(0, 1, 5)
				}
				rows = append(rows, parquet.Row{
					parquet.Int64Value(bt.ids[i]).Level(0, 1, 0),
					parquet.Int32Value(bt.qty[i]).Level(0, 1, 1),
					parquet.ValueOf(bt.names[i]).Level(0, 1, 2),
					parquet.Int64Value(bt.cents[i]).Level(0, 1, 3),
					parquet.Int64Value(bt.at[i]).Level(0, 1, 4),
					note,
					parquet.Int32Value(int32(OpInsert)).Level(0, 0, 6),
					parquet.Int64Value(int64(i+1)).Level(0, 0, 7),
					parquet.Int64Value(bt.at[i]).Level(0, 0, 8),
				})
				if len(rows) == cap(rows) || i == benchRowsPerFile-1 {
					if _, err := w.WriteRows(rows); err != nil {
						b.Fatal(err)
					}
					rows = rows[:0]
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		report(b, buf.Len())
	})

	b.Run("parquetgo_typed", func(b *testing.B) {
		type row struct {
			C1 *int64  `parquet:"c1,optional"`
			C2 *int32  `parquet:"c2,optional"`
			C3 *string `parquet:"c3,optional"`
			C4 *int64  `parquet:"c4,optional,decimal(2:12)"`
			C5 *int64  `parquet:"c5,optional,timestamp(microsecond:local)"`
			C6 *string `parquet:"c6,optional"`
			S  int64   `parquet:"s"`
			T  int64   `parquet:"t,timestamp(microsecond)"`
			O  int32   `parquet:"o"`
		}
		var buf bytes.Buffer
		batch := make([]row, 1024)
		for b.Loop() {
			buf.Reset()
			w := parquet.NewGenericWriter[row](&buf, parquet.Compression(&parquet.Zstd))
			n := 0
			for i := range benchRowsPerFile {
				r := &batch[n]
				*r = row{C1: &bt.ids[i], C2: &bt.qty[i], C3: &bt.names[i], C4: &bt.cents[i], C5: &bt.at[i], S: int64(i + 1), T: bt.at[i], O: int32(OpInsert)}
				if bt.hasNote[i] {
					r.C6 = &bt.notes[i]
				}
				if n++; n == len(batch) || i == benchRowsPerFile-1 {
					if _, err := w.Write(batch[:n]); err != nil {
						b.Fatal(err)
					}
					n = 0
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		report(b, buf.Len())
	})
}

// TestBenchTableRoundTrip keeps the benchmark's rows honest: they are valid
// and read back unchanged.
func TestBenchTableRoundTrip(t *testing.T) {
	bt := newBenchTable()
	data, st := writeFile(t, bt.schema, FileData, FileWriterOptions{}, bt.rows[:5000]...)
	fc, err := ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, fc.Columns, fc.Rows, bt.rows[:5000])
	if st.Rows != 5000 {
		t.Errorf("stats %+v", st)
	}
}
