package main

import (
	"context"
	"fmt"
	"io"

	"github.com/binlake/binlake/compaction"
)

// policy is the compaction policy the config describes.
func (c CompactionConfig) policy() compaction.Policy {
	return compaction.Policy{SnapshotMinRows: c.SnapshotMinRows, SnapshotMinFiles: c.SnapshotMinFiles,
		SnapshotFraction: c.SnapshotFraction, MergeMinFiles: c.MergeMinFiles, SmallFileBytes: c.SmallFileBytes,
		TargetFileBytes: c.TargetFileBytes}.WithDefaults()
}

func runCompact(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "compact", "-c binlake.yaml [--table PATTERN]... [--dry-run] [--force]")
	var patterns tablePatterns
	fs.Var(&patterns, "table", tablePatternUsage("compact"))
	dryRun := fs.Bool("dry-run", false, "print the plan, write and commit nothing")
	force := fs.Bool("force", false, "snapshot every table with any delta, merge every run of small files")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	lk, engine, err := openQueryEngine(ctx, env, *cfgPath, false, false, false)
	if err != nil {
		return err
	}
	defer lk.store.Close()
	defer engine.Close()
	policy := lk.cfg.Compaction.policy()
	policy.Force = *force
	c := &compaction.Compactor{Log: lk.log, Writer: engine, Policy: policy, Logger: lk.logger}
	st, err := lk.log.Latest(ctx)
	if err != nil {
		return err
	}
	var only []string
	if len(patterns) > 0 {
		chosen, _, err := selectTables(st, patterns, nil)
		if err != nil {
			return err
		}
		for _, t := range chosen {
			n := t.Current()
			only = append(only, n.DB+"."+n.Name)
		}
	}
	jobs := compaction.Plan(st, policy, only...)
	if len(jobs) == 0 {
		fmt.Fprintln(env.stdout, "nothing to compact")
		return nil
	}
	for _, j := range jobs {
		if *dryRun {
			fmt.Fprintln(env.stdout, "would "+describeJob(j))
			continue
		}
		res, err := c.Run(ctx, j)
		if err != nil {
			return err
		}
		printCompactResult(env.stdout, res)
	}
	return nil
}

// describeJob says what a job does, for people.
func describeJob(j compaction.Job) string {
	rows, bytes := j.Rows()
	switch j.Kind {
	case compaction.JobSnapshot:
		return fmt.Sprintf("snapshot %s.%s at seq %d, folding %d delta %s (%d rows, %s): %s",
			j.DB, j.Name, j.AsOfSeq, len(j.Inputs), plural(len(j.Inputs), "file"), rows, humanBytes(bytes), j.Reason)
	default:
		return fmt.Sprintf("merge %d %s files of %s.%s (%d rows, %s): %s",
			len(j.Inputs), j.Inputs[0].Kind, j.DB, j.Name, rows, humanBytes(bytes), j.Reason)
	}
}

// printCompactResult writes one line about a job run.
func printCompactResult(w io.Writer, r compaction.Result) {
	switch {
	case r.Conflict:
		fmt.Fprintf(w, "skipped %s of %s.%s: another commit changed its files first (its uploads are left for vacuum)\n", r.Job.Kind, r.Job.DB, r.Job.Name)
	case r.Version == 0:
		fmt.Fprintf(w, "%s of %s.%s: nothing to write\n", r.Job.Kind, r.Job.DB, r.Job.Name)
	default:
		fmt.Fprintf(w, "%s %s.%s: %s (%d rows, %s) → %s (%d rows, %s) in %s, version %d\n",
			r.Job.Kind, r.Job.DB, r.Job.Name, files(r.FilesIn), r.RowsIn, humanBytes(r.BytesIn), files(r.FilesOut), r.RowsOut,
			humanBytes(r.BytesOut), r.Duration.Round(1e6), r.Version)
	}
}

// files is "1 file" or "N files".
func files(n int) string { return fmt.Sprintf("%d %s", n, plural(n, "file")) }

// plural is word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
