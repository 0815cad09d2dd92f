package tableformat

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTables checks the persistent map against a Go map: gets, ids in
// order, the maximum, and that With leaves the map it was called on as
// it was.
func TestTables(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tb Tables
	model := map[int64]*TableState{}
	var history []Tables
	var models []map[int64]*TableState
	for i := range 3000 {
		var id int64
		switch i % 3 {
		case 0:
			id = int64(r.IntN(100))
		case 1:
			id = int64(r.IntN(100_000))
		default:
			id = r.Int64() >> r.IntN(62)
		}
		ts := &TableState{ID: id}
		tb = tb.With(ts)
		model[id] = ts
		if i%500 == 0 {
			history = append(history, tb)
			c := map[int64]*TableState{}
			for k, v := range model {
				c[k] = v
			}
			models = append(models, c)
		}
	}
	history = append(history, tb)
	models = append(models, model)
	for i, h := range history {
		m := models[i]
		if h.Len() != len(m) {
			t.Fatalf("state %d: %d tables, want %d", i, h.Len(), len(m))
		}
		var want []int64
		var maxID int64
		for id, v := range m {
			want = append(want, id)
			maxID = max(maxID, id)
			if h.Get(id) != v {
				t.Fatalf("state %d: table %d differs", i, id)
			}
		}
		slices.Sort(want)
		if got := h.IDs(); !slices.Equal(got, want) {
			t.Fatalf("state %d: ids out of order or missing", i)
		}
		if h.Max() != maxID {
			t.Fatalf("state %d: max %d, want %d", i, h.Max(), maxID)
		}
		if h.Get(-1) != nil || h.Get(1<<62+12345) != nil && m[1<<62+12345] == nil {
			t.Fatalf("state %d: a missing id is present", i)
		}
	}
	var empty Tables
	if empty.Len() != 0 || empty.Get(1) != nil || empty.Max() != 0 || len(empty.IDs()) != 0 {
		t.Fatal("the empty map is not empty")
	}
}
