package e2e

import (
	"context"
	"database/sql"
	bin "encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// The workload drives random transactions and DDL into MariaDB and keeps a
// model of every table of the database shop: its name, its columns and the
// values the lake is specified to hold for its rows (the Go values of the
// tableformat Type contract, derived from docs/types.md and FORMAT.md §12, never
// read back from the lake). After each source transaction and each DDL
// statement it records a moment: the GTID and the expected contents of every
// table, and the names that must not resolve to a table.

// colType is a column type the workload generates values for.
type colType struct {
	sql string // as declared (charset included), without NULL/NOT NULL
	// gen returns a random non-NULL value: its SQL literal and the Go value
	// the lake holds for it (nil for a zero date).
	gen func(r *rand.Rand) (lit string, lake any)
	// widen is the type MODIFY COLUMN may change the column to: every
	// stored value stays a value of it (FORMAT §12, schema evolution).
	widen *colType
	// exact: `col <=> literal` finds exactly the rows holding the value
	// (used to delete one row of a keyless table).
	exact bool
	// lossy is the type MODIFY COLUMN may narrow the column to, rounding
	// or cutting what it holds as the server does (verified on MariaDB
	// 10.11); nil: none.
	lossy *lossyType
}

// lossyType is a narrowing of a column's type: to, and conv, the value the
// server makes of a stored one (a NULL cell stays NULL).
type lossyType struct {
	to   *colType
	conv func(cell) cell
}

type column struct {
	name    string
	typ     *colType
	notNull bool
	dropOK  bool // DDL may drop it
	// genSQL, when set, makes the column STORED generated from the key by
	// that expression; gen is its value for a key (the cell's literal is
	// DEFAULT, what INSERT and UPDATE may write to it).
	genSQL string
	gen    func(id int64) cell
}

// cell is one value: its SQL literal and the lake's Go value.
type cell struct {
	lit  string
	lake any
}

// mtable is the model of one source table.
type mtable struct {
	name  string
	cols  []column // keyed tables: cols[0] is `id BIGINT PRIMARY KEY`
	keyed bool
	rows  map[int64][]cell // keyed
	bag   [][]cell         // keyless: a multiset
	snap  *tableSnap       // cached expectation, nil after a change
	// parts: a keyed table partitioned by RANGE (id), its partitions in
	// order (the last one's bound MAXVALUE); nil: not partitioned.
	parts []partition
	// resnap: a statement changed it in a way the lake learns only from a
	// re-snapshot (rowsDDL; a partitioned table's CREATE, which the lake
	// may not fully understand).
	resnap bool
	// hist: the last statements that changed it, each after the GTID of
	// its transaction (record), for the report of a mismatch; unstamped:
	// those of the step not yet recorded.
	hist      []string
	unstamped []string
}

// histLen is how many statements mtable.hist keeps.
const histLen = 80

// note adds q, run on t in the current step, to t's history.
func (t *mtable) note(q string) { t.unstamped = append(t.unstamped, q) }

// partition is a RANGE partition: the keys below its bound and at or above
// the one before's.
type partition struct {
	name  string
	below int64 // math.MaxInt64: MAXVALUE
}

type tableSnap struct {
	cols string   // "name kind" of each column, comma-separated
	rows []string // fmt.Sprint of each row's lake values, sorted
	// resnap: the table may differ in the lake until the re-snapshot a
	// statement asked for is committed (mtable.resnap).
	resnap bool
	model  *mtable // the table (its history, for a mismatch's report)
}

type workload struct {
	t       *testing.T
	rnd     *rand.Rand
	conn    *sql.Conn
	tables  []*mtable
	names   map[string]bool // every table name ever used
	dropped []string        // names of dropped tables, for a later CREATE
	nextID  int64
	nextCol int
	nextTab int
	moments []moment
	stats   map[string]int
	// ddlEvery: about one step in ddlEvery is a DDL statement; 0: none
	// (the default, for tests whose subject is not schema changes).
	ddlEvery int
	// bulk: the ids the last big transaction inserted into a table, which
	// the next one deletes (chaos_test.go).
	bulk map[*mtable][]int64
	// resnapDDL: ddl() also runs statements that change rows without row
	// events (rowsDDL). Those the lake learns by re-snapshot leave a window
	// where it shows the table as it held it (docs/guarantees.md), which
	// check passes over: set it where a daemon runs beside the workload,
	// so the windows are short (TestResnapshotDDLStorm, TestChaos).
	resnapDDL bool
}

type moment struct {
	gtid   string
	what   string
	tables map[string]*tableSnap
	absent []string
}

var ist = time.FixedZone("+05:30", 5*3600+30*60)

// session: TIMESTAMP literals are read in +05:30 (the lake holds the UTC
// instant); strict, but zero dates allowed (the lake holds NULL).
const sessionSQL = `SET time_zone = '+05:30', sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'`

func newWorkload(t *testing.T, m *testenv.MariaDB, seed uint64) *workload {
	db := m.RootDB(t, "")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &workload{t: t, rnd: rand.New(rand.NewPCG(seed, 11)), conn: conn, names: map[string]bool{}, stats: map[string]int{},
		bulk: map[*mtable][]int64{}}
	w.exec(context.Background(), sessionSQL)
	w.exec(context.Background(), "CREATE DATABASE shop")
	w.create(context.Background(), &mtable{name: "orders", keyed: true, cols: []column{
		{name: "id", typ: tBigInt, notNull: true},
		{name: "customer", typ: tCustomer, notNull: true, dropOK: true},
		{name: "total", typ: decimalType(12, 2, nil), notNull: true, dropOK: true},
		{name: "status", typ: tStatus, notNull: true, dropOK: true},
		{name: "created", typ: datetimeType(6, false, nil), notNull: true, dropOK: true},
		{name: "note", typ: textType("TEXT CHARACTER SET utf8mb4", 0, 200, utf8Chars), dropOK: true},
	}})
	w.create(context.Background(), &mtable{name: "events", cols: []column{
		{name: "kind", typ: tKind, notNull: true},
		{name: "n", typ: tSmallN, dropOK: true},
	}})
	w.create(context.Background(), &mtable{name: "types", keyed: true, cols: typesColumns()})
	return w
}

func (w *workload) exec(ctx context.Context, q string) {
	if _, err := w.conn.ExecContext(ctx, q); err != nil {
		w.t.Fatalf("%s: %v", q, err)
	}
}

func (w *workload) table(name string) *mtable {
	for _, t := range w.tables {
		if t.name == name {
			return t
		}
	}
	return nil
}

func qi(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func (t *mtable) qname() string { return "shop." + qi(t.name) }

func (c column) def() string {
	if c.genSQL != "" {
		return qi(c.name) + " " + c.typ.sql + " AS (" + c.genSQL + ") STORED"
	}
	if c.notNull {
		return qi(c.name) + " " + c.typ.sql + " NOT NULL"
	}
	return qi(c.name) + " " + c.typ.sql + " NULL"
}

// create runs CREATE TABLE for t and adds it to the model.
func (w *workload) create(ctx context.Context, t *mtable) {
	defs := make([]string, len(t.cols))
	for i, c := range t.cols {
		defs[i] = c.def()
		if i == 0 && t.keyed {
			defs[i] += " PRIMARY KEY"
		}
	}
	q := fmt.Sprintf("CREATE TABLE %s (%s)", t.qname(), strings.Join(defs, ", "))
	if len(t.parts) > 0 {
		ps := make([]string, len(t.parts))
		for i, p := range t.parts {
			ps[i] = fmt.Sprintf("PARTITION %s VALUES LESS THAN (%d)", p.name, p.below)
			if p.below == math.MaxInt64 {
				ps[i] = fmt.Sprintf("PARTITION %s VALUES LESS THAN MAXVALUE", p.name)
			}
		}
		q += " PARTITION BY RANGE (id) (" + strings.Join(ps, ", ") + ")"
	}
	w.exec(ctx, q)
	t.note(q)
	t.rows = map[int64][]cell{}
	t.resnap = t.resnap || len(t.parts) > 0
	w.tables = append(w.tables, t)
	w.names[t.name] = true
	w.dropped = slices.DeleteFunc(w.dropped, func(n string) bool { return n == t.name })
}

// value draws a value for c: NULL one time in eight when c is nullable.
func (w *workload) value(c column) cell {
	if !c.notNull && w.rnd.IntN(8) == 0 {
		return cell{"NULL", nil}
	}
	lit, lake := c.typ.gen(w.rnd)
	return cell{lit, lake}
}

func (w *workload) row(t *mtable, id int64) []cell {
	r := make([]cell, len(t.cols))
	for i, c := range t.cols {
		switch {
		case i == 0 && t.keyed:
			r[i] = cell{strconv.FormatInt(id, 10), id}
			continue
		case c.gen != nil:
			r[i] = c.gen(id)
			continue
		}
		r[i] = w.value(c)
	}
	return r
}

func lits(r []cell) string {
	s := make([]string, len(r))
	for i, c := range r {
		s[i] = c.lit
	}
	return "(" + strings.Join(s, ", ") + ")"
}

func (t *mtable) colList() string {
	s := make([]string, len(t.cols))
	for i, c := range t.cols {
		s[i] = qi(c.name)
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// txn runs one step: usually a random transaction over one or more tables,
// sometimes (about one step in ddlEvery) a DDL statement. Either way it
// records the moment after it.
func (w *workload) txn(ctx context.Context) {
	if w.ddlEvery > 0 && w.rnd.IntN(w.ddlEvery) == 0 {
		w.ddl(ctx)
		return
	}
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	exec := func(t *mtable, q string) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			w.t.Fatalf("%s: %v", q, err)
		}
		t.note(q)
	}
	for range 1 + w.rnd.IntN(4) {
		t := w.tables[w.rnd.IntN(len(w.tables))]
		if tt := w.table("types"); tt != nil && w.rnd.IntN(3) == 0 {
			t = tt // the table of every type gets extra traffic (while it has that name)
		}
		t.snap = nil
		if !t.keyed {
			if r := w.rnd.IntN(10); r < 7 || len(t.bag) == 0 {
				row := w.row(t, 0)
				exec(t, fmt.Sprintf("INSERT INTO %s %s VALUES %s", t.qname(), t.colList(), lits(row)))
				t.bag = append(t.bag, row)
				w.stats["insert"]++
			} else {
				i := w.rnd.IntN(len(t.bag))
				conds := make([]string, len(t.cols))
				for j, c := range t.cols {
					conds[j] = qi(c.name) + " <=> " + t.bag[i][j].lit
				}
				exec(t, fmt.Sprintf("DELETE FROM %s WHERE %s LIMIT 1", t.qname(), strings.Join(conds, " AND ")))
				t.bag = slices.Delete(t.bag, i, i+1)
				w.stats["delete"]++
			}
			continue
		}
		keys := slices.Sorted(maps.Keys(t.rows))
		switch r := w.rnd.IntN(10); {
		case r < 4 || len(keys) == 0:
			n := 1 + w.rnd.IntN(2)
			var vals []string
			for range n {
				w.nextID++
				row := w.row(t, w.nextID)
				t.rows[w.nextID] = row
				vals = append(vals, lits(row))
			}
			exec(t, fmt.Sprintf("INSERT INTO %s %s VALUES %s", t.qname(), t.colList(), strings.Join(vals, ", ")))
			w.stats["insert"] += n
		case r < 8:
			old := keys[w.rnd.IntN(len(keys))]
			row := slices.Clone(t.rows[old])
			var sets []string
			id := old
			last := t.lastSettable()
			if w.rnd.IntN(3) == 0 || last == 0 {
				w.nextID++
				id = w.nextID
				row[0] = cell{strconv.FormatInt(id, 10), id}
				sets = append(sets, "id = "+row[0].lit)
				w.stats["key change"]++
			}
			for i, c := range t.cols[1:] {
				if c.gen != nil {
					continue
				}
				if w.rnd.IntN(2) == 0 || (len(sets) == 0 && i+1 == last) {
					row[i+1] = w.value(c)
					sets = append(sets, qi(c.name)+" = "+row[i+1].lit)
				}
			}
			for j, c := range t.cols {
				if c.gen != nil {
					row[j] = c.gen(id) // the server computes it again
				}
			}
			exec(t, fmt.Sprintf("UPDATE %s SET %s WHERE id = %d", t.qname(), strings.Join(sets, ", "), old))
			delete(t.rows, old)
			t.rows[id] = row
			w.stats["update"]++
		default:
			old := keys[w.rnd.IntN(len(keys))]
			exec(t, fmt.Sprintf("DELETE FROM %s WHERE id = %d", t.qname(), old))
			delete(t.rows, old)
			w.stats["delete"]++
		}
	}
	if err := tx.Commit(); err != nil {
		w.t.Fatal(err)
	}
	w.record(ctx, "transaction")
}

// ddl runs one random DDL statement and records the moment after it (the
// statement has its own GTID).
func (w *workload) ddl(ctx context.Context) {
	t := w.tables[w.rnd.IntN(len(w.tables))]
	first := 0
	if t.keyed {
		first = 1 // the key column stays
	}
	var droppable, widenable []int
	for i := first; i < len(t.cols); i++ {
		if t.cols[i].dropOK && len(t.cols)-first > 1 {
			droppable = append(droppable, i)
		}
		if t.cols[i].typ.widen != nil {
			widenable = append(widenable, i)
		}
	}
	newColName := w.newColName
	if w.resnapDDL && w.rnd.IntN(3) == 0 && w.rowsDDL(ctx, t) {
		return
	}
	var q, kind string
	switch r := w.rnd.IntN(20); {
	case r < 5 && len(t.cols) < 50: // ADD COLUMN: nullable, no default
		typ := w.pickFor(t)
		c := column{name: newColName(), typ: typ, dropOK: true}
		q, kind = fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", t.qname(), c.def()), "add column"
		t.cols = append(t.cols, c)
		for k, row := range t.rows {
			t.rows[k] = append(row, cell{"NULL", nil})
		}
		for i := range t.bag {
			t.bag[i] = append(t.bag[i], cell{"NULL", nil})
		}
	case r < 8 && len(droppable) > 0:
		i := droppable[w.rnd.IntN(len(droppable))]
		q, kind = fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", t.qname(), qi(t.cols[i].name)), "drop column"
		t.cols = slices.Delete(t.cols, i, i+1)
		for k, row := range t.rows {
			t.rows[k] = slices.Delete(row, i, i+1)
		}
		for j := range t.bag {
			t.bag[j] = slices.Delete(t.bag[j], i, i+1)
		}
	case r < 11 && len(t.cols) > first:
		i := first + w.rnd.IntN(len(t.cols)-first)
		old := t.cols[i].name
		t.cols[i].name = newColName()
		if w.rnd.IntN(2) == 0 {
			q, kind = fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", t.qname(), qi(old), qi(t.cols[i].name)), "rename column"
		} else {
			q, kind = fmt.Sprintf("ALTER TABLE %s CHANGE %s %s", t.qname(), qi(old), t.cols[i].def()), "change column"
		}
	case r < 14 && len(widenable) > 0:
		i := widenable[w.rnd.IntN(len(widenable))]
		t.cols[i].typ = t.cols[i].typ.widen
		q, kind = fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s", t.qname(), t.cols[i].def()), "modify column"
	case r < 16 && t.name != "types":
		name := w.newTableName()
		q, kind = fmt.Sprintf("RENAME TABLE %s TO shop.%s", t.qname(), qi(name)), "rename table"
		t.name = name
		w.names[name] = true
	case r < 17:
		q, kind = "TRUNCATE TABLE "+t.qname(), "truncate"
		t.rows, t.bag = map[int64][]cell{}, nil
	case len(w.tables) > 2 && (r < 18 && t.name != "types" || r == 18 && len(w.tables) >= 7): // two tables are always left
		q, kind = "DROP TABLE "+t.qname(), "drop table"
		w.tables = slices.DeleteFunc(w.tables, func(x *mtable) bool { return x == t })
		w.dropped = append(w.dropped, t.name)
	default:
		if len(w.tables) >= 7 {
			q, kind = "TRUNCATE TABLE "+t.qname(), "truncate"
			t.rows, t.bag = map[int64][]cell{}, nil
			break
		}
		name := ""
		if len(w.dropped) > 0 && w.rnd.IntN(3) > 0 {
			name = w.dropped[w.rnd.IntN(len(w.dropped))] // the name of a dropped table again
		} else {
			name = w.newTableName()
		}
		keyed := w.rnd.IntN(3) > 0
		nt := w.newTable(name, keyed, keyed && w.resnapDDL && w.rnd.IntN(2) == 0)
		w.create(ctx, nt)
		w.stats["create table"]++
		w.record(ctx, "create table "+name)
		return
	}
	t.snap = nil
	w.exec(ctx, q)
	t.note(q)
	w.stats[kind]++
	w.record(ctx, q)
}

// newTable is a table of one to four columns of ddlTypes (after the key),
// partitioned when parted (newPartitions).
func (w *workload) newTable(name string, keyed, parted bool) *mtable {
	nt := &mtable{name: name, keyed: keyed}
	if parted {
		nt.parts = w.newPartitions()
	}
	if nt.keyed {
		nt.cols = append(nt.cols, column{name: "id", typ: tBigInt, notNull: true})
	}
	for range 1 + w.rnd.IntN(4) {
		nt.cols = append(nt.cols, column{name: w.newColName(), typ: w.pickFor(nt), dropOK: true})
	}
	return nt
}

// pickFor draws a type for a column of t: pick's, and no GEOMETRY in a
// partitioned table (InnoDB refuses it there).
func (w *workload) pickFor(t *mtable) *colType {
	for {
		typ := pick(w.rnd, ddlTypes, t.keyed)
		if len(t.parts) == 0 || !strings.HasPrefix(typ.sql, "GEOMETRY") {
			return typ
		}
	}
}

// newPartitions are the RANGE partitions of a new table: the next keys
// fill them one after the other.
func (w *workload) newPartitions() []partition {
	var ps []partition
	for i, n := range []int64{40, 80, 160, 320} {
		ps = append(ps, partition{name: fmt.Sprintf("p%d", i), below: w.nextID + n})
	}
	return append(ps, partition{name: "p4", below: math.MaxInt64})
}

func (w *workload) newColName() string {
	w.nextCol++
	if w.nextCol%3 == 0 {
		return fmt.Sprintf("rÉ %d", w.nextCol) // not a plain identifier
	}
	return fmt.Sprintf("c%d", w.nextCol)
}

func (w *workload) newTableName() string {
	w.nextTab++
	return fmt.Sprintf("t%d", w.nextTab)
}

// rowsDDL runs, for ddl() with resnapDDL, a statement that changes rows
// without row events, with the model changed as the server changes the
// rows (each verified on MariaDB 10.11), and records the moment after it;
// false when none applies to t. The statements: an added column with a
// constant DEFAULT (every row holds it: the lake records it with the
// column, where it understands the literal); an added column with a
// DEFAULT (expression) (of the key, each row its own value; a keyless
// table's, a constant expression); a STORED column generated from the key;
// a RANGE partition truncated or dropped (the rows of its range go; the
// next partition takes the range of one dropped); a MODIFY of a keyed
// table's column to a type that rounds or cuts its values (colType.lossy).
// Without a partitioned table, it creates one (with fewer than seven
// tables). The table is marked resnap: check compares it where the lake
// has no re-snapshot of it pending.
func (w *workload) rowsDDL(ctx context.Context, t *mtable) bool {
	var parted []*mtable
	for _, x := range w.tables {
		if len(x.parts) > 0 {
			parted = append(parted, x)
		}
	}
	type colRef struct {
		t *mtable
		i int
	}
	var lossy []colRef
	for _, x := range w.tables {
		if !x.keyed {
			// The lake truncates a keyless table at such a change, and the
			// reference reader (tableformat.ScanTable) then still projects
			// the files from before it, and fails.
			continue
		}
		for i, c := range x.cols {
			if c.typ.lossy != nil {
				lossy = append(lossy, colRef{x, i})
			}
		}
	}
	add := len(t.cols) < 50
	var q, kind string
	switch r := w.rnd.IntN(10); {
	case r < 3 && add:
		typ := w.pickFor(t)
		for strings.HasPrefix(typ.sql, "GEOMETRY") { // its values are function calls
			typ = w.pickFor(t)
		}
		lit, lake := typ.gen(w.rnd)
		c := column{name: w.newColName(), typ: typ, notNull: w.rnd.IntN(2) == 0, dropOK: true}
		q, kind = fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s DEFAULT %s", t.qname(), c.def(), lit), "add column, constant default"
		t.addColumn(c, func(int64) cell { return cell{lit, lake} })
		// Exact at once where the lake understands the literal; one it
		// does not understand it learns by re-snapshot.
		t.resnap = true
	case r < 4 && add:
		kind = "add column, default expression"
		if t.keyed {
			c := column{name: w.newColName(), typ: ddlTypes[0], dropOK: true} // INT
			q = fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s DEFAULT (id * 7 %% 1000)", t.qname(), c.def())
			t.addColumn(c, func(id int64) cell { return cell{strconv.FormatInt(id*7%1000, 10), id * 7 % 1000} })
		} else {
			c := column{name: w.newColName(), typ: ddlTypes[6], dropOK: true} // VARCHAR(16), exact
			q = fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s DEFAULT (CONCAT('x', 40 + 2))", t.qname(), c.def())
			t.addColumn(c, func(int64) cell { return cell{"'x42'", "x42"} })
		}
		t.resnap = true
	case r < 5 && add && t.keyed:
		c := column{name: w.newColName(), typ: tBigInt, dropOK: true, genSQL: "id * 3 + 1",
			gen: func(id int64) cell { return cell{"DEFAULT", id*3 + 1} }}
		q, kind = fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", t.qname(), c.def()), "add generated column"
		t.addColumn(c, c.gen)
		t.resnap = true
	case r < 7 && len(parted) > 0:
		t = parted[w.rnd.IntN(len(parted))]
		k := w.rnd.IntN(len(t.parts))
		lo := int64(math.MinInt64)
		if k > 0 {
			lo = t.parts[k-1].below
		}
		maps.DeleteFunc(t.rows, func(id int64, _ []cell) bool { return id >= lo && id < t.parts[k].below })
		if k < len(t.parts)-1 && w.rnd.IntN(2) == 0 {
			q, kind = fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", t.qname(), t.parts[k].name), "drop partition"
			t.parts = slices.Delete(t.parts, k, k+1)
		} else {
			q, kind = fmt.Sprintf("ALTER TABLE %s TRUNCATE PARTITION %s", t.qname(), t.parts[k].name), "truncate partition"
		}
		t.resnap = true
	case r < 7 && len(w.tables) < 7:
		nt := w.newTable(w.newTableName(), true, true)
		w.create(ctx, nt)
		w.stats["create partitioned table"]++
		w.record(ctx, "create partitioned table "+nt.name)
		return true
	case len(lossy) > 0:
		ref := lossy[w.rnd.IntN(len(lossy))]
		t = ref.t
		i := ref.i
		l := t.cols[i].typ.lossy
		t.cols[i].typ = l.to
		for _, row := range t.rows {
			row[i] = l.conv(row[i])
		}
		for _, row := range t.bag {
			row[i] = l.conv(row[i])
		}
		q, kind = fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s", t.qname(), t.cols[i].def()), "lossy modify column"
		t.resnap = true
	default:
		return false
	}
	t.snap = nil
	w.exec(ctx, q)
	t.note(q)
	w.stats[kind]++
	w.record(ctx, q)
	return true
}

// addColumn adds c to t, each row holding value(its key) (0 when keyless).
func (t *mtable) addColumn(c column, value func(id int64) cell) {
	t.cols = append(t.cols, c)
	for k, row := range t.rows {
		t.rows[k] = append(row, value(k))
	}
	for i := range t.bag {
		t.bag[i] = append(t.bag[i], value(0))
	}
}

// lastSettable is the index of the last column an UPDATE may set (not the
// key, not generated); 0: none.
func (t *mtable) lastSettable() int {
	for i := len(t.cols) - 1; i > 0; i-- {
		if t.cols[i].gen == nil {
			return i
		}
	}
	return 0
}

// pick draws a type; keyless tables only get types whose values a WHERE
// clause matches exactly.
func pick(r *rand.Rand, types []*colType, keyed bool) *colType {
	for {
		t := types[r.IntN(len(types))]
		if keyed || t.exact {
			return t
		}
	}
}

// record appends the moment after the statement just run.
func (w *workload) record(ctx context.Context, what string) {
	var gtid string
	if err := w.conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid); err != nil {
		w.t.Fatal(err)
	}
	m := moment{gtid: gtid, what: what, tables: map[string]*tableSnap{}}
	for _, t := range w.tables {
		for _, q := range t.unstamped {
			t.hist = append(t.hist, gtid+" "+q)
		}
		t.unstamped = nil
		if n := len(t.hist) - histLen; n > 0 {
			t.hist = slices.Delete(t.hist, 0, n)
		}
		if t.snap == nil {
			t.snap = t.snapshot()
		}
		m.tables[t.name] = t.snap
	}
	for name := range w.names {
		if m.tables[name] == nil {
			m.absent = append(m.absent, name)
		}
	}
	w.moments = append(w.moments, m)
}

func (t *mtable) snapshot() *tableSnap {
	s := &tableSnap{model: t}
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name + " " + kindOf(c.typ.sql)
	}
	s.cols, s.resnap = strings.Join(names, ","), t.resnap
	add := func(r []cell) {
		v := make([]any, len(r))
		for i, c := range r {
			v[i] = c.lake
		}
		s.rows = append(s.rows, fmt.Sprint(v))
	}
	for _, r := range t.rows {
		add(r)
	}
	for _, r := range t.bag {
		add(r)
	}
	slices.Sort(s.rows)
	return s
}

