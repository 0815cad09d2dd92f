package tableformat

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"weak"

	fastjson "github.com/segmentio/encoding/json"
	"golang.org/x/sync/errgroup"
)

// A checkpoint (FORMAT.md §9) is a top object, _log/<version>.checkpoint.json,
// holding the state without its tables and the references of part objects
// that hold the tables: a tree whose leaves (level 0) hold the tables'
// schemas and live files, whose parts of level 1 hold the references of
// leaves and the tables' names (the rest of each table), and whose higher
// parts hold references of the parts one level below. A reader that needs
// every table's name but the schemas and files of a few (a query) reads the
// tree down to level 1 and the leaves of those few (Log.LoadTables). A new
// checkpoint references again every part of an earlier one whose tables did
// not change (checkpoint_write.go), so its cost follows the change, not the
// lake. Checkpoints of format version 3 (leaves holding whole tables) and
// of version 2 and before (one object holding every table) still read.

// TableImage is the serialized form of a TableState: its live files as a
// list sorted by path. Checkpoints and rewind entries hold tables this way.
type TableImage struct {
	TableState
	Files []AddFile `json:"files"`
}

// Images returns the state's tables in serialized form, ordered by id.
func (s *State) Images() []TableImage {
	out := make([]TableImage, 0, s.Tables.Len())
	for t := range s.Tables.Values() {
		out = append(out, t.image())
	}
	return out
}

// image is the table in serialized form.
func (t *TableState) image() TableImage {
	t.mustBeLoaded()
	files := make([]AddFile, 0, len(t.Files))
	for _, f := range t.Files {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b AddFile) int { return cmp.Compare(a.Path, b.Path) })
	return TableImage{TableState: *t, Files: files}
}

func tablesFromImages(images []TableImage) (Tables, error) {
	var tables Tables
	edit := &tablesEdit{}
	for _, im := range images {
		t, err := im.table()
		if err != nil {
			return Tables{}, err
		}
		if tables.Get(t.ID) != nil {
			return Tables{}, fmt.Errorf("table image %d appears twice", t.ID)
		}
		tables.set(t.ID, t, edit)
	}
	return tables, nil
}

// table checks a table image and returns the table it holds.
func (im *TableImage) table() (*TableState, error) {
	t, err := im.index()
	if err != nil {
		return nil, err
	}
	if err := t.setContent(im); err != nil {
		return nil, err
	}
	return t, nil
}

// index checks the table of an image as a checkpoint's level 1 holds it —
// an id and a name — and returns it without its schemas and files.
func (im *TableImage) index() (*TableState, error) {
	t := im.TableState
	if t.ID < 1 || len(t.Names) == 0 {
		return nil, fmt.Errorf("table image %d: needs an id and a name", t.ID)
	}
	// At their length: the decoder leaves room for ten (Schema.shrink), and
	// the state keeps every table.
	t.Names, t.Truncations = slices.Clone(t.Names), slices.Clone(t.Truncations)
	t.Schemas, t.Files, t.leaf = nil, nil, nil
	return &t, nil
}

// setContent checks the schemas and files of image im (of table t) and
// gives them to t.
func (t *TableState) setContent(im *TableImage) error {
	if len(im.Schemas) == 0 {
		return fmt.Errorf("table image %d: needs a schema", t.ID)
	}
	for i, sv := range im.Schemas {
		if sv.Schema.Version != i+1 {
			return fmt.Errorf("table image %d: schema %d has version %d", t.ID, i+1, sv.Schema.Version)
		}
	}
	files, err := filesByPath(t.ID, im.Files)
	if err != nil {
		return err
	}
	schemas := slices.Clone(im.Schemas)
	for i := range schemas {
		schemas[i].Schema.shrink()
	}
	t.Schemas, t.Files, t.leaf = schemas, files, nil
	return nil
}

