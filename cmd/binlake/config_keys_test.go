package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/binlake/binlake/connectors/objstore"
)

// TestPackageProblemsNameConfigKeys: every problem the packages' Validate
// methods find in a config is reported under a key the config has, so a
// field the config names otherwise cannot go unmapped.
func TestPackageProblemsNameConfigKeys(t *testing.T) {
	c := defaultConfig()
	c.Source.Name = "shop"
	c.Source.Flavor, c.Source.Heartbeat = "postgres", -1
	c.Warehouse.URL = "s3://B_/lakes"
	c.Warehouse.S3 = S3Config{Endpoint: "127.0.0.1:9000/lakes", CAFile: "/etc/hostname", RequestTimeout: -1}
	c.Ingest = IngestConfig{CommitInterval: -1, MaxBatchBytes: -1, MemoryBudget: -1, UploadParallelism: -1}
	c.Query.Threads, c.Query.Timeout, c.Query.MemoryLimit, c.Query.MaxSpill = -1, -1, "lots", "lots"
	c.Compaction = CompactionConfig{Retain: -1, Grace: -1, SnapshotMinRows: -1, SnapshotMinFiles: -1, SnapshotFraction: -1,
		MergeMinFiles: 1, SmallFileBytes: -1, TargetFileBytes: 1}
	keys := allKeys(reflect.TypeFor[Config](), "")
	var got []string
	for _, p := range c.problems() {
		got = append(got, p.key)
		if !slices.Contains(keys, p.key) {
			t.Errorf("%s: not a key of the config: %s", p.key, p.msg)
		}
		if strings.ContainsAny(p.msg, "{}") {
			t.Errorf("%s: a field reference left in %q", p.key, p.msg)
		}
	}
	for _, want := range []string{"source.flavor", "source.heartbeat", "warehouse.url", "warehouse.s3.endpoint", "warehouse.s3.access_key_id",
		"warehouse.s3.secret_access_key", "warehouse.s3.ca_file", "warehouse.s3.request_timeout", "ingest.commit_interval",
		"ingest.max_batch_bytes", "ingest.memory_budget", "ingest.upload_parallelism", "query.threads", "query.timeout", "query.memory_limit",
		"query.max_spill", "compaction.retain", "compaction.grace", "compaction.snapshot_min_rows", "compaction.snapshot_min_files",
		"compaction.snapshot_fraction", "compaction.merge_min_files", "compaction.small_file_bytes", "compaction.target_file_bytes"} {
		if !slices.Contains(got, want) {
			t.Errorf("no problem reported for %s:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// TestS3MaxRetriesZero: the config's warehouse.s3.max_retries: 0 means no
// retries (as docs/configuration.md says), not objstore's default.
func TestS3MaxRetriesZero(t *testing.T) {
	for _, c := range []struct{ config, want int }{{0, -1}, {3, 3}, {objstore.DefaultMaxRetries, objstore.DefaultMaxRetries}} {
		if got := (S3Config{MaxRetries: c.config}).store().MaxRetries; got != c.want {
			t.Errorf("max_retries %d: objstore.S3Config.MaxRetries %d, want %d", c.config, got, c.want)
		}
	}
}
