package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
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
//
// The comparison reads every row of the table twice and runs beside
// ingest (ResnapshotCompare); the stream goes on meanwhile, so the changes
// are written later at a sequence E' ≥ E (ResnapshotDiff.Changes), which
// costs what differs: a key the stream changed in (E, E'] is the source's
// as the stream says (a delete of the key, or an update, removes every row
// of it from the lake), except when that change was an insert alone of a
// key the lake held although the source did not (the comparison's delete):
// that insert joined the lake's stale row, so the key's rows are replaced
// by the insert's. A keyless table, whose rows the stream changed, is
// compared again at E'.

// ResnapshotCompare compares the rows job read with table tableID's rows
// at st.Progress.MaxSeq (E). It may run beside ingest; the result keeps
// the difference in a local file until it is closed.
func (e *Engine) ResnapshotCompare(ctx context.Context, st *tableformat.State, job *tableformat.ResnapshotJob, tableID int64) (*ResnapshotDiff, error) {
	d := &ResnapshotDiff{e: e, job: job, tableID: tableID, at: st.Progress.MaxSeq}
	t, err := d.table(st)
	if err != nil {
		return nil, err
	}
	d.schema = t.SchemaAt(d.at)
	if len(job.Chunks) == 0 {
		return nil, fmt.Errorf("re-snapshot of %s.%s: no chunk read", job.DB, job.Name)
	}
	if d.dir, err = os.MkdirTemp(e.cache.SpillDir(), "resnapshot-*"); err != nil {
		return nil, fmt.Errorf("query cache: %w", err)
	}
	n, err := d.compare(ctx, st, filepath.Join(d.dir, "diff.parquet"))
	if err != nil {
		d.Close()
		return nil, err
	}
	d.rows = n
	return d, nil
}

// ResnapshotDiff is a comparison's result: the rows of the source that
// differ from the lake's at sequence at (columns c<ID> and _kind: 1
// insert, 2 update, 3 delete), in a local Parquet file.
type ResnapshotDiff struct {
	e       *Engine
	job     *tableformat.ResnapshotJob
	tableID int64
	at      int64
	schema  *tableformat.Schema
	dir     string
	rows    int64
}

// Close removes the comparison's file.
func (d *ResnapshotDiff) Close() error {
	if d.dir == "" {
		return nil
	}
	err := os.RemoveAll(d.dir)
	d.dir = ""
	return err
}

func (d *ResnapshotDiff) table(st *tableformat.State) (*tableformat.TableState, error) {
	t := st.Tables.Get(d.tableID)
	if t == nil || !t.ExistsAt(st.Progress.MaxSeq) {
		return nil, fmt.Errorf("re-snapshot of %s.%s: table %d does not exist at sequence %d", d.job.DB, d.job.Name, d.tableID, st.Progress.MaxSeq)
	}
	return t, nil
}

// resnapInputs are the files a comparison reads.
type resnapInputs struct {
	lake        *tablePlan
	chunks      []*planFile
	data, dels  []*planFile // the lake's deltas with sequences in (from, to]
	ids, keyIDs []int
	from, to    int64
}

// inputs plans the reads of table t: its rows at to, the chunks, and the
// deltas in (from, to].
func (d *ResnapshotDiff) inputs(t *tableformat.TableState, from, to int64, chunks bool) (*resnapInputs, error) {
	lake, err := planTable(t, to, nil)
	if err != nil {
		return nil, err
	}
	in := &resnapInputs{lake: lake, from: from, to: to}
	sc := lake.schema
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
	if chunks {
		for _, c := range d.job.Chunks {
			for _, f := range c.Files {
				pf, err := fileOf(f)
				if err != nil {
					return nil, err
				}
				in.chunks = append(in.chunks, pf)
			}
		}
	}
	for _, f := range t.SortedFiles() {
		if f.Kind == tableformat.FileSnapshot || f.MaxSeq <= from || f.MinSeq > to {
			continue
		}
		pf, err := fileOf(f)
		if err != nil {
			return nil, err
		}
		if f.Kind == tableformat.FileDelete {
			in.dels = append(in.dels, pf)
		} else {
			in.data = append(in.data, pf)
		}
	}
	for _, c := range sc.Columns {
		in.ids = append(in.ids, c.ID)
	}
	in.keyIDs = sc.Key
	if len(in.keyIDs) == 0 {
		in.keyIDs = in.ids
	}
	for _, f := range in.dels {
		if !slices.Equal(slices.Sorted(maps.Keys(f.ids)), slices.Sorted(slices.Values(in.keyIDs))) {
			return nil, fmt.Errorf("re-snapshot of %s.%s: the key changed since the first chunk was read (%s)", d.job.DB, d.job.Name, f.add.Path)
		}
	}
	return in, nil
}

