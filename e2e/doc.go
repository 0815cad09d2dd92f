// Package e2e runs binlake's binary against a real MariaDB and a real S3
// server (MinIO), both started as local processes by internal/testenv: the
// daemon, the commands and the fault suite, checked against the source as of
// every transaction.
//
// Nothing imports it. Its tests may import any package of the project
// (internal/archtest checks the imports of non-test code only), but they judge
// binlake by what a user sees: the binary's output and exit codes, and the
// lake it leaves. The fault suite and what it shows: docs/reliability.md; the
// promises it checks: docs/guarantees.md.
package e2e
