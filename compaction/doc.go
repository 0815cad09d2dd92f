// Package compaction keeps a lake cheap to read and bounded in size:
// snapshots of a table's state, merged delta files, and vacuum of what no
// point inside the retention window needs. Each is a plan that is a pure
// function of the lake's state and a policy (Plan, PlanVacuum), then its
// execution, committed as one log entry that never changes any answer inside
// the window.
//
// The files of a job are written by a Writer, which this package declares
// and cmd satisfies with query's engine (DuckDB). Of the project, compaction
// imports tableformat only — never query, DuckDB, connectors/ or cmd/, nor
// go-mysql or minio-go (internal/archtest keeps it so) — so its plans,
// commits and vacuum are tested without cgo and under the race detector;
// the tests on the engine's files live in compaction/enginetest. What the
// jobs do and when: docs/compaction.md; why they never change an answer:
// docs/design.md, Compaction; the vacuum rules: tableformat/FORMAT.md §13.
package compaction