func (in *resnapInputs) files() []*planFile {
	return slices.Concat(in.lake.files(), in.chunks, in.data, in.dels)
}

// window is SQL of the deltas' rows in (from, to]: data (every column) and
// deletes (the key's); "" when there are none.
func (in *resnapInputs) window() (data, dels string) {
	where := fmt.Sprintf("_binlake_seq > %d AND _binlake_seq <= %d", in.from, in.to)
	if len(in.data) > 0 {
		data = readFiles(values(in.data), in.ids, where, in.lake.fills)
	}
	if len(in.dels) > 0 {
		dels = readFiles(values(in.dels), in.keyIDs, where, nil)
	}
	return data, dels
}

func values(fs []*planFile) []planFile {
	out := make([]planFile, len(fs))
	for i, f := range fs {
		out[i] = *f
	}
	return out
}

// diffSQL is SQL of the difference between the source's rows the chunks
// and the deltas in (from, to] give and the lake's rows at to.
func (in *resnapInputs) diffSQL() string {
	sc := in.lake.schema
	lakeRows := in.lake.mergedSQL()
	if lakeRows == "" {
		lakeRows = emptyRows(sc)
	}
	source := emptyRows(sc)
	if len(in.chunks) > 0 {
		source = readFiles(values(in.chunks), in.ids, "true", in.lake.fills)
	}
	data, dels := in.window()
	if len(sc.Key) == 0 {
		if data != "" {
			source += " UNION ALL BY NAME " + data
		}
		if dels != "" {
			source = keyless(source, in.keyIDs, dels)
		}
		return keylessDiff(source, lakeRows, in.ids)
	}
	if data != "" || dels != "" {
		if data == "" {
			data = emptyRows(sc)
		}
		source = keyedMerge(source, data, dels, in.keyIDs)
	}
	return keyedDiff(source, lakeRows, sc)
}

// compare writes the difference at d.at to path and counts its rows.
func (d *ResnapshotDiff) compare(ctx context.Context, st *tableformat.State, path string) (int64, error) {
	t, err := d.table(st)
	if err != nil {
		return 0, err
	}
	in, err := d.inputs(t, d.job.Chunks[0].Seq, st.Progress.MaxSeq, true)
	if err != nil {
		return 0, err
	}
	release, err := d.e.fetchInputs(ctx, in.files())
	if err != nil {
		return 0, err
	}
	defer release()
	var n int64
	err = d.withMemory(ctx, "compare", func(conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION snappy)", in.diffSQL(), quoteString(path))); err != nil {
			return fmt.Errorf("re-snapshot of %s.%s: compare: %w", d.job.DB, d.job.Name, err)
		}
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM read_parquet("+quoteString(path)+")").Scan(&n); err != nil {
			return fmt.Errorf("re-snapshot of %s.%s: compare: %w", d.job.DB, d.job.Name, err)
		}
		return nil
	})
	return n, err
}

