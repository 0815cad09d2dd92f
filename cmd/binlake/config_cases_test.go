package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Sentinel secrets: set in the environment of every bad-config case, so
// any message that prints a secret shows one of them.
const (
	sentinelPassword = "SENTINEL-PW-7f3a9c21e0"
	sentinelS3Secret = "SENTINEL-S3-4be0d1e8aa"
	sentinelS3Token  = "SENTINEL-TOK-9c2e77aa51"
	// sentinelInFile is a password written in the YAML file itself.
	sentinelInFile = "SENTINEL-PW-yaml-51d0b3"
	// sentinelMisnamed is the value of a variable binlake does not read.
	sentinelMisnamed = "SENTINEL-PW-misnamed-a4c8"
)

var sentinels = []string{sentinelPassword, sentinelS3Secret, sentinelS3Token, sentinelInFile, sentinelMisnamed}

// secretForms are the ways a secret can show up in output: as is, in
// base64 (standard and URL alphabets, padded or not) and URL-escaped.
func secretForms(s string) []string {
	return []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.RawStdEncoding.EncodeToString([]byte(s)),
		base64.URLEncoding.EncodeToString([]byte(s)), url.QueryEscape(s), url.PathEscape(s)}
}

// assertNoSecret fails if text holds a sentinel in any form.
func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range sentinels {
		for _, f := range secretForms(s) {
			if strings.Contains(text, f) {
				t.Errorf("%s shows the secret %s (as %q):\n%s", what, s, f, text)
			}
		}
	}
}

// badConfig is one configuration a user gets wrong.
type badConfig struct {
	name string
	// yaml is the config file ({{dir}} is the test's directory); args
	// run with -c <that file> appended unless they hold their own -c.
	yaml string
	args []string
	env  map[string]string // on top of the sentinel secrets
	// want: each must appear in the output (the key path and the hint).
	want []string
}

// Parts of configs.
const (
	goodSource = `source:
  name: shop
  host: 127.0.0.1
  port: 3306
  user: binlake
  server_id: 4242
`
	fileWarehouse = `warehouse:
  url: file://{{dir}}/wh
`
	s3Warehouse = `warehouse:
  url: s3://lake/lakes
  s3:
    endpoint: 127.0.0.1:9000
    access_key_id: binlake
    use_tls: false
`
	goodConfig = goodSource + fileWarehouse
)

