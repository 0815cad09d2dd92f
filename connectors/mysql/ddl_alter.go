package mysql

import (
	"errors"
	"slices"
	"strings"

	"github.com/binlake/binlake/ingest"
)

// This file reads ALTER TABLE: each specification becomes column
// operations (ingest.AlterOp), column and table renames, or a note that the
// statement changes rows without row events, which asks for a re-read of
// the table.

// alter: ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] t spec [, spec]… — one
// DDLAlter carrying the column operations (and the column renames), then a
// DDLRename if a spec renames the table (the other specs apply to it under
// its old name first).
func (p *ddlParser) alter() []*ingest.DDL {
	p.word("ONLINE")
	// IGNORE turns the conversion's errors into warnings, as a sql_mode
	// without STRICT does, and deletes the rows an added unique key
	// duplicates.
	ignore := p.word("IGNORE")
	if !p.word("TABLE") {
		return nil
	}
	p.words("IF", "EXISTS")
	db, name, ok := p.name()
	if !ok {
		return nil
	}
	alter := p.ddl(ingest.DDLAlter, db, name)
	alter.Strict = p.env.SQLMode&(modeStrictTrans|modeStrictAll) != 0 && !p.env.SessionUnknown && !ignore
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
	if ignore && a.rowsChange == "" && slices.ContainsFunc(a.ops, func(op ingest.AlterOp) bool {
		_, key := op.(*ingest.SetKey)
		_, unique := op.(*ingest.AddUnique)
		return key || unique
	}) {
		a.rowsChange = "ALTER IGNORE deletes the rows an added unique key duplicates"
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
	if a.exchanged != nil {
		out = append(out, a.exchanged)
	}
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
	// exchanged is the table EXCHANGE PARTITION … WITH TABLE swapped rows
	// with: its rows change too.
	exchanged *ingest.DDL
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
	switch {
	case p.word("ADD"):
		return p.alterAdd(alter, a)
	case p.word("CHANGE"), p.word("MODIFY"):
		return p.alterChange(alter, a)
	case p.word("DROP"):
		return p.alterDrop(alter, a)
	case p.word("RENAME"):
		return p.alterRename(alter, a, rename)
	case p.word("ALTER"):
		return p.alterColumnDefault()
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
		p.alterPartitions(a)
		return nil
	case p.word("CONVERT"):
		return p.alterConvert(a)
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

// alterAdd reads what follows ADD: an index or constraint, a partition, or
// one or more columns.
func (p *ddlParser) alterAdd(alter *ingest.DDL, a *alterState) error {
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
	// The added names are recorded even if the definitions cannot be read:
	// a name dropped before is a new column (ingest.DDL.ColumnAdds).
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
			a.addInlineKeys(c)
			if p.punct(")") {
				return nil
			}
			if !p.punct(",") {
				return errIncomplete
			}
		}
	}
	addName()
	c, first, after, err := p.placedColumnDef()
	if err != nil {
		return err
	}
	a.add(&ingest.AddColumn{Column: ingest.SourceColumn{Name: c.name}, IfNotExists: ifNotExists, First: first, After: after}, c)
	a.addInlineKeys(c)
	return nil
}

// alterChange reads what follows CHANGE or MODIFY: a column's new
// definition (and, after CHANGE, its new name).
func (p *ddlParser) alterChange(alter *ingest.DDL, a *alterState) error {
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
			addColumnRename(alter, from, to)
			p.i--
		}
	} else if t, ok := p.peek(); ok && !t.punct {
		from = t.text
	}
	c, first, after, err := p.placedColumnDef()
	if err != nil {
		return err
	}
	a.add(&ingest.ModifyColumn{Name: from, Column: ingest.SourceColumn{Name: c.name}, IfExists: ifExists, First: first, After: after}, c)
	a.addInlineKeys(c)
	return nil
}

