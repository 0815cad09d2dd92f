package main

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/tableformat"
)

// Table patterns: the db.table patterns of source.include and
// source.exclude and of the --table flags of tables, status and compact,
// one syntax and one matcher (matchTable). A pattern is path.Match syntax
// over the whole name "db.table" — `*` any run of characters, the dot
// included (shop.*, *.orders, *_archive.*), `?` one character, `[…]` a
// class, `\` an escape — and must hold a dot. The match is
// case-sensitive: Shop.* does not match shop.orders.

// checkTablePattern reports why p is not a db.table pattern.
func checkTablePattern(p string) error {
	if _, err := path.Match(p, "db.table"); err != nil || !strings.Contains(p, ".") {
		return fmt.Errorf("%q: write db.table patterns such as shop.* or *.orders", p)
	}
	return nil
}

// matchTable reports whether name (db.table) matches pattern p, which
// checkTablePattern accepted.
func matchTable(p, name string) bool {
	ok, _ := path.Match(p, name)
	return ok
}

// matchName reports whether name (db.table) matches one of patterns.
func matchName(patterns []string, name string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matchTable(p, name) })
}

// tableFilter returns whether db.table is mirrored under the include and
// exclude patterns (validated by Config.Validate).
func tableFilter(include, exclude []string) func(db, table string) bool {
	return func(db, table string) bool {
		if mysql.SystemSchema(db) {
			return false
		}
		name := db + "." + table
		return (len(include) == 0 || matchName(include, name)) && !matchName(exclude, name)
	}
}

// tablePatterns is a repeatable --table PATTERN flag.
type tablePatterns []string

func (p *tablePatterns) String() string { return strings.Join(*p, ",") }

func (p *tablePatterns) Set(s string) error {
	if err := checkTablePattern(s); err != nil {
		return err
	}
	*p = append(*p, s)
	return nil
}

// tablePatternUsage is the help of a --table PATTERN flag; what is the
// command's object ("list", "compact").
func tablePatternUsage(what string) string {
	return what + " only the tables matching this db.table `PATTERN` (shop.*, *.orders; path.Match syntax and case-sensitive, " +
		"as source.include); repeat for several"
}

// selectTables returns the tables of st that keep accepts (nil: the tables
// not dropped) and whose current name matches one of patterns (every one
// when there are none), sorted by name, and how many keep accepts. A
// pattern that matches none of them is a usage error naming it and the
// databases there are.
func selectTables(st *tableformat.State, patterns []string, keep func(*tableformat.TableState) bool) ([]*tableformat.TableState, int, error) {
	if keep == nil {
		keep = func(t *tableformat.TableState) bool { return t.DroppedSeq == 0 }
	}
	matched := make([]bool, len(patterns))
	var out []*tableformat.TableState
	total := 0
	for t := range st.Tables.Values() {
		if !keep(t) {
			continue
		}
		total++
		if len(patterns) == 0 {
			out = append(out, t)
			continue
		}
		n := t.Current()
		name := n.DB + "." + n.Name
		hit := false
		for i, p := range patterns {
			if matchTable(p, name) {
				matched[i], hit = true, true
			}
		}
		if hit {
			out = append(out, t)
		}
	}
	var errs []error
	for i, p := range patterns {
		if !matched[i] {
			errs = append(errs, noMatchError(p, st, keep))
		}
	}
	if len(errs) > 0 {
		return nil, 0, &usageError{errors.Join(errs...).Error()}
	}
	slices.SortFunc(out, tableformat.CompareTables)
	return out, total, nil
}

// maxNamed bounds the names a message or a text listing spells out.
const maxNamed = 20

// noMatchError says that pattern p matches none of the tables of st that
// keep accepts, and what there is: the databases, and the tables p would
// match but for case.
func noMatchError(p string, st *tableformat.State, keep func(*tableformat.TableState) bool) error {
	dbs := map[string]int{}
	var folded []string
	lower := strings.ToLower(p)
	for t := range st.Tables.Values() {
		if !keep(t) {
			continue
		}
		n := t.Current()
		dbs[n.DB]++
		if name := n.DB + "." + n.Name; matchTable(lower, strings.ToLower(name)) {
			folded = append(folded, name)
		}
	}
	if len(dbs) == 0 {
		return fmt.Errorf("--table '%s': no table matches: the lake has no tables", p)
	}
	names := slices.Sorted(maps.Keys(dbs))
	var list []string
	for _, db := range names[:min(len(names), maxNamed)] {
		list = append(list, fmt.Sprintf("%s (%d %s)", db, dbs[db], plural(dbs[db], "table")))
	}
	if len(names) > maxNamed {
		list = append(list, fmt.Sprintf("and %d more", len(names)-maxNamed))
	}
	msg := fmt.Sprintf("--table '%s': no table matches; databases in the lake: %s", p, strings.Join(list, ", "))
	if len(folded) > 0 {
		slices.Sort(folded)
		msg += fmt.Sprintf(" (patterns are case-sensitive: %s would match %s)", p, strings.Join(folded[:min(len(folded), 3)], ", "))
		if len(folded) > 3 {
			msg += fmt.Sprintf(" and %d more", len(folded)-3)
		}
	}
	return errors.New(msg)
}
