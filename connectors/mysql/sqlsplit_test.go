package mysql

import (
	"slices"
	"strings"
	"testing"
)

// splitStatements splits a SQL script into statements at semicolons outside
// quotes ('…', "…", `…`, with backslash escapes in the first two) and
// comments. "-- " and "#" comments are dropped; /* … */ comments are kept in
// the statement (MySQL's /*! … */ are executable). Empty statements are
// dropped.
func splitStatements(script string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(script); i++ {
		ch := script[i]
		switch {
		case ch == '\'' || ch == '"' || ch == '`':
			j := i + 1
			for j < len(script) {
				if script[j] == '\\' && ch != '`' {
					j += 2
					continue
				}
				if script[j] == ch {
					break
				}
				j++
			}
			j = min(j, len(script)-1)
			cur.WriteString(script[i : j+1])
			i = j
		case ch == '#' || (ch == '-' && strings.HasPrefix(script[i:], "--") &&
			(i+2 == len(script) || script[i+2] == ' ' || script[i+2] == '\t' || script[i+2] == '\n' || script[i+2] == '\r')):
			for i < len(script) && script[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case ch == '/' && strings.HasPrefix(script[i:], "/*"):
			end := strings.Index(script[i+2:], "*/")
			if end < 0 {
				end = len(script) - i - 4
			}
			cur.WriteString(script[i : i+2+end+2])
			i += 2 + end + 1
		case ch == ';':
			flush()
		default:
			cur.WriteByte(ch)
		}
	}
	flush()
	return out
}

func TestSplitStatements(t *testing.T) {
	script := "-- a comment; with a semicolon\n" +
		"CREATE TABLE t (a ENUM('x;y', 'c,\\'d', 'g,''h'), `b;c` INT); # trailing ; comment\n" +
		"INSERT INTO t VALUES (\"a;b\", 1);\n" +
		"/*!40101 SET NAMES utf8 */;\n" +
		"   ;\n" +
		"SELECT 1--1\n"
	want := []string{
		"CREATE TABLE t (a ENUM('x;y', 'c,\\'d', 'g,''h'), `b;c` INT)",
		"INSERT INTO t VALUES (\"a;b\", 1)",
		"/*!40101 SET NAMES utf8 */",
		"SELECT 1--1",
	}
	if got := splitStatements(script); !slices.Equal(got, want) {
		t.Errorf("splitStatements =\n%q\nwant\n%q", got, want)
	}
}
