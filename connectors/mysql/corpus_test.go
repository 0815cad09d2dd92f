package mysql

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlake/binlake/internal/testenv"
)

// corpusDir is the directory of Debezium's type-regression scripts, which
// this repository does not hold: BINLAKE_CORPUS_DIR names it, else the first
// fallback below that exists is used (docs/design.md, Types).
func corpusDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{os.Getenv("BINLAKE_CORPUS_DIR"), "../../../shared/corpus/debezium", "/work/shared/corpus/debezium"} {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	t.Fatalf("debezium corpus not found: set BINLAKE_CORPUS_DIR")
	return ""
}

// TestDebeziumCorpus runs every statement of the Debezium scripts that
// MariaDB accepts (one scratch database per script; rejected statements are
// counted and logged, not failures), then checks that every row event of the
// binlog decodes, that the table format stores every decoded row, and that
// an insert-only table reads the same through the snapshot path.
func TestDebeziumCorpus(t *testing.T) {
	dir := corpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus scripts in %s: %v", dir, err)
	}
	m := testenv.StartMariaDB(t)
	var report []string
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sql")
		t.Run(name, func(t *testing.T) {
			st := runCorpusFile(t, m, file, name)
			report = append(report, fmt.Sprintf("%-34s statements %3d, skipped %2d, row events %3d, rows %4d, zero dates %2d, snapshot-compared tables %d",
				name, st.statements, st.skipped, st.events, st.rows, st.zeroDates, st.compared))
		})
	}
	t.Logf("debezium corpus on %s:\n%s", m.Version, strings.Join(report, "\n"))
}

type corpusStats struct {
	statements, skipped, events, rows, zeroDates, compared int
}

func runCorpusFile(t *testing.T, m *testenv.MariaDB, file, name string) corpusStats {
	script, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	db := "dbz_" + regexp.MustCompile(`[^a-z0-9_]`).ReplaceAllString(strings.ToLower(name), "_")
	root := rootConn(t, m)
	create := "CREATE DATABASE " + QuoteIdent(db)
	if name == "db_default_charset_noutf" { // the script is about a non-UTF-8 default
		create += " CHARACTER SET latin2"
	}
	execAll(t, root, create, "USE "+QuoteIdent(db))

	var st corpusStats
	start := masterPos(t, root)
	for _, stmt := range splitStatements(string(script)) {
		st.statements++
		if _, err := root.Execute(stmt); err != nil {
			st.skipped++
			t.Logf("skipped (MariaDB rejects it): %s: %v", abbreviate(stmt), err)
		}
	}
	end := masterPos(t, root)

	type tableState struct {
		cols     []TableColumn
		key      []int
		rows     [][]any
		onlyAdds bool
		shapes   map[string]bool
	}
	tables := map[string]*tableState{}
	var order []string
	for _, ev := range readBinlog(t, m, start, end) {
		st.events++
		full := string(ev.table.Schema) + "." + string(ev.table.Table)
		cols, key, err := ColumnsFromTableMap(ev.table)
		if err != nil {
			t.Errorf("%s: %v", full, err)
			continue
		}
		var rows [][]any
		for i, raw := range ev.rows {
			row, zeros, err := decodeBinlogRow(cols, raw)
			if err != nil {
				t.Errorf("%s row event %d row %d: %v", full, st.events, i, err)
				continue
			}
			st.zeroDates += zeros
			rows = append(rows, row)
		}
		st.rows += len(rows)
		roundTrip(t, schemaOf(cols, key), rows)

		ts := tables[full]
		if ts == nil {
			ts = &tableState{onlyAdds: true, shapes: map[string]bool{}}
			tables[full] = ts
			order = append(order, full)
		}
		ts.cols, ts.key = cols, key
		ts.shapes[fmt.Sprint(cols)] = true
		if !isWrite(ev.kind) {
			ts.onlyAdds = false
		}
		ts.rows = append(ts.rows, rows...)
	}

	// Snapshot path: every table still there with the columns of its last
	// table map decodes; an insert-only table with one shape reads the same
	// multiset of rows as the binlog gave.
	for _, full := range order {
		ts := tables[full]
		schema, table, _ := strings.Cut(full, ".")
		if !sameColumns(t, root, schema, table, ts.cols) {
			continue
		}
		snap, _, err := snapshotRows(m, schema, table, ts.cols)
		if err != nil {
			t.Errorf("snapshot %s: %v", full, err)
			continue
		}
		roundTrip(t, schemaOf(ts.cols, ts.key), snap)
		if ts.onlyAdds && len(ts.shapes) == 1 {
			st.compared++
			if a, b := canonicalRows(snap), canonicalRows(ts.rows); !slices.Equal(a, b) {
				t.Errorf("%s: snapshot rows differ from binlog rows:\nsnapshot %v\nbinlog   %v", full, a, b)
			}
		}
	}
	return st
}

func isWrite(k replication.EventType) bool {
	switch k {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		return true
	}
	return false
}

// sameColumns reports whether the table still exists with the column names
// of its last table map.
func sameColumns(t *testing.T, conn *client.Conn, schema, table string, cols []TableColumn) bool {
	t.Helper()
	r, err := conn.Execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", schema, table)
	if err != nil {
		t.Fatalf("columns of %s.%s: %v", schema, table, err)
	}
	if r.RowNumber() != len(cols) {
		return false
	}
	for i, c := range cols {
		if name, _ := r.GetString(i, 0); name != c.Name {
			return false
		}
	}
	return true
}

// snapshotRows reads a whole table the way the snapshot phase will, as the
// least-privilege user.
func snapshotRows(m *testenv.MariaDB, schema, table string, cols []TableColumn) ([][]any, int, error) {
	conn, err := client.Connect(m.Addr(), m.User, m.UserPassword, "")
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	if _, err := conn.Execute(SnapshotSessionSetup); err != nil {
		return nil, 0, err
	}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = SnapshotSelectExpr(c)
	}
	r, err := conn.Execute(fmt.Sprintf("SELECT %s FROM %s.%s", strings.Join(exprs, ", "), QuoteIdent(schema), QuoteIdent(table)))
	if err != nil {
		return nil, 0, err
	}
	var rows [][]any
	zeros := 0
	for _, rd := range r.RowDatas {
		fields, err := splitTextRow(rd, len(cols))
		if err != nil {
			return nil, 0, err
		}
		row := make([]any, len(cols))
		for i, c := range cols {
			v, err := DecodeSnapshotValue(c.Type, fields[i])
			if errors.Is(err, ErrZeroDate) {
				zeros++
			} else if err != nil {
				return nil, 0, fmt.Errorf("column %q: %w", c.Name, err)
			}
			row[i] = v
		}
		rows = append(rows, row)
	}
	return rows, zeros, nil
}

func canonicalRows(rows [][]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%#v", r)
	}
	sort.Strings(out)
	return out
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}
