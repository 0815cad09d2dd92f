package mysql

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/binlake/binlake/ingest"
)

// ParseDDL reads a statement logged as a Query event with a default
// environment (the server's default sql_mode, a UTF-8 client, nothing to
// look up: a column whose charset or nullability depends on the server's
// defaults makes the statement incomplete). See ParseDDLWith.
func ParseDDL(defaultDB, sql string) []*ingest.DDL {
	return ParseDDLWith(defaultDB, sql, DDLEnv{})
}

// DDLEnv is what a statement leaves to its session and to the server.
type DDLEnv struct {
	// SQLMode is the statement's sql_mode (from the Query event). Modes
	// that change how a definition reads (REAL_AS_FLOAT, ANSI_QUOTES,
	// ORACLE, MAXDB, NO_BACKSLASH_ESCAPES with a backslash in the
	// statement) make a structure incomplete.
	SQLMode uint64
	// ClientCollation is the collation id of the statement's
	// character_set_client; 0: taken as UTF-8. A statement with non-ASCII
	// bytes from a client in another charset is incomplete.
	ClientCollation uint64
	// SessionUnknown: the Query event's session variables could not be
	// read; structures are then incomplete.
	SessionUnknown bool
	// Defaults looks up the server's defaults; nil: none are known.
	Defaults DDLDefaults
}

// DDLDefaults answers what a definition leaves to the server. The source
// looks them up in the live server's information_schema when it meets the
// DDL: that is the table's or database's default *now*, which differs from
// the one in force at the DDL's position only if a later statement changed
// it. Such a gap is self-correcting: the next TableMap event of the table
// is compared with the schema the DDL gave, and wins.
type DDLDefaults interface {
	// TableCollation is the default collation id of db.table (for a column
	// added or redefined by an ALTER without a charset).
	TableCollation(db, table string) (uint64, error)
	// DatabaseCollation is the default collation id of db (for a column of
	// a CREATE TABLE without a table or column charset).
	DatabaseCollation(db string) (uint64, error)
	// ExplicitDefaultsForTimestamp is the server's
	// explicit_defaults_for_timestamp: off, a TIMESTAMP column declared
	// without NULL is NOT NULL.
	ExplicitDefaultsForTimestamp() (bool, error)
}

// TableDefaultsLearner, when DDLEnv.Defaults implements it, is told the
// default collation a CREATE TABLE or an ALTER TABLE … DEFAULT CHARSET /
// CONVERT TO gives a table (id 0: a statement changed it in a way the
// parser did not read), so a later ALTER's columns take the default in
// force at its position rather than the live one (the table may be renamed
// or dropped by then).
type TableDefaultsLearner interface {
	LearnTableCollation(db, table string, id uint64)
}

// learnTableCollation tells env.Defaults a table's default collation.
func (p *ddlParser) learnTableCollation(db, table string, id uint64) {
	if l, ok := p.env.Defaults.(TableDefaultsLearner); ok && id != 0 {
		l.LearnTableCollation(db, table, id)
	}
}

// forgetTableCollation tells env.Defaults the table's default is unknown.
func (p *ddlParser) forgetTableCollation(db, table string) {
	if l, ok := p.env.Defaults.(TableDefaultsLearner); ok {
		l.LearnTableCollation(db, table, 0)
	}
}

// sql_mode bits (MariaDB's sql_mode.h).
const (
	modeRealAsFloat        = 1 << 0
	modeANSIQuotes         = 1 << 2
	modeStrictTrans        = 1 << 21
	modeStrictAll          = 1 << 22
	modeOracle             = 1 << 9
	modeMaxDB              = 1 << 12
	modeNoBackslashEscapes = 1 << 20
)

// ParseDDLWith reads the effect on tables of a statement logged as a Query
// event: renames, truncations, drops (of tables and of databases), alters
// and creates. defaultDB is the event's schema, used for unqualified names.
// A statement that changes no table (BEGIN, GRANT, CREATE DATABASE, …), or
// one this parser does not recognise, yields nil.
//
// It is a hand-written scanner, not a full SQL parser. Besides the names it
// reads column definitions (types with their arguments and aliases,
// UNSIGNED/ZEROFILL, CHARACTER SET/COLLATE/BINARY, NULL/NOT NULL, inline
// keys, and it skips DEFAULT, COMMENT, ON UPDATE, CHECK, REFERENCES, …) and
// maps each type through typeFromColumnType, the function the snapshot
// uses, so a structure read from DDL equals the one the table's TableMap
// events give:
//
//   - CREATE TABLE t (…): DDL.Table is the new table's structure and key
//     (the primary key, else the first unique index of NOT NULL columns,
//     which the server promotes to primary key).
//   - ALTER TABLE: DDL.Alter lists its column operations (ADD, DROP,
//     MODIFY, CHANGE, RENAME COLUMN, ADD PRIMARY KEY, ADD UNIQUE) and
//     DDL.Complete says they describe the whole structural change (index,
//     engine and option changes are no-ops).
//
// Anything the parser does not positively understand leaves the statement
// incomplete (DDL.Table nil, DDL.Complete false), and the new structure
// then reaches the lake through the table's next TableMap event: generated
// columns, CONVERT TO CHARACTER SET, CREATE … LIKE / … SELECT, IF NOT
// EXISTS on a create, DROP INDEX or DROP CONSTRAINT (the index may have
// been the key), DROP PRIMARY KEY without a new one, system versioning,
// periods, partitioning clauses of a create, column types the lake does not
// know, unknown clauses and session modes that change the grammar. A text
// column without a charset takes the table's (ALTER) or the CREATE's table
// option, else the database's default, looked up through env.Defaults (see
// DDLDefaults for why that is safe); MariaDB's JSON is LONGTEXT
// utf8mb4_bin, as its TableMap says; charset utf8 is utf8mb3 (MariaDB's
// default old_mode).
func ParseDDLWith(defaultDB, sql string, env DDLEnv) []*ingest.DDL {
	p := &ddlParser{toks: tokenize(sql), db: defaultDB, sql: sql, env: env}
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
	env  DDLEnv
}