// withMemory runs f on a DuckDB connection of its own held to the
// re-snapshot memory limit (Options.ResnapshotMemoryLimit), and, each time
// it fails for lack of memory, again with twice the memory, up to
// Options.MemoryLimit. Some of DuckDB's operators cannot spill (a scan
// keeps buffers per file and column): a table of wide rows in hundreds of
// small delta files needed more than 32 MiB, and a fixed limit would fail
// the re-snapshot for ever.
func (d *ResnapshotDiff) withMemory(ctx context.Context, step string, f func(conn *sql.Conn) error) error {
	limit := d.e.opts.ResnapshotMemoryLimit
	for {
		conn, done, err := d.e.builderWith(ctx, limit)
		if err != nil {
			return err
		}
		err = f(conn)
		done()
		var de *duckdb.Error
		if err == nil || !errors.As(err, &de) || de.Type != duckdb.ErrorTypeOutOfMemory {
			return err
		}
		next, ok := doubledMemory(limit, d.e.opts.MemoryLimit)
		if !ok {
			return fmt.Errorf("%w (query.memory_limit %s is the most a re-snapshot may use: raise it)", err, d.e.opts.MemoryLimit)
		}
		d.e.opts.Logger.Warn("re-snapshot: DuckDB ran out of memory; trying again with more", "table", d.job.DB+"."+d.job.Name,
			"step", step, "memory_limit", limit, "next", next)
		limit = next
	}
}

// doubledMemory is twice limit, at most most (both in DuckDB's syntax), and
// whether that is more than limit.
func doubledMemory(limit, most string) (string, bool) {
	cur, ok1 := duckSize(limit)
	top, ok2 := duckSize(most)
	if !ok1 || !ok2 || cur >= top {
		return "", false
	}
	return fmt.Sprintf("%dB", min(2*cur, top)), true
}

// duckSize reads a memory size in DuckDB's syntax ("64MB", "1GiB",
// "33554432B"): decimal (KB, MB, GB, TB) and binary (KiB, MiB, GiB, TiB)
// units, B for bytes.
func duckSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, false
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	units := map[string]float64{"b": 1, "bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
	u, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, false
	}
	return int64(n * u), true
}

// Changes writes, into the lake's store, the changes that bring the table
// to the source's rows as of st (st.Progress.MaxSeq ≥ the comparison's),
// with sequences from firstSeq on and source time ts, and returns their
// files and how many sequences they use.
func (d *ResnapshotDiff) Changes(ctx context.Context, st *tableformat.State, firstSeq, ts int64) ([]tableformat.AddFile, int64, error) {
	if d.dir == "" {
		return nil, 0, fmt.Errorf("re-snapshot of %s.%s: the comparison is closed", d.job.DB, d.job.Name)
	}
	if d.rows == 0 {
		// The lake held the source's rows at d.at; the stream's changes
		// since are the source's.
		return nil, 0, nil
	}
	end := st.Progress.MaxSeq
	if end < d.at {
		return nil, 0, fmt.Errorf("re-snapshot of %s.%s: the lake (sequence %d) is behind the comparison (%d)", d.job.DB, d.job.Name, end, d.at)
	}
	t, err := d.table(st)
	if err != nil {
		return nil, 0, err
	}
	sc := t.SchemaAt(end)
	if sc.Version != d.schema.Version {
		return nil, 0, fmt.Errorf("re-snapshot of %s.%s: the table's schema changed since the comparison (version %d, now %d)",
			d.job.DB, d.job.Name, d.schema.Version, sc.Version)
	}
	in, err := d.inputs(t, d.at, end, false)
	if err != nil {
		return nil, 0, err
	}
	window := len(in.data)+len(in.dels) > 0
	if window && len(sc.Key) == 0 {
		// Compared again at end.
		if in, err = d.inputs(t, d.job.Chunks[0].Seq, end, true); err != nil {
			return nil, 0, err
		}
	}
	release, err := d.e.fetchInputs(ctx, in.files())
	if err != nil {
		return nil, 0, err
	}
	defer release()
	prepared := "SELECT * FROM read_parquet(" + quoteString(filepath.Join(d.dir, "diff.parquet")) + ")"
	diff := prepared
	switch {
	case window && len(sc.Key) == 0:
		diff = in.diffSQL()
	case window:
		data, dels := in.window()
		diff = streamed(prepared, data, dels, sc)
	}
	var files []tableformat.AddFile
	var n int64
	err = d.withMemory(ctx, "changes", func(conn *sql.Conn) error {
		var err error
		files, n, err = d.write(ctx, conn, t, sc, diff, firstSeq, ts, end)
		return err
	})
	return files, n, err
}

