package query

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// This file turns a table at a point into DuckDB SQL (FORMAT.md §8): the
// latest snapshot at or before the point ⊕ the data rows after it, less the
// rows a later delete up to the point removed and the rows before the last
// truncation, projected to the columns of the schema in force at the point.
// The SQL is built from the log alone; tableformat.ScanTable is the
// reference it is tested against.

// tablePlan is what one table's view (or macro) reads.
type tablePlan struct {
	tableID  int64
	db, name string
	schema   *tableformat.Schema // the columns the view exposes
	// seq is the point's change sequence, as SQL: a literal for a view, the
	// macro's parameter for a table macro.
	seq string
	// trunc is the sequence of the last truncation at or before seq, as SQL.
	trunc string
	// snap is the as-of sequence of the snapshot used (0: none), as SQL:
	// snapshot files of another as-of sequence and deltas at or below it
	// are skipped.
	snap string
	// snapExact is set for a view (a literal point) when the snapshot's
	// rows need no filter: they all lie between the truncation in force at
	// the point and the point (see mergedSQL).
	snapExact bool
	rows      []planFile
	dels      []deleteGroup
	// fills holds the initial defaults of the view's columns as SQL, by
	// column id: what rows of a file that lacks the column read.
	fills map[int]string
}

// planFile is one Parquet file and the column ids it holds.
type planFile struct {
	add  tableformat.AddFile
	ids  map[int]bool
	path string // local path, set once fetched
	// local marks a snapshot this cache built (add names no lake file).
	local bool
}

// deleteGroup is the delete files that identify rows by the same columns.
type deleteGroup struct {
	keyed bool
	ids   []int
	files []planFile
}

// planTable plans the view of t at sequence seq. local, when not nil, is a
// snapshot this cache holds of t at a sequence at or below seq (see
// localsnap.go): it is used in place of the lake's files up to its sequence
// when it is more recent than the lake's latest snapshot there.
func planTable(t *tableformat.TableState, seq int64, local *localSnap) (*tablePlan, error) {
	name := t.NameAt(seq)
	p := &tablePlan{tableID: t.ID, db: name.DB, name: name.Name, schema: t.SchemaAt(seq), seq: strconv.FormatInt(seq, 10),
		trunc: strconv.FormatInt(t.TruncatedAt(seq), 10)}
	var err error
	if p.fills, err = fillsOf(t, p.schema); err != nil {
		return nil, fmt.Errorf("table %s.%s: %w", name.DB, name.Name, err)
	}
	files := t.SortedFiles()
	var snap int64
	for _, f := range files {
		if f.Kind == tableformat.FileSnapshot && f.AsOfSeq <= seq {
			snap = max(snap, f.AsOfSeq)
		}
	}
	useLocal := local != nil && local.seq > snap && local.seq <= seq
	if useLocal {
		snap = local.seq
	}
	p.snap = strconv.FormatInt(snap, 10)
	// A snapshot at S holds the state at S: rows with sequences at most S
	// (≤ seq) and at least the truncation in force at S. With no truncation
	// between S and seq, the snapshot's rows need no filter.
	p.snapExact = t.TruncatedAt(snap) == t.TruncatedAt(seq)
	err = p.addFiles(t, files, func(f tableformat.AddFile) bool {
		if f.Kind == tableformat.FileSnapshot {
			return !useLocal && f.AsOfSeq == snap
		}
		return f.MaxSeq > snap && f.MinSeq <= seq
	})
	if err != nil || !useLocal {
		return p, err
	}
	sc, ok := t.SchemaVersion(local.schemaVersion)
	if !ok {
		return nil, fmt.Errorf("local snapshot %s: schema version %d of table %d is not in the log", local.path, local.schemaVersion, t.ID)
	}
	lf := planFile{add: tableformat.AddFile{Path: local.path, TableID: t.ID, Kind: tableformat.FileSnapshot,
		SchemaVersion: local.schemaVersion, AsOfSeq: local.seq}, ids: map[int]bool{}, path: local.path, local: true}
	for _, c := range sc.Columns {
		lf.ids[c.ID] = true
	}
	p.rows = append([]planFile{lf}, p.rows...)
	return p, nil
}

