package tableformat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"
)

// DefaultCheckpointPartBytes is the size a checkpoint writer aims its leaves
// and its parts of level 1 (references of leaves and their tables) at
// (LogOptions.CheckpointPartBytes). Parts of higher levels, and the list of
// references in the top object, aim at a quarter of it, and at least
// minIndexBytes.
const DefaultCheckpointPartBytes = 64 << 10

// minIndexBytes is the least a part of references aims at: some 5
// references.
const minIndexBytes = 1 << 10

// checkpointWriter builds the tree of parts of one checkpoint on the tree
// of an earlier one (prev, nil for none): a part of prev whose tables did
// not change is referenced again, and only the tables around a change are
// written anew (FORMAT.md §9, "Writing").
type checkpointWriter struct {
	version     int64
	id          string
	target      int64 // bytes of a part of tables
	indexTarget int64 // bytes of a part of references, and of the top's list
	prev        *checkpointTree
	n           int           // the number of the next new part
	out         []pendingPart // the new parts, to upload before the top
}

type pendingPart struct {
	key  string
	data []byte
}

// unit is what parts of one level are made of: a table's schemas and files (level 0)
// or the reference of a part of the level below (with, at level 1, the
// tables of that leaf).
type unit struct {
	first, last int64
	tables      int
	table       *TableState // level 0
	ref         PartRef     // above
	enc         []byte      // its JSON in the part, nil until encoded
	below       []unit      // level 1: the units of the leaf ref names
	meta        []byte      // level 1: the JSON of those tables without their schemas and files, nil until encoded
}

// size is what u adds to a part.
func (u *unit) size() int64 {
	n := int64(len(u.enc)) + 1
	if u.meta != nil {
		n += int64(len(u.meta)) + 1
	}
	return n
}

// segment is a run of units that either is a part of prev again (reuse)
// or is to be written in new parts.
type segment struct {
	reuse *partNode
	units []unit // a sub-slice of the level's units, which the segments cover in order
}

func (s *segment) size() int64 {
	if s.reuse != nil {
		return s.reuse.ref.Bytes
	}
	var n int64
	for i := range s.units {
		n += s.units[i].size()
	}
	return n
}

func newCheckpointID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// build makes the tree of tables and returns the references the top object
// holds; the new parts are in w.out.
func (w *checkpointWriter) build(tables Tables) ([]PartRef, *checkpointTree, error) {
	tree := &checkpointTree{version: w.version, format: checkpointFormatVersion, tables: tables}
	if tables.Len() == 0 {
		return []PartRef{}, tree, nil
	}
	units := make([]unit, 0, tables.Len())
	for id, t := range tables.All() {
		units = append(units, unit{first: id, last: id, tables: 1, table: t})
	}
	for level := 0; ; level++ {
		if level > maxPartLevel {
			return nil, nil, fmt.Errorf("checkpoint %d: more than %d levels of parts", w.version, maxPartLevel)
		}
		var prev []partNode
		if w.prev != nil && level < len(w.prev.levels) {
			prev = w.prev.levels[level]
		}
		nodes, err := w.pack(level, units, prev)
		if err != nil {
			return nil, nil, err
		}
		if level > 1 && len(nodes) >= len(units) {
			// No fewer parts than below (the earlier tree's parts of one
			// reference each): pack this level anew, two or more a part.
			w.drop(nodes, prev)
			if nodes, err = w.pack(level, units, nil); err != nil {
				return nil, nil, err
			}
		}
		tree.levels = append(tree.levels, nodes)
		refs := make([]PartRef, len(nodes))
		below := units
		units = make([]unit, len(nodes))
		var size int64
		for i := range nodes {
			nd := &nodes[i]
			if nd.enc == nil { // a part reused keeps its encoding from checkpoint to checkpoint
				if nd.enc, err = json.Marshal(nd.ref); err != nil {
					return nil, nil, fmt.Errorf("encode checkpoint part reference: %w", err)
				}
			}
			refs[i] = nd.ref
			units[i] = unit{first: nd.ref.FirstID, last: nd.ref.LastID, tables: nd.ref.Tables, ref: nd.ref, enc: nd.enc}
			if level == 0 {
				// The leaves cover the tables in order.
				units[i].below, below = below[:nd.ref.Tables], below[nd.ref.Tables:]
			}
			size += int64(len(nd.enc)) + 1
		}
		// The tables are at level 1: the top references that level or a
		// higher one.
		if level >= 1 && (len(refs) <= 1 || size <= w.indexTarget) {
			return refs, tree, nil
		}
	}
}

