package tableformat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	fastjson "github.com/segmentio/encoding/json"
)

// FormatVersion is the version of the on-storage format this code reads
// and writes (FORMAT.md; version 2 added initial defaults, re-snapshots and
// gaps, version 3 incremental checkpoints, version 4 checkpoints whose
// tables are read apart from their files). Readers read every version up
// to theirs and refuse newer ones, naming the upgrade, before decoding
// anything else of the object.
const FormatVersion = 4

// EntryFormatVersion is the format_version this code writes into log
// entries. Versions 3 and 4 changed checkpoints only, so entries still
// carry 2 and a binlake that reads version 2 or 3 reads every entry of a
// version 4 lake (it refuses the newer checkpoints and replays the log
// instead, §9).
const EntryFormatVersion = 2

// checkFormatVersion refuses a log object (entry or checkpoint) of a newer
// format version than this code reads. It reads format_version alone, so
// fields a newer version added do not hide the reason behind a decoding
// error.
func checkFormatVersion(key string, data []byte) error {
	v, ok := leadingFormatVersion(data)
	if !ok {
		var head struct {
			FormatVersion int `json:"format_version"`
		}
		if json.Unmarshal(data, &head) != nil {
			return nil // the strict decoding says what is wrong
		}
		v = head.FormatVersion
	}
	if v > FormatVersion {
		return &CorruptError{key, fmt.Sprintf("format version %d is newer than this binlake understands (%d): upgrade binlake", v, FormatVersion)}
	}
	return nil
}

// leadingFormatVersion reads format_version from an object that starts
// with it, as every object binlake writes does, without parsing the rest
// (a checkpoint's parts are read by the thousand). A second format_version
// further on is caught by the strict decoding, which checks the value it
// decodes too.
func leadingFormatVersion(data []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(data, []byte(`{"format_version":`))
	if !ok {
		return 0, false
	}
	v, n := 0, 0
	for ; n < len(rest) && n < 9 && rest[n] >= '0' && rest[n] <= '9'; n++ {
		v = v*10 + int(rest[n]-'0')
	}
	if n == 0 || n == len(rest) || (rest[n] != ',' && rest[n] != '}') {
		return 0, false
	}
	return v, true
}

// EntryKind says what a commit did. Persisted by name.
type EntryKind string

// Entry kinds (FORMAT.md §3).
const (
	KindCreate     EntryKind = "create"     // version 1: creates the lake
	KindSnapshot   EntryKind = "snapshot"   // an initial snapshot of source tables
	KindIngest     EntryKind = "ingest"     // source transactions from the binlog
	KindCompaction EntryKind = "compaction" // materialized snapshots and merged deltas
	KindSchema     EntryKind = "schema"     // schema changes (DDL) with no rows
	KindTruncate   EntryKind = "truncate"   // TRUNCATE TABLE
	KindRewind     EntryKind = "rewind"     // the lake set back to an earlier version
	KindVacuum     EntryKind = "vacuum"     // files outside retention removed
	// KindResnapshot commits what a re-snapshot of a table found different
	// from the lake (FORMAT.md §15).
	KindResnapshot EntryKind = "resnapshot"
	// KindRequest records requests (for re-snapshots) of a process that
	// does not ingest: it changes nothing else.
	KindRequest EntryKind = "request"
)

var entryKinds = map[EntryKind]bool{
	KindCreate: true, KindSnapshot: true, KindIngest: true, KindCompaction: true,
	KindSchema: true, KindTruncate: true, KindRewind: true, KindVacuum: true, KindResnapshot: true, KindRequest: true,
}

// advancesSource reports whether entries of kind k may move the source
// progress forward (the others carry the progress unchanged).
func (k EntryKind) advancesSource() bool {
	return k == KindSnapshot || k == KindIngest || k == KindSchema || k == KindTruncate || k == KindResnapshot
}