type token struct {
	text   string
	quoted bool // a backquoted identifier: never a keyword
	punct  bool // one of . , ( ) ; = and other single characters, or a string
	str    bool // a quoted string literal (text keeps its quotes)
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
// mirrored table: row-based binlogs never carry temporary tables' rows), and
// DROP {DATABASE | SCHEMA} [IF EXISTS] db.
func (p *ddlParser) drop() []*ingest.DDL {
	if p.word("DATABASE") || p.word("SCHEMA") {
		p.words("IF", "EXISTS")
		db, ok := p.ident()
		if !ok {
			return nil
		}
		return []*ingest.DDL{p.ddl(ingest.DDLDropDatabase, db, "")}
	}
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
	ifNotExists := p.words("IF", "NOT", "EXISTS")
	db, name, ok := p.name()
	if !ok {
		return nil
	}
	d := p.ddl(ingest.DDLCreate, db, name)
	// IF NOT EXISTS: the statement is logged even when the table existed
	// (and kept its structure), so it says nothing certain.
	if !ifNotExists && p.sessionOK() {
		d.Table = p.createBody(db, name)
	}
	if replace {
		return []*ingest.DDL{p.ddl(ingest.DDLDrop, db, name), d}
	}
	return []*ingest.DDL{d}
}

// sessionOK reports whether the statement's session lets this parser read
// definitions.
func (p *ddlParser) sessionOK() bool {
	e := p.env
	if e.SessionUnknown || e.SQLMode&(modeRealAsFloat|modeANSIQuotes|modeOracle|modeMaxDB) != 0 {
		return false
	}
	if e.SQLMode&modeNoBackslashEscapes != 0 && strings.ContainsRune(p.sql, '\\') {
		return false
	}
	if e.ClientCollation != 0 {
		cs, _, ok := collationCharset(e.ClientCollation)
		if !ok || cs != "utf8mb4" && cs != "utf8mb3" && cs != "ascii" {
			for i := 0; i < len(p.sql); i++ {
				if p.sql[i] >= 0x80 {
					return false
				}
			}
		}
	}
	return utf8.ValidString(p.sql)
}

// errIncomplete stops reading a definition the parser does not understand.
var errIncomplete = errors.New("incomplete")

// errKeyUnknown: an ALTER spec leaves which index is the table's key to
// the server (DROP INDEX, ALTER INDEX … IGNORED), so the structure shows at
// the next row event; it changes no row.
var errKeyUnknown = errors.New("the key is not known from the statement")

// colDef is a column definition as written; its type is resolved once the
// defaults it may depend on are known.
type colDef struct {
	name string
	typ  colType
	// charset/collation named on the column (CHARACTER SET, COLLATE,
	// ASCII, UNICODE, BYTE), as a collation id of that charset; 0: none.
	collation uint64
	nullSet   bool // NULL or NOT NULL written
	nullable  bool
	autoInc   bool
	primary   bool // PRIMARY KEY / KEY
	unique    bool // UNIQUE [KEY], SERIAL DEFAULT VALUE
	// def is the DEFAULT clause (nil: none); generated: the column is
	// computed (AS (expr) [VIRTUAL | STORED | PERSISTENT]).
	def       *literal
	generated bool
}

type colType struct {
	base      string // the COLUMN_TYPE base name typeFromColumnType reads
	args      []string
	text      bool   // takes a charset
	collation uint64 // fixed by the type (NATIONAL, JSON)
	unsigned  bool
	zerofill  bool
	serial    bool  // SERIAL: BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE
	lobLen    int64 // TEXT(M) / BLOB(M): M; -1: none
}

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
	var cols []*colDef
	var primary *keyDef
	var uniques []keyDef
	setPrimary := func(k keyDef) error {
		if primary != nil {
			return errIncomplete
		}
		primary = &k
		return nil
	}
	err := func() error {
		for {
			switch {
			case p.isWord(0, "LIKE"), p.isWord(0, "PERIOD") && p.isWord(1, "FOR"):
				return errIncomplete
			case p.atIndexDef():
				kind, k, err := p.indexDef()
				if err != nil {
					return err
				}
				switch kind {
				case "primary":
					if err := setPrimary(k); err != nil {
						return err
					}
				case "unique":
					uniques = append(uniques, k)
				}
			default:
				c, err := p.columnDef()
				if err != nil {
					return err
				}
				cols = append(cols, c)
				if c.primary {
					if err := setPrimary(keyDef{cols: []string{c.name}}); err != nil {
						return err
					}
				}
				if c.unique {
					uniques = append(uniques, keyDef{cols: []string{c.name}})
				}
			}
			if p.punct(")") {
				return nil
			}
			if !p.punct(",") {
				return errIncomplete
			}
		}
	}()
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
	resolved := make([]ingest.SourceColumn, len(cols))
	byName := map[string]int{}
	for i, c := range cols {
		if primary != nil && slices.ContainsFunc(primary.cols, func(n string) bool { return strings.EqualFold(n, c.name) }) {
			if c.nullSet && c.nullable {
				return nil // the server refuses it
			}
			c.nullSet, c.nullable = true, false
		}
		sc, err := p.resolveColumn(c, defaults)
		if err != nil {
			return nil
		}
		resolved[i] = sc
		byName[strings.ToLower(c.name)] = i
	}
	if len(byName) != len(cols) {
		return nil
	}
	t.Columns = resolved
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
	if primary != nil {
		key, ok := keyCols(*primary)
		if !ok {
			return nil
		}
		t.Key = key
		return t
	}
	// No primary key: the server promotes the first unique index whose
	// columns are all NOT NULL, have no prefix and whose length keeps it a
	// plain B-tree (not a hash of a long key).
	doubtful := false
	for _, u := range uniques {
		key, ok := keyCols(u)
		if !ok {
			return nil
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
		t.Key = key
		return t
	}
	if doubtful {
		return nil
	}
	return t
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

// columnDef reads name type [attributes].
func (p *ddlParser) columnDef() (*colDef, error) {
	name, ok := p.ident()
	if !ok {
		return nil, errIncomplete
	}
	c := &colDef{name: name}
	var err error
	if c.typ, err = p.dataType(); err != nil {
		return nil, err
	}
	if c.typ.serial {
		c.nullSet, c.nullable, c.autoInc, c.unique = true, false, true, true
	}
	for {
		t, ok := p.peek()
		if !ok || t.punct && !t.str && (t.text == "," || t.text == ")") || p.isWord(0, "FIRST") || p.isWord(0, "AFTER") {
			return c, nil // FIRST / AFTER: the caller reads them (ALTER)
		}
		switch {
		case p.word("UNSIGNED"):
			c.typ.unsigned = true
		case p.word("SIGNED"):
		case p.word("ZEROFILL"):
			c.typ.zerofill, c.typ.unsigned = true, true
		case p.word("NULL"):
			c.nullSet, c.nullable = true, true
		case p.words("NOT", "NULL"):
			c.nullSet, c.nullable = true, false
		case p.word("DEFAULT"):
			if c.def, err = p.defaultLiteral(); err != nil {
				return nil, err
			}
		case p.words("GENERATED", "ALWAYS", "AS"), p.word("AS"):
			// A generated column: MariaDB logs its values in row events
			// like any column's; what existing rows hold is the server's
			// to compute (columnFill).
			if err := p.group(); err != nil { // AS ROW START/END (system versioning): incomplete
				return nil, err
			}
			c.generated = true
			if !p.word("VIRTUAL") && !p.word("STORED") {
				p.word("PERSISTENT")
			}
		case p.words("ON", "UPDATE"):
			if err := p.expr(); err != nil {
				return nil, err
			}
		case p.word("AUTO_INCREMENT"):
			c.autoInc = true
		case p.words("SERIAL", "DEFAULT", "VALUE"):
			c.nullSet, c.nullable, c.autoInc, c.unique = true, false, true, true
		case p.words("PRIMARY", "KEY"), p.word("KEY"):
			c.primary = true
		case p.word("UNIQUE"):
			p.word("KEY")
			c.unique = true
		case p.word("COMMENT"):
			if !p.str() {
				return nil, errIncomplete
			}
		case p.word("COLLATE"):
			id, err := p.collationName()
			if err != nil {
				return nil, err
			}
			if err := c.setCollation(id); err != nil {
				return nil, err
			}
		case p.words("CHARACTER", "SET"), p.word("CHARSET"), p.words("CHAR", "SET"):
			id, err := p.charsetName()
			if err != nil {
				return nil, err
			}
			if err := c.setCollation(id); err != nil {
				return nil, err
			}
		case p.word("BINARY"):
			// The charset's binary collation: still text.
		case p.word("ASCII"):
			if err := c.setCollation(latin1Collation); err != nil {
				return nil, err
			}
		case p.word("UNICODE"):
			if err := c.setCollation(ucs2Collation); err != nil {
				return nil, err
			}
		case p.word("BYTE"):
			if err := c.setCollation(binaryCollation); err != nil {
				return nil, err
			}
		case p.word("INVISIBLE"), p.word("VISIBLE"):
		case p.word("CHECK"):
			if err := p.group(); err != nil {
				return nil, err
			}
		case p.word("CONSTRAINT"):
			if !p.isWord(0, "CHECK") {
				p.ident()
			}
			if !p.word("CHECK") {
				return nil, errIncomplete
			}
			if err := p.group(); err != nil {
				return nil, err
			}
		case p.isWord(0, "REFERENCES"):
			if err := p.references(); err != nil {
				return nil, err
			}
		case p.word("COLUMN_FORMAT"), p.word("STORAGE"):
			if _, ok := p.ident(); !ok {
				return nil, errIncomplete
			}
		case p.word("REF_SYSTEM_ID"):
			p.punct("=")
			if _, ok := p.ident(); !ok {
				return nil, errIncomplete
			}
		default:
			// AS (…) / GENERATED ALWAYS (generated and row-period columns),
			// COMPRESSED, WITH[OUT] SYSTEM VERSIONING, engine attributes, …
			return nil, errIncomplete
		}
	}
}

func (c *colDef) setCollation(id uint64) error {
	if c.collation != 0 && !sameCharset(c.collation, id) {
		return errIncomplete
	}
	c.collation = id
	return nil
}

func sameCharset(a, b uint64) bool {
	ca, _, ok1 := collationCharset(a)
	cb, _, ok2 := collationCharset(b)
	return ok1 && ok2 && ca == cb
}

// Collation ids standing for a charset where the type or an attribute
// fixes it.
const (
	latin1Collation   = 8    // latin1_swedish_ci (ASCII attribute)
	ucs2Collation     = 35   // ucs2_general_ci (UNICODE attribute)
	utf8mb3Collation  = 33   // utf8mb3_general_ci (NATIONAL)
	utf8mb4BinCollate = 46   // utf8mb4_bin (MariaDB's JSON)
	maxCollationID    = 2048 // collation ids collations.go knows are below
)

// charsetCollations maps a charset name to a collation id of it.
var charsetCollations = func() map[string]uint64 {
	m := map[string]uint64{}
	for id := uint64(1); id < maxCollationID; id++ {
		if cs, _, ok := collationCharset(id); ok {
			if _, seen := m[cs]; !seen {
				m[cs] = id
			}
		}
	}
	return m
}()

// collationCharsetName is the name of a collation's charset ("": unknown id).
func collationCharsetName(id uint64) string {
	cs, _, _ := collationCharset(id)
	return cs
}

// charsetCollation returns a collation id of the named charset (utf8 is
// utf8mb3, as MariaDB's default old_mode has it).
func charsetCollation(name string) (uint64, bool) {
	name = strings.ToLower(name)
	if name == "utf8" {
		name = "utf8mb3"
	}
	id, ok := charsetCollations[name]
	return id, ok
}

// collationCharsetID returns a collation id of the charset of the named
// collation: collation names start with their charset's name.
func collationCharsetID(name string) (uint64, bool) {
	name = strings.ToLower(name)
	if name == "binary" {
		return binaryCollation, true
	}
	best := ""
	for cs := range charsetCollations {
		if strings.HasPrefix(name, cs+"_") && len(cs) > len(best) {
			best = cs
		}
	}
	if best == "" && strings.HasPrefix(name, "utf8_") {
		best = "utf8mb3"
	}
	if best == "" {
		return 0, false
	}
	return charsetCollations[best], true
}

// nameValue reads a charset or collation name: a word, a quoted name or a
// string.
func (p *ddlParser) nameValue() (string, bool) {
	if s, ok := p.strValue(); ok {
		return s, true
	}
	return p.ident()
}

// charsetName reads [=] charset after CHARACTER SET / CHARSET: the id of
// its default collation.
func (p *ddlParser) charsetName() (uint64, error) { return p.collationValue(charsetCollation) }

// collationName reads [=] collation after COLLATE: its id.
func (p *ddlParser) collationName() (uint64, error) { return p.collationValue(collationCharsetID) }

// collationValue reads [=] BINARY or a name, and looks the name up.
func (p *ddlParser) collationValue(lookup func(string) (uint64, bool)) (uint64, error) {
	p.punct("=")
	if p.word("BINARY") {
		return binaryCollation, nil
	}
	n, ok := p.nameValue()
	if !ok {
		return 0, errIncomplete
	}
	id, ok := lookup(n)
	if !ok {
		return 0, errIncomplete
	}
	return id, nil
}

// dataType reads a column's data type with its arguments.
func (p *ddlParser) dataType() (colType, error) {
	t := colType{lobLen: -1}
	w, ok := p.peek()
	if !ok || w.punct || w.quoted {
		return t, errIncomplete
	}
	p.i++
	kw := strings.ToUpper(w.text)
	optArgs := func() error {
		if !p.atPunct("(") {
			return nil
		}
		args, err := p.numArgs()
		t.args = args
		return err
	}
	textType := func(base string) {
		t.base, t.text = base, true
	}
	switch kw {
	case "TINYINT", "INT1":
		t.base = "tinyint"
		return t, optArgs()
	case "BOOL", "BOOLEAN":
		t.base = "tinyint"
	case "SMALLINT", "INT2":
		t.base = "smallint"
		return t, optArgs()
	case "MEDIUMINT", "INT3", "MIDDLEINT":
		t.base = "mediumint"
		return t, optArgs()
	case "INT", "INTEGER", "INT4":
		t.base = "int"
		return t, optArgs()
	case "BIGINT", "INT8":
		t.base = "bigint"
		return t, optArgs()
	case "SERIAL":
		t.base, t.unsigned, t.serial = "bigint", true, true
	case "DECIMAL", "DEC", "NUMERIC", "FIXED":
		t.base = "decimal"
		return t, optArgs()
	case "FLOAT":
		t.base = "float"
		if err := optArgs(); err != nil {
			return t, err
		}
		if len(t.args) == 1 { // FLOAT(p): the precision in bits picks the type
			n, err := strconv.Atoi(t.args[0])
			if err != nil || n > 53 {
				return t, errIncomplete
			}
			if n > 24 {
				t.base = "double"
			}
			t.args = nil
		}
	case "FLOAT4":
		t.base = "float"
		return t, optArgs()
	case "FLOAT8", "REAL":
		t.base = "double"
		return t, optArgs()
	case "DOUBLE":
		p.word("PRECISION")
		t.base = "double"
		return t, optArgs()
	case "BIT":
		t.base = "bit"
		return t, optArgs()
	case "DATE":
		t.base = "date"
	case "YEAR":
		t.base = "year"
		err := optArgs()
		t.args = nil
		return t, err
	case "TIME", "DATETIME", "TIMESTAMP":
		t.base = strings.ToLower(kw)
		return t, optArgs()
	case "CHAR", "CHARACTER":
		if p.word("VARYING") {
			textType("varchar")
		} else {
			textType("char")
		}
		return t, optArgs()
	case "VARCHAR", "VARCHARACTER":
		textType("varchar")
		return t, optArgs()
	case "NCHAR", "NATIONAL", "NVARCHAR":
		if kw == "NATIONAL" {
			switch {
			case p.word("CHAR"), p.word("CHARACTER"):
				kw = "NCHAR"
			case p.word("VARCHAR"), p.word("VARCHARACTER"):
				kw = "NVARCHAR"
			default:
				return t, errIncomplete
			}
		}
		if kw == "NCHAR" && !p.word("VARYING") {
			textType("char")
		} else {
			textType("varchar")
		}
		t.collation = utf8mb3Collation
		return t, optArgs()
	case "BINARY":
		t.base = "binary"
		return t, optArgs()
	case "VARBINARY":
		t.base = "varbinary"
		return t, optArgs()
	case "TINYBLOB", "MEDIUMBLOB", "LONGBLOB":
		t.base = strings.ToLower(kw)
	case "TINYTEXT", "MEDIUMTEXT", "LONGTEXT":
		textType(strings.ToLower(kw))
	case "BLOB", "TEXT":
		if kw == "BLOB" {
			t.base = "blob"
		} else {
			textType("text")
		}
		if err := optArgs(); err != nil {
			return t, err
		}
		if len(t.args) == 1 {
			n, err := strconv.ParseInt(t.args[0], 10, 64)
			if err != nil {
				return t, errIncomplete
			}
			t.lobLen, t.args = n, nil
		}
	case "LONG":
		switch {
		case p.word("VARBINARY"):
			t.base = "mediumblob"
		case p.word("VARCHAR"), p.word("VARCHARACTER"), p.words("CHAR", "VARYING"), p.words("CHARACTER", "VARYING"):
			textType("mediumtext")
		default:
			textType("mediumtext")
		}
	case "ENUM", "SET":
		textType(strings.ToLower(kw))
		if !p.punct("(") {
			return t, errIncomplete
		}
		for {
			s, ok := p.strValue()
			if !ok {
				return t, errIncomplete
			}
			// The server drops trailing spaces from labels.
			t.args = append(t.args, strings.TrimRight(s, " "))
			if p.punct(")") {
				break
			}
			if !p.punct(",") {
				return t, errIncomplete
			}
		}
	case "JSON": // MariaDB: LONGTEXT CHARSET utf8mb4 COLLATE utf8mb4_bin
		textType("longtext")
		t.collation = utf8mb4BinCollate
	case "GEOMETRY", "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
		"GEOMETRYCOLLECTION":
		t.base = strings.ToLower(kw)
	default:
		return t, errIncomplete // INET4, INET6, UUID, VECTOR, user types, …
	}
	return t, nil
}

// numArgs reads (n [, n]…) of plain integers.
func (p *ddlParser) numArgs() ([]string, error) {
	if !p.punct("(") {
		return nil, errIncomplete
	}
	var args []string
	for {
		t, ok := p.peek()
		if !ok || t.punct || t.quoted || !allDigits(t.text) {
			return nil, errIncomplete
		}
		p.i++
		args = append(args, t.text)
		if p.punct(")") {
			return args, nil
		}
		if !p.punct(",") {
			return nil, errIncomplete
		}
	}
}

// resolveColumn maps a column definition to the column the TableMap event
// of the table gives. defaults returns the collation of a text column that
// names none.
func (p *ddlParser) resolveColumn(c *colDef, defaults func() (uint64, error)) (ingest.SourceColumn, error) {
	out := ingest.SourceColumn{Name: c.name, Nullable: !c.nullSet || c.nullable}
	t := c.typ
	if t.serial || c.autoInc && !c.nullSet {
		out.Nullable = false
	}
	if t.base == "timestamp" && !c.nullSet {
		if p.env.Defaults == nil {
			return out, errIncomplete
		}
		explicit, err := p.env.Defaults.ExplicitDefaultsForTimestamp()
		if err != nil {
			return out, errIncomplete
		}
		out.Nullable = explicit
	}
	coll := t.collation
	if c.collation != 0 {
		if coll != 0 && !sameCharset(coll, c.collation) {
			return out, errIncomplete
		}
		coll = c.collation
	}
	base := t.base
	switch {
	case t.text && coll == 0:
		id, err := defaults()
		if err != nil || id == 0 {
			return out, errIncomplete
		}
		coll = id
	case !t.text && coll != 0 && coll != binaryCollation:
		return out, errIncomplete // a charset on a type that takes none
	}
	if (base == "enum" || base == "set") && coll == binaryCollation {
		return out, errIncomplete
	}
	if t.lobLen >= 0 {
		n := t.lobLen
		if t.text && coll != binaryCollation {
			_, maxLen, ok := collationCharset(coll)
			if !ok {
				return out, errIncomplete
			}
			n *= int64(maxLen)
		}
		// The smallest of TINY…LONG that holds n bytes.
		switch {
		case n < 1<<8:
			base = "tiny" + base
		case n < 1<<16:
		case n < 1<<24:
			base = "medium" + base
		default:
			base = "long" + base
		}
	}
	if !t.text {
		coll = 0
	}
	// Lengths the server would refuse, or silently turn into another type
	// outside strict mode.
	if len(t.args) > 0 && (base == "char" || base == "binary" || base == "varchar" || base == "varbinary") {
		n, err := strconv.Atoi(t.args[0])
		if err != nil || (base == "char" || base == "binary") && n > 255 {
			return out, errIncomplete
		}
		maxLen := 1
		if coll != 0 && coll != binaryCollation {
			_, maxLen, _ = collationCharset(coll)
		}
		if n*maxLen > 65532 {
			return out, errIncomplete
		}
	}
	if (base == "varchar" || base == "varbinary") && len(t.args) == 0 {
		return out, errIncomplete
	}
	var b strings.Builder
	b.WriteString(base)
	if len(t.args) > 0 {
		b.WriteByte('(')
		for i, a := range t.args {
			if i > 0 {
				b.WriteByte(',')
			}
			if base == "enum" || base == "set" {
				b.WriteString("'" + strings.ReplaceAll(strings.ReplaceAll(a, `\`, `\\`), "'", "''") + "'")
			} else {
				b.WriteString(a)
			}
		}
		b.WriteByte(')')
	}
	if t.unsigned {
		b.WriteString(" unsigned")
	}
	if t.zerofill {
		b.WriteString(" zerofill")
	}
	typ, _, err := typeFromColumnType(b.String(), coll)
	if err != nil || typ.Validate() != nil {
		return out, errIncomplete
	}
	out.Type = typ
	return out, nil
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

// alter: ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] t spec [, spec]… — one
// DDLAlter carrying the column operations (and the column renames), then a
// DDLRename if a spec renames the table (the other specs apply to it under
// its old name first).
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
	alter.Strict = p.env.SQLMode&(modeStrictTrans|modeStrictAll) != 0 && !p.env.SessionUnknown
	a := &alterState{}
	var rename *ingest.DDL
	complete := p.sessionOK()
	unknown := !complete // a part not read may have changed rows
	for p.i < len(p.toks) {
		a.rest = false
		err := p.alterSpec(alter, a, &rename)
		if err != nil {
			complete = false
			unknown = unknown || !errors.Is(err, errKeyUnknown)
		}
		// Skip to the next top-level comma (all of it when the spec was read).
		depth, start := 0, p.i
		for p.i < len(p.toks) {
			t := p.toks[p.i]
			if t.punct && !t.str && t.text == "," && depth == 0 {
				break
			}
			if t.punct && !t.str && t.text == "(" {
				depth++
			} else if t.punct && !t.str && t.text == ")" {
				depth--
			}
			p.i++
		}
		if p.i > start && !a.rest && err == nil {
			complete, unknown = false, true
		}
		if !p.punct(",") {
			break
		}
	}
	if a.dropPrimary && !a.addPrimary {
		complete = false // another unique index may become the key
	}
	switch {
	case a.unknownDefault:
		p.forgetTableCollation(db, name)
		alter.CharsetUnknown = true
	case a.collation != 0:
		p.learnTableCollation(db, name, a.collation)
		alter.Charset = collationCharsetName(a.collation)
		alter.CharsetUnknown = alter.Charset == ""
	}
	if complete {
		if err := a.resolve(p, db, name); err != nil {
			complete, unknown = false, true
		}
	}
	if complete {
		alter.Alter, alter.Complete = a.ops, true
	}
	switch {
	case a.rowsChange != "":
		alter.Resnapshot = a.rowsChange
	case unknown:
		alter.Resnapshot = "the statement is not fully understood"
	case complete:
		alter.Resnapshot = a.fillsUnknown
	}
	out := []*ingest.DDL{alter}
	if rename != nil {
		out = append(out, rename)
	}
	return out
}

// alterState gathers an ALTER's operations; column definitions are
// resolved at the end, when the statement's table charset is known.
type alterState struct {
	ops       []ingest.AlterOp
	defs      map[ingest.AlterOp]*colDef
	collation uint64 // CHARACTER SET / COLLATE of the statement
	// unknownDefault: the statement changes the table's default charset
	// in a way not read.
	unknownDefault bool
	dropPrimary    bool
	addPrimary     bool
	rest           bool // the spec's remaining tokens are to be skipped (PARTITION …)
	// rowsChange names a spec that changes rows without row events
	// (TRUNCATE PARTITION, CONVERT TO, IMPORT TABLESPACE, …).
	rowsChange string
	// fillsUnknown names an added or changed column whose values only the
	// server knows (set by resolve).
	fillsUnknown string
}

func (a *alterState) add(op ingest.AlterOp, def *colDef) {
	a.ops = append(a.ops, op)
	if def != nil {
		if a.defs == nil {
			a.defs = map[ingest.AlterOp]*colDef{}
		}
		a.defs[op] = def
	}
}

// resolve maps the column definitions to types.
func (a *alterState) resolve(p *ddlParser, db, name string) error {
	var tableColl uint64
	defaults := func() (uint64, error) {
		if a.collation != 0 {
			return a.collation, nil
		}
		if tableColl != 0 {
			return tableColl, nil
		}
		if p.env.Defaults == nil {
			return 0, errIncomplete
		}
		id, err := p.env.Defaults.TableCollation(db, name)
		tableColl = id
		return id, err
	}
	for _, op := range a.ops {
		def := a.defs[op]
		if def == nil {
			continue
		}
		sc, err := p.resolveColumn(def, defaults)
		if err != nil {
			return err
		}
		switch o := op.(type) {
		case *ingest.AddColumn:
			o.Column = sc
			fill, err := p.columnFill(def, sc)
			if err != nil && a.fillsUnknown == "" {
				a.fillsUnknown = "column " + sc.Name + " added: " + err.Error()
			}
			o.Fill = fill
		case *ingest.ModifyColumn:
			o.Column = sc
			if def.generated && a.fillsUnknown == "" {
				a.fillsUnknown = "column " + sc.Name + " made generated: the server computes it for every row"
			}
		}
	}
	return nil
}

// alterSpec reads one ALTER specification into a. An error means the
// statement cannot be applied from its text (it is then incomplete); the
// column renames and the table rename are recorded all the same.
func (p *ddlParser) alterSpec(alter *ingest.DDL, a *alterState, rename **ingest.DDL) error {
	addRename := func(from, to string) {
		if from == to {
			return
		}
		if alter.ColumnRenames == nil {
			alter.ColumnRenames = map[string]string{}
		}
		alter.ColumnRenames[from] = to
	}
	position := func() (first bool, after string, err error) {
		if p.word("FIRST") {
			return true, "", nil
		}
		if p.word("AFTER") {
			n, ok := p.ident()
			if !ok {
				return false, "", errIncomplete
			}
			return false, n, nil
		}
		return false, "", nil
	}
	// keysOf records a column's inline PRIMARY KEY / UNIQUE.
	keysOf := func(c *colDef) {
		if c.primary {
			a.addPrimary = true
			a.add(&ingest.SetKey{Columns: []string{c.name}}, nil)
		}
		if c.unique {
			a.add(&ingest.AddUnique{Columns: []string{c.name}}, nil)
		}
	}
	switch {
	case p.word("ADD"):
		switch {
		case p.atIndexDef():
			kind, k, err := p.indexDef()
			if err != nil {
				return err
			}
			switch kind {
			case "primary":
				a.addPrimary = true
				a.add(&ingest.SetKey{Columns: k.cols}, nil)
			case "unique":
				a.add(&ingest.AddUnique{Columns: k.cols}, nil)
			}
			return nil
		case p.isWord(0, "PARTITION"):
			a.rest = true
			return nil
		case p.isWord(0, "PERIOD"), p.isWord(0, "SYSTEM"):
			return errIncomplete
		}
		p.word("COLUMN")
		ifNotExists := p.words("IF", "NOT", "EXISTS")
		// The added names are recorded even if the definitions cannot be
		// read: a name dropped before is a new column (ingest.DDL.ColumnAdds).
		addName := func() {
			if t, ok := p.peek(); ok && !t.punct {
				alter.ColumnAdds = append(alter.ColumnAdds, t.text)
			}
		}
		if p.punct("(") {
			for {
				addName()
				c, err := p.columnDef()
				if err != nil {
					return err
				}
				a.add(&ingest.AddColumn{Column: ingest.SourceColumn{Name: c.name}, IfNotExists: ifNotExists}, c)
				keysOf(c)
				if p.punct(")") {
					return nil
				}
				if !p.punct(",") {
					return errIncomplete
				}
			}
		}
		addName()
		c, err := p.columnDef()
		if err != nil {
			return err
		}
		first, after, err := position()
		if err != nil {
			return err
		}
		a.add(&ingest.AddColumn{Column: ingest.SourceColumn{Name: c.name}, IfNotExists: ifNotExists, First: first, After: after}, c)
		keysOf(c)
		return nil
	case p.word("CHANGE"), p.word("MODIFY"):
		change := strings.EqualFold(p.toks[p.i-1].text, "CHANGE")
		p.word("COLUMN")
		ifExists := p.words("IF", "EXISTS")
		var from string
		if change {
			var ok bool
			if from, ok = p.ident(); !ok {
				return errIncomplete
			}
			if to, ok := p.ident(); ok {
				addRename(from, to)
				p.i--
			}
		} else if t, ok := p.peek(); ok && !t.punct {
			from = t.text
		}
		c, err := p.columnDef()
		if err != nil {
			return err
		}
		first, after, err := position()
		if err != nil {
			return err
		}
		a.add(&ingest.ModifyColumn{Name: from, Column: ingest.SourceColumn{Name: c.name}, IfExists: ifExists, First: first, After: after}, c)
		keysOf(c)
		return nil
	case p.word("DROP"):
		switch {
		case p.words("PRIMARY", "KEY"):
			a.dropPrimary = true
			return nil
		case p.words("FOREIGN", "KEY"), p.word("CHECK"):
			p.words("IF", "EXISTS")
			if _, ok := p.ident(); !ok {
				return errIncomplete
			}
			return nil
		case p.word("PARTITION"):
			a.rest, a.rowsChange = true, "DROP PARTITION removes rows without row events"
			return nil
		case p.isWord(0, "INDEX"), p.isWord(0, "KEY"), p.isWord(0, "CONSTRAINT"):
			return errKeyUnknown // the index may have been the key; the rows stay
		case p.isWord(0, "PERIOD"), p.isWord(0, "SYSTEM"):
			return errIncomplete
		}
		p.word("COLUMN")
		ifExists := p.words("IF", "EXISTS")
		col, ok := p.ident()
		if !ok {
			return errIncomplete
		}
		if !p.word("RESTRICT") {
			p.word("CASCADE")
		}
		alter.ColumnDrops = append(alter.ColumnDrops, col)
		a.add(&ingest.DropColumn{Name: col, IfExists: ifExists}, nil)
		return nil
	case p.word("RENAME"):
		switch {
		case p.word("COLUMN"):
			ifExists := p.words("IF", "EXISTS")
			from, ok1 := p.ident()
			ok2 := p.word("TO")
			to, ok3 := p.ident()
			if !ok1 || !ok2 || !ok3 {
				return errIncomplete
			}
			addRename(from, to)
			a.add(&ingest.RenameColumn{From: from, To: to, IfExists: ifExists}, nil)
			return nil
		case p.word("INDEX"), p.word("KEY"):
			p.ident()
			p.word("TO")
			p.ident()
			return nil
		default:
			if !p.word("TO") {
				p.word("AS")
			}
			ndb, nname, ok := p.name()
			if !ok {
				return errIncomplete
			}
			*rename = &ingest.DDL{Op: ingest.DDLRename, DB: alter.DB, Name: alter.Name, NewDB: ndb, NewName: nname, SQL: p.sql}
			return nil
		}
	case p.word("ALTER"):
		if p.isWord(0, "INDEX") || p.isWord(0, "KEY") {
			return errKeyUnknown // [NOT] IGNORED may change which index is the key
		}
		p.word("COLUMN")
		p.words("IF", "EXISTS")
		if _, ok := p.ident(); !ok {
			return errIncomplete
		}
		switch {
		case p.words("SET", "DEFAULT"):
			return p.expr()
		case p.words("DROP", "DEFAULT"):
			return nil
		}
		return errIncomplete
	case p.words("ORDER", "BY"):
		a.rest = true // a physical order only
		return nil
	case p.words("DISABLE", "KEYS"), p.words("ENABLE", "KEYS"), p.word("FORCE"):
		return nil
	case p.word("DISCARD"):
		a.rest = true // DISCARD [PARTITION …] TABLESPACE: the rows come back with the IMPORT
		return nil
	case p.word("IMPORT"):
		a.rest, a.rowsChange = true, "IMPORT TABLESPACE replaces rows without row events"
		return nil
	case p.word("ALGORITHM"), p.word("LOCK"):
		p.punct("=")
		if _, ok := p.ident(); !ok {
			return errIncomplete
		}
		return nil
	case p.word("WITH"), p.word("WITHOUT"):
		if p.word("VALIDATION") {
			return nil
		}
		return errIncomplete // SYSTEM VERSIONING
	case p.isWord(0, "PARTITION"), p.isWord(0, "REMOVE"), p.isWord(0, "ANALYZE"), p.isWord(0, "CHECK"),
		p.isWord(0, "OPTIMIZE"), p.isWord(0, "REBUILD"), p.isWord(0, "REPAIR"),
		p.isWord(0, "COALESCE"), p.isWord(0, "REORGANIZE"), p.isWord(0, "TRUNCATE"), p.isWord(0, "EXCHANGE"):
		// Partition maintenance. TRUNCATE and EXCHANGE change rows without
		// row events; COALESCE and REORGANIZE move rows between partitions,
		// which the lake re-reads as well, as a re-read costs the table one
		// read while a wrong guess would cost its history.
		switch kw := strings.ToUpper(p.toks[p.i].text); kw {
		case "COALESCE", "REORGANIZE", "TRUNCATE", "EXCHANGE":
			a.rowsChange = kw + " PARTITION changes rows without row events"
		}
		a.rest = true
		for p.i < len(p.toks) {
			p.i++ // partitioning clauses run to the end of the statement
		}
		return nil
	case p.word("CONVERT"):
		a.rowsChange = "CONVERT TO CHARACTER SET converts every text value"
		// CONVERT TO CHARACTER SET redefines every text column (the next
		// TableMap shows them) and sets the table's default.
		if p.word("TO") && (p.words("CHARACTER", "SET") || p.word("CHARSET")) {
			if id, err := p.charsetName(); err == nil {
				if p.word("COLLATE") {
					id, err = p.collationName()
				}
				if err == nil {
					a.collation = id
					return errIncomplete
				}
			}
		}
		a.unknownDefault = true
		return errIncomplete
	}
	id, err := p.tableOptions(false)
	if err != nil {
		return err
	}
	if id != 0 {
		a.collation = id
	}
	if t, ok := p.peek(); ok && !(t.punct && !t.str && t.text == ",") {
		return errIncomplete
	}
	return nil
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
