package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/binlake/binlake/query"
	"github.com/binlake/binlake/query/render"
	"github.com/binlake/binlake/tableformat"
)

// asOfFlags are the flags that name a point of the lake's history.
type asOfFlags struct {
	time, gtid, position string
	version              int64
}

func addAsOfFlags(fs *flag.FlagSet) *asOfFlags {
	a := &asOfFlags{}
	fs.StringVar(&a.time, "as-of", "", "read the lake as of this time (RFC 3339, e.g. 2026-11-21T09:30:00Z)")
	fs.Int64Var(&a.version, "as-of-version", 0, "read the lake as of this lake version")
	fs.StringVar(&a.gtid, "as-of-gtid", "", "read the lake as of this GTID set: every source transaction in it")
	fs.StringVar(&a.position, "as-of-position", "", "read the lake as of this binlog position, FILE:POS")
	return a
}

// parseTimeFlag parses the value of the time flag --name: RFC 3339.
func parseTimeFlag(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, &usageError{fmt.Sprintf("--%s %q: want an RFC 3339 time such as 2026-11-21T09:30:00Z", name, v)}
	}
	return t, nil
}

// at turns the flags into a query.At.
func (a *asOfFlags) at() (query.At, error) {
	var at query.At
	n := 0
	if a.time != "" {
		t, err := parseTimeFlag("as-of", a.time)
		if err != nil {
			return at, err
		}
		at.Time = t
		n++
	}
	if a.version != 0 {
		if a.version < 1 {
			return at, &usageError{fmt.Sprintf("--as-of-version %d: versions start at 1", a.version)}
		}
		at.Version = a.version
		n++
	}
	if a.gtid != "" {
		if _, err := tableformat.ParseGTIDSet(a.gtid); err != nil {
			return at, &usageError{"--as-of-gtid: " + err.Error()}
		}
		at.GTID = a.gtid
		n++
	}
	if a.position != "" {
		if _, _, err := tableformat.ParseFilePos(a.position); err != nil {
			return at, &usageError{"--as-of-position: " + err.Error()}
		}
		at.Position = a.position
		n++
	}
	if n > 1 {
		return at, &usageError{"give one of --as-of, --as-of-version, --as-of-gtid and --as-of-position"}
	}
	return at, nil
}

func runQuery(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "query", `-c binlake.yaml [--as-of TIME | --as-of-version N | --as-of-gtid SET | --as-of-position FILE:POS]
       [--format table|csv|json] [--meta] "SQL"   (without SQL: an interactive session on a terminal, or the statement on stdin)`)
	asOf := addAsOfFlags(fs)
	format := fs.String("format", "table", "output format: table, csv (RFC 4180 with \\n line ends and a header line) or json (one object per line)")
	meta := fs.Bool("meta", false, "show each row's _binlake_seq, _binlake_ts and _binlake_op in the table views")
	stmt, err := parseFlagsAndArg(fs, args)
	if err != nil {
		return err
	}
	at, err := asOf.at()
	if err != nil {
		return err
	}
	if _, err := render.NewWriter(*format, io.Discard); err != nil {
		return &usageError{"--format: " + err.Error()}
	}
	// An interactive session lives long enough to gain from local
	// snapshots written in the background; one statement does not.
	inter := stmt == "" && isTerminal(env.stdin)
	lk, engine, err := openQueryEngine(ctx, env, *cfgPath, *meta, inter, true)
	if err != nil {
		return err
	}
	defer lk.store.Close()
	defer engine.Close()
	p, err := engine.Resolve(ctx, at)
	if errors.Is(err, tableformat.ErrOutsideRetention) || errors.Is(err, tableformat.ErrInGap) {
		return err // it names the point
	}
	if err != nil {
		return fmt.Errorf("as of %s: %w", at, err)
	}
	sess, err := engine.Open(ctx, p)
	if err != nil {
		return err
	}
	defer sess.Close()
	if stmt == "" {
		if inter {
			return interactive(ctx, env, sess, *format, at)
		}
		b, err := io.ReadAll(env.stdin)
		if err != nil {
			return err
		}
		if stmt = strings.TrimSpace(string(b)); stmt == "" {
			return &usageError{"no SQL: give a statement as the argument or on stdin"}
		}
	}
	return runStatement(ctx, env.stdout, sess, *format, stmt)
}