// check compares the lake, as of every recorded moment, with the model:
// every table by the name it had then, with the columns it had then, and
// no table under a name not in use then. A table a statement changed in a
// way the lake learns only by re-snapshot (mtable.resnap) is not compared
// while the lake, as of the moment, has a re-snapshot of it pending: it
// shows the table as it held it (docs/guarantees.md) — the rows from
// before, and, after a statement it did not fully understand, the
// structure from before.
func (w *workload) check(store tableformat.Store) {
	ctx := context.Background()
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	// Files are immutable once the log names them: each is read, checked
	// and decoded once for all the moments.
	read := laketest.CachedFiles(store)
	// pending reports whether the lake may have a re-snapshot of shop.name
	// pending at p: one is before or after p's entry, or the entry (or
	// the next) asks for one (an entry holds many transactions; its
	// requests and cancels, for renames and drops among them, are not
	// placed among them).
	states := map[int64]*tableformat.State{}
	state := func(v int64) *tableformat.State {
		st, ok := states[v]
		if !ok {
			var err error
			if st, err = l.StateAt(ctx, v); err != nil {
				w.t.Fatalf("the lake's state at version %d: %v", v, err)
			}
			states[v] = st
		}
		return st
	}
	pending := func(p tableformat.Point, name string) bool {
		for _, v := range []int64{p.Version, p.Version - 1} {
			if v < 1 {
				continue
			}
			if _, ok := state(v).Resnapshot("shop", name); ok {
				return true
			}
		}
		// The entry after p's too: a statement that changes nothing the
		// lake shows until its re-snapshot (an ALTER deferred to the next
		// row event) has no sequence of its own, so a point as of it is
		// the version before the entry that holds it and its request.
		for v := p.Version; v <= min(p.Version+1, p.State.Version); v++ {
			e, err := l.Entry(ctx, v)
			if err != nil {
				w.t.Fatalf("the lake's entry %d: %v", v, err)
			}
			if slices.ContainsFunc(e.Resnapshot, func(op tableformat.ResnapshotOp) bool {
				return op.Op == tableformat.ResnapshotRequest && op.DB == "shop" && op.Name == name
			}) {
				return true
			}
		}
		return false
	}
	windows := 0
	for _, m := range w.moments {
		p, err := l.AtGTID(ctx, m.gtid)
		if err != nil {
			w.t.Fatalf("as of %s (%s): %v", m.gtid, m.what, err)
		}
		for _, name := range m.absent {
			if tb, ok := p.State.TableByName("shop", name, p.Seq); ok {
				w.t.Fatalf("as of %s (%s): shop.%s is not a table of the source, the lake has table %d by that name", m.gtid, m.what, name, tb.ID)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(m.tables)) {
			want := m.tables[name]
			if want.resnap && pending(p, name) {
				windows++
				continue
			}
			tb, ok := p.State.TableByName("shop", name, p.Seq)
			if !ok {
				w.t.Fatalf("as of %s (%s): no table shop.%s in the lake", m.gtid, m.what, name)
			}
			schema, rows, err := tableformat.ScanTableFrom(ctx, read, p, tb.ID)
			if err != nil {
				w.t.Fatalf("as of %s (%s): shop.%s: %v", m.gtid, m.what, name, err)
			}
			cols := make([]string, len(schema.Columns))
			for i, c := range schema.Columns {
				cols[i] = c.Name + " " + string(c.Type.Kind)
			}
			if got := strings.Join(cols, ","); got != want.cols {
				w.t.Fatalf("as of %s (%s), shop.%s: columns\n got %s\nwant %s\n%s",
					m.gtid, m.what, name, got, want.cols, w.trail(ctx, l, read, p, tb, want.model))
			}
			got := make([]string, len(rows))
			for i, r := range rows {
				got[i] = fmt.Sprint(r.Values)
			}
			slices.Sort(got)
			if !slices.Equal(got, want.rows) {
				w.t.Fatalf("as of %s (%s), shop.%s (columns %s):\n%s\n%s", m.gtid, m.what, name, want.cols, rowDiff(got, want.rows),
					w.trail(ctx, l, read, p, tb, want.model))
			}
		}
	}
	w.t.Logf("checked %d moments (and passed over %d tables whose re-snapshots were pending); workload: %v",
		len(w.moments), windows, w.stats)
}

// trail is the report of a mismatch of shop.name at p: the model's last
// statements on the table, each with the lake's sequence at its GTID, and
// every row of every file of the table in the lake's state at p.
func (w *workload) trail(ctx context.Context, l *tableformat.Log, read tableformat.FileSource, p tableformat.Point, tb *tableformat.TableState, t *mtable) string {
	var b strings.Builder
	fmt.Fprintf(&b, "lake version %d, seq %d; the model's last statements on the table:\n", p.Version, p.Seq)
	for _, h := range t.hist {
		gtid, _, _ := strings.Cut(h, " ")
		seq := "?"
		if at, err := l.AtGTID(ctx, gtid); err == nil {
			seq = strconv.FormatInt(at.Seq, 10)
		}
		fmt.Fprintf(&b, "  seq %s: %s\n", seq, h)
	}
	fmt.Fprintf(&b, "the lake's files of table %d (schema history %s):\n", tb.ID, schemaHistory(tb))
	for _, f := range tb.SortedFiles() {
		fmt.Fprintf(&b, "  %s %s schema %d seq %d..%d as-of %d\n", f.Kind, f.Path, f.SchemaVersion, f.MinSeq, f.MaxSeq, f.AsOfSeq)
		fc, err := read(ctx, f)
		if err != nil {
			fmt.Fprintf(&b, "    %v\n", err)
			continue
		}
		for _, r := range fc.Rows {
			fmt.Fprintf(&b, "    seq %d op %d %v\n", r.Seq, r.Op, r.Values)
		}
	}
	if tr := tb.TruncatedAt(p.Seq); tr > 0 {
		fmt.Fprintf(&b, "truncated at seq %d\n", tr)
	}
	return b.String()
}

// kindOf is the tableformat kind of a declared type (docs/types.md).
func kindOf(sql string) string {
	k := strings.ToLower(strings.FieldsFunc(sql, func(r rune) bool { return r == '(' || r == ' ' })[0])
	switch k {
	case "point":
		return "geometry"
	case "json":
		// MariaDB's JSON is LONGTEXT (with a json_valid check): its
		// TableMap says text, and the lake keeps it as text.
		return "text"
	}
	return k
}

func schemaHistory(tb *tableformat.TableState) string {
	var b strings.Builder
	for _, sv := range tb.Schemas {
		names := make([]string, len(sv.Schema.Columns))
		for i, c := range sv.Schema.Columns {
			names[i] = fmt.Sprintf("%d:%s %s", c.ID, c.Name, c.Type)
		}
		fmt.Fprintf(&b, "\n  v%d from seq %d: %s", sv.Schema.Version, sv.Seq, strings.Join(names, ", "))
	}
	return b.String()
}

// rowDiff lists the rows only the lake has and the rows only the model has.
func rowDiff(got, want []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "got %d rows, want %d\n", len(got), len(want))
	g, wn := map[string]int{}, map[string]int{}
	for _, r := range got {
		g[r]++
	}
	for _, r := range want {
		wn[r]++
	}
	for _, r := range got {
		if wn[r] == 0 {
			fmt.Fprintf(&b, "only in the lake:  %s\n", r)
		} else {
			wn[r]--
		}
	}
	for _, r := range want {
		if g[r] == 0 {
			fmt.Fprintf(&b, "only in the model: %s\n", r)
		} else {
			g[r]--
		}
	}
	return b.String()
}

