package tableformat

import (
	"errors"
	"fmt"
	"slices"
)

// A re-snapshot re-reads one table from the source while ingest goes on,
// and commits the rows that differ from what the lake holds (FORMAT.md
// §15). Its progress is part of the state, so a restarted writer resumes it
// without reading again what it read, and vacuum keeps the files it wrote.

// ResnapshotOp is one step of a re-snapshot in an entry's `resnapshot` list.
type ResnapshotOp struct {
	Op ResnapshotOpKind `json:"op"`
	// DB and Name name the table as the source names it (request).
	DB   string `json:"db,omitempty"`
	Name string `json:"name,omitempty"`
	// Reason says why (request, cancel).
	Reason string `json:"reason,omitempty"`
	// Chunk is the chunk read (chunk).
	Chunk *ResnapshotChunk `json:"chunk,omitempty"`
}

// ResnapshotOpKind is what a ResnapshotOp does. Persisted by name.
type ResnapshotOpKind string

// Re-snapshot operations.
const (
	// ResnapshotRequest asks for db.name to be re-read: a new job, or one
	// that starts over (its chunks are dropped) when db.name has one.
	ResnapshotRequest ResnapshotOpKind = "request"
	// ResnapshotChunkRead records a chunk of db.name's job as read.
	ResnapshotChunkRead ResnapshotOpKind = "chunk"
	// ResnapshotDone ends db.name's job: the entry holds its changes.
	ResnapshotDone ResnapshotOpKind = "done"
	// ResnapshotCancel ends db.name's job without changes (the table was
	// dropped, or the request withdrawn).
	ResnapshotCancel ResnapshotOpKind = "cancel"
)

// ResnapshotChunk is a run of a table's rows, in its key order, read from
// the source in one consistent read: the table's rows in the chunk's key
// range as of change sequence Seq.
type ResnapshotChunk struct {
	// Seq is the change sequence the read corresponds to: the lake's
	// sequence after the last source transaction the read saw.
	Seq int64 `json:"seq"`
	// Rows read.
	Rows int64 `json:"rows"`
	// Files hold the rows (data files, every row at sequence Seq); none
	// when the chunk read none. They are named by the job only: no reader
	// of the table reads them.
	Files []AddFile `json:"files,omitempty"`
	// After is the key of the chunk's last row, each key column's value
	// as its value text (§5): the next chunk starts after it. Empty for a
	// keyless table, which is read in one chunk.
	After []string `json:"after,omitempty"`
	// Last: no rows follow; the job's reading is complete.
	Last bool `json:"last,omitempty"`
}

