package laketest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/binlake/binlake/tableformat"
)

// ManyOptions shape a lake of many small tables (Many).
type ManyOptions struct {
	Tables int // tables d.t00000 …, each keyed by id BIGINT
	Files  int // data files per table, one per commit
	Rows   int // rows per file
	// CheckpointInterval of the lake; 0: the format's default.
	CheckpointInterval int64
}

// ManySizes are the numbers of tables the scale benchmarks generate:
// 10 (the baseline every figure is set beside) and 1,000, and 10,000 with
// BINLAKE_BENCH_TABLES=10000.
func ManySizes() []int {
	if os.Getenv("BINLAKE_BENCH_TABLES") == "10000" {
		return []int{10, 1000, 10000}
	}
	return []int{10, 1000}
}

// ManyTable names table i of a lake written by Many.
func ManyTable(i int) (db, name string) { return "d", fmt.Sprintf("t%05d", i) }

// manySchema is every table's schema: id BIGINT (the key), v VARCHAR, n INT.
func manySchema() *tableformat.Schema {
	return &tableformat.Schema{Version: 1, Key: []int{1}, Columns: []tableformat.Column{
		{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt, SQL: "bigint"}},
		{ID: 2, Name: "v", Type: tableformat.Type{Kind: tableformat.KindVarchar, Length: 32, Charset: "utf8mb4", SQL: "varchar(32)"}, Nullable: true},
		{ID: 3, Name: "n", Type: tableformat.Type{Kind: tableformat.KindInt, SQL: "int"}, Nullable: true},
	}}
}

// Many writes, into an empty store, a lake of o.Tables tables of o.Files
// data files of o.Rows inserted rows each: the first commit creates every
// table with its first file, each later commit adds one file to every
// table (the shape of a source with many tables that all change). It is
// for benchmarks of how costs grow with the number of tables; the rows of
// table i's file f are keys f*o.Rows+1 … (f+1)*o.Rows. It returns the
// lake's latest state.
func Many(ctx context.Context, store tableformat.Store, o ManyOptions) (*tableformat.State, error) {
	log := tableformat.NewLog(store, tableformat.LogOptions{})
	if _, err := log.Create(ctx, "many", o.CheckpointInterval); err != nil {
		return nil, err
	}
	sc := manySchema()
	const baseTS = int64(1_767_225_600_000_000) // 2026-01-01 UTC, µs
	var st *tableformat.State
	seq := int64(0)
	for f := range o.Files {
		e := &tableformat.Entry{Kind: tableformat.KindIngest}
		prev := seq
		if f == 0 {
			for i := range o.Tables {
				db, name := ManyTable(i)
				seq++
				s := *sc
				e.Tables = append(e.Tables, tableformat.TableChange{Op: tableformat.TableCreate, TableID: int64(i + 1), Seq: seq,
					DB: db, Name: name, Schema: &s})
			}
		}
		// Each table's rows in one transaction of their own.
		first := seq
		e.Add = make([]tableformat.AddFile, o.Tables)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(runtime.GOMAXPROCS(0))
		for i := range o.Tables {
			base := first + int64(i*o.Rows)
			g.Go(func() error {
				rows := make([]tableformat.Row, o.Rows)
				for r := range rows {
					k := int64(f*o.Rows + r + 1)
					s := base + int64(r) + 1
					rows[r] = tableformat.Row{Seq: s, TS: baseTS + s, Op: tableformat.OpInsert,
						Values: []any{k, "value " + strconv.FormatInt(k, 10), k % 1000}}
				}
				db, name := ManyTable(i)
				add, err := tableformat.WriteAddFile(gctx, store, db, name, int64(i+1), sc, tableformat.FileData, tableformat.FileWriterOptions{}, rows)
				e.Add[i] = add
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for i := range o.Tables {
			seq = first + int64((i+1)*o.Rows)
			e.Txns = append(e.Txns, tableformat.TxnMark{Seq: seq, TS: baseTS + seq, GTID: fmt.Sprintf("0-1-%d", seq)})
		}
		e.Progress = tableformat.Progress{Position: tableformat.Position{GTIDSet: fmt.Sprintf("0-1-%d", seq)},
			PrevSeq: prev, MaxSeq: seq, MaxTS: baseTS + seq}
		var err error
		if st, err = log.Commit(ctx, e); err != nil {
			return nil, fmt.Errorf("commit %d of %d: %w", f+1, o.Files, err)
		}
	}
	return st, nil
}
