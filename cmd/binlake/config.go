package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/binlake/binlake/compaction"
	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/query"
	"github.com/binlake/binlake/tableformat"
)

// Config is binlake.yaml. Every key can be overridden from the environment
// as BINLAKE_<PATH> (for example warehouse.s3.endpoint is
// BINLAKE_WAREHOUSE_S3_ENDPOINT). A key marked secret can also be read from
// a file named by BINLAKE_<PATH>_FILE; secrets (secret.String) are never printed.
type Config struct {
	Source     SourceConfig     `yaml:"source"`
	Warehouse  WarehouseConfig  `yaml:"warehouse"`
	Lake       LakeConfig       `yaml:"lake"`
	Ingest     IngestConfig     `yaml:"ingest"`
	Query      QueryConfig      `yaml:"query"`
	Serve      ServeConfig      `yaml:"serve"`
	Compaction CompactionConfig `yaml:"compaction"`
	Log        LogConfig        `yaml:"log"`
}

// CompactionConfig configures binlake compact and vacuum.
type CompactionConfig struct {
	// Retain is the time-travel window: vacuum keeps the history of the
	// last Retain and removes what only older points need.
	Retain time.Duration `yaml:"retain"`
	// Grace is how long vacuum leaves an object the lake no longer names in
	// storage (readers that pinned an older version keep working), and how
	// old an unnamed upload must be before it counts as an orphan.
	Grace time.Duration `yaml:"grace"`
	// Interval runs compaction (the policy below) inside the ingest
	// daemon this often; 0 never (run binlake compact from cron instead).
	Interval time.Duration `yaml:"interval"`
	// The policy (compaction.Policy): a table gets a snapshot once the
	// deltas after its latest one hold SnapshotMinRows rows, number
	// SnapshotMinFiles files, or hold SnapshotFraction of the snapshot's
	// rows; runs of MergeMinFiles delta files under SmallFileBytes are
	// merged; files are written about TargetFileBytes big.
	SnapshotMinRows  int64   `yaml:"snapshot_min_rows"`
	SnapshotMinFiles int     `yaml:"snapshot_min_files"`
	SnapshotFraction float64 `yaml:"snapshot_fraction"`
	MergeMinFiles    int     `yaml:"merge_min_files"`
	SmallFileBytes   int64   `yaml:"small_file_bytes"`
	TargetFileBytes  int64   `yaml:"target_file_bytes"`
}

// ServeConfig configures binlake serve.
type ServeConfig struct {
	// Listen is the HTTP address of /query, /metrics and /healthz.
	Listen string `yaml:"listen"`
	// MaxRows caps the rows of one answer (the rest is cut, and the
	// X-Binlake-Truncated trailer says so).
	MaxRows int64 `yaml:"max_rows"`
	// MaxConcurrent bounds the queries running at once; more wait.
	MaxConcurrent int `yaml:"max_concurrent"`
}

// QueryConfig configures the embedded DuckDB of query and serve.
type QueryConfig struct {
	// CacheDir holds the lake files queries read (verified copies); shared
	// by every binlake process on the machine. Default: the user's cache
	// directory (~/.cache/binlake).
	CacheDir string `yaml:"cache_dir"`
	// CacheMaxBytes bounds the cache; least recently used files go first.
	CacheMaxBytes int64 `yaml:"cache_max_bytes"`
	// Threads DuckDB may use.
	Threads int `yaml:"threads"`
	// MemoryLimit bounds DuckDB's memory, e.g. "1GB"; past it, DuckDB
	// spills to the cache directory.
	MemoryLimit string `yaml:"memory_limit"`
	// Timeout bounds each statement.
	Timeout time.Duration `yaml:"timeout"`
	// MaxSpill bounds one session's temporary files, e.g. "10GB".
	MaxSpill string `yaml:"max_spill"`
	// MaterializeRows: a long-lived reader (serve, an interactive query)
	// writes a local snapshot of a table whose view merges at least this
	// many delta rows, in the background, into the cache; 0 never.
	MaterializeRows int64 `yaml:"materialize_rows"`
}

