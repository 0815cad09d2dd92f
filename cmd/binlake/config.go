package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/binlake/binlake/compaction"
	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/query"
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
	// Threads DuckDB may use (0: 2).
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

func defaultConfig() Config {
	return Config{
		Warehouse: WarehouseConfig{S3: S3Config{Region: "us-east-1", UseTLS: true, RequestTimeout: 30 * time.Second, MaxRetries: 5}},
		Lake:      LakeConfig{CheckpointInterval: 100},
		Source:    SourceConfig{Flavor: "mariadb", Port: 3306, Heartbeat: 10 * time.Second, TLS: TLSConfig{Mode: "disabled"}, Snapshot: "auto"},
		Serve:     ServeConfig{Listen: "127.0.0.1:9465", MaxRows: 100_000, MaxConcurrent: 4},
		Query: QueryConfig{CacheMaxBytes: 10 << 30, Threads: 2, MemoryLimit: "1GB", Timeout: 5 * time.Minute, MaxSpill: "10GB",
			MaterializeRows: query.DefaultMaterializeRows},
		Ingest: IngestConfig{CommitInterval: 500 * time.Millisecond, MaxBatchBytes: 48 << 20, MemoryBudget: 128 << 20, UploadParallelism: 4, Listen: "127.0.0.1:9464", MemoryLimit: 240 << 20},
		Compaction: CompactionConfig{Retain: 168 * time.Hour, Grace: time.Hour,
			SnapshotMinRows: compaction.DefaultSnapshotMinRows, SnapshotMinFiles: compaction.DefaultSnapshotMinFiles,
			SnapshotFraction: compaction.DefaultSnapshotFraction, MergeMinFiles: compaction.DefaultMergeMinFiles,
			SmallFileBytes: compaction.DefaultSmallFileBytes, TargetFileBytes: compaction.DefaultTargetFileBytes},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// configError is a bad configuration: exit code 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// loadConfig reads path (if not empty), then the environment, then secret
// files, and validates the result.
func loadConfig(path string, env func(string) (string, bool)) (*Config, error) {
	cfg := defaultConfig()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, &configError{fmt.Sprintf("config %s: %v", path, err)}
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, &configError{fmt.Sprintf("config %s: %v", path, cleanYAMLError(err))}
		}
	}
	var errs []string
	walkConfig(reflect.ValueOf(&cfg).Elem(), "", func(key string, f reflect.Value, secret bool) {
		name := envName(key)
		if v, ok := env(name); ok {
			if err := setValue(f, v); err != nil {
				errs = append(errs, fmt.Sprintf("%s (from %s): %v", key, name, err))
			}
		}
		if !secret {
			return
		}
		if file, ok := env(name + "_FILE"); ok {
			b, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: reading %s_FILE: %v", key, name, err))
				return
			}
			f.SetString(strings.TrimRight(string(b), "\r\n"))
		}
	})
	if len(errs) > 0 {
		return nil, &configError{"bad configuration:\n  " + strings.Join(errs, "\n  ")}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: (unmarshal errors:\n\s*)?`)

func cleanYAMLError(err error) string {
	return yamlLineRE.ReplaceAllString(err.Error(), "")
}

var sourceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate reports every problem at once, each with its key and a hint.
func (c *Config) Validate() error {
	var errs []string
	bad := func(key, format string, a ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, a...))
	}
	if !sourceNameRE.MatchString(c.Source.Name) {
		bad("source.name", "%q must be 1–63 characters of a-z, 0-9, _ and -, starting with a letter or digit (it names the lake's folder)", c.Source.Name)
	}
	switch {
	case c.Warehouse.URL == "":
		bad("warehouse.url", "missing: give file:///absolute/path or s3://bucket/prefix")
	case strings.HasPrefix(c.Warehouse.URL, "s3://"):
		s := c.Warehouse.S3
		if s.Endpoint == "" {
			bad("warehouse.s3.endpoint", "missing: host:port of the S3 service (e.g. s3.amazonaws.com or 127.0.0.1:9000)")
		}
		if s.AccessKeyID == "" || s.SecretAccessKey == "" {
			bad("warehouse.s3.access_key_id", "an s3:// warehouse needs access_key_id and secret_access_key (or BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY[_FILE])")
		}
		if s.RequestTimeout <= 0 {
			bad("warehouse.s3.request_timeout", "must be positive, e.g. 30s")
		}
		if s.MaxRetries < 0 {
			bad("warehouse.s3.max_retries", "must not be negative")
		}
	case strings.HasPrefix(c.Warehouse.URL, "file://"):
	default:
		bad("warehouse.url", "%q: the scheme must be file:// or s3://", c.Warehouse.URL)
	}
	if c.Source.Snapshot != "auto" && c.Source.Snapshot != "never" && c.Source.Snapshot != "always" {
		bad("source.snapshot", "%q: use auto, never or always", c.Source.Snapshot)
	}
	if _, err := mysql.ParseSnapshotStrategy(c.Source.SnapshotStrategy); err != nil {
		bad("source.snapshot_strategy", "%v", err)
	}
	if c.Query.CacheMaxBytes <= 0 || c.Query.Threads <= 0 || c.Query.Timeout <= 0 || c.Query.MemoryLimit == "" || c.Query.MaxSpill == "" {
		bad("query", "cache_max_bytes, threads, memory_limit, max_spill and timeout must be set and positive")
	}
	if c.Query.MaterializeRows < 0 {
		bad("query.materialize_rows", "must be 0 (never) or a number of rows")
	}
	if c.Serve.MaxRows <= 0 || c.Serve.MaxConcurrent <= 0 {
		bad("serve", "max_rows and max_concurrent must be positive")
	}
	if c.Source.Flavor != "mariadb" && c.Source.Flavor != "mysql" {
		bad("source.flavor", "%q: use mariadb or mysql", c.Source.Flavor)
	}
	for _, p := range append(slices.Clone(c.Source.Include), c.Source.Exclude...) {
		if _, err := path.Match(p, "db.table"); err != nil || !strings.Contains(p, ".") {
			bad("source.include/exclude", "%q: write db.table patterns such as shop.* or *.orders", p)
		}
	}
	switch c.Source.TLS.Mode {
	case "disabled", "required", "verify-ca", "verify-full":
	default:
		bad("source.tls.mode", "%q: use disabled, required, verify-ca or verify-full", c.Source.TLS.Mode)
	}
	if (c.Source.TLS.Mode == "verify-ca" || c.Source.TLS.Mode == "verify-full") && c.Source.TLS.CAFile == "" {
		bad("source.tls.ca_file", "tls mode %s needs the CA certificate file that signed the server's certificate", c.Source.TLS.Mode)
	}
	if c.Ingest.CommitInterval <= 0 || c.Ingest.MaxBatchBytes <= 0 || c.Ingest.MemoryBudget <= 0 || c.Ingest.UploadParallelism <= 0 {
		bad("ingest", "commit_interval, max_batch_bytes, memory_budget and upload_parallelism must be positive")
	}
	if c.Compaction.Retain <= 0 {
		bad("compaction.retain", "%s: must be positive, e.g. 168h", c.Compaction.Retain)
	}
	if c.Compaction.Interval < 0 {
		bad("compaction.interval", "%s: must be 0 (never) or positive, e.g. 1h", c.Compaction.Interval)
	}
	if err := c.Compaction.policy().Validate(); err != nil {
		bad("compaction", "%v", err)
	}
	if c.Compaction.Grace <= 0 {
		bad("compaction.grace", "%s: must be positive, e.g. 1h (longer than any write takes)", c.Compaction.Grace)
	}
	if c.Lake.CheckpointInterval < 1 {
		bad("lake.checkpoint_interval", "must be at least 1 (default 100)")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: use text or json", c.Log.Format)
	}
	if len(errs) > 0 {
		return &configError{"bad configuration:\n  " + strings.Join(errs, "\n  ")}
	}
	return nil
}

// validateConnection reports what a command that connects to the source
// needs beyond Validate.
func (c *Config) validateConnection() error {
	var errs []string
	if c.Source.Host == "" {
		errs = append(errs, "source.host: missing: the MySQL/MariaDB server's host name or address")
	}
	if c.Source.Port < 1 || c.Source.Port > 65535 {
		errs = append(errs, fmt.Sprintf("source.port: %d is not a TCP port", c.Source.Port))
	}
	if c.Source.User == "" {
		errs = append(errs, "source.user: missing: a user with REPLICATION SLAVE, BINLOG MONITOR (REPLICATION CLIENT on MySQL) and SELECT")
	}
	if c.Source.ServerID < 1 || c.Source.ServerID > 1<<32-1 {
		errs = append(errs, "source.server_id: missing or out of range: a number 1…4294967295 that no other replica of the source uses")
	}
	if len(errs) > 0 {
		return &configError{"bad configuration:\n  " + strings.Join(errs, "\n  ")}
	}
	return nil
}

// walkConfig calls fn for every leaf of a config struct with its dotted key.
func walkConfig(v reflect.Value, prefix string, fn func(key string, f reflect.Value, secret bool)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			walkConfig(f, key, fn)
			continue
		}
		fn(key, f, f.Type() == reflect.TypeFor[secret.String]())
	}
}

func envName(key string) string {
	return "BINLAKE_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

func setValue(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 5m)", s)
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.SetBool(b)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment")
		}
		var items []string
		for it := range strings.SplitSeq(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		f.Set(reflect.ValueOf(items))
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		f.SetFloat(x)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
