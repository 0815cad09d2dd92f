package main

// Loading binlake.yaml: the file, the environment (BINLAKE_…) and secret
// files, each problem named by its key (config.go holds the types and
// Validate).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/settings"
)

// loadConfig reads path (if not empty), then the environment, then secret
// files, and validates the result. Every problem found is reported at
// once: in the file (with its line), in the environment, and in the
// values (Validate).
func loadConfig(path string, env func(string) (string, bool)) (*Config, error) {
	cfg := defaultConfig()
	header := "bad configuration"
	var ps []problem
	if path != "" {
		data, err := readConfigFile(path)
		if err != nil {
			return nil, err
		}
		header += " in " + path
		fileProblems, empty, fatal := decodeConfig(data, &cfg)
		if fatal {
			return nil, problemsError(header, fileProblems)
		}
		if empty {
			header += " (the file holds no settings: binlake init writes a starting one)"
		}
		ps = append(ps, fileProblems...)
	}
	ps = append(ps, applyEnv(&cfg, env)...)
	reported := map[string]bool{}
	for _, p := range ps {
		reported[p.key] = true
	}
	for _, p := range cfg.problems() {
		if !reported[p.key] { // a value the file or the environment got wrong stayed the default
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return nil, problemsError(header, ps)
	}
	return &cfg, nil
}

// readConfigFile reads the config file, saying what to do when it cannot.
func readConfigFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &configError{fmt.Sprintf("config file %s (-c): no such file: give the path of binlake's YAML config with -c FILE "+
			"(binlake init writes one)", path)}
	case err != nil:
		return nil, &configError{fmt.Sprintf("config file %s (-c): %v: give the path of binlake's YAML config with -c FILE", path, pathErrText(err))}
	case fi.IsDir():
		return nil, &configError{fmt.Sprintf("config file %s (-c) is a directory: give the path of the YAML file itself, such as -c %s",
			path, filepath.Join(path, "binlake.yaml"))}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &configError{fmt.Sprintf("config file %s (-c) cannot be read (%v): check its owner and permissions", path, pathErrText(err))}
	}
	return data, nil
}

// pathErrText is an error's text without the path an *fs.PathError repeats.
func pathErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// decodeConfig decodes a config file into cfg. It checks the YAML against
// Config first, so that every unknown key, repeated key and value of the
// wrong type is reported with its key path and line (and without the
// value of a secret), not only the first one the decoder meets. empty: the
// file holds no settings; fatal: it is not YAML at all.
func decodeConfig(data []byte, cfg *Config) (ps []problem, empty, fatal bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true, false
		}
		return []problem{yamlSyntaxProblem(data, err)}, false, true
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, true, false
		}
		root = root.Content[0]
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		ps = append(ps, problem{key: "---", line: documentMarkerAfter(data, root.Line),
			msg: "a second YAML document: binlake reads one; remove the '---' line and what follows it, or merge it into the first"})
	case !errors.Is(err, io.EOF):
		return []problem{yamlSyntaxProblem(data, err)}, false, true
	}
	root = resolveAlias(root)
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return ps, true, false
	}
	if root.Kind != yaml.MappingNode {
		return append(ps, problem{key: "(top level)", line: root.Line, msg: fmt.Sprintf(
			"got %s; want the sections of the config as keys: source:, warehouse:, ingest:, … (docs/configuration.md)",
			describeNode(root, false))}), false, false
	}
	// What fits is decoded; what does not keeps its default (and is
	// reported).
	checkNode(root, reflect.TypeFor[Config](), "", func(p problem) { ps = append(ps, p) })
	if err := root.Decode(cfg); err != nil && len(ps) == 0 {
		ps = append(ps, problem{key: "(file)", msg: scrubYAML(cleanYAMLError(err))})
	}
	return ps, false, false
}

// documentMarkerAfter is the line of the first '---' after line (the
// first document's start), or line when there is none.
func documentMarkerAfter(data []byte, line int) int {
	for i, l := range strings.Split(string(data), "\n") {
		if i+1 > line && (l == "---" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "---\t") || l == "---\r") {
			return i + 1
		}
	}
	return line
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[secret.String]()
)

