// Command binlake mirrors a MySQL/MariaDB database into a lake on object
// storage and answers SQL about any moment of its past.
//
// It owns the edge of the program: flags and subcommands, the YAML
// configuration with its environment overrides and secret files, the exit
// codes, and the wiring: the MySQL/MariaDB source and the object store from
// connectors/ are built here and passed to ingest, compaction and query, and
// nowhere else.
//
// It is the top of the dependency graph: nothing imports it, and it never
// imports internal/testenv, which is for tests only (internal/archtest checks
// both). The commands and exit codes: docs/cli.md; every configuration key:
// docs/configuration.md; the layering: docs/design.md, Layering.
package main
