package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MariaDB credentials the harness creates. The user binlake has only what a
// CDC source needs (REPLICATION SLAVE, BINLOG MONITOR, SELECT), so tests
// that connect as it run with least privilege.
const (
	mariadbRootPassword = "binlake-root-secret"
	mariadbUser         = "binlake"
	mariadbUserPassword = "binlake-secret"
	// socketPathMax is the longest unix socket path the kernel takes (108
	// bytes including the NUL).
	socketPathMax = 100
)

// MariaDB is a running mariadbd that belongs to one test. It listens on
// 127.0.0.1:Port and on Socket, with binary logging in ROW format, full row
// images and full row metadata (column names, primary key, signedness,
// charsets, ENUM/SET labels in every TableMap event).
//
// The root account ('root'@'127.0.0.1', RootPassword) may do anything; the
// user account ('binlake'@'%', UserPassword) holds only REPLICATION SLAVE,
// BINLOG MONITOR and SELECT on *.*.
type MariaDB struct {
	Host         string // 127.0.0.1
	Port         int
	Socket       string // unix socket; root connects there without a password
	ServerID     uint32 // the server's server_id
	RootUser     string
	RootPassword string
	User         string // the least-privilege CDC user
	UserPassword string
	LogFile      string // the server's error log
	Version      string // e.g. 10.11.19-MariaDB-0+deb12u1-log
	// CAFile is the PEM certificate of the throwaway CA that signed the
	// server's certificate (valid for 127.0.0.1 and localhost); empty
	// unless the server was started with MariaDBOptions.TLS.
	CAFile string
	// RequireSecureTransport: the server refuses unencrypted TCP
	// connections (the unix socket still works).
	RequireSecureTransport bool

	client string // the mariadb command-line client
	srv    *server
}

// Addr returns host:port.
func (m *MariaDB) Addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }

// RootDSN returns a DSN for the root account, in the
// user:password@tcp(host:port)/db form that both go-sql-driver/mysql and
// go-mysql's database/sql driver accept. db may be empty.
func (m *MariaDB) RootDSN(db string) string { return m.dsn(m.RootUser, m.RootPassword, db) }

// UserDSN returns a DSN for the least-privilege user, in the same form as RootDSN.
func (m *MariaDB) UserDSN(db string) string { return m.dsn(m.User, m.UserPassword, db) }

func (m *MariaDB) dsn(user, password, db string) string {
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/%s", user, password, m.Addr(), db)
	if m.CAFile != "" {
		// Encrypted (unverified): required under require_secure_transport;
		// both go-mysql's driver and go-sql-driver/mysql take it.
		dsn += "?tls=skip-verify"
	}
	return dsn
}

// MariaDBOptions are the settings of StartMariaDBWith.
type MariaDBOptions struct {
	// TLS generates a throwaway CA and a server certificate for 127.0.0.1
	// and localhost (in t.TempDir()) and starts the server with ssl_ca,
	// ssl_cert and ssl_key; MariaDB.CAFile names the CA.
	TLS bool
	// RequireSecureTransport (with TLS) sets require_secure_transport=ON:
	// unencrypted TCP connections are refused.
	RequireSecureTransport bool
	// PerformanceSchema turns performance_schema on (off by default, to
	// save memory): SessionCiphers needs it.
	PerformanceSchema bool
	// NoBinlog starts the server without binary logging (no log_bin), as
	// a server never set up for replication: for the errors a CDC tool
	// meets there.
	NoBinlog bool
}

// StartMariaDB initialises a data directory under t.TempDir(), starts
// mariadbd on a free 127.0.0.1 port, waits until it answers, creates the
// accounts and stops the server when the test ends. If mariadbd is not
// installed it runs scripts/ensure-mariadb.sh (apt-get install
// mariadb-server), failing the test if that fails. Under -short it skips
// the test instead (SkipIfShort).
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	return StartMariaDBWith(t, MariaDBOptions{})
}

