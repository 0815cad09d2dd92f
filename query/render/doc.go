// Package render prints the rows of a DuckDB result the way binlake shows
// them to people and scripts (`binlake query`, `binlake serve`): the
// formats table (aligned for a terminal), csv (RFC 4180) and json (one
// object per line), and the text of each value, the same in every format
// (docs/query.md).
//
// It owns presentation only. query returns rows and never imports render:
// which format to print is cmd's choice. render imports no package of the
// project — only database/sql and DuckDB's value types (duckdb.Decimal,
// duckdb.Interval) — and lives under query/ because query/ is the one part
// of the project that may import DuckDB, which also keeps it out of the
// race detector's packages (internal/archtest, Makefile RACE_PKGS).
package render
