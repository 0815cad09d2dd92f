package ingest

import "context"

// Resync wraps a snapshot source so that the snapshot replaces what the
// lake holds: before the first rows of each table (or the CREATE an empty
// table comes as) it emits a truncate of that table, so the lake's contents after the snapshot's commit are exactly
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
	var key [2]string
	switch e := ev.(type) {
	case *Rows:
		key = [2]string{e.Table.DB, e.Table.Name}
	case *DDL:
		// An empty table comes as its CREATE: it too replaces the rows
		// the lake holds.
		if e.Op != DDLCreate {
			return ev, nil
		}
		key = [2]string{e.DB, e.Name}
	default:
		return ev, nil
	}
	if r.seen[key] {
		return ev, nil
	}
	r.seen[key] = true
	r.pending = ev
	return &DDL{Op: DDLTruncate, DB: key[0], Name: key[1], SQL: "-- resync: replaced by a snapshot"}, nil
}