// ---- types and their values ----

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

func signedType(sql string, bits uint, widen *colType) *colType {
	hi := int64(uint64(math.MaxUint64) >> (65 - bits))
	lo := -hi - 1
	return &colType{sql: sql, widen: widen, exact: true, gen: func(r *rand.Rand) (string, any) {
		var v int64
		switch r.IntN(8) {
		case 0:
			v = lo
		case 1:
			v = hi
		default:
			v = int64(r.Uint64()) >> (64 - bits)
		}
		return strconv.FormatInt(v, 10), v
	}}
}

func unsignedType(sql string, bits uint, widen *colType) *colType {
	hi := uint64(math.MaxUint64) >> (64 - bits)
	return &colType{sql: sql, widen: widen, exact: true, gen: func(r *rand.Rand) (string, any) {
		var v uint64
		switch r.IntN(8) {
		case 0:
			v = 0
		case 1:
			v = hi
		default:
			v = r.Uint64() >> (64 - bits)
		}
		return strconv.FormatUint(v, 10), v
	}}
}

func rangeType(sql string, lo, n int64) *colType {
	return &colType{sql: sql, exact: true, gen: func(r *rand.Rand) (string, any) {
		v := lo + r.Int64N(n)
		return strconv.FormatInt(v, 10), v
	}}
}

