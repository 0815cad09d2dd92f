package testenv

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestStartMariaDBTLS: the server takes TLS with the generated certificate,
// which the CA verifies for 127.0.0.1, and refuses plaintext TCP under
// require_secure_transport.
func TestStartMariaDBTLS(t *testing.T) {
	m := StartMariaDBWith(t, MariaDBOptions{TLS: true, RequireSecureTransport: true, PerformanceSchema: true})
	if m.CAFile == "" || !m.RequireSecureTransport {
		t.Fatalf("CAFile %q, RequireSecureTransport %v", m.CAFile, m.RequireSecureTransport)
	}
	if got := m.Query(t, "SELECT @@have_ssl, @@require_secure_transport"); got != "YES\t1\n" {
		t.Errorf("have_ssl, require_secure_transport = %q", got)
	}
	tcp := func(args ...string) (string, error) {
		cmd := exec.Command(m.client, append([]string{"--no-defaults", "--host=" + m.Host, "--port=" + strconv.Itoa(m.Port),
			"--user=" + m.User, "--batch", "--skip-column-names", "-e", "SHOW SESSION STATUS LIKE 'Ssl_version'"}, args...)...)
		cmd.Env = append(os.Environ(), "MYSQL_PWD="+m.UserPassword)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := tcp("--ssl", "--ssl-ca="+m.CAFile, "--ssl-verify-server-cert")
	if err != nil || !strings.Contains(out, "TLSv1.") {
		t.Errorf("verified TLS connection: %v\n%s", err, out)
	}
	// A session that stays connected shows its cipher.
	hold := exec.Command(m.client, "--no-defaults", "--host="+m.Host, "--port="+strconv.Itoa(m.Port),
		"--user="+m.User, "--ssl", "-e", "SELECT SLEEP(30)")
	hold.Env = append(os.Environ(), "MYSQL_PWD="+m.UserPassword)
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { hold.Process.Kill(); hold.Wait() }()
	var sessions []SessionTLS
	Eventually(t, time.Minute, "the client's session", func() error {
		if sessions = m.SessionCiphers(t); len(sessions) == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	if len(sessions) != 1 || sessions[0].User != m.User || sessions[0].Cipher == "" || !strings.HasPrefix(sessions[0].Version, "TLS") {
		t.Errorf("session ciphers: %+v", sessions)
	}
	// MariaDB answers a plaintext login under require_secure_transport
	// with a plain "access denied".
	out, err = tcp("--skip-ssl")
	if err == nil || !strings.Contains(out, "Access denied") {
		t.Errorf("plaintext connection under require_secure_transport: %v\n%s", err, out)
	}
	// Verifying against the wrong CA fails.
	if out, err = tcp("--ssl", "--ssl-ca="+UnrelatedCAFile(t), "--ssl-verify-server-cert"); err == nil {
		t.Errorf("a wrong CA verified the server:\n%s", out)
	}
}