// filesByPath checks the live files of table id and returns them by path.
func filesByPath(id int64, files []AddFile) (map[string]AddFile, error) {
	out := make(map[string]AddFile, len(files))
	for _, f := range files {
		if err := f.validateShape(); err != nil {
			return nil, fmt.Errorf("table image %d: file %q: %w", id, f.Path, err)
		}
		if f.TableID != id {
			return nil, fmt.Errorf("table image %d: file %q belongs to table %d", id, f.Path, f.TableID)
		}
		if _, dup := out[f.Path]; dup {
			return nil, fmt.Errorf("table image %d: file %q appears twice", id, f.Path)
		}
		out[f.Path] = f
	}
	return out, nil
}

// tableLeaf is a table's entry in a leaf of a checkpoint of format version
// 4: its id, schemas and live files (sorted by path).
type tableLeaf struct {
	ID      int64           `json:"id"`
	Schemas []SchemaVersion `json:"schemas"`
	Files   []AddFile       `json:"files"`
}

// tableIndex is a table's entry in a part of level 1 of a checkpoint of
// format version 4: the table without its schemas and files.
type tableIndex struct {
	ID          int64       `json:"id"`
	Names       []TableName `json:"names"`
	Truncations []int64     `json:"truncations,omitempty"`
	CreatedSeq  int64       `json:"created_seq"`
	DroppedSeq  int64       `json:"dropped_seq,omitempty"`
}

// checkpointFormatVersion is the format_version of checkpoint top objects
// and parts this code writes (FORMAT.md §9): 4, the tables' names apart
// from their schemas and files.
const checkpointFormatVersion = 4

// partsFormatVersion is the first format version of checkpoints made of
// parts (3: leaves holding whole tables).
const partsFormatVersion = 3

// maxPartLevel bounds the height of a checkpoint's tree of parts.
const maxPartLevel = 16

// checkpoint is the object _log/<version>.checkpoint.json: the state and
// either (format versions 3 and 4) the references of the parts holding its
// tables or (format version 1 and 2) the tables themselves.
type checkpoint struct {
	FormatVersion int    `json:"format_version"`
	CheckpointID  string `json:"checkpoint_id,omitempty"`
	State         *State `json:"state"`
	// Parts (versions 3 and 4): the parts of the tree's highest level, by id.
	Parts []PartRef `json:"parts"`
	// Tables (versions 1 and 2): every table.
	Tables []TableImage `json:"tables,omitempty"`
}

// PartRef names a checkpoint part and what it holds.
type PartRef struct {
	Key      string `json:"key"`
	Bytes    int64  `json:"bytes"`
	Checksum string `json:"sha256"`
	// Level is 0 for a leaf (tables' schemas and files; format version 3:
	// whole tables), n for a part of references of parts of level n−1
	// (and, at level 1 of format version 4, the rest of their tables).
	Level int `json:"level"`
	// FirstID and LastID are the ids of the first and last table the part
	// holds (below it), Tables how many.
	FirstID int64 `json:"first_id"`
	LastID  int64 `json:"last_id"`
	Tables  int   `json:"tables"`
}

// checkpointPart is a part object: tables (level 0) or references of parts
// of the level below. In format version 4, a leaf's tables hold only their
// ids, schemas and files, and a part of level 1 holds, beside its
// references, the rest of the tables of the leaves it references.
type checkpointPart struct {
	FormatVersion int          `json:"format_version"`
	Level         int          `json:"level"`
	Tables        []TableImage `json:"tables,omitempty"`
	Parts         []PartRef    `json:"parts,omitempty"`
}

// lastCheckpoint is the object _log/_last_checkpoint: a hint naming the
// newest checkpoint. It may lag behind (it is written after the checkpoint)
// but never names a checkpoint that does not exist.
type lastCheckpoint struct {
	Version  int64  `json:"version"`
	Bytes    int64  `json:"bytes"`
	Checksum string `json:"sha256"`
}

// checkpointTree is what a checkpoint of version 3 or 4 is made of: the
// parts of each level, and the tables they hold. A writer builds the next
// checkpoint on it (checkpoint_write.go).
type checkpointTree struct {
	version int64
	format  int // the checkpoint's format version
	// tables are the checkpoint's tables while it is built or read; a tree
	// kept as a writer's base (Log.setCheckpointBase) holds only their
	// identities (ids): holding the tables would keep every table's state
	// at that checkpoint alive beside the current one — in a lake whose
	// tables all change, twice the state in memory.
	tables Tables
	ids    map[int64]weak.Pointer[TableState]
	levels [][]partNode // levels[n]: the parts of level n, by id
}

