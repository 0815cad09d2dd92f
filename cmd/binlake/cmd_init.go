package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/settings"
)

// dsn is the part of a Go MySQL DSN that binlake init uses. The password is
// only noted as present: it is never written or printed.
type dsn struct {
	User        string
	HasPassword bool
	Host        string
	Port        int
	DB          string
	Params      []string // names of the parameters given (ignored)
}

const dsnForm = "write it as 'user:password@tcp(host:port)/' or 'user@tcp(host:port)/db' (the password may be left out; it is never written)"

// parseDSN parses [user[:password]@][tcp[(host[:port])]]/[db][?params]
// (the form of the Go MySQL driver) or mysql://user[:password]@host[:port]/[db].
// Errors never repeat the DSN, which may hold a password.
func parseDSN(s string) (dsn, error) {
	d := dsn{Host: "127.0.0.1", Port: mysql.DefaultPort}
	if s == "" {
		return d, errors.New("missing: " + dsnForm)
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		if scheme != "mysql" && scheme != "mariadb" {
			return d, fmt.Errorf("scheme %q: %s", scheme, dsnForm)
		}
		u, err := url.Parse(s)
		if err != nil {
			return d, errors.New("not a valid URL: " + dsnForm) // url's error repeats the password
		}
		if u.User != nil {
			d.User = u.User.Username()
			_, d.HasPassword = u.User.Password()
		}
		if h := u.Hostname(); h != "" {
			d.Host = h
		}
		if p := u.Port(); p != "" {
			if d.Port, err = strconv.Atoi(p); err != nil || d.Port < 1 || d.Port > 65535 {
				return d, fmt.Errorf("port %q is not a TCP port: %s", p, dsnForm)
			}
		}
		d.DB = strings.Trim(u.Path, "/")
		d.Params = slices.Sorted(maps.Keys(u.Query()))
		return d, d.check()
	}
	slash := strings.LastIndex(s, "/")
	if slash < 0 {
		return d, errors.New("no '/' before the database name: " + dsnForm)
	}
	head, tail := s[:slash], s[slash+1:]
	db, params, _ := strings.Cut(tail, "?")
	d.DB = db
	if params != "" {
		for p := range strings.SplitSeq(params, "&") {
			k, _, _ := strings.Cut(p, "=")
			d.Params = append(d.Params, k)
		}
	}
	netPart := head
	if at := strings.LastIndex(head, "@"); at >= 0 {
		user, _, hasPass := strings.Cut(head[:at], ":")
		d.User, d.HasPassword, netPart = user, hasPass, head[at+1:]
	}
	proto, addr, hasAddr := strings.Cut(netPart, "(")
	switch {
	case proto == "unix":
		return d, errors.New("a unix socket: binlake reads the binlog over TCP: " + dsnForm)
	case proto != "" && proto != "tcp":
		return d, fmt.Errorf("protocol %q: %s", proto, dsnForm)
	}
	if hasAddr {
		if !strings.HasSuffix(addr, ")") {
			return d, errors.New("unclosed '(' around the address: " + dsnForm)
		}
		addr = strings.TrimSuffix(addr, ")")
		if addr != "" {
			host, port, err := net.SplitHostPort(addr)
			if err != nil { // no port
				host, port = strings.Trim(addr, "[]"), ""
			}
			if host != "" {
				d.Host = host
			}
			if port != "" {
				if d.Port, err = strconv.Atoi(port); err != nil || d.Port < 1 || d.Port > 65535 {
					return d, fmt.Errorf("port %q is not a TCP port: %s", port, dsnForm)
				}
			}
		}
	}
	return d, d.check()
}

func (d dsn) check() error {
	switch {
	case d.User == "":
		return errors.New("no user: " + dsnForm)
	case strings.ContainsAny(d.Host, " /@()"):
		return fmt.Errorf("host %q: %s", d.Host, dsnForm)
	case strings.ContainsAny(d.DB, "/*?"):
		return fmt.Errorf("database %q: %s", d.DB, dsnForm)
	}
	return nil
}