// SourceConfig names the source database whose lake this is and says how
// to reach it.
type SourceConfig struct {
	// Name is the lake's name: its folder under the warehouse.
	Name     string        `yaml:"name"`
	Flavor   string        `yaml:"flavor"` // mariadb or mysql
	Host     string        `yaml:"host"`
	Port     int           `yaml:"port"`
	User     string        `yaml:"user"`
	Password secret.String `yaml:"password"`
	// ServerID is binlake's replica id: unique among the source's replicas.
	ServerID int64     `yaml:"server_id"`
	TLS      TLSConfig `yaml:"tls"`
	// Include and Exclude are db.table patterns (path.Match: "shop.*",
	// "*.orders"); a table is mirrored when it matches an Include pattern
	// (every table when Include is empty) and no Exclude pattern.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Heartbeat is how often an idle source is asked to prove it is alive.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// SnapshotStrategy is how the initial snapshot gets a binlog position
	// consistent with its read (docs/snapshot.md): auto, binlog_snapshot
	// (MariaDB, lock-free), global_read_lock (FLUSH TABLES WITH READ LOCK
	// for a moment; needs RELOAD) or table_locks (LOCK TABLES … READ on the
	// mirrored tables for a moment; needs LOCK TABLES).
	SnapshotStrategy string `yaml:"snapshot_strategy"`
	// Snapshot: auto (a new lake starts with a consistent snapshot of the
	// existing rows), never (a new lake starts at the binlog's current
	// position), always (every start takes a new snapshot that replaces the
	// lake's contents; history is kept).
	Snapshot string `yaml:"snapshot"`
	// OnPositionLost is what ingest does when the source no longer has the
	// binlog the lake needs: fail (exit 6) or resnapshot (go on from the
	// source's current position and re-read every table; the lake records
	// the gap, FORMAT.md §16).
	OnPositionLost string `yaml:"on_position_lost"`
}

