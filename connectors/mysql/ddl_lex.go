package mysql

import "strings"

// This file is the DDL parser's lexical layer: tokenize splits a statement
// into tokens, and the ddlParser methods here match keywords, punctuation,
// identifiers, [db.]table names and string literals at the cursor, or skip
// a parenthesised group or a simple expression without reading it.

type token struct {
	text   string
	quoted bool // a backquoted identifier: never a keyword
	punct  bool // one of . , ( ) ; = and other single characters, or a string
	str    bool // a quoted string literal (text keeps its quotes)
}

// tokenize splits SQL into identifiers, keywords, backquoted names, string
// literals and single punctuation characters, dropping comments. MySQL's
// executable comments (/*! … */, /*M! … */) are read as SQL.
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
				}
				j++
			}
			for j+1 < len(s) && s[j+1] == c { // a doubled quote: the string goes on
				j += 2
				for j < len(s) && s[j] != c {
					if s[j] == '\\' {
						j++
					}
					j++
				}
			}
			out = append(out, token{text: s[i:min(j+1, len(s))], punct: true, str: true})
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

func (p *ddlParser) peek() (token, bool) {
	if p.i >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.i], true
}

// isWord reports whether the token at offset off is the keyword kw.
func (p *ddlParser) isWord(off int, kw string) bool {
	if p.i+off >= len(p.toks) {
		return false
	}
	t := p.toks[p.i+off]
	return !t.quoted && !t.punct && strings.EqualFold(t.text, kw)
}

// word consumes the keyword kw (case-insensitive) if it comes next.
func (p *ddlParser) word(kw string) bool {
	if p.isWord(0, kw) {
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
	if ok && t.punct && !t.str && t.text == c {
		p.i++
		return true
	}
	return false
}

func (p *ddlParser) atPunct(c string) bool {
	t, ok := p.peek()
	return ok && t.punct && !t.str && t.text == c
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

// str consumes a string literal.
func (p *ddlParser) str() bool {
	t, ok := p.peek()
	if ok && t.str {
		p.i++
		return true
	}
	return false
}

// strValue consumes a string literal and returns its value.
func (p *ddlParser) strValue() (string, bool) {
	t, ok := p.peek()
	if !ok || !t.str || len(t.text) < 2 || t.text[len(t.text)-1] != t.text[0] {
		return "", false
	}
	p.i++
	return unquote(t.text), true
}

// unquote undoes a string literal's quotes and escapes as MySQL reads them.
func unquote(lit string) string {
	q, s := lit[0], lit[1:len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case '%', '_':
				b.WriteByte('\\')
				b.WriteByte(s[i])
			case 'b':
				b.WriteByte('\b')
			default:
				b.WriteByte(unescape(s[i]))
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// group skips a parenthesised group, nested groups included.
func (p *ddlParser) group() error {
	if !p.punct("(") {
		return errIncomplete
	}
	for depth := 1; depth > 0; p.i++ {
		if p.i >= len(p.toks) {
			return errIncomplete
		}
		t := p.toks[p.i]
		if t.punct && !t.str {
			switch t.text {
			case "(":
				depth++
			case ")":
				depth--
			}
		}
	}
	return nil
}

// expr skips one simple expression: a DEFAULT value or an ON UPDATE
// function. It knows literals (with a sign, a charset introducer or a
// b/x/n prefix), words with an optional argument list (NULL,
// CURRENT_TIMESTAMP(6), uuid()), NEXT VALUE FOR seq and parenthesised
// expressions.
func (p *ddlParser) expr() error {
	for p.punct("-") || p.punct("+") {
	}
	t, ok := p.peek()
	switch {
	case !ok:
		return errIncomplete
	case t.str:
		p.i++
		return nil
	case t.punct && t.text == "(":
		return p.group()
	case t.punct && t.text == ".": // .5
		p.i++
		_, ok := p.ident()
		if !ok {
			return errIncomplete
		}
		return nil
	case t.punct || t.quoted:
		return errIncomplete
	}
	p.i++
	if t.text[0] >= '0' && t.text[0] <= '9' {
		if p.punct(".") {
			if n, ok := p.peek(); ok && !n.punct && !n.quoted && n.text[0] >= '0' && n.text[0] <= '9' {
				p.i++
			}
		}
		return nil
	}
	if strings.EqualFold(t.text, "NEXT") || strings.EqualFold(t.text, "PREVIOUS") {
		if !p.words("VALUE", "FOR") {
			return errIncomplete
		}
		if _, _, ok := p.name(); !ok {
			return errIncomplete
		}
		return nil
	}
	if p.str() { // _utf8mb4'x', x'0a', b'1', N'x'
		return nil
	}
	if p.atPunct("(") {
		return p.group()
	}
	return nil
}
