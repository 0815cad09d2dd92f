package compaction

import (
	"fmt"
	"strings"
	"testing"

	"github.com/binlake/binlake/tableformat"
)

// compactPlanState is a lake state at max sequence 1000 with one table, shop.t
// (schema versions 1 and 2), holding files described as
// "kind:minseq-maxseq:rows:bytes[:asof|:vN]" (kind d, x or s).
func compactPlanState(t *testing.T, files ...string) *tableformat.State {
	t.Helper()
	sc := tableformat.Schema{Version: 1, Key: []int{1}, Columns: []tableformat.Column{{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}}}}
	sc2 := sc
	sc2.Version = 2
	tbl := &tableformat.TableState{ID: 1, Names: []tableformat.TableName{{Seq: 1, DB: "shop", Name: "t"}},
		Schemas: []tableformat.SchemaVersion{{Seq: 1, Schema: sc}, {Seq: 500, Schema: sc2}}, Files: map[string]tableformat.AddFile{}, CreatedSeq: 1}
	for i, d := range files {
		var kind string
		var lo, hi, rows, bytes, extra int64
		var ver int64 = 1
		parts := strings.Split(d, ":")
		fmt.Sscanf(parts[0]+" "+parts[1]+" "+parts[2]+" "+parts[3], "%s %d-%d %d %d", &kind, &lo, &hi, &rows, &bytes)
		if len(parts) > 4 {
			if strings.HasPrefix(parts[4], "v") {
				fmt.Sscanf(parts[4], "v%d", &ver)
			} else {
				fmt.Sscanf(parts[4], "%d", &extra)
			}
		}
		f := tableformat.AddFile{Path: fmt.Sprintf("f%02d", i), TableID: 1, Kind: map[string]tableformat.FileKind{"d": tableformat.FileData, "x": tableformat.FileDelete, "s": tableformat.FileSnapshot}[kind],
			SchemaVersion: int(ver), Rows: rows, Bytes: bytes, MinSeq: lo, MaxSeq: hi, AsOfSeq: extra}
		tbl.Files[f.Path] = f
	}
	return &tableformat.State{Version: 9, Progress: tableformat.Progress{MaxSeq: 1000}, Tables: tableformat.NewTables(tbl)}
}

// jobsString is a plan, readable: "snapshot@1000(3)" or "merge(f01 f02)".
func jobsString(jobs []Job) string {
	var out []string
	for _, j := range jobs {
		if j.Kind == JobSnapshot {
			out = append(out, fmt.Sprintf("snapshot@%d(%d)", j.AsOfSeq, len(j.Inputs)))
			continue
		}
		var names []string
		for _, f := range j.Inputs {
			names = append(names, f.Path)
		}
		out = append(out, "merge("+strings.Join(names, " ")+")")
	}
	return strings.Join(out, " ")
}

func TestPlan(t *testing.T) {
	small := Policy{SnapshotMinRows: 100, SnapshotMinFiles: 4, SnapshotFraction: 0.5, MergeMinFiles: 3, SmallFileBytes: 1000, TargetFileBytes: 1 << 20}
	cases := []struct {
		name   string
		policy Policy
		files  []string
		want   string
	}{
		{"an empty table: nothing", small, nil, ""},
		{"few small deltas: nothing", small, []string{"d:2-2:10:100", "d:3-3:10:100"}, ""},
		{"delta rows reach the minimum", small, []string{"d:2-2:60:100", "x:3-3:50:100"}, "snapshot@1000(2)"},
		{"delta files reach the minimum", small, []string{"d:2-2:1:5000", "d:3-3:1:5000", "x:4-4:1:5000", "d:5-5:1:5000"}, "snapshot@1000(4)"},
		{"deltas before the snapshot do not count", small, []string{"d:2-2:90:5000", "s:0-50:1000:9000:50", "d:60-60:20:5000"}, ""},
		{"a fraction of the snapshot", Policy{SnapshotMinRows: 1e6, SnapshotMinFiles: 100, SnapshotFraction: 0.1, MergeMinFiles: 3, SmallFileBytes: 1000, TargetFileBytes: 1 << 20},
			[]string{"s:0-50:100:9000:50", "d:60-60:10:5000"}, "snapshot@1000(1)"},
		{"a delta spanning the snapshot counts", small, []string{"s:0-50:1000:9000:50", "d:40-70:600:5000"}, "snapshot@1000(1)"},
		{"snapshot at the latest sequence: nothing", small, []string{"d:2-2:500:5000", "s:0-1000:10:9000:1000"}, ""},
		{"three small data files merge", small, []string{"d:2-2:1:10", "d:3-3:1:10", "d:4-4:1:10"}, "merge(f00 f01 f02)"},
		{"a big file breaks the run", small, []string{"d:2-2:1:10", "d:3-3:1:10", "d:4-4:1:5000", "d:5-5:1:10", "d:6-6:1:10"}, "snapshot@1000(5)"},
		{"kinds merge apart", small, []string{"d:2-2:1:10", "x:3-3:1:10", "d:4-4:1:10", "x:5-5:1:10", "d:6-6:1:10", "x:7-7:1:10"},
			"merge(f00 f02 f04) merge(f01 f03 f05) snapshot@1000(6)"},
		{"schema versions merge apart", small, []string{"d:2-2:1:10", "d:3-3:1:10", "d:4-4:1:10", "d:501-501:1:10:v2", "d:502-502:1:10:v2"},
			"merge(f00 f01 f02) snapshot@1000(5)"},
		{"force: any two, and any delta", Policy{Force: true}, []string{"d:2-2:1:10", "d:3-3:1:10"}, "merge(f00 f01) snapshot@1000(2)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := jobsString(Plan(compactPlanState(t, c.files...), c.policy)); got != c.want {
				t.Fatalf("plan:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestPlanSkipsDroppedAndOtherTables(t *testing.T) {
	st := compactPlanState(t, "d:2-2:500:100", "d:3-3:500:100")
	if got := jobsString(Plan(st, Policy{Force: true}, "shop.other")); got != "" {
		t.Fatalf("--table shop.other: %q", got)
	}
	if got := jobsString(Plan(st, Policy{Force: true}, "shop.t")); got != "merge(f00 f01) snapshot@1000(2)" {
		t.Fatalf("--table shop.t: %q", got)
	}
	st.Tables.Get(1).DroppedSeq = 900
	if got := jobsString(Plan(st, Policy{Force: true})); got != "" {
		t.Fatalf("dropped table: %q", got)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := (Policy{}).WithDefaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	err := Policy{SnapshotMinRows: -1, SnapshotMinFiles: -1, SnapshotFraction: -1, MergeMinFiles: 1, SmallFileBytes: -1, TargetFileBytes: 10}.Validate()
	for _, key := range []string{"snapshot_min_rows", "snapshot_min_files", "snapshot_fraction", "merge_min_files", "small_file_bytes", "target_file_bytes"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("Validate: %v; want it to name %s", err, key)
		}
	}
}
