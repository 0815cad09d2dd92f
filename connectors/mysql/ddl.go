package mysql

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/binlake/binlake/ingest"
)

// This file holds the DDL parser's entry points (ParseDDL, ParseDDLWith),
// what it asks of the session and the server (DDLEnv, DDLDefaults), and the
// statements that only name tables: RENAME, TRUNCATE, DROP and the head of
// CREATE. The rest of the grammar: ddl_lex.go (tokens and cursor helpers),
// ddl_create.go (a CREATE TABLE's body, indexes, table options),
// ddl_column.go (column definitions and types), ddl_alter.go (ALTER TABLE)
// and ddl_default.go (what an added column's DEFAULT gives existing rows).

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
