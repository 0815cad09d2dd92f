package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// logRow is one line of `binlake log`.
type logRow struct {
	Version    int64    `json:"version"`
	CommitTime string   `json:"commit_time"`
	Kind       string   `json:"kind"`
	Position   string   `json:"position,omitempty"`
	GTIDSet    string   `json:"gtid_set,omitempty"`
	MaxSeq     int64    `json:"max_seq"`
	SourceTime string   `json:"source_time,omitempty"`
	Txns       int      `json:"transactions"`
	Tables     []string `json:"tables,omitempty"`
	FilesAdded int      `json:"files_added"`
	FilesGone  int      `json:"files_removed"`
	RowsAdded  int64    `json:"rows_added"`
	BytesAdded int64    `json:"bytes_added"`
	Writer     string   `json:"writer"`
	Note       string   `json:"note,omitempty"`
}

func runLog(ctx context.Context, env *cliEnv, args []string) error {
	rc := newReadCommand(env, "log", "-c binlake.yaml [--format table|json] [--tail N]")
	tail := rc.fs.Int64("tail", 0, "show only the last N versions (0: all)")
	lk, st, err := rc.open(ctx, env, args)
	if err != nil {
		return err
	}
	defer lk.store.Close()
	format := rc.format
	from := int64(1)
	if *tail > 0 {
		from = max(1, st.Version-*tail+1)
	}
	var rows []logRow
	// Names of tables as of the latest state; a table's id is shown when it
	// is unknown there (never: dropped tables stay in the state).
	for v := from; v <= st.Version; v += 256 {
		end := min(st.Version, v+255)
		for x := v; x <= end; x++ {
			e, err := lk.log.Entry(ctx, x)
			if err != nil {
				return err
			}
			rows = append(rows, makeLogRow(e, st))
		}
	}
	if *format == "json" {
		return writeJSONLines(env.stdout, rows)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCOMMITTED (UTC)\tKIND\tPOSITION\tSEQ\tTXNS\tTABLES\tFILES +/-\tROWS +\tNOTE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t+%d/-%d\t%d\t%s\n", r.Version, r.CommitTime, r.Kind,
			orDash(r.Position), r.MaxSeq, r.Txns, orDash(strings.Join(r.Tables, ",")), r.FilesAdded, r.FilesGone, r.RowsAdded, r.Note)
	}
	return tw.Flush()
}

func makeLogRow(e *tableformat.Entry, st *tableformat.State) logRow {
	r := logRow{
		Version:    e.Version,
		CommitTime: e.CommitTime.UTC().Format(timeLayout),
		Kind:       string(e.Kind),
		Position:   e.Progress.Position.FilePos(),
		GTIDSet:    e.Progress.Position.GTIDSet,
		MaxSeq:     e.Progress.MaxSeq,
		Txns:       len(e.Txns),
		FilesAdded: len(e.Add),
		FilesGone:  len(e.Remove),
		Writer:     e.WriterID,
	}
	if r.Position == "" {
		r.Position = r.GTIDSet
	}
	if e.Progress.MaxTS > 0 {
		r.SourceTime = time.UnixMicro(e.Progress.MaxTS).UTC().Format(timeLayout)
	}
	// Names as they were at this entry: the latest state holds every
	// table's name history.
	name := func(id, seq int64) string {
		if t := st.Tables.Get(id); t != nil {
			n := t.NameAt(seq)
			return n.DB + "." + n.Name
		}
		return fmt.Sprintf("table#%d", id)
	}
	at := e.Progress.MaxSeq
	var tables []string
	for _, a := range e.Add {
		r.RowsAdded += a.Rows
		r.BytesAdded += a.Bytes
		tables = append(tables, name(a.TableID, at))
	}
	for _, rm := range e.Remove {
		tables = append(tables, name(rm.TableID, at))
	}
	var notes []string
	for _, c := range e.Tables {
		tables = append(tables, name(c.TableID, c.Seq))
		switch c.Op {
		case tableformat.TableRename:
			notes = append(notes, fmt.Sprintf("rename %s to %s", name(c.TableID, c.Seq-1), name(c.TableID, c.Seq)))
		case tableformat.TableAlter:
			notes = append(notes, fmt.Sprintf("alter %s (schema v%d)", name(c.TableID, c.Seq), c.Schema.Version))
		default:
			notes = append(notes, fmt.Sprintf("%s %s", c.Op, name(c.TableID, c.Seq)))
		}
	}
	if e.Rewind != nil {
		notes = append(notes, fmt.Sprintf("rewound to version %d", e.Rewind.ToVersion))
	}
	slices.Sort(tables)
	r.Tables = slices.Compact(tables)
	r.Note = strings.Join(notes, "; ")
	return r
}

const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// readCommand is the shape of the commands that print what a lake holds:
// -c and --format flags, then the lake's latest state.
type readCommand struct {
	fs      *flag.FlagSet
	cfgPath *string
	format  *string
}

func newReadCommand(env *cliEnv, name, synopsis string) readCommand {
	fs, cfgPath := newFlags(env, name, synopsis)
	format := fs.String("format", "table", "output format: table or json (one object per line)")
	return readCommand{fs: fs, cfgPath: cfgPath, format: format}
}

// open parses args, opens the lake and reads its latest state.
func (rc readCommand) open(ctx context.Context, env *cliEnv, args []string) (*lake, *tableformat.State, error) {
	if err := parseFlags(rc.fs, args); err != nil {
		return nil, nil, err
	}
	if err := checkFormat(*rc.format); err != nil {
		return nil, nil, err
	}
	lk, err := openLake(ctx, env, *rc.cfgPath)
	if err != nil {
		return nil, nil, err
	}
	st, err := lk.log.Latest(ctx)
	if err != nil {
		lk.store.Close()
		return nil, nil, err
	}
	return lk, st, nil
}

func writeJSONLines[T any](w io.Writer, rows []T) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// checkFormat checks a --format of table or json.
func checkFormat(format string) error {
	if format != "table" && format != "json" {
		return &usageError{fmt.Sprintf("--format %q: use table or json", format)}
	}
	return nil
}

// parseAndLoad parses a command's flags, checks its --format and loads
// the config it names.
func parseAndLoad(env *cliEnv, fs *flag.FlagSet, args []string, cfgPath, format *string) (*Config, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := checkFormat(*format); err != nil {
		return nil, err
	}
	return loadConfig(*cfgPath, env.getenv)
}
