package mysql

import (
	"slices"
	"strconv"
	"strings"

	"github.com/binlake/binlake/ingest"
)

// This file reads the body of a CREATE TABLE: its column and index
// definitions (which index is the table's key), the REFERENCES clause of a
// foreign key, and the table options that follow the body (among them the
// default charset). Index definitions and table options serve ALTER TABLE's
// ADD and option specs as well.

// keyDef is an index definition: its columns and whether one has a prefix.
type keyDef struct {
	cols   []string
	prefix bool
}

// createBody reads ( element, … ) [table options] of a CREATE TABLE and
// returns the table, or nil when it is incomplete.
func (p *ddlParser) createBody(db, name string) *ingest.Table {
	if !p.punct("(") {
		return nil // CREATE TABLE t SELECT …, CREATE TABLE t LIKE s
	}
	els, err := p.createElements()
	if err != nil {
		return nil
	}
	defColl, err := p.tableOptions(true)
	for p.punct(";") {
	}
	if err != nil || p.i < len(p.toks) {
		return nil // partitioning, … SELECT, unknown options
	}
	defaults := func() (uint64, error) {
		if defColl != 0 {
			return defColl, nil
		}
		if p.env.Defaults == nil {
			return 0, errIncomplete
		}
		return p.env.Defaults.DatabaseCollation(db)
	}
	t := &ingest.Table{DB: db, Name: name}
	if id, err := defaults(); err == nil {
		p.learnTableCollation(db, name, id)
		t.Charset = collationCharsetName(id)
	}
	t.Columns = make([]ingest.SourceColumn, len(els.cols))
	for i, c := range els.cols {
		if els.primary != nil && slices.ContainsFunc(els.primary.cols, func(n string) bool { return strings.EqualFold(n, c.name) }) {
			if c.nullSet && c.nullable {
				return nil // the server refuses it
			}
			c.nullSet, c.nullable = true, false
		}
		sc, err := p.resolveColumn(c, defaults)
		if err != nil {
			return nil
		}
		t.Columns[i] = sc
	}
	key, ok := els.key(t.Columns)
	if !ok {
		return nil
	}
	t.Key = key
	return t
}

// createElements are the column and index definitions of a CREATE TABLE's
// body, as written.
type createElements struct {
	cols    []*colDef
	primary *keyDef  // nil: none
	uniques []keyDef // the unique indexes, in the order written
}

// createElements reads element, … ) of a CREATE TABLE's body: column
// definitions, whose inline PRIMARY KEY and UNIQUE count as indexes, and
// index definitions.
func (p *ddlParser) createElements() (createElements, error) {
	var els createElements
	setPrimary := func(k keyDef) error {
		if els.primary != nil {
			return errIncomplete
		}
		els.primary = &k
		return nil
	}
	for {
		switch {
		case p.isWord(0, "LIKE"), p.isWord(0, "PERIOD") && p.isWord(1, "FOR"):
			return els, errIncomplete
		case p.atIndexDef():
			kind, k, err := p.indexDef()
			if err != nil {
				return els, err
			}
			switch kind {
			case "primary":
				if err := setPrimary(k); err != nil {
					return els, err
				}
			case "unique":
				els.uniques = append(els.uniques, k)
			}
		default:
			c, err := p.columnDef()
			if err != nil {
				return els, err
			}
			els.cols = append(els.cols, c)
			if c.primary {
				if err := setPrimary(keyDef{cols: []string{c.name}}); err != nil {
					return els, err
				}
			}
			if c.unique {
				els.uniques = append(els.uniques, keyDef{cols: []string{c.name}})
			}
		}
		if p.punct(")") {
			return els, nil
		}
		if !p.punct(",") {
			return els, errIncomplete
		}
	}
}

// key returns the table's key, given its resolved columns: the primary key,
// else the first unique index the server promotes to the key; ok is false
// when an index names a column twice or one the table does not have, when
// two columns share a name, or when the server may promote a unique index
// this cannot tell it would.
func (els createElements) key(resolved []ingest.SourceColumn) (key []string, ok bool) {
	byName := map[string]int{}
	for i, c := range els.cols {
		byName[strings.ToLower(c.name)] = i
	}
	if len(byName) != len(els.cols) {
		return nil, false
	}
	keyCols := func(k keyDef) ([]string, bool) {
		var out []string
		for _, n := range k.cols {
			i, ok := byName[strings.ToLower(n)]
			if !ok || slices.Contains(out, resolved[i].Name) {
				return nil, false
			}
			out = append(out, resolved[i].Name)
		}
		return out, true
	}
	if els.primary != nil {
		return keyCols(*els.primary)
	}
	// No primary key: the server promotes the first unique index whose
	// columns are all NOT NULL, have no prefix and whose length keeps it a
	// plain B-tree (not a hash of a long key).
	doubtful := false
	for _, u := range els.uniques {
		key, ok := keyCols(u)
		if !ok {
			return nil, false
		}
		notNull, plain, length := true, !u.prefix, 0
		for _, n := range key {
			c := resolved[byName[strings.ToLower(n)]]
			notNull = notNull && !c.Nullable
			l, fixed := keyPartBytes(c)
			plain = plain && fixed
			length += l
		}
		if !notNull {
			continue
		}
		if !plain || length > 1000 {
			doubtful = true
			continue
		}
		return key, true
	}
	return nil, !doubtful
}

