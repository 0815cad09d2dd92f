package query

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/settings"
)

func TestOptionsDefaultsAndValidate(t *testing.T) {
	def := Options{}.WithDefaults()
	if def.Threads != DefaultThreads || def.MemoryLimit != DefaultMemoryLimit || def.ResnapshotMemoryLimit != DefaultMemoryLimit ||
		def.Timeout != DefaultTimeout || def.FetchParallelism != DefaultFetchParallelism || def.MaxSpill != DefaultMaxSpill ||
		def.MaterializeRows != DefaultMaterializeRows {
		t.Fatalf("WithDefaults: %+v", def)
	}
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if got := (Options{MemoryLimit: "2GB"}).WithDefaults().ResnapshotMemoryLimit; got != "2GB" {
		t.Fatalf("ResnapshotMemoryLimit defaults to %q, want MemoryLimit's 2GB", got)
	}
	// DuckDB's size syntax: a number and a unit, a percentage, or no limit.
	for _, ok := range []string{"512MB", "1GB", "1.5 GiB", "80%", "none", "-1", "123456B", " 4 gigabytes "} {
		if err := (Options{MemoryLimit: ok, MaxSpill: ok}).WithDefaults().Validate(); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	err := Options{Timeout: -time.Second, MemoryLimit: "lots", ResnapshotMemoryLimit: "1 GB 2", MaxSpill: "10 GB plenty"}.Validate()
	fields := settings.Fields(err)
	if want := []string{"threads", "timeout", "memory_limit", "resnapshot_memory_limit", "max_spill", "fetch_parallelism"}; !slices.Equal(fields, want) {
		t.Fatalf("Validate: %v\nfields %v, want %v", err, fields, want)
	}
	for _, text := range []string{"threads 0: must be at least 1, such as 2", "timeout -1s: must be positive, such as 5m",
		`memory_limit "lots": a size in DuckDB's syntax, such as 512MB or 1GB`, `max_spill "10 GB plenty": a size in DuckDB's syntax, such as 512MB or 10GB`} {
		if !strings.Contains(err.Error(), text) {
			t.Errorf("Validate: %v\nwant it to say %q", err, text)
		}
	}
}
