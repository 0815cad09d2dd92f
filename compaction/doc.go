// Package compaction keeps a lake cheap to read and bounded in size:
// snapshots of a table's state, merged delta files, and vacuum of what no
// point inside the retention window needs. Each is a plan that is a pure
// function of the lake's state and a policy (Plan, PlanVacuum), then its
// execution, committed as one log entry that never changes any answer inside
// the window.
//
// compaction never imports connectors/ or cmd/, nor go-mysql or minio-go
// (internal/archtest checks it): the store comes inside the tableformat.Log
// its caller wires. What the jobs do and when: docs/compaction.md; why they
// never change an answer: docs/design.md, Compaction; the vacuum rules:
// tableformat/FORMAT.md §13.
package compaction