// pack groups the units of one level into parts: the parts of prev (the
// earlier checkpoint's at this level) that hold exactly the same units
// again, new parts for the rest.
func (w *checkpointWriter) pack(level int, units []unit, prev []partNode) ([]partNode, error) {
	var segs []segment
	dirty := func(us []unit) {
		if len(us) == 0 {
			return
		}
		if n := len(segs); n > 0 && segs[n-1].reuse == nil {
			// us follows it in units: extend it.
			segs[n-1].units = segs[n-1].units[:len(segs[n-1].units)+len(us)]
			return
		}
		segs = append(segs, segment{units: us})
	}
	i := 0
	for pi := range prev {
		p := &prev[pi]
		j := i
		for j < len(units) && units[j].last < p.ref.FirstID {
			j++
		}
		k := j
		for k < len(units) && units[k].first <= p.ref.LastID {
			k++
		}
		dirty(units[i:j])
		if k > j && w.same(level, p, units[j:k]) {
			segs = append(segs, segment{reuse: p, units: units[j:k]})
		} else {
			dirty(units[j:k])
		}
		i = k
	}
	dirty(units[i:])
	if err := w.encode(level, segs); err != nil {
		return nil, err
	}
	target := w.target
	if level > 1 {
		target = w.indexTarget
	}
	segs, err := w.absorb(level, segs, target)
	if err != nil {
		return nil, err
	}
	var nodes []partNode
	for _, s := range segs {
		if s.reuse != nil {
			nodes = append(nodes, *s.reuse)
			continue
		}
		nodes = append(nodes, w.split(level, s, target)...)
	}
	return nodes, nil
}

// same reports whether the part p of the earlier checkpoint holds exactly
// units: the same tables, unchanged (a table a state shares with the
// earlier checkpoint's is unchanged: states are never changed in place),
// or the same parts below (at level 1, parts below that are the same hold
// the same tables).
func (w *checkpointWriter) same(level int, p *partNode, units []unit) bool {
	if level == 0 {
		if len(units) != p.ref.Tables {
			return false
		}
		for _, u := range units {
			if !w.prev.unchanged(u.first, u.table) {
				return false
			}
		}
		return true
	}
	if len(units) != len(p.kids) {
		return false
	}
	for i, u := range units {
		if u.ref.Key != p.kids[i] {
			return false
		}
	}
	return true
}

// absorb folds each small run of new units (below half the target) into
// the earlier part beside it, when the two fit the target, so that runs
// of new tables do not leave ever more small parts behind.
func (w *checkpointWriter) absorb(level int, segs []segment, target int64) ([]segment, error) {
	for i := 0; i < len(segs); i++ {
		s := &segs[i]
		if s.reuse != nil || s.size() >= target/2 {
			continue
		}
		nb := -1
		switch {
		case i > 0 && segs[i-1].reuse != nil && s.size()+segs[i-1].size() <= target:
			nb = i - 1
		case i+1 < len(segs) && segs[i+1].reuse != nil && s.size()+segs[i+1].size() <= target:
			nb = i + 1
		}
		if nb < 0 {
			continue
		}
		if err := w.encode(level, []segment{{units: segs[nb].units}}); err != nil {
			return nil, err
		}
		lo, hi := min(i, nb), max(i, nb)
		// The two follow each other in the level's units.
		merged := segment{units: segs[lo].units[:len(segs[lo].units)+len(segs[hi].units)]}
		segs = slices.Replace(segs, lo, hi+1, merged)
		i = lo - 1 // look at the merged run again
	}
	return segs, nil
}