// streamed is SQL of the difference prepared (at sequence E) as it stands
// after the stream's changes data and dels (in (E, E']) of a keyed table:
// see the comment at the top of the file.
func streamed(prepared, data, dels string, sc *tableformat.Schema) string {
	var keys []string
	for _, id := range sc.Key {
		keys = append(keys, colName(id))
	}
	list := strings.Join(keys, ", ")
	on := func(a, b string) string {
		var on []string
		for _, k := range keys {
			on = append(on, fmt.Sprintf("%s.%s = %s.%s", a, k, b, k))
		}
		return strings.Join(on, " AND ")
	}
	touched := "SELECT " + list + " FROM (" + data + ")"
	if data == "" {
		touched = "SELECT " + list + " FROM (" + dels + ")"
	} else if dels != "" {
		touched += " UNION SELECT " + list + " FROM (" + dels + ")"
	}
	out := fmt.Sprintf("SELECT p.* FROM (%s) p ANTI JOIN (%s) w ON %s", prepared, touched, on("p", "w"))
	if data == "" {
		return out
	}
	inserted := fmt.Sprintf("SELECT * FROM (%s) QUALIFY row_number() OVER (PARTITION BY %s ORDER BY _binlake_seq DESC) = 1", data, list)
	if dels != "" {
		inserted = fmt.Sprintf("SELECT i.* FROM (%s) i ANTI JOIN (%s) x ON %s", inserted, dels, on("i", "x"))
	}
	var cols []string
	for _, c := range sc.Columns {
		cols = append(cols, "i."+colName(c.ID))
	}
	fix := fmt.Sprintf("SELECT %s, 2 AS _kind FROM (%s) i SEMI JOIN (SELECT %s FROM (%s) WHERE _kind = 3) p ON %s",
		strings.Join(cols, ", "), inserted, list, prepared, on("i", "p"))
	return out + " UNION ALL BY NAME " + fix
}

// write writes the changes diff gives (c<ID>, _kind) as delta files of
// table t (schema sc) at sequences from firstSeq on, in key order.
func (d *ResnapshotDiff) write(ctx context.Context, conn *sql.Conn, t *tableformat.TableState, sc *tableformat.Schema,
	diff string, firstSeq, ts, end int64) ([]tableformat.AddFile, int64, error) {
	var order []string
	for _, id := range sc.Key {
		order = append(order, colName(id))
	}
	if len(order) == 0 {
		order = append(order, "_kind")
		for _, c := range sc.Columns {
			order = append(order, colName(c.ID))
		}
	}
	numbered := fmt.Sprintf("SELECT *, CAST(%d + row_number() OVER (ORDER BY %s) - 1 AS BIGINT) AS _binlake_seq FROM (%s)",
		firstSeq, strings.Join(order, ", "), diff)
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE _diff AS "+numbered); err != nil {
		return nil, 0, fmt.Errorf("re-snapshot of %s.%s: changes: %w", d.job.DB, d.job.Name, err)
	}
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM _diff").Scan(&n); err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, nil
	}
	tmp, err := os.MkdirTemp(d.dir, "changes-*")
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
			if err := tableformat.PutFile(ctx, d.e.log.Store(), add.Path, wf.Local); err != nil {
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

// keyedMerge is SQL of the rows the chunks and the lake's changes after
// them give: a chunk row stays unless a later change (winRows, winDels) of
// its key replaced it; a change stays when it is its key's last and no
// chunk read its key after it. The changes are few beside the chunks, so
// every join builds on them.
func keyedMerge(chunkRows, winRows, winDels string, keyIDs []int) string {
	var keys, on, onW []string
	for _, id := range keyIDs {
		keys = append(keys, colName(id))
		on = append(on, fmt.Sprintf("c.%s = w.%s", colName(id), colName(id)))
		onW = append(onW, fmt.Sprintf("r.%s = w.%s", colName(id), colName(id)))
	}
	list := strings.Join(keys, ", ")
	changes := fmt.Sprintf("SELECT %s, _binlake_seq FROM (%s)", list, winRows)
	if winDels != "" {
		changes += fmt.Sprintf(" UNION ALL SELECT %s, _binlake_seq FROM (%s)", list, winDels)
	}
	last := fmt.Sprintf("SELECT %s, max(_binlake_seq) AS _last FROM (%s) GROUP BY ALL", list, changes)
	kept := fmt.Sprintf("SELECT c.* FROM (%s) c LEFT JOIN (%s) w ON %s WHERE w._last IS NULL OR w._last <= c._binlake_seq",
		chunkRows, last, strings.Join(on, " AND "))
	readAt := fmt.Sprintf("SELECT %s, max(c._binlake_seq) AS _read FROM (%s) c SEMI JOIN (%s) w ON %s GROUP BY ALL",
		prefixed("c", keys), chunkRows, last, strings.Join(on, " AND "))
	var onR []string
	for _, k := range keys {
		onR = append(onR, fmt.Sprintf("r.%s = a.%s", k, k))
	}
	changed := fmt.Sprintf("SELECT r.* FROM (%s) r JOIN (%s) w ON %s AND r._binlake_seq = w._last LEFT JOIN (%s) a ON %s "+
		"WHERE a._read IS NULL OR a._read < r._binlake_seq", winRows, last, strings.Join(onW, " AND "), readAt, strings.Join(onR, " AND "))
	return kept + " UNION ALL BY NAME " + changed
}

func prefixed(p string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = p + "." + c
	}
	return strings.Join(out, ", ")
}

