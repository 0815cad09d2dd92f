package ingest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

var (
	tInt     = tableformat.Type{Kind: tableformat.KindInt, SQL: "int"}
	tBig     = tableformat.Type{Kind: tableformat.KindBigInt, SQL: "bigint"}
	tVarchar = tableformat.Type{Kind: tableformat.KindVarchar, Charset: "utf8mb4", SQL: "varchar(10)"}
)

func col(name string, t tableformat.Type, nullable bool) SourceColumn {
	return SourceColumn{Name: name, Type: t, Nullable: nullable}
}

// trackedTable returns a tracker holding one table d.t with the given
// columns (ids 1, 2, …) and key.
func trackedTable(t *testing.T, cols []SourceColumn, key ...string) (*schemaTracker, *mirroredTable) {
	t.Helper()
	tr := &schemaTracker{tables: map[int64]*mirroredTable{}, byName: map[tableName]int64{}, nextID: 1}
	var seq int64
	tt, _, err := tr.resolve(&Table{DB: "d", Name: "t", Columns: cols, Key: key}, func() int64 { seq++; return seq })
	if err != nil {
		t.Fatal(err)
	}
	return tr, tt
}

// showSchema renders columns as "id:name type[!]" and the key by name.
func showSchema(sc tableformat.Schema) string {
	var cols, key []string
	for _, c := range sc.Columns {
		s := fmt.Sprintf("%d:%s %s", c.ID, c.Name, c.Type.SQL)
		if !c.Nullable {
			s += "!"
		}
		cols = append(cols, s)
	}
	for _, id := range sc.Key {
		for _, c := range sc.Columns {
			if c.ID == id {
				key = append(key, c.Name)
			}
		}
	}
	return strings.Join(cols, ", ") + " key(" + strings.Join(key, ",") + ")"
}

