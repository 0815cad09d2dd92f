package ingest

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/binlake/binlake/tableformat"
)

// Uploads: at most Options.UploadParallelism files of smallFileBytes of
// rows or more are written and uploaded at once, and smallPerSlot smaller
// files take the place of one. A commit or snapshot of thousands of small
// tables is thousands of small files, whose time is the store's latency
// per request: they go many at a time, while their memory stays that of a
// few big ones.
const (
	smallFileBytes = 256 << 10
	smallPerSlot   = 8
)

// uploadWeight is the share of the upload slots a job takes.
func uploadWeight(j fileJob) int64 {
	var n int64
	for _, r := range j.rows {
		if n += rowBytes(r.Values); n >= smallFileBytes {
			return smallPerSlot
		}
	}
	return 1
}

// newUploads is the semaphore of the upload slots (weights: uploadWeight).
func newUploads(parallelism int) *semaphore.Weighted {
	return semaphore.NewWeighted(int64(parallelism) * smallPerSlot)
}

// background writes the rows of tables the open transaction is done with
// (TableComplete) while the transaction goes on, as the upload slots allow
// (start blocks beyond them, holding the source back): an initial snapshot
// of thousands of tables uploads its files while it reads instead of all
// at its end. Its files are the open transaction's, as spilled ones are:
// drain hands them over before the transaction's Commit is taken.
type background struct {
	p     *Pipeline
	g     *errgroup.Group // nil: nothing started since the last drain
	gctx  context.Context
	mu    sync.Mutex
	files []pendingFile
}

// start writes the jobs' files in the background.
func (w *background) start(ctx context.Context, jobs []fileJob) {
	if w.g == nil && len(jobs) > 0 {
		w.g, w.gctx = errgroup.WithContext(ctx)
		w.g.SetLimit(w.p.opts.UploadParallelism * smallPerSlot)
	}
	for _, j := range jobs {
		w.g.Go(func() error {
			f, err := w.p.writeFile(w.gctx, j)
			if err != nil {
				return err
			}
			w.p.opts.Fault(FaultSpilled)
			w.mu.Lock()
			defer w.mu.Unlock()
			w.files = append(w.files, pendingFile{add: f, open: true})
			return nil
		})
	}
}

// drain waits for the writes started and returns their files.
func (w *background) drain() ([]pendingFile, error) {
	if w.g == nil {
		return nil, nil
	}
	err := w.g.Wait()
	w.g = nil
	w.mu.Lock()
	defer w.mu.Unlock()
	files := w.files
	w.files = nil
	return files, err
}

// takeTable removes and returns the open transaction's rows of table t (of
// its current schema version) as file jobs, for the background writer.
func (b *batch) takeTable(t *Table) []fileJob {
	id, ok := b.schemas.byName[tableName{t.DB, t.Name}]
	if !ok {
		return nil
	}
	tt := b.schemas.tables[id]
	var jobs []fileJob
	for _, kind := range []tableformat.FileKind{tableformat.FileData, tableformat.FileDelete} {
		k := bufKey{id, tt.schema.Version, kind}
		rb := b.bufs[k]
		if rb == nil || rb.closed == len(rb.rows) {
			continue
		}
		open := rb.rows[rb.closed:]
		jobs = append(jobs, fileJob{table: rb.table, schema: rb.schema, kind: kind, rows: open, open: true})
		var bytes int64
		for _, r := range open {
			bytes += rowBytes(r.Values)
		}
		b.openBytes -= bytes
		b.spilledBytes += bytes
		if rb.closed == 0 {
			delete(b.bufs, k)
		} else {
			rb.rows = rb.rows[:rb.closed:rb.closed] // the job owns the rest
		}
	}
	return jobs
}
