package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
)

func TestVacuumCommand(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "wh", "shop")
	store, err := objstore.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	buildLake(t, store) // source times 2026-11-01T12:00:00Z, sequences 1…4
	cfg := writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\ncompaction:\n  retain: 87600h\n", dir))
	orphan := filepath.Join(root, "shop", "orders", "data", "part-orphan.parquet")
	if err := os.WriteFile(orphan, []byte("a failed write"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(orphan, old, old); err != nil {
		t.Fatal(err)
	}
	latestVersion := func() int64 {
		st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.Version
	}
	v0 := latestVersion()

	// A retention of ten years (compaction.retain): the whole history is
	// inside; a dry run reports the orphan and changes nothing.
	code, out, errs := runCLI(t, nil, "vacuum", "-c", cfg, "--dry-run")
	t.Logf("binlake vacuum --dry-run:\n%s", out)
	if code != exitOK || !strings.Contains(out, "dry run") || !strings.Contains(out, "would delete from storage: 1 objects") ||
		!strings.Contains(out, "whole history is inside") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(orphan); err != nil || latestVersion() != v0 {
		t.Fatalf("the dry run changed something: %v, version %d", err, latestVersion())
	}

	// An hour of retention: every change is older; the retention moves to
	// the last one, and the orphan is deleted.
	code, out, errs = runCLI(t, nil, "vacuum", "-c", cfg, "--retain", "1h")
	t.Logf("binlake vacuum --retain 1h:\n%s", out)
	if code != exitOK || !strings.Contains(out, "(seq 4)") || !strings.Contains(out, "deleted from storage: 1 objects") {
		t.Fatalf("vacuum: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("orphan: %v", err)
	}
	if latestVersion() != v0+1 {
		t.Fatalf("version %d after a vacuum that moved the retention, want %d", latestVersion(), v0+1)
	}
	if _, err := tableformat.NewLog(store, tableformat.LogOptions{}).AtVersion(t.Context(), 2); !errors.Is(err, tableformat.ErrOutsideRetention) {
		t.Fatalf("version 2 after the vacuum: %v", err)
	}
	code, out, _ = runCLI(t, nil, "log", "-c", cfg, "--tail", "1")
	if code != exitOK || !strings.Contains(out, "vacuum") {
		t.Fatalf("log after the vacuum: exit %d\n%s", code, out)
	}

	// Again: nothing to do, exit 0, no commit.
	code, out, errs = runCLI(t, nil, "vacuum", "-c", cfg, "--retain", "1h")
	if code != exitOK || !strings.Contains(out, "unchanged") || !strings.Contains(out, "nothing outside retention") || latestVersion() != v0+1 {
		t.Fatalf("second vacuum: exit %d\n%s%s", code, out, errs)
	}

	// Bad values: exit 2, naming the flag or the key.
	bad := writeFile(t, dir, "bad.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\ncompaction:\n  retain: 0s\n", dir))
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"vacuum", "-c", cfg, "--retain", "-1h"}, nil, "--retain"},
		{[]string{"vacuum", "-c", cfg, "--grace", "0s"}, nil, "--grace"},
		{[]string{"vacuum", "-c", bad}, nil, "compaction.retain"},
		{[]string{"vacuum", "-c", cfg}, map[string]string{"BINLAKE_COMPACTION_GRACE": "soon"}, "BINLAKE_COMPACTION_GRACE"},
		{[]string{"vacuum", "-c", cfg}, map[string]string{"BINLAKE_COMPACTION_GRACE": "-5m"}, "compaction.grace"},
	} {
		code, out, errs := runCLI(t, c.env, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v %v: exit %d, want %d naming %s:\n%s%s", c.args, c.env, code, exitUsage, c.want, out, errs)
		}
	}
}

// TestVacuumRetainFrom: --retain-from names where the history starts
// instead of a window back from now: before the lake's first change
// nothing moves; at its time, retention moves to its last transaction, and
// stays there however long the next vacuum comes after. With --retain,
// unparsable or in the future, it is refused.
func TestVacuumRetainFrom(t *testing.T) {
	dir := t.TempDir()
	store, err := objstore.NewLocal(filepath.Join(dir, "wh", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	buildLake(t, store) // source times 2026-11-01T12:00:00Z, sequences 1…4
	cfg := writeFile(t, dir, "binlake.yaml", fmt.Sprintf("source:\n  name: shop\nwarehouse:\n  url: file://%s/wh\n", dir))
	for _, c := range []struct {
		from, want string
	}{
		{"2026-11-01T11:00:00Z", "the whole history is after 2026-11-01T11:00:00Z"},
		{"2026-11-01T12:00:00Z", "history kept from 2026-11-01T12:00:00Z (seq 4)\n"},
		{"2026-11-01T12:00:00Z", "(seq 4), unchanged"},
	} {
		code, out, errs := runCLI(t, nil, "vacuum", "-c", cfg, "--retain-from", c.from)
		if code != exitOK || !strings.Contains(out, c.want) {
			t.Fatalf("vacuum --retain-from %s: exit %d, want %q\n%s%s", c.from, code, c.want, out, errs)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--retain-from", "2026-11-01T12:00:00Z", "--retain", "1h"}, exitUsage, "not both"},
		{[]string{"--retain-from", "yesterday"}, exitUsage, "RFC 3339"},
		{[]string{"--retain-from", future}, exitFailure, "in the future"},
	} {
		code, out, errs := runCLI(t, nil, append([]string{"vacuum", "-c", cfg}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("vacuum %v: exit %d, want %d naming %q\n%s%s", c.args, code, c.code, c.want, out, errs)
		}
	}
}