// Entry is one commit of the log: the object _log/<version>.json.
type Entry struct {
	FormatVersion int       `json:"format_version"`
	Version       int64     `json:"version"`
	Kind          EntryKind `json:"kind"`
	// CommitTime only grows: max(now, previous + 1µs), in UTC, microseconds.
	CommitTime time.Time `json:"commit_time"`
	// WriterID names the process that wrote the entry; CommitID is unique to
	// this commit. Together they let a writer recognise its own entry when
	// the outcome of its write was unknown.
	WriterID string `json:"writer_id"`
	CommitID string `json:"commit_id"`
	// Lake is set by version 1 only.
	Lake *LakeInfo `json:"lake,omitempty"`
	// Tables lists the table changes (DDL) of this commit, in order.
	Tables []TableChange `json:"tables,omitempty"`
	// Add and Remove list the files this commit makes visible and invisible.
	Add    []AddFile    `json:"add,omitempty"`
	Remove []RemoveFile `json:"remove,omitempty"`
	// Progress is the source progress after this commit. Every entry carries
	// it; kinds that do not read the source repeat the previous progress.
	Progress Progress `json:"progress"`
	// Txns lists the source transactions of this commit in binlog order,
	// for resolving "as of" points that fall inside the commit.
	Txns []TxnMark `json:"txns,omitempty"`
	// Rewind is set by rewind commits.
	Rewind *RewindInfo `json:"rewind,omitempty"`
	// Retention is set by vacuum commits: where the lake's retained history
	// starts from this commit on (retention.go).
	Retention *Retention `json:"retention,omitempty"`
	// Resnapshot lists re-snapshot operations (resnapshot.go), in order.
	Resnapshot []ResnapshotOp `json:"resnapshot,omitempty"`
	// Gap, set by an ingest entry that moves the position past binlog the
	// source no longer has, opens a gap in the history (gap.go).
	Gap *GapOpen `json:"gap,omitempty"`
	// Info holds free-form facts about the operation (e.g. compaction figures).
	Info map[string]string `json:"info,omitempty"`
}

// LakeInfo describes the lake; it is written once, in version 1.
type LakeInfo struct {
	LakeID string `json:"lake_id"`
	Source string `json:"source"`
	// CheckpointInterval: a checkpoint is written for every version that is
	// a multiple of it.
	CheckpointInterval int64 `json:"checkpoint_interval"`
}

// Progress is how far into the source the lake has got.
type Progress struct {
	Position Position `json:"position"`
	// PrevSeq is the MaxSeq this commit was built upon. A commit whose PrevSeq
	// differs from the lake's MaxSeq conflicts (two writers ingesting one
	// source) and is refused.
	PrevSeq int64 `json:"prev_seq"`
	// MaxSeq is the highest change sequence committed so far.
	MaxSeq int64 `json:"max_seq"`
	// MaxTS is the latest effective source commit time so far (µs since the
	// Unix epoch): the running maximum of the source's commit times.
	MaxTS int64 `json:"max_ts"`
}

// TxnMark records one source transaction of a commit.
type TxnMark struct {
	Seq  int64  `json:"s"`           // its last change sequence
	TS   int64  `json:"t"`           // effective commit time, µs; non-decreasing
	GTID string `json:"g,omitempty"` // its own GTID
	File string `json:"f,omitempty"` // binlog file of its end
	Pos  uint64 `json:"p,omitempty"` // binlog offset just after it
}

// AddFile names a file a commit makes visible.
type AddFile struct {
	Path    string   `json:"path"`
	TableID int64    `json:"table_id"`
	Kind    FileKind `json:"kind"`
	// SchemaVersion is the table schema version the file was written with.
	SchemaVersion int    `json:"schema_version"`
	Rows          int64  `json:"rows"`
	Bytes         int64  `json:"bytes"`
	Checksum      string `json:"sha256"`
	MinSeq        int64  `json:"min_seq"`
	MaxSeq        int64  `json:"max_seq"`
	MinTS         int64  `json:"min_ts"`
	MaxTS         int64  `json:"max_ts"`
	// AsOfSeq is set on snapshot files: the file holds the table's state at
	// this change sequence.
	AsOfSeq int64 `json:"as_of_seq,omitempty"`
}

// RemoveFile names a file a commit makes invisible. The object stays in
// storage until vacuum deletes it after the grace period.
type RemoveFile struct {
	Path    string `json:"path"`
	TableID int64  `json:"table_id"`
}

// TableOp is a table change. Persisted by name.
type TableOp string

// Table changes.
const (
	TableCreate   TableOp = "create"   // DB, Name, Schema
	TableAlter    TableOp = "alter"    // Schema (the next version)
	TableRename   TableOp = "rename"   // DB, Name (the new names)
	TableTruncate TableOp = "truncate" // rows with a lower sequence vanish
	TableDrop     TableOp = "drop"
)

// TableChange is one DDL effect on one table. Seq is the change sequence at
// which it took effect: rows with a lower sequence were written before it.
type TableChange struct {
	Op      TableOp `json:"op"`
	TableID int64   `json:"table_id"`
	Seq     int64   `json:"seq"`
	DB      string  `json:"db,omitempty"`
	Name    string  `json:"name,omitempty"`
	Schema  *Schema `json:"schema,omitempty"`
	// DDL is the statement as the source logged it, for display.
	DDL string `json:"ddl,omitempty"`
}