func badConfigCases(dir string) []badConfig {
	pwDir := filepath.Join(dir, "pwdir")
	emptyPW := filepath.Join(dir, "empty-pw")
	return []badConfig{
		// The file is not YAML, or not one binlake reads.
		{name: "yaml syntax: an unclosed list", yaml: "source:\n  name: shop\n  include: [\"shop.*\"\n  host: db\n" + fileWarehouse,
			want: []string{"source", "(line ", "not valid YAML", "close every ["}},
		{name: "yaml syntax: a value with ': ' unquoted", yaml: goodSource + "warehouse:\n  url: file://{{dir}}/wh\n  s3: endpoint: x\n",
			want: []string{"warehouse.s3 (line 9)", "not valid YAML", `quote values that hold ": "`}},
		{name: "tab indentation", yaml: "source:\n  name: shop\n\tport: 3306\n" + fileWarehouse,
			want: []string{"source.port (line 3)", "indented with a tab", "spaces only"}},
		{name: "unknown key: warehouse.urll", yaml: goodSource + "warehouse:\n  urll: file://{{dir}}/wh\n",
			want: []string{"warehouse.urll (line 8)", "did you mean warehouse.url?"}},
		{name: "unknown key: source.hots", yaml: strings.Replace(goodConfig, "  host:", "  hots:", 1), args: []string{"check"},
			want: []string{"source.hots (line 3)", "did you mean source.host?"}},
		{name: "unknown key: a key outside its section", yaml: "name: shop\n" + fileWarehouse,
			want: []string{"name (line 1)", "did you mean source.name?", "indentation"}},
		{name: "unknown key: an s3 key under warehouse", yaml: goodSource + "warehouse:\n  url: s3://lake/x\n  endpoint: 127.0.0.1:9000\n",
			want: []string{"warehouse.endpoint (line 9)", "did you mean warehouse.s3.endpoint?"}},
		{name: "unknown key: a capitalised section", yaml: "Source:\n  name: shop\n" + fileWarehouse,
			want: []string{"Source (line 1)", "did you mean source?"}},
		{name: "unknown key: nothing like it", yaml: goodSource + "  frobnicate: true\n" + fileWarehouse,
			want: []string{"source.frobnicate (line 7)", "the keys of source are name, flavor, host"}},
		{name: "a key given twice", yaml: goodSource + "  port: 3307\n" + fileWarehouse,
			want: []string{"source.port (line 7)", "given twice (first at line 4)"}},
		{name: "a second YAML document", yaml: goodConfig + "---\nlog:\n  level: debug\n",
			want: []string{"--- (line 9)", "second YAML document"}},
		{name: "the top level is a list", yaml: "- source:\n    name: shop\n",
			want: []string{"(top level) (line 1)", "got a list", "source:, warehouse:"}},
		{name: "a section written as a value", yaml: "source: shop\n" + fileWarehouse,
			want: []string{"source (line 1)", `got "shop"; want a section of keys (name:, flavor:, host:`}},
		{name: "an empty file", yaml: "# nothing yet\n",
			want: []string{"holds no settings", "binlake init", "source.name: missing", "warehouse.url: missing"}},
		{name: "the config file does not exist", args: []string{"log", "-c", filepath.Join(dir, "nope.yaml")},
			want: []string{"nope.yaml (-c): no such file", "binlake init"}},
		{name: "the config path is a directory", args: []string{"log", "-c", dir},
			want: []string{"(-c) is a directory", "binlake.yaml"}},

		// Values of the wrong type.
		{name: "a string for the port", yaml: strings.Replace(goodConfig, "port: 3306", "port: abc", 1),
			want: []string{"source.port (line 4)", `got "abc"; want a whole number`}},
		{name: "a quoted port", yaml: strings.Replace(goodConfig, "port: 3306", `port: "3306"`, 1),
			want: []string{"source.port (line 4)", "no quotes"}},
		{name: "one pattern for include, not a list", yaml: goodSource + "  include: shop.*\n" + fileWarehouse,
			want: []string{"source.include (line 7)", `want a list, such as ["shop.*"`}},
		{name: "a list for the lake's name", yaml: strings.Replace(goodConfig, "name: shop", "name: [shop]", 1),
			want: []string{"source.name (line 2)", "got a list; want a single text value"}},
		{name: "a size with a unit", yaml: goodConfig + "ingest:\n  max_batch_bytes: 48MB\n",
			want: []string{"ingest.max_batch_bytes (line 10)", "a whole number of bytes", "units such as MB"}},
		{name: "a duration without a unit", yaml: goodConfig + "ingest:\n  commit_interval: 500\n",
			want: []string{"ingest.commit_interval (line 10)", "a duration", "500ms"}},
		{name: "a duration in words", yaml: goodSource + "  heartbeat: 10 minutes\n" + fileWarehouse,
			want: []string{"source.heartbeat (line 7)", `got "10 minutes"; want a duration`, "no space"}},
		{name: "a boolean in words", yaml: goodSource + strings.Replace(s3Warehouse, "use_tls: false", "use_tls: maybe", 1),
			want: []string{"warehouse.s3.use_tls (line 12)", "true or false"}},
		{name: "a percentage for a fraction", yaml: goodConfig + "compaction:\n  snapshot_fraction: 10%\n",
			want: []string{"compaction.snapshot_fraction (line 10)", "a number, such as 0.1"}},
		{name: "a secret written as a list", yaml: goodSource + "  password: [" + sentinelInFile + "]\n" + fileWarehouse,
			want: []string{"source.password (line 7)", "got a list; want a single text value"}},
		{name: "a secret in an unclosed quote", yaml: goodSource + "  password: \"" + sentinelInFile + "\n" + fileWarehouse,
			want: []string{"(line ", "not valid YAML", "close every [ { and quote"}},

		// Values out of range or missing.
		{name: "port out of range", yaml: strings.Replace(goodConfig, "port: 3306", "port: 70000", 1),
			want: []string{"source.port: 70000 is not a TCP port", "1…65535"}},
		{name: "negative server_id", yaml: strings.Replace(goodConfig, "server_id: 4242", "server_id: -1", 1),
			want: []string{"source.server_id: -1 is out of range", "1…4294967295"}},
		{name: "server_id missing (check)", yaml: strings.Replace(goodConfig, "  server_id: 4242\n", "", 1), args: []string{"check"},
			want: []string{"source.server_id", "no other replica of the source uses"}},
		{name: "host missing (ingest)", yaml: strings.Replace(goodConfig, "  host: 127.0.0.1\n", "", 1), args: []string{"ingest"},
			want: []string{"source.host: missing", "host name or address"}},
		{name: "host with a port (check)", yaml: strings.Replace(goodConfig, "host: 127.0.0.1", "host: db.example.com:3307", 1), args: []string{"check"},
			want: []string{"source.host", "holds a port", "source.port"}},
		{name: "zero upload parallelism", yaml: goodConfig + "ingest:\n  upload_parallelism: 0\n",
			want: []string{"ingest.upload_parallelism: 0: must be at least 1"}},
		{name: "negative commit interval", yaml: goodConfig + "ingest:\n  commit_interval: -1s\n",
			want: []string{"ingest.commit_interval: -1s: must be positive", "500ms"}},
		{name: "zero heartbeat", yaml: goodSource + "  heartbeat: 0s\n" + fileWarehouse,
			want: []string{"source.heartbeat: 0s: must be positive", "10s"}},
		{name: "zero query threads", yaml: goodConfig + "query:\n  threads: 0\n",
			want: []string{"query.threads: 0: must be at least 1"}},
		{name: "zero serve max_rows", yaml: goodConfig + "serve:\n  max_rows: 0\n",
			want: []string{"serve.max_rows: 0: must be at least 1"}},
		{name: "a listen address without host:port", yaml: goodConfig + "ingest:\n  listen: 9464\n",
			want: []string{"ingest.listen", `"9464" is not host:port`, "127.0.0.1:9464"}},
		{name: "a DuckDB memory limit in words", yaml: goodConfig + "query:\n  memory_limit: lots\n",
			want: []string{"query.memory_limit", `"lots"`, "512MB"}},
		{name: "source.name missing", yaml: strings.Replace(goodConfig, "  name: shop\n", "", 1),
			want: []string{"source.name: missing", "such as shop"}},
		{name: "source.name with capitals and a space", yaml: strings.Replace(goodConfig, "name: shop", "name: Shop Orders", 1),
			want: []string{"source.name", "a-z, 0-9, _ and -"}},
		{name: "warehouse.url missing", yaml: goodSource,
			want: []string{"warehouse.url: missing", "file:///absolute/path"}},

		// Warehouse URLs.
		{name: "s3:// without a bucket", yaml: goodSource + strings.Replace(s3Warehouse, "s3://lake/lakes", "s3://", 1),
			want: []string{"warehouse.url", "no bucket", "s3://bucket/prefix"}},
		{name: "an http:// warehouse", yaml: goodSource + "warehouse:\n  url: http://127.0.0.1:9000/lake\n",
			want: []string{"warehouse.url", `unknown scheme "http"`, "file:///absolute/path or s3://bucket/prefix"}},
		{name: "a relative warehouse path", yaml: goodSource + "warehouse:\n  url: data/lake\n",
			want: []string{"warehouse.url", "relative path", "file:///absolute/path"}},
		{name: "file://relative", yaml: goodSource + "warehouse:\n  url: file://data/lake\n",
			want: []string{"warehouse.url", "file:///data/lake (three slashes)"}},
		{name: "a bare absolute path", yaml: goodSource + "warehouse:\n  url: /var/lib/binlake\n",
			want: []string{"warehouse.url", "no scheme", "file:///var/lib/binlake"}},
		{name: "an s3 endpoint with the bucket in it", yaml: goodSource + strings.Replace(s3Warehouse, "endpoint: 127.0.0.1:9000", "endpoint: 127.0.0.1:9000/lake", 1),
			want: []string{"warehouse.s3.endpoint", "host:port only", "warehouse.url"}},
		{name: "an s3 warehouse without an access key", yaml: goodSource + strings.Replace(s3Warehouse, "    access_key_id: binlake\n", "", 1),
			want: []string{"warehouse.s3.access_key_id: missing", "BINLAKE_WAREHOUSE_S3_ACCESS_KEY_ID"}},
		{name: "an s3 bucket name S3 refuses", yaml: goodSource + strings.Replace(s3Warehouse, "s3://lake/lakes", "s3://lake..2024/lakes", 1),
			want: []string{"warehouse.url", `bucket "lake..2024"`}},
		{name: "an s3 ca_file with TLS off", yaml: goodSource + s3Warehouse + "    ca_file: /etc/hostname\n",
			want: []string{"warehouse.s3.ca_file", "use_tls is false", "set use_tls: true"}},
		{name: "credentials in the s3 endpoint", yaml: goodSource + strings.Replace(s3Warehouse, "endpoint: 127.0.0.1:9000",
			"endpoint: http://binlake:"+sentinelInFile+"@127.0.0.1:9000", 1),
			want: []string{"warehouse.s3.endpoint", "host:port only", "access_key_id"}},
		{name: "an s3 ca_file that does not exist", yaml: goodSource + s3Warehouse + "    ca_file: {{dir}}/no-ca.pem\n",
			want: []string{"warehouse.s3.ca_file", "no-ca.pem: no such file", "PEM file of the CA"}},

		// Choices.
		{name: "source.flavor postgres", yaml: goodSource + "  flavor: postgres\n" + fileWarehouse,
			want: []string{"source.flavor", `"postgres": use mariadb or mysql`}},
		{name: "source.snapshot yes", yaml: goodSource + "  snapshot: yes\n" + fileWarehouse,
			want: []string{"source.snapshot", "use auto, never or always"}},
		{name: "source.snapshot_strategy fast", yaml: goodSource + "  snapshot_strategy: fast\n" + fileWarehouse,
			want: []string{"source.snapshot_strategy", "want auto, binlog_snapshot, global_read_lock or table_locks"}},
		{name: "source.tls.mode on", yaml: goodSource + "  tls:\n    mode: on\n" + fileWarehouse,
			want: []string{"source.tls.mode", `"on": use disabled, required, verify-ca or verify-full`}},
		{name: "log.level verbose", yaml: goodConfig + "log:\n  level: verbose\n",
			want: []string{"log.level", "use debug, info, warn or error"}},
		{name: "log.format yaml", yaml: goodConfig + "log:\n  format: yaml\n",
			want: []string{"log.format", "use text or json"}},
		{name: "query --format xml", yaml: goodConfig, args: []string{"query", "--format", "xml", "SELECT 1"},
			want: []string{"--format", "csv"}},
		{name: "an include pattern without a database", yaml: goodSource + "  include: [\"shop.*\", orders]\n" + fileWarehouse,
			want: []string{"source.include[1]", `"orders": write db.table patterns`}},

		// TLS.
		{name: "verify-full without ca_file", yaml: goodSource + "  tls:\n    mode: verify-full\n" + fileWarehouse,
			want: []string{"source.tls.ca_file: missing", "CA certificate file"}},
		{name: "ca_file that does not exist (check)", yaml: goodSource + "  tls:\n    mode: verify-ca\n    ca_file: {{dir}}/ca.pem\n" + fileWarehouse,
			args: []string{"check"}, want: []string{"source.tls.ca_file", "ca.pem: no such file", "PEM file of the CA"}},
		{name: "ca_file with TLS disabled", yaml: goodSource + "  tls:\n    ca_file: {{dir}}/ca.pem\n" + fileWarehouse,
			want: []string{"source.tls.mode", "source.tls.ca_file is set", "verify-ca or verify-full"}},

		{name: "a memory budget above half the memory limit", yaml: goodConfig + "ingest:\n  memory_budget: 134217728\n  memory_limit: 201326592\n",
			want: []string{"ingest.memory_budget", "more than half of ingest.memory_limit (201326592)", "lower memory_budget"}},

		// Compaction.
		{name: "merge_min_files 1", yaml: goodConfig + "compaction:\n  merge_min_files: 1\n",
			want: []string{"compaction.merge_min_files: 1: must be at least 2"}},
		{name: "small files bigger than the target", yaml: goodConfig + "compaction:\n  small_file_bytes: 268435456\n  target_file_bytes: 134217728\n",
			want: []string{"compaction.small_file_bytes", "not below compaction.target_file_bytes (134217728)"}},
		{name: "a negative retention", yaml: goodConfig + "compaction:\n  retain: -168h\n",
			want: []string{"compaction.retain", "must be positive, such as 168h"}},
		{name: "target files under 1 MiB", yaml: goodConfig + "compaction:\n  target_file_bytes: 1000\n",
			want: []string{"compaction.target_file_bytes: 1000: must be at least 1048576"}},

		// Secret files.
		{name: "password file does not exist", yaml: goodConfig, env: map[string]string{"BINLAKE_SOURCE_PASSWORD_FILE": filepath.Join(dir, "no-pw")},
			want: []string{"source.password (from BINLAKE_SOURCE_PASSWORD_FILE)", "no-pw: no such file", "holds the secret alone"}},
		{name: "password file is a directory", yaml: goodConfig, env: map[string]string{"BINLAKE_SOURCE_PASSWORD_FILE": pwDir},
			want: []string{"source.password (from BINLAKE_SOURCE_PASSWORD_FILE)", "is a directory", "holds the secret alone"}},
		// /proc/self/mem cannot be read from offset 0 even by root, which
		// reads a file without permissions (the tests run as root).
		{name: "password file cannot be read", yaml: goodConfig, env: map[string]string{"BINLAKE_SOURCE_PASSWORD_FILE": "/proc/self/mem"},
			want: []string{"source.password (from BINLAKE_SOURCE_PASSWORD_FILE)", "cannot be read", "permissions"}},
		{name: "password file is empty", yaml: goodConfig, env: map[string]string{"BINLAKE_SOURCE_PASSWORD_FILE": emptyPW},
			want: []string{"source.password (from BINLAKE_SOURCE_PASSWORD_FILE)", "is empty"}},
		{name: "S3 secret file does not exist", yaml: goodSource + s3Warehouse,
			env:  map[string]string{"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY_FILE": filepath.Join(dir, "no-s3-secret")},
			want: []string{"warehouse.s3.secret_access_key (from BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY_FILE)", "no such file"}},

		// The environment.
		{name: "BINLAKE_SOURCE_PORT=abc", yaml: goodConfig, env: map[string]string{"BINLAKE_SOURCE_PORT": "abc"},
			want: []string{"source.port (from BINLAKE_SOURCE_PORT)", `got "abc"; want a whole number`}},
		{name: "BINLAKE_INGEST_COMMIT_INTERVAL=fast", yaml: goodConfig, env: map[string]string{"BINLAKE_INGEST_COMMIT_INTERVAL": "fast"},
			want: []string{"ingest.commit_interval (from BINLAKE_INGEST_COMMIT_INTERVAL)", "want a duration", "500ms"}},
		{name: "BINLAKE_WAREHOUSE_S3_USE_TLS=yes", yaml: goodSource + s3Warehouse, env: map[string]string{"BINLAKE_WAREHOUSE_S3_USE_TLS": "yes"},
			want: []string{"warehouse.s3.use_tls (from BINLAKE_WAREHOUSE_S3_USE_TLS)", "true or false"}},
		{name: "BINLAKE_SOURCE_PORT out of range", yaml: goodConfig, env: map[string]string{"BINLAKE_SOURCE_PORT": "0"},
			want: []string{"source.port: 0 is not a TCP port"}},
		{name: "a _FILE variable for a key that is not a secret", yaml: goodConfig, env: map[string]string{"BINLAKE_SOURCE_HOST_FILE": "/etc/hostname"},
			want: []string{"source.host (from BINLAKE_SOURCE_HOST_FILE)", "only secrets", "set BINLAKE_SOURCE_HOST itself"}},
		{name: "a variable without its section", yaml: goodConfig, env: map[string]string{"BINLAKE_PASSWORD": sentinelMisnamed},
			want: []string{"BINLAKE_PASSWORD: binlake reads no such variable", "did you mean BINLAKE_SOURCE_PASSWORD?"}},
		{name: "a variable without its first section", yaml: goodConfig, env: map[string]string{"BINLAKE_S3_ENDPOINT": "127.0.0.1:9000"},
			want: []string{"BINLAKE_S3_ENDPOINT", "did you mean BINLAKE_WAREHOUSE_S3_ENDPOINT?"}},
		{name: "a shortened secret variable", yaml: goodConfig, env: map[string]string{"BINLAKE_WAREHOUSE_S3_SECRET_KEY": sentinelMisnamed},
			want: []string{"BINLAKE_WAREHOUSE_S3_SECRET_KEY", "did you mean BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY?"}},

		// Flags.
		{name: "--start-position and --start-gtid", yaml: goodConfig, args: []string{"ingest", "--start-position", "mysql-bin.000001:4", "--start-gtid", "0-1-1"},
			want: []string{"--start-position or --start-gtid, not both"}},
		{name: "--as-of and --as-of-version", yaml: goodConfig, args: []string{"query", "--as-of", "2026-01-01T00:00:00Z", "--as-of-version", "3", "SELECT 1"},
			want: []string{"give one of --as-of, --as-of-version"}},
		{name: "vacuum --retain negative", yaml: goodConfig, args: []string{"vacuum", "--retain", "-1h"},
			want: []string{"--retain -1h0m0s: must be positive"}},
		{name: "-c without a value", args: []string{"log", "-c"},
			want: []string{"flag needs an argument: -c"}},

		// Everything at once.
		{name: "several problems at once", yaml: strings.Replace(goodSource, "port: 3306", "port: abc", 1) +
			"warehouse:\n  urll: file://{{dir}}/wh\nlog:\n  level: loud\n",
			env: map[string]string{"BINLAKE_INGEST_COMMIT_INTERVAL": "fast"},
			want: []string{"source.port (line 4)", "warehouse.urll (line 8)", "did you mean warehouse.url?", "warehouse.url: missing",
				"log.level", `"loud"`, "ingest.commit_interval (from BINLAKE_INGEST_COMMIT_INTERVAL)"}},
	}
}

