package compaction

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/tableformat"
)

// Policy says when a table is worth a new snapshot and when its delta
// files are worth merging. Zero values take the defaults (the DefaultX
// constants).
type Policy struct {
	// A table gets a snapshot at the lake's latest sequence when the delta
	// files after its latest snapshot hold at least SnapshotMinRows rows,
	// or number at least SnapshotMinFiles, or hold at least
	// SnapshotFraction of the snapshot's rows.
	SnapshotMinRows  int64
	SnapshotMinFiles int
	SnapshotFraction float64
	// Delta files smaller than SmallFileBytes, when at least MergeMinFiles
	// of them follow each other in change order (one kind, one schema
	// version), are merged into files of about TargetFileBytes.
	SmallFileBytes int64
	MergeMinFiles  int
	// TargetFileBytes is the size of the files written.
	TargetFileBytes int64
	// Force snapshots every table with any delta after its latest snapshot
	// and merges every run of two or more small files.
	Force bool
}

// Policy defaults and limits.
const (
	DefaultSnapshotMinRows  = 1_000_000
	DefaultSnapshotMinFiles = 100
	DefaultSnapshotFraction = 0.1
	DefaultSmallFileBytes   = 16 << 20
	DefaultMergeMinFiles    = 10
	DefaultTargetFileBytes  = 128 << 20
	// MinTargetFileBytes is the smallest TargetFileBytes: smaller files
	// would cost more in per-file overhead than compaction saves.
	MinTargetFileBytes = 1 << 20
	// maxMergeFiles bounds one merge job.
	maxMergeFiles = 1000
)

// WithDefaults fills in the zero values.
func (p Policy) WithDefaults() Policy {
	if p.SnapshotMinRows == 0 {
		p.SnapshotMinRows = DefaultSnapshotMinRows
	}
	if p.SnapshotMinFiles == 0 {
		p.SnapshotMinFiles = DefaultSnapshotMinFiles
	}
	if p.SnapshotFraction == 0 {
		p.SnapshotFraction = DefaultSnapshotFraction
	}
	if p.SmallFileBytes == 0 {
		p.SmallFileBytes = DefaultSmallFileBytes
	}
	if p.MergeMinFiles == 0 {
		p.MergeMinFiles = DefaultMergeMinFiles
	}
	if p.TargetFileBytes == 0 {
		p.TargetFileBytes = DefaultTargetFileBytes
	}
	return p
}

// Validate reports every problem of a policy (after WithDefaults) at once,
// each a *settings.Problem naming its field.
func (p Policy) Validate() error {
	var ps settings.Problems
	if p.SnapshotMinRows < 1 {
		ps.Add("snapshot_min_rows", "%d: must be at least 1, such as %d", p.SnapshotMinRows, DefaultSnapshotMinRows)
	}
	if p.SnapshotMinFiles < 1 {
		ps.Add("snapshot_min_files", "%d: must be at least 1, such as %d", p.SnapshotMinFiles, DefaultSnapshotMinFiles)
	}
	if !(p.SnapshotFraction > 0) || math.IsInf(p.SnapshotFraction, 0) { // NaN too
		ps.Add("snapshot_fraction", "%g: must be above 0, such as %g", p.SnapshotFraction, DefaultSnapshotFraction)
	}
	if p.MergeMinFiles < 2 {
		ps.Add("merge_min_files", "%d: must be at least 2 (a merge joins two or more files), such as %d", p.MergeMinFiles, DefaultMergeMinFiles)
	}
	if p.SmallFileBytes < 1 {
		ps.Add("small_file_bytes", "%d: must be a positive number of bytes, such as %d (%s)", p.SmallFileBytes,
			DefaultSmallFileBytes, settings.Bytes(DefaultSmallFileBytes))
	}
	if p.TargetFileBytes < MinTargetFileBytes {
		ps.Add("target_file_bytes", "%d: must be at least %d (%s), such as %d (%s)", p.TargetFileBytes, MinTargetFileBytes,
			settings.Bytes(MinTargetFileBytes), DefaultTargetFileBytes, settings.Bytes(DefaultTargetFileBytes))
	}
	if p.SmallFileBytes >= 1 && p.TargetFileBytes >= MinTargetFileBytes && p.SmallFileBytes >= p.TargetFileBytes {
		ps.Add("small_file_bytes", "%d is not below {target_file_bytes} (%d): merged files would count as small again and be "+
			"merged over and over; keep small_file_bytes well below target_file_bytes (defaults %s and %s)",
			p.SmallFileBytes, p.TargetFileBytes, settings.Bytes(DefaultSmallFileBytes), settings.Bytes(DefaultTargetFileBytes))
	}
	return ps.Err()
}

