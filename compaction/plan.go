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
// snapshot. It is a pure function of its arguments.
func Plan(st *tableformat.State, policy Policy, only ...string) []Job {
	policy = policy.WithDefaults()
	var jobs []Job
	for _, t := range st.SortedTables() {
		if t.DroppedSeq != 0 {
			continue
		}
		name := t.Current()
		if len(only) > 0 && !slices.Contains(only, name.DB+"."+name.Name) {
			continue
		}
		files := t.SortedFiles()
		jobs = append(jobs, planMerges(t, files, policy)...)
		if j, ok := planSnapshot(st, t, files, policy); ok {
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// planSnapshot decides whether t is worth a snapshot at the latest sequence.
func planSnapshot(st *tableformat.State, t *tableformat.TableState, files []tableformat.AddFile, policy Policy) (Job, bool) {
	seq := st.Progress.MaxSeq
	if !t.ExistsAt(seq) {
		return Job{}, false
	}
	var snapSeq, snapRows int64
	for _, f := range files {
		if f.Kind == tableformat.FileSnapshot && f.AsOfSeq > snapSeq {
			snapSeq, snapRows = f.AsOfSeq, 0
		}
		if f.Kind == tableformat.FileSnapshot && f.AsOfSeq == snapSeq {
			snapRows += f.Rows
		}
	}
	if snapSeq >= seq {
		return Job{}, false
	}
	name := t.Current()
	j := Job{Kind: JobSnapshot, TableID: t.ID, DB: name.DB, Name: name.Name, AsOfSeq: seq}
	for _, f := range files {
		if f.Kind != tableformat.FileSnapshot && f.MaxSeq > snapSeq {
			j.Inputs = append(j.Inputs, f)
		}
	}
	rows, _ := j.Rows()
	switch {
	case len(j.Inputs) == 0:
		// Only table changes since (a rename, an ALTER): nothing to fold.
		return Job{}, false
	case policy.Force:
		j.Reason = "forced"
	case rows >= policy.SnapshotMinRows:
		j.Reason = fmt.Sprintf("%d delta rows since the last snapshot (≥ %d)", rows, policy.SnapshotMinRows)
	case len(j.Inputs) >= policy.SnapshotMinFiles:
		j.Reason = fmt.Sprintf("%d delta files since the last snapshot (≥ %d)", len(j.Inputs), policy.SnapshotMinFiles)
	case snapRows > 0 && float64(rows) >= policy.SnapshotFraction*float64(snapRows):
		j.Reason = fmt.Sprintf("%d delta rows since the last snapshot, ≥ %g of its %d rows", rows, policy.SnapshotFraction, snapRows)
	default:
		return Job{}, false
	}
	return j, true
}

// planMerges finds runs of small delta files that follow each other in
// change order with one kind and one schema version.
func planMerges(t *tableformat.TableState, files []tableformat.AddFile, policy Policy) []Job {
	minRun := policy.MergeMinFiles
	if policy.Force {
		minRun = 2
	}
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