// keyPartBytes estimates the bytes a column takes in an index, and whether
// it can be indexed whole (not BLOB, TEXT, JSON or GEOMETRY).
func keyPartBytes(c ingest.SourceColumn) (int, bool) {
	t := c.Type
	switch t.Kind {
	case "text", "blob", "json", "geometry":
		return 0, false
	case "char", "varchar", "binary", "varbinary":
		n := t.Length
		if n == 0 {
			_, args, _, _ := splitColumnType(t.SQL)
			if len(args) > 0 {
				n, _ = strconv.Atoi(args[0])
			}
		}
		maxLen := 1
		if t.Charset != "" {
			if id, ok := charsetCollation(t.Charset); ok {
				_, maxLen, _ = collationCharset(id)
			}
		}
		return n*maxLen + 2, true
	}
	return 16, true
}

// atIndexDef reports whether an index or constraint definition comes next
// (in a CREATE's body or after an ALTER's ADD).
func (p *ddlParser) atIndexDef() bool {
	for _, kw := range []string{"CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK"} {
		if p.isWord(0, kw) {
			return true
		}
	}
	return false
}

// indexDef reads an index or constraint definition of a CREATE TABLE or
// ADD: [CONSTRAINT [name]] {PRIMARY KEY | UNIQUE [INDEX|KEY] | {INDEX|KEY}
// | FULLTEXT | SPATIAL | FOREIGN KEY | CHECK} …. kind is "primary",
// "unique" or "" (no effect on the structure).
func (p *ddlParser) indexDef() (kind string, k keyDef, err error) {
	if p.word("CONSTRAINT") {
		if !p.isWord(0, "PRIMARY") && !p.isWord(0, "UNIQUE") && !p.isWord(0, "FOREIGN") && !p.isWord(0, "CHECK") {
			if _, ok := p.ident(); !ok {
				return "", k, errIncomplete
			}
		}
	}
	switch {
	case p.word("CHECK"):
		return "", k, p.group()
	case p.word("FOREIGN"):
		if !p.word("KEY") {
			return "", k, errIncomplete
		}
		p.words("IF", "NOT", "EXISTS")
		if !p.atPunct("(") {
			if _, ok := p.ident(); !ok {
				return "", k, errIncomplete
			}
		}
		if err := p.group(); err != nil {
			return "", k, err
		}
		return "", k, p.references()
	case p.word("PRIMARY"):
		if !p.word("KEY") {
			return "", k, errIncomplete
		}
		kind = "primary"
	case p.word("UNIQUE"):
		if !p.word("INDEX") {
			p.word("KEY")
		}
		kind = "unique"
	case p.word("FULLTEXT"), p.word("SPATIAL"):
		if !p.word("INDEX") {
			p.word("KEY")
		}
	case p.word("INDEX"), p.word("KEY"):
	default:
		return "", k, errIncomplete
	}
	if kind != "primary" {
		p.words("IF", "NOT", "EXISTS")
		if !p.atPunct("(") && !p.isWord(0, "USING") && !p.isWord(0, "TYPE") {
			if _, ok := p.ident(); !ok {
				return "", k, errIncomplete
			}
		}
	}
	if p.word("USING") || p.word("TYPE") {
		p.ident()
	}
	if !p.punct("(") {
		return "", k, errIncomplete
	}
	for {
		if p.atPunct("(") {
			return "", k, errIncomplete // an expression (MySQL's functional key part)
		}
		col, ok := p.ident()
		if !ok {
			return "", k, errIncomplete
		}
		k.cols = append(k.cols, col)
		if p.punct("(") {
			k.prefix = true
			if _, ok := p.ident(); !ok || !p.punct(")") {
				return "", k, errIncomplete
			}
		}
		if !p.word("ASC") {
			p.word("DESC")
		}
		if p.punct(")") {
			break
		}
		if !p.punct(",") {
			return "", k, errIncomplete
		}
	}
	// Index options.
	for {
		switch {
		case p.word("USING"), p.word("TYPE"), p.words("WITH", "PARSER"):
			if _, ok := p.ident(); !ok {
				return "", k, errIncomplete
			}
		case p.word("KEY_BLOCK_SIZE"):
			p.punct("=")
			if _, ok := p.ident(); !ok {
				return "", k, errIncomplete
			}
		case p.word("COMMENT"):
			if !p.str() {
				return "", k, errIncomplete
			}
		case p.word("CLUSTERING"):
			p.punct("=")
			p.ident()
		case p.word("VISIBLE"), p.word("INVISIBLE"):
		case p.word("IGNORED"), p.words("NOT", "IGNORED"):
			if kind != "" {
				return "", k, errIncomplete
			}
		case p.word("WITHOUT"), p.word("WITH"):
			return "", k, errIncomplete // WITHOUT OVERLAPS
		default:
			return kind, k, nil
		}
	}
}

