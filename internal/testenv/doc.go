// Package testenv owns the real servers tests run against, started as local
// processes (no Docker): StartMariaDB runs a MariaDB with the binlog settings
// binlake needs, StartMinIO a MinIO, each on a loopback port for the test
// that asks and stopped when it ends, installing the server first if the
// machine lacks it (scripts/ensure-mariadb.sh, the pinned MinIOModule).
//
// It is for tests only: no package but tests imports it, and it talks to
// MariaDB through the mariadb client rather than a Go MySQL library, since
// only connectors/ import go-mysql (internal/archtest checks both). Why:
// docs/design.md, Layering.
package testenv