// unchanged reports whether t is the very table state of id the tree's
// checkpoint holds (states are never changed in place: a table changed
// since is another object).
func (t *checkpointTree) unchanged(id int64, ts *TableState) bool {
	if t.ids != nil {
		w, ok := t.ids[id]
		return ok && w == weak.Make(ts)
	}
	return t.tables.Get(id) == ts
}

// forget keeps the identities of the tree's tables and lets the tables
// go (see tables).
func (t *checkpointTree) forget() {
	if t.ids != nil {
		return
	}
	t.ids = make(map[int64]weak.Pointer[TableState], t.tables.Len())
	for id, ts := range t.tables.All() {
		t.ids[id] = weak.Make(ts)
	}
	t.tables = Tables{}
}

// partNode is one part of a checkpointTree.
type partNode struct {
	ref  PartRef
	kids []string // the keys of the parts it references (level > 0)
	enc  []byte   // the JSON of ref, once a writer has encoded it
}

// decodeCheckpoint decodes the top object of the checkpoint of version v.
func decodeCheckpoint(key string, v int64, data []byte) (*checkpoint, error) {
	if err := checkFormatVersion(key, data); err != nil {
		return nil, err
	}
	var c checkpoint
	if err := decodeStrict(data, &c); err != nil {
		return nil, &CorruptError{key, fmt.Sprintf("undecodable checkpoint (truncated or damaged): %v", err)}
	}
	if c.State == nil || c.State.Version != v || len(c.State.Lineage) == 0 {
		return nil, &CorruptError{key, fmt.Sprintf("checkpoint does not hold a state at version %d", v)}
	}
	switch {
	case c.FormatVersion < 1 || c.FormatVersion > FormatVersion:
		return nil, &CorruptError{key, fmt.Sprintf("format version %d", c.FormatVersion)}
	case c.FormatVersion < partsFormatVersion && (c.CheckpointID != "" || c.Parts != nil):
		return nil, &CorruptError{key, fmt.Sprintf("a checkpoint of format version %d holds no parts", c.FormatVersion)}
	case c.FormatVersion >= partsFormatVersion && c.Tables != nil:
		return nil, &CorruptError{key, fmt.Sprintf("a checkpoint of format version %d holds its tables in parts", c.FormatVersion)}
	case c.FormatVersion >= partsFormatVersion && !validCheckpointID(c.CheckpointID):
		return nil, &CorruptError{key, fmt.Sprintf("checkpoint id %q is not 16 lower-case hex digits", c.CheckpointID)}
	}
	if c.FormatVersion >= partsFormatVersion {
		if err := checkRefs(c.Parts, -1); err != nil {
			return nil, &CorruptError{key, err.Error()}
		}
	}
	if c.FormatVersion >= checkpointFormatVersion && len(c.Parts) > 0 && c.Parts[0].Level < 1 {
		// The tables are at level 1.
		return nil, &CorruptError{key, fmt.Sprintf("a checkpoint of format version %d references parts of level 1 or higher", c.FormatVersion)}
	}
	return &c, nil
}