// references skips REFERENCES tbl [(cols)] [MATCH …] [ON {DELETE|UPDATE} action]….
func (p *ddlParser) references() error {
	if !p.word("REFERENCES") {
		return errIncomplete
	}
	if _, _, ok := p.name(); !ok {
		return errIncomplete
	}
	if p.atPunct("(") {
		if err := p.group(); err != nil {
			return err
		}
	}
	if p.word("MATCH") {
		p.ident()
	}
	for p.word("ON") {
		if !p.word("DELETE") && !p.word("UPDATE") {
			return errIncomplete
		}
		switch {
		case p.word("RESTRICT"), p.word("CASCADE"), p.words("SET", "NULL"), p.words("NO", "ACTION"), p.words("SET", "DEFAULT"):
		default:
			return errIncomplete
		}
	}
	return nil
}

// tableOptions reads table options ([DEFAULT] CHARSET=, COLLATE=, ENGINE=,
// COMMENT=, …, optionally separated by commas) and returns the collation
// id of the default charset they set (0: none). It stops at the first
// token it does not know; the caller checks what follows. commas: options
// may be separated by commas (CREATE; in an ALTER a comma ends the spec).
func (p *ddlParser) tableOptions(commas bool) (uint64, error) {
	var coll uint64
	for p.i < len(p.toks) {
		save := p.i
		p.word("DEFAULT")
		switch {
		case p.words("CHARACTER", "SET"), p.word("CHARSET"), p.words("CHAR", "SET"):
			id, err := p.charsetName()
			if err != nil {
				return 0, err
			}
			if coll == 0 || !sameCharset(coll, id) {
				coll = id
			}
		case p.word("COLLATE"):
			id, err := p.collationName()
			if err != nil {
				return 0, err
			}
			coll = id
		default:
			p.i = save
			if !p.tableOption() {
				return coll, nil
			}
		}
		if commas {
			p.punct(",")
		}
	}
	return coll, nil
}

// tableOptionNames take one value: NAME [=] value.
var tableOptionNames = map[string]bool{
	"ENGINE": true, "TYPE": true, "AUTO_INCREMENT": true, "AVG_ROW_LENGTH": true, "CHECKSUM": true,
	"TABLE_CHECKSUM": true, "COMMENT": true, "CONNECTION": true, "DELAY_KEY_WRITE": true,
	"INSERT_METHOD": true, "KEY_BLOCK_SIZE": true, "MAX_ROWS": true, "MIN_ROWS": true, "PACK_KEYS": true,
	"PASSWORD": true, "ROW_FORMAT": true, "STATS_AUTO_RECALC": true, "STATS_PERSISTENT": true,
	"STATS_SAMPLE_PAGES": true, "TRANSACTIONAL": true, "PAGE_CHECKSUM": true, "PAGE_COMPRESSED": true,
	"PAGE_COMPRESSION_LEVEL": true, "ENCRYPTED": true, "ENCRYPTION_KEY_ID": true, "TABLESPACE": true,
	"ENCRYPTION": true, "COMPRESSION": true, "STORAGE": true,
}

// tableOption consumes one option that does not change columns.
func (p *ddlParser) tableOption() bool {
	save := p.i
	switch {
	case p.words("DATA", "DIRECTORY"), p.words("INDEX", "DIRECTORY"):
	default:
		t, ok := p.peek()
		if !ok || t.punct || t.quoted || !tableOptionNames[strings.ToUpper(t.text)] {
			return false
		}
		p.i++
	}
	p.punct("=")
	if _, ok := p.nameValue(); !ok {
		p.i = save
		return false
	}
	return true
}