// parseFlagsAndArg parses flags before and after one positional argument.
func parseFlagsAndArg(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", &usageError{err.Error()}
	}
	if fs.NArg() == 0 {
		return "", nil
	}
	arg, rest := fs.Arg(0), fs.Args()[1:]
	if err := parseFlags(fs, rest); err != nil {
		var ue *usageError
		if errors.As(err, &ue) && fs.NArg() > 0 {
			return "", &usageError{"give the SQL as one argument (quote it)"}
		}
		return "", err
	}
	return arg, nil
}

// openQueryEngine opens the lake the config at cfgPath names, and the query
// cache and engine it describes; the caller closes the engine and lk.store.
// A long-lived reader materializes (query.Options.Materialize). A reader
// (readOnly: query, serve) gets a log that reads a table's files only when
// a statement binds it, and cannot commit.
func openQueryEngine(ctx context.Context, env *cliEnv, cfgPath string, meta, longLived, readOnly bool) (*lake, *query.Engine, error) {
	lk, err := openLakeLog(ctx, env, cfgPath, readOnly)
	if err != nil {
		return nil, nil, err
	}
	engine, err := newQueryEngine(lk, meta, longLived)
	if err != nil {
		lk.store.Close()
		return nil, nil, err
	}
	return lk, engine, nil
}

// newQueryEngine opens the query cache and engine the config describes.
func newQueryEngine(lk *lake, meta, longLived bool) (*query.Engine, error) {
	return newQueryEngineWith(lk, meta, longLived, "")
}

// newQueryEngineWith is newQueryEngine whose re-snapshot comparisons hold
// DuckDB to resnapMemory (DuckDB's syntax; "": query.memory_limit).
func newQueryEngineWith(lk *lake, meta, longLived bool, resnapMemory string) (*query.Engine, error) {
	qc := lk.cfg.Query
	dir := qc.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, &configError{"query.cache_dir: no default cache directory here (" + err.Error() + "); set query.cache_dir"}
		}
		dir = filepath.Join(base, "binlake")
	}
	cache, err := query.OpenCache(dir, qc.CacheMaxBytes, lk.logger)
	if err != nil {
		return nil, err
	}
	opts := qc.options()
	opts.ResnapshotMemoryLimit, opts.Meta, opts.Logger, opts.Materialize = resnapMemory, meta, lk.logger, longLived && qc.MaterializeRows > 0
	return query.NewEngine(lk.log, cache, opts), nil
}

// runStatement runs one statement and writes its rows in format.
func runStatement(ctx context.Context, w io.Writer, sess *query.Session, format, stmt string) error {
	rows, cancel, err := sess.Query(ctx, stmt)
	if err != nil {
		return err
	}
	defer cancel()
	defer rows.Close()
	out, err := render.NewWriter(format, w)
	if err != nil {
		return err
	}
	_, _, err = render.WriteRows(rows, out, 0)
	return err
}

// interactive reads statements ending in ";" from a terminal and prints
// their results, until end of input or \q.
func interactive(ctx context.Context, env *cliEnv, sess *query.Session, format string, at query.At) error {
	fmt.Fprintf(env.stderr, "binlake: lake version %d (as of %s). End statements with ';', \\q quits.\n", sess.Point.Version, at)
	in := bufio.NewScanner(env.stdin)
	in.Buffer(make([]byte, 64<<10), 16<<20)
	var stmt strings.Builder
	for {
		if stmt.Len() == 0 {
			fmt.Fprint(env.stderr, "binlake> ")
		} else {
			fmt.Fprint(env.stderr, "     ... ")
		}
		if !in.Scan() {
			fmt.Fprintln(env.stderr)
			return in.Err()
		}
		line := in.Text()
		if stmt.Len() == 0 && (strings.TrimSpace(line) == `\q` || strings.TrimSpace(line) == "exit") {
			return nil
		}
		stmt.WriteString(line)
		stmt.WriteByte('\n')
		if !strings.HasSuffix(strings.TrimSpace(line), ";") {
			continue
		}
		s := strings.TrimSuffix(strings.TrimSpace(stmt.String()), ";")
		stmt.Reset()
		if err := runStatement(ctx, env.stdout, sess, format, s); err != nil {
			fmt.Fprintf(env.stderr, "error: %v\n", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