// lakeName derives a source.name from the DSN: its database, else its host
// (an IP address whole, a host name's first label), made of the characters
// source.name allows; "" when nothing usable is left.
func (d dsn) lakeName() string {
	base := d.DB
	if base == "" {
		base = d.Host
		if net.ParseIP(base) == nil {
			base, _, _ = strings.Cut(base, ".")
		} else {
			base = "db-" + base // an address alone makes a poor name ("::1")
		}
	}
	// Other characters become '-'; a run of separators becomes one.
	var b strings.Builder
	sep := true // no separator first
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			sep = false
		case !sep:
			if r != '_' {
				r = '-'
			}
			b.WriteRune(r)
			sep = true
		}
	}
	name := strings.TrimRight(b.String(), "_-")
	name = name[:min(len(name), 63)]
	if !sourceNameRE.MatchString(name) {
		return ""
	}
	return name
}

func runInit(_ context.Context, env *cliEnv, args []string) error {
	const synopsis = "--dsn 'user:password@tcp(host:port)/[db]' --warehouse URL [--source NAME] [--flavor mariadb|mysql] [-o binlake.yaml] [--force]"
	fs := flag.NewFlagSet("binlake init", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: binlake init %s\n\nWrites a starting config and prints what the source server needs.\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	dsnFlag := fs.String("dsn", "", "the source: user[:password]@tcp(host:port)/[db] (the password is never written: give it as BINLAKE_SOURCE_PASSWORD)")
	warehouse := fs.String("warehouse", "", "where lakes live: file:///absolute/path or s3://bucket/prefix")
	source := fs.String("source", "", "the lake's name (source.name; default: the DSN's database, else its host)")
	flavor := fs.String("flavor", mysql.DefaultFlavor, "the source server: mariadb or mysql")
	out := fs.String("o", "binlake.yaml", "the config file to write")
	force := fs.Bool("force", false, "overwrite the file if it exists")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	d, err := parseDSN(*dsnFlag)
	if err != nil {
		return &usageError{"--dsn: " + err.Error()}
	}
	wh, err := objstore.ParseWarehouse(*warehouse)
	if err != nil {
		msg := "--warehouse: " + err.Error()
		if *warehouse != "" && !strings.Contains(*warehouse, "://") {
			if abs, aerr := filepath.Abs(*warehouse); aerr == nil {
				msg += fmt.Sprintf(" (for a local directory here: --warehouse %s)", (&url.URL{Scheme: "file", Path: abs}).String())
			}
		}
		return &usageError{msg}
	}
	// The flavour is all the source's Validate sees here.
	if ps := settings.ProblemsIn(mysql.SourceConfig{Flavor: *flavor, HeartbeatPeriod: mysql.DefaultHeartbeat}.Validate()); len(ps) > 0 {
		return &usageError{"--flavor " + ps[0].Msg}
	}
	name := *source
	switch {
	case name == "":
		if name = d.lakeName(); name == "" {
			return &usageError{"--source: cannot derive a lake name from the DSN's database or host: give --source NAME (a-z, 0-9, _ and -)"}
		}
	case !sourceNameRE.MatchString(name):
		return &usageError{fmt.Sprintf("--source %q: use 1–63 characters of a-z, 0-9, _ and -, starting with a letter or digit (it names the lake's folder)", name)}
	}
	ic := initConfig{dsn: d, name: name, flavor: *flavor, warehouse: wh, serverID: 100_000 + rand.Int64N(900_000)}
	if err := writeNewFile(*out, []byte(ic.render(time.Now())), *force); err != nil {
		return err
	}
	if _, err := loadConfig(*out, ic.checkEnv()); err != nil {
		return fmt.Errorf("the config written to %s does not load (a bug in binlake init): %w", *out, err)
	}
	return ic.printNext(env.stdout, *out)
}

// writeNewFile writes data to path, refusing to replace a file unless force.
func writeNewFile(path string, data []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return &usageError{fmt.Sprintf("-o %s: the file exists; binlake init does not overwrite it without --force", path)}
	}
	if err != nil {
		return &usageError{fmt.Sprintf("-o %s: %v", path, err)}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// initConfig is what binlake init writes and prints.
type initConfig struct {
	dsn       dsn
	name      string
	flavor    string
	warehouse objstore.Warehouse
	serverID  int64
}

// checkEnv is the environment the written file is checked with: none, or
// stand-in S3 keys (the file leaves them to the environment).
func (ic initConfig) checkEnv() func(string) (string, bool) {
	return func(k string) (string, bool) {
		if ic.warehouse.Scheme == "s3" && (k == "BINLAKE_WAREHOUSE_S3_ACCESS_KEY_ID" || k == "BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY") {
			return "stand-in", true
		}
		return "", false
	}
}

// yq quotes a string for YAML (a JSON string is a YAML string).
func yq(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// render returns the config file: every section, with defaultConfig's
// values and a comment each.
func (ic initConfig) render(now time.Time) string {
	c := defaultConfig()
	var b strings.Builder
	// Comments after a value start at a tab: aligned within each block.
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	w := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	w("# binlake config, written by `binlake init` on %s (docs/cli.md, docs/configuration.md).\n", now.UTC().Format(time.DateOnly))
	w("# Every key can be overridden from the environment: BINLAKE_<KEY PATH>, for\n# example BINLAKE_WAREHOUSE_URL or BINLAKE_SOURCE_HOST.\n\n")
	w("source:\n")
	w("  # The lake's name: its folder under the warehouse (a-z, 0-9, _ and -).\n")
	w("  name: %s\n", ic.name)
	w("  flavor: %s\t# mariadb or mysql\n", ic.flavor)
	w("  host: %s\n", yq(ic.dsn.Host))
	w("  port: %d\n", ic.dsn.Port)
	monitor := "BINLOG MONITOR"
	if ic.flavor == "mysql" {
		monitor = "REPLICATION CLIENT"
	}
	w("  # A user with REPLICATION SLAVE, %s and SELECT (binlake init printed the GRANTs).\n", monitor)
	w("  user: %s\n", yq(ic.dsn.User))
	w("  # password: never here: set BINLAKE_SOURCE_PASSWORD, or BINLAKE_SOURCE_PASSWORD_FILE naming a file that holds it.\n")
	w("  server_id: %d\t# binlake's replica id (random): unique among the source's replicas, not the server's own\n", ic.serverID)
	include := "[]"
	if ic.dsn.DB != "" {
		include = "[" + yq(ic.dsn.DB+".*") + "]"
	}
	w("  include: %s\t# db.table patterns to mirror (empty: every table)\n", include)
	w("  exclude: []\t# db.table patterns to leave out\n")
	w("  heartbeat: %s\t# how often an idle source is asked to prove it is alive\n", settings.Duration(c.Source.Heartbeat))
	w("  # auto: a new lake starts with a consistent snapshot of the existing rows;\n")
	w("  # never: it starts at the binlog's current position; always: every start\n")
	w("  # takes a snapshot that replaces the lake's contents (history is kept).\n")
	w("  snapshot: %s\n", c.Source.Snapshot)
	w("  # How the snapshot pins its binlog position: auto (binlog_snapshot on MariaDB: no lock;\n")
	w("  # on MySQL global_read_lock with RELOAD, else table_locks with LOCK TABLES).\n")
	w("  snapshot_strategy: %s\n", mysql.SnapshotAuto)
	w("  # When the source has purged the binlog the lake needs: fail (exit 6, nothing changes) or\n")
	w("  # resnapshot (go on from the source's position and re-read every table; the gap is recorded).\n")
	w("  on_position_lost: %s\n", c.Source.OnPositionLost)
	w("  tls:\n")
	w("    mode: %s\t# disabled, required, verify-ca or verify-full (those two need ca_file)\n\n", c.Source.TLS.Mode)

	w("warehouse:\n")
	w("  # file:///absolute/path (a local directory) or s3://bucket/prefix.\n")
	w("  url: %s\n", yq(ic.warehouse.String()))
	if ic.warehouse.Scheme == "s3" {
		s := c.Warehouse.S3
		w("  s3:\n")
		w("    endpoint: s3.amazonaws.com\t# host:port of the S3 service (MinIO: e.g. 127.0.0.1:9000 with use_tls: false)\n")
		w("    region: %s\n", s.Region)
		w("    use_tls: %t\n", s.UseTLS)
		w("    # access_key_id: here, or BINLAKE_WAREHOUSE_S3_ACCESS_KEY_ID\n")
		w("    # secret_access_key: never here: BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY, or BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY_FILE\n")
		w("    request_timeout: %s\n", settings.Duration(s.RequestTimeout))
		w("    max_retries: %d\n", s.MaxRetries)
	}
	w("\n")

	i := c.Ingest
	w("ingest:\n")
	w("  commit_interval: %s\t# group commit: at most this long between a source commit and the lake commit\n", settings.Duration(i.CommitInterval))
	w("  max_batch_bytes: %d\t# close a batch early at this many bytes of buffered rows\n", i.MaxBatchBytes)
	w("  memory_budget: %d\t# past this, buffered rows are spilled to files (big transactions)\n", i.MemoryBudget)
	w("  memory_limit: %d\t# soft limit of the daemon's memory (GOMEMLIMIT overrides it)\n", i.MemoryLimit)
	w("  upload_parallelism: %d\t# concurrent file uploads\n", i.UploadParallelism)
	w("  listen: %s\t# /metrics, /healthz, /readyz, /status (binlake status reads it); \"\" turns them off\n\n", yq(i.Listen))

	q := c.Query
	w("query:\n")
	w("  cache_dir: \"\"\t# \"\" = ~/.cache/binlake; lake files cached for DuckDB, shared by every binlake process\n")
	w("  cache_max_bytes: %d\t# bound of the cache (least recently used files go first)\n", q.CacheMaxBytes)
	w("  threads: %d\t# DuckDB's threads\n", q.Threads)
	w("  memory_limit: %s\t# DuckDB's memory; past it, it spills to the cache directory\n", q.MemoryLimit)
	w("  max_spill: %s\t# bound of one session's spill files\n", q.MaxSpill)
	w("  timeout: %s\t# bound of one statement\n", settings.Duration(q.Timeout))
	w("  materialize_rows: %d\t# serve / interactive query: a local snapshot of a view merging this many delta rows; 0 never\n\n", q.MaterializeRows)

	s := c.Serve
	w("serve:\n")
	w("  listen: %s\t# binlake serve: /query, /metrics, /healthz\n", yq(s.Listen))
	w("  max_rows: %d\t# rows of one answer at most (the rest is cut, and a trailer says so)\n", s.MaxRows)
	w("  max_concurrent: %d\t# queries running at once; more wait\n\n", s.MaxConcurrent)

	p := c.Compaction
	w("compaction:\n")
	w("  retain: %s\t# vacuum keeps this much history (the time-travel window)\n", settings.Duration(p.Retain))
	w("  grace: %s\t# objects the lake no longer names stay this long (readers of older versions)\n", settings.Duration(p.Grace))
	w("  interval: %s\t# run the policy inside the ingest daemon this often; 0s never (binlake compact from cron)\n", settings.Duration(p.Interval))
	w("  snapshot_min_rows: %d\t# snapshot a table once the deltas after its last snapshot hold this many rows,\n", p.SnapshotMinRows)
	w("  snapshot_min_files: %d\t#   or number this many files,\n", p.SnapshotMinFiles)
	w("  snapshot_fraction: %g\t#   or hold this fraction of the snapshot's rows\n", p.SnapshotFraction)
	w("  merge_min_files: %d\t# merge runs of at least this many delta files\n", p.MergeMinFiles)
	w("  small_file_bytes: %d\t#   smaller than this\n", p.SmallFileBytes)
	w("  target_file_bytes: %d\t# size of the files compaction writes\n\n", p.TargetFileBytes)

	w("lake:\n")
	w("  checkpoint_interval: %d\t# a checkpoint of the whole state every N versions (fixed when the lake is created)\n\n", c.Lake.CheckpointInterval)

	w("log:\n")
	w("  level: %s\t# debug, info, warn, error\n", c.Log.Level)
	w("  format: %s\t# text or json\n", c.Log.Format)
	tw.Flush()
	return b.String()
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlIdent quotes s as an SQL identifier.
func sqlIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// printNext prints what the source needs (server settings, the user's
// grants) and the next command.
func (ic initConfig) printNext(w io.Writer, path string) error {
	d := ic.dsn
	isMySQL := ic.flavor == "mysql"
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("wrote %s: lake %q in %s, source %s:%d as %s (%s)\n\n", path, ic.name, ic.warehouse, d.Host, d.Port, d.User, ic.flavor)
	note := ""
	if d.HasPassword {
		note = " (the one in --dsn was not written)"
	}
	p("The password is never in the file%s. Give it to every binlake command:\n", note)
	p("  export BINLAKE_SOURCE_PASSWORD='...'   or   export BINLAKE_SOURCE_PASSWORD_FILE=/path/to/file\n")
	if ic.warehouse.Scheme == "s3" {
		p("and the S3 keys (check warehouse.s3.endpoint in the file):\n")
		p("  export BINLAKE_WAREHOUSE_S3_ACCESS_KEY_ID=...  BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY=...\n")
	}
	if len(d.Params) > 0 {
		p("The DSN's parameters (%s) are not used: TLS is source.tls in the file.\n", strings.Join(d.Params, ", "))
	}

	p("\n1. The source server's settings (my.cnf, [mysqld]; restart the server after changing them):\n\n")
	p("[mysqld]\n")
	p("server_id                  = 1        # unique among the server and its replicas (binlake is %d)\n", ic.serverID)
	p("log_bin                    = mysql-bin\n")
	p("binlog_format              = ROW\n")
	p("binlog_row_image           = FULL\n")
	p("binlog_row_metadata        = FULL     # MariaDB 10.5+ and MySQL 8.0+: column names in the binlog\n")
	p("binlog_expire_logs_seconds = 604800   # keep 7 days of binlog, longer than ingest may be stopped (MariaDB 10.5: expire_logs_days = 7)\n")
	if isMySQL {
		p("# GTIDs are optional (binlake stores file:pos either way); to use them on MySQL 8:\n")
		p("# gtid_mode                = ON\n")
		p("# enforce_gtid_consistency = ON\n")
		p("# (MariaDB: the same settings, without the GTID lines: MariaDB always has GTIDs.)\n")
	} else {
		p("# GTIDs: MariaDB always has them; nothing to set. (MySQL 8: the same settings, plus optionally\n")
		p("# gtid_mode = ON and enforce_gtid_consistency = ON.)\n")
	}

	user := sqlString(d.User) + "@'%'"
	on := "*.*"
	if d.DB != "" {
		on = sqlIdent(d.DB) + ".*"
	}
	p("\n2. The user, as an administrator on the source (restrict the host part '%%' as you like):\n\n")
	// The statements' comments start at a tab: aligned.
	gw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	g := func(format string, a ...any) { fmt.Fprintf(gw, format, a...) }
	g("CREATE USER IF NOT EXISTS %s IDENTIFIED BY '<password>';\n", user)
	g("GRANT REPLICATION SLAVE ON *.* TO %s;\t-- read the binlog\n", user)
	if isMySQL {
		g("GRANT REPLICATION CLIENT ON *.* TO %s;\t-- binlog positions and lag (BINLOG MONITOR on MariaDB)\n", user)
	} else {
		g("GRANT BINLOG MONITOR ON *.* TO %s;\t-- binlog positions and lag (REPLICATION CLIENT on MySQL)\n", user)
	}
	g("GRANT SELECT ON %s TO %s;\t-- the initial snapshot and the tables' definitions", on, user)
	if d.DB == "" {
		g(" (or on each mirrored database)")
	}
	g("\n")
	if isMySQL {
		g("GRANT RELOAD ON *.* TO %s;\t-- the initial snapshot: FLUSH TABLES WITH READ LOCK for milliseconds\n", user)
		g("-- or, instead of RELOAD (snapshot_strategy: table_locks): GRANT LOCK TABLES ON %s TO %s;\n", on, user)
	} else {
		g("-- The initial snapshot needs no lock on MariaDB (snapshot_strategy auto: binlog_snapshot).\n")
	}
	gw.Flush()
	p("\nnext: binlake check -c %s\n", path)
	_, err := io.WriteString(w, b.String())
	return err
}
