package compaction

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tf "github.com/binlake/binlake/tableformat"
)

// Files of hand-made states: d (data), x (deletes) and s (snapshots), named
// after their table and sequences so a case reads as a picture.
func dataFile(table, minSeq, maxSeq int64) tf.AddFile {
	return tf.AddFile{Path: fmt.Sprintf("t%d/d%d-%d", table, minSeq, maxSeq), TableID: table, Kind: tf.FileData, SchemaVersion: 1,
		Rows: 1, Bytes: 100, MinSeq: minSeq, MaxSeq: maxSeq}
}

func delFile(table, minSeq, maxSeq int64) tf.AddFile {
	f := dataFile(table, minSeq, maxSeq)
	f.Path, f.Kind = fmt.Sprintf("t%d/x%d-%d", table, minSeq, maxSeq), tf.FileDelete
	return f
}

// snapFile is part n of the snapshot of table as of asOf.
func snapFile(table, asOf int64, part string) tf.AddFile {
	return tf.AddFile{Path: fmt.Sprintf("t%d/s%d%s", table, asOf, part), TableID: table, Kind: tf.FileSnapshot, SchemaVersion: 1,
		Rows: 1, Bytes: 100, MinSeq: 1, MaxSeq: asOf, AsOfSeq: asOf}
}

type tableSpec struct {
	id          int64
	dropped     int64
	truncations []int64
	files       []tf.AddFile
}

func planState(tables ...tableSpec) *tf.State {
	st := &tf.State{}
	for _, s := range tables {
		t := &tf.TableState{ID: s.id, Names: []tf.TableName{{Seq: 1, DB: "d", Name: fmt.Sprintf("t%d", s.id)}},
			Files: map[string]tf.AddFile{}, CreatedSeq: 1, DroppedSeq: s.dropped, Truncations: s.truncations}
		for _, f := range s.files {
			t.Files[f.Path] = f
		}
		st.Tables = st.Tables.With(t)
	}
	return st
}

func TestPlanVacuum(t *testing.T) {
	cases := []struct {
		name    string
		tables  []tableSpec
		fromSeq int64
		want    []string // "path: reason", in plan order
	}{
		{
			name:    "nothing to do: deltas only",
			tables:  []tableSpec{{id: 1, files: []tf.AddFile{dataFile(1, 1, 10), delFile(1, 5, 10), dataFile(1, 11, 20)}}},
			fromSeq: 15,
		},
		{
			name:    "nothing to do: the only snapshot is after the retention",
			tables:  []tableSpec{{id: 1, files: []tf.AddFile{dataFile(1, 1, 10), snapFile(1, 30, "")}}},
			fromSeq: 25,
		},
		{
			name: "several snapshots: the newest at or before the retention replaces the older ones and the deltas it holds",
			tables: []tableSpec{{id: 1, files: []tf.AddFile{
				snapFile(1, 10, "a"), snapFile(1, 10, "b"), snapFile(1, 20, "a"), snapFile(1, 20, "b"), snapFile(1, 30, ""),
				dataFile(1, 1, 5), dataFile(1, 6, 10), dataFile(1, 11, 20), dataFile(1, 21, 30), dataFile(1, 31, 40),
				delFile(1, 8, 8), delFile(1, 20, 20), delFile(1, 25, 25),
			}}},
			fromSeq: 25,
			want: []string{
				"t1/d1-5: folded into a snapshot", "t1/d11-20: folded into a snapshot", "t1/d6-10: folded into a snapshot",
				"t1/s10a: older snapshot", "t1/s10b: older snapshot",
				"t1/x20-20: folded into a snapshot", "t1/x8-8: folded into a snapshot",
			},
		},
		{
			name:    "a delta spanning the snapshot's sequence stays",
			tables:  []tableSpec{{id: 1, files: []tf.AddFile{snapFile(1, 20, ""), dataFile(1, 5, 20), dataFile(1, 15, 25), delFile(1, 19, 21)}}},
			fromSeq: 22,
			want:    []string{"t1/d5-20: folded into a snapshot"},
		},
		{
			name:    "a retention exactly at a snapshot's sequence uses it",
			tables:  []tableSpec{{id: 1, files: []tf.AddFile{snapFile(1, 10, ""), snapFile(1, 20, ""), dataFile(1, 11, 20)}}},
			fromSeq: 20,
			want:    []string{"t1/d11-20: folded into a snapshot", "t1/s10: older snapshot"},
		},
		{
			name: "truncation: rows before it are gone",
			tables: []tableSpec{{id: 1, truncations: []int64{12}, files: []tf.AddFile{
				snapFile(1, 8, ""), dataFile(1, 1, 5), dataFile(1, 6, 11), delFile(1, 9, 11), dataFile(1, 10, 12), dataFile(1, 13, 20),
			}}},
			fromSeq: 15,
			want: []string{
				"t1/d1-5: folded into a snapshot", "t1/d6-11: before a truncation", "t1/s8: before a truncation", "t1/x9-11: before a truncation",
			},
		},
		{
			name:    "a truncation after the retention changes nothing",
			tables:  []tableSpec{{id: 1, truncations: []int64{30}, files: []tf.AddFile{dataFile(1, 1, 10), dataFile(1, 11, 20)}}},
			fromSeq: 15,
		},
		{
			name: "dropped table: every file goes when the drop is at or before the retention",
			tables: []tableSpec{
				{id: 1, dropped: 18, files: []tf.AddFile{snapFile(1, 10, ""), dataFile(1, 11, 17)}},
				{id: 2, dropped: 20, files: []tf.AddFile{dataFile(2, 1, 19)}},
				{id: 3, dropped: 25, files: []tf.AddFile{dataFile(3, 1, 19)}},
			},
			fromSeq: 20,
			want: []string{
				"t1/d11-17: table dropped", "t1/s10: table dropped",
				"t2/d1-19: table dropped",
			},
		},
		{
			name: "several tables, each by its own snapshots",
			tables: []tableSpec{
				{id: 2, files: []tf.AddFile{snapFile(2, 12, ""), dataFile(2, 1, 12), dataFile(2, 13, 30)}},
				{id: 1, files: []tf.AddFile{dataFile(1, 1, 12), dataFile(1, 13, 30)}},
			},
			fromSeq: 20,
			want:    []string{"t2/d1-12: folded into a snapshot"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			plan := PlanVacuum(planState(c.tables...), c.fromSeq, from)
			var got []string
			for _, f := range plan.Remove {
				got = append(got, fmt.Sprintf("%s: %s", f.File.Path, f.Reason))
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			if plan.FromSeq != c.fromSeq || !plan.FromTime.Equal(from) || plan.Bytes() != int64(100*len(c.want)) {
				t.Fatalf("plan from %d %s, %d bytes", plan.FromSeq, plan.FromTime, plan.Bytes())
			}
		})
	}
}