// decimalType: canonical text, "-" never on zero, exactly s fraction digits.
func decimalType(p, s int, widen *colType) *colType {
	return &colType{sql: fmt.Sprintf("DECIMAL(%d,%d)", p, s), widen: widen, exact: true, gen: func(r *rand.Rand) (string, any) {
		digits := func(n int, max bool) string {
			b := make([]byte, n)
			for i := range b {
				b[i] = '9'
				if !max {
					b[i] = byte('0' + r.IntN(10))
				}
			}
			return string(b)
		}
		max := r.IntN(10) == 0
		n := p - s
		if !max {
			n = r.IntN(p - s + 1)
		}
		ip := strings.TrimLeft(digits(n, max), "0")
		if ip == "" {
			ip = "0"
		}
		v := ip
		if s > 0 {
			v += "." + digits(s, max)
		}
		if r.IntN(2) == 0 && strings.Trim(v, "0.") != "" {
			v = "-" + v
		}
		return v, v
	}}
}

func floatType() *colType {
	return &colType{sql: "FLOAT", gen: func(r *rand.Rand) (string, any) {
		v := float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(24)-12)))
		return strconv.FormatFloat(float64(v), 'e', -1, 64), v
	}}
}

func doubleType() *colType {
	return &colType{sql: "DOUBLE", gen: func(r *rand.Rand) (string, any) {
		v := r.NormFloat64() * math.Pow(10, float64(r.IntN(200)-100))
		return strconv.FormatFloat(v, 'e', -1, 64), v
	}}
}

