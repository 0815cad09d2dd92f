package testenv

import "testing"

// SkipIfShort skips t under go test -short, naming the server the test
// would start (MariaDB, MinIO, the binlake daemon): -short (make
// test-unit) runs only the tests that need no server, in seconds.
// StartMariaDB and StartMinIO call it; a test that starts another server
// (the binlake daemon) calls it first.
func SkipIfShort(t testing.TB, server string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: skips tests that start %s", server)
	}
}
