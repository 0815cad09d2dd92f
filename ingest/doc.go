// Package ingest is the daemon's pipeline: source events → whole
// transactions → per-table batches → Parquet files → one commit that also
// records the source position, so a restart resumes exactly where the lake
// stands.
//
// It declares what it needs from the outside as small interfaces (Source,
// Rereader, Differ) that cmd/binlake fills with connectors/mysql and the
// query engine. ingest never imports connectors/ or cmd/, nor go-mysql,
// minio-go or DuckDB (internal/archtest checks it). Read further:
// docs/design.md, Ingest; the initial snapshot and re-snapshots:
// docs/snapshot.md; what ingest promises: docs/guarantees.md.
package ingest
