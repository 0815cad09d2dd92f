// Package enginetest runs compaction jobs on the query engine, DuckDB
// writing real snapshot and merged files of generated lakes: the tests
// whose subject is what the engine writes (every answer at every point
// unchanged by compaction, racing and failing compactors) and the
// compaction benchmark. They live apart from package compaction so that
// compaction's own tests need neither query nor DuckDB and run under the
// race detector; this package holds tests only and nothing imports it.
package enginetest
