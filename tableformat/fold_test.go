package tableformat

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A fold case is a file of testdata/fold: entries applied in order from the
// empty state, each either applying or failing with an error containing
// "error", and the summary of the final state.
type foldCase struct {
	Steps []struct {
		Entry Entry  `json:"entry"`
		Error string `json:"error"`
	} `json:"steps"`
	Want []string `json:"want"`
}

// fillEntry completes an entry written by hand in a test: format version,
// version, commit time, ids and file checksums.
func fillEntry(e *Entry, v int64, t0 time.Time) {
	e.FormatVersion = EntryFormatVersion
	if e.Version == 0 {
		e.Version = v
	}
	if e.CommitTime.IsZero() {
		e.CommitTime = t0.Add(time.Duration(v) * time.Second)
	}
	if e.WriterID == "" {
		e.WriterID = "test"
	}
	if e.CommitID == "" {
		e.CommitID = fmt.Sprintf("c%d", v)
	}
	if e.Kind == KindCreate && e.Lake == nil {
		e.Lake = &LakeInfo{LakeID: "lake", Source: "src", CheckpointInterval: 10}
	}
	fill := func(a *AddFile) {
		if a.Checksum == "" {
			a.Checksum = sha256Hex([]byte(a.Path))
		}
		if a.Bytes == 0 {
			a.Bytes = 100
		}
		if a.SchemaVersion == 0 {
			a.SchemaVersion = 1
		}
	}
	for i := range e.Add {
		fill(&e.Add[i])
	}
	for _, op := range e.Resnapshot {
		if op.Chunk != nil {
			for i := range op.Chunk.Files {
				fill(&op.Chunk.Files[i])
			}
		}
	}
}

// summary renders a state as sorted readable lines.
func summary(s *State) []string {
	out := []string{fmt.Sprintf("version %d seq %d..%d ts %d pos %s lineage %v",
		s.Version, s.Progress.PrevSeq, s.Progress.MaxSeq, s.Progress.MaxTS, s.Progress.Position, s.Lineage)}
	for _, t := range s.SortedTables() {
		n := t.Current()
		line := fmt.Sprintf("table %d %s.%s created %d schemas %d", t.ID, n.DB, n.Name, t.CreatedSeq, len(t.Schemas))
		if t.DroppedSeq > 0 {
			line += fmt.Sprintf(" dropped %d", t.DroppedSeq)
		}
		if len(t.Truncations) > 0 {
			line += fmt.Sprintf(" truncated %v", t.Truncations)
		}
		out = append(out, line)
		for _, f := range t.SortedFiles() {
			out = append(out, fmt.Sprintf("  %s %s rows %d seq %d..%d", f.Kind, f.Path, f.Rows, f.MinSeq, f.MaxSeq))
		}
	}
	for _, g := range s.Gaps {
		out = append(out, fmt.Sprintf("gap after %d until %d (%s) pending %v", g.AfterSeq, g.UntilSeq, g.Reason, g.Pending))
	}
	for _, j := range s.Resnapshots {
		line := fmt.Sprintf("resnapshot %s.%s requested %d (%s) chunks %d rows %d", j.DB, j.Name, j.RequestedSeq, j.Reason, len(j.Chunks), j.Rows())
		if j.Read() {
			line += " read"
		}
		out = append(out, line)
	}
	return out
}

func TestFoldCases(t *testing.T) {
	files, err := filepath.Glob("testdata/fold/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fold cases: %v", err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c foldCase
			if err := decodeStrict(data, &c); err != nil {
				t.Fatalf("case file: %v", err)
			}
			st := emptyState()
			for i, step := range c.Steps {
				e := step.Entry
				fillEntry(&e, st.Version+1, t0)
				next, err := st.Apply(&e)
				if step.Error != "" {
					if err == nil || !strings.Contains(err.Error(), step.Error) {
						t.Fatalf("step %d: error %v, want one containing %q", i, err, step.Error)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				// Apply must not change the state it was given.
				before := strings.Join(summary(st), "\n")
				st = next
				if after := strings.Join(summary(st), "\n"); i > 0 && before == after {
					t.Fatalf("step %d changed nothing", i)
				}
			}
			got := summary(st)
			if strings.Join(got, "\n") != strings.Join(c.Want, "\n") {
				b, _ := json.MarshalIndent(got, "    ", "  ")
				t.Fatalf("final state:\n%s\nwant:\n%s", b, strings.Join(c.Want, "\n"))
			}
		})
	}
}

// TestApplyLeavesInputUnchanged checks copy-on-write: a pinned state never
// changes when a newer state is built from it.
func TestApplyLeavesInputUnchanged(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := emptyState()
	entries := []Entry{
		{Kind: KindCreate},
		{Kind: KindIngest, Tables: []TableChange{{Op: TableCreate, TableID: 1, Seq: 1, DB: "d", Name: "t", Schema: testSchema(1)}},
			Add:      []AddFile{{Path: "d/t/data/a", TableID: 1, Kind: FileData, Rows: 1, MinSeq: 2, MaxSeq: 2}},
			Progress: Progress{PrevSeq: 0, MaxSeq: 2, MaxTS: 10}},
	}
	for i := range entries {
		fillEntry(&entries[i], int64(i+1), t0)
		var err error
		if st, err = st.Apply(&entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	pinned := strings.Join(summary(st), "\n")
	e := Entry{Kind: KindCompaction, Remove: []RemoveFile{{Path: "d/t/data/a", TableID: 1}},
		Add:      []AddFile{{Path: "d/t/data/b", TableID: 1, Kind: FileData, Rows: 1, MinSeq: 2, MaxSeq: 2}},
		Progress: st.Progress}
	fillEntry(&e, 3, t0)
	next, err := st.Apply(&e)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(summary(st), "\n"); got != pinned {
		t.Fatalf("pinned state changed:\n%s\nwas:\n%s", got, pinned)
	}
	if _, ok := next.Tables.Get(1).Files["d/t/data/b"]; !ok {
		t.Fatal("new state lacks the added file")
	}
}

func testSchema(version int) *Schema {
	return &Schema{Version: version, Columns: []Column{
		{ID: 1, Name: "id", Type: Type{Kind: KindBigInt}},
		{ID: 2, Name: "v", Type: Type{Kind: KindVarchar}, Nullable: true},
	}, Key: []int{1}}
}
