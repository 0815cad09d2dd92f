package testenv

import (
	"strconv"
	"strings"
	"testing"
)

func TestStartMariaDB(t *testing.T) {
	m := StartMariaDB(t)
	if !strings.Contains(m.Version, "MariaDB") {
		t.Errorf("version %q is not MariaDB", m.Version)
	}
	got := m.Query(t, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@server_id, @@port")
	want := "1\tROW\tFULL\tFULL\t" + strconv.Itoa(int(m.ServerID)) + "\t" + strconv.Itoa(m.Port) + "\n"
	if got != want {
		t.Errorf("server variables = %q, want %q", got, want)
	}
	m.Exec(t, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO d.t VALUES (1, 'ä😀')")
	if got := m.Query(t, "SELECT v FROM d.t"); got != "ä😀\n" {
		t.Errorf("select = %q", got)
	}
	grants := m.Query(t, "SHOW GRANTS FOR 'binlake'@'%'")
	if !strings.Contains(grants, "GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.*") {
		t.Errorf("grants of binlake = %q", grants)
	}
	for _, dsn := range []string{m.RootDSN("d"), m.UserDSN("")} {
		if !strings.Contains(dsn, "@tcp("+m.Addr()+")/") {
			t.Errorf("dsn %q lacks the address", dsn)
		}
	}
}

func TestStartMariaDBTwice(t *testing.T) {
	a, b := StartMariaDB(t), StartMariaDB(t)
	if a.Port == b.Port || a.ServerID == b.ServerID {
		t.Errorf("two servers share port or server_id: %d/%d %d/%d", a.Port, b.Port, a.ServerID, b.ServerID)
	}
}