// JobKind is what a job does.
type JobKind string

// Job kinds.
const (
	JobSnapshot JobKind = "snapshot" // write the table's state at AsOfSeq
	JobMerge    JobKind = "merge"    // rewrite Inputs into fewer files
)

// Job is one unit of compaction: one table, one commit.
type Job struct {
	Kind    JobKind
	TableID int64
	DB      string // the table's current name
	Name    string
	// AsOfSeq is a snapshot's sequence: the lake's latest.
	AsOfSeq int64
	// Inputs are the files a merge rewrites (and removes), in change order;
	// for a snapshot, the delta files it folds in (informative).
	Inputs []tableformat.AddFile
	// Reason says why, for people.
	Reason string
}

// Rows and Bytes of the job's inputs.
func (j Job) Rows() (rows, bytes int64) {
	for _, f := range j.Inputs {
		rows += f.Rows
		bytes += f.Bytes
	}
	return rows, bytes
}

// Plan returns the jobs policy calls for on state st, for the tables only
// (db.name) when only is not empty: per table, its merges first, then its
// snapshot. It is a pure function of its arguments: it reads the files'
// metadata in the state (rows, bytes, sequences, kinds), never a file.
// A table that needs no job costs one pass over its files' metadata
// (tallyFiles), without sorting or allocating: on a lake of many tables,
// few of which changed, planning is spent on the few.
func Plan(st *tableformat.State, policy Policy, only ...string) []Job {
	policy = policy.WithDefaults()
	var chosen map[string]bool
	if len(only) > 0 {
		chosen = make(map[string]bool, len(only))
		for _, o := range only {
			chosen[o] = true
		}
	}
	// Choose the tables first and sort only those: sorting every table
	// would be most of the plan of a big lake where few changed.
	type chosenTable struct {
		t      *tableformat.TableState
		tally  fileTally
		reason string // of a snapshot; "": none
	}
	var work []chosenTable
	for _, t := range st.Tables.All() {
		if t.DroppedSeq != 0 {
			continue
		}
		if chosen != nil {
			if name := t.Current(); !chosen[name.DB+"."+name.Name] {
				continue
			}
		}
		tally := tallyFiles(t, policy)
		if reason := snapshotReason(st, t, tally, policy); reason != "" || tally.mayMerge(policy) {
			work = append(work, chosenTable{t: t, tally: tally, reason: reason})
		}
	}
	slices.SortFunc(work, func(a, b chosenTable) int { return tableformat.CompareTables(a.t, b.t) })
	var jobs []Job
	for _, w := range work {
		files := w.t.SortedFiles()
		if w.tally.mayMerge(policy) {
			jobs = append(jobs, planMerges(w.t, files, policy)...)
		}
		if w.reason != "" {
			jobs = append(jobs, snapshotJob(st, w.t, files, w.tally.snapSeq, w.reason))
		}
	}
	return jobs
}

// fileTally is what planning needs to know of a table's files to tell
// whether it needs a job at all.
type fileTally struct {
	// snapSeq and snapRows are the sequence and rows of the newest
	// snapshot (0: none).
	snapSeq, snapRows int64
	// deltas and deltaRows count the delta files after it.
	deltas    int
	deltaRows int64
	// smallData and smallDeletes count the delta files smaller than
	// policy.SmallFileBytes: a merge needs minRun of one kind.
	smallData, smallDeletes int
}

// tallyFiles counts t's files in two passes over their metadata.
func tallyFiles(t *tableformat.TableState, policy Policy) fileTally {
	var c fileTally
	for _, f := range t.Files {
		if f.Kind != tableformat.FileSnapshot {
			continue
		}
		if f.AsOfSeq > c.snapSeq {
			c.snapSeq, c.snapRows = f.AsOfSeq, 0
		}
		if f.AsOfSeq == c.snapSeq {
			c.snapRows += f.Rows
		}
	}
	for _, f := range t.Files {
		if f.Kind == tableformat.FileSnapshot {
			continue
		}
		if f.MaxSeq > c.snapSeq {
			c.deltas++
			c.deltaRows += f.Rows
		}
		if f.Bytes < policy.SmallFileBytes {
			switch f.Kind {
			case tableformat.FileData:
				c.smallData++
			case tableformat.FileDelete:
				c.smallDeletes++
			}
		}
	}
	return c
}

