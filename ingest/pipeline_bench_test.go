package ingest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
)

// benchEvents makes n row changes of a typical table in transactions of 1–8
// rows: inserts, with every fifth transaction an update of rows just
// inserted.
func benchEvents(n int) ([]Event, *Table) {
	tb := &Table{DB: "shop", Name: "orders", Key: []string{"id"}, Columns: []SourceColumn{
		{Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
		{Name: "customer", Type: tableformat.Type{Kind: tableformat.KindInt}},
		{Name: "status", Type: tableformat.Type{Kind: tableformat.KindVarchar, Length: 32}},
		{Name: "total", Type: tableformat.Type{Kind: tableformat.KindDecimal, Precision: 12, Scale: 2}},
		{Name: "created", Type: tableformat.Type{Kind: tableformat.KindDatetime, FSP: 6}},
		{Name: "note", Type: tableformat.Type{Kind: tableformat.KindText}, Nullable: true},
	}}
	row := func(id int64) []any {
		var note any
		if id%3 == 0 {
			note = "left at the door, ring twice"
		}
		return []any{id, id % 5000, "shipped", fmt.Sprintf("%d.%02d", id%100000, id%100), 1_700_000_000_000_000 + id*1000, note}
	}
	var evs []Event
	ts := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	var id int64
	for txn, done := 1, 0; done < n; txn++ {
		ts += 100
		k := 1 + txn%8
		if txn%5 == 0 && id > 8 {
			ev := &Rows{Table: tb, Op: RowUpdate, Time: ts}
			for j := range int64(k) {
				ev.Before = append(ev.Before, row(id-j))
				ev.After = append(ev.After, row(id-j))
			}
			evs = append(evs, ev)
		} else {
			ev := &Rows{Table: tb, Op: RowInsert, Time: ts}
			for range k {
				id++
				ev.After = append(ev.After, row(id))
			}
			evs = append(evs, ev)
		}
		done += k
		g := fmt.Sprintf("0-1-%d", txn)
		evs = append(evs, &Commit{GTID: g, Time: ts, End: tableformat.Position{GTIDSet: g, File: "mysql-bin.000001", Pos: uint64(txn)}})
	}
	return evs, tb
}

// BenchmarkPipeline measures the pipeline alone (a scripted source, no
// binlog decoding) in row changes/s, beside the bare Parquet encoding rate
// of the same rows on one goroutine in the same run.
func BenchmarkPipeline(b *testing.B) {
	const changes = 300_000
	events, tb := benchEvents(changes)
	b.Run("parquet_encode_only", func(b *testing.B) {
		sc := &tableformat.Schema{Version: 1, Key: []int{1}}
		for i, c := range tb.Columns {
			sc.Columns = append(sc.Columns, tableformat.Column{ID: i + 1, Name: c.Name, Type: c.Type, Nullable: c.Nullable})
		}
		var rows []tableformat.Row
		seq := int64(0)
		for _, ev := range events {
			if r, ok := ev.(*Rows); ok {
				for _, v := range r.After {
					seq++
					rows = append(rows, tableformat.Row{Seq: seq, TS: r.Time, Op: tableformat.OpInsert, Values: v})
				}
			}
		}
		b.ResetTimer()
		for range b.N {
			var buf bytes.Buffer
			w, _ := tableformat.NewFileWriter(&buf, sc, tableformat.FileData, tableformat.FileWriterOptions{})
			if err := w.Write(rows...); err != nil {
				b.Fatal(err)
			}
			if _, err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*float64(len(rows))/b.Elapsed().Seconds(), "rows/s")
	})
	for _, sink := range []string{"memory", "local"} {
		b.Run("pipeline_"+sink, func(b *testing.B) {
			for range b.N {
				var store tableformat.Store = tableformat.NewMemStore()
				if sink == "local" {
					l, err := objstore.NewLocal(b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					store = l
				}
				l := tableformat.NewLog(store, tableformat.LogOptions{})
				if _, err := l.Create(context.Background(), "shop", 100); err != nil {
					b.Fatal(err)
				}
				opts := Options{CommitInterval: time.Hour, MaxBatchBytes: 16 << 20}
				if err := New(l, opts).Run(context.Background(), &script{events: events}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*changes/b.Elapsed().Seconds(), "changes/s")
		})
	}
}
