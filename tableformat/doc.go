// Package tableformat is the on-storage format of a binlake lake and the code
// that reads and writes it. The format's specification is FORMAT.md, in this
// directory: enough to build a second reader or writer without this code.
// The section numbers below (§N) are FORMAT.md's; a change to the format
// changes FORMAT.md in the same commit.
//
// # Log, state, point
//
// A lake is a commit log kept beside immutable Parquet files in a [Store].
// Each commit is one [Entry], stored as _log/<version>.json and created with
// put-if-absent, so exactly one writer wins each version, and a file that no
// committed entry names does not exist for any reader (§2). [Log] reads and
// writes one lake's log: [Log.Commit] makes an entry visible, retrying a lost
// race at the next version and reading back an unknown outcome (§6);
// [Log.Latest] and [Log.StateAt] return the [State] at a version.
//
// A [State] is the fold of entries 1…V from the empty state: [State.Apply]
// checks that an entry applies and returns a new State, never editing one in
// place (§10), so a State a reader pinned never changes under it; its
// [Tables] are a persistent map, so a new State shares every table an entry
// did not touch with the one before. Checkpoints store a whole State every
// few versions, so that a reader replays few entries (§9): a top object and
// parts holding the tables, where a checkpoint references again the parts
// of the one before whose tables did not change, so it writes what changed.
// A State holds every table's names and schemas over time ([TableState],
// [Schema]) and live files ([AddFile]), the source position reached
// ([Progress]), and the lake's lineage, retention, re-snapshots and gaps.
//
// A [Point] is a version and a change sequence: read the version's files,
// keeping the changes up to the sequence. [Log.AtLatest], [Log.AtVersion],
// [Log.AtTime], [Log.AtGTID] and [Log.AtFilePos] resolve each way of naming a
// point to one, always at a source transaction boundary, and refuse a point
// before the lake's history, outside retention or inside a gap (§11, §13,
// §16).
//
// # Delta files and snapshots
//
// Every change has a change sequence, strictly increasing in binlog order
// across the whole source. A table's changes are Parquet delta files:
// [FileData] files hold inserted rows and the new images of updates,
// [FileDelete] files the deleted keys and the old keys of updates. Compaction
// adds [FileSnapshot] files, the table's whole state as of one sequence, which
// points at or after that sequence read in place of the deltas it covers (§4,
// §8). [WriteAddFile] and [FileWriter] write a file in the layout of §12, the
// former returning the [AddFile] that names it in an entry; [ReadAddFile]
// checks a file against its entry and decodes it. [ScanTable] is the
// reference reader of a table at a point, slow and simple, for tests and
// verification; the query layer reads the same files through DuckDB. Row
// values follow the [Type] contract, and [Verify] checks a whole lake without
// trusting any of it (§14).
//
// # The Store contract
//
// [Store] is the object storage a lake lives in: six context-first methods
// over immutable objects under slash-separated keys. A missing object wraps
// fs.ErrNotExist, a lost [Store.PutIfAbsent] wraps fs.ErrExist, and an outcome
// that is unknown wraps [ErrUnknownOutcome], which the caller resolves by
// reading the object back. The stores themselves live in connectors/objstore
// ([MemStore] here, for tests), and every one passes the conformance suite of
// tableformat/storetest.
//
// # Imports
//
// tableformat imports no other package of this project, nor go-mysql,
// minio-go or DuckDB (internal/archtest checks it): every other part, and any
// second implementation, is built on it. The architecture around it is
// docs/design.md.
package tableformat
