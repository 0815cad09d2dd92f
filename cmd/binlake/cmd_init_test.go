package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// initPassword is a sentinel: it must never reach a file or an output.
const initPassword = "PW-SENTINEL-7c0ffee"

// TestInitWritesAConfigCheckAccepts: init writes a file that loadConfig
// parses and check's config stage accepts, without the password, and prints
// the server settings, the GRANTs and the next command.
func TestInitWritesAConfigCheckAccepts(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "binlake.yaml")
	code, stdout, stderr := runCLI(t, nil, "init", "--dsn", "repl:"+initPassword+"@tcp(127.0.0.1:1)/shop?tls=true",
		"--warehouse", "file://"+dir+"/wh", "-o", out)
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	t.Logf("binlake init:\n%s", stdout)
	body, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body)+stdout+stderr, initPassword) {
		t.Fatalf("the password was written or printed:\n%s\n%s%s", body, stdout, stderr)
	}
	for _, want := range []string{
		"log_bin", "binlog_format              = ROW", "binlog_row_image           = FULL", "binlog_row_metadata        = FULL", "server_id",
		"GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';", "GRANT BINLOG MONITOR ON *.* TO 'repl'@'%';",
		"GRANT SELECT ON `shop`.* TO 'repl'@'%';", "BINLAKE_SOURCE_PASSWORD", "parameters (tls) are not used",
		"next: binlake check -c " + out,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("init output lacks %q", want)
		}
	}
	if strings.Contains(stdout, "GRANT RELOAD") {
		t.Errorf("MariaDB's snapshot needs no RELOAD, yet init asks for it:\n%s", stdout)
	}

	cfg, err := loadConfig(out, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the written config does not load: %v\n%s", err, body)
	}
	s := cfg.Source
	if s.Name != "shop" || s.Host != "127.0.0.1" || s.Port != 1 || s.User != "repl" || s.Password != "" || s.Flavor != "mariadb" ||
		len(s.Include) != 1 || s.Include[0] != "shop.*" || cfg.Warehouse.URL != "file://"+dir+"/wh" {
		t.Fatalf("config: %+v, warehouse %q", s, cfg.Warehouse.URL)
	}
	// Every other section holds the defaults.
	want := defaultConfig()
	if cfg.Ingest != want.Ingest || cfg.Query != want.Query || cfg.Serve != want.Serve || cfg.Compaction != want.Compaction ||
		cfg.Lake != want.Lake || cfg.Log != want.Log {
		t.Errorf("sections differ from the defaults:\n%+v\n%+v", cfg, want)
	}
	if err := cfg.validateConnection(); err != nil {
		t.Fatalf("check's connection settings: %v", err)
	}
	if _, err := sourceConfig(cfg, false); err != nil {
		t.Fatal(err)
	}
	// The password comes from the environment.
	cfg, err = loadConfig(out, func(k string) (string, bool) { return initPassword, k == "BINLAKE_SOURCE_PASSWORD" })
	if err != nil || cfg.Source.Password.Reveal() != initPassword {
		t.Fatalf("password from the environment: %v", err)
	}

	// binlake check gets past the config: the source (port 1) refuses the
	// connection, the storage check passes.
	code, stdout, stderr = runCLI(t, map[string]string{"BINLAKE_SOURCE_PASSWORD": initPassword}, "check", "-c", out)
	if code != exitFailure || !strings.Contains(stdout, "connect to the source") || !strings.Contains(stdout, "ok    storage put-if-absent") {
		t.Fatalf("check: exit %d:\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, initPassword) {
		t.Fatal("check printed the password")
	}
}