var (
	minDate = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// dateType: days since 1970-01-01; zero dates one time in ten (NULL).
func dateType() *colType {
	return &colType{sql: "DATE", exact: true, gen: func(r *rand.Rand) (string, any) {
		if r.IntN(10) == 0 {
			return "'0000-00-00'", nil
		}
		days := minDate.Unix()/86400 + r.Int64N((maxDate.Unix()-minDate.Unix())/86400+1)
		return "'" + time.Unix(days*86400, 0).UTC().Format(time.DateOnly) + "'", int32(days)
	}}
}

func yearType() *colType {
	return &colType{sql: "YEAR", exact: true, gen: func(r *rand.Rand) (string, any) {
		v := 1901 + r.Int64N(255)
		return strconv.FormatInt(v, 10), v
	}}
}

func truncFSP(us int64, fsp int) int64 {
	unit := int64(math.Pow10(6 - fsp))
	return us - ((us%unit)+unit)%unit
}

// datetimeType: the wall clock as µs since 1970-01-01T00:00:00 (no zone);
// zero datetimes one time in ten when zero (NULL).
func datetimeType(fsp int, zero bool, widen *colType) *colType {
	sql := "DATETIME"
	if fsp > 0 {
		sql = fmt.Sprintf("DATETIME(%d)", fsp)
	}
	return &colType{sql: sql, widen: widen, exact: true, gen: func(r *rand.Rand) (string, any) {
		if zero && r.IntN(10) == 0 {
			return "'0000-00-00 00:00:00'", nil
		}
		lo, hi := minDate.UnixMicro(), maxDate.UnixMicro()+86400e6-1
		v := truncFSP(lo+r.Int64N(hi-lo+1), fsp)
		return datetimeLit(v), v
	}}
}

func datetimeLit(v int64) string {
	return "'" + time.UnixMicro(v).UTC().Format("2006-01-02 15:04:05.000000") + "'"
}

// timestampType: the UTC instant; the literal is the session's +05:30 wall
// clock; zero timestamps (NULL) one time in twelve.
func timestampType(fsp int) *colType {
	sql := "TIMESTAMP"
	if fsp > 0 {
		sql = fmt.Sprintf("TIMESTAMP(%d)", fsp)
	}
	return &colType{sql: sql, gen: func(r *rand.Rand) (string, any) {
		if r.IntN(12) == 0 {
			return "'0000-00-00 00:00:00'", nil
		}
		lo := time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC).UnixMicro()
		hi := time.Date(2038, 1, 18, 0, 0, 0, 0, time.UTC).UnixMicro()
		v := truncFSP(lo+r.Int64N(hi-lo), fsp)
		return timestampLit(v), v
	}}
}

