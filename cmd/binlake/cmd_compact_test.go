package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/compaction"
	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
	"github.com/prometheus/client_golang/prometheus"
)

func TestCompactCommand(t *testing.T) {
	dir := t.TempDir()
	store, err := objstore.NewLocal(filepath.Join(dir, "wh", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	buildLake(t, store)
	cfg := writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\nquery:\n  cache_dir: %s/cache\n", dir, dir))
	query := func() string {
		code, out, errs := runCLI(t, nil, "query", "-c", cfg, "--format", "csv", "SELECT * FROM shop.purchases ORDER BY id")
		if code != exitOK {
			t.Fatalf("query: exit %d\n%s%s", code, out, errs)
		}
		return out
	}
	want := query()

	// The default policy: a few small files are not worth anything.
	code, out, errs := runCLI(t, nil, "compact", "-c", cfg)
	if code != exitOK || !strings.Contains(out, "nothing to compact") {
		t.Fatalf("compact: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "compact", "-c", cfg, "--force", "--dry-run")
	t.Logf("compact --force --dry-run:\n%s", out)
	if code != exitOK || !strings.Contains(out, "would snapshot shop.purchases") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "compact", "-c", cfg, "--force", "--table", "shop.purchases")
	t.Logf("compact --force:\n%s", out)
	if code != exitOK || !strings.Contains(out, "snapshot shop.purchases") || !strings.Contains(out, "version") {
		t.Fatalf("compact --force: exit %d\n%s%s", code, out, errs)
	}
	if got := query(); got != want {
		t.Fatalf("after compaction:\n%s\nwant\n%s", got, want)
	}
	code, out, _ = runCLI(t, nil, "log", "-c", cfg, "--tail", "3")
	if code != exitOK || !strings.Contains(out, "compaction") {
		t.Fatalf("log: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "compact", "-c", cfg, "--force")
	if code != exitOK || !strings.Contains(out, "nothing to compact") {
		t.Fatalf("second compact --force: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"--table", "orders"}, {"--table", "shop.nosuch"}} {
		code, _, errs = runCLI(t, nil, append([]string{"compact", "-c", cfg}, bad...)...)
		if code != exitUsage || !strings.Contains(errs, "--table") {
			t.Fatalf("compact %v: exit %d, %s", bad, code, errs)
		}
	}
	badCfg := writeFile(t, dir, "bad.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\ncompaction:\n  merge_min_files: 1\n", dir))
	if code, _, errs = runCLI(t, nil, "compact", "-c", badCfg); code != exitUsage || !strings.Contains(errs, "merge_min_files") {
		t.Fatalf("bad policy: exit %d, %s", code, errs)
	}
}

// TestScheduledCompaction: compaction.interval runs the policy beside the
// daemon, and its metrics count the jobs.
func TestScheduledCompaction(t *testing.T) {
	dir := t.TempDir()
	store, err := objstore.NewLocal(filepath.Join(dir, "wh", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	buildLake(t, store)
	cfgPath := writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\nquery:\n  cache_dir: %s/cache\n"+
		"compaction:\n  interval: 50ms\n  snapshot_min_rows: 1\n", dir, dir))
	env := &cliEnv{stdout: new(strings.Builder), stderr: new(strings.Builder), getenv: func(string) (string, bool) { return "", false }}
	lk, err := openLake(t.Context(), env, cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.store.Close()
	reg := prometheus.NewRegistry()
	engine, err := newQueryEngine(lk, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	stop := startCompaction(t.Context(), lk, engine, compaction.NewMetrics(reg))
	testenv.Eventually(t, time.Minute, "a compaction commit", func() error {
		st, err := lk.log.Latest(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		e, err := lk.log.Entry(t.Context(), st.Version)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != tableformat.KindCompaction {
			return fmt.Errorf("the latest entry, version %d, is %s", st.Version, e.Kind)
		}
		return nil
	})
	stop()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var jobs float64
	for _, mf := range mfs {
		if mf.GetName() == "binlake_compaction_jobs_total" {
			for _, m := range mf.GetMetric() {
				jobs += m.GetCounter().GetValue()
			}
		}
	}
	if jobs < 1 {
		t.Fatalf("binlake_compaction_jobs_total = %v", jobs)
	}
}