func TestApplyAlter(t *testing.T) {
	base := []SourceColumn{col("id", tInt, false), col("v", tVarchar, true), col("n", tInt, true)}
	keyless := []SourceColumn{col("a", tInt, true), col("b", tInt, false)}
	tests := []struct {
		name string
		cols []SourceColumn
		key  []string
		ops  []AlterOp
		want string // "" : not applied
	}{
		{"add", base, []string{"id"}, []AlterOp{&AddColumn{Column: col("w", tBig, true)}},
			"1:id int!, 2:v varchar(10), 3:n int, 4:w bigint key(id)"},
		{"add first and after", base, []string{"id"}, []AlterOp{
			&AddColumn{Column: col("x", tInt, true), After: "V"}, &AddColumn{Column: col("f", tInt, true), First: true}},
			"5:f int, 1:id int!, 2:v varchar(10), 4:x int, 3:n int key(id)"},
		{"drop", base, []string{"id"}, []AlterOp{&DropColumn{Name: "v"}}, "1:id int!, 3:n int key(id)"},
		{"drop then add the same name: a new id", base, []string{"id"}, []AlterOp{&DropColumn{Name: "n"}, &AddColumn{Column: col("n", tBig, true)}},
			"1:id int!, 2:v varchar(10), 4:n bigint key(id)"},
		{"modify keeps the id and place", base, []string{"id"}, []AlterOp{&ModifyColumn{Name: "v", Column: col("v", tBig, false)}},
			"1:id int!, 2:v bigint!, 3:n int key(id)"},
		{"change renames and moves", base, []string{"id"}, []AlterOp{&ModifyColumn{Name: "n", Column: col("m", tBig, true), First: true}},
			"3:m bigint, 1:id int!, 2:v varchar(10) key(id)"},
		{"after refers to the new names", base, []string{"id"}, []AlterOp{
			&AddColumn{Column: col("z", tInt, true), After: "vv"}, &ModifyColumn{Name: "v", Column: col("vv", tVarchar, true)}},
			"1:id int!, 2:vv varchar(10), 4:z int, 3:n int key(id)"},
		{"rename", base, []string{"id"}, []AlterOp{&RenameColumn{From: "ID", To: "key"}},
			"1:key int!, 2:v varchar(10), 3:n int key(key)"},
		{"set key makes it not null", base, []string{"id"}, []AlterOp{&SetKey{Columns: []string{"n", "id"}}},
			"1:id int!, 2:v varchar(10), 3:n int! key(n,id)"},
		{"add with key", keyless, nil, []AlterOp{&AddColumn{Column: col("id", tInt, false), First: true}, &SetKey{Columns: []string{"id"}}},
			"3:id int!, 1:a int, 2:b int! key(id)"},
		{"unique on a table with a key", base, []string{"id"}, []AlterOp{&AddUnique{Columns: []string{"n"}}, &ModifyColumn{Name: "n", Column: col("n", tInt, false)}},
			"1:id int!, 2:v varchar(10), 3:n int! key(id)"},
		{"unique with a nullable part on a keyless table", keyless, nil, []AlterOp{&AddUnique{Columns: []string{"a", "b"}}},
			"1:a int, 2:b int! key()"},
		{"if exists / if not exists", base, []string{"id"}, []AlterOp{&DropColumn{Name: "nope", IfExists: true},
			&AddColumn{Column: col("v", tInt, true), IfNotExists: true}, &ModifyColumn{Name: "nope", IfExists: true}, &RenameColumn{From: "nope", To: "x", IfExists: true}},
			"1:id int!, 2:v varchar(10), 3:n int key(id)"},
		// Applied as keyless; a key the server might promote comes with the next TableMap.
		{"drop on a keyless table", keyless, nil, []AlterOp{&DropColumn{Name: "a"}}, "2:b int! key()"},
		// Not decidable from the schema, or not fitting it.
		{"unique not null on a keyless table", keyless, nil, []AlterOp{&AddUnique{Columns: []string{"b"}}}, ""},
		{"not null on a keyless table", keyless, nil, []AlterOp{&ModifyColumn{Name: "a", Column: col("a", tInt, false)}}, ""},
		{"drop a key column", base, []string{"id"}, []AlterOp{&DropColumn{Name: "id"}}, ""},
		{"key column made nullable", base, []string{"id"}, []AlterOp{&ModifyColumn{Name: "id", Column: col("id", tInt, true)}}, ""},
		{"add an existing column", base, []string{"id"}, []AlterOp{&AddColumn{Column: col("N", tInt, true)}}, ""},
		{"drop a missing column", base, []string{"id"}, []AlterOp{&DropColumn{Name: "nope"}}, ""},
		{"after a missing column", base, []string{"id"}, []AlterOp{&AddColumn{Column: col("x", tInt, true), After: "nope"}}, ""},
		{"modified twice", base, []string{"id"}, []AlterOp{&ModifyColumn{Name: "v", Column: col("v", tInt, true)}, &RenameColumn{From: "v", To: "w"}}, ""},
		{"duplicate names", base, []string{"id"}, []AlterOp{&RenameColumn{From: "v", To: "N"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, tt := trackedTable(t, tc.cols, tc.key...)
			before := showSchema(tt.schema)
			sc, ok, err := tt.applyAlter(tc.ops)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if ok {
				got = showSchema(sc)
				if sc.Version != 2 {
					t.Errorf("version %d, want 2", sc.Version)
				}
			}
			if got != tc.want {
				t.Errorf("\n got %q\nwant %q", got, tc.want)
			}
			if after := showSchema(tt.schema); after != before {
				t.Errorf("applyAlter changed the tracked schema: %s", after)
			}
		})
	}
}

// ddlScript builds a scripted source: each transaction is a list of events
// closed by a Commit with GTID 0-1-n.
func ddlScript(txns ...[]Event) *script {
	s := &script{}
	for i, evs := range txns {
		s.events = append(s.events, evs...)
		g := fmt.Sprintf("0-1-%d", i+1)
		s.events = append(s.events, &Commit{GTID: g, Time: int64(i+1) * 1e6,
			End: tableformat.Position{GTIDSet: g, File: "b.000001", Pos: uint64(i+1) * 100}})
	}
	return s
}

// tableChanges lists the lake's table changes as "op table seq ddl?".
func tableChanges(t *testing.T, l *tableformat.Log) []tableformat.TableChange {
	t.Helper()
	st, err := l.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []tableformat.TableChange
	for v := int64(2); v <= st.Version; v++ {
		e, err := l.Entry(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Tables...)
	}
	return out
}

func TestPipelineAppliesDDL(t *testing.T) {
	t1 := &Table{DB: "d", Name: "t", Columns: []SourceColumn{col("id", tInt, false), col("v", tVarchar, true)}, Key: []string{"id"}}
	// What the TableMap says after each ALTER.
	t2 := &Table{DB: "d", Name: "t", Columns: []SourceColumn{col("id", tInt, false), col("w", tBig, true), col("vv", tVarchar, true)}, Key: []string{"id"}}
	t3 := &Table{DB: "d", Name: "t", Columns: []SourceColumn{col("id", tInt, false), col("w", tBig, true), col("vv", tVarchar, true), col("gap", tInt, true)}, Key: []string{"id"}}
	t4 := &Table{DB: "d", Name: "t", Columns: []SourceColumn{col("id", tInt, false), col("w", tBig, true)}, Key: []string{"id"}}
	empty := &Table{DB: "d", Name: "e", Columns: []SourceColumn{col("id", tBig, false)}, Key: []string{"id"}}
	other := &Table{DB: "o", Name: "a", Columns: []SourceColumn{col("id", tInt, false)}, Key: []string{"id"}}
	src := ddlScript(
		[]Event{&Rows{Table: t1, Op: RowInsert, After: [][]any{{int64(1), "a"}}, Time: 1e6}},
		// 2: a complete ALTER, no rows follow in its commit.
		[]Event{&DDL{Op: DDLAlter, DB: "d", Name: "t", SQL: "ALTER 2", Complete: true, ColumnRenames: map[string]string{"v": "vv"},
			Alter: []AlterOp{&ModifyColumn{Name: "v", Column: col("vv", tVarchar, true)}, &AddColumn{Column: col("w", tBig, true), After: "id"}}}},
		// 3: rows whose TableMap agrees: no new version.
		[]Event{&Rows{Table: t2, Op: RowInsert, After: [][]any{{int64(2), int64(5), "b"}}, Time: 3e6}},
		// 4: an ALTER the parser missed something of: the TableMap's version follows at the row.
		[]Event{&DDL{Op: DDLAlter, DB: "d", Name: "t", SQL: "ALTER 4", Complete: true, Alter: []AlterOp{&AddColumn{Column: col("gap", tBig, true)}}}},
		[]Event{&Rows{Table: t3, Op: RowInsert, After: [][]any{{int64(3), int64(6), "c", int64(1)}}, Time: 5e6}},
		// 6: an incomplete ALTER, then a complete one before any row: neither is applied.
		[]Event{&DDL{Op: DDLAlter, DB: "d", Name: "t", SQL: "ALTER 6"}},
		[]Event{&DDL{Op: DDLAlter, DB: "d", Name: "t", SQL: "ALTER 7", Complete: true, Alter: []AlterOp{&DropColumn{Name: "vv"}}}},
		[]Event{&Rows{Table: t4, Op: RowInsert, After: [][]any{{int64(4), int64(7)}}, Time: 8e6}},
		// 9: after a row the tracker knows the schema again.
		[]Event{&DDL{Op: DDLAlter, DB: "d", Name: "t", SQL: "ALTER 9", Complete: true, Alter: []AlterOp{&AddColumn{Column: col("x", tInt, true)}}}},
		// 10: a CREATE with its structure and no rows: an empty table.
		[]Event{&DDL{Op: DDLCreate, DB: "d", Name: "e", SQL: "CREATE 10", Table: empty}},
		[]Event{&Rows{Table: other, Op: RowInsert, After: [][]any{{int64(1)}}, Time: 11e6}},
		// 12: DROP DATABASE d drops d.t and d.e, not o.a.
		[]Event{&DDL{Op: DDLDropDatabase, DB: "d", SQL: "DROP DATABASE d"}},
		[]Event{&DDL{Op: DDLDropDatabase, DB: "nothing", SQL: "DROP DATABASE nothing"}},
	)
	_, l := newLake(t)
	if err := New(l, Options{CommitInterval: time.Hour}).Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range tableChanges(t, l) {
		s := fmt.Sprintf("%s %d %q", c.Op, c.TableID, c.DDL)
		if c.Schema != nil {
			s += fmt.Sprintf(" v%d %s", c.Schema.Version, showSchema(*c.Schema))
		}
		got = append(got, s)
	}
	want := []string{
		`create 1 "" v1 1:id int!, 2:v varchar(10) key(id)`,
		`alter 1 "ALTER 2" v2 1:id int!, 3:w bigint, 2:vv varchar(10) key(id)`,
		`alter 1 "ALTER 4" v3 1:id int!, 3:w bigint, 2:vv varchar(10), 4:gap bigint key(id)`,
		// gap's type narrowed: files before cannot be read as int, so it
		// is a new column (id 5).
		`alter 1 "" v4 1:id int!, 3:w bigint, 2:vv varchar(10), 5:gap int key(id)`,
		`alter 1 "" v5 1:id int!, 3:w bigint key(id)`,
		`alter 1 "ALTER 9" v6 1:id int!, 3:w bigint, 6:x int key(id)`,
		`create 2 "CREATE 10" v1 1:id bigint! key(id)`,
		`create 3 "" v1 1:id int! key(id)`, // o.a
		`drop 1 "DROP DATABASE d"`,
		`drop 2 "DROP DATABASE d"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("table changes\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	// The ALTER of transaction 2 is in force as of that transaction, not before.
	for _, tc := range []struct {
		gtid    string
		version int
	}{{"0-1-1", 1}, {"0-1-2", 2}, {"0-1-3", 2}, {"0-1-4", 3}} {
		p, err := l.AtGTID(context.Background(), tc.gtid)
		if err != nil {
			t.Fatal(err)
		}
		ts, ok := p.State.TableByName("d", "t", p.Seq)
		if !ok || ts.SchemaAt(p.Seq).Version != tc.version {
			t.Errorf("as of %s: table %v, want schema v%d", tc.gtid, ok, tc.version)
		}
	}
	p, err := l.AtGTID(context.Background(), "0-1-10")
	if err != nil {
		t.Fatal(err)
	}
	if ts, ok := p.State.TableByName("d", "e", p.Seq); !ok || len(ts.Files) != 0 {
		t.Errorf("as of the CREATE: d.e %v", ok)
	}
	p, err = l.AtLatest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range [][2]string{{"d", "t"}, {"d", "e"}} {
		if _, ok := p.State.TableByName(n[0], n[1], p.Seq); ok {
			t.Errorf("%s.%s exists after DROP DATABASE", n[0], n[1])
		}
	}
	if _, ok := p.State.TableByName("o", "a", p.Seq); !ok {
		t.Errorf("o.a dropped by DROP DATABASE d")
	}
}

// TestDeferredAltersKeepColumnIDs: ALTERs the tracker cannot apply wait for
// the next TableMap, but what they did to column names holds: a renamed
// column keeps its id through a chain of renames, a dropped column's id is
// retired (the name added again is a new column), within one statement
// renames and drops act on the columns as they were before it.
func TestDeferredAltersKeepColumnIDs(t *testing.T) {
	tr, tt := trackedTable(t, []SourceColumn{col("a", tInt, true), col("b", tInt, true), col("c", tInt, true)})
	var seq int64 = 10
	next := func() int64 { seq++; return seq }
	for _, d := range []*DDL{
		{Op: DDLAlter, DB: "d", Name: "t", ColumnDrops: []string{"b"}},                                     // DROP b
		{Op: DDLAlter, DB: "d", Name: "t", ColumnAdds: []string{"B"}},                                      // ADD B
		{Op: DDLAlter, DB: "d", Name: "t", ColumnRenames: map[string]string{"a": "x"}},                     // a → x
		{Op: DDLAlter, DB: "d", Name: "t", ColumnRenames: map[string]string{"x": "y", "c": "x"}},           // x → y, c → x
		{Op: DDLAlter, DB: "d", Name: "t", ColumnDrops: []string{"x"}, ColumnAdds: []string{"x", "fresh"}}, // DROP x, ADD x, ADD fresh
	} {
		changes, err := tr.ddl(d, next)
		if err != nil || len(changes) != 0 {
			t.Fatalf("deferred ALTER %+v: changes %v, %v", d, changes, err)
		}
	}
	_, c, err := tr.resolve(&Table{DB: "d", Name: "t", Columns: []SourceColumn{
		col("y", tInt, true), col("B", tInt, true), col("x", tInt, true), col("fresh", tInt, true)}}, next)
	if err != nil || c == nil {
		t.Fatalf("resolve: %v, %v", c, err)
	}
	// a (1) is y; b (2) was dropped, B is new (4); c (3) was renamed x
	// then dropped, the x added after is new (5); fresh is new (6).
	if got, want := showSchema(tt.schema), "1:y int, 4:B int, 5:x int, 6:fresh int key()"; got != want {
		t.Fatalf("schema after the TableMap:\n got %s\nwant %s", got, want)
	}
}

// TestTableCharset: the schema carries the table's default charset from a
// CREATE or a snapshot, keeps it through row events (which do not say it)
// and renames, takes an ALTER's new default as a version of its own (also
// from an ALTER that waits for the next TableMap), and forgets it when an
// ALTER changed it in a way the source did not read.
func TestTableCharset(t *testing.T) {
	cols := []SourceColumn{col("id", tInt, false)}
	tr := &schemaTracker{tables: map[int64]*mirroredTable{}, byName: map[tableName]int64{}, nextID: 1}
	var seq int64
	next := func() int64 { seq++; return seq }
	var got []string
	record := func(changes []tableformat.TableChange, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range changes {
			s := string(c.Op)
			if c.Schema != nil {
				s += fmt.Sprintf(" v%d %q", c.Schema.Version, c.Schema.Charset)
			}
			got = append(got, s)
		}
	}
	resolve := func(tb *Table) {
		t.Helper()
		_, changes, err := tr.resolve(tb, next)
		record(changes, err)
	}
	record(tr.ddl(&DDL{Op: DDLCreate, DB: "d", Name: "t", Table: &Table{DB: "d", Name: "t", Columns: cols, Key: []string{"id"}, Charset: "latin1"}}, next))
	resolve(&Table{DB: "d", Name: "t", Columns: cols, Key: []string{"id"}}) // a row event: no charset, no change
	record(tr.ddl(&DDL{Op: DDLRename, DB: "d", Name: "t", NewDB: "d", NewName: "u"}, next))
	// A complete ALTER that changes only the default.
	record(tr.ddl(&DDL{Op: DDLAlter, DB: "d", Name: "u", Complete: true, Charset: "utf8mb4"}, next))
	// A complete ALTER that does not change it.
	record(tr.ddl(&DDL{Op: DDLAlter, DB: "d", Name: "u", Complete: true, Alter: []AlterOp{&AddColumn{Column: col("c", tVarchar, true)}}}, next))
	// An incomplete ALTER changing it: the next TableMap brings it.
	record(tr.ddl(&DDL{Op: DDLAlter, DB: "d", Name: "u", Charset: "cp1251"}, next))
	resolve(&Table{DB: "d", Name: "u", Columns: append(slices.Clone(cols), col("c", tVarchar, true)), Key: []string{"id"}})
	// Changed in a way not read: forgotten.
	record(tr.ddl(&DDL{Op: DDLAlter, DB: "d", Name: "u", Complete: true, CharsetUnknown: true}, next))
	want := []string{`create v1 "latin1"`, `rename`, `alter v2 "utf8mb4"`, `alter v3 "utf8mb4"`, `alter v4 "cp1251"`, `alter v5 ""`}
	if !slices.Equal(got, want) {
		t.Errorf("table changes\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// TestTrackerColumnHistory: an added column's fill becomes its initial
// default and stays with the column (a row event's structure, which does
// not carry it, is no new version); a type change the stored values cannot
// be read under gives the column a new id, or truncates a table whose key
// it is; changes the server converts values in ask for a re-snapshot.
func TestTrackerColumnHistory(t *testing.T) {
	tr, _ := trackedTable(t, []SourceColumn{col("id", tInt, false), col("v", tVarchar, true), col("n", tBig, true)}, "id")
	var seq int64 = 10
	next := func() int64 { seq++; return seq }
	var got []string
	step := func(cs []tableformat.TableChange, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			s := string(c.Op)
			if c.Schema != nil {
				s += " " + showSchema(*c.Schema)
				for _, col := range c.Schema.Columns {
					if col.InitialDefault != nil {
						s += fmt.Sprintf(" %s=%q", col.Name, *col.InitialDefault)
					}
				}
			}
			got = append(got, s)
		}
		for _, r := range tr.requests {
			got = append(got, "resnapshot "+r.Reason)
		}
		tr.requests = nil
	}
	alter := func(strict bool, ops ...AlterOp) *DDL {
		return &DDL{Op: DDLAlter, DB: "d", Name: "t", Complete: true, Strict: strict, Alter: ops}
	}
	tVarchar5 := tableformat.Type{Kind: tableformat.KindVarchar, Charset: "utf8mb4", SQL: "varchar(5)"}
	tChar := tableformat.Type{Kind: tableformat.KindChar, Charset: "utf8mb4", Length: 10, SQL: "char(10)"}
	step(tr.ddl(alter(false, &AddColumn{Column: col("note", tVarchar, true), Fill: "none"}), next))
	step(tr.ddl(alter(false, &AddColumn{Column: col("flags", tInt, false), Fill: int64(0)}), next))
	// The row event's structure: the same schema, defaults kept.
	_, cs, err := tr.resolve(&Table{DB: "d", Name: "t", Key: []string{"id"}, Columns: []SourceColumn{col("id", tInt, false),
		col("v", tVarchar, true), col("n", tBig, true), col("note", tVarchar, true), col("flags", tInt, false)}}, next)
	step(cs, err)
	// Widening keeps id and default; narrowing n cannot be read: new id.
	step(tr.ddl(alter(false, &ModifyColumn{Name: "flags", Column: col("flags", tBig, false)}, &ModifyColumn{Name: "n", Column: col("n", tInt, true)}), next))
	// Shorter text outside strict mode: values may be cut.
	step(tr.ddl(alter(false, &ModifyColumn{Name: "v", Column: col("v", tVarchar5, true)}), next))
	// The same in strict mode: the statement would have failed instead.
	step(tr.ddl(alter(true, &ModifyColumn{Name: "note", Column: col("note", tVarchar5, true)}), next))
	// Into CHAR: trailing spaces go, strict or not.
	step(tr.ddl(alter(true, &ModifyColumn{Name: "note", Column: col("note", tChar, true)}), next))
	// The key's type cannot be read: the table is truncated at the change.
	step(tr.ddl(alter(true, &ModifyColumn{Name: "id", Column: col("id", tVarchar, false)}), next))
	want := []string{
		`alter 1:id int!, 2:v varchar(10), 3:n bigint, 4:note varchar(10) key(id) note="none"`,
		`alter 1:id int!, 2:v varchar(10), 3:n bigint, 4:note varchar(10), 5:flags int! key(id) note="none" flags="0"`,
		`alter 1:id int!, 2:v varchar(10), 6:n int, 4:note varchar(10), 5:flags bigint! key(id) note="none" flags="0"`,
		`resnapshot a column's values were converted by the server`,
		`alter 1:id int!, 2:v varchar(5), 6:n int, 4:note varchar(10), 5:flags bigint! key(id) note="none" flags="0"`,
		`resnapshot a column's values were converted by the server`,
		`alter 1:id int!, 2:v varchar(5), 6:n int, 4:note varchar(5), 5:flags bigint! key(id) note="none" flags="0"`,
		`alter 1:id int!, 2:v varchar(5), 6:n int, 4:note char(10), 5:flags bigint! key(id) note="none" flags="0"`,
		`resnapshot a column's values were converted by the server`,
		`truncate`,
		`alter 1:id varchar(10)!, 2:v varchar(5), 6:n int, 4:note char(10), 5:flags bigint! key(id) note="none" flags="0"`,
		`resnapshot a column's values were converted by the server`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// TestTruncatingChangeDropsInitialDefault: a column of a keyless table,
// added with a default, that changes to a type its stored values cannot be
// read under truncates the table; its default goes with the rows — it may
// be no value of the new type (a DATETIME(3) default with a fraction, the
// column now DATETIME), which the schema would refuse.
func TestTruncatingChangeDropsInitialDefault(t *testing.T) {
	tDatetime3 := tableformat.Type{Kind: tableformat.KindDatetime, FSP: 3, SQL: "datetime(3)"}
	tDatetime := tableformat.Type{Kind: tableformat.KindDatetime, SQL: "datetime"}
	tr, _ := trackedTable(t, []SourceColumn{col("k", tVarchar, false)})
	var seq int64
	next := func() int64 { seq++; return seq }
	alter := func(op AlterOp) *DDL {
		return &DDL{Op: DDLAlter, DB: "d", Name: "t", Complete: true, Strict: true, Alter: []AlterOp{op}}
	}
	// 1328-09-30 02:57:50.729
	if _, err := tr.ddl(alter(&AddColumn{Column: col("at", tDatetime3, false), Fill: int64(-20235992529271000)}), next); err != nil {
		t.Fatal(err)
	}
	cs, err := tr.ddl(alter(&ModifyColumn{Name: "at", Column: col("at", tDatetime, false)}), next)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, c := range cs {
		ops = append(ops, string(c.Op))
		if c.Schema == nil {
			continue
		}
		if err := c.Schema.Validate(); err != nil {
			t.Errorf("%s: %v", c.Op, err)
		}
		for _, col := range c.Schema.Columns {
			if col.InitialDefault != nil {
				t.Errorf("%s: column %s keeps the initial default %q", c.Op, col.Name, *col.InitialDefault)
			}
		}
	}
	if want := []string{"truncate", "alter"}; !slices.Equal(ops, want) {
		t.Errorf("changes %v, want %v", ops, want)
	}
}
