package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/binlake/binlake/tableformat"
)

// Lake files written by DuckDB: a table's merged state (a snapshot, in the
// lake by compaction or in the cache as a local snapshot) and merged delta
// files are DuckDB's COPY of the merge SQL into Parquet, with the lake's
// column names, field ids and key-value metadata (FORMAT.md §12), the
// self-checksum sealed in place afterwards. DuckDB merges, sorts and writes
// at about a million rows a second on two cores.

// lakeCopy is one COPY into lake files.
type lakeCopy struct {
	table  *tableformat.TableState
	schema *tableformat.Schema // the files' schema version
	kind   tableformat.FileKind
	// from is SQL of the rows (c<ID> columns and _binlake_*), built once
	// the inputs are fetched.
	from  func() string
	order []string // ORDER BY terms
	asOf  int64    // snapshots: the state's sequence
	// inputs are the files from reads: fetched and pinned for the copy.
	inputs []*planFile
	// targetBytes splits the output into files of about this size; 0: one
	// file. ranged are the inputs whose rows become the output (their size
	// is the estimate, their first ORDER BY column gives the ranges).
	targetBytes int64
	ranged      []*planFile
}

// builder opens a DuckDB of its own for binlake's SQL (never a user's), with
// the engine's limits and a spill directory under the cache; close it with
// the returned func.
func (e *Engine) builder(ctx context.Context) (*sql.Conn, func(), error) {
	return e.builderWith(ctx, e.opts.MemoryLimit)
}

// builderWith is builder with DuckDB's memory limit memoryLimit.
func (e *Engine) builderWith(ctx context.Context, memoryLimit string) (*sql.Conn, func(), error) {
	spill, err := os.MkdirTemp(e.cache.SpillDir(), "write-*")
	if err != nil {
		return nil, nil, fmt.Errorf("query cache: %w", err)
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		os.RemoveAll(spill)
		return nil, nil, fmt.Errorf("open duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	closeAll := func() {
		db.Close()
		os.RemoveAll(spill)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("open duckdb: %w", err)
	}
	for _, stmt := range []string{
		fmt.Sprintf("SET threads = %d", e.opts.Threads),
		"SET memory_limit = " + quoteString(memoryLimit),
		"SET temp_directory = " + quoteString(spill),
		"SET max_temp_directory_size = " + quoteString(e.opts.MaxSpill),
		"SET TimeZone = 'UTC'",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		// A sorted COPY keeps its order across the files it splits into.
		"SET preserve_insertion_order = true",
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			conn.Close()
			closeAll()
			return nil, nil, fmt.Errorf("set up duckdb: %w", err)
		}
	}
	return conn, func() { conn.Close(); closeAll() }, nil
}

// fetchInputs fetches and pins the files a copy reads; the returned func
// unpins them.
func (e *Engine) fetchInputs(ctx context.Context, files []*planFile) (func(), error) {
	var pins []string
	release := func() {
		for _, p := range pins {
			e.cache.Unpin(p)
		}
	}
	for _, f := range files {
		var err error
		if f.local {
			err = e.cache.pinLocal(f.path)
		} else {
			f.path, err = e.cache.Fetch(ctx, e.log.Store(), f.add)
		}
		if err != nil {
			release()
			return nil, err
		}
		pins = append(pins, f.path)
	}
	return release, nil
}

