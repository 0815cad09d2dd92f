// Package objstore owns the object stores a lake can live in: a local
// directory (the embedded default, Local), any S3 API with conditional writes
// through minio-go (S3), the warehouse URL that picks one (Open), and the
// probe that checks a store really enforces put-if-absent. Every store
// implements tableformat.Store and passes the storetest conformance suite.
//
// objstore may import tableformat (whose Store it implements), never query,
// compaction or cmd; only connectors/ import minio-go, and nothing but cmd
// imports a connector (internal/archtest checks these). The contract: the
// package documentation of tableformat; why stores are wired in cmd only:
// docs/design.md, Layering.
package objstore