// RewindInfo says which version a rewind commit set the lake back to, and
// holds that version's tables, so that applying a rewind needs nothing but
// the entry: the lake's tables and progress become those of ToVersion.
type RewindInfo struct {
	ToVersion int64        `json:"to_version"`
	Tables    []TableImage `json:"tables"`
	// Resnapshots and Gaps are ToVersion's re-snapshots in progress and
	// gaps (version 2).
	Resnapshots []ResnapshotJob `json:"resnapshots,omitempty"`
	Gaps        []Gap           `json:"gaps,omitempty"`
}

// ErrCorrupt marks a log object that cannot be decoded or breaks the rules of
// the format. The error names the object's key.
var ErrCorrupt = errors.New("corrupt lake log")

// CorruptError describes a damaged log object.
type CorruptError struct {
	Key    string
	Reason string
}

func (e *CorruptError) Error() string { return fmt.Sprintf("%s: %s", e.Key, e.Reason) }

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// validChecksum reports whether s is a SHA-256 in lower-case hex (64
// digits). A loop, not a regexp: checkpoints check a million of them.
func validChecksum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// EncodeEntry returns the canonical JSON of e: encoding/json's bytes (as
// json.Marshal writes them) and a newline. An entry of a lake of 10,000
// tables is megabytes, so it is written by segmentio/encoding's encoder (the
// same bytes: FuzzDecodeEntry checks it) straight into one buffer of about
// its size, where json.Marshal grows a pooled buffer to twice that, keeps
// it for later calls and copies it out.
func EncodeEntry(e *Entry) ([]byte, error) {
	if err := e.validateShape(); err != nil {
		return nil, fmt.Errorf("entry %d: %w", e.Version, err)
	}
	b, err := encodeJSONLine(e, e.encodedSizeHint())
	if err != nil {
		return nil, fmt.Errorf("encode entry %d: %w", e.Version, err)
	}
	return b, nil
}

