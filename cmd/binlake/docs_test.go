package main

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/binlake/binlake/compaction"
	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/query"
	"github.com/binlake/binlake/tableformat"
)

// docRow is one key's row in docs/configuration.md.
type docRow struct {
	line              int
	defaults, environ string
}

// configDocRows reads the key tables of docs/configuration.md: rows whose
// first cell is a backquoted dotted key.
func configDocRows(t *testing.T) map[string]docRow {
	t.Helper()
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]docRow{}
	for i, line := range strings.Split(string(data), "\n") {
		m := docKeyRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cells := strings.Split(line, " | ")
		if len(cells) < 5 {
			t.Fatalf("docs/configuration.md:%d: a key row needs key, type, default, environment and description cells", i+1)
		}
		if _, dup := rows[m[1]]; dup {
			t.Errorf("docs/configuration.md:%d: %s documented twice", i+1, m[1])
		}
		rows[m[1]] = docRow{line: i + 1, defaults: cells[2], environ: cells[3]}
	}
	return rows
}

var (
	docKeyRow = regexp.MustCompile("^\\| `([a-z0-9_]+(?:\\.[a-z0-9_]+)+)` \\|")
	// docLiteral is a default cell's leading backquoted value.
	docLiteral = regexp.MustCompile("^`([^`]*)`")
	// docSize is the size in words after a default of bytes: (48 MiB).
	docSize = regexp.MustCompile("^`[0-9]+` \\(([0-9]+ [KMGT]iB)\\)")
)

// packageDefaults are the keys whose default belongs to the package that
// uses the value: the config's default and the documented one must be that
// package's constant.
var packageDefaults = map[string]any{
	"source.flavor":                 mysql.DefaultFlavor,
	"source.port":                   mysql.DefaultPort,
	"source.heartbeat":              mysql.DefaultHeartbeat,
	"warehouse.s3.request_timeout":  objstore.DefaultRequestTimeout,
	"warehouse.s3.max_retries":      objstore.DefaultMaxRetries,
	"lake.checkpoint_interval":      tableformat.DefaultCheckpointInterval,
	"ingest.commit_interval":        ingest.DefaultCommitInterval,
	"ingest.max_batch_bytes":        ingest.DefaultMaxBatchBytes,
	"ingest.memory_budget":          ingest.DefaultMemoryBudget,
	"ingest.upload_parallelism":     ingest.DefaultUploadParallelism,
	"query.cache_max_bytes":         query.DefaultCacheMaxBytes,
	"query.threads":                 query.DefaultThreads,
	"query.memory_limit":            query.DefaultMemoryLimit,
	"query.timeout":                 query.DefaultTimeout,
	"query.max_spill":               query.DefaultMaxSpill,
	"query.materialize_rows":        query.DefaultMaterializeRows,
	"compaction.retain":             compaction.DefaultRetain,
	"compaction.grace":              compaction.DefaultGrace,
	"compaction.snapshot_min_rows":  compaction.DefaultSnapshotMinRows,
	"compaction.snapshot_min_files": compaction.DefaultSnapshotMinFiles,
	"compaction.snapshot_fraction":  compaction.DefaultSnapshotFraction,
	"compaction.merge_min_files":    compaction.DefaultMergeMinFiles,
	"compaction.small_file_bytes":   compaction.DefaultSmallFileBytes,
	"compaction.target_file_bytes":  compaction.DefaultTargetFileBytes,
}

// commandDefaults are the keys whose default is the command's own (what
// it alone uses, or a value a package's zero means otherwise): defaultConfig
// is their one place. Every key with a default is in one of the two lists.
var commandDefaults = []string{
	"source.tls.mode", "source.snapshot", "source.on_position_lost",
	"warehouse.s3.region", "warehouse.s3.use_tls",
	"ingest.listen", "ingest.memory_limit",
	"serve.listen", "serve.max_rows", "serve.max_concurrent",
	"log.level", "log.format",
}

