package mysql

import (
	"slices"
	"testing"
)

// TestGrantLines: privileges are read from SHOW GRANTS lines by whole
// name, with column lists dropped and role lines skipped.
func TestGrantLines(t *testing.T) {
	for _, c := range []struct {
		line   string
		privs  []string
		object string
		ok     bool
	}{
		{"GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO `U`@`%`", []string{"REPLICATION SLAVE", "BINLOG MONITOR", "SELECT"}, "*.*", true},
		{"GRANT SELECT (`ID`, `A,B`), INSERT ON `SHOP`.`T` TO `U`@`%`", []string{"SELECT", "INSERT"}, "`SHOP`.`T`", true},
		{"GRANT ALL PRIVILEGES ON `SHOP`.* TO `U`@`%`", []string{"ALL PRIVILEGES"}, "`SHOP`.*", true},
		{"GRANT `READER` TO `U`@`%`", nil, "", false},
		{"SET DEFAULT ROLE `READER` FOR `U`@`%`", nil, "", false},
	} {
		privs, object, ok := grantLine(c.line)
		if !slices.Equal(privs, c.privs) || object != c.object || ok != c.ok {
			t.Errorf("grantLine(%q) = %q, %q, %v; want %q, %q, %v", c.line, privs, object, ok, c.privs, c.object, c.ok)
		}
	}
	p := privileges{"GRANT REPLICATION SLAVE ADMIN, BINLOG ADMIN ON *.* TO `U`@`%`", "GRANT INSERT, SELECT ON `SHOP`.* TO `U`@`%`"}
	if p.global("REPLICATION SLAVE") || p.global("BINLOG MONITOR") {
		t.Errorf("REPLICATION SLAVE ADMIN or BINLOG ADMIN counted as REPLICATION SLAVE or BINLOG MONITOR")
	}
	if !p.anywhere("SELECT") || p.global("SELECT") || !p.database("INSERT") {
		t.Errorf("SELECT and INSERT on a database: anywhere %v, global %v, database %v", p.anywhere("SELECT"), p.global("SELECT"), p.database("INSERT"))
	}
	if (privileges{"GRANT USAGE ON *.* TO `U`@`%`", "GRANT INSERT (`SELECT`) ON `S`.`T` TO `U`@`%`"}).anywhere("SELECT") {
		t.Errorf("a column named SELECT counted as the privilege")
	}
}
