package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/binlake/binlake/tableformat"
)

type tableRow struct {
	DB            string        `json:"db"`
	Table         string        `json:"table"`
	ID            int64         `json:"table_id"`
	Dropped       bool          `json:"dropped,omitempty"`
	SchemaVersion int           `json:"schema_version"`
	Columns       []tableColumn `json:"columns"`
	Key           []string      `json:"key"`
	tableCounts
}

// tableCounts are a table's rows and files, shared by tables and status.
type tableCounts struct {
	// Rows is how many rows the table holds now (RowCount: from the
	// files' metadata); RowsExact is false when that is an estimate.
	Rows          int64 `json:"rows"`
	RowsExact     bool  `json:"rows_exact"`
	Bytes         int64 `json:"bytes"`
	DataFiles     int   `json:"data_files"`
	DataRows      int64 `json:"data_rows"`
	DeleteFiles   int   `json:"delete_files"`
	DeleteRows    int64 `json:"delete_rows"`
	SnapshotFiles int   `json:"snapshot_files"`
	SnapshotRows  int64 `json:"snapshot_rows"`
}

type tableColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

func runTables(ctx context.Context, env *cliEnv, args []string) error {
	rc := newReadCommand(env, "tables", "-c binlake.yaml [--format table|json] [--all] [--columns] [--table PATTERN]... [--summary]")
	all := rc.fs.Bool("all", false, "include dropped tables")
	columns := rc.fs.Bool("columns", false, "list each table's columns (table format)")
	var patterns tablePatterns
	rc.fs.Var(&patterns, "table", tablePatternUsage("list"))
	summaryOnly := rc.fs.Bool("summary", false, "print the summary only (tables, rows, files and bytes, in all and per database), not every table")
	rc.fs.Lookup("format").Usage = "output format: table or json (one object per table; with --summary, one {\"summary\": …})"
	lk, st, err := rc.open(ctx, env, args)
	if err != nil {
		return err
	}
	defer lk.store.Close()
	keep := func(t *tableformat.TableState) bool { return *all || t.DroppedSeq == 0 }
	chosen, total, err := selectTables(st, patterns, keep)
	if err != nil {
		return err
	}
	rows := make([]tableRow, 0, len(chosen))
	for _, t := range chosen {
		rows = append(rows, makeTableRow(t))
	}
	sum := summarize(total, patterns, rows)
	if *rc.format == "json" {
		// Each line a table, as scripts read it; the summary is asked for.
		if *summaryOnly {
			return writeJSONLines(env.stdout, []summaryLine{{sum}})
		}
		return writeJSONLines(env.stdout, rows)
	}
	if !*summaryOnly {
		if err := writeTables(env.stdout, rows, *columns); err != nil {
			return err
		}
		fmt.Fprintln(env.stdout)
	}
	return writeSummary(env.stdout, sum)
}

// writeTables prints the table rows for a person.
func writeTables(w io.Writer, rows []tableRow, columns bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tID\tSCHEMA\tKEY\tROWS\tDATA FILES/ROWS\tDELETE FILES/KEYS\tSNAPSHOT FILES/ROWS\tBYTES")
	for _, r := range rows {
		name := r.DB + "." + r.Table
		if r.Dropped {
			name += " (dropped)"
		}
		fmt.Fprintf(tw, "%s\t%d\tv%d\t%s\t%s\t%d/%d\t%d/%d\t%d/%d\t%d\n", name, r.ID, r.SchemaVersion,
			keyText(r.Key), rowsText(r.Rows, r.RowsExact, r.Dropped), r.DataFiles, r.DataRows, r.DeleteFiles, r.DeleteRows, r.SnapshotFiles, r.SnapshotRows, r.Bytes)
		if columns {
			for _, c := range r.Columns {
				null := "not null"
				if c.Nullable {
					null = "null"
				}
				fmt.Fprintf(tw, "  %s\t\t%s\t%s\t\t\t\t\t\n", c.Name, c.Type, null)
			}
		}
	}
	return tw.Flush()
}

// listSummary sums the tables a listing shows: what `binlake tables` and
// `binlake status` print after their tables, or instead of them with
// --summary, so that a lake of thousands of tables reads in a few lines.
type listSummary struct {
	// Tables is how many tables the listing chose from: the tables of the
	// lake, less the dropped ones unless `tables --all`.
	Tables int `json:"tables"`
	// Patterns are the --table patterns; Matched the tables they match
	// (all of Tables without patterns), which the sums below cover.
	Patterns []string `json:"patterns,omitempty"`
	Matched  int      `json:"matched"`
	summaryCounts
	// Databases are the same sums per database, by name.
	Databases []databaseSummary `json:"databases"`
}

