package ingest

import (
	"context"

	"github.com/binlake/binlake/tableformat"
)

// Source is where changes come from, in binlog order. Next blocks until the
// next event; a transaction is its Rows events followed by one Commit. The
// source is opened at the position the lake has reached (Progress.Position).
type Source interface {
	Next(ctx context.Context) (Event, error)
	Close() error
}

// Event is one of *Rows, *Commit, *DDL, *TableComplete, *Reached or
// *CaughtUp.
type Event interface{ event() }

// Reached says the source has read the binlog up to At between
// transactions (events that are no transaction's: a rotation to the next
// file, a checkpoint). Re-snapshot reads are placed in the stream by
// position (resnapshot.go).
type Reached struct{ At tableformat.Position }

// TableComplete says the open transaction (an initial snapshot's) holds
// every row of Table it will hold: the pipeline writes them to files at
// once, while the transaction goes on, instead of at its end (they are
// still committed with it, whole). A source that never sends it loses
// nothing but that overlap.
type TableComplete struct{ Table *Table }

// CaughtUp says the source has returned every transaction the server had
// written when the source was opened (it goes on streaming after it): a
// pipeline asked to stop once caught up stops, unless re-snapshots are
// still to be done.
type CaughtUp struct{}

// Table names a source table and describes its columns as the source
// decoded them at this event's position (docs/design.md, Schema history: never the live table).
// A source passes the same *Table while a table's structure is unchanged and
// never modifies one it has passed: the pipeline compares the pointer before
// comparing the columns.
type Table struct {
	DB, Name string
	// Columns in table order; IDs are assigned by the pipeline.
	Columns []SourceColumn
	// Key lists key column names in key order; empty: the whole row.
	Key []string
	// Charset is the table's default character set when the source knows
	// it (a snapshot, a CREATE TABLE); empty: not known here (a row event's
	// structure), the lake keeps the one it holds.
	Charset string
}

// SourceColumn is a column as the source knows it.
type SourceColumn struct {
	Name     string
	Type     tableformat.Type
	Nullable bool
}

// Rows is a chunk of row changes to one table inside the open transaction.
// Values follow the tableformat.Type contract, in Table.Columns order.
type Rows struct {
	Table *Table
	Op    RowOp
	// Before holds the old images (updates and deletes), After the new
	// images (inserts and updates); for updates they pair by index.
	Before, After [][]any
	// Time is the transaction's commit time, µs since the Unix epoch (the
	// binlog records it at the transaction's start, when it is written).
	Time int64
}

// RowOp is the kind of a Rows event.
type RowOp int8

// Row operations.
const (
	RowInsert RowOp = 1
	RowUpdate RowOp = 2
	RowDelete RowOp = 3
	// RowSnapshot rows were read by an initial snapshot: they are inserts
	// (tableformat.OpSnapshot), and the snapshot's rows end with one Commit
	// holding the binlog position the consistent read was taken at.
	RowSnapshot RowOp = 4
)

// Commit ends the open transaction (or stands alone after a DDL).
type Commit struct {
	GTID string
	// End is the position after the transaction: the executed GTID set
	// including it, and the binlog file and offset after it.
	End tableformat.Position
	// Time is the source's commit time, µs since the Unix epoch.
	Time int64
}