// StartMariaDBWith is StartMariaDB with options (TLS).
func StartMariaDBWith(t testing.TB, opts MariaDBOptions) *MariaDB {
	t.Helper()
	SkipIfShort(t, "MariaDB")
	if opts.RequireSecureTransport && !opts.TLS {
		t.Fatalf("mariadb: RequireSecureTransport needs TLS")
	}
	bins, err := mariadbBinaries(t)
	if err != nil {
		t.Fatalf("mariadb: %v", err)
	}
	dir := t.TempDir()
	// The socket path must be short: t.TempDir() paths carry the test name.
	sockDir, err := os.MkdirTemp("", "mdb")
	if err != nil {
		t.Fatalf("mariadb: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	var tf *tlsFiles
	if opts.TLS {
		if tf, err = writeServerTLS(filepath.Join(dir, "tls")); err != nil {
			t.Fatalf("mariadb: tls: %v", err)
		}
	}

	var lastErr error
	for attempt := range 3 { // a port taken between probe and bind: try another
		m, err := launchMariaDB(t, bins, dir, sockDir, attempt, tf, opts)
		if err == nil {
			return m
		}
		lastErr = err
	}
	t.Fatalf("mariadb: %v", lastErr)
	return nil
}

type mariadbBins struct{ server, installDB, client string }

// launchMariaDB initialises a data directory under dir (run<attempt>),
// starts mariadbd on a free port with its socket in sockDir, waits until it
// answers and sets it up (setUp).
func launchMariaDB(t testing.TB, bins mariadbBins, dir, sockDir string, attempt int, tf *tlsFiles, opts MariaDBOptions) (*MariaDB, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	run := filepath.Join(dir, fmt.Sprintf("run%d", attempt))
	data := filepath.Join(run, "data")
	tmp := filepath.Join(run, "tmp")
	for _, d := range []string{data, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	socket := filepath.Join(sockDir, fmt.Sprintf("s%d.sock", attempt))
	if len(socket) > socketPathMax {
		return nil, fmt.Errorf("socket path %s is too long", socket)
	}
	logPath := filepath.Join(run, "mariadb.log")
	serverID := uint32(port) // unique among the servers running on this machine
	cnf := filepath.Join(run, "my.cnf")
	config := mariadbConfig(mariadbFiles{data: data, tmp: tmp, socket: socket, pid: filepath.Join(run, "mariadbd.pid"), log: logPath},
		port, serverID, tf, opts)
	if err := os.WriteFile(cnf, []byte(config), 0o644); err != nil {
		return nil, err
	}
	install := exec.Command(bins.installDB, "--defaults-file="+cnf,
		"--auth-root-authentication-method=normal", "--skip-test-db")
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", bins.installDB, err, out)
	}

	logFile, err := os.OpenFile(filepath.Join(run, "mariadbd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd := exec.Command(bins.server, "--defaults-file="+cnf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	pr, err := startProc(cmd)
	if err != nil {
		return nil, err
	}
	exited := pr.exited
	m := &MariaDB{
		Host:         "127.0.0.1",
		Port:         port,
		Socket:       socket,
		ServerID:     serverID,
		RootUser:     "root",
		RootPassword: mariadbRootPassword,
		User:         mariadbUser,
		UserPassword: mariadbUserPassword,
		LogFile:      logPath,
		client:       bins.client,
	}
	if tf != nil {
		m.CAFile, m.RequireSecureTransport = tf.ca, opts.RequireSecureTransport
	}
	fail := func(err error) (*MariaDB, error) {
		return nil, fmt.Errorf("%w\n--- tail of %s ---\n%s", pr.failed(err), logPath, tail(logPath))
	}
	if err := m.waitReady(exited); err != nil {
		return fail(err)
	}
	if err := m.setUp(tf != nil); err != nil {
		return fail(err)
	}
	m.srv = newServer(pr, filepath.Join(run, "mariadbd.out"), m.waitReady)
	t.Cleanup(m.srv.stop)
	return m, nil
}

// mariadbFiles are where a test server keeps its files.
type mariadbFiles struct{ data, tmp, socket, pid, log string }

// mariadbConfig is the my.cnf of a test server: a row-based binlog with
// full row images and metadata (unless opts.NoBinlog), small buffers,
// durability traded for speed, and TLS when tf is set.
func mariadbConfig(files mariadbFiles, port int, serverID uint32, tf *tlsFiles, opts MariaDBOptions) string {
	config := strings.Join([]string{
		"[mariadbd]",
		"user=root",
		"datadir=" + files.data,
		"tmpdir=" + files.tmp,
		"socket=" + files.socket,
		"pid-file=" + files.pid,
		"log-error=" + files.log,
		"port=" + strconv.Itoa(port),
		"bind-address=127.0.0.1",
		"skip-name-resolve",
		"binlog_format=ROW",
		"binlog_row_image=FULL",
		"binlog_row_metadata=FULL",
		"server_id=" + strconv.FormatUint(uint64(serverID), 10),
		"gtid_strict_mode=ON",
		"innodb_buffer_pool_size=64M",
		"innodb_log_file_size=48M",
		"innodb_flush_log_at_trx_commit=2",
		"sync_binlog=0",
		"performance_schema=" + onOff(opts.PerformanceSchema),
		"character-set-server=utf8mb4",
		"collation-server=utf8mb4_general_ci",
	}, "\n") + "\n"
	if !opts.NoBinlog {
		config += "log_bin=" + filepath.Join(files.data, "binlog") + "\n"
	}
	if tf != nil {
		config += strings.Join([]string{
			"ssl_ca=" + tf.ca,
			"ssl_cert=" + tf.cert,
			"ssl_key=" + tf.key,
			"require_secure_transport=" + onOff(opts.RequireSecureTransport),
		}, "\n") + "\n"
	}
	return config + "\n[client]\nsocket=" + files.socket + "\n"
}

// setUp creates the test accounts on a server that answers, reads its
// version and, withTLS, checks that it took its certificate.
func (m *MariaDB) setUp(withTLS bool) error {
	setup := []string{
		fmt.Sprintf("CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '%s'", mariadbRootPassword),
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
		fmt.Sprintf("CREATE OR REPLACE USER '%s'@'%%' IDENTIFIED BY '%s'", mariadbUser, mariadbUserPassword),
		fmt.Sprintf("GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO '%s'@'%%'", mariadbUser),
	}
	if err := m.exec(context.Background(), setup...); err != nil {
		return fmt.Errorf("create accounts: %w", err)
	}
	version, err := m.query(context.Background(), "SELECT VERSION()")
	if err != nil {
		return err
	}
	m.Version = strings.TrimSpace(version)
	if withTLS {
		ssl, err := m.query(context.Background(), "SELECT @@have_ssl")
		if err != nil {
			return err
		}
		if strings.TrimSpace(ssl) != "YES" {
			return fmt.Errorf("mariadbd %s started with ssl_cert but have_ssl=%s", m.Version, strings.TrimSpace(ssl))
		}
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

// SessionTLS is one client connection and the TLS it uses.
type SessionTLS struct {
	ID      int64  // the connection id (information_schema.PROCESSLIST.ID)
	User    string // the account
	Command string // e.g. "Binlog Dump", "Sleep", "Query"
	Cipher  string // Ssl_cipher; empty: the connection is not encrypted
	Version string // Ssl_version, e.g. TLSv1.3
}

// SessionCiphers lists the server's client connections over TCP with the
// cipher each one uses (from performance_schema.status_by_thread: start
// the server with MariaDBOptions.PerformanceSchema).
func (m *MariaDB) SessionCiphers(t testing.TB) []SessionTLS {
	t.Helper()
	out := m.Query(t, `SELECT t.PROCESSLIST_ID, t.PROCESSLIST_USER, t.PROCESSLIST_COMMAND,
  COALESCE(MAX(IF(s.VARIABLE_NAME = 'Ssl_cipher', s.VARIABLE_VALUE, NULL)), ''),
  COALESCE(MAX(IF(s.VARIABLE_NAME = 'Ssl_version', s.VARIABLE_VALUE, NULL)), '')
FROM performance_schema.threads t JOIN performance_schema.status_by_thread s USING (THREAD_ID)
WHERE t.PROCESSLIST_ID IS NOT NULL AND t.PROCESSLIST_HOST NOT IN ('localhost', '')
GROUP BY t.THREAD_ID, t.PROCESSLIST_ID, t.PROCESSLIST_USER, t.PROCESSLIST_COMMAND`)
	var sessions []SessionTLS
	for line := range strings.SplitSeq(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("mariadb: session ciphers: unexpected row %q", line)
		}
		id, _ := strconv.ParseInt(f[0], 10, 64)
		sessions = append(sessions, SessionTLS{ID: id, User: f[1], Command: f[2], Cipher: f[3], Version: f[4]})
	}
	return sessions
}

// waitReady polls the socket with a trivial query until the server answers,
// the process exits, or readyTimeout passes.
func (m *MariaDB) waitReady(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if _, err := os.Stat(m.Socket); err == nil {
			qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
			_, last = m.query(qctx, "SELECT 1")
			qcancel()
			if last == nil {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("mariadbd exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("mariadbd on port %d not ready after %v (last error: %v)", m.Port, readyTimeout, last)
		case <-tick.C:
		}
	}
}

// Exec runs each statement as root, in order, failing the test at the first
// error. A statement may be a multi-statement script (separated by ";").
func (m *MariaDB) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.exec(ctx, stmts...); err != nil {
		t.Fatalf("mariadb: %v", err)
	}
}

// ExecContext is Exec returning the first error instead of failing the
// test, for callers that run scripts from several goroutines at once.
func (m *MariaDB) ExecContext(ctx context.Context, stmts ...string) error {
	return m.exec(ctx, stmts...)
}

// Query runs one statement as root and returns its result as the
// command-line client prints it in batch mode (tab-separated, no header).
func (m *MariaDB) Query(t testing.TB, stmt string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := m.query(ctx, stmt)
	if err != nil {
		t.Fatalf("mariadb: %v", err)
	}
	return out
}

func (m *MariaDB) exec(ctx context.Context, stmts ...string) error {
	for _, s := range stmts {
		if _, err := m.query(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// query runs SQL through the mariadb client over the socket as root (this
// package talks to the server without a Go MySQL library: only connectors/
// import one; docs/design.md, Layering).
func (m *MariaDB) query(ctx context.Context, stmt string) (string, error) {
	cmd := exec.CommandContext(ctx, m.client, "--no-defaults", "--socket="+m.Socket,
		"--user=root", "--batch", "--skip-column-names", "--raw", "--default-character-set=utf8mb4")
	cmd.Stdin = strings.NewReader(stmt)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", abbreviateSQL(stmt), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func abbreviateSQL(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// DB opens a database/sql handle on db as the least-privilege user and
// closes it when the test ends. The "mysql" database/sql driver must be
// registered by the caller (import go-mysql's driver package or
// go-sql-driver/mysql): this package imports no MySQL library.
func (m *MariaDB) DB(t testing.TB, db string) *sql.DB {
	t.Helper()
	return m.open(t, m.UserDSN(db))
}

// RootDB is DB as root.
func (m *MariaDB) RootDB(t testing.TB, db string) *sql.DB {
	t.Helper()
	return m.open(t, m.RootDSN(db))
}

func (m *MariaDB) open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	if !slices.Contains(sql.Drivers(), "mysql") {
		t.Fatalf("mariadb: no database/sql driver named \"mysql\" is registered: import github.com/go-mysql-org/go-mysql/driver in the test")
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("mariadb: open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mariadbBinaries finds mariadbd, mariadb-install-db and the mariadb client,
// installing mariadb-server with scripts/ensure-mariadb.sh if mariadbd is
// missing.
func mariadbBinaries(t testing.TB) (mariadbBins, error) {
	find := func(name string) (string, error) {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s not found", name)
	}
	if _, err := find("mariadbd"); err != nil {
		if err := installMariaDB(t); err != nil {
			return mariadbBins{}, err
		}
	}
	var b mariadbBins
	var err error
	if b.server, err = find("mariadbd"); err != nil {
		return b, err
	}
	if b.installDB, err = find("mariadb-install-db"); err != nil {
		return b, err
	}
	if b.client, err = find("mariadb"); err != nil {
		return b, err
	}
	return b, nil
}

func installMariaDB(t testing.TB) error {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return errors.New("cannot locate scripts/ensure-mariadb.sh")
	}
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "ensure-mariadb.sh")
	msg := "testenv: mariadbd not found: running " + script + " (apt-get install mariadb-server, about 15 s)"
	t.Log(msg)
	fmt.Fprintln(os.Stderr, msg)
	cmd := exec.Command("bash", script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", script, err, out.String())
	}
	return nil
}
