// Package query is the embedded DuckDB view layer: SQL about the mirrored
// database as of any point of the lake's history. A Session pins one point
// and exposes each table as the view db.table, each table's history as the
// table macro db.table(seq), and its changes as db.table_changes(from, to),
// in an in-memory DuckDB locked down to one read-only statement at a time;
// it binds only what its statements name, fetching those files into a
// local checksum-verified cache (bind.go). A Pool keeps sessions warm by
// point for a server.
//
// query depends on tableformat only: it never imports ingest, compaction,
// connectors/ or cmd/, nor go-mysql or minio-go (internal/archtest checks it).
// What a user sees: docs/query.md; points and their meaning: docs/design.md,
// As of, and tableformat/FORMAT.md §11.
package query
