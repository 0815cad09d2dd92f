package main

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
)

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