func timestampLit(v int64) string {
	return "'" + time.UnixMicro(v).In(ist).Format("2006-01-02 15:04:05.000000") + "'"
}

const maxTime = (838*3600 + 59*60 + 59) * 1e6

// timeType: signed µs, never wrapped at 24 h.
func timeType(fsp int, widen *colType) *colType {
	sql := "TIME"
	if fsp > 0 {
		sql = fmt.Sprintf("TIME(%d)", fsp)
	}
	return &colType{sql: sql, widen: widen, exact: true, gen: func(r *rand.Rand) (string, any) {
		var v int64
		switch r.IntN(10) {
		case 0:
			v = maxTime
		case 1:
			v = -maxTime
		case 2:
			v = r.Int64N(2e6) - 1e6 // around zero, both signs
		default:
			v = r.Int64N(2*maxTime+1) - maxTime
		}
		unit := int64(math.Pow10(6 - fsp))
		v -= v % unit // toward zero: the literal is sign and magnitude
		return timeLit(v), v
	}}
}

func timeLit(v int64) string {
	a, sign := v, ""
	if a < 0 {
		a, sign = -a, "-"
	}
	s := a / 1e6
	return fmt.Sprintf("'%s%d:%02d:%02d.%06d'", sign, s/3600, s/60%60, s%60, a%1e6)
}

