package tableformat

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// State is the lake as of one version: what replaying entries 1…Version
// yields. It is a value built only by Apply, never edited in place by
// callers, so a State a reader pinned never changes under it.
type State struct {
	Version    int64     `json:"version"`
	CommitTime time.Time `json:"commit_time"`
	Lake       LakeInfo  `json:"lake"`
	Progress   Progress  `json:"progress"`
	// Tables by id, including dropped ones (their history stays readable).
	Tables Tables `json:"-"`
	// Lineage lists the version ranges whose entries make up the history of
	// this state, oldest first: one range, until a rewind cuts the history
	// and starts a new range.
	Lineage []VersionRange `json:"lineage"`
	// Retention is where the retained history starts, nil until a vacuum
	// sets it; it only moves forward (retention.go).
	Retention *Retention `json:"retention,omitempty"`
	// Resnapshots are the re-snapshots requested and not yet done, in the
	// order they were requested (resnapshot.go).
	Resnapshots []ResnapshotJob `json:"resnapshots,omitempty"`
	// Gaps are the stretches of history the lake does not have (gap.go).
	Gaps []Gap `json:"gaps,omitempty"`
}

// VersionRange is an inclusive range of versions.
type VersionRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// TableState is one table in a State.
type TableState struct {
	ID int64 `json:"id"`
	// Names is the table's name history, oldest first.
	Names []TableName `json:"names"`
	// Schemas is the table's schema history, oldest first. Schemas and
	// Files are nil in a state of a Log with LazyTables until the table is
	// loaded (Loaded, Log.LoadTables).
	Schemas []SchemaVersion `json:"schemas"`
	// Files are the live files, by path.
	Files map[string]AddFile `json:"-"`
	// Truncations are the sequences of TRUNCATE TABLE: a row whose sequence
	// is lower than a truncation at or before the point read is gone.
	Truncations []int64 `json:"truncations,omitempty"`
	CreatedSeq  int64   `json:"created_seq"`
	// DroppedSeq is the sequence of DROP TABLE, 0 while the table exists.
	DroppedSeq int64 `json:"dropped_seq,omitempty"`
	// leaf is the checkpoint leaf that holds Schemas and Files while the
	// table is not loaded (LogOptions.LazyTables); nil once it is.
	leaf *PartRef
}

// Loaded reports whether Schemas and Files hold the table's schemas and
// live files. They always do, except in the states of a Log with
// LogOptions.LazyTables, where the tables read from a checkpoint have
// their names only until Log.LoadTables.
func (t *TableState) Loaded() bool { return t.leaf == nil }

// mustBeLoaded panics when the table is not loaded: reading its files then
// would read a table without files, a wrong answer rather than an error,
// so it is a bug of the caller (Log.LoadTables first).
func (t *TableState) mustBeLoaded() {
	if t.leaf != nil {
		panic(fmt.Sprintf("tableformat: table %d is not loaded (Log.LoadTables)", t.ID))
	}
}

// TableName is a table's name from a sequence on.
type TableName struct {
	Seq  int64  `json:"seq"`
	DB   string `json:"db"`
	Name string `json:"name"`
}

// SchemaVersion is a schema and the sequence from which it is in force.
type SchemaVersion struct {
	Seq    int64  `json:"seq"`
	Schema Schema `json:"schema"`
}

// ErrConflict marks a commit that cannot be applied to the lake as it now
// stands (not a lost race, which is retried, but a real conflict).
var ErrConflict = errors.New("commit conflicts with the lake")

// Current returns the table's latest name.
func (t *TableState) Current() TableName { return t.Names[len(t.Names)-1] }

// Schema returns the table's latest schema.
func (t *TableState) Schema() *Schema {
	t.mustBeLoaded()
	return &t.Schemas[len(t.Schemas)-1].Schema
}

// NameAt returns the table's name in force at seq.
func (t *TableState) NameAt(seq int64) TableName {
	i := len(t.Names) - 1
	for i > 0 && t.Names[i].Seq > seq {
		i--
	}
	return t.Names[i]
}