// write runs the copy into dir (which must not exist) and returns the sealed
// files in order. No rows: no delta file, but one empty snapshot file (the
// table was empty then).
func (e *Engine) write(ctx context.Context, c lakeCopy, dir string) ([]tableformat.WrittenFile, error) {
	release, err := e.fetchInputs(ctx, c.inputs)
	if err != nil {
		return nil, err
	}
	defer release()
	conn, done, err := e.builder(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return writeOn(ctx, conn, c, dir)
}

// writeOn is write on a builder connection whose inputs are fetched.
func writeOn(ctx context.Context, conn *sql.Conn, c lakeCopy, dir string) ([]tableformat.WrittenFile, error) {
	schemaJSON, err := json.Marshal(c.schema)
	if err != nil {
		return nil, err
	}
	cols := c.schema.Columns
	if c.kind == tableformat.FileDelete {
		cols = c.schema.KeyColumns()
	}
	var proj, ids []string
	for _, col := range cols {
		typ := storedType(col.Type)
		if col.Type.Kind == tableformat.KindJSON {
			typ = "JSON" // the Parquet JSON type; DuckDB keeps the text as it is
		}
		proj = append(proj, fmt.Sprintf("CAST(%s AS %s) AS %s", colName(col.ID), typ, colName(col.ID)))
		ids = append(ids, fmt.Sprintf("%s: %d", colName(col.ID), col.ID))
	}
	proj = append(proj, "_binlake_seq", "_binlake_ts", "_binlake_op")
	from := c.from()
	query := func(where string) string {
		q := fmt.Sprintf("SELECT %s FROM (%s)", strings.Join(proj, ", "), from)
		if where != "" {
			q += " WHERE " + where
		}
		if len(c.order) > 0 {
			q += " ORDER BY " + strings.Join(c.order, ", ")
		}
		return q
	}
	opts := []string{"FORMAT parquet", "COMPRESSION zstd", "ROW_GROUP_SIZE 122880",
		"FIELD_IDS {" + strings.Join(ids, ", ") + "}",
		fmt.Sprintf("KV_METADATA {%s: %s, %s: %s, %s: %s, %s: %s}",
			quoteString(tableformat.MetaFormatVersion), quoteString(tableformat.DeltaFormatVersion),
			quoteString(tableformat.MetaKind), quoteString(string(c.kind)),
			quoteString(tableformat.MetaSchema), quoteString(string(schemaJSON)),
			quoteString(tableformat.MetaFileSHA256), quoteString(tableformat.SelfSumPlaceholder))}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	name := tableNameAt(c.table, c.asOf)
	with := " (" + strings.Join(opts, ", ") + ")"
	parts, err := c.ranges(ctx, conn, cols)
	if err != nil {
		return nil, fmt.Errorf("write %s files of %s: %w", c.kind, name, err)
	}
	// One COPY per file: DuckDB keeps the ORDER BY within a file, not
	// across the files FILE_SIZE_BYTES splits into. A big output is cut
	// into ranges of the first ORDER BY column, each its own COPY whose
	// filter DuckDB pushes into the scans (the input files are in that
	// order, so each COPY reads about its share).
	for i, where := range parts {
		part := filepath.Join(dir, fmt.Sprintf("part-%05d.parquet", i))
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s%s", query(where), quoteString(part), with)); err != nil {
			return nil, fmt.Errorf("write %s files of %s: %w", c.kind, name, err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []tableformat.WrittenFile
	for _, ent := range ents {
		wf, err := sealWritten(ctx, conn, filepath.Join(dir, ent.Name()))
		if err != nil {
			return nil, fmt.Errorf("write %s files of %s: %w", c.kind, name, err)
		}
		if wf.Add.Rows == 0 && (c.kind != tableformat.FileSnapshot || len(out) > 0 || len(ents) > 1) {
			os.Remove(wf.Local) // an empty range; an empty table keeps its one empty snapshot file
			continue
		}
		wf.Add.TableID, wf.Add.Kind, wf.Add.SchemaVersion = c.table.ID, c.kind, c.schema.Version
		if c.kind == tableformat.FileSnapshot {
			wf.Add.AsOfSeq = c.asOf
		}
		out = append(out, wf)
	}
	// In the order written: merged deltas in change order, snapshot files
	// in key order.
	slices.SortFunc(out, func(a, b tableformat.WrittenFile) int { return strings.Compare(a.Local, b.Local) })
	return out, nil
}

func tableNameAt(t *tableformat.TableState, seq int64) string {
	n := t.NameAt(max(seq, t.CreatedSeq))
	return n.DB + "." + n.Name
}

// ranges returns the WHERE clauses of the files a copy writes: one (no
// clause) when the output fits the target size or is in no order; else
// ranges of the first ORDER BY column between quantiles of that column in
// the inputs that hold rows, about targetBytes of input each.
func (c lakeCopy) ranges(ctx context.Context, conn *sql.Conn, cols []tableformat.Column) ([]string, error) {
	var bytes, rowCount int64
	var paths []string
	for _, f := range c.ranged {
		bytes += f.add.Bytes
		rowCount += f.add.Rows
		paths = append(paths, quoteString(f.path))
	}
	if c.targetBytes <= 0 || len(c.order) == 0 || bytes <= c.targetBytes+c.targetBytes/4 {
		return []string{""}, nil
	}
	col := c.order[0]
	typ := "BIGINT" // _binlake_seq
	for _, cc := range cols {
		if colName(cc.ID) == col {
			typ = storedType(cc.Type)
		}
	}
	// At least a row group (122,880 rows) a file.
	n := min((bytes+c.targetBytes-1)/c.targetBytes, max(rowCount/122880, 1))
	if n < 2 {
		return []string{""}, nil
	}
	var qs []string
	for i := int64(1); i < n; i++ {
		qs = append(qs, fmt.Sprintf("%d/%d", i, n))
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT DISTINCT CAST(unnest(quantile_disc(%s, [%s])) AS VARCHAR) AS b FROM read_parquet([%s], union_by_name = true) ORDER BY ALL",
		col, strings.Join(qs, ", "), strings.Join(paths, ", ")))
	if err != nil {
		return nil, fmt.Errorf("key ranges: %w", err)
	}
	defer rows.Close()
	var bounds []string
	for rows.Next() {
		var b sql.NullString
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if b.Valid {
			bounds = append(bounds, fmt.Sprintf("CAST(%s AS %s)", quoteString(b.String), typ))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The boundaries sort as the column does only in the column's type:
	// the order of their text is not that order (numbers); sort again.
	where := make([]string, 0, len(bounds)+1)
	sorted, err := sortBounds(ctx, conn, bounds, typ)
	if err != nil {
		return nil, err
	}
	prev := ""
	for _, b := range sorted {
		if prev == "" {
			where = append(where, fmt.Sprintf("%s < %s", col, b))
		} else {
			where = append(where, fmt.Sprintf("%s >= %s AND %s < %s", col, prev, col, b))
		}
		prev = b
	}
	if prev == "" {
		return []string{""}, nil
	}
	return append(where, fmt.Sprintf("%s >= %s", col, prev)), nil
}

// sortBounds orders boundary literals of type typ as DuckDB orders them.
func sortBounds(ctx context.Context, conn *sql.Conn, bounds []string, typ string) ([]string, error) {
	if len(bounds) < 2 {
		return bounds, nil
	}
	vals := make([]string, len(bounds))
	for i, b := range bounds {
		vals[i] = fmt.Sprintf("(%s, %d)", b, i)
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT i FROM (VALUES %s) v(b, i) ORDER BY b", strings.Join(vals, ", ")))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		out = append(out, bounds[i])
	}
	return out, rows.Err()
}

// sealWritten seals one written file and reads its bounds.
func sealWritten(ctx context.Context, conn *sql.Conn, path string) (tableformat.WrittenFile, error) {
	wf := tableformat.WrittenFile{Local: path}
	var minTS, maxTS sql.NullInt64
	var minSeq, maxSeq sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT count(*), min(_binlake_seq), max(_binlake_seq), min(epoch_us(_binlake_ts)), max(epoch_us(_binlake_ts)) FROM read_parquet("+quoteString(path)+")").
		Scan(&wf.Add.Rows, &minSeq, &maxSeq, &minTS, &maxTS)
	if err != nil {
		return wf, err
	}
	wf.Add.MinSeq, wf.Add.MaxSeq, wf.Add.MinTS, wf.Add.MaxTS = minSeq.Int64, maxSeq.Int64, minTS.Int64, maxTS.Int64
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return wf, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return wf, err
	}
	wf.Add.Bytes = fi.Size()
	if wf.Add.Checksum, err = tableformat.SealFile(f, fi.Size()); err != nil {
		return wf, err
	}
	return wf, f.Sync()
}

// WriteSnapshot writes the state of table tableID at point p into snapshot
// files in dir (created; it must not exist), sorted by key, of about
// targetBytes each (0: one file); an empty table, one empty file. A table
// whose files hold no rows at all gets no file.
func (e *Engine) WriteSnapshot(ctx context.Context, p tableformat.Point, tableID int64, dir string, targetBytes int64) ([]tableformat.WrittenFile, error) {
	st, err := e.log.LoadTables(ctx, p.State, tableID)
	if err != nil {
		return nil, err
	}
	t := st.Tables.Get(tableID)
	if t == nil || !t.ExistsAt(p.Seq) {
		return nil, fmt.Errorf("table %d does not exist at seq %d", tableID, p.Seq)
	}
	base, err := e.cache.pinnedLocal(p.State.Lake.LakeID, t, p.Seq)
	if err != nil {
		return nil, err
	}
	if base != nil {
		defer e.cache.Unpin(base.path)
	}
	plan, err := planTable(t, p.Seq, base)
	if err != nil {
		return nil, err
	}
	c, ok := plan.snapshotCopy(t, p.Seq, targetBytes)
	if !ok {
		return nil, nil
	}
	return e.write(ctx, c, dir)
}

// snapshotCopy is the copy of the plan's rows as a snapshot at seq; false
// when the plan reads no rows at all.
func (p *tablePlan) snapshotCopy(t *tableformat.TableState, seq, targetBytes int64) (lakeCopy, bool) {
	if len(p.rows) == 0 {
		return lakeCopy{}, false
	}
	var order []string
	for _, id := range p.schema.Key {
		order = append(order, colName(id))
	}
	var ranged []*planFile
	for i := range p.rows {
		ranged = append(ranged, &p.rows[i])
	}
	return lakeCopy{table: t, schema: p.schema, kind: tableformat.FileSnapshot, from: p.mergedSQL, order: order,
		asOf: seq, inputs: p.files(), targetBytes: targetBytes, ranged: ranged}, true
}

// WriteMerged rewrites delta files of one table, all of one kind and one
// schema version, into files of about targetBytes each in dir (created; it
// must not exist), in change order: every row keeps its sequence, time and
// operation.
func (e *Engine) WriteMerged(ctx context.Context, t *tableformat.TableState, files []tableformat.AddFile, dir string, targetBytes int64) ([]tableformat.WrittenFile, error) {
	if len(files) == 0 {
		return nil, nil
	}
	kind, version := files[0].Kind, files[0].SchemaVersion
	sc, ok := t.SchemaVersion(version)
	if !ok {
		return nil, fmt.Errorf("table %d has no schema version %d", t.ID, version)
	}
	var inputs []*planFile
	for _, f := range files {
		if f.Kind != kind || f.SchemaVersion != version || f.Kind == tableformat.FileSnapshot || f.TableID != t.ID {
			return nil, fmt.Errorf("merge %s: only delta files of one table, kind and schema version merge", f.Path)
		}
		inputs = append(inputs, &planFile{add: f})
	}
	var ids []int
	cols := sc.Columns
	if kind == tableformat.FileDelete {
		cols = sc.KeyColumns()
	}
	for _, c := range cols {
		ids = append(ids, c.ID)
	}
	from := func() string {
		files := make([]planFile, len(inputs))
		for i, f := range inputs {
			files[i] = *f
			files[i].ids = map[int]bool{}
			for _, id := range ids {
				files[i].ids[id] = true
			}
		}
		return readFiles(files, ids, "true", nil)
	}
	return e.write(ctx, lakeCopy{table: t, schema: sc, kind: kind, inputs: inputs, targetBytes: targetBytes,
		order: []string{"_binlake_seq"}, asOf: files[0].MinSeq, from: from, ranged: inputs}, dir)
}