// checkNode checks the YAML node n against the Go type t of the config key
// key, reporting unknown and repeated keys and values that do not fit. It
// drops what it reports from n (and reports whether n itself is to be
// kept), so that decoding n afterwards applies every value that is right.
func checkNode(n *yaml.Node, t reflect.Type, key string, add func(problem)) bool {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true // "key:" with no value: the default stays
	}
	if t.Kind() != reflect.Struct {
		if !fits(n, t) {
			add(problem{key: key, line: n.Line, msg: fmt.Sprintf("got %s; want %s", describeNode(n, t == secretType), typeWant(key, t, false))})
			return false
		}
		return true
	}
	if n.Kind != yaml.MappingNode {
		add(problem{key: key, line: n.Line, msg: fmt.Sprintf("got %s; want a section of keys (%s)", describeNode(n, false), sectionExample(t))})
		return false
	}
	seen := map[string]int{}
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" { // a YAML merge key: its mappings hold this section's keys
			v = resolveAlias(v)
			merged := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			ok := true
			for _, m := range merged {
				ok = checkNode(m, t, key, add) && ok
			}
			if ok {
				kept = append(kept, k, v)
			}
			continue
		}
		sub := joinKey(key, k.Value)
		if first, dup := seen[k.Value]; dup {
			add(problem{key: sub, line: k.Line, msg: fmt.Sprintf("given twice (first at line %d): keep one", first)})
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fieldByYAMLName(t, k.Value)
		if !ok {
			add(problem{key: sub, line: k.Line, msg: unknownKeyHint(t, key, k.Value)})
			continue
		}
		if checkNode(v, f.Type, sub, add) {
			kept = append(kept, k, v)
		}
	}
	n.Content = kept
	return true
}

// fits reports whether the YAML value n decodes into a t.
func fits(n *yaml.Node, t reflect.Type) bool {
	want := yaml.ScalarNode
	if t.Kind() == reflect.Slice {
		want = yaml.SequenceNode
	}
	return n.Kind == want && n.Decode(reflect.New(t).Interface()) == nil
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// yamlName is a struct field's key in the config file.
func yamlName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	return name
}

func fieldByYAMLName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if sf := t.Field(i); yamlName(sf) == name {
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

// sectionKeys lists the keys of a config section.
func sectionKeys(t reflect.Type) []string {
	keys := make([]string, t.NumField())
	for i := range t.NumField() {
		keys[i] = yamlName(t.Field(i))
	}
	return keys
}

func sectionExample(t reflect.Type) string {
	keys := sectionKeys(t)
	if len(keys) > 3 {
		keys = append(keys[:3], "…")
	}
	return strings.Join(keys, ":, ") + ":"
}

// allKeys lists every key path of the config, sections included.
func allKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		sf := t.Field(i)
		key := joinKey(prefix, yamlName(sf))
		keys = append(keys, key)
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			keys = append(keys, allKeys(sf.Type, key)...)
		}
	}
	return keys
}

// unknownKeyHint says what an unknown key in section t (at key path
// section) probably should have been.
func unknownKeyHint(t reflect.Type, section, name string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	near, nearDist := "", 3 // the closest key of this section
	if len(name) <= 3 {
		nearDist = 2
	}
	for _, k := range sectionKeys(t) {
		if d := editDistance(norm(name), k); d < nearDist {
			near, nearDist = k, d
		}
	}
	var elsewhere []string // keys of that name in other sections
	for _, k := range allKeys(reflect.TypeFor[Config](), "") {
		if last := k[strings.LastIndex(k, ".")+1:]; last == norm(name) && k != joinKey(section, last) {
			elsewhere = append(elsewhere, k)
		}
	}
	switch {
	case near != "" && (nearDist <= 1 || len(elsewhere) == 0):
		return fmt.Sprintf("unknown key: did you mean %s?", joinKey(section, near))
	case len(elsewhere) > 0:
		return fmt.Sprintf("unknown key here: did you mean %s? (check the indentation: each key belongs under its section)",
			strings.Join(elsewhere, " or "))
	}
	where := "the top level"
	if section != "" {
		where = section
	}
	return fmt.Sprintf("unknown key: the keys of %s are %s (docs/configuration.md)", where, strings.Join(sectionKeys(t), ", "))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describeNode names what a YAML value is, showing a scalar unless it is
// a secret's.
func describeNode(n *yaml.Node, isSecret bool) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a section of keys"
	case yaml.ScalarNode:
		if isSecret {
			return "a value (not shown: a secret)"
		}
		return strconv.Quote(settings.Shorten(n.Value))
	}
	return "a value"
}

// sizeKeys are the int keys that hold a number of bytes.
var sizeKeys = []string{"ingest.memory_budget", "ingest.memory_limit"}

// typeWant says what a key of type t takes.
func typeWant(key string, t reflect.Type, fromEnv bool) string {
	switch {
	case t == durationType:
		return "a duration: a number with a unit and no space, such as 500ms, 30s, 5m or 168h"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Slice && fromEnv:
		return "a comma-separated list, such as shop.*,crm.customers"
	case t.Kind() == reflect.Slice:
		return `a list, such as ["shop.*", "crm.customers"] (or one "- item" per line)`
	case (t.Kind() == reflect.Int || t.Kind() == reflect.Int64) && (strings.HasSuffix(key, "_bytes") || slices.Contains(sizeKeys, key)):
		return "a whole number of bytes, such as 134217728 for 128 MiB (units such as MB are not understood here)"
	case key == "source.port":
		return "a whole number (no quotes), such as 3306"
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return "a whole number (no quotes, no unit)"
	case t.Kind() == reflect.Float64:
		return "a number, such as 0.1"
	}
	return `a single text value (quote it if it holds ": " or " #")`
}

