package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// runCLI runs binlake in-process with the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	code = run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// buildLake commits a small history to store (tableformat/laketest, source
// time 2026-11-01T12:00:00Z throughout): version 2 creates shop.orders
// (seq 1) with the row id 2 (seq 2), version 3 adds id 3 (seq 3), version
// 4 renames it shop.purchases (seq 4). The position after seq s is
// GTID 0-1-s, laketest.BinlogFile:100·s.
func buildLake(t *testing.T, store tableformat.Store) *laketest.Lake {
	t.Helper()
	l := laketest.New(t, laketest.Options{Store: store, Source: "shop", CheckpointInterval: 10, Start: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)})
	id := l.CreateTable("shop", "orders", tableformat.Schema{Key: []int{1}, Columns: []tableformat.Column{
		{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
		{ID: 2, Name: "total", Type: tableformat.Type{Kind: tableformat.KindDecimal, Precision: 12, Scale: 2}, Nullable: true},
	}})
	for _, key := range []int64{2, 3} {
		l.Insert(id, key, "12.50")
		l.Commit()
	}
	l.RenameTable(id, "shop", "purchases")
	l.Commit()
	return l
}

// checkLogAndTables runs `log` and `tables` in both formats on the lake
// built by buildLake.
func checkLogAndTables(t *testing.T, env map[string]string, cfg string) {
	t.Helper()
	code, out, errs := runCLI(t, env, "log", "-c", cfg)
	if code != 0 {
		t.Fatalf("log: exit %d: %s", code, errs)
	}
	t.Logf("binlake log:\n%s", out)
	for _, want := range []string{"VERSION", "create", "ingest", "mysql-bin.000001:300", "shop.purchases", "create shop.orders", "rename shop.orders to shop.purchases"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = runCLI(t, env, "log", "-c", cfg, "--format", "json", "--tail", "2")
	if code != 0 {
		t.Fatalf("log json: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("--tail 2 printed %d lines:\n%s", len(lines), out)
	}
	var row logRow
	if err := json.Unmarshal([]byte(lines[0]), &row); err != nil || row.Version != 3 || row.RowsAdded != 1 || row.GTIDSet != "0-1-3" {
		t.Fatalf("log json line %q: %+v %v", lines[0], row, err)
	}
	code, out, errs = runCLI(t, env, "tables", "-c", cfg, "--columns")
	if code != 0 {
		t.Fatalf("tables: exit %d: %s", code, errs)
	}
	t.Logf("binlake tables --columns:\n%s", out)
	for _, want := range []string{"shop.purchases", "decimal(12,2)", "2/2", "id"} {
		if !strings.Contains(out, want) {
			t.Errorf("tables output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, env, "tables", "-c", cfg, "--format", "json")
	var tr tableRow
	if code != 0 || json.Unmarshal([]byte(out), &tr) != nil || tr.Table != "purchases" || tr.DataRows != 2 || len(tr.Key) != 1 {
		t.Fatalf("tables json: exit %d %q %+v", code, out, tr)
	}
}

func TestLogAndTablesLocal(t *testing.T) {
	dir := t.TempDir()
	store, err := objstore.NewLocal(filepath.Join(dir, "wh", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	buildLake(t, store)
	cfg := writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\n", dir))
	checkLogAndTables(t, nil, cfg)
}

func TestLogAndTablesMinIO(t *testing.T) {
	mc := testenv.StartMinIO(t)
	bucket := mc.NewBucket(t)
	const secretSentinel = "SECRET-SENTINEL-d41d8cd98f"
	dir := t.TempDir()
	store, err := objstore.Open(t.Context(), "s3://"+bucket+"/lakes/shop", objstore.S3Config{
		Endpoint: mc.Endpoint, Region: mc.Region, AccessKey: mc.AccessKey, SecretKey: secret.String(mc.SecretKey), RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	buildLake(t, store)
	cfg := writeFile(t, dir, "binlake.yaml", fmt.Sprintf(
		"source:\n  name: shop\nwarehouse:\n  url: s3://%s/lakes\n  s3:\n    endpoint: %s\n    access_key_id: %s\n    use_tls: false\n",
		bucket, mc.Endpoint, mc.AccessKey))
	secretFile := writeFile(t, dir, "secret", mc.SecretKey+"\n")
	env := map[string]string{"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY_FILE": secretFile}
	checkLogAndTables(t, env, cfg)

	// A wrong secret: a storage error, exit 3, and the secret is not printed.
	code, out, errs := runCLI(t, map[string]string{"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY": secretSentinel}, "log", "-c", cfg)
	if code != exitStorage {
		t.Fatalf("wrong secret: exit %d, want %d: %s", code, exitStorage, errs)
	}
	if strings.Contains(out+errs, secretSentinel) {
		t.Fatalf("the secret was printed: %s", errs)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\n", dir))
	cases := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"no command", nil, nil, exitUsage, "usage"},
		{"unknown command", []string{"frobnicate"}, nil, exitUsage, "unknown command"},
		{"unknown flag", []string{"log", "--bogus"}, nil, exitUsage, "bogus"},
		{"bad format", []string{"log", "-c", good, "--format", "xml"}, nil, exitUsage, "--format"},
		{"missing config", []string{"log", "-c", filepath.Join(dir, "none.yaml")}, nil, exitUsage, "none.yaml"},
		{"no lake", []string{"tables", "-c", good}, nil, exitNoLake, "holds no lake"},
		{"help", []string{"log", "-h"}, nil, exitOK, "--format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, c.env, c.args...)
			if code != c.code || !strings.Contains(out+errs, c.want) {
				t.Fatalf("exit %d (want %d), output %q lacks %q", code, c.code, out+errs, c.want)
			}
			if strings.Contains(errs, "goroutine ") {
				t.Fatalf("stack trace printed: %s", errs)
			}
		})
	}
}

func TestCorruptLakeExitCode(t *testing.T) {
	dir := t.TempDir()
	store, err := objstore.NewLocal(filepath.Join(dir, "wh", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	buildLake(t, store)
	if err := os.WriteFile(filepath.Join(dir, "wh", "shop", "_log", "00000000000000000003.json"), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\n", dir))
	code, _, errs := runCLI(t, nil, "log", "-c", cfg)
	if code != exitCorrupt || !strings.Contains(errs, "_log/00000000000000000003.json") {
		t.Fatalf("exit %d, stderr %q: want %d naming the entry", code, errs, exitCorrupt)
	}
}

func TestConfigValidationReportsEverything(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "bad.yaml", "source:\n  name: Bad Name\nwarehouse:\n  url: s3://b/p\nlake:\n  checkpoint_interval: 0\nlog:\n  level: loud\n")
	_, err := loadConfig(cfg, func(string) (string, bool) { return "", false })
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, key := range []string{"source.name", "warehouse.s3.endpoint", "warehouse.s3.access_key_id", "lake.checkpoint_interval", "log.level"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
	unknown := writeFile(t, dir, "unknown.yaml", "source:\n  name: shop\n  nmae: typo\nwarehouse:\n  url: file:///x\n")
	if _, err := loadConfig(unknown, func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "nmae") {
		t.Fatalf("unknown key: %v", err)
	}
	env := map[string]string{"BINLAKE_SOURCE_NAME": "from_env", "BINLAKE_WAREHOUSE_URL": "file:///tmp/x", "BINLAKE_WAREHOUSE_S3_REQUEST_TIMEOUT": "nope"}
	_, err = loadConfig("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "BINLAKE_WAREHOUSE_S3_REQUEST_TIMEOUT") {
		t.Fatalf("bad env value: %v", err)
	}
	delete(env, "BINLAKE_WAREHOUSE_S3_REQUEST_TIMEOUT")
	c, err := loadConfig("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || c.Source.Name != "from_env" {
		t.Fatalf("env override: %+v %v", c, err)
	}
}

// TestExampleConfigs parses every file in configs/.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("example configs: %v %v", files, err)
	}
	env := map[string]string{"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY": "x"}
	for _, f := range files {
		if _, err := loadConfig(f, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestSnapshotProgressText: the snapshot's line on a terminal and in
// binlake status: the totals (with the estimate, the rate and the ETA), then
// the tables being read.
func TestSnapshotProgressText(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		sp   mysql.SnapshotProgress
		at   time.Duration
		want string
	}{
		{mysql.SnapshotProgress{Tables: 10000, TablesDone: 2500, Rows: 7500, EstimatedRows: 30000, Started: start,
			Reading: []mysql.TableProgress{{DB: "shop", Table: "t02500", Rows: 3, Estimate: 3, Started: start.Add(9 * time.Second)},
				{DB: "shop", Table: "big", Rows: 2500, Estimate: 10000, Started: start}}}, 10 * time.Second,
			"2500/10000 tables, 7500 rows (~25% of ~30000), 750 rows/s, ETA 30s; reading shop.t02500 (3 rows), shop.big (2500 of ~10000 rows)"},
		{mysql.SnapshotProgress{Tables: 2, TablesDone: 2, Rows: 10000, EstimatedRows: 9000, Started: start}, 20 * time.Second,
			"2/2 tables, 10000 rows, 500 rows/s, read in 20s"},
		{mysql.SnapshotProgress{Tables: 3}, 0, "0/3 tables, 0 rows"},
	}
	for _, c := range cases {
		v := makeSnapshotView(c.sp, start.Add(c.at))
		if got := snapshotText(v); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