// SchemaAt returns the schema in force at seq.
func (t *TableState) SchemaAt(seq int64) *Schema {
	t.mustBeLoaded()
	i := len(t.Schemas) - 1
	for i > 0 && t.Schemas[i].Seq > seq {
		i--
	}
	return &t.Schemas[i].Schema
}

// SchemaVersion returns schema version v of the table.
func (t *TableState) SchemaVersion(v int) (*Schema, bool) {
	t.mustBeLoaded()
	if v < 1 || v > len(t.Schemas) {
		return nil, false
	}
	return &t.Schemas[v-1].Schema, true
}

// ExistsAt reports whether the table exists at seq.
func (t *TableState) ExistsAt(seq int64) bool {
	return t.CreatedSeq <= seq && (t.DroppedSeq == 0 || seq < t.DroppedSeq)
}

// TruncatedAt returns the sequence of the last truncation at or before seq
// (0 if none): rows with a lower sequence are gone at seq.
func (t *TableState) TruncatedAt(seq int64) int64 {
	var last int64
	for _, s := range t.Truncations {
		if s <= seq {
			last = s
		}
	}
	return last
}

// RowCount returns how many rows the table holds at the newest state,
// from the files' metadata alone: the rows of the newest snapshot, plus the
// data rows and minus the delete keys of the delta files after it (after
// the last truncation, when that is newer). Each delete key removes one
// row the source held, so the count is exact; exact is false when a delta
// file holds changes from both sides of that boundary (files merged
// across it), and the count then includes all of that file's rows.
func (t *TableState) RowCount() (rows int64, exact bool) {
	t.mustBeLoaded()
	var snapSeq int64
	for _, f := range t.Files {
		if f.Kind == FileSnapshot {
			snapSeq = max(snapSeq, f.AsOfSeq)
		}
	}
	after, useSnap := snapSeq, snapSeq > 0 // deltas count from after this sequence
	if trunc := t.TruncatedAt(math.MaxInt64); trunc > snapSeq {
		// Rows before a truncation are gone, the snapshot's too.
		after, useSnap = trunc-1, false
	}
	exact = true
	for _, f := range t.Files {
		switch {
		case f.Kind == FileSnapshot:
			if useSnap && f.AsOfSeq == snapSeq {
				rows += f.Rows
			}
			continue
		case f.Rows == 0 || f.MaxSeq <= after:
			continue
		case f.MinSeq <= after:
			exact = false
		}
		if f.Kind == FileDelete {
			rows -= f.Rows
		} else {
			rows += f.Rows
		}
	}
	return rows, exact
}

// SortedFiles returns the live files ordered by kind, then sequence, then path.
func (t *TableState) SortedFiles() []AddFile {
	t.mustBeLoaded()
	out := slices.Collect(maps.Values(t.Files))
	slices.SortFunc(out, func(a, b AddFile) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.MinSeq, b.MinSeq), cmp.Compare(a.Path, b.Path))
	})
	return out
}

// TableByName returns the table that has the name db.name at seq and exists
// then.
func (s *State) TableByName(db, name string, seq int64) (*TableState, bool) {
	for t := range s.Tables.Values() {
		n := t.NameAt(seq)
		if t.ExistsAt(seq) && n.DB == db && n.Name == name {
			return t, true
		}
	}
	return nil, false
}

// SortedTables returns every table, dropped ones included, by current name
// then id (CompareTables).
func (s *State) SortedTables() []*TableState {
	out := slices.Collect(s.Tables.Values())
	slices.SortFunc(out, CompareTables)
	return out
}

// CompareTables orders tables by current name, then id: the order of
// SortedTables, for callers that sort only the tables they chose.
func CompareTables(a, b *TableState) int {
	an, bn := a.Current(), b.Current()
	return cmp.Or(cmp.Compare(an.DB, bn.DB), cmp.Compare(an.Name, bn.Name), cmp.Compare(a.ID, b.ID))
}

// MaxTableID returns the highest table id ever used in this lake.
func (s *State) MaxTableID() int64 { return s.Tables.Max() }

