package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
)

// verifyLake is buildLake's lake (shop.purchases: one data file per row,
// versions 1…4) in a local warehouse of its own, with a config that gives
// the query cache its own directory (so no query reads a copy cached from
// another test's intact file).
type verifyLake struct {
	cfg   string
	root  string // the lake's directory
	store *objstore.Local
	files []tableformat.AddFile // the live files, by sequence
}

func newVerifyLake(t *testing.T) *verifyLake {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "wh", "shop")
	store, err := objstore.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	buildLake(t, store)
	st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	files := st.Tables.Get(1).SortedFiles()
	if len(files) != 2 {
		t.Fatalf("buildLake made %d files, want 2", len(files))
	}
	cfg := writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\nquery:\n  cache_dir: %s/cache\n", dir, dir))
	return &verifyLake{cfg: cfg, root: root, store: store, files: files}
}

// path is the local file of key.
func (l *verifyLake) path(key string) string { return filepath.Join(l.root, filepath.FromSlash(key)) }

func (l *verifyLake) rewrite(t *testing.T, key string, f func([]byte) []byte) {
	t.Helper()
	p := l.path(key)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, f(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runCLIRecover is runCLI that reports a panic (a bug: a command must
// fail with an exit code, never crash) instead of letting it end the test
// binary.
func runCLIRecover(t *testing.T, args ...string) (code int, stdout, stderr string, panicked any) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprintf("%v\n%s", r, debug.Stack())
		}
	}()
	code, stdout, stderr = runCLI(t, nil, args...)
	return code, stdout, stderr, nil
}

// verifyProblemLines returns the lines of `binlake verify` output that
// start with sev (ERROR, WARNING) and mention key.
func verifyProblemLines(out, sev, key string) []string {
	var lines []string
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, sev+" ") && (strings.Contains(line, " "+key+" ") || strings.Contains(line, " "+key+":")) {
			lines = append(lines, line)
		}
	}
	return lines
}

// TestVerifyCommandClean: an intact lake verifies with exit 0, in both
// formats and with --all-versions.
func TestVerifyCommandClean(t *testing.T) {
	l := newVerifyLake(t)
	code, out, errs := runCLI(t, nil, "verify", "-c", l.cfg)
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, out, errs)
	}
	t.Logf("binlake verify:\n%s", out)
	for _, want := range []string{"4 versions (1…4)", "2 files", "0 problems, 0 warnings: the lake is intact"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	code, out, errs = runCLI(t, nil, "verify", "-c", l.cfg, "--all-versions", "--format", "json")
	if code != exitOK {
		t.Fatalf("json: exit %d: %s", code, errs)
	}
	var rep verifyOutput
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.VerifyReport == nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	want := l.files[0].Bytes + l.files[1].Bytes
	if rep.Version != 4 || rep.Versions != 4 || rep.Files != 2 || rep.Bytes != want || rep.Errors != 0 || rep.Warnings != 0 || len(rep.Problems) != 0 {
		t.Fatalf("report %+v, want 4 versions and 2 files of %d bytes", rep.VerifyReport, want)
	}
}