// checkRefs checks a list of part references: one level (level, unless it
// is -1), ascending ids that do not overlap, keys of parts.
func checkRefs(refs []PartRef, level int) error {
	for i, r := range refs {
		if level < 0 {
			level = r.Level
		}
		switch {
		case r.Level != level:
			return fmt.Errorf("part %s is of level %d, not %d", r.Key, r.Level, level)
		case r.Level < 0 || r.Level > maxPartLevel:
			return fmt.Errorf("part %s: level %d", r.Key, r.Level)
		case !isPartKey(r.Key):
			return fmt.Errorf("part key %q is not a checkpoint part's", r.Key)
		case r.Bytes < 1 || !validChecksum(r.Checksum):
			return fmt.Errorf("part %s: needs its size and SHA-256", r.Key)
		case r.Tables < 1 || r.FirstID < 1 || r.LastID < r.FirstID || int64(r.Tables)-1 > r.LastID-r.FirstID:
			return fmt.Errorf("part %s: %d tables in ids %d…%d", r.Key, r.Tables, r.FirstID, r.LastID)
		case i > 0 && r.FirstID <= refs[i-1].LastID:
			return fmt.Errorf("part %s (ids %d…) does not follow part %s (ids …%d)", r.Key, r.FirstID, refs[i-1].Key, refs[i-1].LastID)
		}
	}
	return nil
}

// decodePart decodes the part ref names, of a checkpoint of format version
// format, checking it against ref: its size and SHA-256 first, then its
// level, its tables' (or references') ids and count.
func decodePart(ref PartRef, format int, data []byte) (*checkpointPart, error) {
	if int64(len(data)) != ref.Bytes {
		return nil, &CorruptError{ref.Key, fmt.Sprintf("size %d, the checkpoint says %d", len(data), ref.Bytes)}
	}
	if sha256Hex(data) != ref.Checksum {
		return nil, &CorruptError{ref.Key, "checksum differs from the checkpoint's"}
	}
	if err := checkFormatVersion(ref.Key, data); err != nil {
		return nil, err
	}
	var p checkpointPart
	if err := decodeStrict(data, &p); err != nil {
		return nil, &CorruptError{ref.Key, fmt.Sprintf("undecodable checkpoint part: %v", err)}
	}
	if err := p.check(ref, format); err != nil {
		return nil, &CorruptError{ref.Key, err.Error()}
	}
	return &p, nil
}

// check checks what the part holds against ref, in a checkpoint of format
// version format.
func (p *checkpointPart) check(ref PartRef, format int) error {
	if p.FormatVersion != format || p.Level != ref.Level {
		return fmt.Errorf("format version %d, level %d: the checkpoint says format version %d, level %d", p.FormatVersion, p.Level, format, ref.Level)
	}
	var first, last int64
	var n int
	withTables := p.Level == 0 || p.Level == 1 && format >= checkpointFormatVersion
	switch {
	case p.Level == 0:
		if len(p.Tables) == 0 || p.Parts != nil {
			return errors.New("a part of level 0 holds tables only, at least one")
		}
		first, last, n = p.Tables[0].ID, p.Tables[len(p.Tables)-1].ID, len(p.Tables)
	default:
		if len(p.Parts) == 0 || (p.Tables != nil) != withTables {
			if withTables {
				return errors.New("a part of level 1 holds references of parts and their tables")
			}
			return fmt.Errorf("a part of level %d holds references of parts only, at least one", p.Level)
		}
		if err := checkRefs(p.Parts, p.Level-1); err != nil {
			return err
		}
		first, last = p.Parts[0].FirstID, p.Parts[len(p.Parts)-1].LastID
		for _, r := range p.Parts {
			n += r.Tables
		}
	}
	if withTables {
		if err := p.checkTables(format); err != nil {
			return err
		}
	}
	if first != ref.FirstID || last != ref.LastID || n != ref.Tables {
		return fmt.Errorf("holds %d tables in ids %d…%d, the checkpoint says %d in %d…%d", n, first, last, ref.Tables, ref.FirstID, ref.LastID)
	}
	return nil
}