// ResnapshotJob is a re-snapshot of one table in progress.
type ResnapshotJob struct {
	DB     string `json:"db"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
	// RequestedSeq is the change sequence of the commit that asked for it
	// (the lake's sequence then).
	RequestedSeq int64 `json:"requested_seq"`
	// Chunks read so far, in key order.
	Chunks []ResnapshotChunk `json:"chunks,omitempty"`
}

// Read reports whether every chunk of the job is read.
func (j *ResnapshotJob) Read() bool {
	return len(j.Chunks) > 0 && j.Chunks[len(j.Chunks)-1].Last
}

// Rows is how many rows the job's chunks hold.
func (j *ResnapshotJob) Rows() int64 {
	var n int64
	for _, c := range j.Chunks {
		n += c.Rows
	}
	return n
}

// Resnapshot returns the job of db.name, if the state has one.
func (s *State) Resnapshot(db, name string) (*ResnapshotJob, bool) {
	i := s.resnapshotIndex(db, name)
	if i < 0 {
		return nil, false
	}
	return &s.Resnapshots[i], true
}

func (s *State) resnapshotIndex(db, name string) int {
	return slices.IndexFunc(s.Resnapshots, func(j ResnapshotJob) bool { return j.DB == db && j.Name == name })
}

func (op *ResnapshotOp) validateShape(e *Entry) error {
	if op.DB == "" || op.Name == "" {
		return fmt.Errorf("%s without the table's name", op.Op)
	}
	switch op.Op {
	case ResnapshotRequest, ResnapshotCancel:
		if op.Chunk != nil {
			return fmt.Errorf("%s of %s.%s holds a chunk", op.Op, op.DB, op.Name)
		}
	case ResnapshotChunkRead:
		c := op.Chunk
		if c == nil {
			return fmt.Errorf("chunk of %s.%s without the chunk", op.DB, op.Name)
		}
		if c.Seq < 1 || c.Seq > e.Progress.MaxSeq || c.Rows < 0 {
			return fmt.Errorf("chunk of %s.%s at sequence %d (rows %d), outside 1…%d", op.DB, op.Name, c.Seq, c.Rows, e.Progress.MaxSeq)
		}
		var rows int64
		for _, f := range c.Files {
			if err := f.validateShape(); err != nil {
				return fmt.Errorf("chunk of %s.%s: file %q: %w", op.DB, op.Name, f.Path, err)
			}
			if f.Kind != FileData || f.MinSeq != c.Seq || f.MaxSeq != c.Seq {
				return fmt.Errorf("chunk of %s.%s: file %q is not a data file of sequence %d", op.DB, op.Name, f.Path, c.Seq)
			}
			rows += f.Rows
		}
		if rows != c.Rows {
			return fmt.Errorf("chunk of %s.%s: %d rows, its files hold %d", op.DB, op.Name, c.Rows, rows)
		}
	case ResnapshotDone:
		if op.Chunk != nil {
			return fmt.Errorf("done of %s.%s holds a chunk", op.DB, op.Name)
		}
		if e.Kind != KindResnapshot {
			return fmt.Errorf("done of %s.%s in a %s entry", op.DB, op.Name, e.Kind)
		}
	default:
		return fmt.Errorf("unknown re-snapshot operation %q", op.Op)
	}
	switch e.Kind {
	case KindIngest, KindResnapshot:
	case KindRequest:
		if op.Op != ResnapshotRequest && op.Op != ResnapshotCancel {
			return fmt.Errorf("a request entry holds %s of %s.%s", op.Op, op.DB, op.Name)
		}
	default:
		return fmt.Errorf("a %s entry holds re-snapshot operations", e.Kind)
	}
	return nil
}

// applyResnapshots applies an entry's re-snapshot operations, in order.
func (a *applier) applyResnapshots(e *Entry) error {
	if e.Kind == KindResnapshot && !slices.ContainsFunc(e.Resnapshot, func(op ResnapshotOp) bool { return op.Op == ResnapshotDone }) {
		return errors.New("a resnapshot entry without the re-snapshot it ends")
	}
	if len(e.Resnapshot) == 0 {
		return nil
	}
	n := a.st
	n.Resnapshots = slices.Clone(n.Resnapshots)
	for _, op := range e.Resnapshot {
		if err := op.validateShape(e); err != nil {
			return err
		}
		i := n.resnapshotIndex(op.DB, op.Name)
		switch op.Op {
		case ResnapshotRequest:
			job := ResnapshotJob{DB: op.DB, Name: op.Name, Reason: op.Reason, RequestedSeq: e.Progress.MaxSeq}
			if i < 0 {
				n.Resnapshots = append(n.Resnapshots, job)
			} else {
				n.Resnapshots[i] = job // start over: the rows changed again
			}
		case ResnapshotChunkRead:
			if i < 0 {
				return fmt.Errorf("chunk of %s.%s, which has no re-snapshot", op.DB, op.Name)
			}
			job := &n.Resnapshots[i]
			if job.Read() {
				return fmt.Errorf("chunk of %s.%s after its last one", op.DB, op.Name)
			}
			if k := len(job.Chunks); k > 0 && op.Chunk.Seq < job.Chunks[k-1].Seq {
				return fmt.Errorf("chunk of %s.%s at sequence %d, before the previous one (%d)", op.DB, op.Name, op.Chunk.Seq, job.Chunks[k-1].Seq)
			}
			if op.Chunk.Seq < job.RequestedSeq {
				return fmt.Errorf("chunk of %s.%s at sequence %d, before its request (%d)", op.DB, op.Name, op.Chunk.Seq, job.RequestedSeq)
			}
			job.Chunks = append(slices.Clip(job.Chunks), *op.Chunk)
		case ResnapshotDone:
			if i < 0 || !n.Resnapshots[i].Read() {
				return fmt.Errorf("done of %s.%s, which has no re-snapshot read to its end", op.DB, op.Name)
			}
			n.Resnapshots = slices.Delete(n.Resnapshots, i, i+1)
		case ResnapshotCancel:
			if i >= 0 {
				n.Resnapshots = slices.Delete(n.Resnapshots, i, i+1)
			}
		}
	}
	if len(n.Resnapshots) == 0 {
		n.Resnapshots = nil
	}
	return nil
}

// NamedFiles calls fn with the path of every file e brings into the lake:
// its adds, a rewind's tables' files and the files of re-snapshot chunks
// (its own and a rewind's).
func (e *Entry) NamedFiles(fn func(path string)) {
	for _, f := range e.Add {
		fn(f.Path)
	}
	for _, op := range e.Resnapshot {
		if op.Chunk != nil {
			for _, f := range op.Chunk.Files {
				fn(f.Path)
			}
		}
	}
	if e.Rewind != nil {
		for _, t := range e.Rewind.Tables {
			for _, f := range t.Files {
				fn(f.Path)
			}
		}
		resnapshotFiles(e.Rewind.Resnapshots, fn)
	}
}

// ResnapshotFiles calls fn with the path of every file the state's
// re-snapshots in progress hold.
func (s *State) ResnapshotFiles(fn func(path string)) { resnapshotFiles(s.Resnapshots, fn) }

func resnapshotFiles(jobs []ResnapshotJob, fn func(path string)) {
	for _, j := range jobs {
		for _, c := range j.Chunks {
			for _, f := range c.Files {
				fn(f.Path)
			}
		}
	}
}