// TestDefaultsLiveInTheirPackage: the config's default of every key a
// package uses is that package's constant, and every key with a default
// says whose it is.
func TestDefaultsLiveInTheirPackage(t *testing.T) {
	cfg := defaultConfig()
	seen := map[string]bool{}
	walkConfig(reflect.ValueOf(&cfg).Elem(), "", func(key string, f reflect.Value, _ bool) {
		seen[key] = true
		want, ok := packageDefaults[key]
		switch {
		case ok:
			if got := reflect.ValueOf(want); !got.CanConvert(f.Type()) || !got.Convert(f.Type()).Equal(f) {
				t.Errorf("%s: the config's default is %v, the package's %v", key, f.Interface(), want)
			}
		case slices.Contains(commandDefaults, key):
			if f.IsZero() {
				t.Errorf("%s is listed as having a default of the command's, but has none", key)
			}
		case !f.IsZero():
			t.Errorf("%s: default %v: list it in packageDefaults (with the constant of the package that uses it) or commandDefaults",
				key, f.Interface())
		}
	})
	for key := range packageDefaults {
		if !seen[key] {
			t.Errorf("packageDefaults names %s, which Config does not have", key)
		}
	}
}

// TestConfigurationDocumented: docs/configuration.md names every key of
// Config (and no key Config lacks) with its environment variables, and the
// default it documents for a scalar key is defaultConfig's.
func TestConfigurationDocumented(t *testing.T) {
	rows := configDocRows(t)
	cfg := defaultConfig()
	seen := map[string]bool{}
	walkConfig(reflect.ValueOf(&cfg).Elem(), "", func(key string, f reflect.Value, secret bool) {
		seen[key] = true
		row, ok := rows[key]
		if !ok {
			t.Errorf("config key %s is not documented in docs/configuration.md", key)
			return
		}
		env := envName(key)
		if !strings.Contains(row.environ, "`"+env+"`") {
			t.Errorf("docs/configuration.md:%d: %s: the environment cell should name %s", row.line, key, env)
		}
		if hasFile := strings.Contains(row.environ, "`"+env+"_FILE`"); hasFile != secret {
			t.Errorf("docs/configuration.md:%d: %s: %s_FILE documented: %v, but the key is a secret: %v", row.line, key, env, hasFile, secret)
		}
		if err := checkDocDefault(row.defaults, f); err != nil {
			t.Errorf("docs/configuration.md:%d: %s: %v", row.line, key, err)
		}
		if want, ok := packageDefaults[key]; ok {
			if err := checkDocDefault(row.defaults, reflect.ValueOf(want).Convert(f.Type())); err != nil {
				t.Errorf("docs/configuration.md:%d: %s: the package's constant: %v", row.line, key, err)
			}
		}
	})
	for key, row := range rows {
		if !seen[key] {
			t.Errorf("docs/configuration.md:%d documents %s, which Config does not have", row.line, key)
		}
	}
}

// checkDocDefault compares a documented default with the value: a leading
// `literal` must equal it; no literal (none, none (required)) means the
// zero value. Lists are not compared.
func checkDocDefault(cell string, f reflect.Value) error {
	if f.Kind() == reflect.Slice {
		return nil
	}
	m := docLiteral.FindStringSubmatch(strings.TrimSpace(cell))
	if m == nil {
		if !f.IsZero() {
			return fmt.Errorf("documented without a default (%q), but the default is %v", cell, f.Interface())
		}
		return nil
	}
	lit := m[1]
	if size := docSize.FindStringSubmatch(strings.TrimSpace(cell)); size != nil {
		if n, err := strconv.ParseInt(lit, 10, 64); err != nil || settings.Bytes(n) != size[1] {
			return fmt.Errorf("documented default %s is not %s", lit, size[1])
		}
	}
	var want any
	var err error
	switch {
	case f.Type() == reflect.TypeFor[time.Duration]():
		want, err = time.ParseDuration(lit)
	case f.Kind() == reflect.String:
		if lit == `""` {
			lit = ""
		}
		want = lit
	case f.Kind() == reflect.Bool:
		want, err = strconv.ParseBool(lit)
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		var n int64
		n, err = strconv.ParseInt(lit, 10, 64)
		want = n
	case f.Kind() == reflect.Float64:
		want, err = strconv.ParseFloat(lit, 64)
	default:
		return fmt.Errorf("cannot compare a default of kind %s", f.Kind())
	}
	if err != nil {
		return fmt.Errorf("documented default %q: %v", lit, err)
	}
	got := f.Interface()
	switch f.Kind() {
	case reflect.String:
		got = f.String()
	case reflect.Int, reflect.Int64:
		if f.Type() != reflect.TypeFor[time.Duration]() {
			got = f.Int()
		}
	}
	if got != want {
		return fmt.Errorf("documented default %s, the code's is %v", lit, got)
	}
	return nil
}