// checkTables checks the order of a part's tables and, in format version
// 4, their form: ids, schemas and files only in a leaf; no schemas nor
// files at level 1, where they are exactly the tables of the leaves the
// part references.
func (p *checkpointPart) checkTables(format int) error {
	for i, t := range p.Tables {
		if i > 0 && t.ID <= p.Tables[i-1].ID {
			return fmt.Errorf("table %d follows table %d", t.ID, p.Tables[i-1].ID)
		}
		if format < checkpointFormatVersion {
			continue
		}
		if p.Level == 0 && (t.Files == nil || t.Schemas == nil || t.Names != nil || t.Truncations != nil || t.CreatedSeq != 0 || t.DroppedSeq != 0) {
			return fmt.Errorf("table %d: a leaf holds a table's id, schemas and files only", t.ID)
		}
		if p.Level == 1 && (t.Files != nil || t.Schemas != nil) {
			return fmt.Errorf("table %d: a part of level 1 holds tables without their schemas and files", t.ID)
		}
	}
	if p.Level == 0 {
		return nil
	}
	i := 0
	for _, r := range p.Parts {
		if i+r.Tables > len(p.Tables) || p.Tables[i].ID != r.FirstID || p.Tables[i+r.Tables-1].ID != r.LastID {
			return fmt.Errorf("its tables are not those of part %s (%d tables in ids %d…%d)", r.Key, r.Tables, r.FirstID, r.LastID)
		}
		i += r.Tables
	}
	if i != len(p.Tables) {
		return fmt.Errorf("holds %d tables, its parts %d", len(p.Tables), i)
	}
	return nil
}

// partCache shares the parts read by several checkpoints (Verify reads every
// checkpoint; consecutive ones share most parts). The zero value caches
// nothing.
type partCache struct {
	mu    sync.Mutex
	parts map[string]*cachedPart
}

// identity tells the parts of caches apart: a reference that disagrees with
// another on size or checksum is read and checked on its own.
func (r PartRef) identity() string { return fmt.Sprintf("%s\x00%d\x00%s", r.Key, r.Bytes, r.Checksum) }

type cachedPart struct {
	once sync.Once
	part *checkpointPart
	err  error
}

// get reads and decodes the part ref names, once per cache (and per size
// and checksum: a reference that disagrees with another on those is
// checked on its own).
func (c *partCache) get(ctx context.Context, store Store, ref PartRef, format int) (*checkpointPart, error) {
	if c == nil || c.parts == nil {
		return readPart(ctx, store, ref, format)
	}
	id := ref.identity()
	c.mu.Lock()
	e := c.parts[id]
	if e == nil {
		e = &cachedPart{}
		c.parts[id] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.part, e.err = readPart(ctx, store, ref, format) })
	if e.err != nil {
		return nil, e.err
	}
	// What the part holds, against this reference.
	if err := e.part.check(ref, format); err != nil {
		return nil, &CorruptError{ref.Key, err.Error()}
	}
	return e.part, nil
}

func readPart(ctx context.Context, store Store, ref PartRef, format int) (*checkpointPart, error) {
	data, err := ReadObject(ctx, store, ref.Key)
	if IsNotExist(err) {
		// A part gone is damage of the checkpoint, not its absence.
		return nil, &CorruptError{ref.Key, "checkpoint part missing"}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref.Key, err)
	}
	return decodePart(ref, format, data)
}

