package ingest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/settings"
)

func TestOptionsDefaultsAndValidate(t *testing.T) {
	def := Options{}.WithDefaults()
	if def.CommitInterval != DefaultCommitInterval || def.MaxBatchBytes != DefaultMaxBatchBytes || def.MemoryBudget != DefaultMemoryBudget ||
		def.UploadParallelism != DefaultUploadParallelism || def.ResnapshotChunkRows != DefaultResnapshotChunkRows {
		t.Fatalf("WithDefaults: %+v", def)
	}
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	// Negative values take the defaults too.
	neg := Options{CommitInterval: -time.Second, MaxBatchBytes: -1, MemoryBudget: -1, UploadParallelism: -1, ResnapshotChunkRows: -1}
	if err := neg.WithDefaults().Validate(); err != nil {
		t.Fatalf("negative values after defaults: %v", err)
	}
	// Options given as they stand (a configuration's) are checked as such.
	err := Options{CommitInterval: -time.Second}.Validate()
	fields := settings.Fields(err)
	want := []string{"commit_interval", "max_batch_bytes", "memory_budget", "upload_parallelism", "resnapshot_chunk_rows"}
	if !slices.Equal(fields, want) {
		t.Fatalf("Validate: %v\nfields %v, want %v", err, fields, want)
	}
	for _, text := range []string{"commit_interval -1s: must be positive, such as 500ms", "max_batch_bytes 0: must be a positive number of bytes, such as 50331648 (48 MiB)",
		"memory_budget 0: must be a positive number of bytes, such as 67108864 (64 MiB)", "upload_parallelism 0: must be at least 1, such as 4"} {
		if !strings.Contains(err.Error(), text) {
			t.Errorf("Validate: %v\nwant it to say %q", err, text)
		}
	}
}
