package mysql

import (
	"strings"

	"github.com/binlake/binlake/ingest"
)

// ParseDDL reads the table-level effect of a statement logged as a Query
// event: renames, truncations, drops, alters (with their column renames) and
// creates. defaultDB is the event's schema, used for unqualified names. A
// statement that changes no table (BEGIN, GRANT, CREATE DATABASE, …), or one
// this parser does not recognise, yields nil.
//
// It is a hand-written scanner, not a SQL parser: it reads the statement's
// leading keywords and names, and for ALTER TABLE only the clauses that
// rename a column or the table. Everything else about the new structure
// reaches the lake through the next TableMap event, so DDL.Table stays nil.
func ParseDDL(defaultDB, sql string) []*ingest.DDL {
	p := &ddlParser{toks: tokenize(sql), db: defaultDB, sql: sql}
	switch {
	case p.word("RENAME"):
		return p.rename()
	case p.word("TRUNCATE"):
		p.word("TABLE")
		if db, name, ok := p.name(); ok {
			return []*ingest.DDL{p.ddl(ingest.DDLTruncate, db, name)}
		}
	case p.word("DROP"):
		return p.drop()
	case p.word("ALTER"):
		return p.alter()
	case p.word("CREATE"):
		return p.create()
	}
	return nil
}

type ddlParser struct {
	toks []token
	i    int
	db   string
	sql  string
}

type token struct {
	text   string
	quoted bool // a backquoted identifier: never a keyword
	punct  bool // one of . , ( ) ; = and other single characters
}

func (p *ddlParser) peek() (token, bool) {
	if p.i >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.i], true
}