// readTree reads the parts of a checkpoint top of format version format,
// level by level from the top, up to parallelism at once, and returns the
// tree with the tables of its leaves. With lazy (format version 4 only),
// it stops at level 1: the tables have no schemas and files yet, but the
// leaf that holds them (TableState.Loaded, Log.LoadTables).
func readTree(ctx context.Context, store Store, version int64, format int, top []PartRef, parallelism int, cache *partCache, lazy bool) (*checkpointTree, error) {
	tree := &checkpointTree{version: version, format: format}
	if len(top) == 0 {
		return tree, nil
	}
	tree.levels = make([][]partNode, top[0].Level+1)
	// The tables, as the level that holds them is read: whole (format
	// version 3, level 0), or without their schemas and files (level 1),
	// which are then read from the leaves.
	var tables []*TableState
	refs := top
	for level := top[0].Level; ; level-- {
		parts := make([]*checkpointPart, len(refs))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallelism)
		for i, ref := range refs {
			g.Go(func() error {
				p, err := cache.get(gctx, store, ref, format)
				parts[i] = p
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		nodes := make([]partNode, len(refs))
		var below []PartRef
		for i, p := range parts {
			nodes[i].ref = refs[i]
			for _, r := range p.Parts {
				nodes[i].kids = append(nodes[i].kids, r.Key)
			}
			below = append(below, p.Parts...)
		}
		tree.levels[level] = nodes
		var err error
		switch {
		case level == 0 && format < checkpointFormatVersion:
			tables, err = wholeTables(parts, refs)
		case level == 0:
			err = attachLeaves(tables, parts, refs)
		case level == 1 && format >= checkpointFormatVersion:
			tables, err = tablesOfLevel1(parts, refs)
		}
		if err != nil {
			return nil, err
		}
		if level > 0 {
			// The parts below follow each other across parts too.
			if err := checkRefs(below, level-1); err != nil {
				return nil, &CorruptError{CheckpointKey(version), err.Error()}
			}
		}
		if level == 1 && lazy && format >= checkpointFormatVersion {
			leaves := make([]partNode, len(below))
			for i, r := range below {
				leaves[i].ref = r
			}
			tree.levels[0] = leaves
			level = 0
		}
		if level == 0 {
			edit := &tablesEdit{}
			for _, t := range tables {
				tree.tables.set(t.ID, t, edit)
			}
			return tree, nil
		}
		refs = below
	}
}

// wholeTables returns the tables of the leaves of a checkpoint of format
// version 3.
func wholeTables(parts []*checkpointPart, refs []PartRef) ([]*TableState, error) {
	var out []*TableState
	for i, p := range parts {
		for j := range p.Tables {
			t, err := p.Tables[j].table()
			if err != nil {
				return nil, &CorruptError{refs[i].Key, err.Error()}
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// tablesOfLevel1 returns the tables the parts of level 1 of a checkpoint of
// format version 4 hold, each without its schemas and files but the
// reference of the leaf that holds them.
func tablesOfLevel1(parts []*checkpointPart, refs []PartRef) ([]*TableState, error) {
	var out []*TableState
	for i, p := range parts {
		j := 0
		for k := range p.Parts {
			leaf := p.Parts[k]
			ref := leaf
			for range leaf.Tables {
				t, err := p.Tables[j].index()
				if err != nil {
					return nil, &CorruptError{refs[i].Key, err.Error()}
				}
				t.leaf = &ref
				out = append(out, t)
				j++
			}
		}
	}
	return out, nil
}

// attachLeaves gives the tables (read from level 1, in id order) their
// schemas and files from the leaves that hold them, parts (in the same
// order).
func attachLeaves(tables []*TableState, parts []*checkpointPart, refs []PartRef) error {
	k := 0
	for i, p := range parts {
		for j := range p.Tables {
			t := tables[k]
			k++
			if err := t.setLeaf(refs[i], p, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// setLeaf gives t (read without them) its schemas and files from entry j
// of leaf p, which ref names.
func (t *TableState) setLeaf(ref PartRef, p *checkpointPart, j int) error {
	im := &p.Tables[j]
	if im.ID != t.ID {
		return &CorruptError{ref.Key, fmt.Sprintf("holds table %d where its parent says table %d", im.ID, t.ID)}
	}
	if err := t.setContent(im); err != nil {
		return &CorruptError{ref.Key, err.Error()}
	}
	return nil
}

// readCheckpoint reads the checkpoint of version v, checking its size and
// checksum when known (size ≥ 0, checksum ≠ ""), and its parts (with lazy,
// not its leaves of files: readTree). The tree is nil for a checkpoint of
// format version 2 and before.
func (l *Log) readCheckpoint(ctx context.Context, v, size int64, checksum string) (*State, *checkpointTree, error) {
	return readCheckpoint(ctx, l.store, v, size, checksum, l.opts.FetchParallelism, nil, l.opts.LazyTables)
}

func readCheckpoint(ctx context.Context, store Store, v, size int64, checksum string, parallelism int, cache *partCache, lazy bool) (*State, *checkpointTree, error) {
	key := CheckpointKey(v)
	data, err := ReadObject(ctx, store, key)
	if err != nil {
		return nil, nil, err
	}
	if size >= 0 && int64(len(data)) != size {
		return nil, nil, &CorruptError{key, fmt.Sprintf("size %d, the hint says %d", len(data), size)}
	}
	if checksum != "" && sha256Hex(data) != checksum {
		return nil, nil, &CorruptError{key, "checksum differs from the hint's"}
	}
	return checkpointState(ctx, store, v, data, parallelism, cache, lazy)
}

// checkpointState returns the state of the checkpoint of version v whose
// top object is data, reading its parts.
func checkpointState(ctx context.Context, store Store, v int64, data []byte, parallelism int, cache *partCache, lazy bool) (*State, *checkpointTree, error) {
	key := CheckpointKey(v)
	c, err := decodeCheckpoint(key, v, data)
	if err != nil {
		return nil, nil, err
	}
	st := c.State
	if c.FormatVersion < partsFormatVersion {
		if st.Tables, err = tablesFromImages(c.Tables); err != nil {
			return nil, nil, &CorruptError{key, err.Error()}
		}
		return st, nil, nil
	}
	tree, err := readTree(ctx, store, v, c.FormatVersion, c.Parts, parallelism, cache, lazy)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %d: %w", v, err)
	}
	st.Tables = tree.tables
	return st, tree, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// decodeStrict decodes one JSON value of data into v, refusing unknown
// fields and anything after the value but white space. It is the hot path
// of opening a lake (a checkpoint of 10,000 tables is 100,000 file
// objects), so it uses segmentio/encoding's decoder — encoding/json's
// rules (field names matched without regard to case, the same Unmarshaler
// methods) at several times its speed — rather than encoding/json's
// reflection-heavy one, which was most of the time to open a big lake.
func decodeStrict(data []byte, v any) error {
	rest, err := fastjson.Parse(data, v, fastjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("trailing data")
	}
	return nil
}

func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// UnreferencedCheckpointParts returns the checkpoint parts under _log/ that
// no checkpoint references (FORMAT.md §13): those of a checkpoint writer
// that stopped before writing its top object, or whose top lost to
// another's. It reads every checkpoint's top object and the parts of
// references below it (never the leaves), up to parallelism at
// once. A checkpoint, or a part of references, that is missing or damaged
// references nothing (no reader can read through it). A checkpoint or part
// of a newer format version than this code reads makes it fail: it cannot
// tell what such a checkpoint references.
func UnreferencedCheckpointParts(ctx context.Context, store Store, parallelism int) ([]ObjectInfo, error) {
	objs, err := store.List(ctx, LogDir, "")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", LogDir, err)
	}
	var parts []ObjectInfo
	var cps []int64
	for _, o := range objs {
		if isPartKey(o.Key) {
			parts = append(parts, o)
		} else if v, cp, ok := parseLogKey(o.Key); ok && cp {
			cps = append(cps, v)
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	type toRead struct {
		ref    PartRef
		format int // of the checkpoint referencing it
	}
	var mu sync.Mutex
	used := map[string]bool{}
	var next []toRead // parts of references still to read
	mark := func(refs []PartRef, format int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range refs {
			if !used[r.Key] {
				used[r.Key] = true
				if r.Level > 0 {
					next = append(next, toRead{r, format})
				}
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for _, v := range cps {
		g.Go(func() error {
			key := CheckpointKey(v)
			data, err := ReadObject(gctx, store, key)
			if IsNotExist(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
			if err := checkFormatVersion(key, data); err != nil {
				return err
			}
			if c, err := decodeCheckpoint(key, v, data); err == nil {
				mark(c.Parts, c.FormatVersion)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for len(next) > 0 {
		level := next
		next = nil
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallelism)
		for _, r := range level {
			ref := r.ref
			g.Go(func() error {
				data, err := ReadObject(gctx, store, ref.Key)
				if IsNotExist(err) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("read %s: %w", ref.Key, err)
				}
				if err := checkFormatVersion(ref.Key, data); err != nil {
					return err
				}
				if p, err := decodePart(ref, r.format, data); err == nil {
					mark(p.Parts, r.format)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	var out []ObjectInfo
	for _, o := range parts {
		if !used[o.Key] {
			out = append(out, o)
		}
	}
	return out, nil
}
