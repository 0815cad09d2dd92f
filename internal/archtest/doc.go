// Package archtest holds the tests that keep the project's shape: its
// dependencies pointing one way (cmd → ingest, compaction, query →
// tableformat; connectors implement what tableformat and ingest define, may
// import those two, and nothing imports them but cmd; tableformat imports no
// other package of the project; only connectors import go-mysql and minio-go;
// only query imports DuckDB; query/render, which prints query's rows for cmd,
// imports nothing of the project and query does not import it; compaction
// declares the Writer it needs and cmd wires query's engine in, so that
// compaction and its tests build without query or DuckDB), each package's
// documentation in
// its doc.go, and every document and comment citing only what this
// repository holds.
//
// It imports no package of the project: it reads the tree through go list
// and the files themselves. Why the directions: docs/design.md, Layering.
package archtest
