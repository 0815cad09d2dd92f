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

// WrittenFile is a lake file written into a local directory, sealed: Add
// has everything a log entry records but the path (the object key, which
// the caller chooses when it uploads the file).
type WrittenFile struct {
	Local string
	Add   tableformat.AddFile
}

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
	// file.
	targetBytes int64
}

// builder opens a DuckDB of its own for binlake's SQL (never a user's), with
// the engine's limits and a spill directory under the cache; close it with
// the returned func.
func (e *Engine) builder(ctx context.Context) (*sql.Conn, func(), error) {
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
		"SET memory_limit = " + quoteString(e.opts.MemoryLimit),
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
func (e *Engine) write(ctx context.Context, c lakeCopy, dir string) ([]WrittenFile, error) {
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
	q := fmt.Sprintf("SELECT %s FROM (%s)", strings.Join(proj, ", "), c.from())
	if len(c.order) > 0 {
		q += " ORDER BY " + strings.Join(c.order, ", ")
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
	// One COPY into one file: DuckDB keeps the ORDER BY within a file, not
	// across the files FILE_SIZE_BYTES splits into. A file too big is then
	// split by row number, each part one run of the order.
	with := " (" + strings.Join(opts, ", ") + ")"
	whole := filepath.Join(dir, "whole.parquet")
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s%s", q, quoteString(whole), with)); err != nil {
		return nil, fmt.Errorf("write %s files of %s: %w", c.kind, name, err)
	}
	if err := splitFile(ctx, conn, whole, c.targetBytes, with); err != nil {
		return nil, fmt.Errorf("write %s files of %s: %w", c.kind, name, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []WrittenFile
	for _, ent := range ents {
		wf, err := sealWritten(ctx, conn, filepath.Join(dir, ent.Name()))
		if err != nil {
			return nil, fmt.Errorf("write %s files of %s: %w", c.kind, name, err)
		}
		if wf.Add.Rows == 0 && c.kind != tableformat.FileSnapshot {
			os.Remove(wf.Local)
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
	slices.SortFunc(out, func(a, b WrittenFile) int { return strings.Compare(a.Local, b.Local) })
	return out, nil
}

func tableNameAt(t *tableformat.TableState, seq int64) string {
	n := t.NameAt(max(seq, t.CreatedSeq))
	return n.DB + "." + n.Name
}

// splitFile splits the file at path into parts of about targetBytes (0:
// no split), whole row groups each, in order, and removes it.
func splitFile(ctx context.Context, conn *sql.Conn, path string, targetBytes int64, with string) error {
	fi, err := os.Stat(path)
	if err != nil || targetBytes <= 0 || fi.Size() <= targetBytes+targetBytes/4 {
		return err
	}
	var rows int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM read_parquet("+quoteString(path)+")").Scan(&rows); err != nil {
		return err
	}
	const rowGroup = 122880
	parts := (fi.Size() + targetBytes - 1) / targetBytes
	per := max((rows+parts-1)/parts/rowGroup, 1) * rowGroup
	for i, from := 0, int64(0); from < rows; i, from = i+1, from+per {
		part := filepath.Join(filepath.Dir(path), fmt.Sprintf("part-%05d.parquet", i))
		q := fmt.Sprintf("SELECT * EXCLUDE (file_row_number) FROM read_parquet(%s, file_row_number = true) WHERE file_row_number >= %d AND file_row_number < %d ORDER BY file_row_number",
			quoteString(path), from, from+per)
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s%s", q, quoteString(part), with)); err != nil {
			return err
		}
	}
	return os.Remove(path)
}

// sealWritten seals one written file and reads its bounds.
func sealWritten(ctx context.Context, conn *sql.Conn, path string) (WrittenFile, error) {
	wf := WrittenFile{Local: path}
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
func (e *Engine) WriteSnapshot(ctx context.Context, p tableformat.Point, tableID int64, dir string, targetBytes int64) ([]WrittenFile, error) {
	t, ok := p.State.Tables[tableID]
	if !ok || !t.ExistsAt(p.Seq) {
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
	return lakeCopy{table: t, schema: p.schema, kind: tableformat.FileSnapshot, from: p.mergedSQL, order: order,
		asOf: seq, inputs: p.files(), targetBytes: targetBytes}, true
}

// WriteMerged rewrites delta files of one table, all of one kind and one
// schema version, into files of about targetBytes each in dir (created; it
// must not exist), in change order: every row keeps its sequence, time and
// operation.
func (e *Engine) WriteMerged(ctx context.Context, t *tableformat.TableState, files []tableformat.AddFile, dir string, targetBytes int64) ([]WrittenFile, error) {
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
		return readSQL(files, ids, "true")
	}
	return e.write(ctx, lakeCopy{table: t, schema: sc, kind: kind, inputs: inputs, targetBytes: targetBytes,
		order: []string{"_binlake_seq"}, asOf: files[0].MinSeq, from: from}, dir)
}