// planMacro plans a table macro over every point the live files can serve,
// with the sequence, the snapshot and the truncation as functions of the
// macro's parameter: the latest snapshot at or before s (DuckDB folds the
// others' filters to false and skips them) and the deltas after it. It
// exposes the table's latest columns; columns a point did not have read as
// NULL.
func planMacro(t *tableformat.TableState) (*tablePlan, error) {
	name := t.Current()
	p := &tablePlan{tableID: t.ID, db: name.DB, name: name.Name, schema: t.Schema(), seq: macroParam, trunc: lastAtOrBefore(t.Truncations, macroParam)}
	var err error
	if p.fills, err = fillsOf(t, p.schema); err != nil {
		return nil, fmt.Errorf("table %s.%s: %w", name.DB, name.Name, err)
	}
	files := t.SortedFiles()
	var snaps []int64
	for _, f := range files {
		if f.Kind == tableformat.FileSnapshot {
			snaps = append(snaps, f.AsOfSeq)
		}
	}
	p.snap = lastAtOrBefore(snaps, macroParam)
	err = p.addFiles(t, files, func(tableformat.AddFile) bool { return true })
	return p, err
}

// The parameters of the table macros: names no column of the SQL they are
// used in can have (those are c<ID> and _binlake_*).
const (
	macroParam = "_at_seq"
	fromParam  = "_from_seq"
	toParam    = "_to_seq"
)