// Apply returns the state after entry e, leaving s unchanged. It is the
// whole semantics of the log: replaying entries 1…v with Apply from the
// empty state gives the state at v. An entry that breaks a rule of the
// format gives an error wrapping ErrConflict.
func (s *State) Apply(e *Entry) (*State, error) {
	n, err := s.applied(e)
	if err != nil {
		return nil, wrapApplyError(e, err)
	}
	return n, nil
}

// applied is Apply with the rule an entry breaks as the error, unwrapped
// (Verify reports it as damage, not as a conflict).
func (s *State) applied(e *Entry) (*State, error) {
	n := *s
	n.Lineage = slices.Clone(s.Lineage)
	a := newApplier(&n)
	if err := a.apply(e); err != nil {
		return nil, err
	}
	return &n, nil
}

func wrapApplyError(e *Entry, err error) error {
	return fmt.Errorf("version %d (%s): %w: %w", e.Version, e.Kind, ErrConflict, err)
}

// applier applies entries to a state it may change: tables it owns are
// changed in place, the others are copied on first write (so a State shared
// with readers is never changed), and so are the nodes of the Tables trie.
type applier struct {
	st    *State
	owned map[int64]bool // the tables this applier made or copied
	edit  *tablesEdit    // the Tables nodes it may change in place
}

// newApplier returns an applier of entries to st, a private copy of a
// state whose tables and Tables nodes may be shared with other states.
func newApplier(st *State) *applier {
	return &applier{st: st, owned: map[int64]bool{}, edit: &tablesEdit{}}
}

// table returns table id for writing, or nil.
func (a *applier) table(id int64) *TableState {
	t := a.st.Tables.Get(id)
	if t == nil || a.owned[id] {
		return t
	}
	c := *t
	c.Names = slices.Clip(t.Names)
	c.Schemas = slices.Clip(t.Schemas)
	c.Truncations = slices.Clip(t.Truncations)
	c.Files = maps.Clone(t.Files)
	a.st.Tables.set(id, &c, a.edit)
	a.owned[id] = true
	return &c
}

func (a *applier) apply(e *Entry) error {
	s, n := *a.st, a.st // s: the state before, n: the state being built
	if e.Version != s.Version+1 {
		return fmt.Errorf("expected version %d", s.Version+1)
	}
	if (e.Kind == KindCreate) != (e.Version == 1) {
		return errors.New("version 1, and only version 1, creates the lake")
	}
	if s.Version > 0 && !e.CommitTime.After(s.CommitTime) {
		return fmt.Errorf("commit time %s is not after the previous one (%s)", e.CommitTime.Format(time.RFC3339Nano), s.CommitTime.Format(time.RFC3339Nano))
	}
	n.Version, n.CommitTime = e.Version, e.CommitTime
	if e.Lake != nil {
		n.Lake = *e.Lake
	}
	if err := checkProgress(&s, e); err != nil {
		return err
	}
	if err := a.applyRetention(e); err != nil {
		return err
	}
	n.Progress = e.Progress
	if e.Kind == KindRewind {
		if err := a.applyRewind(e); err != nil {
			return err
		}
	}
	n.extendLineage(e.Version)
	for _, c := range e.Tables {
		if e.Kind != KindRewind && !e.Progress.holds(c.Seq) && e.Kind.advancesSource() {
			return fmt.Errorf("table change at sequence %d outside this commit's range %d…%d", c.Seq, e.Progress.PrevSeq+1, e.Progress.MaxSeq)
		}
		if err := a.applyTable(c, e.Kind); err != nil {
			return err
		}
	}
	if err := a.applyRemoves(e); err != nil {
		return err
	}
	if err := a.applyAdds(e); err != nil {
		return err
	}
	if err := a.applyResnapshots(e); err != nil {
		return err
	}
	return a.applyGaps(e, s.Progress)
}