// lossy gives t a narrowing to to, conv doing to a value what the server
// does.
func lossy(t, to *colType, conv func(cell) cell) *colType {
	t.lossy = &lossyType{to: to, conv: conv}
	return t
}

// micros narrows a temporal value held as µs: trunc cuts it, lit writes
// the literal; NULL (and a zero date) stays.
func micros(trunc func(int64) int64, lit func(int64) string) func(cell) cell {
	return func(c cell) cell {
		v, ok := c.lake.(int64)
		if !ok {
			return c
		}
		v = trunc(v)
		return cell{lit(v), v}
	}
}

// roundDecimal is a DECIMAL value rounded to no fraction digits, half away
// from zero, as MariaDB's MODIFY to DECIMAL(p,0) rounds it (a note, not an
// error, under strict mode).
func roundDecimal(c cell) cell {
	s, ok := c.lake.(string)
	if !ok {
		return c
	}
	ip, fp, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	n, _ := new(big.Int).SetString(ip, 10)
	if fp != "" && fp[0] >= '5' {
		n.Add(n, big.NewInt(1))
	}
	v := n.String()
	if strings.HasPrefix(s, "-") && v != "0" {
		v = "-" + v
	}
	return cell{v, v}
}

var (
	utf8Chars   = []string{"a", "b", "Z", "0", " ", "é", "ß", "ü", "✓", "中", "😀", "'", `\`, `"`, "%", "\t"}
	latin1Chars = []string{"a", "b", "Z", "0", " ", "é", "ß", "ü", "ÿ", "£", "'", `\`}
)

// textType: n..m characters from chars (CHAR: no trailing spaces, which
// CHAR does not keep).
func textType(sql string, n, m int, chars []string) *colType {
	return &colType{sql: sql, gen: func(r *rand.Rand) (string, any) {
		var b strings.Builder
		for range n + r.IntN(m-n+1) {
			b.WriteString(chars[r.IntN(len(chars))])
		}
		s := b.String()
		if strings.HasPrefix(sql, "CHAR") {
			s = strings.TrimRight(s, " ")
		}
		return quote(s), s
	}}
}

// binType: BINARY(n) values come back padded to n bytes with zeros.
func binType(sql string, maxLen, padTo int, widen *colType) *colType {
	return &colType{sql: sql, widen: widen, gen: func(r *rand.Rand) (string, any) {
		b := make([]byte, r.IntN(maxLen+1))
		for i := range b {
			b[i] = byte(r.IntN(256))
			if r.IntN(5) == 0 {
				b[i] = 0
			}
		}
		lake := b
		if len(b) < padTo {
			lake = make([]byte, padTo)
			copy(lake, b)
		}
		return "X'" + hex.EncodeToString(b) + "'", lake
	}}
}

func bitType(n uint) *colType {
	return &colType{sql: fmt.Sprintf("BIT(%d)", n), exact: true, gen: func(r *rand.Rand) (string, any) {
		v := r.Uint64() >> (64 - n)
		if r.IntN(8) == 0 {
			v = uint64(math.MaxUint64) >> (64 - n)
		}
		return fmt.Sprintf("b'%b'", v), v
	}}
}

func enumType(labels []string, widen *colType) *colType {
	q := make([]string, len(labels))
	for i, l := range labels {
		q[i] = quote(l)
	}
	return &colType{sql: "ENUM(" + strings.Join(q, ",") + ") CHARACTER SET utf8mb4", widen: widen, exact: true, gen: func(r *rand.Rand) (string, any) {
		l := labels[r.IntN(len(labels))]
		return quote(l), l
	}}
}

// setType: the literal names labels in any order; the lake holds them in
// definition order.
func setType(labels []string, widen *colType) *colType {
	q := make([]string, len(labels))
	for i, l := range labels {
		q[i] = quote(l)
	}
	return &colType{sql: "SET(" + strings.Join(q, ",") + ") CHARACTER SET utf8mb4", widen: widen, gen: func(r *rand.Rand) (string, any) {
		var in, out []string
		for _, l := range labels {
			if r.IntN(2) == 0 {
				out = append(out, l)
			}
		}
		in = slices.Clone(out)
		r.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		return quote(strings.Join(in, ",")), strings.Join(out, ",")
	}}
}

func jsonType() *colType {
	return &colType{sql: "JSON", gen: func(r *rand.Rand) (string, any) {
		var s string
		switch r.IntN(5) {
		case 0:
			s = fmt.Sprintf(`{"k": %d, "s": "é✓ %d", "a": [1, 2.5, null, true]}`, r.IntN(1000), r.IntN(10))
		case 1:
			s = fmt.Sprintf(`[%d, "x", {"n": null}]`, r.IntN(1000))
		case 2:
			s = fmt.Sprintf(`"text %d"`, r.IntN(100))
		case 3:
			s = strconv.Itoa(r.IntN(1000) - 500)
		default:
			s = "null"
		}
		return quote(s), s
	}}
}

// geometryType: the lake holds the 4-byte little-endian SRID, then WKB.
func geometryType(sql string, pointsOnly bool) *colType {
	return &colType{sql: sql, gen: func(r *rand.Rand) (string, any) {
		coord := func() float64 { return float64(r.IntN(2001)-1000) / 4 }
		srid := uint32(0)
		if r.IntN(3) == 0 {
			srid = 4326
		}
		wkb := bin.LittleEndian.AppendUint32(nil, srid)
		wkb = append(wkb, 1)
		var wkt string
		if pointsOnly || r.IntN(2) == 0 {
			x, y := coord(), coord()
			wkb = bin.LittleEndian.AppendUint32(wkb, 1)
			wkb = bin.LittleEndian.AppendUint64(wkb, math.Float64bits(x))
			wkb = bin.LittleEndian.AppendUint64(wkb, math.Float64bits(y))
			wkt = fmt.Sprintf("POINT(%g %g)", x, y)
		} else {
			n := 2 + r.IntN(3)
			wkb = bin.LittleEndian.AppendUint32(wkb, 2)
			wkb = bin.LittleEndian.AppendUint32(wkb, uint32(n))
			var pts []string
			for range n {
				x, y := coord(), coord()
				wkb = bin.LittleEndian.AppendUint64(wkb, math.Float64bits(x))
				wkb = bin.LittleEndian.AppendUint64(wkb, math.Float64bits(y))
				pts = append(pts, fmt.Sprintf("%g %g", x, y))
			}
			wkt = "LINESTRING(" + strings.Join(pts, ", ") + ")"
		}
		return fmt.Sprintf("ST_GeomFromText('%s', %d)", wkt, srid), wkb
	}}
}

var (
	tBigInt   = signedType("BIGINT", 64, nil)
	tCustomer = rangeType("INT", 0, 500)
	tKind     = &colType{sql: "VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin", exact: true,
		gen: func(r *rand.Rand) (string, any) { s := fmt.Sprintf("k%d", r.IntN(3)); return quote(s), s }}
	tSmallN = &colType{sql: "INT", exact: true, widen: signedType("BIGINT", 64, nil),
		gen: func(r *rand.Rand) (string, any) { v := r.Int64N(3); return strconv.FormatInt(v, 10), v }}
	tStatus = enumType([]string{"new", "paid", "shipped"}, enumType([]string{"new", "paid", "shipped", "returned"}, nil))

	// ddlTypes are the types of columns added by ALTER and of tables
	// created by the workload.
	ddlTypes = []*colType{
		signedType("INT", 32, signedType("BIGINT", 64, nil)),
		signedType("SMALLINT", 16, signedType("INT", 32, nil)),
		unsignedType("SMALLINT UNSIGNED", 16, unsignedType("INT UNSIGNED", 32, nil)),
		unsignedType("BIGINT UNSIGNED", 64, nil),
		lossy(decimalType(10, 2, decimalType(24, 2, nil)), decimalType(10, 0, nil), roundDecimal),
		decimalType(50, 20, nil),
		{sql: "VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin", exact: true,
			gen:   textType("", 0, 16, utf8Chars).gen,
			widen: &colType{sql: "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin", exact: true, gen: textType("", 0, 64, utf8Chars).gen}},
		textType("VARCHAR(16) CHARACTER SET latin1", 0, 16, latin1Chars),
		textType("TEXT CHARACTER SET latin1", 0, 40, latin1Chars),
		textType("CHAR(5) CHARACTER SET utf8mb4", 0, 5, utf8Chars),
		// No charset: the table's default (the server's, utf8mb4), which the
		// daemon must know at the ALTER's position even when the table is
		// renamed or dropped before it reads the statement.
		textType("VARCHAR(12)", 0, 12, utf8Chars),
		textType("TEXT", 0, 30, utf8Chars),
		dateType(),
		yearType(),
		// Fractions of a second are cut (MariaDB does not round them
		// unless sql_mode has TIME_ROUND_FRACTIONAL); a TIME toward zero.
		lossy(datetimeType(3, true, datetimeType(6, true, nil)), datetimeType(0, true, nil),
			micros(func(v int64) int64 { return truncFSP(v, 0) }, datetimeLit)),
		lossy(timestampType(2), timestampType(0), micros(func(v int64) int64 { return truncFSP(v, 0) }, timestampLit)),
		lossy(timeType(2, timeType(5, nil)), timeType(0, nil), micros(func(v int64) int64 { return v - v%1e6 }, timeLit)),
		floatType(),
		doubleType(),
		binType("BINARY(4)", 4, 4, binType("VARBINARY(16)", 16, 0, nil)),
		binType("BLOB", 40, 0, nil),
		bitType(5),
		enumType([]string{"a", "b", "c d"}, enumType([]string{"a", "b", "c d", "é"}, nil)),
		setType([]string{"x", "y", "z"}, setType([]string{"x", "y", "z", "w"}, nil)),
		jsonType(),
		geometryType("GEOMETRY", false),
	}
)

// typesColumns is shop.types: a key, then every type of docs/types.md.
func typesColumns() []column {
	cols := []column{{name: "id", typ: tBigInt, notNull: true}}
	add := func(name string, t *colType) { cols = append(cols, column{name: name, typ: t}) }
	add("ti", signedType("TINYINT", 8, nil))
	add("tiu", unsignedType("TINYINT UNSIGNED", 8, nil))
	add("si", signedType("SMALLINT", 16, nil))
	add("siu", unsignedType("SMALLINT UNSIGNED", 16, nil))
	add("mi", signedType("MEDIUMINT", 24, nil))
	add("miu", unsignedType("MEDIUMINT UNSIGNED", 24, nil))
	add("i", signedType("INT", 32, signedType("BIGINT", 64, nil)))
	add("iu", unsignedType("INT UNSIGNED", 32, nil))
	add("bi", signedType("BIGINT", 64, nil))
	add("biu", unsignedType("BIGINT UNSIGNED", 64, nil))
	add("d5", decimalType(5, 2, nil))
	add("d0", decimalType(10, 0, nil))
	add("d18", decimalType(18, 4, nil))
	add("d30", decimalType(30, 30, nil))
	add("d38", decimalType(38, 10, nil))
	add("d65", decimalType(65, 30, nil))
	add("f", floatType())
	add("dbl", doubleType())
	add("dt", dateType())
	add("y", yearType())
	add("dtm0", datetimeType(0, true, nil))
	add("dtm3", datetimeType(3, true, nil))
	add("dtm6", datetimeType(6, true, nil))
	add("ts0", timestampType(0))
	add("ts3", timestampType(3))
	add("ts6", timestampType(6))
	add("tm0", timeType(0, nil))
	add("tm1", timeType(1, nil))
	add("tm6", timeType(6, nil))
	add("c", textType("CHAR(10) CHARACTER SET utf8mb4", 0, 10, utf8Chars))
	add("vc", textType("VARCHAR(40) CHARACTER SET utf8mb4", 0, 40, utf8Chars))
	add("tx", textType("TEXT CHARACTER SET utf8mb4", 0, 120, utf8Chars))
	add("cl", textType("CHAR(10) CHARACTER SET latin1", 0, 10, latin1Chars))
	add("vcl", textType("VARCHAR(40) CHARACTER SET latin1", 0, 40, latin1Chars))
	add("txl", textType("TEXT CHARACTER SET latin1", 0, 120, latin1Chars))
	add("bn", binType("BINARY(8)", 8, 8, nil))
	add("vb", binType("VARBINARY(32)", 32, 0, nil))
	add("bl", binType("BLOB", 64, 0, nil))
	add("b1", bitType(1))
	add("b13", bitType(13))
	add("b64", bitType(64))
	add("e", enumType([]string{"a", "b", "c d", "ça"}, nil))
	add("s", setType([]string{"x", "y", "z", "w"}, nil))
	add("j", jsonType())
	add("g", geometryType("GEOMETRY", false))
	add("pt", geometryType("POINT", true))
	return cols
}