// TLSConfig secures the connection to the source.
type TLSConfig struct {
	// Mode: disabled, required (encrypted, unverified), verify-ca (the
	// server's certificate is signed by CAFile) or verify-full (and names
	// ServerName, or the host).
	Mode       string `yaml:"mode"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
}

// IngestConfig tunes the ingest pipeline.
type IngestConfig struct {
	// CommitInterval is the group commit: how long committed source
	// transactions may wait for the lake commit that holds them.
	CommitInterval time.Duration `yaml:"commit_interval"`
	// MaxBatchBytes closes a batch early at this many buffered bytes.
	MaxBatchBytes int64 `yaml:"max_batch_bytes"`
	// MemoryBudget bounds the rows held in memory; a bigger transaction is
	// spilled to files as it arrives.
	MemoryBudget int64 `yaml:"memory_budget"`
	// UploadParallelism bounds concurrent file uploads.
	UploadParallelism int `yaml:"upload_parallelism"`
	// Listen is the address of /metrics, /healthz and /readyz ("" turns
	// them off).
	Listen string `yaml:"listen"`
	// MemoryLimit is the soft limit of the daemon's memory (the Go runtime's
	// GOMEMLIMIT, which the environment variable overrides); 0: none.
	MemoryLimit int64 `yaml:"memory_limit"`
	// Pprof serves Go's profiles (net/http/pprof) under /debug/pprof/ on
	// Listen.
	Pprof bool `yaml:"pprof"`
}

// WarehouseConfig says where lakes live.
type WarehouseConfig struct {
	// URL is file:///path (a local directory) or s3://bucket/prefix.
	URL string   `yaml:"url"`
	S3  S3Config `yaml:"s3"`
}

// S3Config configures an S3-compatible store.
type S3Config struct {
	Endpoint        string        `yaml:"endpoint"`
	Region          string        `yaml:"region"`
	AccessKeyID     string        `yaml:"access_key_id"`
	SecretAccessKey secret.String `yaml:"secret_access_key"`
	SessionToken    secret.String `yaml:"session_token"`
	UseTLS          bool          `yaml:"use_tls"`
	CAFile          string        `yaml:"ca_file"`
	RequestTimeout  time.Duration `yaml:"request_timeout"`
	MaxRetries      int           `yaml:"max_retries"`
}

// LakeConfig configures new lakes.
type LakeConfig struct {
	// CheckpointInterval applies when the lake is created.
	CheckpointInterval int64 `yaml:"checkpoint_interval"`
}

// LogConfig configures binlake's own logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// defaultMemoryLimit is the ingest daemon's soft memory limit
// (ingest.memory_limit, the Go runtime's GOMEMLIMIT) unless told otherwise,
// which the daemon with the ingest defaults keeps to in steady ingest
// (docs/operations.md). It is the command's, not the ingest package's: it
// limits the whole process.
const defaultMemoryLimit = 240 << 20

func defaultConfig() Config {
	return Config{
		// An S3Config with no region asks the server for it; the config
		// names AWS's first region, which MinIO answers to as well.
		Warehouse: WarehouseConfig{S3: S3Config{Region: "us-east-1", UseTLS: true, RequestTimeout: objstore.DefaultRequestTimeout,
			MaxRetries: objstore.DefaultMaxRetries}},
		Lake: LakeConfig{CheckpointInterval: tableformat.DefaultCheckpointInterval},
		Source: SourceConfig{Flavor: mysql.DefaultFlavor, Port: mysql.DefaultPort, Heartbeat: mysql.DefaultHeartbeat,
			TLS: TLSConfig{Mode: "disabled"}, Snapshot: "auto", OnPositionLost: "fail"},
		Serve: ServeConfig{Listen: "127.0.0.1:9465", MaxRows: 100_000, MaxConcurrent: 4},
		Query: QueryConfig{CacheMaxBytes: query.DefaultCacheMaxBytes, Threads: query.DefaultThreads, MemoryLimit: query.DefaultMemoryLimit,
			Timeout: query.DefaultTimeout, MaxSpill: query.DefaultMaxSpill, MaterializeRows: query.DefaultMaterializeRows},
		Ingest: IngestConfig{CommitInterval: ingest.DefaultCommitInterval, MaxBatchBytes: ingest.DefaultMaxBatchBytes,
			MemoryBudget: ingest.DefaultMemoryBudget, UploadParallelism: ingest.DefaultUploadParallelism, Listen: "127.0.0.1:9464",
			MemoryLimit: defaultMemoryLimit},
		Compaction: CompactionConfig{Retain: compaction.DefaultRetain, Grace: compaction.DefaultGrace,
			SnapshotMinRows: compaction.DefaultSnapshotMinRows, SnapshotMinFiles: compaction.DefaultSnapshotMinFiles,
			SnapshotFraction: compaction.DefaultSnapshotFraction, MergeMinFiles: compaction.DefaultMergeMinFiles,
			SmallFileBytes: compaction.DefaultSmallFileBytes, TargetFileBytes: compaction.DefaultTargetFileBytes},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// configError is a bad configuration: exit code 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// problem is one thing wrong with a configuration: the key it is about (a
// dotted path such as source.port, or an environment variable), where the
// value came from (a line of the file, or an environment variable), and
// what is wrong, with a hint at what to write instead. A problem never
// shows a secret's value.
type problem struct {
	key  string
	line int    // line of the file; 0 when not from the file
	from string // the environment variable the value came from, if any
	msg  string
}

func (p problem) String() string {
	switch {
	case p.line > 0:
		return fmt.Sprintf("%s (line %d): %s", p.key, p.line, p.msg)
	case p.from != "":
		return fmt.Sprintf("%s (from %s): %s", p.key, p.from, p.msg)
	}
	return p.key + ": " + p.msg
}

// problemsError is the configError that lists ps under header.
func problemsError(header string, ps []problem) error {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return &configError{header + ":\n  " + strings.Join(lines, "\n  ")}
}

var sourceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate reports every problem at once, each with its key and a hint.
func (c *Config) Validate() error {
	if ps := c.problems(); len(ps) > 0 {
		return problemsError("bad configuration", ps)
	}
	return nil
}

// problems is what Validate reports.
func (c *Config) problems() []problem {
	var ps []problem
	bad := func(key, format string, a ...any) {
		ps = append(ps, problem{key: key, msg: fmt.Sprintf(format, a...)})
	}
	s := c.Source
	switch {
	case s.Name == "":
		bad("source.name", "missing: name the lake (its folder under the warehouse) with 1–63 characters of a-z, 0-9, _ and -, such as shop")
	case !sourceNameRE.MatchString(s.Name):
		bad("source.name", "%q must be 1–63 characters of a-z, 0-9, _ and -, starting with a letter or digit (it names the lake's folder)", s.Name)
	}
	// The port and the server id must fit the binlog source's uint16 and
	// uint32 before they are converted.
	if s.Port < 1 || s.Port > 65535 {
		bad("source.port", "%d is not a TCP port: use 1…65535 (MariaDB and MySQL listen on %d unless told otherwise)", s.Port, mysql.DefaultPort)
	}
	if s.ServerID < 0 || s.ServerID > 1<<32-1 {
		bad("source.server_id", "%d is out of range: a number 1…4294967295 that no other replica of the source uses", s.ServerID)
	}
	fieldProblems("source", mysql.SourceConfig{Flavor: s.Flavor, HeartbeatPeriod: s.Heartbeat}.Validate(),
		map[string]string{"heartbeat_period": "source.heartbeat"}, bad)
	for _, list := range []struct {
		key      string
		patterns []string
	}{{"source.include", s.Include}, {"source.exclude", s.Exclude}} {
		for i, p := range list.patterns {
			if err := checkTablePattern(p); err != nil {
				bad(fmt.Sprintf("%s[%d]", list.key, i), "%v", err)
			}
		}
	}
	if s.Snapshot != "auto" && s.Snapshot != "never" && s.Snapshot != "always" {
		bad("source.snapshot", "%q: use auto, never or always", s.Snapshot)
	}
	if s.OnPositionLost != "fail" && s.OnPositionLost != "resnapshot" {
		bad("source.on_position_lost", "%q: use fail (exit 6) or resnapshot (go on from the source's position, re-read every table)", s.OnPositionLost)
	}
	if _, err := mysql.ParseSnapshotStrategy(s.SnapshotStrategy); err != nil {
		bad("source.snapshot_strategy", "%v", err)
	}
	switch s.TLS.Mode {
	case "disabled":
		if s.TLS.CAFile != "" {
			bad("source.tls.mode", "disabled, but source.tls.ca_file is set: set mode verify-ca or verify-full to check the server's "+
				"certificate with it (or remove ca_file to connect unencrypted)")
		}
	case "required":
	case "verify-ca", "verify-full":
		if s.TLS.CAFile == "" {
			bad("source.tls.ca_file", "missing: tls mode %s needs the CA certificate file (PEM) that signed the server's certificate", s.TLS.Mode)
		}
	default:
		bad("source.tls.mode", "%q: use disabled, required, verify-ca or verify-full", s.TLS.Mode)
	}

	c.warehouseProblems(bad)

	i := c.Ingest
	fieldProblems("ingest", i.options().Validate(), nil, bad)
	if i.MemoryLimit > 0 && i.MemoryBudget > i.MemoryLimit/2 {
		// Measured: while a budget's worth of rows is written out, about
		// one and a half times the budget is live, and the Go heap grows
		// to twice what is live.
		bad("ingest.memory_budget", "%d is more than half of ingest.memory_limit (%d): the daemon needs about three times the budget "+
			"while it spills a big transaction; lower memory_budget to a quarter of memory_limit or raise memory_limit", i.MemoryBudget, i.MemoryLimit)
	}
	if i.MemoryLimit < 0 {
		bad("ingest.memory_limit", "%d: must be 0 (no limit) or a number of bytes, such as %d (%s)", i.MemoryLimit,
			defaultMemoryLimit, settings.Bytes(defaultMemoryLimit))
	}
	listenProblem("ingest.listen", i.Listen, bad)

	// cache_max_bytes (OpenCache's bound, which takes 0 for its default)
	// and materialize_rows (whose 0 turns Options.Materialize off) mean
	// what they mean only here, so their rules are the config's.
	q := c.Query
	if q.CacheMaxBytes <= 0 {
		bad("query.cache_max_bytes", "%d: must be a positive number of bytes, such as %d (%s)", q.CacheMaxBytes,
			query.DefaultCacheMaxBytes, settings.Bytes(query.DefaultCacheMaxBytes))
	}
	fieldProblems("query", q.options().Validate(), nil, bad)
	if q.MaterializeRows < 0 {
		bad("query.materialize_rows", "%d: must be 0 (never) or a number of rows, such as %d", q.MaterializeRows, query.DefaultMaterializeRows)
	}

	if c.Serve.MaxRows <= 0 {
		bad("serve.max_rows", "%d: must be at least 1, such as 100000", c.Serve.MaxRows)
	}
	if c.Serve.MaxConcurrent <= 0 {
		bad("serve.max_concurrent", "%d: must be at least 1, such as 4", c.Serve.MaxConcurrent)
	}
	listenProblem("serve.listen", c.Serve.Listen, bad)

	c.compactionProblems(bad)

	if c.Lake.CheckpointInterval < 1 {
		bad("lake.checkpoint_interval", "%d: must be at least 1 (default %d)", c.Lake.CheckpointInterval, tableformat.DefaultCheckpointInterval)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: use text or json", c.Log.Format)
	}
	return ps
}

func (c *Config) warehouseProblems(bad func(key, format string, a ...any)) {
	w := c.Warehouse
	var wh objstore.Warehouse
	switch {
	case w.URL == "":
		bad("warehouse.url", "missing: give file:///absolute/path (a local directory) or s3://bucket/prefix")
		return
	case strings.HasPrefix(w.URL, "/"):
		bad("warehouse.url", "%q has no scheme: write file://%s (a local directory)", w.URL, w.URL)
		return
	default:
		var err error
		if wh, err = objstore.ParseWarehouse(w.URL); err != nil {
			// objstore also takes a bare absolute path; the config does
			// not (docs/configuration.md), so its hint must not offer one.
			bad("warehouse.url", "%s", strings.Replace(err.Error(), ", an absolute path,", "", 1))
			return
		}
	}
	if wh.Scheme != "s3" {
		return
	}
	s := w.S3
	store := s.store().In(wh)
	// 0s is no way to ask for the default request timeout here, so the
	// store's defaults are not applied before Validate.
	fieldProblems("warehouse.s3", store.Validate(), map[string]string{"access_key": "warehouse.s3.access_key_id",
		"secret_key": "warehouse.s3.secret_access_key", "ca_cert_file": "warehouse.s3.ca_file",
		"bucket": "warehouse.url", "prefix": "warehouse.url"}, bad)
	// The store takes a negative number for no retries; the config does not.
	if s.MaxRetries < 0 {
		bad("warehouse.s3.max_retries", "%d: must be 0 (no retries) or more, such as %d", s.MaxRetries, objstore.DefaultMaxRetries)
	}
	if s.CAFile != "" {
		if err := regularFile(s.CAFile); err != nil {
			bad("warehouse.s3.ca_file", "%v: give the PEM file of the CA that signed the endpoint's certificate", err)
		}
	}
}

// store is the S3 store's configuration the config gives (objstore reads
// the bucket and prefix from the warehouse URL).
func (c S3Config) store() objstore.S3Config {
	retries := c.MaxRetries
	if retries == 0 {
		retries = -1 // the config's 0 is "no retries"; objstore's 0 is its default
	}
	return objstore.S3Config{Endpoint: c.Endpoint, Region: c.Region, AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey,
		SessionToken: c.SessionToken, UseTLS: c.UseTLS, CACertFile: c.CAFile, RequestTimeout: c.RequestTimeout, MaxRetries: retries}
}

func (c *Config) compactionProblems(bad func(key, format string, a ...any)) {
	p := c.Compaction
	if p.Interval < 0 {
		bad("compaction.interval", "%s: must be 0s (never) or positive, such as 1h", p.Interval)
	}
	vacuum := p.vacuumOptions()
	fieldProblems("compaction", vacuum.Validate(), nil, bad)
	fieldProblems("compaction", p.policy().Validate(), nil, bad)
}

// options are the pipeline's options as the config gives them: its keys
// as they stand (0 is no way to ask for a default here), the rest the
// pipeline's defaults.
func (c IngestConfig) options() ingest.Options {
	o := ingest.Options{}.WithDefaults()
	o.CommitInterval, o.MaxBatchBytes, o.MemoryBudget, o.UploadParallelism = c.CommitInterval, c.MaxBatchBytes, c.MemoryBudget, c.UploadParallelism
	return o
}

// options are the engine's options as the config gives them: its keys as
// they stand, the rest the engine's defaults. Materialize, Meta and Logger
// are the command's to set.
func (c QueryConfig) options() query.Options {
	o := query.Options{}.WithDefaults()
	o.Threads, o.MemoryLimit, o.Timeout, o.MaxSpill, o.MaterializeRows = c.Threads, c.MemoryLimit, c.Timeout, c.MaxSpill, c.MaterializeRows
	return o
}

// vacuumOptions are vacuum's options as the config gives them: retain and
// grace as they stand (0 is no way to ask for a default here), the rest
// vacuum's defaults.
func (c CompactionConfig) vacuumOptions() compaction.VacuumOptions {
	o := (&compaction.VacuumOptions{}).WithDefaults()
	o.Retain, o.Grace = c.Retain, c.Grace
	return o
}

// fieldProblems reports the problems a package's Validate found (err) under
// the config's keys: a field is the key of its name in section, unless
// renamed maps it to another key. A field renamed to a key outside section
// is a part of that key's value (the bucket, of warehouse.url), so the
// message names the field.
func fieldProblems(section string, err error, renamed map[string]string, bad func(key, format string, a ...any)) {
	key := func(field string) string {
		if k, ok := renamed[field]; ok {
			return k
		}
		return section + "." + field
	}
	for _, p := range settings.ProblemsIn(err) {
		k, msg := key(p.Field), p.Text(key)
		if !strings.HasPrefix(k, section+".") {
			msg = p.Field + " " + msg
		}
		if p.Missing {
			msg += whereToSet(k)
		}
		bad(k, "%s", msg)
	}
}

// whereToSet says where the key's value can be given: a secret in the
// environment or a file (never in the config file), others here too.
func whereToSet(key string) string {
	cfg := defaultConfig()
	secret := false
	walkConfig(reflect.ValueOf(&cfg).Elem(), "", func(k string, _ reflect.Value, isSecret bool) {
		secret = secret || k == key && isSecret
	})
	if secret {
		return fmt.Sprintf(": set %s, or %s_FILE naming a file that holds it", envName(key), envName(key))
	}
	return fmt.Sprintf(" (here, or %s)", envName(key))
}

// listenProblem checks a host:port to listen on ("" is allowed: off).
func listenProblem(key, addr string, bad func(key, format string, a ...any)) {
	if addr == "" {
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		bad(key, "%q is not host:port: write it like 127.0.0.1:9464 (:9464 listens on every interface)", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad(key, "%q: the port must be a number 0…65535, such as 127.0.0.1:9464", addr)
	}
}

// regularFile reports why path cannot be a file to read.
func regularFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file", path)
	case err != nil:
		return fmt.Errorf("%s: %s", path, pathErrText(err))
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", path)
	}
	return nil
}

// validateConnection reports what a command that connects to the source
// needs beyond Validate.
func (c *Config) validateConnection() error {
	var ps []problem
	bad := func(key, format string, a ...any) {
		ps = append(ps, problem{key: key, msg: fmt.Sprintf(format, a...)})
	}
	s := c.Source
	switch {
	case s.Host == "":
		bad("source.host", "missing: the MySQL/MariaDB server's host name or address")
	case strings.Contains(s.Host, "://"):
		bad("source.host", "%q: give the host name or address alone, without a scheme", s.Host)
	default:
		if _, _, err := net.SplitHostPort(s.Host); err == nil {
			bad("source.host", "%q holds a port: give the host alone here and the port as source.port", s.Host)
		}
	}
	if s.User == "" {
		bad("source.user", "missing: a user with REPLICATION SLAVE, BINLOG MONITOR (REPLICATION CLIENT on MySQL) and SELECT")
	}
	if s.ServerID < 1 { // Validate has seen to the upper bound
		bad("source.server_id", "missing or out of range: a number 1…4294967295 that no other replica of the source uses")
	}
	if (s.TLS.Mode == "verify-ca" || s.TLS.Mode == "verify-full") && s.TLS.CAFile != "" {
		if err := regularFile(s.TLS.CAFile); err != nil {
			bad("source.tls.ca_file", "%v: give the PEM file of the CA that signed the server's certificate", err)
		}
	}
	if len(ps) > 0 {
		return problemsError("bad configuration", ps)
	}
	return nil
}