// checkProgress checks the source progress e records against the state
// before it, s: forward for kinds that read the source, unchanged for the
// others, back (to a version of the lake's history) for rewinds.
func checkProgress(s *State, e *Entry) error {
	switch {
	case e.Kind == KindRewind:
		if e.Rewind.ToVersion < 1 || e.Rewind.ToVersion >= e.Version {
			return fmt.Errorf("rewind to version %d", e.Rewind.ToVersion)
		}
		if !s.inLineage(e.Rewind.ToVersion) {
			return fmt.Errorf("rewind to version %d, which is not in this lake's history", e.Rewind.ToVersion)
		}
	case e.Kind.advancesSource():
		if e.Progress.PrevSeq != s.Progress.MaxSeq {
			return fmt.Errorf("built on change sequence %d, but the lake is at %d (is another ingest running on this lake?)", e.Progress.PrevSeq, s.Progress.MaxSeq)
		}
		if e.Progress.MaxTS < s.Progress.MaxTS {
			return fmt.Errorf("source time goes back from %d to %d", s.Progress.MaxTS, e.Progress.MaxTS)
		}
		if len(e.Txns) > 0 && e.Txns[0].TS < s.Progress.MaxTS {
			return fmt.Errorf("first transaction's time %d is before the lake's %d", e.Txns[0].TS, s.Progress.MaxTS)
		}
	default:
		if e.Progress != s.Progress {
			return fmt.Errorf("a %s commit must carry the progress unchanged", e.Kind)
		}
		if len(e.Txns) > 0 {
			return fmt.Errorf("a %s commit holds no source transactions", e.Kind)
		}
	}
	return nil
}

// holds reports whether seq is one of the sequences p's commit allocates.
func (p Progress) holds(seq int64) bool { return seq > p.PrevSeq && seq <= p.MaxSeq }

// applyRewind takes the lake back to the rewind's target T: to T's tables,
// T's position (set by the caller), and T's re-snapshots: those asked for
// after T are asked again by the DDL that asked for them, when it is
// replayed.
func (a *applier) applyRewind(e *Entry) error {
	n := a.st
	n.Resnapshots = slices.Clone(e.Rewind.Resnapshots)
	n.Gaps = slices.Clone(e.Rewind.Gaps)
	n.cutLineage(e.Rewind.ToVersion)
	tables, err := tablesFromImages(e.Rewind.Tables)
	if err != nil {
		return err
	}
	n.Tables = tables
	for id := range tables.All() {
		a.owned[id] = true
	}
	return nil
}

// withFiles returns table id for writing its files, or nil; an error if
// it is not loaded (Log.replay loads those an entry changes).
func (a *applier) withFiles(id int64) (*TableState, error) {
	t := a.table(id)
	if t != nil && !t.Loaded() {
		return nil, fmt.Errorf("table %d is not loaded", id)
	}
	return t, nil
}

// applyRemoves removes the files e removes, each a live file of its table.
func (a *applier) applyRemoves(e *Entry) error {
	for _, r := range e.Remove {
		t, err := a.withFiles(r.TableID)
		if err != nil {
			return err
		}
		if t == nil {
			return fmt.Errorf("remove %q: no table %d", r.Path, r.TableID)
		}
		if _, ok := t.Files[r.Path]; !ok {
			return fmt.Errorf("remove %q: not a live file of table %d", r.Path, r.TableID)
		}
		delete(t.Files, r.Path)
	}
	return nil
}

