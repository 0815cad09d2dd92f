package mysql

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// What a DDL step must produce in the lake.
const (
	fromDDL = "ddl" // a schema version taken from the statement itself
	noEvent = "-"   // no table change at all (index, engine, option changes)
	fromMap = "map" // an incomplete statement: the next TableMap brings the version
)

type ddlStep struct {
	sql  string
	want string // fromDDL when empty
	// table is the table's name after the step, when it renames it.
	table string
}

type ddlCase struct {
	table string // db.name as created
	steps []ddlStep
}

// TestDDLParity runs CREATE TABLE and ALTER statements against a real
// MariaDB, each followed by a row change, and ingests the binlog: every
// statement the parser reads completely must give the schema the next
// TableMap event gives (the tracker then records no version of its own at
// the row change), and the incomplete ones must leave the structure to the
// TableMap.
func TestDDLParity(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE p", "CREATE DATABASE pl CHARACTER SET latin1", "CREATE DATABASE pb CHARACTER SET binary")
	s := func(sql string, want ...string) ddlStep {
		st := ddlStep{sql: sql, want: fromDDL}
		if len(want) > 0 {
			st.want = want[0]
		}
		return st
	}
	c := func(table string, steps ...ddlStep) ddlCase { return ddlCase{table: table, steps: steps} }
	cases := []ddlCase{
		c("p.ints", s("CREATE TABLE p.ints (a TINYINT, b TINYINT UNSIGNED, c SMALLINT(5) ZEROFILL, d MEDIUMINT UNSIGNED NOT NULL, e INT(11), f INTEGER UNSIGNED, g BIGINT, h BIGINT UNSIGNED, i BOOL, j BOOLEAN NOT NULL DEFAULT 1, k INT1, l INT2, m INT3, n INT4, o INT8, q MIDDLEINT, r INT SIGNED, id SERIAL)")),
		c("p.nums", s("CREATE TABLE p.nums (id INT PRIMARY KEY, a DECIMAL, b DECIMAL(5), c DECIMAL(10,2) UNSIGNED, d DEC(65,30), e NUMERIC(38,10), f FIXED(20,0), g FLOAT, h FLOAT(10,3), i FLOAT(30), j FLOAT(20), k DOUBLE, l DOUBLE PRECISION, m REAL, n DOUBLE(10,2) UNSIGNED, o FLOAT4, q FLOAT8, r DECIMAL(39,2), u FLOAT UNSIGNED ZEROFILL)")),
		c("p.times", s("CREATE TABLE p.times (id INT KEY, a DATE, b TIME, c TIME(3), d DATETIME, e DATETIME(6), f TIMESTAMP NULL, g TIMESTAMP(6) NULL DEFAULT NULL, h TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, i YEAR, j YEAR(4), k TIMESTAMP(2), l DATETIME(2) DEFAULT NOW(2) ON UPDATE NOW(2))")),
		c("p.strs", s("CREATE TABLE p.strs (id INT NOT NULL, a CHAR, b CHAR(10), c VARCHAR(255), d CHARACTER VARYING(20), e NCHAR(5), f NATIONAL VARCHAR(7), g NVARCHAR(3), h VARCHAR(10) BINARY, i CHAR(4) CHARACTER SET latin1, j VARCHAR(10) CHARSET ascii COLLATE ascii_bin, k VARCHAR(10) COLLATE utf8mb4_unicode_ci, l TEXT, m TINYTEXT, n MEDIUMTEXT, o LONGTEXT, q TEXT(100), r TEXT(63), s2 TEXT(64), t LONG VARCHAR, u LONG, v CHAR(3) BYTE, w VARCHAR(5) CHARACTER SET binary, x TEXT CHARACTER SET binary, y CHAR(2) ASCII, z CHAR(2) UNICODE, aa VARCHAR(3) CHARACTER SET 'utf8', ab NATIONAL CHARACTER(2), ac CHAR(1) BINARY CHARACTER SET latin1, PRIMARY KEY (id))")),
		c("p.bins", s("CREATE TABLE p.bins (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, a BINARY, b BINARY(16), c VARBINARY(100), d TINYBLOB, e BLOB, f MEDIUMBLOB, g LONGBLOB, h BLOB(300), i BLOB(70000), j LONG VARBINARY, k BIT, l BIT(1), m BIT(64) DEFAULT b'1', n VARBINARY(4) DEFAULT x'ab', o BLOB(255), q BLOB(16777216))")),
		c("p.labels", s(`CREATE TABLE p.labels (id INT PRIMARY KEY, a ENUM('x','y','it''s','trail  ') NOT NULL, b SET('a','b','c') DEFAULT 'a,b', c ENUM('é','ü') CHARACTER SET latin1, d SET('back\\slash','dq"', "single'") , e ENUM('A','a ') COLLATE utf8mb4_bin)`)),
		c("p.docs", s("CREATE TABLE p.docs (id INT PRIMARY KEY, j JSON, g GEOMETRY, pt POINT NULL, ls LINESTRING, pg POLYGON, mp MULTIPOINT, ml MULTILINESTRING, mpg MULTIPOLYGON, gc GEOMETRYCOLLECTION, g2 GEOMETRY REF_SYSTEM_ID=4326)")),
		c("pl.t1", s("CREATE TABLE pl.t1 (id INT PRIMARY KEY, a VARCHAR(10), b TEXT, c ENUM('a','b'), d CHAR(2) CHARSET utf8mb4)")),
		c("p.t2", s("CREATE TABLE p.t2 (id INT PRIMARY KEY, a VARCHAR(10), b CHAR(3)) DEFAULT CHARSET=latin1")),
		c("p.t3", s("CREATE TABLE p.t3 (a VARCHAR(10), b TEXT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_bin COMMENT='x' ROW_FORMAT=DYNAMIC")),
		c("p.t4", s("CREATE TABLE p.t4 (a VARCHAR(10)) COLLATE latin2_general_ci")),
		c("p.t5", s("CREATE TABLE p.t5 (a VARCHAR(10) CHARACTER SET utf16, b VARCHAR(4) CHARSET utf32, c CHAR(3) CHARSET cp1251, d TEXT CHARSET ucs2)")),
		c("p.t6", s("CREATE TABLE p.t6 (a VARCHAR(10), b TEXT, c CHAR(2), d ENUM('x') CHARSET latin1) CHARSET=binary")),
		c("pb.t7", s("CREATE TABLE pb.t7 (a VARCHAR(10), b TINYTEXT)")),
		c("p.k1", s("CREATE TABLE p.k1 (a INT NOT NULL, b VARCHAR(10) NOT NULL, c INT, UNIQUE KEY (c), UNIQUE KEY ub (b, a))")),
		c("p.k2", s("CREATE TABLE p.k2 (a INT, b INT, PRIMARY KEY (b, a))")),
		c("p.k3", s("CREATE TABLE p.k3 (a INT, b INT, KEY (a), UNIQUE (b))")),
		c("p.k4", s("CREATE TABLE p.k4 (a INT NOT NULL UNIQUE, b INT NOT NULL, CONSTRAINT pk PRIMARY KEY (b))")),
		c("p.k5", s("CREATE TABLE p.k5 (id INT AUTO_INCREMENT, v INT, KEY(id))")),
		c("p.k6", s("CREATE TABLE p.k6 (id INT AUTO_INCREMENT UNIQUE, v INT)")),
		c("p.k7", s("CREATE TABLE p.k7 (a VARCHAR(20) NOT NULL, b TEXT NOT NULL, UNIQUE (b(10)), UNIQUE KEY (a))")),
		c("p.k8", s("CREATE TABLE p.k8 (a VARCHAR(20) NOT NULL, b INT, UNIQUE (a(5)))", fromMap)),
		c("p.m1", s(`CREATE TABLE p.m1 (id INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'the id', a VARCHAR(10) NOT NULL DEFAULT '' COLLATE utf8mb4_bin,
			b INT CHECK (b > 0 OR b IS NULL), c INT CHECK (c IS NULL OR c < 100), d DECIMAL(5,2) DEFAULT -1.50, e DATETIME DEFAULT NOW(),
			f INT INVISIBLE, g INT NULL DEFAULT NULL, h VARCHAR(36) DEFAULT (uuid()), i INT, j DOUBLE DEFAULT .5, k INT DEFAULT +3,
			PRIMARY KEY (id), KEY idx (a(5)), FULLTEXT KEY ft (a), INDEX USING BTREE (b, c DESC),
			CONSTRAINT fk FOREIGN KEY (i) REFERENCES p.k2 (b) ON DELETE SET NULL ON UPDATE CASCADE, CHECK (d < 100)
		) ENGINE=InnoDB AUTO_INCREMENT=5 /*!40101 DEFAULT CHARSET=utf8mb4 */`)),
		c("p.m2", s("CREATE OR REPLACE TABLE p.m2 (id INT PRIMARY KEY) SELECT 1 AS id")), // logged without the SELECT
		c("p.m3", s("CREATE TABLE p.m3 LIKE p.k2", fromMap)),
		c("p.m4", s("CREATE TABLE p.m4 (id INT PRIMARY KEY, g INT AS (id + 1) VIRTUAL)")),

		c("p.a1",
			s("CREATE TABLE p.a1 (id INT PRIMARY KEY, v VARCHAR(10), n INT)"),
			s("ALTER TABLE p.a1 ADD COLUMN w INT"),
			s("ALTER TABLE p.a1 ADD x VARCHAR(5) FIRST"),
			s("ALTER TABLE p.a1 ADD COLUMN y DATETIME(3) AFTER id"),
			s("ALTER TABLE p.a1 ADD COLUMN (p1 INT, p2 TEXT)"),
			s("ALTER TABLE p.a1 ADD COLUMN IF NOT EXISTS w BIGINT", noEvent),
			s("ALTER TABLE p.a1 MODIFY v VARCHAR(20) NOT NULL"),
			s("ALTER TABLE p.a1 MODIFY COLUMN n BIGINT UNSIGNED AFTER w"),
			s("ALTER TABLE p.a1 CHANGE v vv VARCHAR(30) CHARACTER SET latin1"),
			s("ALTER TABLE p.a1 CHANGE COLUMN vv v2 TEXT FIRST"),
			s("ALTER TABLE p.a1 RENAME COLUMN v2 TO v3"),
			s("ALTER TABLE p.a1 DROP COLUMN p1"),
			s("ALTER TABLE p.a1 DROP p2, ADD p3 ENUM('a','b') NOT NULL AFTER id, MODIFY n INT"),
			s("ALTER TABLE p.a1 ADD x2 INT, ADD x3 INT FIRST"),
			s("ALTER TABLE p.a1 ADD zz INT AFTER v5, CHANGE v3 v5 TEXT"),
			s("ALTER TABLE p.a1 ADD INDEX (n), ENGINE=InnoDB", noEvent),
			s("ALTER TABLE p.a1 MODIFY id BIGINT NOT NULL"),
			s("ALTER TABLE p.a1 DROP COLUMN IF EXISTS nope, ALGORITHM=COPY, LOCK=SHARED, COMMENT 'c'", noEvent),
			s("ALTER TABLE p.a1 ADD COLUMN ts TIMESTAMP(3) NULL, ADD j JSON, ADD e ENUM('x','y') DEFAULT 'y' AFTER x"),
			s("ALTER TABLE p.a1 MODIFY x3 DECIMAL(12,4) UNSIGNED FIRST, MODIFY x2 SMALLINT AFTER x3"),
			s("ALTER TABLE p.a1 DROP x, DROP COLUMN y, ADD x INT"),
			s("ALTER TABLE p.a1 ALTER COLUMN n SET DEFAULT 5, ALTER w DROP DEFAULT", noEvent),
			s("ALTER TABLE p.a1 RENAME INDEX n TO n2", noEvent),
		),
		c("p.a2",
			s("CREATE TABLE p.a2 (a INT NOT NULL, b INT NOT NULL DEFAULT 0, c INT)"),
			s("ALTER TABLE p.a2 ADD PRIMARY KEY (a)"),
			s("ALTER TABLE p.a2 DROP PRIMARY KEY, ADD PRIMARY KEY (b, a)"),
			s("ALTER TABLE p.a2 ADD COLUMN d INT NOT NULL DEFAULT 5 UNIQUE"),
			s("ALTER TABLE p.a2 ADD UNIQUE (c)", noEvent),
			s("ALTER TABLE p.a2 ADD CONSTRAINT u2 UNIQUE KEY u2 (c, d)", noEvent),
			s("ALTER TABLE p.a2 DROP PRIMARY KEY", fromMap),
			s("ALTER TABLE p.a2 ADD e INT NOT NULL DEFAULT 1 PRIMARY KEY FIRST"),
		),
		c("p.a3",
			s("CREATE TABLE p.a3 (a INT, b INT)"),
			s("ALTER TABLE p.a3 ADD COLUMN c INT"),
			s("ALTER TABLE p.a3 ADD UNIQUE (a)", noEvent),
			s("ALTER TABLE p.a3 MODIFY a INT NOT NULL", fromMap),
			s("ALTER TABLE p.a3 ADD id INT NOT NULL AUTO_INCREMENT PRIMARY KEY FIRST"),
		),
		c("p.a4",
			s("CREATE TABLE p.a4 (id INT PRIMARY KEY, v VARCHAR(10))"),
			s("ALTER TABLE p.a4 CONVERT TO CHARACTER SET latin1", fromMap),
			s("ALTER TABLE p.a4 ADD g INT AS (id + 1) VIRTUAL"),
			s("ALTER TABLE p.a4 DROP COLUMN g"),
			s("ALTER TABLE p.a4 ADD INDEX iv (v)", noEvent),
			s("ALTER TABLE p.a4 DROP INDEX iv", noEvent), // incomplete, and the TableMap is unchanged
			s("ALTER TABLE p.a4 ADD w TEXT"),
		),
		{table: "p.a5", steps: []ddlStep{
			s("CREATE TABLE p.a5 (id INT PRIMARY KEY, v VARCHAR(10))"),
			{sql: "ALTER TABLE p.a5 RENAME COLUMN v TO w, RENAME TO p.a5b", want: fromDDL, table: "p.a5b"},
			s("ALTER TABLE p.a5b MODIFY w VARCHAR(12) CHARACTER SET latin1 COLLATE latin1_general_cs NOT NULL DEFAULT 'x'"),
		}},
		c("p.a7",
			s("CREATE TABLE p.a7 (id INT PRIMARY KEY)"),
			s("ALTER TABLE p.a7 CHARSET=latin1, ADD c1 VARCHAR(10)"),
			s("ALTER TABLE p.a7 ADD c2 CHAR(4), ADD c3 TEXT CHARSET utf8mb4"),
		),
		// The next statement changes the table's default charset before the
		// source reads the ALTER: the default the CREATE gave (learnt from
		// the binlog) is used, not the live one, so the DDL's version is
		// right and no TableMap correction follows.
		c("pl.a6",
			s("CREATE TABLE pl.a6 (id INT PRIMARY KEY, v VARCHAR(10)) CHARSET utf8mb4"),
			s("ALTER TABLE pl.a6 ADD w VARCHAR(10), ADD t TINYTEXT", fromDDL),
			s("ALTER TABLE pl.a6 DEFAULT CHARACTER SET = latin1 COLLATE = latin1_bin, MODIFY v VARCHAR(10)"),
		),
	}
	start := currentPosition(t, ctx, m)
	for _, tc := range cases {
		table := tc.table
		script := []string{"SET SESSION sql_mode=''"}
		for _, st := range tc.steps {
			script = append(script, st.sql)
			if st.table != "" {
				table = st.table
			}
			// A row event after each statement: its TableMap is the
			// structure the statement left.
			script = append(script, "DELETE FROM "+table, "INSERT INTO "+table+" () VALUES ()")
		}
		m.Exec(t, strings.Join(script, ";\n"))
	}
	src := openSource(t, ctx, m, 700, start)
	l := newLake(t, ctx)
	ingestToCaughtUp(t, ctx, l, src)

	st, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Each table's changes, in log order.
	type change struct {
		ddl    string
		schema *tableformat.Schema
	}
	changes := map[int64][]change{}
	for v := int64(2); v <= st.Version; v++ {
		e, err := l.Entry(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range e.Tables {
			if tc.Op == tableformat.TableCreate || tc.Op == tableformat.TableAlter {
				changes[tc.TableID] = append(changes[tc.TableID], change{tc.DDL, tc.Schema})
			}
		}
	}
	show := func(sc *tableformat.Schema) string {
		b, _ := json.Marshal(sc)
		return string(b)
	}
	for _, tc := range cases {
		name := tc.table
		for _, st := range tc.steps {
			if st.table != "" {
				name = st.table
			}
		}
		db, tn, _ := strings.Cut(name, ".")
		ts, ok := st.TableByName(db, tn, st.Progress.MaxSeq)
		if !ok {
			t.Errorf("%s: not in the lake", name)
			continue
		}
		got := changes[ts.ID]
		var want []string
		for _, step := range tc.steps {
			if step.want != noEvent {
				want = append(want, strings.Split(step.want, ",")...)
			}
		}
		var gotS []string
		for _, c := range got {
			if c.ddl != "" {
				gotS = append(gotS, fromDDL)
			} else {
				gotS = append(gotS, fromMap)
			}
		}
		if !slices.Equal(gotS, want) {
			var b strings.Builder
			for _, c := range got {
				fmt.Fprintf(&b, "\n  %q\n    %s", c.ddl, show(c.schema))
			}
			var sqls []string
			for _, step := range tc.steps {
				sqls = append(sqls, step.sql)
			}
			t.Errorf("%s: schema versions\n got %q\nwant %q\nstatements:\n  %s\nversions:%s", name, gotS, want, strings.Join(sqls, "\n  "), b.String())
		}
		// The lake's latest schema is the live table's.
		cols, key, err := infoSchemaColumnsOf(t, m, db, tn)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		sc := ts.Schema()
		var lake, live []string
		for _, c := range sc.Columns {
			lake = append(lake, fmt.Sprintf("%s %s null=%v", c.Name, c.Type.SQL, c.Nullable))
		}
		for _, c := range cols {
			live = append(live, fmt.Sprintf("%s %s null=%v", c.Name, c.Type.SQL, c.Nullable))
		}
		var lakeKey, liveKey []string
		for _, id := range sc.Key {
			for _, c := range sc.Columns {
				if c.ID == id {
					lakeKey = append(lakeKey, c.Name)
				}
			}
		}
		for _, k := range key {
			liveKey = append(liveKey, cols[k].Name)
		}
		if !slices.Equal(lake, live) || !slices.Equal(lakeKey, liveKey) {
			t.Errorf("%s: lake schema\n %q key %q\nlive\n %q key %q", name, lake, lakeKey, live, liveKey)
		}
	}
}

// infoSchemaColumnsOf reads a table's columns from information_schema as
// the snapshot does.
func infoSchemaColumnsOf(t *testing.T, m *testenv.MariaDB, db, table string) ([]TableColumn, []int, error) {
	t.Helper()
	ctx := testContext(t)
	conn, err := dial(ctx, sourceConfig(m, 0), "test")
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	return InfoSchemaColumns(conn, db, table)
}

// TestDDLWithoutRows: DDL that no row change follows still reaches the lake
// at its own transaction — an ALTER's schema version, a CREATE's empty
// table, DROP DATABASE's drops — when ingest stops once caught up.
func TestDDLWithoutRows(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE w", "CREATE DATABASE gone",
		"CREATE TABLE w.t (id INT PRIMARY KEY, v VARCHAR(10))", "CREATE TABLE gone.a (id INT PRIMARY KEY)", "CREATE TABLE gone.b (v INT)")
	start := currentPosition(t, ctx, m)
	gtid := func() string { return strings.TrimSpace(m.Query(t, "SELECT @@gtid_binlog_pos")) }
	m.Exec(t, "INSERT INTO w.t VALUES (1, 'a')", "INSERT INTO gone.a VALUES (1)", "INSERT INTO gone.b VALUES (1)")
	beforeAlter := gtid()
	m.Exec(t, "ALTER TABLE w.t ADD COLUMN n BIGINT UNSIGNED NOT NULL DEFAULT 7 AFTER id, MODIFY v VARCHAR(20) CHARACTER SET latin1")
	alter := gtid()
	m.Exec(t, "CREATE TABLE w.empty (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, at DATETIME(6)) DEFAULT CHARSET=utf8mb4")
	create := gtid()
	m.Exec(t, "DROP DATABASE gone")
	drop := gtid()

	src := openSource(t, ctx, m, 800, start)
	l := newLake(t, ctx)
	ingestToCaughtUp(t, ctx, l, src)

	p, err := l.AtLatest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lakeTableNames(t, ctx, l), []string{"w.empty", "w.t"}; !slices.Equal(got, want) {
		t.Errorf("lake tables %v, want %v", got, want)
	}
	names := func(sc *tableformat.Schema) string {
		var out []string
		for _, c := range sc.Columns {
			out = append(out, c.Name+" "+c.Type.SQL)
		}
		return strings.Join(out, ", ")
	}
	ts, ok := p.State.TableByName("w", "t", p.Seq)
	if !ok {
		t.Fatal("no w.t")
	}
	if got, want := names(ts.Schema()), "id int, n bigint unsigned, v varchar(20)"; got != want || ts.Schema().Version != 2 || ts.Schema().Columns[2].Type.Charset != "latin1" {
		t.Errorf("w.t latest schema v%d %q (%+v), want v2 %q", ts.Schema().Version, got, ts.Schema().Columns, want)
	}
	// The version takes effect inside the ALTER's transaction: as of the
	// GTID before it the table has version 1, as of the ALTER's version 2.
	at := func(g string) (*tableformat.TableState, int64) {
		t.Helper()
		pp, err := l.AtGTID(ctx, g)
		if err != nil {
			t.Fatalf("as of %s: %v", g, err)
		}
		ts, ok := pp.State.TableByName("w", "t", pp.Seq)
		if !ok {
			t.Fatalf("as of %s: no w.t", g)
		}
		return ts, pp.Seq
	}
	if ts, seq := at(beforeAlter); ts.SchemaAt(seq).Version != 1 {
		t.Errorf("as of %s (before the ALTER): schema v%d, want v1", beforeAlter, ts.SchemaAt(seq).Version)
	}
	if ts, seq := at(alter); ts.SchemaAt(seq).Version != 2 {
		t.Errorf("as of %s (the ALTER): schema v%d, want v2", alter, ts.SchemaAt(seq).Version)
	}
	// The change carries the statement.
	found := false
	for v := int64(2); v <= p.State.Version; v++ {
		e, err := l.Entry(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range e.Tables {
			if c.Op == tableformat.TableAlter && c.TableID == ts.ID {
				found = strings.HasPrefix(c.DDL, "ALTER TABLE w.t ADD COLUMN n")
			}
		}
	}
	if !found {
		t.Errorf("no alter change of w.t carrying its DDL")
	}
	cols, rows := lakeTable(t, ctx, l, "w", "t")
	if len(rows) != 1 || len(cols) != 3 {
		t.Errorf("w.t: %d columns, rows %v", len(cols), rows)
	}

	// The CREATE: an empty table with its structure, from its transaction.
	cols, rows = lakeTable(t, ctx, l, "w", "empty")
	if len(rows) != 0 || len(cols) != 3 || cols[0].Type.SQL != "bigint unsigned" || cols[1].Nullable || !cols[2].Nullable || cols[2].Type.FSP != 6 {
		t.Errorf("w.empty: columns %+v rows %v", cols, rows)
	}
	pc, err := l.AtGTID(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pc.State.TableByName("w", "empty", pc.Seq); !ok {
		t.Errorf("as of the CREATE's GTID %s: no w.empty", create)
	}
	if pa, err := l.AtGTID(ctx, alter); err != nil {
		t.Fatal(err)
	} else if _, ok := pa.State.TableByName("w", "empty", pa.Seq); ok {
		t.Errorf("as of the GTID before the CREATE: w.empty exists")
	}
	// DROP DATABASE: its tables are gone from its transaction on, and
	// readable before it.
	pd, err := l.AtGTID(ctx, drop)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if _, ok := pd.State.TableByName("gone", n, pd.Seq); ok {
			t.Errorf("gone.%s exists after DROP DATABASE", n)
		}
		if _, ok := pc.State.TableByName("gone", n, pc.Seq); !ok {
			t.Errorf("gone.%s missing before DROP DATABASE", n)
		}
	}
}
