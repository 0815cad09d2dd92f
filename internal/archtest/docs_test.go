package archtest

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestPackageDocs: every package of the module has a doc.go, and its one
// package comment is there — not in another file, test files included, where
// go doc would merge or hide it.
func TestPackageDocs(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Name,Dir,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,IgnoredGoFiles", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type listed struct {
		ImportPath, Name, Dir                                        string
		GoFiles, CgoFiles, TestGoFiles, XTestGoFiles, IgnoredGoFiles []string
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		if slices.Contains(p.IgnoredGoFiles, "doc.go") {
			t.Errorf("%s/doc.go is excluded by build constraints: go doc would not show it", p.ImportPath)
		}
		files := slices.Concat(p.GoFiles, p.CgoFiles, p.TestGoFiles, p.XTestGoFiles, p.IgnoredGoFiles)
		for _, problem := range packageDocProblems(p.Dir, p.ImportPath, p.Name, files) {
			t.Error(problem)
		}
	}
	if n < 5 {
		t.Fatalf("go list found only %d packages", n)
	}
}

// packageDocProblems checks one package in dir: doc.go is among its files
// and holds a package comment that opens as go doc expects ("Package name"
// or, for a command, "Command name"), and no other file has one.
func packageDocProblems(dir, importPath, name string, files []string) []string {
	var problems []string
	fset := token.NewFileSet()
	if !slices.Contains(files, "doc.go") {
		problems = append(problems, fmt.Sprintf("%s has no doc.go: its package comment (what it owns, what it must never import, where to read further) belongs there", importPath))
	}
	for _, file := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, file), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", importPath, err))
			continue
		}
		switch {
		case file == "doc.go" && f.Doc == nil:
			problems = append(problems, fmt.Sprintf("%s/doc.go has no package comment", importPath))
		case file == "doc.go":
			want := "Package " + name + " "
			if name == "main" {
				want = "Command " + path.Base(importPath) + " "
			}
			if !strings.HasPrefix(f.Doc.Text(), want) {
				problems = append(problems, fmt.Sprintf("%s/doc.go: the package comment should open with %q", importPath, want))
			}
		case f.Doc != nil:
			problems = append(problems, fmt.Sprintf("%s/%s has a package comment: move it to doc.go, so the package has one", importPath, file))
		}
	}
	return problems
}

func TestPackageDocProblems(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("doc.go", "// Package p owns one idea.\npackage p\n")
	write("bare.go", "//go:build linux\n\npackage p\n")
	write("wrongdoc.go", "// Some text.\npackage p\n")
	write("other.go", "// Package p again.\npackage p\n")
	write("x_test.go", "// Package p_test says more.\npackage p_test\n")
	write("main.go", "// Command tool does one thing.\npackage main\n")
	for _, c := range []struct {
		name       string
		importPath string
		pkg        string
		files      []string
		want       []string
	}{
		{"good", "m/p", "p", []string{"doc.go", "bare.go"}, nil},
		{"no doc.go", "m/p", "p", []string{"bare.go"}, []string{"m/p has no doc.go"}},
		{"comment elsewhere", "m/p", "p", []string{"doc.go", "other.go"}, []string{"m/p/other.go has a package comment"}},
		{"comment in a test file", "m/p", "p", []string{"doc.go", "x_test.go"}, []string{"m/p/x_test.go has a package comment"}},
		{"wrong opening", "m/q", "q", []string{"doc.go"}, []string{`should open with "Package q "`}},
		{"command", "m/cmd/tool", "main", []string{"doc.go"}, []string{`should open with "Command tool "`}},
	} {
		got := packageDocProblems(dir, c.importPath, c.pkg, c.files)
		if len(got) != len(c.want) {
			t.Errorf("%s: got %q, want %d problems like %q", c.name, got, len(c.want), c.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], c.want[i]) {
				t.Errorf("%s: got %q, want it to contain %q", c.name, got[i], c.want[i])
			}
		}
	}
	write("doc.go", "package p\n")
	if got := packageDocProblems(dir, "m/p", "p", []string{"doc.go"}); len(got) != 1 || !strings.Contains(got[0], "doc.go has no package comment") {
		t.Errorf("doc.go without a comment: got %q", got)
	}
}