// TestBadConfig runs binlake over configurations users really write
// wrong. Each must end with exit code 2 and a message that names the key
// (or variable, or flag) and says what to write, with no stack trace and
// no secret.
func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "pwdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "empty-pw", "\n")
	for i, c := range badConfigCases(dir) {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{
				"BINLAKE_SOURCE_PASSWORD":                sentinelPassword,
				"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY": sentinelS3Secret,
				"BINLAKE_WAREHOUSE_S3_SESSION_TOKEN":     sentinelS3Token,
				"BINLAKE_QUERY_CACHE_DIR":                filepath.Join(dir, "cache"),
			}
			for k, v := range c.env {
				env[k] = v
			}
			args := c.args
			if len(args) == 0 {
				args = []string{"log"}
			}
			if c.yaml != "" {
				cfg := writeFile(t, dir, fmt.Sprintf("case-%02d.yaml", i), strings.ReplaceAll(c.yaml, "{{dir}}", dir))
				args = append([]string{args[0], "-c", cfg}, args[1:]...)
			}
			code, out, errs := runCLI(t, env, args...)
			t.Logf("binlake %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("the message lacks %q", w)
				}
			}
			if strings.Contains(out+errs, "goroutine ") || strings.Contains(out+errs, "panic:") {
				t.Errorf("a Go stack trace")
			}
			assertNoSecret(t, "the output", out+errs)
		})
	}
}