// TestInitTemplateHoldsTheDefaults: the file binlake init writes gives
// every key it writes the config's default, as the config reads it back,
// and leaves out no key that has a default but those of initLeavesOut (the
// S3 ones are written for an s3:// warehouse only); what init takes from
// its flags is left aside.
func TestInitTemplateHoldsTheDefaults(t *testing.T) {
	fromFlags := []string{"source.name", "source.flavor", "source.host", "source.port", "source.user", "source.server_id", "source.include",
		"warehouse.url", "warehouse.s3.endpoint"}
	// The keys with a default that the template does not write: a new key
	// with a default is written by init or named here.
	initLeavesOut := []string{"source.on_position_lost"}
	want := defaultConfig()
	for _, url := range []string{"file:///var/lib/binlake", "s3://lakes/prod"} {
		wh, err := objstore.ParseWarehouse(url)
		if err != nil {
			t.Fatal(err)
		}
		ic := initConfig{dsn: dsn{User: "u", Host: "db", Port: 3307, DB: "shop"}, name: "shop", flavor: "mysql", warehouse: wh, serverID: 4242}
		text := ic.render(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatalf("%s: the template is not YAML: %v\n%s", url, err, text)
		}
		written := map[string]bool{}
		var walk func(n *yaml.Node, prefix string)
		walk = func(n *yaml.Node, prefix string) {
			for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
				key := joinKey(prefix, n.Content[i].Value)
				written[key] = true
				walk(n.Content[i+1], key)
			}
		}
		walk(doc.Content[0], "")
		var got Config // what the file holds, without the defaults under it
		if err := doc.Decode(&got); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		gotValues := map[string]reflect.Value{}
		walkConfig(reflect.ValueOf(&got).Elem(), "", func(key string, f reflect.Value, _ bool) { gotValues[key] = f })
		walkConfig(reflect.ValueOf(&want).Elem(), "", func(key string, f reflect.Value, _ bool) {
			g := gotValues[key]
			switch {
			case slices.Contains(fromFlags, key):
			case !written[key]:
				if !f.IsZero() && !slices.Contains(initLeavesOut, key) && (wh.Scheme == "s3" || !strings.HasPrefix(key, "warehouse.s3.")) {
					t.Errorf("%s: init leaves out %s, whose default is %v", url, key, f.Interface())
				}
			case key == "source.snapshot_strategy": // written as auto, the default's name
				gs, gerr := mysql.ParseSnapshotStrategy(g.String())
				ws, werr := mysql.ParseSnapshotStrategy(f.String())
				if gerr != nil || werr != nil || gs != ws {
					t.Errorf("%s: init writes %s: %q, the default is %q", url, key, g.String(), f.String())
				}
			case f.Kind() == reflect.Slice:
				if g.Len() != 0 || f.Len() != 0 {
					t.Errorf("%s: init writes %s: %v, the default is %v", url, key, g.Interface(), f.Interface())
				}
			case !g.Equal(f):
				t.Errorf("%s: init writes %s: %v, the default is %v", url, key, g.Interface(), f.Interface())
			}
		})
	}
}
