package mysql

import (
	"slices"
	"strings"
)

// A server with binlog_format=ROW still logs a session's changes as SQL
// text when that session runs SET SESSION binlog_format=STATEMENT (or
// MIXED): the binlog then holds a Query event "INSERT INTO …" instead of
// row events. Such a change carries no row images, so it cannot be
// mirrored; DMLTargets finds which tables it wrote, so the source can stop
// rather than skip it.

// DMLTargets reads which tables a data-changing statement writes: INSERT
// and REPLACE (… [INTO] t), UPDATE (its table references, before SET),
// DELETE (single-table, and both multi-table forms), LOAD DATA (… INTO
// TABLE t), each optionally after WITH …. defaultDB qualifies unqualified
// names. ok is false for a statement that changes no rows (DDL, BEGIN,
// SET, …).
//
// Where the written tables cannot be told from the ones only read (a
// multi-table UPDATE or DELETE, aliases), every table of the references
// is named: a false alarm stops ingest with a message saying what to do,
// while a miss would lose a change.
func DMLTargets(defaultDB, sql string) (verb string, targets [][2]string, ok bool) {
	p := &ddlParser{toks: tokenize(sql), db: defaultDB, sql: sql}
	if p.word("WITH") {
		p.skipCTEs()
	}
	t, more := p.peek()
	if !more || t.punct || t.quoted {
		return "", nil, false
	}
	switch verb = strings.ToUpper(t.text); verb {
	case "INSERT", "REPLACE":
		p.i++
		for p.word("LOW_PRIORITY") || p.word("DELAYED") || p.word("HIGH_PRIORITY") || p.word("IGNORE") {
		}
		p.word("INTO")
		if db, name, ok := p.name(); ok {
			targets = append(targets, [2]string{db, name})
		}
	case "UPDATE":
		p.i++
		for p.word("LOW_PRIORITY") || p.word("IGNORE") {
		}
		targets = p.tableRefs("SET")
	case "DELETE":
		p.i++
		for p.word("LOW_PRIORITY") || p.word("QUICK") || p.word("IGNORE") {
		}
		if p.word("FROM") {
			// DELETE FROM t … or DELETE FROM t1, t2 USING refs.
			targets = p.tableRefs("USING", "WHERE", "ORDER", "LIMIT", "RETURNING")
			if p.word("USING") {
				targets = append(targets, p.tableRefs("WHERE")...)
			}
		} else {
			// DELETE t1, t2 FROM refs.
			targets = p.tableRefs("FROM")
			if p.word("FROM") {
				targets = append(targets, p.tableRefs("WHERE")...)
			}
		}
	case "LOAD":
		for p.i < len(p.toks) && !p.words("INTO", "TABLE") {
			p.i++
		}
		if db, name, ok := p.name(); ok {
			targets = append(targets, [2]string{db, name})
		}
	default:
		return "", nil, false
	}
	return verb, targets, true
}

// skipCTEs skips the common table expressions after WITH: [RECURSIVE]
// name [(columns)] AS (query) [, …].
func (p *ddlParser) skipCTEs() {
	p.word("RECURSIVE")
	for p.i < len(p.toks) {
		p.ident()
		if p.atPunct("(") {
			p.group()
		}
		p.word("AS")
		if p.atPunct("(") {
			p.group()
		}
		if !p.punct(",") {
			return
		}
	}
}

// tableRefs reads table references up to one of the stop keywords at
// parenthesis depth zero (not consumed) and returns the tables named: the
// first of the list, each after a comma and each after JOIN, looking into
// parenthesised joins but not into subqueries or ON conditions. "t.*" (a
// multi-table DELETE's target list) names t.
func (p *ddlParser) tableRefs(stops ...string) [][2]string {
	var out [][2]string
	expect, depth := true, 0
	for p.i < len(p.toks) {
		t := p.toks[p.i]
		switch {
		case depth == 0 && !t.punct && !t.quoted && slices.Contains(stops, strings.ToUpper(t.text)):
			return out
		case t.punct && t.text == "(":
			if expect && !p.isWord(1, "SELECT") && !p.isWord(1, "WITH") && !p.isWord(1, "VALUES") {
				p.i++ // a parenthesised join: its tables are written too
				depth++
				continue
			}
			if p.group() != nil {
				return out
			}
			expect = false // a derived table; its alias follows
			continue
		case t.punct && t.text == ")":
			depth--
			p.i++
			continue
		case t.punct && t.text == ",":
			expect = true
			p.i++
			continue
		case !t.punct && !t.quoted && (strings.ToUpper(t.text) == "JOIN" || strings.ToUpper(t.text) == "STRAIGHT_JOIN"):
			expect = true
			p.i++
			continue
		case expect && !t.punct:
			p.i++
			db, name := p.db, t.text
			if p.punct(".") {
				if next, ok := p.peek(); ok && !next.punct {
					db, name = t.text, next.text
					p.i++
				} else {
					p.punct("*")
				}
			}
			if p.punct(".") {
				p.punct("*") // db.t.*
			}
			out = append(out, [2]string{db, name})
			expect = false
			continue
		}
		p.i++
	}
	return out
}