// keyedDiff is SQL of the rows of source (F) that differ from the lake's
// rows (lake, L) by key: columns c<ID>, _kind (1 insert, 2 update, 3
// delete). Rows are
// compared by a hash of their values as stored, so the join holds a key and
// a hash per row of L, not the rows. A key the lake holds more than once
// (rows a statement removed without row events, then inserted again) is an
// update: its delete removes every row of it.
func keyedDiff(source, lake string, sc *tableformat.Schema) string {
	isKey := map[int]bool{}
	var keys, on, cols, typed []string
	for _, id := range sc.Key {
		isKey[id] = true
		keys = append(keys, colName(id))
		on = append(on, fmt.Sprintf("f.%s = l.%s", colName(id), colName(id)))
	}
	var jcols []string
	for _, c := range sc.Columns {
		n := colName(c.ID)
		cols = append(cols, n)
		typed = append(typed, fmt.Sprintf("CAST(%s AS %s)", n, storedType(c.Type)))
		if isKey[c.ID] {
			jcols = append(jcols, fmt.Sprintf("COALESCE(f.%s, l.%s) AS %s", n, n, n))
		} else {
			jcols = append(jcols, "f."+n)
		}
	}
	h := "hash(" + strings.Join(typed, ", ") + ")"
	f := fmt.Sprintf("SELECT %s, %s AS _h FROM (%s)", strings.Join(cols, ", "), h, source)
	l := fmt.Sprintf("SELECT %s, count(*) AS _n, min(%s) AS _h FROM (%s) GROUP BY ALL", strings.Join(keys, ", "), h, lake)
	j := fmt.Sprintf("SELECT %s, f.%s IS NOT NULL AS _in_f, COALESCE(l._n, 0) AS _nl, f._h IS NOT DISTINCT FROM l._h AS _same "+
		"FROM (%s) f FULL OUTER JOIN (%s) l ON %s", strings.Join(jcols, ", "), keys[0], f, l, strings.Join(on, " AND "))
	return fmt.Sprintf("SELECT * EXCLUDE (_in_f, _nl, _same), CASE WHEN NOT _in_f THEN 3 WHEN _nl = 0 THEN 1 ELSE 2 END AS _kind "+
		"FROM (%s) WHERE NOT (_in_f AND _nl = 1 AND _same)", j)
}

// keylessDiff is SQL of the difference of two multisets of rows, source
// (F) and the lake's (lake, L): a row F holds k more times than L is k
// inserts, one L holds k more times than F is k deletes (of one identical
// row each).
func keylessDiff(source, lake string, ids []int) string {
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
	return fmt.Sprintf("SELECT %s, _kind FROM (%s)", list, each)
}