// summaryCounts are the sums of some tables' counts: rows now (RowsExact
// false when one of them is an estimate; dropped tables hold none), files
// and bytes.
type summaryCounts struct {
	Rows      int64 `json:"rows"`
	RowsExact bool  `json:"rows_exact"`
	Files     int   `json:"files"`
	Bytes     int64 `json:"bytes"`
}

func (c *summaryCounts) add(r tableRow) {
	if !r.Dropped {
		c.Rows += r.Rows
		c.RowsExact = c.RowsExact && r.RowsExact
	}
	c.Files += r.DataFiles + r.DeleteFiles + r.SnapshotFiles
	c.Bytes += r.Bytes
}

// databaseSummary is one database's line of a summary.
type databaseSummary struct {
	DB     string `json:"db"`
	Tables int    `json:"tables"`
	summaryCounts
}

// summaryLine is what `binlake tables --summary --format json` prints.
type summaryLine struct {
	Summary listSummary `json:"summary"`
}

// summarize sums rows (sorted by name, as selectTables returns them), of
// total tables the listing chose from with patterns.
func summarize(total int, patterns []string, rows []tableRow) listSummary {
	s := listSummary{Tables: total, Patterns: patterns, Matched: len(rows), summaryCounts: summaryCounts{RowsExact: true},
		Databases: []databaseSummary{}}
	for _, r := range rows {
		s.add(r)
		if n := len(s.Databases); n == 0 || s.Databases[n-1].DB != r.DB {
			s.Databases = append(s.Databases, databaseSummary{DB: r.DB, summaryCounts: summaryCounts{RowsExact: true}})
		}
		d := &s.Databases[len(s.Databases)-1]
		d.Tables++
		d.add(r)
	}
	return s
}

// writeSummary prints a summary for a person: one line, then a line per
// database when there are several (at most maxNamed of them).
func writeSummary(w io.Writer, s listSummary) error {
	head := fmt.Sprintf("%d %s", s.Tables, plural(s.Tables, "table"))
	if len(s.Patterns) > 0 {
		head = fmt.Sprintf("%d of %d %s match %s", s.Matched, s.Tables, plural(s.Tables, "table"), strings.Join(s.Patterns, ", "))
	}
	fmt.Fprintf(w, "summary: %s: %s rows, %s, %s\n", head, rowsText(s.Rows, s.RowsExact, false), files(s.Files), humanBytes(s.Bytes))
	if len(s.Databases) < 2 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DATABASE\tTABLES\tROWS\tFILES\tBYTES")
	for _, d := range s.Databases[:min(len(s.Databases), maxNamed)] {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", d.DB, d.Tables, rowsText(d.Rows, d.RowsExact, false), d.Files, humanBytes(d.Bytes))
	}
	if more := len(s.Databases) - maxNamed; more > 0 {
		fmt.Fprintf(tw, "… and %d more %s (--format json lists every one)\n", more, plural(more, "database"))
	}
	return tw.Flush()
}

func makeTableRow(t *tableformat.TableState) tableRow {
	n := t.Current()
	sc := t.Schema()
	r := tableRow{DB: n.DB, Table: n.Name, ID: t.ID, Dropped: t.DroppedSeq != 0, SchemaVersion: sc.Version}
	for _, c := range sc.Columns {
		r.Columns = append(r.Columns, tableColumn{Name: c.Name, Type: c.Type.String(), Nullable: c.Nullable})
	}
	if len(sc.Key) > 0 {
		for _, c := range sc.KeyColumns() {
			r.Key = append(r.Key, c.Name)
		}
	}
	r.Rows, r.RowsExact = t.RowCount()
	for _, f := range t.Files {
		r.Bytes += f.Bytes
		switch f.Kind {
		case tableformat.FileData:
			r.DataFiles++
			r.DataRows += f.Rows
		case tableformat.FileDelete:
			r.DeleteFiles++
			r.DeleteRows += f.Rows
		case tableformat.FileSnapshot:
			r.SnapshotFiles++
			r.SnapshotRows += f.Rows
		}
	}
	return r
}

// rowsText shows a row count: "~" marks an estimate, "-" a dropped table.
func rowsText(rows int64, exact, dropped bool) string {
	switch {
	case dropped:
		return "-"
	case !exact:
		return fmt.Sprintf("~%d", rows)
	}
	return fmt.Sprint(rows)
}

// keyText shows a table's key; a table without one is keyed by its whole row.
func keyText(key []string) string {
	if len(key) == 0 {
		return "(whole row)"
	}
	return strings.Join(key, ",")
}
