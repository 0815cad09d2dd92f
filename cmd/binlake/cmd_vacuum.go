package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/binlake/binlake/compaction"
	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/tableformat"
)

func runVacuum(ctx context.Context, env *cliEnv, args []string) error {
	retainText, graceText := settings.Duration(compaction.DefaultRetain), settings.Duration(compaction.DefaultGrace)
	fs, cfgPath := newFlags(env, "vacuum", fmt.Sprintf("-c binlake.yaml [--retain %s | --retain-from TIME] [--grace %s] [--dry-run]", retainText, graceText))
	retain := fs.Duration("retain", 0, "keep the history of this long back (default: compaction.retain, "+retainText+")")
	retainFrom := fs.String("retain-from", "", "keep the history from this time (RFC 3339) on, instead of --retain")
	grace := fs.Duration("grace", 0, "leave objects the lake no longer names this long in storage (default: compaction.grace, "+graceText+")")
	dryRun := fs.Bool("dry-run", false, "report what would be removed and deleted, change nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	flagged := CompactionConfig{Retain: *retain, Grace: *grace}.vacuumOptions()
	for _, f := range settings.ProblemsIn(flagged.Validate()) {
		if set[f.Field] { // the flags are named after the options
			return &usageError{fmt.Sprintf("--%s %s", f.Field, f.Msg)}
		}
	}
	var from time.Time
	if set["retain-from"] {
		if set["retain"] {
			return &usageError{"give --retain or --retain-from, not both"}
		}
		var err error
		if from, err = parseTimeFlag("retain-from", *retainFrom); err != nil {
			return err
		}
	}
	lk, err := openLake(ctx, env, *cfgPath)
	if err != nil {
		return err
	}
	defer lk.store.Close()
	opts := compaction.VacuumOptions{Retain: lk.cfg.Compaction.Retain, RetainFrom: from, Grace: lk.cfg.Compaction.Grace, DryRun: *dryRun, Logger: lk.logger}
	if set["retain"] {
		opts.Retain = *retain
	}
	if set["grace"] {
		opts.Grace = *grace
	}
	res, err := compaction.Vacuum(ctx, lk.log, opts)
	if errors.Is(err, tableformat.ErrConflict) {
		return fmt.Errorf("%w\n(another compaction or vacuum changed the same files first; nothing was committed or deleted: run vacuum again)", err)
	}
	if err != nil {
		return err
	}
	printVacuum(env.stdout, res, opts)
	return nil
}

// printVacuum writes the short human summary of a vacuum.
func printVacuum(w io.Writer, r compaction.VacuumResult, opts compaction.VacuumOptions) {
	would := func(done, planned string) string {
		if r.DryRun {
			return planned
		}
		return done
	}
	if r.DryRun {
		fmt.Fprintln(w, "dry run: nothing is committed or deleted")
	}
	switch {
	case r.Retention.FromSeq == 0 && !opts.RetainFrom.IsZero():
		fmt.Fprintf(w, "retention: the whole history is after %s\n", opts.RetainFrom.UTC().Format(time.RFC3339))
	case r.Retention.FromSeq == 0:
		fmt.Fprintf(w, "retention: the whole history is inside the last %s\n", opts.Retain)
	case r.RetentionMoved:
		fmt.Fprintf(w, "retention: history %s from %s (seq %d)\n", would("kept", "would be kept"),
			r.Retention.FromTime.UTC().Format(time.RFC3339), r.Retention.FromSeq)
	default:
		fmt.Fprintf(w, "retention: history kept from %s (seq %d), unchanged\n", r.Retention.FromTime.UTC().Format(time.RFC3339), r.Retention.FromSeq)
	}
	if n := r.FilesRemoved(); n > 0 {
		byReason := r.Plan.ByReason()
		var parts []string
		for _, reason := range slices.Sorted(maps.Keys(byReason)) {
			parts = append(parts, fmt.Sprintf("%d %s", byReason[reason], reason))
		}
		fmt.Fprintf(w, "%s %d files, %s (%s)", would("removed from the lake:", "would remove from the lake:"), n, humanBytes(r.BytesRemoved()), strings.Join(parts, ", "))
		if r.Version > 0 {
			fmt.Fprintf(w, " in version %d", r.Version)
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, "nothing outside retention to remove from the lake")
	}
	if r.ObjectsDeleted > 0 {
		fmt.Fprintf(w, "%s %d objects, %s (%d orphans of failed writes)\n", would("deleted from storage:", "would delete from storage:"),
			r.ObjectsDeleted, humanBytes(r.BytesDeleted), r.Orphans)
	} else {
		fmt.Fprintln(w, "no object to delete from storage")
	}
	if r.Waiting > 0 {
		fmt.Fprintf(w, "%d unnamed objects younger than the grace period (%s) were left alone\n", r.Waiting, opts.Grace)
	}
	if r.TempFilesRemoved > 0 {
		fmt.Fprintf(w, "removed %d stale temporary files\n", r.TempFilesRemoved)
	}
	if !r.DryRun && r.FilesRemoved() > 0 {
		fmt.Fprintf(w, "removed files stay in storage for the grace period (%s); a later vacuum deletes them\n", opts.Grace)
	}
}

// humanBytes renders a size in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
