package ingest

import "context"

// Resync wraps a snapshot source so that the snapshot replaces what the
// lake holds: before the first rows of each table it emits a truncate of
// that table, so the lake's contents after the snapshot's commit are exactly
// the snapshot's, while everything before stays readable as history.
// Tables the lake has but the snapshot no longer finds are left as they are.
func Resync(src Source) Source { return &resync{Source: src, seen: map[[2]string]bool{}} }

type resync struct {
	Source
	seen    map[[2]string]bool
	pending Event // the rows event held back behind its truncate
}

func (r *resync) Next(ctx context.Context) (Event, error) {
	if ev := r.pending; ev != nil {
		r.pending = nil
		return ev, nil
	}
	ev, err := r.Source.Next(ctx)
	if err != nil {
		return nil, err
	}
	rows, ok := ev.(*Rows)
	if !ok {
		return ev, nil
	}
	key := [2]string{rows.Table.DB, rows.Table.Name}
	if r.seen[key] {
		return ev, nil
	}
	r.seen[key] = true
	r.pending = ev
	return &DDL{Op: DDLTruncate, DB: rows.Table.DB, Name: rows.Table.Name, SQL: "-- resync: replaced by a snapshot"}, nil
}