// TestConfigReportsEveryProblem: Validate lists every problem of a config,
// each under its own key, not only the first.
func TestConfigReportsEveryProblem(t *testing.T) {
	c := defaultConfig()
	c.Source.Name = "shop"
	c.Warehouse.URL = "file:///tmp/wh"
	c.Source.Port = 0
	c.Ingest.UploadParallelism = 0
	c.Log.Format = "xml"
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"source.port: 0", "ingest.upload_parallelism: 0", `log.format: "xml"`} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("the error does not name %s:\n%v", key, err)
		}
	}
	if n := strings.Count(err.Error(), "\n  "); n != 3 {
		t.Errorf("%d problems listed, want 3:\n%v", n, err)
	}
}

// TestConfigFormatHidesSecrets prints a loaded Config every way a log
// line, an error or a panic would: no secret shows.
func TestConfigFormatHidesSecrets(t *testing.T) {
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", sentinelS3Token+"\n")
	cfgPath := writeFile(t, dir, "binlake.yaml", goodSource+"  password: "+sentinelInFile+"\n"+s3Warehouse)
	env := map[string]string{
		"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY":  sentinelS3Secret,
		"BINLAKE_WAREHOUSE_S3_SESSION_TOKEN_FILE": tokenFile,
	}
	cfg, err := loadConfig(cfgPath, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.Password.Reveal() != sentinelInFile || cfg.Warehouse.S3.SecretAccessKey.Reveal() != sentinelS3Secret ||
		cfg.Warehouse.S3.SessionToken.Reveal() != sentinelS3Token {
		t.Fatalf("the secrets were not loaded: %q %q %q", cfg.Source.Password.Reveal(), cfg.Warehouse.S3.SecretAccessKey.Reveal(),
			cfg.Warehouse.S3.SessionToken.Reveal())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v %+v %#v\n", cfg, cfg, cfg)
	fmt.Fprintf(&b, "%v %+v %#v\n", *cfg, *cfg, *cfg)
	fmt.Fprintf(&b, "%v %+v %#v %s %q %x\n", cfg.Source, cfg.Warehouse, cfg.Warehouse.S3, cfg.Source.Password, cfg.Warehouse.S3.SessionToken,
		cfg.Warehouse.S3.SecretAccessKey)
	fmt.Fprintln(&b, cfg.Source.Password, cfg.Warehouse.S3.SecretAccessKey)
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(j)
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(y)
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "cfg", cfg, "source", cfg.Source, "password", cfg.Source.Password)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "cfg", cfg, "s3", cfg.Warehouse.S3)
	// A panic prints its value with %v (and an error's message).
	func() {
		defer func() { fmt.Fprintln(&b, recover()) }()
		panic(fmt.Sprintf("bad state: %+v", cfg))
	}()
	if !strings.Contains(b.String(), "REDACTED") {
		t.Fatalf("the secrets are not shown as REDACTED:\n%s", b.String())
	}
	assertNoSecret(t, "the printed config", b.String())
}

// TestConfigErrorsHideSecretsInURLs: a password put into a URL of the
// config is not repeated by the error about that URL.
func TestConfigErrorsHideSecretsInURLs(t *testing.T) {
	for _, u := range []string{
		"s3://binlake:" + sentinelInFile + "@lake/lakes",
		"http://binlake:" + sentinelInFile + "@127.0.0.1:9000/lake",
		"file://binlake:" + sentinelInFile + "@host/lake",
		"s3://lake/%zz" + sentinelInFile,
	} {
		env := map[string]string{"BINLAKE_SOURCE_NAME": "shop", "BINLAKE_WAREHOUSE_URL": u}
		_, err := loadConfig("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err == nil || !strings.Contains(err.Error(), "warehouse.url") {
			t.Errorf("%s: want an error naming warehouse.url, got %v", u, err)
			continue
		}
		assertNoSecret(t, "the error", err.Error())
	}
}
