package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/binlake/binlake/tableformat"
)

// Exit codes a script can tell apart (docs/cli.md).
const (
	exitOK           = 0
	exitFailure      = 1 // anything not listed below
	exitUsage        = 2 // bad usage or configuration
	exitStorage      = 3 // the object store is unreachable or refuses requests
	exitCorrupt      = 4 // the lake's log or files are damaged
	exitNoLake       = 5 // no lake at the configured place
	exitPositionLost = 6 // the source no longer has the binlog the lake needs
	exitInterrupts   = 130
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what every command gets: streams and the environment, so tests
// run commands in-process.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
}

// isTerminal reports whether a stream is a terminal.
func isTerminal(s any) bool {
	f, ok := s.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func commands() []command {
	return []command{
		{"init", "write a starting config and print what the source server needs (settings, GRANTs)", runInit},
		{"check", "prerequisites: binlog settings, grants, storage put-if-absent", runCheck},
		{"ingest", "mirror the source's binlog into the lake (a daemon; SIGTERM finishes the commit in flight)", runIngest},
		{"status", "the operator's view: the lake's position, tables and files, and the running daemon's readiness and lag", runStatus},
		{"log", "the commit log: version, time, kind, position, tables, rows", runLog},
		{"tables", "tables, schemas, row counts, files", runTables},
		{"query", "SQL about the lake as of any point (latest by default)", runQuery},
		{"serve", "SQL over HTTP, as of any point", runServe},
		{"compact", "snapshots and merged delta files where the policy calls for them (for cron)", runCompact},
		{"vacuum", "remove history older than the retention window, then delete unneeded objects", runVacuum},
		{"resnapshot", "re-read tables from the source while ingest runs; commit the rows that differ", runResnapshot},
		{"verify", "check a lake end to end: log, checkpoints, every file's size, checksum and rows; orphans", runVerify},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv}
	os.Exit(run(ctx, env, os.Args[1:]))
}

func run(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, env, args[1:])
			if err == nil {
				return exitOK
			}
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			fmt.Fprintf(env.stderr, "binlake %s: %v\n", c.name, err)
			return exitCode(ctx, err)
		}
	}
	fmt.Fprintf(env.stderr, "binlake: unknown command %q\n\n", args[0])
	usage(env.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: binlake <command> -c binlake.yaml [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'binlake <command> -h' for a command's flags.")
}

// usageError is bad command-line usage: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// isUsage reports a usage or configuration error (exit 2), which a
// signal does not excuse.
func isUsage(err error) bool {
	var ue *usageError
	var ce *configError
	return errors.As(err, &ue) || errors.As(err, &ce)
}

func exitCode(ctx context.Context, err error) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case isUsage(err):
		return exitUsage
	case errors.Is(err, tableformat.ErrCorrupt):
		return exitCorrupt
	case errors.Is(err, tableformat.ErrNoLake):
		return exitNoLake
	case errors.Is(err, errStorage), errors.Is(err, fs.ErrPermission):
		// fs.ErrPermission: the storage refused the key (a read-only
		// key given to a command that writes).
		return exitStorage
	case ctx.Err() != nil:
		return exitInterrupts
	}
	return exitFailure
}

// newFlags returns a flag set with the flags every command has.
func newFlags(env *cliEnv, name, synopsis string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("binlake "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	cfg := fs.String("c", "binlake.yaml", "config file (YAML)")
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: binlake %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs, cfg
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	return nil
}

func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