var (
	// yamlLineRE matches the prefix of a YAML error, yamlLineNo its line
	// number, yamlValueRE a value it quotes.
	yamlLineRE  = regexp.MustCompile(`^yaml: (unmarshal errors:\n\s*)?`)
	yamlLineNo  = regexp.MustCompile(`^line (\d+): `)
	yamlValueRE = regexp.MustCompile("`[^`]*`")
	// yamlKeyLine matches a line that starts with a key: its indentation
	// and the key.
	yamlKeyLine = regexp.MustCompile(`^([ \t]*)(?:- +)?["']?([A-Za-z0-9_.-]+)["']?[ \t]*:([ \t]|$)`)
)

func cleanYAMLError(err error) string {
	return yamlLineRE.ReplaceAllString(err.Error(), "")
}

// scrubYAML drops the values a YAML error quotes (one could be a secret).
func scrubYAML(s string) string { return yamlValueRE.ReplaceAllString(s, "a value") }

// yamlSyntaxProblem turns a YAML syntax error into a problem naming the
// line, the key near it and the likely fix.
func yamlSyntaxProblem(data []byte, err error) problem {
	msg := scrubYAML(cleanYAMLError(err))
	line := 0
	if m := yamlLineNo.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	// The parser's line is where it gave up, at or after the mistake.
	where := "at or after this line"
	hint := "indent with spaces (two per level), put a space after each ':', close every [ { and quote, " +
		`and quote values that hold ": " or " #" or start with [ { * & ! | > % @`
	if tab := tabIndentedLine(data); tab > 0 {
		line, where = tab, "here"
		hint = "the line is indented with a tab: YAML indents with spaces only"
	}
	key := keyPathAt(data, line)
	if key == "" {
		key = "(top level)"
	}
	return problem{key: key, line: line, msg: "not valid YAML " + where + " (" + msg + "): " + hint}
}

// tabIndentedLine is the first line indented with a tab, or 0.
func tabIndentedLine(data []byte) int {
	for i, l := range strings.Split(string(data), "\n") {
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if strings.Contains(indent, "\t") && strings.TrimSpace(l) != "" {
			return i + 1
		}
	}
	return 0
}

// keyPathAt is the dotted path of the key written at or last before line,
// judged by indentation (for a file the YAML parser refused).
func keyPathAt(data []byte, line int) string {
	type level struct {
		indent int
		key    string
	}
	var stack []level
	for i, l := range strings.Split(string(data), "\n") {
		if i+1 > line {
			break
		}
		m := yamlKeyLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, level{indent, m[2]})
	}
	keys := make([]string, len(stack))
	for i, s := range stack {
		keys[i] = s.key
	}
	return strings.Join(keys, ".")
}

// applyEnv applies BINLAKE_… variables and secret files to cfg.
func applyEnv(cfg *Config, env func(string) (string, bool)) []problem {
	var ps []problem
	var secrets []string
	walkConfig(reflect.ValueOf(cfg).Elem(), "", func(key string, _ reflect.Value, isSecret bool) {
		if isSecret {
			secrets = append(secrets, key)
		}
	})
	walkConfig(reflect.ValueOf(cfg).Elem(), "", func(key string, f reflect.Value, isSecret bool) {
		name := envName(key)
		if v, ok := env(name); ok {
			if err := setValue(f, v); err != nil {
				ps = append(ps, problem{key: key, from: name, msg: fmt.Sprintf("got %q; want %s", settings.Shorten(v), typeWant(key, f.Type(), true))})
			}
		}
		if !isSecret {
			if _, ok := env(name + "_FILE"); ok {
				ps = append(ps, problem{key: key, from: name + "_FILE", msg: fmt.Sprintf(
					"only secrets (%s) are read from a file: set %s itself", strings.Join(secrets, ", "), name)})
			}
			return
		}
		if file, ok := env(name + "_FILE"); ok {
			s, err := readSecretFile(file)
			if err != nil {
				ps = append(ps, problem{key: key, from: name + "_FILE", msg: err.Error()})
				return
			}
			f.SetString(s)
		}
	})
	return append(ps, misnamedEnv(env)...)
}