// encode encodes the units of the new segments that are not yet, in
// parallel: a table's schemas and files (level 0), the rest of the tables
// of a leaf (level 1; the reference is encoded already).
func (w *checkpointWriter) encode(level int, segs []segment) error {
	g := errgroup.Group{}
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, s := range segs {
		if s.reuse != nil {
			continue
		}
		for i := range s.units {
			u := &s.units[i]
			switch {
			case level == 0 && u.enc == nil:
				g.Go(func() error {
					enc, err := encodeLeaf(u.table)
					u.enc = enc
					return err
				})
			case level == 1 && u.meta == nil:
				g.Go(func() error {
					var b bytes.Buffer
					for j, below := range u.below {
						if j > 0 {
							b.WriteByte(',')
						}
						t := below.table
						enc, err := json.Marshal(tableIndex{ID: t.ID, Names: t.Names, Truncations: t.Truncations, CreatedSeq: t.CreatedSeq, DroppedSeq: t.DroppedSeq})
						if err != nil {
							return fmt.Errorf("encode table %d: %w", below.first, err)
						}
						b.Write(enc)
					}
					u.meta = b.Bytes()
					return nil
				})
			}
		}
	}
	return g.Wait()
}

// encodeLeaf is t's entry in a leaf: its id, schemas and files, sorted by
// path.
func encodeLeaf(t *TableState) ([]byte, error) {
	if !t.Loaded() {
		return nil, fmt.Errorf("encode table %d: it is not loaded", t.ID)
	}
	enc, err := json.Marshal(tableLeaf{ID: t.ID, Schemas: t.Schemas, Files: t.image().Files})
	if err != nil {
		return nil, fmt.Errorf("encode table %d: %w", t.ID, err)
	}
	return enc, nil
}

// split writes the units of s into parts of about the same size, each about
// target bytes or less (more only for a single table larger than target).
func (w *checkpointWriter) split(level int, s segment, target int64) []partNode {
	size := s.size()
	k := max(1, (size+target-1)/target)
	each := (size + k - 1) / k
	var nodes []partNode
	start := 0
	var cur int64
	for i := range s.units {
		cur += s.units[i].size()
		// A part of references above level 1 holds two or more, so each
		// of those levels has fewer parts than the one below.
		if cur >= each && (level <= 1 || i > start) || i == len(s.units)-1 {
			nodes = append(nodes, w.part(level, s.units[start:i+1]))
			start, cur = i+1, 0
		}
	}
	return nodes
}

// drop forgets the new parts among nodes (those not in prev).
func (w *checkpointWriter) drop(nodes, prev []partNode) {
	old := map[string]bool{}
	for _, p := range prev {
		old[p.ref.Key] = true
	}
	w.out = slices.DeleteFunc(w.out, func(p pendingPart) bool {
		return !old[p.key] && slices.ContainsFunc(nodes, func(nd partNode) bool { return nd.ref.Key == p.key })
	})
}

// part makes a new part of units.
func (w *checkpointWriter) part(level int, units []unit) partNode {
	var b bytes.Buffer
	field := "tables"
	if level > 0 {
		field = "parts"
	}
	size := 64
	for i := range units {
		size += int(units[i].size())
	}
	b.Grow(size)
	fmt.Fprintf(&b, `{"format_version":%d,"level":%d,"%s":[`, checkpointFormatVersion, level, field)
	nd := partNode{ref: PartRef{Key: CheckpointPartKey(w.version, w.id, w.n), Level: level,
		FirstID: units[0].first, LastID: units[len(units)-1].last}}
	w.n++
	for i, u := range units {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(u.enc)
		nd.ref.Tables += u.tables
		if level > 0 {
			nd.kids = append(nd.kids, u.ref.Key)
		}
	}
	b.WriteByte(']')
	if level == 1 {
		b.WriteString(`,"tables":[`)
		for i, u := range units {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(u.meta)
		}
		b.WriteByte(']')
	}
	b.WriteString("}\n")
	data := b.Bytes()
	nd.ref.Bytes, nd.ref.Checksum = int64(len(data)), sha256Hex(data)
	w.out = append(w.out, pendingPart{nd.ref.Key, data})
	return nd
}

