package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
)

func checkConfig(m *testenv.MariaDB, user, password string) SourceConfig {
	return SourceConfig{Host: m.Host, Port: uint16(m.Port), User: user, Password: secret.String(password), ServerID: 4242}
}

func failing(results []CheckResult) map[string]CheckResult {
	out := map[string]CheckResult{}
	for _, r := range results {
		if !r.OK {
			out[r.Name] = r
		}
	}
	return out
}

func TestCheckSource(t *testing.T) {
	ctx := context.Background()
	m := testenv.StartMariaDB(t)
	results, err := CheckSource(ctx, checkConfig(m, m.User, m.UserPassword))
	if err != nil {
		t.Fatal(err)
	}
	if f := failing(results); len(f) != 0 {
		t.Fatalf("a correctly set up server fails checks: %+v", f)
	}

	// Settings ingest cannot work with, and a user missing a grant.
	m.Exec(t, "SET GLOBAL binlog_row_metadata=MINIMAL", "SET GLOBAL binlog_row_image=MINIMAL",
		"CREATE USER 'weak'@'%' IDENTIFIED BY 'weak-pw'", "GRANT REPLICATION SLAVE, SELECT ON *.* TO 'weak'@'%'")
	results, err = CheckSource(ctx, checkConfig(m, "weak", "weak-pw"))
	if err != nil {
		t.Fatal(err)
	}
	f := failing(results)
	for name, fix := range map[string]string{
		"full row metadata (column names in the binlog)": "binlog_row_metadata=FULL",
		"full row images": "binlog_row_image=FULL",
		"privilege BINLOG MONITOR (binlog positions)": "GRANT BINLOG MONITOR ON *.* TO 'weak'@'%'",
	} {
		if r, ok := f[name]; !ok || !strings.Contains(r.Fix, fix) {
			t.Errorf("check %q: %+v, want a failure whose fix says %q", name, r, fix)
		}
	}
	if len(f) != 3 {
		t.Errorf("%d checks fail, want 3: %+v", len(f), f)
	}

	if _, err := CheckSource(ctx, checkConfig(m, m.User, "wrong-password-sentinel")); err == nil ||
		strings.Contains(err.Error(), "wrong-password-sentinel") || !strings.Contains(err.Error(), m.User) {
		t.Fatalf("wrong password: %v", err)
	}
}

// TestCheckSnapshotPrivileges: on MySQL the initial snapshot needs RELOAD
// (a global read lock) or LOCK TABLES (table locks); check says which it
// will use, or which grant to add. Run with the mysql flavour against
// MariaDB, whose SHOW GRANTS reads the same.
func TestCheckSnapshotPrivileges(t *testing.T) {
	ctx := context.Background()
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE s")
	user := fmt.Sprintf("'%s'@'%%'", m.User)
	snapshotResult := func(flavor string, strategy SnapshotStrategy) CheckResult {
		t.Helper()
		cfg := checkConfig(m, m.User, m.UserPassword)
		cfg.Flavor, cfg.SnapshotStrategy = flavor, strategy
		results, err := CheckSource(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if strings.Contains(r.Found, "IDENTIFIED") || strings.Contains(r.Found, "PASSWORD") {
				t.Errorf("check %q shows a password hash: %s", r.Name, r.Found)
			}
		}
		for _, r := range results {
			if r.Name == snapshotCheckName {
				return r
			}
		}
		t.Fatalf("no check %q in %+v", snapshotCheckName, results)
		return CheckResult{}
	}
	expect := func(flavor string, strategy SnapshotStrategy, ok bool, found string, fixes ...string) {
		t.Helper()
		r := snapshotResult(flavor, strategy)
		if r.OK != ok || !strings.Contains(r.Found, found) {
			t.Errorf("%s, strategy %q: %+v, want ok=%v and found %q", flavor, strategy, r, ok, found)
		}
		for _, f := range fixes {
			if !strings.Contains(r.Fix, f) {
				t.Errorf("%s, strategy %q: fix %q does not say %q", flavor, strategy, r.Fix, f)
			}
		}
		if ok && r.Fix != "" {
			t.Errorf("%s, strategy %q: a fix for a check that holds: %q", flavor, strategy, r.Fix)
		}
	}
	expect("mariadb", "", true, "binlog_snapshot")
	expect("mysql", "", false, "neither RELOAD nor LOCK TABLES", "GRANT RELOAD ON *.* TO "+user, "GRANT LOCK TABLES ON *.* TO "+user)
	expect("mysql", SnapshotTableLocks, false, "LOCK TABLES missing", "GRANT LOCK TABLES ON *.* TO "+user)
	expect("mariadb", SnapshotGlobalReadLock, false, "RELOAD missing", "GRANT RELOAD ON *.* TO "+user)
	expect("mysql", SnapshotBinlogSnapshot, true, "binlog_snapshot_file") // as on Percona Server

	m.Exec(t, "GRANT LOCK TABLES ON s.* TO "+user)
	expect("mysql", "", true, "table_locks")
	expect("mysql", SnapshotTableLocks, true, "LOCK TABLES granted")

	m.Exec(t, "GRANT RELOAD ON *.* TO "+user)
	expect("mysql", "", true, "global_read_lock")
	expect("mariadb", SnapshotGlobalReadLock, true, "RELOAD granted")
}
