package query

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/binlake/binlake/tableformat"
)

// A re-snapshot's end (FORMAT.md §15, ingest's resnapshot.go): the rows the
// source holds at the lake's latest sequence E are the chunks' rows (each
// chunk the rows of its key range at its sequence S_i), less those a change
// after S_i replaced, plus the rows of those later changes — a merge of the
// chunks with the lake's deltas after the first chunk's sequence, in which
// each chunk row is also a delete of its key at S_i (so a delta of that key
// from before S_i falls away). Their difference from the lake's rows at E,
// by key (or, without a key, as multisets), is written as new changes:
// inserts, deletes and updates (a delete of the old key and the new row at
// one sequence) of the rows that differ, and only those.

// ResnapshotChanges implements ingest.Differ: it writes, into the lake's
// store, the changes that bring table tableID of st to the rows job read,
// with sequences from firstSeq on and source time ts, and returns their
// files and how many sequences they use.
func (e *Engine) ResnapshotChanges(ctx context.Context, st *tableformat.State, job *tableformat.ResnapshotJob, tableID int64,
	firstSeq, ts int64) ([]tableformat.AddFile, int64, error) {
	t, ok := st.Tables[tableID]
	end := st.Progress.MaxSeq
	if !ok || !t.ExistsAt(end) {
		return nil, 0, fmt.Errorf("re-snapshot of %s.%s: table %d does not exist at sequence %d", job.DB, job.Name, tableID, end)
	}
	if len(job.Chunks) == 0 {
		return nil, 0, fmt.Errorf("re-snapshot of %s.%s: no chunk read", job.DB, job.Name)
	}
	lake, err := planTable(t, end, nil)
	if err != nil {
		return nil, 0, err
	}
	sc := lake.schema
	from := job.Chunks[0].Seq
	fileOf := func(f tableformat.AddFile) (*planFile, error) {
		fsc, ok := t.SchemaVersion(f.SchemaVersion)
		if !ok {
			return nil, &tableformat.CorruptError{Key: f.Path, Reason: fmt.Sprintf("schema version %d of table %d is not in the log", f.SchemaVersion, t.ID)}
		}
		cols := fsc.Columns
		if f.Kind == tableformat.FileDelete {
			cols = fsc.KeyColumns()
		}
		pf := &planFile{add: f, ids: map[int]bool{}}
		for _, c := range cols {
			pf.ids[c.ID] = true
		}
		return pf, nil
	}
	var chunks, data, dels []*planFile
	for _, c := range job.Chunks {
		for _, f := range c.Files {
			pf, err := fileOf(f)
			if err != nil {
				return nil, 0, err
			}
			chunks = append(chunks, pf)
		}
	}
	for _, f := range t.SortedFiles() {
		if f.Kind == tableformat.FileSnapshot || f.MaxSeq <= from || f.MinSeq > end {
			continue
		}
		pf, err := fileOf(f)
		if err != nil {
			return nil, 0, err
		}
		if f.Kind == tableformat.FileDelete {
			dels = append(dels, pf)
		} else {
			data = append(data, pf)
		}
	}
	release, err := e.fetchInputs(ctx, slices.Concat(lake.files(), chunks, data, dels))
	if err != nil {
		return nil, 0, err
	}
	defer release()
	conn, done, err := e.builder(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()

	var ids []int
	for _, c := range sc.Columns {
		ids = append(ids, c.ID)
	}
	keyIDs := sc.Key
	if len(keyIDs) == 0 {
		keyIDs = ids
	}
	vals := func(fs []*planFile) []planFile {
		out := make([]planFile, len(fs))
		for i, f := range fs {
			out[i] = *f
		}
		return out
	}
	window := fmt.Sprintf("_binlake_seq > %d AND _binlake_seq <= %d", from, end)
	source := readFiles(vals(chunks), ids, "true", lake.fills)
	if len(chunks) == 0 {
		source = emptyRows(sc)
	}
	if len(data) > 0 {
		source += " UNION ALL BY NAME " + readFiles(vals(data), ids, window, lake.fills)
	}
	for _, d := range dels {
		if !slices.Equal(slices.Sorted(maps.Keys(d.ids)), slices.Sorted(slices.Values(keyIDs))) {
			return nil, 0, fmt.Errorf("re-snapshot of %s.%s: the key changed since the first chunk was read (%s)", job.DB, job.Name, d.add.Path)
		}
	}
	lakeRows := lake.mergedSQL()
	if lakeRows == "" {
		lakeRows = emptyRows(sc)
	}
	var diff string
	if len(sc.Key) > 0 {
		removed := readFiles(vals(chunks), keyIDs, "true", nil)
		if len(chunks) == 0 {
			removed = emptyRows(sc)
		}
		if len(dels) > 0 {
			removed += " UNION ALL BY NAME " + readFiles(vals(dels), keyIDs, window, nil)
		}
		diff = keyedDiff(antiJoin(source, keyIDs, removed), lakeRows, ids, keyIDs, firstSeq)
	} else {
		if len(dels) > 0 {
			source = keyless(source, keyIDs, readFiles(vals(dels), keyIDs, window, lake.fills))
		}
		diff = keylessDiff(source, lakeRows, ids, firstSeq)
	}
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE _diff AS "+diff); err != nil {
		return nil, 0, fmt.Errorf("re-snapshot of %s.%s: compare: %w", job.DB, job.Name, err)
	}
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM _diff").Scan(&n); err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, nil
	}
	tmp, err := os.MkdirTemp(e.cache.SpillDir(), "resnapshot-*")
	if err != nil {
		return nil, 0, fmt.Errorf("query cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	stamp := fmt.Sprintf("(to_timestamp(0) + to_microseconds(CAST(%d AS BIGINT))) AS _binlake_ts", ts)
	var out []tableformat.AddFile
	name := t.NameAt(end)
	for _, w := range []struct {
		kind tableformat.FileKind
		ops  string // the _kind values the file holds
		op   string // _binlake_op by _kind
	}{
		{tableformat.FileData, "1, 2", "CASE _kind WHEN 1 THEN 1 ELSE 2 END"},
		{tableformat.FileDelete, "2, 3", "CASE _kind WHEN 3 THEN 3 ELSE 4 END"},
	} {
		from := fmt.Sprintf("SELECT * EXCLUDE (_kind), %s, CAST(%s AS INTEGER) AS _binlake_op FROM _diff WHERE _kind IN (%s)", stamp, w.op, w.ops)
		written, err := writeOn(ctx, conn, lakeCopy{table: t, schema: sc, kind: w.kind, from: func() string { return from },
			order: []string{"_binlake_seq"}, asOf: end}, filepath.Join(tmp, string(w.kind)))
		if err != nil {
			return nil, 0, err
		}
		for _, wf := range written {
			add := wf.Add
			add.Path = tableformat.NewFileKey(name.DB, name.Name, add.Kind, add.MinSeq, uuid.NewString())
			if err := tableformat.PutFile(ctx, e.log.Store(), add.Path, wf.Local); err != nil {
				return nil, 0, err
			}
			out = append(out, add)
		}
	}
	return out, n, nil
}

// emptyRows is SQL of no rows with sc's columns and the _binlake_ ones.
func emptyRows(sc *tableformat.Schema) string {
	var cols []string
	for _, c := range sc.Columns {
		cols = append(cols, "CAST(NULL AS "+storedType(c.Type)+") AS "+colName(c.ID))
	}
	cols = append(cols, "CAST(NULL AS BIGINT) AS _binlake_seq", "CAST(NULL AS TIMESTAMPTZ) AS _binlake_ts", "CAST(NULL AS INTEGER) AS _binlake_op")
	return "SELECT " + strings.Join(cols, ", ") + " WHERE false"
}

// keyedDiff is SQL of the rows of source (F) that differ from the lake's
// rows (lake, L) by key: columns c<ID>, _kind (1 insert, 2 update, 3
// delete) and _binlake_seq, numbered from firstSeq in key order. A key the
// lake holds more than once (rows a statement removed without row events,
// then inserted again) is an update: its delete removes every row of it.
func keyedDiff(source, lake string, ids, keyIDs []int, firstSeq int64) string {
	isKey := map[int]bool{}
	var keys, on []string
	for _, id := range keyIDs {
		isKey[id] = true
		keys = append(keys, colName(id))
		on = append(on, fmt.Sprintf("f.%s = l.%s", colName(id), colName(id)))
	}
	var jcols, same, gcols []string
	for _, id := range ids {
		c := colName(id)
		same = append(same, fmt.Sprintf("f.%s IS NOT DISTINCT FROM l.%s", c, c))
		if isKey[id] {
			jcols = append(jcols, fmt.Sprintf("COALESCE(f.%s, l.%s) AS %s", c, c, c))
			gcols = append(gcols, c)
		} else {
			jcols = append(jcols, fmt.Sprintf("f.%s AS _f%d", c, id))
			gcols = append(gcols, fmt.Sprintf("any_value(_f%d) AS %s", id, c))
		}
	}
	cols := func(rel string) string {
		var cs []string
		for _, id := range ids {
			cs = append(cs, colName(id))
		}
		return fmt.Sprintf("SELECT %s FROM (%s)", strings.Join(cs, ", "), rel)
	}
	j := fmt.Sprintf("SELECT %s, f.%s IS NOT NULL AS _in_f, l.%s IS NOT NULL AS _in_l, (%s) AS _same FROM (%s) f FULL OUTER JOIN (%s) l ON %s",
		strings.Join(jcols, ", "), keys[0], keys[0], strings.Join(same, " AND "), cols(source), cols(lake), strings.Join(on, " AND "))
	g := fmt.Sprintf("SELECT %s, bool_or(_in_f) AS _in_f, count(*) FILTER (WHERE _in_l) AS _nl, bool_and(_same) AS _same FROM (%s) GROUP BY %s",
		strings.Join(gcols, ", "), j, strings.Join(keys, ", "))
	d := fmt.Sprintf("SELECT * EXCLUDE (_in_f, _nl, _same), CASE WHEN NOT _in_f THEN 3 WHEN _nl = 0 THEN 1 ELSE 2 END AS _kind FROM (%s) WHERE NOT (_in_f AND _nl = 1 AND _same)", g)
	return fmt.Sprintf("SELECT *, CAST(%d + row_number() OVER (ORDER BY %s) - 1 AS BIGINT) AS _binlake_seq FROM (%s)", firstSeq, strings.Join(keys, ", "), d)
}

// keylessDiff is SQL of the difference of two multisets of rows, source
// (F) and the lake's (lake, L): a row F holds k more times than L is k
// inserts, one L holds k more times than F is k deletes (of one identical
// row each).
func keylessDiff(source, lake string, ids []int, firstSeq int64) string {
	var cs, on, pick []string
	for _, id := range ids {
		c := colName(id)
		cs = append(cs, c)
		on = append(on, fmt.Sprintf("f.%s IS NOT DISTINCT FROM l.%s", c, c))
		pick = append(pick, fmt.Sprintf("CASE WHEN f._n IS NOT NULL THEN f.%s ELSE l.%s END AS %s", c, c, c))
	}
	list := strings.Join(cs, ", ")
	count := func(rel string) string {
		return fmt.Sprintf("SELECT %s, count(*) AS _n FROM (%s) GROUP BY ALL", list, rel)
	}
	d := fmt.Sprintf("SELECT %s, COALESCE(f._n, 0) - COALESCE(l._n, 0) AS _d FROM (%s) f FULL OUTER JOIN (%s) l ON %s",
		strings.Join(pick, ", "), count(source), count(lake), strings.Join(on, " AND "))
	each := fmt.Sprintf("SELECT %s, CASE WHEN _d > 0 THEN 1 ELSE 3 END AS _kind, unnest(range(abs(_d))) AS _i FROM (%s) WHERE _d <> 0", list, d)
	return fmt.Sprintf("SELECT %s, _kind, CAST(%d + row_number() OVER (ORDER BY _kind, %s, _i) - 1 AS BIGINT) AS _binlake_seq FROM (%s)",
		list, firstSeq, list, each)
}
