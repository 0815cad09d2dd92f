package tableformat

import "testing"

func TestRowCount(t *testing.T) {
	data := func(path string, rows, minSeq, maxSeq int64) AddFile {
		return AddFile{Path: path, Kind: FileData, Rows: rows, MinSeq: minSeq, MaxSeq: maxSeq}
	}
	del := func(path string, rows, minSeq, maxSeq int64) AddFile {
		return AddFile{Path: path, Kind: FileDelete, Rows: rows, MinSeq: minSeq, MaxSeq: maxSeq}
	}
	snap := func(path string, rows, asOf int64) AddFile {
		return AddFile{Path: path, Kind: FileSnapshot, Rows: rows, MinSeq: 1, MaxSeq: asOf, AsOfSeq: asOf}
	}
	for _, c := range []struct {
		name        string
		files       []AddFile
		truncations []int64
		rows        int64
		exact       bool
	}{
		{"empty", nil, nil, 0, true},
		{"deltas only", []AddFile{data("d1", 10, 1, 10), data("d2", 5, 11, 20), del("x1", 3, 12, 19)}, nil, 12, true},
		{"newest snapshot and the deltas after it",
			[]AddFile{snap("s1", 7, 10), snap("s2a", 4, 20), snap("s2b", 5, 20), data("d1", 10, 1, 10), data("d2", 5, 11, 20),
				data("d3", 6, 21, 30), del("x3", 2, 22, 25)}, nil, 13, true},
		{"truncated after the snapshot", []AddFile{snap("s1", 7, 10), data("d1", 10, 1, 10), data("d2", 4, 12, 15)},
			[]int64{11}, 4, true},
		{"truncated before the snapshot", []AddFile{snap("s1", 7, 10), data("d1", 10, 6, 10), data("d2", 4, 12, 15)},
			[]int64{5}, 11, true},
		{"a merged file across the snapshot", []AddFile{snap("s1", 7, 10), data("m", 10, 5, 14)}, nil, 17, false},
	} {
		ts := &TableState{Files: map[string]AddFile{}, Truncations: c.truncations}
		for _, f := range c.files {
			ts.Files[f.Path] = f
		}
		if rows, exact := ts.RowCount(); rows != c.rows || exact != c.exact {
			t.Errorf("%s: RowCount() = %d, %v; want %d, %v", c.name, rows, exact, c.rows, c.exact)
		}
	}
}