// encodeJSONLine returns json.Marshal's bytes of v and a newline, written
// by segmentio/encoding's encoder into a buffer of capacity size.
func encodeJSONLine(v any, size int) ([]byte, error) {
	b, err := fastjson.Append(make([]byte, 0, size), v, fastjson.EscapeHTML|fastjson.SortMapKeys)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// encodedSizeHint is the capacity e's encoding starts with: about its size
// (a file with a long path takes more, and the buffer grows).
func (e *Entry) encodedSizeHint() int {
	return 4<<10 + 384*(len(e.Add)+len(e.Remove)) + 128*len(e.Txns) + 1<<10*len(e.Tables) + 256*len(e.Resnapshot)
}

// DecodeEntry decodes and checks the entry stored at key for version v.
// Unknown fields are refused: a reader never half-understands an entry.
func DecodeEntry(key string, v int64, data []byte) (*Entry, error) {
	if len(data) == 0 {
		return nil, &CorruptError{key, "empty log entry"}
	}
	if err := checkFormatVersion(key, data); err != nil {
		return nil, err
	}
	var e Entry
	if err := decodeStrict(data, &e); err != nil {
		return nil, &CorruptError{key, fmt.Sprintf("undecodable log entry (truncated or damaged, or trailing data): %v", err)}
	}
	if e.Version != v {
		return nil, &CorruptError{key, fmt.Sprintf("entry says version %d but is stored as version %d", e.Version, v)}
	}
	if err := e.validateShape(); err != nil {
		return nil, &CorruptError{key, err.Error()}
	}
	for _, c := range e.Tables {
		if c.Schema != nil {
			c.Schema.shrink() // the state keeps it
		}
	}
	return &e, nil
}

// validateShape checks what can be checked of an entry without the state it
// applies to.
func (e *Entry) validateShape() error {
	switch {
	case e.FormatVersion < 1 || e.FormatVersion > FormatVersion:
		return fmt.Errorf("format version %d", e.FormatVersion)
	case e.Version < 1:
		return fmt.Errorf("version %d is not positive", e.Version)
	case !entryKinds[e.Kind]:
		return fmt.Errorf("unknown kind %q", e.Kind)
	case e.CommitTime.IsZero():
		return errors.New("no commit time")
	case e.WriterID == "" || e.CommitID == "":
		return errors.New("no writer or commit id")
	case (e.Version == 1) != (e.Kind == KindCreate):
		return errors.New("version 1, and only version 1, creates the lake")
	case (e.Kind == KindCreate) != (e.Lake != nil):
		return errors.New("lake info belongs to the create entry only")
	case (e.Kind == KindRewind) != (e.Rewind != nil):
		return errors.New("rewind info belongs to rewind entries only")
	}
	if e.Lake != nil && (e.Lake.LakeID == "" || e.Lake.CheckpointInterval < 1) {
		return errors.New("lake info needs an id and a positive checkpoint interval")
	}
	if e.Retention != nil {
		if err := e.Retention.validateShape(e); err != nil {
			return err
		}
	}
	p := e.Progress
	if p.PrevSeq < 0 || p.MaxSeq < p.PrevSeq || p.MaxTS < 0 {
		return fmt.Errorf("progress: sequences %d→%d, time %d out of order", p.PrevSeq, p.MaxSeq, p.MaxTS)
	}
	for i, c := range e.Tables {
		if err := c.validateShape(); err != nil {
			return fmt.Errorf("table change %d: %w", i, err)
		}
	}
	for _, a := range e.Add {
		if err := a.validateShape(); err != nil {
			return fmt.Errorf("add %q: %w", a.Path, err)
		}
	}
	for _, r := range e.Remove {
		if r.Path == "" || r.TableID < 1 {
			return fmt.Errorf("remove %q: needs a path and a table id", r.Path)
		}
	}
	for i := range e.Resnapshot {
		if err := e.Resnapshot[i].validateShape(e); err != nil {
			return fmt.Errorf("re-snapshot operation %d: %w", i, err)
		}
	}
	if e.Gap != nil {
		if err := e.Gap.validateShape(e); err != nil {
			return err
		}
	}
	prev := Progress{MaxSeq: p.PrevSeq}
	for i, t := range e.Txns {
		if t.Seq <= prev.MaxSeq || t.Seq > p.MaxSeq || t.TS < prev.MaxTS || t.TS > p.MaxTS {
			return fmt.Errorf("transaction mark %d (seq %d, time %d) out of order or outside the progress", i, t.Seq, t.TS)
		}
		prev.MaxSeq, prev.MaxTS = t.Seq, t.TS
	}
	return nil
}

func (c *TableChange) validateShape() error {
	if c.TableID < 1 || c.Seq < 1 {
		return fmt.Errorf("%s: needs a table id and a sequence", c.Op)
	}
	switch c.Op {
	case TableCreate, TableAlter:
		if c.Schema == nil {
			return fmt.Errorf("%s of table %d without a schema", c.Op, c.TableID)
		}
		if err := c.Schema.Validate(); err != nil {
			return fmt.Errorf("%s of table %d: %w", c.Op, c.TableID, err)
		}
		if c.Op == TableCreate && (c.DB == "" || c.Name == "") {
			return fmt.Errorf("create of table %d without a name", c.TableID)
		}
	case TableRename:
		if c.DB == "" || c.Name == "" {
			return fmt.Errorf("rename of table %d without the new name", c.TableID)
		}
	case TableTruncate, TableDrop:
	default:
		return fmt.Errorf("unknown table change %q", c.Op)
	}
	return nil
}

func (a *AddFile) validateShape() error {
	switch {
	case a.Path == "":
		return errors.New("no path")
	case a.TableID < 1:
		return errors.New("no table id")
	case !a.Kind.Valid():
		return fmt.Errorf("unknown file kind %q", a.Kind)
	case a.SchemaVersion < 1:
		return errors.New("no schema version")
	case a.Rows < 0 || a.Bytes < 1:
		return fmt.Errorf("rows %d, bytes %d", a.Rows, a.Bytes)
	case !validChecksum(a.Checksum):
		return errors.New("checksum is not a lower-case hex SHA-256")
	case a.Rows > 0 && (a.MinSeq < 1 || a.MaxSeq < a.MinSeq || a.MaxTS < a.MinTS):
		return fmt.Errorf("sequence range %d…%d or time range %d…%d out of order", a.MinSeq, a.MaxSeq, a.MinTS, a.MaxTS)
	case (a.Kind == FileSnapshot) != (a.AsOfSeq > 0):
		return errors.New("as_of_seq belongs to snapshot files only")
	case a.Kind == FileSnapshot && a.MaxSeq > a.AsOfSeq:
		return fmt.Errorf("snapshot as of sequence %d holds a row of sequence %d", a.AsOfSeq, a.MaxSeq)
	}
	return nil
}
