package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/binlake/binlake/tableformat"
)

// The session's SQL functions that name a point of the lake's history as
// the change sequence the table macros take (db.table(seq),
// db.table_changes(from, to)). They resolve through the commit log exactly
// as --as-of, --as-of-version, --as-of-gtid and --as-of-position do; a
// point before the lake's history is sequence 0 (nothing yet).
//
//	binlake_seq(TIMESTAMPTZ)           as of a time
//	binlake_seq_at_version(BIGINT)     as of a lake version
//	binlake_seq_at_gtid(VARCHAR)       as of a GTID set
//	binlake_seq_at_position(VARCHAR)   as of a binlog FILE:POS
type seqFunc struct {
	in      duckdb.Type
	resolve func(ctx context.Context, v driver.Value) (tableformat.Point, error)
}

func (f seqFunc) Config() duckdb.ScalarFuncConfig {
	in, _ := duckdb.NewTypeInfo(f.in)
	out, _ := duckdb.NewTypeInfo(duckdb.TYPE_BIGINT)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{in}, ResultTypeInfo: out}
}

func (f seqFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowContextExecutor: func(ctx context.Context, vals []driver.Value) (any, error) {
		p, err := f.resolve(ctx, vals[0])
		if errors.Is(err, tableformat.ErrBeforeHistory) {
			return int64(0), nil
		}
		if err != nil {
			return nil, err
		}
		return p.Seq, nil
	}}
}

// registerSeqFuncs adds the binlake_seq* functions to conn.
func registerSeqFuncs(conn *sql.Conn, e *Engine) error {
	str := func(v driver.Value) (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a string, got %T", v)
		}
		return s, nil
	}
	funcs := map[string]seqFunc{
		"binlake_seq": {duckdb.TYPE_TIMESTAMP_TZ, func(ctx context.Context, v driver.Value) (tableformat.Point, error) {
			t, ok := v.(time.Time)
			if !ok {
				return tableformat.Point{}, fmt.Errorf("binlake_seq: want a TIMESTAMPTZ, got %T", v)
			}
			return e.Resolve(ctx, At{Time: t})
		}},
		"binlake_seq_at_version": {duckdb.TYPE_BIGINT, func(ctx context.Context, v driver.Value) (tableformat.Point, error) {
			n, ok := v.(int64)
			if !ok || n < 1 {
				return tableformat.Point{}, fmt.Errorf("binlake_seq_at_version: want a version of 1 or more, got %v", v)
			}
			return e.Resolve(ctx, At{Version: n})
		}},
		"binlake_seq_at_gtid": {duckdb.TYPE_VARCHAR, func(ctx context.Context, v driver.Value) (tableformat.Point, error) {
			s, err := str(v)
			if err != nil {
				return tableformat.Point{}, fmt.Errorf("binlake_seq_at_gtid: %w", err)
			}
			return e.Resolve(ctx, At{GTID: s})
		}},
		"binlake_seq_at_position": {duckdb.TYPE_VARCHAR, func(ctx context.Context, v driver.Value) (tableformat.Point, error) {
			s, err := str(v)
			if err != nil {
				return tableformat.Point{}, fmt.Errorf("binlake_seq_at_position: %w", err)
			}
			return e.Resolve(ctx, At{Position: s})
		}},
	}
	for name, f := range funcs {
		if err := duckdb.RegisterScalarUDF(conn, name, f); err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
	}
	return nil
}
