// Package laketest writes seeded random lakes for tests. A Lake commits
// through the real writer (tableformat.WriteAddFile, Log.Commit): tables
// created, altered (columns added, some with an initial default, dropped,
// renamed), renamed, truncated and dropped; rows inserted, updated (keys
// too) and deleted in source transactions over many commits; snapshots and
// delta merges; rewinds. Beside the lake it keeps a model: every table's
// rows at every transaction boundary and every table's change feed, which
// its own test checks against tableformat.ScanTable, the format's reference
// reader.
//
// The same seed gives the same history (file names aside), so a failing
// test names a history that can be replayed. Tests that need a lake of a
// given shape script it with the same calls the random driver makes
// (CreateTable, Insert, EndTxn, RenameTable, Commit, Snapshot).
//
// It is for tests only: nothing but _test.go files imports it, and it
// imports no package of the project but tableformat.
package laketest
