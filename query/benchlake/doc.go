// Package benchlake is the benchmark lake that query's and compaction's
// benchmarks read: one keyed table shop.orders of Rows rows held by a
// compacted snapshot, then Commits ingest commits of row changes not yet
// compacted, and beside it the table's state at two points as plain
// Parquet files written by DuckDB ("the equivalent compacted data"). It is
// generated once, into a directory under os.TempDir() keyed by a hash of
// the generator's parameters, and reused by later runs on the same machine.
//
// It is test support, imported by _test.go files only. Being under query/,
// it follows query's rules: it never imports ingest, compaction,
// connectors/ or cmd/ (internal/archtest checks it), so it takes the object
// store to write the lake into from its caller (OpenStore). The figures it
// serves: BENCHMARKS.md.
package benchlake