// lastAtOrBefore is SQL for the greatest of seqs at or below the sequence
// s, 0 if none.
func lastAtOrBefore(seqs []int64, s string) string {
	if len(seqs) == 0 {
		return "0"
	}
	var b strings.Builder
	b.WriteString("CASE")
	sorted := slices.Compact(slices.Sorted(slices.Values(seqs)))
	for _, t := range slices.Backward(sorted) {
		fmt.Fprintf(&b, " WHEN %s >= %d THEN %d", s, t, t)
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}

func (p *tablePlan) addFiles(t *tableformat.TableState, files []tableformat.AddFile, keep func(tableformat.AddFile) bool) error {
	for _, f := range files {
		if !keep(f) {
			continue
		}
		sc, ok := t.SchemaVersion(f.SchemaVersion)
		if !ok {
			return &tableformat.CorruptError{Key: f.Path, Reason: fmt.Sprintf("schema version %d of table %d is not in the log", f.SchemaVersion, t.ID)}
		}
		cols := sc.Columns
		if f.Kind == tableformat.FileDelete {
			cols = sc.KeyColumns()
		}
		pf := planFile{add: f, ids: map[int]bool{}}
		for _, c := range cols {
			pf.ids[c.ID] = true
		}
		if f.Kind != tableformat.FileDelete {
			p.rows = append(p.rows, pf)
			continue
		}
		ids := make([]int, len(cols))
		for i, c := range cols {
			ids[i] = c.ID
		}
		keyed := len(sc.Key) > 0
		i := slices.IndexFunc(p.dels, func(g deleteGroup) bool { return g.keyed == keyed && slices.Equal(g.ids, ids) })
		if i < 0 {
			p.dels = append(p.dels, deleteGroup{keyed: keyed, ids: ids})
			i = len(p.dels) - 1
		}
		p.dels[i].files = append(p.dels[i].files, pf)
	}
	// Keyed groups first: their anti-joins commute; keyless groups then
	// remove one identical row each (see keyless).
	slices.SortStableFunc(p.dels, func(a, b deleteGroup) int { return boolCmp(!a.keyed, !b.keyed) })
	return nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// files returns every file the plan reads.
func (p *tablePlan) files() []*planFile {
	var out []*planFile
	for i := range p.rows {
		out = append(out, &p.rows[i])
	}
	for g := range p.dels {
		for i := range p.dels[g].files {
			out = append(out, &p.dels[g].files[i])
		}
	}
	return out
}

// selectSQL is the SELECT of the table's rows at the point: its columns
// under their names and types, and with meta the change that wrote each
// row (_binlake_seq, _binlake_ts, _binlake_op).
func (p *tablePlan) selectSQL(meta bool) string {
	var proj []string
	for _, c := range p.schema.Columns {
		proj = append(proj, castColumn(colName(c.ID), c.Type)+" AS "+quoteIdent(c.Name))
	}
	if meta {
		proj = append(proj, "_binlake_seq", "_binlake_ts", opLabel("_binlake_op")+" AS _binlake_op")
	}
	merged := p.mergedSQL()
	if merged == "" {
		// No rows at all: the right columns, empty.
		return emptySelect(p.schema, meta)
	}
	return "SELECT " + strings.Join(proj, ", ") + " FROM (" + merged + ")"
}

// metaNulls are the _binlake_* columns of a relation without rows.
var metaNulls = []string{"CAST(NULL AS BIGINT) AS _binlake_seq", "CAST(NULL AS TIMESTAMPTZ) AS _binlake_ts", "CAST(NULL AS VARCHAR) AS _binlake_op"}

// emptySelect is a SELECT of sc's columns (and with meta the _binlake_*
// columns), under their names and types, without rows: the view of a table
// without files, and the stub of a table a session does not bind
// (bind.go).
func emptySelect(sc *tableformat.Schema, meta bool) string {
	var cols []string
	for _, c := range sc.Columns {
		cols = append(cols, "CAST(NULL AS "+duckType(c.Type)+") AS "+quoteIdent(c.Name))
	}
	if meta {
		cols = append(cols, metaNulls...)
	}
	return "SELECT " + strings.Join(cols, ", ") + " WHERE false"
}

// emptyChanges is a change feed of sc's columns without rows.
func emptyChanges(sc *tableformat.Schema) string {
	cols := slices.Clone(metaNulls)
	for _, c := range sc.Columns {
		cols = append(cols, "CAST(NULL AS "+duckType(c.Type)+") AS "+quoteIdent(c.Name))
	}
	return "SELECT " + strings.Join(cols, ", ") + " WHERE false"
}

// neededIDs are the column ids the merge reads from rows files: the view's
// columns and every delete group's key columns.
func (p *tablePlan) neededIDs() []int {
	var ids []int
	for _, c := range p.schema.Columns {
		ids = append(ids, c.ID)
	}
	for _, g := range p.dels {
		ids = append(ids, g.ids...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// mergedSQL is the merge of the plan's files, columns c<ID> plus the
// _binlake_* columns; "" when there are no rows files.
func (p *tablePlan) mergedSQL() string {
	var snaps, data []planFile
	for _, f := range p.rows {
		if f.add.Kind == tableformat.FileSnapshot {
			snaps = append(snaps, f)
		} else {
			data = append(data, f)
		}
	}
	ids := p.neededIDs()
	var parts []string
	// One read per snapshot: the files of one as-of sequence.
	slices.SortStableFunc(snaps, func(a, b planFile) int { return cmp.Compare(a.add.AsOfSeq, b.add.AsOfSeq) })
	for len(snaps) > 0 {
		asOf := snaps[0].add.AsOfSeq
		n := 1
		for n < len(snaps) && snaps[n].add.AsOfSeq == asOf {
			n++
		}
		where := fmt.Sprintf("%d = %s AND _binlake_seq >= %s AND _binlake_seq <= %s", asOf, p.snap, p.trunc, p.seq)
		if p.snapExact && p.snap == strconv.FormatInt(asOf, 10) {
			// No filter: a count(*) reads the files' row counts alone.
			where = "true"
		}
		parts = append(parts, p.readSQL(snaps[:n], ids, where))
		snaps = snaps[n:]
	}
	if len(data) > 0 {
		parts = append(parts, p.readSQL(data, ids, p.deltaFilter()))
	}
	if len(parts) == 0 {
		return ""
	}
	rel := strings.Join(parts, " UNION ALL BY NAME ")
	for _, g := range p.dels {
		dels := readFiles(g.files, g.ids, p.deltaFilter(), nil)
		if g.keyed {
			rel = antiJoin(rel, g.ids, dels)
		} else {
			rel = keyless(rel, g.ids, dels)
		}
	}
	return rel
}

// deltaFilter keeps the changes after the snapshot, up to the point, from
// the last truncation on.
func (p *tablePlan) deltaFilter() string {
	return fmt.Sprintf("_binlake_seq > %s AND _binlake_seq <= %s AND _binlake_seq >= %s", p.snap, p.seq, p.trunc)
}

// readSQL reads rows files of the plan: readFiles with the initial
// defaults of the plan's columns.
func (p *tablePlan) readSQL(files []planFile, ids []int, where string) string {
	return readFiles(files, ids, where, p.fills)
}

// readFiles reads files with union_by_name, selecting the ids and the
// _binlake_* columns, filtered by where. A file that lacks an id reads it
// as fills[id], the column's initial default as SQL (FORMAT.md §5), or
// NULL: files lacking different defaulted ids are read apart.
func readFiles(files []planFile, ids []int, where string, fills map[int]string) string {
	// Group the files by the defaulted ids they lack, in first-seen order.
	var groups [][]planFile
	var lacks []string
	for _, f := range files {
		var missing []string
		for _, id := range ids {
			if _, ok := fills[id]; ok && !f.ids[id] {
				missing = append(missing, strconv.Itoa(id))
			}
		}
		k := strings.Join(missing, ",")
		i := slices.Index(lacks, k)
		if i < 0 {
			lacks, groups = append(lacks, k), append(groups, nil)
			i = len(groups) - 1
		}
		groups[i] = append(groups[i], f)
	}
	var parts []string
	for _, g := range groups {
		var cols []string
		for _, id := range ids {
			switch {
			case slices.ContainsFunc(g, func(f planFile) bool { return f.ids[id] }):
				cols = append(cols, colName(id))
			case fills[id] != "":
				cols = append(cols, fills[id]+" AS "+colName(id))
			default:
				cols = append(cols, "NULL AS "+colName(id))
			}
		}
		cols = append(cols, "_binlake_seq", "_binlake_ts", "_binlake_op")
		paths := make([]string, len(g))
		for i, f := range g {
			paths[i] = quoteString(f.path)
		}
		parts = append(parts, fmt.Sprintf("SELECT %s FROM read_parquet([%s], union_by_name = true) WHERE %s",
			strings.Join(cols, ", "), strings.Join(paths, ", "), where))
	}
	return strings.Join(parts, " UNION ALL BY NAME ")
}

// fillsOf returns the SQL of the initial defaults (FORMAT.md §5), by column
// id, of every column t ever had that has one: a column of sc (the schema
// read) as sc defines it; one sc lacks as the last schema version that had
// it defines it. A keyless delete holds the whole row as its schema had it
// (§8), so a row written before a column was added is matched by the
// column's initial default even once the column is dropped again.
func fillsOf(t *tableformat.TableState, sc *tableformat.Schema) (map[int]string, error) {
	cols := map[int]tableformat.Column{}
	for _, sv := range t.Schemas {
		for _, c := range sv.Schema.Columns {
			cols[c.ID] = c
		}
	}
	for _, c := range sc.Columns {
		cols[c.ID] = c
	}
	var out map[int]string
	for id, c := range cols {
		v, err := c.Fill()
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
		if v == nil {
			continue
		}
		if out == nil {
			out = map[int]string{}
		}
		out[id] = storedLiteral(c.Type, v)
	}
	return out, nil
}

// storedLiteral is SQL for the value v of type t as a lake file stores it
// (storedType): what DuckDB reads a file's column as.
func storedLiteral(t tableformat.Type, v any) string {
	var text string
	switch x := v.(type) {
	case []byte:
		if t.Kind == tableformat.KindUUID {
			text, err := tableformat.FormatUUID(x)
			if err == nil {
				return "CAST(" + quoteString(text) + " AS UUID)"
			}
		}
		return fmt.Sprintf("CAST(from_hex('%x') AS BLOB)", x)
	case int32: // date: days since 1970-01-01
		// Parenthesized: INTERVAL -5 DAY does not parse.
		return fmt.Sprintf("CAST(DATE '1970-01-01' + INTERVAL (%d) DAY AS DATE)", x)
	case int64:
		switch t.Kind {
		case tableformat.KindDatetime:
			return fmt.Sprintf("make_timestamp(CAST(%d AS BIGINT))", x)
		case tableformat.KindTimestamp:
			return fmt.Sprintf("(to_timestamp(0) + to_microseconds(CAST(%d AS BIGINT)))", x)
		}
		text = strconv.FormatInt(x, 10)
	case uint64:
		text = strconv.FormatUint(x, 10)
	case float32:
		text = strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		text = strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		text = x
	default:
		text = fmt.Sprint(v)
	}
	return "CAST(" + quoteString(text) + " AS " + storedType(t) + ")"
}

// antiJoin removes the rows of rel that a later delete of dels (key
// columns ids and _binlake_seq) names by key: in a keyed table at most one
// row per key is live, so a delete with a higher sequence than a row's
// removes it.
func antiJoin(rel string, ids []int, dels string) string {
	var keys, on []string
	for _, id := range ids {
		keys = append(keys, colName(id))
		// Key columns are NOT NULL (a primary key, or a unique key of NOT
		// NULL columns): plain equality, which DuckDB pushes into the
		// delete side of a point lookup (IS NOT DISTINCT FROM it does not).
		on = append(on, fmt.Sprintf("r.%s = d.%s", colName(id), colName(id)))
	}
	latest := fmt.Sprintf("SELECT %s, max(_binlake_seq) AS _del_seq FROM (%s) GROUP BY ALL", strings.Join(keys, ", "), dels)
	return fmt.Sprintf("SELECT r.* FROM (%s) r LEFT JOIN (%s) d ON %s WHERE d._del_seq IS NULL OR d._del_seq <= r._binlake_seq",
		rel, latest, strings.Join(on, " AND "))
}

// keyless removes, for each delete of dels (whole rows: columns ids and
// _binlake_seq), the most recent identical row with a lower sequence (a
// keyless table is a multiset). Per value, in sequence order (a delete
// before a row of the same sequence), rows push and deletes pop: a row
// survives when the running count never drops below its own height
// afterwards.
func keyless(rel string, ids []int, dels string) string {
	var part []string
	for _, id := range ids {
		part = append(part, colName(id))
	}
	by := strings.Join(part, ", ")
	events := fmt.Sprintf("SELECT *, 1 AS _w FROM (%s) UNION ALL BY NAME SELECT %s, _binlake_seq, -1 AS _w FROM (%s)",
		rel, by, dels)
	heights := fmt.Sprintf("SELECT *, sum(_w) OVER (PARTITION BY %s ORDER BY _binlake_seq, _w ROWS UNBOUNDED PRECEDING) AS _h FROM (%s)", by, events)
	lows := fmt.Sprintf("SELECT *, min(_h) OVER (PARTITION BY %s ORDER BY _binlake_seq, _w ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS _low FROM (%s)", by, heights)
	return fmt.Sprintf("SELECT * EXCLUDE (_w, _h, _low) FROM (%s) WHERE _w = 1 AND _low >= _h", lows)
}

func colName(id int) string { return "c" + strconv.Itoa(id) }

// quoteIdent quotes a SQL identifier for DuckDB.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a SQL string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// opLabel is SQL naming a change's operation.
func opLabel(col string) string {
	return fmt.Sprintf("CASE %s WHEN 1 THEN 'insert' WHEN 2 THEN 'update_after' WHEN 3 THEN 'delete' WHEN 4 THEN 'update_before' WHEN 5 THEN 'snapshot' END", col)
}

// duckType is the DuckDB type a column of type t reads as (docs/types.md).
func duckType(t tableformat.Type) string {
	u := func(signed, unsigned string) string {
		if t.Unsigned {
			return unsigned
		}
		return signed
	}
	switch t.Kind {
	case tableformat.KindTinyInt:
		return u("TINYINT", "UTINYINT")
	case tableformat.KindSmallInt:
		return u("SMALLINT", "USMALLINT")
	case tableformat.KindMediumInt, tableformat.KindInt:
		return u("INTEGER", "UINTEGER")
	case tableformat.KindBigInt:
		return u("BIGINT", "UBIGINT")
	case tableformat.KindDecimal:
		if t.Precision <= 38 {
			return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
		}
		return "VARCHAR"
	case tableformat.KindFloat:
		return "FLOAT"
	case tableformat.KindDouble:
		return "DOUBLE"
	case tableformat.KindDate:
		return "DATE"
	case tableformat.KindYear:
		return "SMALLINT"
	case tableformat.KindDatetime:
		return "TIMESTAMP"
	case tableformat.KindTimestamp:
		return "TIMESTAMPTZ"
	case tableformat.KindTime:
		return "INTERVAL"
	case tableformat.KindJSON:
		// The source's JSON text as it is: DuckDB's JSON type would be
		// parsed and re-encoded on the way out (key order, number
		// precision); its JSON functions take VARCHAR as it is.
		return "VARCHAR"
	case tableformat.KindBinary, tableformat.KindVarbinary, tableformat.KindBlob, tableformat.KindGeometry:
		return "BLOB"
	case tableformat.KindBit:
		return "UBIGINT"
	case tableformat.KindUUID:
		return "UUID"
	}
	return "VARCHAR" // char, varchar, text, enum, set, inet4, inet6
}

// castColumn is SQL converting the stored column to its view type: TIME's
// microseconds become an INTERVAL; everything else is a cast to the type
// (a no-op unless the column's type changed across the files read).
func castColumn(col string, t tableformat.Type) string {
	if t.Kind == tableformat.KindTime {
		return "to_microseconds(CAST(" + col + " AS BIGINT))"
	}
	return "CAST(" + col + " AS " + duckType(t) + ")"
}

// changesSQL is the SELECT of the table's changes with a sequence after
// fromParam and at most toParam (a plan from planMacro): one row per change
// in sequence order (an update's old image before its new one), with its
// _binlake_seq, _binlake_ts and _binlake_op (insert, update_before,
// update_after, delete, snapshot) and the row image under the table's
// latest columns. Delete files hold keys only: a deleted row's other columns
// come from the latest row image with the same key and a lower sequence
// (an ASOF join over every data and snapshot file).
func (p *tablePlan) changesSQL() string {
	where := fmt.Sprintf("_binlake_seq > %s AND _binlake_seq <= %s", fromParam, toParam)
	var data, images []planFile
	for _, f := range p.rows {
		images = append(images, f)
		if f.add.Kind == tableformat.FileData {
			data = append(data, f)
		}
	}
	ids := p.neededIDs()
	var parts []string
	if len(data) > 0 {
		parts = append(parts, p.readSQL(data, ids, where))
	}
	for _, g := range p.dels {
		if !g.keyed {
			// A keyless delete holds the whole row as its schema had it:
			// columns added since read their initial defaults.
			parts = append(parts, p.readSQL(g.files, ids, where))
			continue
		}
		dels := readFiles(g.files, g.ids, where, nil)
		if len(images) == 0 {
			parts = append(parts, dels)
			continue
		}
		var cols, on []string
		inKey := map[int]bool{}
		for _, id := range g.ids {
			inKey[id] = true
			on = append(on, fmt.Sprintf("d.%s = r.%s", colName(id), colName(id)))
		}
		for _, id := range ids {
			if inKey[id] {
				cols = append(cols, "d."+colName(id))
			} else {
				cols = append(cols, "r."+colName(id))
			}
		}
		cols = append(cols, "d._binlake_seq", "d._binlake_ts", "d._binlake_op")
		parts = append(parts, fmt.Sprintf("SELECT %s FROM (%s) d ASOF LEFT JOIN (%s) r ON %s AND d._binlake_seq > r._binlake_seq",
			strings.Join(cols, ", "), dels, p.readSQL(images, ids, "true"), strings.Join(on, " AND ")))
	}
	proj := []string{"_binlake_seq", "_binlake_ts", opLabel("_binlake_op") + " AS _binlake_op"}
	for _, c := range p.schema.Columns {
		proj = append(proj, castColumn(colName(c.ID), c.Type)+" AS "+quoteIdent(c.Name))
	}
	if len(parts) == 0 {
		return emptyChanges(p.schema)
	}
	// An update's old image (op 4) sorts before its new one (op 2).
	return fmt.Sprintf("SELECT %s FROM (%s) ORDER BY _binlake_seq, CASE _binlake_op WHEN 4 THEN 0 WHEN 3 THEN 0 ELSE 1 END",
		strings.Join(proj, ", "), strings.Join(parts, " UNION ALL BY NAME "))
}

// pointGuard makes a macro's SELECT fail when one of its sequence
// parameters names a point the lake does not answer: before where retained
// history starts (vacuum may have removed the files such a point needs), or
// inside a gap in the history (FORMAT.md §16). The error names it.
func pointGuard(sel string, st *tableformat.State, params ...string) string {
	var whens []string
	for _, param := range params {
		if r := st.Retention; r != nil && r.FromSeq > 0 {
			msg := fmt.Sprintf("outside retention: the lake keeps history from %s (seq %d); vacuum removed older files",
				r.FromTime.UTC().Format(time.RFC3339Nano), r.FromSeq)
			whens = append(whens, fmt.Sprintf("WHEN %s < %d THEN error(%s)", param, r.FromSeq, quoteString(msg)))
		}
		for _, g := range st.Gaps {
			cond := fmt.Sprintf("%s > %d", param, g.AfterSeq)
			if !g.Open() {
				cond += fmt.Sprintf(" AND %s < %d", param, g.UntilSeq)
			}
			msg := (&tableformat.GapError{Point: "the sequence asked for", Gap: g}).Error()
			whens = append(whens, fmt.Sprintf("WHEN %s THEN error(%s)", cond, quoteString(msg)))
		}
	}
	if len(whens) == 0 {
		return sel
	}
	return fmt.Sprintf("SELECT * FROM (%s) WHERE CASE %s ELSE true END", sel, strings.Join(whens, " "))
}

// clashingNames lists the tables left out for clashing names (pointNames)
// as db.table (the current name), sorted.
func clashingNames(p tableformat.Point, views, macros map[int64]bool) []string {
	var out []string
	for _, m := range []map[int64]bool{views, macros} {
		for id := range m {
			n := p.State.Tables.Get(id).Current()
			out = append(out, n.DB+"."+n.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// asciiLower folds ASCII letters only, as DuckDB compares identifiers.
func asciiLower(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
