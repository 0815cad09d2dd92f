package tableformat

import (
	"iter"
	"slices"
)

// Tables is a State's tables by id: a persistent map (a trie of 32-way
// nodes over the id's bits, copied along the path on write), so the state
// an entry makes shares every table the entry did not touch — and every
// trie node above only such tables — with the state before it. Applying a
// one-table entry to a lake of any size copies one table and a few nodes.
//
// The zero value is the empty map. A Tables is a value: With returns a new
// one and leaves the receiver unchanged.
type Tables struct {
	root   *tablesNode
	height int // levels of inner nodes above the leaves: the root covers ids below 32^(height+1)
	n      int
}

const (
	tablesBits = 5
	tablesFan  = 1 << tablesBits
	tablesMask = tablesFan - 1
)

// tablesNode is an inner node (kids) or a leaf (vals).
type tablesNode struct {
	// edit is the builder that may change this node in place (it made the
	// node); nil once the node is shared.
	edit *tablesEdit
	kids []*tablesNode
	vals []*TableState
}

// tablesEdit marks the nodes one builder made: a builder changes its own
// nodes in place and copies the others (shared with older states) on
// first write.
type tablesEdit struct{ _ byte }

// NewTables returns the map of the given tables, by their ids.
func NewTables(ts ...*TableState) Tables {
	var t Tables
	e := &tablesEdit{}
	for _, x := range ts {
		t.set(x.ID, x, e)
	}
	return t
}

// Len returns the number of tables.
func (t Tables) Len() int { return t.n }

// Get returns table id, or nil.
func (t Tables) Get(id int64) *TableState {
	if t.root == nil || id < 0 || !t.fits(id) {
		return nil
	}
	n := t.root
	for h := t.height; h > 0; h-- {
		n = n.kids[(id>>(h*tablesBits))&tablesMask]
		if n == nil {
			return nil
		}
	}
	return n.vals[id&tablesMask]
}

// With returns the map with table ts (by its id) set.
func (t Tables) With(ts *TableState) Tables {
	t.set(ts.ID, ts, &tablesEdit{})
	return t
}

// All yields the tables in ascending id order.
func (t Tables) All() iter.Seq2[int64, *TableState] {
	return func(yield func(int64, *TableState) bool) {
		if t.root != nil {
			t.root.walk(t.height, 0, yield)
		}
	}
}

// Values yields the tables in ascending id order.
func (t Tables) Values() iter.Seq[*TableState] {
	return func(yield func(*TableState) bool) {
		for _, ts := range t.All() {
			if !yield(ts) {
				return
			}
		}
	}
}

// IDs returns the ids, ascending.
func (t Tables) IDs() []int64 {
	out := make([]int64, 0, t.n)
	for id := range t.All() {
		out = append(out, id)
	}
	return out
}

// Max returns the highest id, 0 when empty.
func (t Tables) Max() int64 {
	if t.root == nil {
		return 0
	}
	var id int64
	n := t.root
	for h := t.height; ; h-- {
		if h == 0 {
			for i := tablesMask; i >= 0; i-- {
				if n.vals[i] != nil {
					return id | int64(i)
				}
			}
			return 0
		}
		i := tablesMask
		for ; i >= 0 && n.kids[i] == nil; i-- {
		}
		if i < 0 {
			return 0
		}
		id |= int64(i) << (h * tablesBits)
		n = n.kids[i]
	}
}

func (n *tablesNode) walk(h int, base int64, yield func(int64, *TableState) bool) bool {
	if h == 0 {
		for i, v := range n.vals {
			if v != nil && !yield(base|int64(i), v) {
				return false
			}
		}
		return true
	}
	for i, k := range n.kids {
		if k != nil && !k.walk(h-1, base|int64(i)<<(h*tablesBits), yield) {
			return false
		}
	}
	return true
}

func (t Tables) fits(id int64) bool {
	bits := (t.height + 1) * tablesBits
	return bits >= 63 || id>>bits == 0
}

// set sets table id to ts (nil is not allowed), changing in place the
// nodes edit made and copying the others.
func (t *Tables) set(id int64, ts *TableState, e *tablesEdit) {
	if id < 0 {
		panic("tableformat: negative table id")
	}
	if t.root == nil {
		t.root = &tablesNode{edit: e, vals: make([]*TableState, tablesFan)}
	}
	for !t.fits(id) {
		kids := make([]*tablesNode, tablesFan)
		kids[0] = t.root
		t.root = &tablesNode{edit: e, kids: kids}
		t.height++
	}
	t.root = t.root.own(e)
	n := t.root
	for h := t.height; h > 0; h-- {
		i := (id >> (h * tablesBits)) & tablesMask
		k := n.kids[i]
		switch {
		case k == nil && h == 1:
			k = &tablesNode{edit: e, vals: make([]*TableState, tablesFan)}
		case k == nil:
			k = &tablesNode{edit: e, kids: make([]*tablesNode, tablesFan)}
		default:
			k = k.own(e)
		}
		n.kids[i] = k
		n = k
	}
	if n.vals[id&tablesMask] == nil {
		t.n++
	}
	n.vals[id&tablesMask] = ts
}

// own returns n if e made it, else a copy that e made.
func (n *tablesNode) own(e *tablesEdit) *tablesNode {
	if n.edit == e {
		return n
	}
	return &tablesNode{edit: e, kids: slices.Clone(n.kids), vals: slices.Clone(n.vals)}
}
