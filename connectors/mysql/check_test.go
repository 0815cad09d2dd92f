package mysql

import (
	"context"
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