// TestCitationsStayInRepository: no Go comment or Markdown document cites the
// design document the project started from (it lives outside the repository;
// docs/design.md holds what the code relies on), a relative path that leaves
// the repository or does not exist, a Markdown file the repository does not
// have, or a section of docs/design.md or FORMAT.md that does not exist.
// Absolute paths are not judged: the docs rightly name /tmp and /var/tmp
// files that commands write, which no rule tells apart from a machine's
// checkout.
func TestCitationsStayInRepository(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	problems, checked, err := citationProblems(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if checked < 50 {
		t.Fatalf("only %d files checked under %s", checked, root)
	}
}

func TestCitationProblems(t *testing.T) {
	design := "# Design\n\n## The one rule\n\n## Layering\n"
	format := "# Format\n\n## 1. Layout\n\n## 12. Parquet files\n"
	good := fstest.MapFS{
		"go.mod":                {Data: []byte("module m\n")},
		"docs/design.md":        {Data: []byte(design)},
		"docs/types.md":         {Data: []byte("See [design](design.md#the-one-rule) and [format](../tableformat/FORMAT.md#1-layout).\n")},
		"tableformat/FORMAT.md": {Data: []byte(format)},
		"tableformat/asof.go":   {Data: []byte("package tableformat\n\n// Point (FORMAT.md §12; docs/design.md,\n// Layering) and docs/types.md.\nvar s = \"../../outside DESIGN.md\"\n")},
		"testdata/x.md":         {Data: []byte("DESIGN.md is ignored in test data\n")},
	}
	problems, checked, err := citationProblems(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 0 || checked != 4 {
		t.Errorf("good tree: %d files checked, problems %q", checked, problems)
	}

	for _, c := range []struct{ file, text, want string }{
		{"ingest/a.go", "package ingest\n\n// Decoded per " + designName + " §6.\n", "ingest/a.go:3: cites the design document outside"},
		{"docs/x.md", "See\nDESIGN.md §3.\n", "docs/x.md:2: cites the design document outside"},
		{"docs/x.md", "Scripts in [corpus](../../shared/corpus).\n", "docs/x.md:1: cites ../../shared/corpus, outside the repository"},
		{"ingest/a.go", "package ingest\n\n/* see ../nothing/here */\n", "ingest/a.go:3: cites ../nothing/here, which is not in the repository"},
		{"docs/x.md", "Measured in ENVIRONMENT.md.\n", "docs/x.md:1: cites ENVIRONMENT.md, which is not in the repository"},
		{"ingest/a.go", "package ingest\n\nvar x int // see shared/corpus/README.md\n", "ingest/a.go:3: cites shared/corpus/README.md"},
		{"ingest/a.go", "package ingest\n\n// Why: docs/design.md,\n// Packages.\n", `ingest/a.go:3: cites docs/design.md, "Packages."`},
		{"docs/x.md", "[why](design.md#layers)\n", "docs/x.md:1: cites design.md#layers"},
		{"docs/x.md", "As FORMAT.md §13 says.\n", "docs/x.md:1: cites FORMAT.md §13"},
	} {
		fsys := fstest.MapFS{}
		for k, v := range good {
			fsys[k] = v
		}
		fsys[c.file] = &fstest.MapFile{Data: []byte(c.text)}
		problems, _, err := citationProblems(fsys)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) != 1 || !strings.Contains(problems[0], c.want) {
			t.Errorf("%s %q: got %q, want one problem containing %q", c.file, c.text, problems, c.want)
		}
	}
}

var (
	// outsideDesign is how the design document outside the repository was
	// cited: by its file name, or by the upper-case word and a section sign.
	outsideDesign = regexp.MustCompile(`\bDESIGN(\.md\b| ?§)`)
	// upPath is a relative path that climbs: it must stay inside the
	// repository and exist.
	upPath = regexp.MustCompile(`(?:\.\./)+[\w./-]*`)
	// mdPath is a Markdown file named by path or by name.
	mdPath = regexp.MustCompile(`[\w./-]*\.md\b`)
	// designSection is a pointer to a section of docs/design.md by name
	// ("docs/design.md, Layering") or by anchor ("design.md#layering").
	designSection = regexp.MustCompile(`design\.md(?:,\s+([^\n]*(?:\n[^\n]*)?)|#([\w-]+))`)
	// formatSection is a pointer to a numbered section of FORMAT.md.
	formatSection = regexp.MustCompile(`FORMAT\.md\)?,? §(\d+)`)
	// mdHeading is a second-level heading of a Markdown document.
	mdHeading = regexp.MustCompile(`(?m)^## (.+)$`)
)

// citationProblems reads every Go file's comments and every Markdown document
// of the tree fsys (a repository's root; folders named testdata or starting
// with "." or "_" are not read, as go build does not read them) and returns
// each citation that points outside the tree or at nothing, and how many files
// it checked.
func citationProblems(fsys fs.FS) (problems []string, checked int, err error) {
	var goFiles, docs []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case strings.HasSuffix(name, ".go"):
			goFiles = append(goFiles, p)
		case strings.HasSuffix(name, ".md"):
			docs = append(docs, p)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	designHeadings, err := headings(fsys, "docs/design.md")
	if err != nil {
		return nil, 0, err
	}
	formatHeadings, err := headings(fsys, "tableformat/FORMAT.md")
	if err != nil {
		return nil, 0, err
	}
	c := citations{fsys: fsys, docs: docs, design: designHeadings, format: formatHeadings}
	for _, p := range slices.Concat(goFiles, docs) {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, 0, err
		}
		text := string(data)
		if strings.HasSuffix(p, ".go") {
			text = goComments(data)
		}
		problems = append(problems, c.check(p, text)...)
		checked++
	}
	return problems, checked, nil
}