// applyAdds adds the files e adds, after its removes and table changes.
func (a *applier) applyAdds(e *Entry) error {
	n := a.st
	// The snapshots live before this entry's adds: a second set of snapshot
	// files at one sequence (two compactors at once) would double the rows.
	liveSnaps := map[[2]int64]bool{}
	for _, f := range e.Add {
		t, err := a.withFiles(f.TableID)
		if err != nil {
			return err
		}
		if t != nil && f.Kind == FileSnapshot {
			for _, g := range t.Files {
				if g.Kind == FileSnapshot {
					liveSnaps[[2]int64{t.ID, g.AsOfSeq}] = true
				}
			}
		}
	}
	for _, f := range e.Add {
		t := a.table(f.TableID)
		if t == nil {
			return fmt.Errorf("add %q: no table %d", f.Path, f.TableID)
		}
		if f.Kind == FileSnapshot && liveSnaps[[2]int64{t.ID, f.AsOfSeq}] {
			return fmt.Errorf("add %q: table %d already has a snapshot as of sequence %d", f.Path, f.TableID, f.AsOfSeq)
		}
		if f.Kind == FileSnapshot && f.Rows > 0 && f.MaxSeq > f.AsOfSeq {
			return fmt.Errorf("add %q: snapshot as of sequence %d holds rows up to %d", f.Path, f.AsOfSeq, f.MaxSeq)
		}
		if _, ok := t.Files[f.Path]; ok {
			return fmt.Errorf("add %q: already live", f.Path)
		}
		if _, ok := t.SchemaVersion(f.SchemaVersion); !ok {
			return fmt.Errorf("add %q: table %d has no schema version %d", f.Path, f.TableID, f.SchemaVersion)
		}
		if e.Kind.advancesSource() && f.Rows > 0 && (!e.Progress.holds(f.MinSeq) || !e.Progress.holds(f.MaxSeq)) {
			return fmt.Errorf("add %q: sequences %d…%d outside this commit's range %d…%d", f.Path, f.MinSeq, f.MaxSeq, e.Progress.PrevSeq+1, e.Progress.MaxSeq)
		}
		if f.Kind == FileSnapshot && f.AsOfSeq > n.Progress.MaxSeq {
			return fmt.Errorf("add %q: snapshot as of sequence %d is beyond the lake's %d", f.Path, f.AsOfSeq, n.Progress.MaxSeq)
		}
		t.Files[f.Path] = f
	}
	return nil
}

func (a *applier) applyTable(c TableChange, kind EntryKind) error {
	n := a.st
	t := a.table(c.TableID)
	if c.Op == TableCreate {
		if t != nil {
			return fmt.Errorf("create table %d: id already used", c.TableID)
		}
		sc := *c.Schema
		if sc.Version != 1 {
			return fmt.Errorf("create table %d: first schema must be version 1, not %d", c.TableID, sc.Version)
		}
		a.owned[c.TableID] = true
		n.Tables.set(c.TableID, &TableState{
			ID:         c.TableID,
			Names:      []TableName{{Seq: c.Seq, DB: c.DB, Name: c.Name}},
			Schemas:    []SchemaVersion{{Seq: c.Seq, Schema: sc}},
			Files:      map[string]AddFile{},
			CreatedSeq: c.Seq,
		}, a.edit)
		return nil
	}
	if t == nil {
		return fmt.Errorf("%s table %d: no such table", c.Op, c.TableID)
	}
	if t.DroppedSeq != 0 && kind != KindRewind {
		return fmt.Errorf("%s table %d: the table was dropped", c.Op, c.TableID)
	}
	switch c.Op {
	case TableAlter:
		if !t.Loaded() {
			return fmt.Errorf("alter table %d: the table is not loaded", c.TableID)
		}
		if c.Schema.Version != len(t.Schemas)+1 {
			return fmt.Errorf("alter table %d: schema version %d, want %d", c.TableID, c.Schema.Version, len(t.Schemas)+1)
		}
		t.Schemas = append(t.Schemas, SchemaVersion{Seq: c.Seq, Schema: *c.Schema})
	case TableRename:
		t.Names = append(t.Names, TableName{Seq: c.Seq, DB: c.DB, Name: c.Name})
	case TableTruncate:
		t.Truncations = append(t.Truncations, c.Seq)
	case TableDrop:
		t.DroppedSeq = c.Seq
	}
	return nil
}

func (s *State) inLineage(v int64) bool {
	for _, r := range s.Lineage {
		if r.From <= v && v <= r.To {
			return true
		}
	}
	return false
}

func (s *State) cutLineage(to int64) {
	var out []VersionRange
	for _, r := range s.Lineage {
		if r.From > to {
			break
		}
		r.To = min(r.To, to)
		out = append(out, r)
	}
	s.Lineage = out
}

func (s *State) extendLineage(v int64) {
	if n := len(s.Lineage); n > 0 && s.Lineage[n-1].To == v-1 {
		s.Lineage[n-1].To = v
		return
	}
	s.Lineage = append(s.Lineage, VersionRange{v, v})
}
