package archtest

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/binlake/binlake"

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	rel := func(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }
	under := func(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }
	for _, p := range pkgs {
		from := rel(p.ImportPath)
		for _, imp := range p.Imports {
			project := strings.HasPrefix(imp, module+"/")
			to := rel(imp)
			switch {
			case under(from, "internal/settings") && project:
				t.Errorf("%s imports %s: internal/settings imports no package of the project (every package may use it)", from, to)
			case under(from, "tableformat") && project && !under(to, "tableformat"):
				t.Errorf("%s imports %s: tableformat imports no other package of the project", from, to)
			case project && under(to, "cmd"):
				t.Errorf("%s imports %s: nothing imports cmd", from, to)
			case project && under(to, "internal/testenv"):
				t.Errorf("%s imports %s: the test environment is for tests only", from, to)
			case project && under(to, "tableformat/laketest"):
				t.Errorf("%s imports %s: the random lake generator is for tests only", from, to)
			case under(from, "connectors") && project && (under(to, "query") || under(to, "compaction")):
				t.Errorf("%s imports %s: connectors implement the interfaces of tableformat and ingest, nothing more", from, to)
			case (under(from, "ingest") || under(from, "query") || under(from, "compaction")) && project && under(to, "connectors"):
				t.Errorf("%s imports %s: concrete connectors are wired in cmd/ only", from, to)
			case (strings.HasPrefix(imp, "github.com/go-mysql-org/") || strings.HasPrefix(imp, "github.com/minio/")) && !under(from, "connectors"):
				t.Errorf("%s imports %s: only connectors/ talk to MySQL and S3", from, imp)
			case strings.HasPrefix(imp, "github.com/duckdb/") && !under(from, "query"):
				t.Errorf("%s imports %s: only query/ uses DuckDB", from, imp)
			case under(from, "compaction") && project && under(to, "query"):
				t.Errorf("%s imports %s: compaction declares the Writer it needs (query's engine is wired in by cmd)", from, to)
			case under(from, "query") && project && (under(to, "ingest") || under(to, "compaction")):
				t.Errorf("%s imports %s: query depends on tableformat only", from, to)
			case under(from, "query/render") && project:
				t.Errorf("%s imports %s: render prints DuckDB's rows and needs nothing of the project", from, to)
			case from == "query" && under(to, "query/render"):
				t.Errorf("%s imports %s: query returns rows; how to print them is cmd's choice", from, to)
			}
		}
	}
}

// TestCompactionWithoutDuckDB: package compaction, with its tests, builds
// without query and without DuckDB — what lets `go test -race
// ./compaction/` run without cgo's DuckDB. The tests on the engine live in
// compaction/enginetest.
func TestCompactionWithoutDuckDB(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", module+"/compaction").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var deps []string
	for line := range strings.Lines(string(out)) {
		// A package recompiled for the tests is listed as "path [path.test]".
		deps = append(deps, strings.Fields(line)[0])
	}
	if !slices.Contains(deps, module+"/tableformat") {
		t.Fatalf("go list -deps -test compaction does not list tableformat: %q", deps)
	}
	for _, d := range deps {
		if d == module+"/query" || strings.HasPrefix(d, module+"/query/") || strings.HasPrefix(d, "github.com/duckdb/") {
			t.Errorf("compaction's tests depend on %s: they must build without query and DuckDB", d)
		}
	}
}