// readSecretFile reads a secret from the file a BINLAKE_…_FILE variable
// names; trailing line breaks are dropped. Errors never show the content.
func readSecretFile(file string) (string, error) {
	const holds = "name a file that holds the secret alone (a trailing line break is dropped)"
	fi, err := os.Stat(file)
	switch {
	case file == "":
		return "", errors.New("empty: " + holds)
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s: no such file: %s", file, holds)
	case err != nil:
		return "", fmt.Errorf("%s: %s: %s", file, pathErrText(err), holds)
	case fi.IsDir():
		return "", fmt.Errorf("%s is a directory: %s", file, holds)
	case fi.Mode()&fs.ModeSocket != 0:
		return "", fmt.Errorf("%s is a socket: %s", file, holds)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s cannot be read (%s): binlake must be able to read it: check its owner and permissions", file, pathErrText(err))
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty: %s", file, holds)
	}
	return s, nil
}

// envAliases are names people write for binlake's variables. Variables
// binlake does not know cannot all be found (the environment is asked for
// names, not listed), but these and the shortened names misnamedEnv
// derives from the keys would otherwise be ignored without a word.
var envAliases = map[string]string{
	"BINLAKE_SOURCE_PASS":             "BINLAKE_SOURCE_PASSWORD",
	"BINLAKE_SOURCE_PASSWD":           "BINLAKE_SOURCE_PASSWORD",
	"BINLAKE_SOURCE_PWD":              "BINLAKE_SOURCE_PASSWORD",
	"BINLAKE_SOURCE_HOSTNAME":         "BINLAKE_SOURCE_HOST",
	"BINLAKE_SOURCE_USERNAME":         "BINLAKE_SOURCE_USER",
	"BINLAKE_WAREHOUSE":               "BINLAKE_WAREHOUSE_URL",
	"BINLAKE_WAREHOUSE_S3_SECRET_KEY": "BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY",
	"BINLAKE_WAREHOUSE_S3_ACCESS_KEY": "BINLAKE_WAREHOUSE_S3_ACCESS_KEY_ID",
	"BINLAKE_WAREHOUSE_S3_TOKEN":      "BINLAKE_WAREHOUSE_S3_SESSION_TOKEN",
	"BINLAKE_S3_SECRET_KEY":           "BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY",
	"BINLAKE_S3_ACCESS_KEY":           "BINLAKE_WAREHOUSE_S3_ACCESS_KEY_ID",
}

// misnamedEnv reports BINLAKE_ variables set under a name binlake does not
// read but a user plausibly means: a key without its section
// (BINLAKE_PORT), without its first section (BINLAKE_S3_ENDPOINT), _FILE
// of those, and envAliases. Their values are never shown.
func misnamedEnv(env func(string) (string, bool)) []problem {
	cfg := defaultConfig()
	valid := map[string]bool{}
	guesses := map[string][]string{}
	walkConfig(reflect.ValueOf(&cfg).Elem(), "", func(key string, _ reflect.Value, isSecret bool) {
		name := envName(key)
		valid[name] = true
		if isSecret {
			valid[name+"_FILE"] = true
		}
		parts := strings.Split(key, ".")
		for i := 1; i < len(parts); i++ {
			short := envName(strings.Join(parts[i:], "."))
			guesses[short] = append(guesses[short], name)
			if isSecret {
				guesses[short+"_FILE"] = append(guesses[short+"_FILE"], name+"_FILE")
			}
		}
	})
	for wrong, right := range envAliases {
		guesses[wrong] = append(guesses[wrong], right)
		if valid[right+"_FILE"] {
			guesses[wrong+"_FILE"] = append(guesses[wrong+"_FILE"], right+"_FILE")
		}
	}
	var ps []problem
	for _, wrong := range slices.Sorted(maps.Keys(guesses)) {
		if valid[wrong] {
			continue
		}
		if _, ok := env(wrong); ok {
			ps = append(ps, problem{key: wrong, msg: fmt.Sprintf("binlake reads no such variable: did you mean %s? "+
				"(the name is BINLAKE_ and the key's whole path, docs/configuration.md)", strings.Join(slices.Compact(slices.Sorted(slices.Values(guesses[wrong]))), " or "))})
		}
	}
	return ps
}

// walkConfig calls fn for every leaf of a config struct with its dotted key.
func walkConfig(v reflect.Value, prefix string, fn func(key string, f reflect.Value, secret bool)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		key := joinKey(prefix, yamlName(sf))
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			walkConfig(f, key, fn)
			continue
		}
		fn(key, f, f.Type() == secretType)
	}
}

func envName(key string) string {
	return "BINLAKE_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// setValue sets f from an environment variable's text.
func setValue(f reflect.Value, s string) error {
	if f.Kind() != reflect.String && f.Kind() != reflect.Slice {
		s = strings.TrimSpace(s)
	}
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
