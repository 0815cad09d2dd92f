package compaction

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/settings"
)

// TestPolicyValidateFields: every rule of a policy reports the field it is
// about, and only that rule fires.
func TestPolicyValidateFields(t *testing.T) {
	def := Policy{}.WithDefaults()
	with := func(f func(*Policy)) Policy { p := def; f(&p); return p }
	cases := []struct {
		name   string
		policy Policy
		want   []string // the fields named, in order
		text   string   // part of the message
	}{
		{"defaults", def, nil, ""},
		{"no rows", with(func(p *Policy) { p.SnapshotMinRows = -1 }), []string{"snapshot_min_rows"}, "-1: must be at least 1, such as 1000000"},
		{"no files", with(func(p *Policy) { p.SnapshotMinFiles = -1 }), []string{"snapshot_min_files"}, "such as 100"},
		{"negative fraction", with(func(p *Policy) { p.SnapshotFraction = -0.5 }), []string{"snapshot_fraction"}, "-0.5: must be above 0"},
		{"NaN fraction", with(func(p *Policy) { p.SnapshotFraction = math.NaN() }), []string{"snapshot_fraction"}, "NaN"},
		{"infinite fraction", with(func(p *Policy) { p.SnapshotFraction = math.Inf(1) }), []string{"snapshot_fraction"}, "+Inf"},
		{"merge of one", with(func(p *Policy) { p.MergeMinFiles = 1 }), []string{"merge_min_files"}, "at least 2"},
		{"no small files", with(func(p *Policy) { p.SmallFileBytes = -1 }), []string{"small_file_bytes"}, "such as 16777216 (16 MiB)"},
		{"tiny target", with(func(p *Policy) { p.TargetFileBytes = 10 }), []string{"target_file_bytes"},
			"10: must be at least 1048576 (1 MiB), such as 134217728 (128 MiB)"},
		{"small above target", with(func(p *Policy) { p.SmallFileBytes, p.TargetFileBytes = 256<<20, 128<<20 }), []string{"small_file_bytes"},
			"268435456 is not below target_file_bytes (134217728)"},
		{"small equals target", with(func(p *Policy) { p.SmallFileBytes, p.TargetFileBytes = 2<<20, 2<<20 }), []string{"small_file_bytes"},
			"not below"},
		{"every field", Policy{SnapshotMinRows: -1, SnapshotMinFiles: -1, SnapshotFraction: -1, MergeMinFiles: 1, SmallFileBytes: -1, TargetFileBytes: 10},
			[]string{"snapshot_min_rows", "snapshot_min_files", "snapshot_fraction", "merge_min_files", "small_file_bytes", "target_file_bytes"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.policy.Validate()
			if got := settings.Fields(err); !slices.Equal(got, c.want) {
				t.Fatalf("Validate: %v\nnames %v, want %v", err, got, c.want)
			}
			if err != nil && !strings.Contains(err.Error(), c.text) {
				t.Fatalf("Validate: %v; want it to say %q", err, c.text)
			}
		})
	}
}

// TestPolicyValidateRefersToFields: a rule about two fields names the other
// one as a reference its caller can rename.
func TestPolicyValidateRefersToFields(t *testing.T) {
	err := Policy{SmallFileBytes: 256 << 20, TargetFileBytes: 128 << 20}.WithDefaults().Validate()
	fs := settings.ProblemsIn(err)
	if len(fs) != 1 {
		t.Fatalf("Validate: %v", err)
	}
	got := fs[0].Text(func(name string) string { return "policy." + name })
	if !strings.HasPrefix(got, "268435456 is not below policy.target_file_bytes (134217728)") {
		t.Fatalf("Text: %q", got)
	}
}

func TestVacuumOptionsValidate(t *testing.T) {
	def := (&VacuumOptions{Retain: DefaultRetain}).WithDefaults()
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if def.Grace != DefaultGrace || def.Parallelism != DefaultVacuumParallelism {
		t.Fatalf("WithDefaults: %+v", def)
	}
	// Retain has no default: a vacuum told no window must not run.
	if err := (&VacuumOptions{}).WithDefaults(); err.Retain != 0 {
		t.Fatalf("WithDefaults gave Retain %s", err.Retain)
	}
	bad := VacuumOptions{Retain: -time.Hour, Grace: -time.Second, Parallelism: -1}
	err := bad.Validate()
	if got, want := settings.Fields(err), []string{"retain", "grace", "parallelism"}; !slices.Equal(got, want) {
		t.Fatalf("Validate: %v\nnames %v, want %v", err, got, want)
	}
	for _, text := range []string{"retain -1h0m0s: must be positive, such as 168h", "grace -1s: must be positive, such as 1h"} {
		if !strings.Contains(err.Error(), text) {
			t.Errorf("Validate: %v; want it to say %q", err, text)
		}
	}
	// A zero grace is the default's, not a problem, once defaults are in.
	zero := (&VacuumOptions{Retain: time.Hour}).WithDefaults()
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero grace after defaults: %v", err)
	}
}