// DDL is a schema change the source saw in the binlog.
type DDL struct {
	Op       DDLOp
	DB, Name string
	// Table is the table's structure right after a create or alter, when the
	// source knows it: the lake then records the new schema at the DDL's own
	// position. Without it, the change shows at the table's next Rows event.
	Table *Table
	// NewDB, NewName: the new name of a renamed table.
	NewDB, NewName string
	// ColumnRenames maps old to new column names (ALTER … RENAME COLUMN /
	// CHANGE), so a renamed column keeps its id when the new structure is
	// learnt from the next Rows event (an ALTER that is not Complete).
	ColumnRenames map[string]string
	// ColumnDrops and ColumnAdds name the columns an ALTER drops and adds,
	// recorded like ColumnRenames whether or not the ALTER is Complete: a
	// column dropped and added again under its name is a new column.
	ColumnDrops, ColumnAdds []string
	// Alter lists the column-level operations of an ALTER TABLE in statement
	// order. When Complete, they fully describe the structural change and
	// the lake records the new schema version at the DDL's own position;
	// otherwise they are ignored (but ColumnRenames) and the new structure
	// shows at the table's next Rows event.
	Alter []AlterOp
	// Complete reports that Alter describes the whole structural effect of
	// an ALTER (for a CREATE, Table being set says the same).
	Complete bool
	// Charset is the default character set an ALTER gives the table
	// ([DEFAULT] CHARSET, CONVERT TO), whether or not it is Complete;
	// empty: unchanged. CharsetUnknown: the ALTER changed it in a way the
	// source did not read.
	Charset        string
	CharsetUnknown bool
	// Resnapshot, when set, says why the statement may have changed the
	// rows of the table without row events (a partition truncated or
	// dropped, a column added with values only the server knows, a
	// statement not fully understood): the lake re-snapshots the table
	// (docs/snapshot.md).
	Resnapshot string
	// Strict: the statement ran under a strict sql_mode, so a conversion
	// that would have changed a stored value (a value too long, out of
	// range, NULL into NOT NULL, a character another charset lacks) failed
	// it instead: an ALTER that succeeded kept every value.
	Strict bool
	// SQL is the statement, for the log.
	SQL string
}

// AlterOp is one column-level operation of an ALTER TABLE: *AddColumn,
// *DropColumn, *ModifyColumn, *RenameColumn, *SetKey or *AddUnique. Column
// names compare case-insensitively; AFTER names refer to the columns as
// they are named after the statement. The operations are applied as the
// server does (see mirroredTable.applyAlter): changed and renamed columns
// keep their place (and id) unless moved with FIRST/AFTER, dropped ones
// go, then added and moved columns are placed in statement order.
type AlterOp interface{ alterOp() }

// AddColumn is ADD [COLUMN] [IF NOT EXISTS] def [FIRST | AFTER col].
type AddColumn struct {
	Column SourceColumn
	// Fill is the value the rows the table held before the statement get
	// in the new column (a Go value of the column's tableformat.Type; nil:
	// NULL): its constant DEFAULT, or the type's implicit default for NOT
	// NULL. A column whose fill the source cannot know makes the DDL ask
	// for a Resnapshot.
	Fill        any
	IfNotExists bool
	First       bool
	After       string
}

// DropColumn is DROP [COLUMN] [IF EXISTS] col.
type DropColumn struct {
	Name     string
	IfExists bool
}

// ModifyColumn is MODIFY [COLUMN] [IF EXISTS] col def or CHANGE [COLUMN]
// [IF EXISTS] col new_col def, [FIRST | AFTER col]: Column is the whole new
// definition (Column.Name the new name), which keeps Name's column id.
type ModifyColumn struct {
	Name     string
	Column   SourceColumn
	IfExists bool
	First    bool
	After    string
}

// RenameColumn is RENAME COLUMN [IF EXISTS] from TO to: only the name
// changes.
type RenameColumn struct {
	From, To string
	IfExists bool
}

// SetKey is ADD PRIMARY KEY (cols) (or a column defined PRIMARY KEY): the
// key becomes these columns, which become NOT NULL.
type SetKey struct{ Columns []string }

// AddUnique is ADD UNIQUE (cols) (or a column defined UNIQUE). It leaves a
// table that has a key as it is; on a table without one, the server may
// promote it to the key, which the schema tracker does not decide: the
// change is then taken as not Complete.
type AddUnique struct{ Columns []string }

func (*AddColumn) alterOp()    {}
func (*DropColumn) alterOp()   {}
func (*ModifyColumn) alterOp() {}
func (*RenameColumn) alterOp() {}
func (*SetKey) alterOp()       {}
func (*AddUnique) alterOp()    {}

// DDLOp is the kind of a DDL event.
type DDLOp int8

// DDL operations.
const (
	DDLAlter    DDLOp = 1
	DDLRename   DDLOp = 2
	DDLTruncate DDLOp = 3
	DDLDrop     DDLOp = 4
	DDLCreate   DDLOp = 5
	// DDLDropDatabase (DROP DATABASE / DROP SCHEMA DB) drops every table
	// of DB; Name is empty.
	DDLDropDatabase DDLOp = 6
)

func (*Rows) event()     {}
func (*Commit) event()   {}
func (*DDL) event()      {}
func (*Reached) event()  {}
func (*CaughtUp) event() {}

func (*TableComplete) event() {}
