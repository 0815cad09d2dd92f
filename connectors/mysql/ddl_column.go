package mysql

import (
	"strconv"
	"strings"

	"github.com/binlake/binlake/ingest"
)

// This file reads a column definition (name, data type, attributes) of a
// CREATE TABLE or an ALTER TABLE's ADD, CHANGE and MODIFY, with the charset
// and collation names it may carry, and resolves it to the column the
// table's TableMap events give (resolveColumn).

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
		read, err := p.charsetAttribute(c)
		if err == nil && !read {
			read, err = p.keyAttribute(c)
		}
		if err != nil {
			return nil, err
		}
		if read {
			continue
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
		case p.word("COMMENT"):
			if !p.str() {
				return nil, errIncomplete
			}
		case p.word("INVISIBLE"), p.word("VISIBLE"):
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

// charsetAttribute reads a column attribute that names its charset or
// collation (COLLATE, CHARACTER SET, BINARY, ASCII, UNICODE, BYTE), if one
// comes next.
func (p *ddlParser) charsetAttribute(c *colDef) (read bool, err error) {
	var id uint64
	switch {
	case p.word("COLLATE"):
		id, err = p.collationName()
	case p.words("CHARACTER", "SET"), p.word("CHARSET"), p.words("CHAR", "SET"):
		id, err = p.charsetName()
	case p.word("BINARY"):
		return true, nil // the charset's binary collation: still text
	case p.word("ASCII"):
		id = latin1Collation
	case p.word("UNICODE"):
		id = ucs2Collation
	case p.word("BYTE"):
		id = binaryCollation
	default:
		return false, nil
	}
	if err != nil {
		return true, err
	}
	return true, c.setCollation(id)
}

// keyAttribute reads a column attribute that makes it a key or constrains
// it (PRIMARY KEY, UNIQUE, CHECK, REFERENCES), if one comes next.
func (p *ddlParser) keyAttribute(c *colDef) (read bool, err error) {
	switch {
	case p.words("PRIMARY", "KEY"), p.word("KEY"):
		c.primary = true
	case p.word("UNIQUE"):
		p.word("KEY")
		c.unique = true
	case p.word("CHECK"):
		return true, p.group()
	case p.word("CONSTRAINT"):
		if !p.isWord(0, "CHECK") {
			p.ident()
		}
		if !p.word("CHECK") {
			return true, errIncomplete
		}
		return true, p.group()
	case p.isWord(0, "REFERENCES"):
		return true, p.references()
	default:
		return false, nil
	}
	return true, nil
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

// collationByCharset maps a charset name to a collation id of it.
var collationByCharset = func() map[string]uint64 {
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
	id, ok := collationByCharset[name]
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
	for cs := range collationByCharset {
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
	return collationByCharset[best], true
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
	switch kw {
	case "TINYINT", "INT1":
		t.base = "tinyint"
		return t, p.optArgs(&t)
	case "BOOL", "BOOLEAN":
		t.base = "tinyint"
	case "SMALLINT", "INT2":
		t.base = "smallint"
		return t, p.optArgs(&t)
	case "MEDIUMINT", "INT3", "MIDDLEINT":
		t.base = "mediumint"
		return t, p.optArgs(&t)
	case "INT", "INTEGER", "INT4":
		t.base = "int"
		return t, p.optArgs(&t)
	case "BIGINT", "INT8":
		t.base = "bigint"
		return t, p.optArgs(&t)
	case "SERIAL":
		t.base, t.unsigned, t.serial = "bigint", true, true
	case "DECIMAL", "DEC", "NUMERIC", "FIXED":
		t.base = "decimal"
		return t, p.optArgs(&t)
	case "FLOAT":
		return p.floatType(t)
	case "FLOAT4":
		t.base = "float"
		return t, p.optArgs(&t)
	case "FLOAT8", "REAL":
		t.base = "double"
		return t, p.optArgs(&t)
	case "DOUBLE":
		p.word("PRECISION")
		t.base = "double"
		return t, p.optArgs(&t)
	case "BIT":
		t.base = "bit"
		return t, p.optArgs(&t)
	case "DATE":
		t.base = "date"
	case "YEAR":
		t.base = "year"
		err := p.optArgs(&t)
		t.args = nil
		return t, err
	case "TIME", "DATETIME", "TIMESTAMP":
		t.base = strings.ToLower(kw)
		return t, p.optArgs(&t)
	case "CHAR", "CHARACTER":
		if p.word("VARYING") {
			t.setText("varchar")
		} else {
			t.setText("char")
		}
		return t, p.optArgs(&t)
	case "VARCHAR", "VARCHARACTER":
		t.setText("varchar")
		return t, p.optArgs(&t)
	case "NCHAR", "NATIONAL", "NVARCHAR":
		return p.nationalType(t, kw)
	case "BINARY":
		t.base = "binary"
		return t, p.optArgs(&t)
	case "VARBINARY":
		t.base = "varbinary"
		return t, p.optArgs(&t)
	case "TINYBLOB", "MEDIUMBLOB", "LONGBLOB":
		t.base = strings.ToLower(kw)
	case "TINYTEXT", "MEDIUMTEXT", "LONGTEXT":
		t.setText(strings.ToLower(kw))
	case "BLOB":
		t.base = "blob"
		return t, p.lobLength(&t)
	case "TEXT":
		t.setText("text")
		return t, p.lobLength(&t)
	case "LONG":
		// LONG VARBINARY is MEDIUMBLOB; LONG [VARCHAR | VARCHARACTER |
		// CHAR VARYING | CHARACTER VARYING] is MEDIUMTEXT.
		if p.word("VARBINARY") {
			t.base = "mediumblob"
			break
		}
		if !p.word("VARCHAR") && !p.word("VARCHARACTER") && !p.words("CHAR", "VARYING") {
			p.words("CHARACTER", "VARYING")
		}
		t.setText("mediumtext")
	case "ENUM", "SET":
		t.setText(strings.ToLower(kw))
		labels, err := p.enumLabels()
		t.args = labels
		return t, err
	case "JSON": // MariaDB: LONGTEXT CHARSET utf8mb4 COLLATE utf8mb4_bin
		t.setText("longtext")
		t.collation = utf8mb4BinCollate
	case "GEOMETRY", "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
		"GEOMETRYCOLLECTION", "UUID", "INET4", "INET6":
		t.base = strings.ToLower(kw)
	default:
		return t, errIncomplete // VECTOR, user types, …
	}
	return t, nil
}

// setText makes t the text type base, which takes a charset.
func (t *colType) setText(base string) { t.base, t.text = base, true }

// optArgs reads the (n [, n]…) that may follow a type keyword into t.args.
func (p *ddlParser) optArgs(t *colType) error {
	if !p.atPunct("(") {
		return nil
	}
	args, err := p.numArgs()
	t.args = args
	return err
}

// floatType reads what follows FLOAT: (M, D), or (p), a precision in bits
// that picks FLOAT or DOUBLE.
func (p *ddlParser) floatType(t colType) (colType, error) {
	t.base = "float"
	if err := p.optArgs(&t); err != nil {
		return t, err
	}
	if len(t.args) == 1 {
		n, err := strconv.Atoi(t.args[0])
		if err != nil || n > 53 {
			return t, errIncomplete
		}
		if n > 24 {
			t.base = "double"
		}
		t.args = nil
	}
	return t, nil
}

// nationalType reads what follows NCHAR, NVARCHAR or NATIONAL: CHAR or
// VARCHAR in utf8mb3.
func (p *ddlParser) nationalType(t colType, kw string) (colType, error) {
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
		t.setText("char")
	} else {
		t.setText("varchar")
	}
	t.collation = utf8mb3Collation
	return t, p.optArgs(&t)
}

// lobLength reads the (M) that may follow BLOB or TEXT: the server picks
// the smallest of TINY…LONG that holds M (resolveColumn).
func (p *ddlParser) lobLength(t *colType) error {
	if err := p.optArgs(t); err != nil {
		return err
	}
	if len(t.args) == 1 {
		n, err := strconv.ParseInt(t.args[0], 10, 64)
		if err != nil {
			return errIncomplete
		}
		t.lobLen, t.args = n, nil
	}
	return nil
}

// enumLabels reads the ('label', …) of an ENUM or SET.
func (p *ddlParser) enumLabels() ([]string, error) {
	if !p.punct("(") {
		return nil, errIncomplete
	}
	var labels []string
	for {
		s, ok := p.strValue()
		if !ok {
			return labels, errIncomplete
		}
		// The server drops trailing spaces from labels.
		labels = append(labels, strings.TrimRight(s, " "))
		if p.punct(")") {
			return labels, nil
		}
		if !p.punct(",") {
			return labels, errIncomplete
		}
	}
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