func TestInitMySQLAndS3(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "mysql.yaml")
	code, stdout, stderr := runCLI(t, nil, "init", "--dsn", "mysql://binlake:"+initPassword+"@db1.example.com/",
		"--warehouse", "s3://lakes/prod", "--flavor", "mysql", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"GRANT REPLICATION CLIENT ON *.* TO 'binlake'@'%';", "GRANT RELOAD ON *.*", "LOCK TABLES",
		"GRANT SELECT ON *.* TO 'binlake'@'%';", "gtid_mode", "BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "GRANT BINLOG MONITOR") {
		t.Errorf("MySQL has no BINLOG MONITOR:\n%s", stdout)
	}
	body, _ := os.ReadFile(out)
	if strings.Contains(string(body)+stdout+stderr, initPassword) {
		t.Fatal("the password was written or printed")
	}
	env := map[string]string{"BINLAKE_WAREHOUSE_S3_ACCESS_KEY_ID": "k", "BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY": "s"}
	cfg, err := loadConfig(out, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if cfg.Source.Name != "db1" || cfg.Source.Flavor != "mysql" || cfg.Source.Port != 3306 || len(cfg.Source.Include) != 0 ||
		cfg.Warehouse.URL != "s3://lakes/prod" || cfg.Warehouse.S3.Endpoint == "" {
		t.Fatalf("config: %+v %+v", cfg.Source, cfg.Warehouse)
	}
	if err := cfg.validateConnection(); err != nil {
		t.Fatal(err)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	out := writeFile(t, dir, "binlake.yaml", "# mine\n")
	args := []string{"init", "--dsn", "u@tcp(h)/", "--warehouse", "/var/tmp/wh", "-o", out}
	code, stdout, stderr := runCLI(t, nil, args...)
	if code != exitUsage || !strings.Contains(stderr, "--force") || stdout != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "# mine\n" {
		t.Fatalf("the file was changed: %q", b)
	}
	if code, _, stderr = runCLI(t, nil, append(args, "--force")...); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	cfg, err := loadConfig(out, func(string) (string, bool) { return "", false })
	if err != nil || cfg.Source.Name != "h" || cfg.Warehouse.URL != "file:///var/tmp/wh" {
		t.Fatalf("after --force: %+v %v", cfg, err)
	}
}

func TestInitBadUsage(t *testing.T) {
	dir := t.TempDir()
	good := []string{"--dsn", "u:" + initPassword + "@tcp(h:3306)/", "--warehouse", "file:///x"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no dsn", []string{"--warehouse", "file:///x"}, "--dsn: missing"},
		{"no slash", []string{"--dsn", "u:" + initPassword + "@h", "--warehouse", "file:///x"}, "--dsn: no '/'"},
		{"no user", []string{"--dsn", ":" + initPassword + "@tcp(h)/", "--warehouse", "file:///x"}, "--dsn: no user"},
		{"unix socket", []string{"--dsn", "u:" + initPassword + "@unix(/tmp/s)/", "--warehouse", "file:///x"}, "--dsn: a unix socket"},
		{"bad port", []string{"--dsn", "u:" + initPassword + "@tcp(h:99999)/", "--warehouse", "file:///x"}, "--dsn: port"},
		{"no warehouse", good[:2], "--warehouse: warehouse URL is empty"},
		{"relative warehouse", []string{good[0], good[1], "--warehouse", "wh"}, "--warehouse file://"},
		{"bad scheme", []string{good[0], good[1], "--warehouse", "gs://b/p"}, "--warehouse: "},
		{"bad source", append(slices.Clone(good), "--source", "Bad Name"), "--source \"Bad Name\""},
		{"bad flavor", append(slices.Clone(good), "--flavor", "postgres"), "--flavor"},
		{"no name", []string{"--dsn", "u@tcp(_)/", "--warehouse", "file:///x"}, "--source: cannot derive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yaml")
			code, stdout, stderr := runCLI(t, nil, append(append([]string{"init"}, c.args...), "-o", out)...)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q: want %d and %q", code, stderr, exitUsage, c.want)
			}
			if strings.Contains(stdout+stderr, initPassword) {
				t.Fatalf("the password was printed: %s", stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("a file was written")
			}
		})
	}
}

func TestParseDSN(t *testing.T) {
	cases := []struct {
		in   string
		want dsn
	}{
		{"u:p@tcp(db.example.com:3307)/shop", dsn{User: "u", HasPassword: true, Host: "db.example.com", Port: 3307, DB: "shop"}},
		{"u@tcp(db)/", dsn{User: "u", Host: "db", Port: 3306}},
		{"u:p@/", dsn{User: "u", HasPassword: true, Host: "127.0.0.1", Port: 3306}},
		{"u:p@x@tcp([::1]:3306)/d?tls=true&loc=UTC", dsn{User: "u", HasPassword: true, Host: "::1", Port: 3306, DB: "d", Params: []string{"tls", "loc"}}},
		{"u:pa/ss@tcp(h)/d", dsn{User: "u", HasPassword: true, Host: "h", Port: 3306, DB: "d"}},
		{"mysql://u:p@h:3310/d?tls=skip-verify", dsn{User: "u", HasPassword: true, Host: "h", Port: 3310, DB: "d", Params: []string{"tls"}}},
		{"mariadb://u@h", dsn{User: "u", Host: "h", Port: 3306}},
	}
	for _, c := range cases {
		got, err := parseDSN(c.in)
		if err != nil || got.User != c.want.User || got.HasPassword != c.want.HasPassword || got.Host != c.want.Host ||
			got.Port != c.want.Port || got.DB != c.want.DB || strings.Join(got.Params, ",") != strings.Join(c.want.Params, ",") {
			t.Errorf("parseDSN(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "u@tcp(h", "u@udp(h)/", "postgres://u@h/", "u@tcp(h:0)/", "u@tcp(h)/a/b*"} {
		if _, err := parseDSN(bad); err == nil {
			t.Errorf("parseDSN(%q) accepted", bad)
		}
	}
}

func TestLakeName(t *testing.T) {
	cases := []struct {
		d    dsn
		want string
	}{
		{dsn{DB: "Shop"}, "shop"},
		{dsn{DB: "my shop"}, "my-shop"},
		{dsn{DB: "sales_2026"}, "sales_2026"},
		{dsn{Host: "db1.example.com"}, "db1"},
		{dsn{Host: "127.0.0.1"}, "db-127-0-0-1"},
		{dsn{Host: "::1"}, "db-1"},
		{dsn{Host: "__"}, ""},
		{dsn{DB: strings.Repeat("x", 80), Host: "h"}, strings.Repeat("x", 63)},
	}
	for _, c := range cases {
		if got := c.d.lakeName(); got != c.want {
			t.Errorf("lakeName(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}