// mayMerge reports whether a table with this tally has enough small files
// of one kind for a merge (planMerges decides which, if any).
func (c fileTally) mayMerge(policy Policy) bool {
	return max(c.smallData, c.smallDeletes) >= policy.minRun()
}

// minRun is the fewest small files a merge joins.
func (p Policy) minRun() int {
	if p.Force {
		return 2
	}
	return p.MergeMinFiles
}

// snapshotReason says why t is worth a snapshot at the latest sequence, or
// is "" when it is not.
func snapshotReason(st *tableformat.State, t *tableformat.TableState, c fileTally, policy Policy) string {
	seq := st.Progress.MaxSeq
	switch {
	case !t.ExistsAt(seq) || c.snapSeq >= seq:
		return ""
	case c.deltas == 0:
		// Only table changes since (a rename, an ALTER): nothing to fold.
		return ""
	case policy.Force:
		return "forced"
	case c.deltaRows >= policy.SnapshotMinRows:
		return fmt.Sprintf("%d delta rows since the last snapshot (≥ %d)", c.deltaRows, policy.SnapshotMinRows)
	case c.deltas >= policy.SnapshotMinFiles:
		return fmt.Sprintf("%d delta files since the last snapshot (≥ %d)", c.deltas, policy.SnapshotMinFiles)
	case c.snapRows > 0 && float64(c.deltaRows) >= policy.SnapshotFraction*float64(c.snapRows):
		return fmt.Sprintf("%d delta rows since the last snapshot, ≥ %g of its %d rows", c.deltaRows, policy.SnapshotFraction, c.snapRows)
	}
	return ""
}

// snapshotJob is the snapshot of t at the latest sequence, folding the
// delta files (files: t.SortedFiles()) after its newest snapshot, snapSeq.
func snapshotJob(st *tableformat.State, t *tableformat.TableState, files []tableformat.AddFile, snapSeq int64, reason string) Job {
	name := t.Current()
	j := Job{Kind: JobSnapshot, TableID: t.ID, DB: name.DB, Name: name.Name, AsOfSeq: st.Progress.MaxSeq, Reason: reason}
	for _, f := range files {
		if f.Kind != tableformat.FileSnapshot && f.MaxSeq > snapSeq {
			j.Inputs = append(j.Inputs, f)
		}
	}
	return j
}

// planMerges finds runs of small delta files that follow each other in
// change order with one kind and one schema version.
func planMerges(t *tableformat.TableState, files []tableformat.AddFile, policy Policy) []Job {
	minRun := policy.minRun()
	name := t.Current()
	var jobs []Job
	for _, kind := range []tableformat.FileKind{tableformat.FileData, tableformat.FileDelete} {
		var ofKind []tableformat.AddFile
		for _, f := range files {
			if f.Kind == kind {
				ofKind = append(ofKind, f)
			}
		}
		slices.SortFunc(ofKind, func(a, b tableformat.AddFile) int {
			return cmp.Or(cmp.Compare(a.MinSeq, b.MinSeq), cmp.Compare(a.Path, b.Path))
		})
		var run []tableformat.AddFile
		var runBytes int64
		flush := func() {
			if len(run) >= minRun {
				jobs = append(jobs, Job{Kind: JobMerge, TableID: t.ID, DB: name.DB, Name: name.Name, Inputs: run,
					Reason: fmt.Sprintf("%d small %s files of schema version %d", len(run), kind, run[0].SchemaVersion)})
			}
			run, runBytes = nil, 0
		}
		for _, f := range ofKind {
			small := f.Bytes < policy.SmallFileBytes
			if !small || (len(run) > 0 && f.SchemaVersion != run[0].SchemaVersion) ||
				len(run) == maxMergeFiles || runBytes+f.Bytes > 4*policy.TargetFileBytes {
				flush()
			}
			if small {
				run = append(run, f)
				runBytes += f.Bytes
			}
		}
		flush()
	}
	return jobs
}