// alterDrop reads what follows DROP: the primary key, a foreign key or
// check, a partition, an index, or a column.
func (p *ddlParser) alterDrop(alter *ingest.DDL, a *alterState) error {
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
}

// alterRename reads what follows RENAME: a column's new name, an index's
// (which changes nothing here), or the table's, which becomes *rename.
func (p *ddlParser) alterRename(alter *ingest.DDL, a *alterState, rename **ingest.DDL) error {
	switch {
	case p.word("COLUMN"):
		ifExists := p.words("IF", "EXISTS")
		from, ok1 := p.ident()
		ok2 := p.word("TO")
		to, ok3 := p.ident()
		if !ok1 || !ok2 || !ok3 {
			return errIncomplete
		}
		addColumnRename(alter, from, to)
		a.add(&ingest.RenameColumn{From: from, To: to, IfExists: ifExists}, nil)
		return nil
	case p.word("INDEX"), p.word("KEY"):
		p.ident()
		p.word("TO")
		p.ident()
		return nil
	}
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

// alterColumnDefault reads what follows ALTER: [COLUMN] col SET DEFAULT
// or DROP DEFAULT, which change no stored value; ALTER INDEX is not read.
func (p *ddlParser) alterColumnDefault() error {
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
}

// alterPartitions reads partition maintenance, which runs to the end of the
// statement. TRUNCATE and EXCHANGE change rows without row events;
// COALESCE and REORGANIZE move rows between partitions, which the lake
// re-reads as well, as a re-read costs the table one read while a wrong
// guess would cost its history.
func (p *ddlParser) alterPartitions(a *alterState) {
	switch kw := strings.ToUpper(p.toks[p.i].text); kw {
	case "COALESCE", "REORGANIZE", "TRUNCATE", "EXCHANGE":
		a.rowsChange = kw + " PARTITION changes rows without row events"
	}
	if p.words("EXCHANGE", "PARTITION") {
		_, okPart := p.ident()
		if okPart && p.words("WITH", "TABLE") {
			if xdb, xname, ok := p.name(); ok {
				a.exchanged = &ingest.DDL{Op: ingest.DDLAlter, DB: xdb, Name: xname, Complete: true,
					Resnapshot: a.rowsChange, SQL: p.sql}
			}
		}
	}
	a.rest = true
	for p.i < len(p.toks) {
		p.i++ // partitioning clauses run to the end of the statement
	}
}

// alterConvert reads what follows CONVERT: TO CHARACTER SET redefines every
// text column (the next TableMap shows them) and sets the table's default.
// It always leaves the statement incomplete.
func (p *ddlParser) alterConvert(a *alterState) error {
	a.rowsChange = "CONVERT TO CHARACTER SET converts every text value"
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

// placedColumnDef reads a column definition and the FIRST or AFTER col
// that may follow it.
func (p *ddlParser) placedColumnDef() (c *colDef, first bool, after string, err error) {
	if c, err = p.columnDef(); err != nil {
		return nil, false, "", err
	}
	if p.word("FIRST") {
		return c, true, "", nil
	}
	if p.word("AFTER") {
		n, ok := p.ident()
		if !ok {
			return nil, false, "", errIncomplete
		}
		return c, false, n, nil
	}
	return c, false, "", nil
}

// addInlineKeys records a column's inline PRIMARY KEY / UNIQUE.
func (a *alterState) addInlineKeys(c *colDef) {
	if c.primary {
		a.addPrimary = true
		a.add(&ingest.SetKey{Columns: []string{c.name}}, nil)
	}
	if c.unique {
		a.add(&ingest.AddUnique{Columns: []string{c.name}}, nil)
	}
}

// addColumnRename records that a column from is renamed to.
func addColumnRename(alter *ingest.DDL, from, to string) {
	if from == to {
		return
	}
	if alter.ColumnRenames == nil {
		alter.ColumnRenames = map[string]string{}
	}
	alter.ColumnRenames[from] = to
}