// TestVerifyCommandDamagedFiles: each damage to a live file makes verify
// exit 4 naming the object — and the readers (the reference scan, and
// `binlake query`) fail naming it too, never returning rows.
func TestVerifyCommandDamagedFiles(t *testing.T) {
	cases := []struct {
		name, want string
		damage     func(l *verifyLake, t *testing.T, key string)
	}{
		{"truncated", "truncated", func(l *verifyLake, t *testing.T, key string) {
			l.rewrite(t, key, func(b []byte) []byte { return b[:len(b)-100] })
		}},
		{"bit flip", "SHA-256 differs", func(l *verifyLake, t *testing.T, key string) {
			l.rewrite(t, key, func(b []byte) []byte { b[len(b)/2] ^= 0x04; return b })
		}},
		{"zero-length", "zero-length object", func(l *verifyLake, t *testing.T, key string) {
			l.rewrite(t, key, func([]byte) []byte { return nil })
		}},
		{"deleted", "missing", func(l *verifyLake, t *testing.T, key string) {
			if err := os.Remove(l.path(key)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newVerifyLake(t)
			key := l.files[1].Path
			c.damage(l, t, key)
			code, out, errs := runCLI(t, nil, "verify", "-c", l.cfg)
			t.Logf("binlake verify:\n%s%s", out, errs)
			lines := verifyProblemLines(out, "ERROR", key)
			if code != exitCorrupt || len(lines) != 1 || !strings.Contains(lines[0], c.want) || !strings.Contains(lines[0], "shop.purchases") ||
				!strings.Contains(errs, key) || !strings.Contains(out, "1 problem, 0 warnings: the lake is DAMAGED") {
				t.Fatalf("exit %d (want %d), want one ERROR line naming %s (%q)", code, exitCorrupt, key, c.want)
			}
			// The damaged file came with version 3: the fix names the
			// rewind to version 2's GTID set.
			if !strings.Contains(lines[0], "--start-gtid '0-1-2'") || !strings.Contains(lines[0], l.files[1].Checksum) {
				t.Errorf("the fix names neither the rewind nor the checksum: %s", lines[0])
			}

			st, err := tableformat.NewLog(l.store, tableformat.LogOptions{}).Latest(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, rows, err := tableformat.ScanTable(context.Background(), l.store, tableformat.Point{Version: st.Version, Seq: st.Progress.MaxSeq, State: st}, 1)
			if !errors.Is(err, tableformat.ErrCorrupt) || !strings.Contains(err.Error(), key) {
				t.Errorf("ScanTable: %d rows, %v: want a corruption error naming %s", len(rows), err, key)
			}
			code, out, errs, panicked := runCLIRecover(t, "query", "-c", l.cfg, "SELECT count(*) FROM shop.purchases")
			if panicked != nil {
				t.Fatalf("query panicked instead of exiting %d naming %s: %v", exitCorrupt, key, panicked)
			}
			if code != exitCorrupt || !strings.Contains(errs, key) || out != "" {
				t.Errorf("query: exit %d (want %d), stdout %q, stderr %q: want no rows and an error naming %s", code, exitCorrupt, out, errs, key)
			}
		})
	}
}

// TestVerifyCommandDamagedLog: garbage in an entry and a gap are named by
// key and version, exit 4 — on a lake the other commands refuse to open.
func TestVerifyCommandDamagedLog(t *testing.T) {
	entry3 := tableformat.EntryKey(3)
	cases := []struct {
		name, want string
		damage     func(l *verifyLake, t *testing.T)
	}{
		{"garbage entry", "undecodable log entry", func(l *verifyLake, t *testing.T) {
			l.rewrite(t, entry3, func(b []byte) []byte { copy(b[10:], "\x00garbage\xff"); return b })
		}},
		{"gap", "version 3 missing between 2 and 4", func(l *verifyLake, t *testing.T) {
			if err := os.Remove(l.path(entry3)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newVerifyLake(t)
			c.damage(l, t)
			code, out, errs := runCLI(t, nil, "verify", "-c", l.cfg)
			t.Logf("binlake verify:\n%s%s", out, errs)
			lines := verifyProblemLines(out, "ERROR", entry3)
			if code != exitCorrupt || len(lines) != 1 || !strings.Contains(lines[0], c.want) || !strings.Contains(lines[0], "version 3") ||
				!strings.Contains(errs, entry3) {
				t.Fatalf("exit %d (want %d), want one ERROR line naming %s (%q)", code, exitCorrupt, entry3, c.want)
			}
			if code, _, errs := runCLI(t, nil, "query", "-c", l.cfg, "SELECT count(*) FROM shop.purchases"); code != exitCorrupt || !strings.Contains(errs, entry3) {
				t.Errorf("query: exit %d, stderr %q: want %d naming %s", code, errs, exitCorrupt, entry3)
			}
		})
	}
}

// TestVerifyCommandStrays: stray temporary files (in the table's folder
// and the local store's own temporary directory) and an unreferenced
// zero-length object are warnings: named, exit 0.
func TestVerifyCommandStrays(t *testing.T) {
	l := newVerifyLake(t)
	strays := map[string][]byte{
		"shop/orders/data/.tmp-part-0001":                           []byte("PAR1 half"),
		"shop/orders/data/part-00000000000000000009-orphan.parquet": nil,
		objstore.TempDirName + "/.tmp-123456":                       []byte("in flight, or not"),
	}
	for key, body := range strays {
		p := l.path(key)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := runCLI(t, nil, "verify", "-c", l.cfg)
	t.Logf("binlake verify:\n%s%s", out, errs)
	if code != exitOK || !strings.Contains(out, "0 problems, 3 warnings: the lake is intact") {
		t.Fatalf("exit %d, want 0 with 3 warnings", code)
	}
	for key := range strays {
		if lines := verifyProblemLines(out, "WARNING", key); len(lines) != 1 || !strings.Contains(lines[0], "binlake vacuum") {
			t.Errorf("no warning naming %s with the vacuum fix: %q", key, lines)
		}
	}
	if lines := verifyProblemLines(out, "WARNING", "shop/orders/data/part-00000000000000000009-orphan.parquet"); len(lines) != 1 ||
		!strings.Contains(lines[0], "zero-length") || !strings.Contains(lines[0], "shop.orders") {
		t.Errorf("the zero-length orphan: %q", lines)
	}
}

// TestVerifyCommandExitCodes: no lake, bad usage, an unreachable store.
func TestVerifyCommandExitCodes(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\n", dir))
	unreachable := writeFile(t, dir, "s3.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: s3://bucket/lakes\n  s3:\n"+
		"    endpoint: %s\n    access_key_id: x\n    use_tls: false\n    max_retries: 0\n    request_timeout: 5s\n", freeAddr(t)))
	env := map[string]string{"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY": "y"}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no lake", []string{"-c", empty}, exitNoLake, "holds no lake"},
		{"bad format", []string{"-c", empty, "--format", "csv"}, exitUsage, "--format"},
		{"extra argument", []string{"-c", empty, "now"}, exitUsage, "unexpected arguments"},
		{"unreachable store", []string{"-c", unreachable}, exitStorage, "storage unusable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, env, append([]string{"verify"}, c.args...)...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Fatalf("exit %d (want %d), stderr %q lacks %q; stdout %q", code, c.code, errs, c.want, out)
			}
		})
	}
}