// word consumes the keyword kw (case-insensitive) if it comes next.
func (p *ddlParser) word(kw string) bool {
	t, ok := p.peek()
	if ok && !t.quoted && !t.punct && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

// words consumes a sequence of keywords, all or nothing.
func (p *ddlParser) words(kws ...string) bool {
	save := p.i
	for _, kw := range kws {
		if !p.word(kw) {
			p.i = save
			return false
		}
	}
	return true
}

func (p *ddlParser) punct(c string) bool {
	t, ok := p.peek()
	if ok && t.punct && t.text == c {
		p.i++
		return true
	}
	return false
}

// ident consumes one identifier.
func (p *ddlParser) ident() (string, bool) {
	t, ok := p.peek()
	if !ok || t.punct {
		return "", false
	}
	p.i++
	return t.text, true
}

// name consumes [db.]table, then MariaDB's optional WAIT n / NOWAIT.
func (p *ddlParser) name() (db, name string, ok bool) {
	first, ok := p.ident()
	if !ok {
		return "", "", false
	}
	db, name = p.db, first
	if p.punct(".") {
		second, ok := p.ident()
		if !ok {
			return "", "", false
		}
		db, name = first, second
	}
	if p.word("WAIT") {
		p.ident() // the number of seconds
	} else {
		p.word("NOWAIT")
	}
	return db, name, true
}

func (p *ddlParser) ddl(op ingest.DDLOp, db, name string) *ingest.DDL {
	return &ingest.DDL{Op: op, DB: db, Name: name, SQL: p.sql}
}

// tableList parses TABLE[S] [IF EXISTS] item [, item]…, reading each item
// with item, which reports false at the first it cannot read.
func (p *ddlParser) tableList(item func() (*ingest.DDL, bool)) []*ingest.DDL {
	if !p.word("TABLE") && !p.word("TABLES") {
		return nil
	}
	p.words("IF", "EXISTS")
	var out []*ingest.DDL
	for {
		d, ok := item()
		if !ok {
			return out
		}
		out = append(out, d)
		if !p.punct(",") {
			return out
		}
	}
}

// rename: RENAME TABLE[S] [IF EXISTS] a TO b [, c TO d]…
func (p *ddlParser) rename() []*ingest.DDL {
	return p.tableList(func() (*ingest.DDL, bool) {
		db, name, ok := p.name()
		if !ok || !p.word("TO") {
			return nil, false
		}
		ndb, nname, ok := p.name()
		if !ok {
			return nil, false
		}
		d := p.ddl(ingest.DDLRename, db, name)
		d.NewDB, d.NewName = ndb, nname
		return d, true
	})
}

// drop: DROP TABLE[S] [IF EXISTS] a [, b]… (DROP TEMPORARY TABLE is not a
// mirrored table: row-based binlogs never carry temporary tables' rows).
func (p *ddlParser) drop() []*ingest.DDL {
	return p.tableList(func() (*ingest.DDL, bool) {
		db, name, ok := p.name()
		if !ok {
			return nil, false
		}
		return p.ddl(ingest.DDLDrop, db, name), true
	})
}

// create: CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t … — OR REPLACE drops
// the old table (and its rows) first.
func (p *ddlParser) create() []*ingest.DDL {
	replace := p.words("OR", "REPLACE")
	if !p.word("TABLE") {
		return nil // TEMPORARY, VIEW, DATABASE, INDEX, …
	}
	p.words("IF", "NOT", "EXISTS")
	db, name, ok := p.name()
	if !ok {
		return nil
	}
	if replace {
		return []*ingest.DDL{p.ddl(ingest.DDLDrop, db, name), p.ddl(ingest.DDLCreate, db, name)}
	}
	return []*ingest.DDL{p.ddl(ingest.DDLCreate, db, name)}
}

// alter: ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] t spec [, spec]… — one
// DDLAlter carrying the column renames, then a DDLRename if a spec renames
// the table (the other specs apply to it under its old name first).
func (p *ddlParser) alter() []*ingest.DDL {
	p.word("ONLINE")
	p.word("IGNORE")
	if !p.word("TABLE") {
		return nil
	}
	p.words("IF", "EXISTS")
	db, name, ok := p.name()
	if !ok {
		return nil
	}
	alter := p.ddl(ingest.DDLAlter, db, name)
	var rename *ingest.DDL
	for {
		p.alterSpec(alter, &rename)
		// Skip to the next top-level comma.
		depth := 0
		for p.i < len(p.toks) {
			t := p.toks[p.i]
			if t.punct && t.text == "," && depth == 0 {
				break
			}
			if t.punct && t.text == "(" {
				depth++
			} else if t.punct && t.text == ")" {
				depth--
			}
			p.i++
		}
		if !p.punct(",") {
			break
		}
	}
	out := []*ingest.DDL{alter}
	if rename != nil {
		out = append(out, rename)
	}
	return out
}

func (p *ddlParser) alterSpec(alter *ingest.DDL, rename **ingest.DDL) {
	addRename := func(from, to string) {
		if from == to {
			return
		}
		if alter.ColumnRenames == nil {
			alter.ColumnRenames = map[string]string{}
		}
		alter.ColumnRenames[from] = to
	}
	switch {
	case p.word("RENAME"):
		switch {
		case p.word("COLUMN"):
			p.words("IF", "EXISTS")
			from, ok1 := p.ident()
			ok2 := p.word("TO")
			to, ok3 := p.ident()
			if ok1 && ok2 && ok3 {
				addRename(from, to)
			}
		case p.word("INDEX"), p.word("KEY"):
		default:
			if !p.word("TO") {
				p.word("AS")
			}
			if ndb, nname, ok := p.name(); ok {
				*rename = &ingest.DDL{Op: ingest.DDLRename, DB: alter.DB, Name: alter.Name, NewDB: ndb, NewName: nname, SQL: p.sql}
			}
		}
	case p.word("CHANGE"):
		p.word("COLUMN")
		p.words("IF", "EXISTS")
		from, ok1 := p.ident()
		to, ok2 := p.ident()
		if ok1 && ok2 {
			addRename(from, to)
		}
	}
}

// tokenize splits SQL into identifiers, keywords, backquoted names and
// single punctuation characters, dropping comments and string literals'
// quotes. MySQL's executable comments (/*! … */, /*M! … */) are read as SQL.
func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '#' || (c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || isSpace(s[i+2]))):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*!") || strings.HasPrefix(s[i:], "/*M!"):
			i += strings.IndexByte(s[i:], '!') + 1
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++ // the version the comment's text needs
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += 2 + end + 2
		case strings.HasPrefix(s[i:], "*/"):
			i += 2 // the end of an executable comment
		case c == '`':
			var b strings.Builder
			j := i + 1
			for j < len(s) {
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				} else if s[j] == c && j+1 < len(s) && s[j+1] == c {
					j++
				}
				j++
			}
			out = append(out, token{text: s[i:min(j+1, len(s))], punct: true})
			i = j + 1
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		default:
			out = append(out, token{text: string(c), punct: true})
			i++
		}
	}
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isIdentByte reports whether c may appear in an unquoted identifier
// (letters, digits, _ and $, and any byte of a multi-byte UTF-8 character).
func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}
