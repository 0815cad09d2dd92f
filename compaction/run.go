package compaction

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/binlake/binlake/tableformat"
)

// Writer writes the lake files of a job into a local directory (created by
// the call; it must not exist yet), sealed, with the file's key left for
// the Compactor to choose. The query engine (DuckDB) is the Writer cmd
// wires in; compaction declares it rather than importing query so that
// planning, committing and vacuum build and test without DuckDB (and under
// the race detector).
type Writer interface {
	// WriteSnapshot writes the state of table tableID at point p as
	// snapshot files of about targetBytes each; a table whose files hold no
	// rows at all gets no file.
	WriteSnapshot(ctx context.Context, p tableformat.Point, tableID int64, dir string, targetBytes int64) ([]tableformat.WrittenFile, error)
	// WriteMerged rewrites delta files of table t, all of one kind and one
	// schema version, into files of about targetBytes each holding the same
	// rows, each with its sequence, time and operation.
	WriteMerged(ctx context.Context, t *tableformat.TableState, files []tableformat.AddFile, dir string, targetBytes int64) ([]tableformat.WrittenFile, error)
}

// Compactor runs compaction jobs on one lake: files written by Writer into
// TempDir, uploaded under the table's prefix, then one commit per job. A
// job never changes an answer: a snapshot adds the state the lake already
// has at its sequence, a merge replaces files by files with the same rows.
// Two compactors at once are safe: the second commit of the same work does
// not apply (a snapshot at a sequence the table already has one at, a
// merge of files no longer live) and its files are left for vacuum.
type Compactor struct {
	Log *tableformat.Log
	// Writer writes the jobs' files: in binlake, the query engine, which
	// reads the lake through its verified cache.
	Writer Writer
	Policy Policy
	// TempDir holds the files being written; default os.TempDir().
	TempDir string
	Logger  *slog.Logger
	Metrics *Metrics
}

// Result is what one job did.
type Result struct {
	Job Job
	// Version is the lake version that committed it (0: nothing committed).
	Version int64
	// Conflict: another writer's commit made the job moot (its files are
	// left for vacuum).
	Conflict          bool
	FilesIn, FilesOut int
	RowsIn, RowsOut   int64
	BytesIn, BytesOut int64
	Duration          time.Duration
}

// Plan plans on the lake's latest state.
func (c *Compactor) Plan(ctx context.Context, only ...string) ([]Job, error) {
	st, err := c.Log.Latest(ctx)
	if err != nil {
		return nil, err
	}
	return Plan(st, c.Policy, only...), nil
}

// Run writes, uploads and commits one job.
func (c *Compactor) Run(ctx context.Context, job Job) (res Result, err error) {
	defer func() { c.Metrics.observe(res, err) }()
	return c.run(ctx, job)
}

// RunAll plans on the latest state and runs every job, in order; it stops
// at the first error.
func (c *Compactor) RunAll(ctx context.Context, only ...string) ([]Result, error) {
	jobs, err := c.Plan(ctx, only...)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, j := range jobs {
		res, err := c.Run(ctx, j)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func (c *Compactor) run(ctx context.Context, job Job) (Result, error) {
	start := time.Now()
	res := Result{Job: job}
	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	policy := c.Policy.WithDefaults()
	st, err := c.Log.Latest(ctx)
	if err != nil {
		return res, err
	}
	t := st.Tables.Get(job.TableID)
	if t == nil || t.DroppedSeq != 0 {
		res.Conflict = true
		return res, nil // dropped since the plan
	}
	tmp, err := os.MkdirTemp(c.TempDir, "binlake-compact-*")
	if err != nil {
		return res, fmt.Errorf("compaction: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "out")

	var written []tableformat.WrittenFile
	var removes []tableformat.RemoveFile
	switch job.Kind {
	case JobSnapshot:
		p := tableformat.Point{Version: st.Version, Seq: job.AsOfSeq, State: st}
		written, err = c.Writer.WriteSnapshot(ctx, p, job.TableID, out, policy.TargetFileBytes)
	case JobMerge:
		for _, f := range job.Inputs {
			if cur, ok := t.Files[f.Path]; !ok || cur.Checksum != f.Checksum {
				res.Conflict = true
				return res, nil // merged or removed since the plan
			}
			removes = append(removes, tableformat.RemoveFile{Path: f.Path, TableID: f.TableID})
		}
		written, err = c.Writer.WriteMerged(ctx, t, job.Inputs, out, policy.TargetFileBytes)
	default:
		return res, fmt.Errorf("unknown job kind %q", job.Kind)
	}
	if err != nil {
		return res, fmt.Errorf("%s of %s.%s: %w", job.Kind, job.DB, job.Name, err)
	}
	res.FilesIn = len(job.Inputs)
	res.RowsIn, res.BytesIn = job.Rows()
	name := t.Current()
	var adds []tableformat.AddFile
	for _, wf := range written {
		add := wf.Add
		add.Path = tableformat.NewFileKey(name.DB, name.Name, add.Kind, add.MinSeq, uuid.NewString())
		if err := tableformat.PutFile(ctx, c.Log.Store(), add.Path, wf.Local); err != nil {
			return res, err
		}
		adds = append(adds, add)
		res.FilesOut++
		res.RowsOut += add.Rows
		res.BytesOut += add.Bytes
	}
	if len(adds) == 0 && len(removes) == 0 {
		res.Duration = time.Since(start)
		return res, nil
	}
	entry := &tableformat.Entry{Kind: tableformat.KindCompaction, Add: adds, Remove: removes,
		Info: map[string]string{"job": string(job.Kind), "table": job.DB + "." + job.Name, "reason": job.Reason}}
	if job.Kind == JobSnapshot {
		entry.Info["as_of_seq"] = strconv.FormatInt(job.AsOfSeq, 10)
	}
	next, err := c.Log.Commit(ctx, entry)
	if errors.Is(err, tableformat.ErrConflict) {
		logger.Warn("compaction job lost to another commit; its files are left for vacuum", "job", job.Kind,
			"table", job.DB+"."+job.Name, "err", err)
		res.Conflict = true
		res.Duration = time.Since(start)
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("commit %s of %s.%s: %w", job.Kind, job.DB, job.Name, err)
	}
	res.Version = next.Version
	res.Duration = time.Since(start)
	logger.Info("compaction job committed", "job", job.Kind, "table", job.DB+"."+job.Name, "version", res.Version,
		"files_in", res.FilesIn, "files_out", res.FilesOut, "rows_in", res.RowsIn, "rows_out", res.RowsOut,
		"bytes_in", res.BytesIn, "bytes_out", res.BytesOut, "duration", res.Duration.Round(time.Millisecond))
	return res, nil
}