// headings returns the second-level headings of a Markdown document.
func headings(fsys fs.FS, doc string) ([]string, error) {
	data, err := fs.ReadFile(fsys, doc)
	if err != nil {
		return nil, err
	}
	var hs []string
	for _, m := range mdHeading.FindAllStringSubmatch(string(data), -1) {
		hs = append(hs, strings.TrimSpace(m[1]))
	}
	return hs, nil
}

// goComments returns the text of a Go file's comments, each on its own line
// of the file and the rest blank, so that a problem's line number is the
// file's and a comment continued on the next line reads on.
func goComments(src []byte) string {
	lines := make([]string, strings.Count(string(src), "\n")+1)
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, scanner.ScanComments)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok != token.COMMENT {
			continue
		}
		line := file.Line(pos)
		lit = strings.TrimPrefix(strings.TrimPrefix(lit, "//"), "/*")
		for i, part := range strings.Split(strings.TrimSuffix(lit, "*/"), "\n") {
			lines[line-1+i] += part
		}
	}
	return strings.Join(lines, "\n")
}

// citations checks the citations of one tree.
type citations struct {
	fsys           fs.FS
	docs           []string // every Markdown document of the tree
	design, format []string // the headings of docs/design.md and FORMAT.md
}

// check returns the problems of file's text (a document, or a Go file's
// comments), each naming the file and line.
func (c citations) check(file, text string) []string {
	var problems []string
	report := func(at int, format string, args ...any) {
		line := strings.Count(text[:at], "\n") + 1
		problems = append(problems, fmt.Sprintf("%s:%d: ", file, line)+fmt.Sprintf(format, args...))
	}
	for _, m := range outsideDesign.FindAllStringIndex(text, -1) {
		report(m[0], "cites the design document outside the repository (%s): cite docs/design.md, FORMAT.md or docs/ and the section instead", text[m[0]:m[1]])
	}
	dir := path.Dir(file)
	for _, m := range upPath.FindAllStringIndex(text, -1) {
		rel := strings.TrimRight(text[m[0]:m[1]], ".")
		switch target := path.Join(dir, rel); {
		case target == ".." || strings.HasPrefix(target, "../"):
			report(m[0], "cites %s, outside the repository", rel)
		case !c.exists(target):
			report(m[0], "cites %s, which is not in the repository", rel)
		}
	}
	for _, m := range mdPath.FindAllStringIndex(text, -1) {
		doc := text[m[0]:m[1]]
		if strings.HasPrefix(doc, "/") || strings.HasPrefix(doc, "../") || outsideDesign.MatchString(doc) {
			continue // absolute (not judged), or reported above
		}
		if !c.knownDoc(dir, strings.TrimPrefix(doc, "./")) {
			report(m[0], "cites %s, which is not in the repository", doc)
		}
	}
	for _, m := range designSection.FindAllStringSubmatchIndex(text, -1) {
		if m[2] >= 0 {
			name := strings.Join(strings.Fields(text[m[2]:m[3]]), " ")
			if !slices.ContainsFunc(c.design, func(h string) bool { return strings.HasPrefix(name, h) }) {
				report(m[0], "cites docs/design.md, %q: no section of docs/design.md has that name (%s)", name, strings.Join(c.design, "; "))
			}
			continue
		}
		anchor := text[m[4]:m[5]]
		if !slices.ContainsFunc(c.design, func(h string) bool { return slug(h) == anchor }) {
			report(m[0], "cites design.md#%s: docs/design.md has no such section", anchor)
		}
	}
	for _, m := range formatSection.FindAllStringSubmatchIndex(text, -1) {
		n := text[m[2]:m[3]]
		if !slices.ContainsFunc(c.format, func(h string) bool { return strings.HasPrefix(h, n+". ") }) {
			report(m[0], "cites FORMAT.md §%s: FORMAT.md has no such section", n)
		}
	}
	return problems
}

// exists reports whether the tree holds p (a cleaned path inside it).
func (c citations) exists(p string) bool {
	_, err := fs.Stat(c.fsys, p)
	return err == nil
}

// knownDoc reports whether a Markdown file cited from dir is in the tree:
// by its path from dir or from the root, or as the end of a document's path
// ("FORMAT.md" cited from any package means tableformat/FORMAT.md).
func (c citations) knownDoc(dir, doc string) bool {
	if c.exists(path.Join(dir, doc)) || c.exists(path.Clean(doc)) {
		return true
	}
	return slices.ContainsFunc(c.docs, func(p string) bool { return strings.HasSuffix(p, "/"+doc) })
}

// slug is the anchor GitHub gives a heading: lower case, punctuation
// dropped, spaces as hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// designName is the name the citation checker must catch, spelled so
// that this file does not cite it itself.
const designName = "DES" + "IGN"