// WriteCheckpoint writes the checkpoint of st — its new parts, then its top
// object (put-if-absent: a checkpoint, once written, is never replaced) —
// and points the hint at it. It builds on the newest checkpoint this log
// has read or written, writing only the parts whose tables changed since.
func (l *Log) WriteCheckpoint(ctx context.Context, st *State) error {
	id := newCheckpointID()
	data, parts, tree, err := encodeCheckpoint(st, id, l.checkpointBase(), l.opts.CheckpointPartBytes)
	if err != nil {
		return err
	}
	if err := putParts(ctx, l.store, parts, l.opts.FetchParallelism); err != nil {
		return err
	}
	key := CheckpointKey(st.Version)
	err = l.store.PutIfAbsent(ctx, key, data)
	if errors.Is(err, ErrUnknownOutcome) {
		err = l.readBackCheckpoint(ctx, st.Version, id)
	}
	if IsExist(err) {
		// Another writer's checkpoint of this version: ours is not written,
		// and its parts are orphans for vacuum.
		l.opts.Logger.Debug("a checkpoint of this version exists already", "version", st.Version)
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	l.setCheckpointBase(tree)
	hint, err := jsonLine(lastCheckpoint{Version: st.Version, Bytes: int64(len(data)), Checksum: sha256Hex(data)})
	if err != nil {
		return err
	}
	// The hint only moves forward: an older writer must not set it back.
	if old, err := ReadObject(ctx, l.store, lastCheckpointKey); err == nil {
		var h lastCheckpoint
		if decodeStrict(old, &h) == nil && h.Version >= st.Version {
			return nil
		}
	}
	if err := PutBytes(ctx, l.store, lastCheckpointKey, hint); err != nil {
		return fmt.Errorf("write %s: %w", lastCheckpointKey, err)
	}
	return nil
}

// encodeCheckpoint returns the top object of the checkpoint of st with
// checkpoint id id, built on the checkpoint prev (nil: none), and the new
// parts it references.
func encodeCheckpoint(st *State, id string, prev *checkpointTree, partBytes int64) ([]byte, []pendingPart, *checkpointTree, error) {
	if prev != nil && prev.format != checkpointFormatVersion {
		prev = nil // parts of another format are not reused
	}
	w := &checkpointWriter{version: st.Version, id: id, target: partBytes, indexTarget: max(partBytes/4, minIndexBytes), prev: prev}
	top, tree, err := w.build(st.Tables)
	if err != nil {
		return nil, nil, nil, err
	}
	data, err := jsonLine(checkpoint{FormatVersion: checkpointFormatVersion, CheckpointID: id, State: st, Parts: top})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode checkpoint %d: %w", st.Version, err)
	}
	return data, w.out, tree, nil
}

// putParts uploads parts, up to parallelism at once.
func putParts(ctx context.Context, store Store, parts []pendingPart, parallelism int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for _, p := range parts {
		g.Go(func() error {
			if err := PutBytes(gctx, store, p.key, p.data); err != nil {
				return fmt.Errorf("write %s: %w", p.key, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// readBackCheckpoint settles a put-if-absent of unknown outcome of the top
// of checkpoint v: nil if the top there is the one of checkpoint id id, an
// fs.ErrExist error if another's.
func (l *Log) readBackCheckpoint(ctx context.Context, v int64, id string) error {
	key := CheckpointKey(v)
	data, err := ReadObject(ctx, l.store, key)
	if err != nil {
		return fmt.Errorf("read back %s after a write of unknown outcome: %w: %w", key, ErrUnknownOutcome, err)
	}
	var head struct {
		CheckpointID string `json:"checkpoint_id"`
	}
	if json.Unmarshal(data, &head) == nil && head.CheckpointID == id {
		return nil
	}
	return fmt.Errorf("%s was written by another writer: %w", key, errExistRetry)
}

// checkpointBase is the tree a new checkpoint builds on: the newest
// checkpoint this log read or wrote, or nil.
func (l *Log) checkpointBase() *checkpointTree {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base
}

func (l *Log) setCheckpointBase(t *checkpointTree) {
	if t == nil || l.opts.LazyTables { // a reader writes no checkpoint
		return
	}
	t.forget()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.base == nil || t.version >= l.base.version {
		l.base = t
	}
}
