package main

import (
	"context"
	"fmt"
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
	rc := newReadCommand(env, "tables", "-c binlake.yaml [--format table|json] [--all] [--columns]")
	all := rc.fs.Bool("all", false, "include dropped tables")
	columns := rc.fs.Bool("columns", false, "list each table's columns (table format)")
	lk, st, err := rc.open(ctx, env, args)
	if err != nil {
		return err
	}
	defer lk.store.Close()
	format := rc.format
	var rows []tableRow
	for _, t := range st.SortedTables() {
		if t.DroppedSeq != 0 && !*all {
			continue
		}
		rows = append(rows, makeTableRow(t))
	}
	if *format == "json" {
		return writeJSONLines(env.stdout, rows)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tID\tSCHEMA\tKEY\tROWS\tDATA FILES/ROWS\tDELETE FILES/KEYS\tSNAPSHOT FILES/ROWS\tBYTES")
	for _, r := range rows {
		name := r.DB + "." + r.Table
		if r.Dropped {
			name += " (dropped)"
		}
		fmt.Fprintf(tw, "%s\t%d\tv%d\t%s\t%s\t%d/%d\t%d/%d\t%d/%d\t%d\n", name, r.ID, r.SchemaVersion,
			keyText(r.Key), rowsText(r.Rows, r.RowsExact, r.Dropped), r.DataFiles, r.DataRows, r.DeleteFiles, r.DeleteRows, r.SnapshotFiles, r.SnapshotRows, r.Bytes)
		if *columns {
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
