package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
)

// verifyOutput is `binlake verify --format json`: the report, the lake's
// URL and the counts.
type verifyOutput struct {
	Lake string `json:"lake"`
	*tableformat.VerifyReport
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

// runVerify checks the lake end to end (tableformat.Verify). It does not
// open the lake through its latest state, which is exactly what may be
// damaged: it reads every object itself.
func runVerify(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "verify", "-c binlake.yaml [--format table|json] [--all-versions]")
	format := fs.String("format", "table", "output format: table (a line per problem, then a summary) or json (one object)")
	all := fs.Bool("all-versions", false, "also check the files earlier versions still need (inside retention and the grace period), not only the latest state's")
	cfg, err := parseAndLoad(env, fs, args, cfgPath, format)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, env.stderr)
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	rep, err := tableformat.Verify(ctx, store, tableformat.VerifyOptions{AllVersions: *all, Grace: cfg.Compaction.Grace, Logger: logger})
	switch {
	case err == nil:
	case errors.Is(err, tableformat.ErrNoLake):
		return fmt.Errorf("%s holds no lake: %w", lakeURL(cfg), err)
	case ctx.Err() != nil:
		return err
	default:
		return fmt.Errorf("%w: %s: %w", errStorage, lakeURL(cfg), err)
	}
	if local, ok := store.(*objstore.Local); ok {
		if err := staleTempFiles(local, cfg.Compaction.Grace, time.Now(), rep); err != nil {
			return fmt.Errorf("%w: %w", errStorage, err)
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(verifyOutput{Lake: lakeURL(cfg), VerifyReport: rep, Errors: rep.Errors(), Warnings: rep.Warnings()}); err != nil {
			return err
		}
	} else if err := writeVerify(env.stdout, lakeURL(cfg), rep); err != nil {
		return err
	}
	return rep.Err()
}

// staleTempFiles adds a warning for each temporary file a local store's
// writers left behind (objstore.TempDirName, which List never shows).
func staleTempFiles(local *objstore.Local, grace time.Duration, now time.Time, rep *tableformat.VerifyReport) error {
	dir := filepath.Join(local.Root(), objstore.TempDirName)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		age := now.Sub(fi.ModTime()).Round(time.Second)
		what := "left by a write that did not finish (a crashed writer)"
		if age < grace {
			what = "of a write in progress, or left by one that did not finish"
		}
		rep.Add(tableformat.VerifyProblem{Severity: tableformat.SeverityWarning, Key: objstore.TempDirName + "/" + e.Name(),
			Problem: fmt.Sprintf("a temporary file (%d bytes, written %s ago) %s; readers never see it", fi.Size(), max(age, 0), what),
			Fix:     "`binlake vacuum` removes temporary files older than the grace period (compaction.grace)"})
	}
	return nil
}

// writeVerify prints a line per problem, then the summary.
func writeVerify(w io.Writer, url string, rep *tableformat.VerifyReport) error {
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "%-7s %s. Fix: %s\n", strings.ToUpper(string(p.Severity)), p, p.Fix)
	}
	state := ""
	switch {
	case rep.StateVersion == 0:
		state = " (no state could be rebuilt from the log)"
	case rep.StateVersion != rep.Version:
		state = fmt.Sprintf(" (the files of version %d: the log cannot be replayed further)", rep.StateVersion)
	}
	plural := func(n int, one string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	verdict := "the lake is intact"
	if n := rep.Errors(); n > 0 {
		verdict = "the lake is DAMAGED"
	}
	_, err := fmt.Fprintf(w, "verified %s: %s, %s (1…%d), %s checked against the log, %s%s of %s checked; %s, %s: %s\n",
		url, plural(rep.Objects, "object"), plural(rep.Versions, "version"), rep.Version, plural(rep.Checkpoints, "checkpoint"),
		plural(rep.Files, "file"), state, humanBytes(rep.Bytes), plural(rep.Errors(), "problem"), plural(rep.Warnings(), "warning"), verdict)
	return err
}
