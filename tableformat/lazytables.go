package tableformat

import (
	"container/list"
	"context"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
)

// LoadTables returns st with tables ids loaded — their schemas and files
// (TableState.Loaded) —: st itself when they all are (always, but in a Log
// with LogOptions.LazyTables), else a copy that shares everything else
// with st. It reads the checkpoint leaves that hold them, checked as every
// part is (FORMAT.md §9), a few at a time; the leaves read last are kept
// for the next call. Ids of tables st does not hold are ignored.
func (l *Log) LoadTables(ctx context.Context, st *State, ids ...int64) (*State, error) {
	leaves := map[string]PartRef{}
	var need []*TableState
	seen := map[int64]bool{}
	for _, id := range ids {
		if t := st.Tables.Get(id); t != nil && !t.Loaded() && !seen[id] {
			seen[id] = true
			need = append(need, t)
			leaves[t.leaf.Key] = *t.leaf
		}
	}
	if len(need) == 0 {
		return st, nil
	}
	parts := make(map[string]*checkpointPart, len(leaves))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.opts.FetchParallelism)
	for key, ref := range leaves {
		g.Go(func() error {
			p, err := l.leaves.get(gctx, l.store, ref)
			if err != nil {
				return fmt.Errorf("load tables: %w", err)
			}
			mu.Lock()
			defer mu.Unlock()
			parts[key] = p
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	n := *st
	edit := &tablesEdit{} // the nodes it copies from st's, changed in place after
	for _, t := range need {
		p := parts[t.leaf.Key]
		j := sort.Search(len(p.Tables), func(i int) bool { return p.Tables[i].ID >= t.ID })
		if j == len(p.Tables) || p.Tables[j].ID != t.ID {
			return nil, &CorruptError{t.leaf.Key, fmt.Sprintf("does not hold table %d, which its parent says it does", t.ID)}
		}
		c := *t
		if err := c.setLeaf(*t.leaf, p, j); err != nil {
			return nil, err
		}
		n.Tables.set(c.ID, &c, edit)
	}
	return &n, nil
}

// changedTables returns the ids of the tables whose files or schemas
// entries change.
func changedTables(entries []*Entry) []int64 {
	var ids []int64
	for _, e := range entries {
		for _, c := range e.Tables {
			if c.Op == TableAlter {
				ids = append(ids, c.TableID)
			}
		}
		for _, f := range e.Add {
			ids = append(ids, f.TableID)
		}
		for _, r := range e.Remove {
			ids = append(ids, r.TableID)
		}
	}
	return ids
}

// leafCacheSize is how many decoded checkpoint leaves a Log keeps for
// LoadTables: leaves are about DefaultCheckpointPartBytes each, and a lake's
// consecutive checkpoints share most of them, so a reader that moves
// between points (serve) reads each mostly once.
const leafCacheSize = 64

// leafCache keeps the leaves LoadTables read last (by key, size and
// checksum), up to leafCacheSize; the zero value is ready.
type leafCache struct {
	mu    sync.Mutex
	byID  map[string]*list.Element
	order list.List // of *cachedLeaf, the most recently used first
}

type cachedLeaf struct {
	id string
	cachedPart
}

// get returns the leaf ref names, read once while it is cached; an error is
// not kept.
func (c *leafCache) get(ctx context.Context, store Store, ref PartRef) (*checkpointPart, error) {
	id := ref.identity()
	c.mu.Lock()
	if c.byID == nil {
		c.byID = map[string]*list.Element{}
	}
	el := c.byID[id]
	if el == nil {
		el = c.order.PushFront(&cachedLeaf{id: id})
		c.byID[id] = el
		for c.order.Len() > leafCacheSize {
			last := c.order.Back()
			delete(c.byID, last.Value.(*cachedLeaf).id)
			c.order.Remove(last)
		}
	} else {
		c.order.MoveToFront(el)
	}
	e := el.Value.(*cachedLeaf)
	c.mu.Unlock()
	e.once.Do(func() { e.part, e.err = readPart(ctx, store, ref, checkpointFormatVersion) })
	if e.err != nil {
		c.mu.Lock()
		if cur := c.byID[id]; cur == el {
			delete(c.byID, id)
			c.order.Remove(el)
		}
		c.mu.Unlock()
		return nil, e.err
	}
	return e.part, nil
}
