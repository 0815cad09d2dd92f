package mysql

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/binlake/binlake/ingest"
)

// fakeDefaults answers DDLDefaults from maps; a missing entry is an error.
type fakeDefaults struct {
	tables    map[string]uint64
	databases map[string]uint64
	explicit  *bool
	calls     int
}

func (f *fakeDefaults) TableCollation(db, table string) (uint64, error) {
	f.calls++
	if id, ok := f.tables[db+"."+table]; ok {
		return id, nil
	}
	return 0, errors.New("no such table")
}

func (f *fakeDefaults) DatabaseCollation(db string) (uint64, error) {
	f.calls++
	if id, ok := f.databases[db]; ok {
		return id, nil
	}
	return 0, errors.New("no such database")
}

func (f *fakeDefaults) ExplicitDefaultsForTimestamp() (bool, error) {
	f.calls++
	if f.explicit == nil {
		return false, errors.New("unknown")
	}
	return *f.explicit, nil
}

func showColumn(c ingest.SourceColumn) string {
	s := c.Name + " " + c.Type.SQL
	if c.Type.Charset != "" {
		s += "/" + c.Type.Charset
	}
	if !c.Nullable {
		s += "!"
	}
	return s
}

// showDDL renders the structure a DDL carries: "create: cols key(…)",
// "alter: op; op" or "incomplete".
func showDDL(d *ingest.DDL) string {
	switch {
	case d.Op == ingest.DDLCreate && d.Table != nil:
		var cols []string
		for _, c := range d.Table.Columns {
			cols = append(cols, showColumn(c))
		}
		return "create: " + strings.Join(cols, ", ") + " key(" + strings.Join(d.Table.Key, ",") + ")"
	case d.Op == ingest.DDLAlter && d.Complete:
		var ops []string
		for _, op := range d.Alter {
			pos := func(first bool, after string) string {
				switch {
				case first:
					return " first"
				case after != "":
					return " after " + after
				}
				return ""
			}
			switch o := op.(type) {
			case *ingest.AddColumn:
				s := "add " + showColumn(o.Column) + pos(o.First, o.After)
				if o.IfNotExists {
					s += " ifne"
				}
				ops = append(ops, s)
			case *ingest.DropColumn:
				ops = append(ops, "drop "+o.Name)
			case *ingest.ModifyColumn:
				ops = append(ops, "modify "+o.Name+" "+showColumn(o.Column)+pos(o.First, o.After))
			case *ingest.RenameColumn:
				ops = append(ops, "rename "+o.From+" "+o.To)
			case *ingest.SetKey:
				ops = append(ops, "key("+strings.Join(o.Columns, ",")+")")
			case *ingest.AddUnique:
				ops = append(ops, "unique("+strings.Join(o.Columns, ",")+")")
			}
		}
		return "alter: " + strings.Join(ops, "; ")
	}
	return "incomplete"
}

func TestParseDDLStructure(t *testing.T) {
	explicitOff := false
	defaults := &fakeDefaults{
		tables:    map[string]uint64{"d.t": 45, "d.l1": 8, "d.bin": 63},
		databases: map[string]uint64{"d": 224, "l": 8},
		explicit:  &explicitOff,
	}
	tests := []struct{ sql, want string }{
		// CREATE: types, aliases and attributes.
		{"CREATE TABLE t (id INT PRIMARY KEY, a TINYINT(1) UNSIGNED, b BOOL, c SERIAL, d INTEGER ZEROFILL, e MIDDLEINT SIGNED)",
			"create: id int!, a tinyint unsigned, b tinyint, c bigint unsigned!, d int unsigned, e mediumint key(id)"},
		{"CREATE TABLE t (a DECIMAL, b DEC(5), c NUMERIC(12,3) UNSIGNED, d FIXED(65,30), e DECIMAL(39,0))",
			"create: a decimal(10,0), b decimal(5,0), c decimal(12,3) unsigned, d decimal(65,30), e decimal(39,0) key()"},
		{"CREATE TABLE t (a FLOAT, b FLOAT(24), c FLOAT(25), d FLOAT(7,2), e REAL, f DOUBLE PRECISION, g FLOAT4, h FLOAT8)",
			"create: a float, b float, c double, d float, e double, f double, g float, h double key()"},
		{"CREATE TABLE t (a DATE, b TIME(3), c DATETIME, d DATETIME(6) NOT NULL, e TIMESTAMP NULL, f TIMESTAMP(2), g YEAR(4), h BIT, i BIT(12))",
			"create: a date, b time(3), c datetime, d datetime(6)!, e timestamp, f timestamp(2)!, g year(4), h bit(1), i bit(12) key()"},
		{"CREATE TABLE t (a CHAR, b CHAR(10) BINARY, c VARCHAR(5) CHARACTER SET latin1, d NATIONAL CHAR(2), e NVARCHAR(3), f CHAR VARYING(4), g VARCHAR(3) COLLATE ascii_bin, h CHAR(2) ASCII, i CHAR(1) UNICODE, j VARCHAR(2) CHARSET 'utf8')",
			"create: a char(1)/utf8mb4, b char(10)/utf8mb4, c varchar(5)/latin1, d char(2)/utf8mb3, e varchar(3)/utf8mb3, f varchar(4)/utf8mb4, g varchar(3)/ascii, h char(2)/latin1, i char(1)/ucs2, j varchar(2)/utf8mb3 key()"},
		{"CREATE TABLE t (a BINARY, b VARBINARY(8), c CHAR(3) BYTE, d VARCHAR(4) CHARACTER SET binary, e TEXT CHARSET binary, f BLOB(10), g TEXT(64), h TEXT(63), i LONG, j LONG VARBINARY, k JSON, l POINT)",
			"create: a binary(1), b varbinary(8), c binary(3), d varbinary(4), e blob, f tinyblob, g text/utf8mb4, h tinytext/utf8mb4, i mediumtext/utf8mb4, j mediumblob, k longtext/utf8mb4, l geometry key()"},
		{`CREATE TABLE t (a ENUM('x', 'it''s', 'sp  ', "dq") NOT NULL DEFAULT 'x', b SET('a\\b','c') CHARACTER SET latin1)`,
			`create: a enum('x','it''s','sp','dq')/utf8mb4!, b set('a\b','c')/latin1 key()`},
		{"CREATE TABLE t (a VARCHAR(10)) DEFAULT CHARSET=latin1", "create: a varchar(10)/latin1 key()"},
		{"CREATE TABLE t (a TEXT) ENGINE=InnoDB COLLATE=utf8mb3_bin, COMMENT 'x'", "create: a text/utf8mb3 key()"},
		{"CREATE TABLE l.t (a VARCHAR(10))", "create: a varchar(10)/latin1 key()"},
		{"CREATE TABLE t (a VARCHAR(10)) CHARSET=binary", "create: a varbinary(10) key()"},
		{"CREATE TABLE t (id INT AUTO_INCREMENT, KEY (id))", "create: id int! key()"},
		// Keys: primary, inline KEY, promoted unique.
		{"CREATE TABLE t (a INT, b INT, PRIMARY KEY (b, a))", "create: a int!, b int! key(b,a)"},
		{"CREATE TABLE t (a INT KEY)", "create: a int! key(a)"},
		{"CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, c INT, UNIQUE (c), UNIQUE KEY u (B, a))", "create: a int!, b int!, c int key(b,a)"},
		{"CREATE TABLE t (a INT, UNIQUE (a))", "create: a int key()"},
		{"CREATE TABLE t (a VARCHAR(10) NOT NULL, b TEXT NOT NULL, UNIQUE (b(5)), UNIQUE (a))", "create: a varchar(10)/utf8mb4!, b text/utf8mb4! key(a)"},
		{"CREATE TABLE t (a INT NOT NULL UNIQUE, CONSTRAINT p PRIMARY KEY USING BTREE (a) COMMENT 'k')", "create: a int! key(a)"},
		{"CREATE TABLE t (a INT, b INT, INDEX i USING HASH (a), FULLTEXT KEY (b), CONSTRAINT f FOREIGN KEY (a) REFERENCES x.y (z) ON DELETE SET NULL, CHECK (a > 0))",
			"create: a int, b int key()"},
		{"CREATE TABLE t (a INT DEFAULT -1 COMMENT 'c' INVISIBLE, b DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), c INT CHECK (c > 0) REFERENCES y (z), d DOUBLE DEFAULT 1.5, e VARCHAR(36) DEFAULT (uuid()), f BIT(2) DEFAULT b'01', g INT DEFAULT NEXT VALUE FOR s)",
			"create: a int, b datetime(6), c int, d double, e varchar(36)/utf8mb4, f bit(2), g int key()"},
		{"/* a comment */ CREATE TABLE `d`.`t` (`id` int(11) NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB /*!40101 DEFAULT CHARSET=latin1 */",
			"create: id int! key(id)"},
		{"CREATE TABLE t (a INT, b INT AS (a + 1))", "create: a int, b int key()"},
		{"CREATE TABLE t (a INT, b INT GENERATED ALWAYS AS (a + 1) STORED)", "create: a int, b int key()"},
		{"CREATE TABLE t (id UUID PRIMARY KEY, a INET4 NOT NULL, b inet6 DEFAULT '::1', c Uuid)", "create: id uuid!, a inet4!, b inet6, c uuid key(id)"},
		{"CREATE TABLE t (a INET6 NOT NULL, UNIQUE (a))", "create: a inet6! key(a)"},
		// CREATE: incomplete.
		{"CREATE TABLE t LIKE s", "incomplete"},
		{"CREATE TABLE t (LIKE s)", "incomplete"},
		{"CREATE TABLE t (id INT) SELECT 1 AS id", "incomplete"},
		{"CREATE TABLE t (id INT) AS SELECT 1 AS id", "incomplete"},
		{"CREATE TABLE t SELECT 1 AS id", "incomplete"},
		{"CREATE TABLE IF NOT EXISTS t (id INT)", "incomplete"},
		{"CREATE TABLE t (a INT) WITH SYSTEM VERSIONING", "incomplete"},
		{"CREATE TABLE t (a INT, s TIMESTAMP(6), e TIMESTAMP(6), PERIOD FOR p (s, e))", "incomplete"},
		{"CREATE TABLE t (a INT) PARTITION BY HASH (a) PARTITIONS 2", "incomplete"},
		{"CREATE TABLE t (a VECTOR(3))", "incomplete"},
		{"CREATE TABLE t (a VARCHAR)", "incomplete"},
		{"CREATE TABLE t (a CHAR(256))", "incomplete"},
		{"CREATE TABLE t (a VARCHAR(20000))", "incomplete"}, // utf8mb4: past 65532 bytes, MEDIUMTEXT outside strict mode
		{"CREATE TABLE t (a TEXT COMPRESSED)", "incomplete"},
		{"CREATE TABLE t (a VARCHAR(10) NOT NULL, UNIQUE (a(3)))", "incomplete"}, // the server decides
		{"CREATE TABLE t (a TEXT NOT NULL, UNIQUE (a))", "incomplete"},           // a hash of a long key
		{"CREATE TABLE t (a INT, PRIMARY KEY (a), PRIMARY KEY (a))", "incomplete"},
		{"CREATE TABLE t (a INT, A INT)", "incomplete"},
		{"CREATE TABLE t (a INT) UNKNOWN_OPTION=1", "incomplete"},
		{"CREATE TABLE t (a INT NULL PRIMARY KEY)", "incomplete"},
		{"CREATE TABLE t (a VARCHAR(10) CHARACTER SET latin1 COLLATE utf8mb4_bin)", "incomplete"},
		{"CREATE TABLE nodb.t (a VARCHAR(10))", "incomplete"}, // no default to look up
		{"CREATE TABLE nodb.t (a VARCHAR(10) CHARSET utf8mb4, b INT)", "create: a varchar(10)/utf8mb4, b int key()"},

		// ALTER: operations.
		{"ALTER TABLE t ADD COLUMN c INT", "alter: add c int"},
		{"ALTER TABLE t ADD c VARCHAR(5) NOT NULL FIRST, ADD COLUMN IF NOT EXISTS e TEXT AFTER c", "alter: add c varchar(5)/utf8mb4! first; add e text/utf8mb4 after c ifne"},
		{"ALTER TABLE t ADD (a INT, b CHAR(2) CHARSET latin1)", "alter: add a int; add b char(2)/latin1"},
		{"ALTER TABLE t DROP COLUMN a, DROP b, DROP COLUMN IF EXISTS c CASCADE", "alter: drop a; drop b; drop c"},
		{"ALTER TABLE t MODIFY a BIGINT UNSIGNED NOT NULL AFTER b", "alter: modify a a bigint unsigned! after b"},
		{"ALTER TABLE t MODIFY COLUMN IF EXISTS a TEXT", "alter: modify a a text/utf8mb4"},
		{"ALTER TABLE t CHANGE a b VARCHAR(3) FIRST, CHANGE COLUMN c c INT", "alter: modify a b varchar(3)/utf8mb4 first; modify c c int"},
		{"ALTER TABLE t RENAME COLUMN a TO b", "alter: rename a b"},
		{"ALTER TABLE t ADD PRIMARY KEY (a, b)", "alter: key(a,b)"},
		{"ALTER TABLE t DROP PRIMARY KEY, ADD CONSTRAINT PRIMARY KEY (b)", "alter: key(b)"},
		{"ALTER TABLE t ADD UNIQUE KEY u (a), ADD CONSTRAINT c UNIQUE (b, c)", "alter: unique(a); unique(b,c)"},
		{"ALTER TABLE t ADD id INT AUTO_INCREMENT PRIMARY KEY FIRST", "alter: add id int! first; key(id)"},
		{"ALTER TABLE t ADD INDEX (a), ADD FULLTEXT (b), ADD FOREIGN KEY f (a) REFERENCES u (x), ADD CONSTRAINT ch CHECK (a > 1), ENGINE = InnoDB, ROW_FORMAT=COMPRESSED",
			"alter: "},
		{"ALTER TABLE t ALTER COLUMN a SET DEFAULT 1, ALTER b DROP DEFAULT, RENAME INDEX i TO j, DROP FOREIGN KEY f, ALGORITHM=INPLACE, LOCK=NONE, FORCE",
			"alter: "},
		{"ALTER TABLE t CHARACTER SET latin1, ADD a VARCHAR(2)", "alter: add a varchar(2)/latin1"},
		{"ALTER TABLE t DEFAULT COLLATE = utf8mb3_bin, MODIFY a TEXT", "alter: modify a a text/utf8mb3"},
		{"ALTER TABLE l1 ADD a CHAR(2)", "alter: add a char(2)/latin1"},
		{"ALTER TABLE bin ADD a CHAR(2)", "alter: add a binary(2)"},
		{"ALTER TABLE t ADD ts TIMESTAMP", "alter: add ts timestamp!"},
		{"ALTER TABLE t ADD j JSON", "alter: add j longtext/utf8mb4"},
		{"ALTER TABLE t RENAME TO u", "alter: "},
		{"ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (30))", "alter: "},
		{"ALTER TABLE t ADD g INT AS (a + 1) VIRTUAL", "alter: add g int"},
		// ALTER: incomplete.
		{"ALTER TABLE t CONVERT TO CHARACTER SET latin1", "incomplete"},
		{"ALTER TABLE t DROP INDEX i", "incomplete"},
		{"ALTER TABLE t DROP KEY i", "incomplete"},
		{"ALTER TABLE t DROP CONSTRAINT c", "incomplete"},
		{"ALTER TABLE t DROP PRIMARY KEY", "incomplete"},
		{"ALTER TABLE t ADD SYSTEM VERSIONING", "incomplete"},
		{"ALTER TABLE t ALTER INDEX i IGNORED", "incomplete"},
		{"ALTER TABLE t ADD c VARCHAR(10)", "alter: add c varchar(10)/utf8mb4"},
		{"ALTER TABLE gone ADD c VARCHAR(10)", "incomplete"}, // no table default to look up
		{"ALTER TABLE gone ADD c INT", "alter: add c int"},
		{"ALTER TABLE t FROBNICATE", "incomplete"},
		{"ALTER TABLE t ADD c INT BOGUS", "incomplete"},
		{"ALTER TABLE t ORDER BY a, b", "incomplete"},
	}
	for _, tc := range tests {
		ds := ParseDDLWith("d", tc.sql, DDLEnv{Defaults: defaults})
		var got []string
		for _, d := range ds {
			if d.Op == ingest.DDLCreate || d.Op == ingest.DDLAlter {
				got = append(got, showDDL(d))
			}
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s\n got %q\nwant %q", tc.sql, got, tc.want)
		}
	}
}

// TestParseDDLTableCharset: a CREATE says the table's default charset, an
// ALTER the one it sets (complete or not), or that it set one not read.
func TestParseDDLTableCharset(t *testing.T) {
	defaults := &fakeDefaults{tables: map[string]uint64{"d.t": 45}, databases: map[string]uint64{"d": 224}}
	tests := []struct{ sql, want string }{
		{"CREATE TABLE t (a INT) DEFAULT CHARSET=latin1", "latin1"},
		{"CREATE TABLE t (a INT) COLLATE cp1251_bin", "cp1251"},
		{"CREATE TABLE t (a INT)", "utf8mb4"}, // the database's
		{"CREATE TABLE x.t (a INT)", ""},      // unknown database
		{"ALTER TABLE t ADD c INT", ""},
		{"ALTER TABLE t DEFAULT CHARACTER SET = cp1251", "cp1251"},
		{"ALTER TABLE t ADD c INT, CHARSET latin1 COLLATE latin1_bin", "latin1"},
		{"ALTER TABLE t CONVERT TO CHARACTER SET latin1", "latin1"},
		{"ALTER TABLE t CONVERT TO CHARACTER SET DEFAULT", "?"},
	}
	for _, tc := range tests {
		ds := ParseDDLWith("d", tc.sql, DDLEnv{Defaults: defaults})
		if len(ds) != 1 {
			t.Fatalf("%s: %d DDLs", tc.sql, len(ds))
		}
		var got string
		switch d := ds[0]; {
		case d.Table != nil:
			got = d.Table.Charset
		case d.CharsetUnknown:
			got = "?"
		default:
			got = d.Charset
		}
		if got != tc.want {
			t.Errorf("%s: charset %q, want %q", tc.sql, got, tc.want)
		}
	}
}

func TestParseDDLSession(t *testing.T) {
	const create = "CREATE TABLE t (a INT)"
	complete := func(env DDLEnv, sql string) bool {
		for _, d := range ParseDDLWith("d", sql, env) {
			if d.Op == ingest.DDLCreate {
				return d.Table != nil
			}
			if d.Op == ingest.DDLAlter {
				return d.Complete
			}
		}
		return false
	}
	for _, tc := range []struct {
		env  DDLEnv
		sql  string
		want bool
	}{
		{DDLEnv{}, create, true},
		{DDLEnv{SQLMode: 1<<1 /* PIPES_AS_CONCAT */ | 1<<21}, create, true},
		{DDLEnv{SQLMode: modeRealAsFloat}, create, false},
		{DDLEnv{SQLMode: modeANSIQuotes}, create, false},
		{DDLEnv{SQLMode: modeOracle}, "ALTER TABLE t ADD a INT", false},
		{DDLEnv{SQLMode: modeNoBackslashEscapes}, create, true},
		{DDLEnv{SQLMode: modeNoBackslashEscapes}, `CREATE TABLE t (a ENUM('\'))`, false},
		{DDLEnv{SessionUnknown: true}, create, false},
		{DDLEnv{ClientCollation: 8 /* latin1 */}, create, true},
		{DDLEnv{ClientCollation: 8}, "CREATE TABLE t (`é` INT)", false},
		{DDLEnv{ClientCollation: 45 /* utf8mb4 */}, "CREATE TABLE t (`é` INT)", true},
	} {
		if got := complete(tc.env, tc.sql); got != tc.want {
			t.Errorf("%+v %s: complete %v, want %v", tc.env, tc.sql, got, tc.want)
		}
	}
}

func TestParseDDLDropDatabase(t *testing.T) {
	for _, sql := range []string{"DROP DATABASE x", "drop schema if exists `x`", "DROP DATABASE IF EXISTS x"} {
		ds := ParseDDL("d", sql)
		if len(ds) != 1 || ds[0].Op != ingest.DDLDropDatabase || ds[0].DB != "x" || ds[0].Name != "" {
			t.Errorf("%s: %+v", sql, ds)
		}
	}
}

func TestQueryEnv(t *testing.T) {
	// flags2, sql_mode, catalog "std", charset (client 8), then an unknown code.
	vars := []byte{0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 6, 3, 's', 't', 'd', 4, 8, 0, 8, 0, 45, 0, 200, 1}
	env := queryEnv(vars)
	if env.SessionUnknown || env.SQLMode != modeANSIQuotes || env.ClientCollation != 8 {
		t.Errorf("queryEnv = %+v", env)
	}
	if env := queryEnv([]byte{200, 0}); !env.SessionUnknown {
		t.Errorf("unknown first code: %+v, want SessionUnknown", env)
	}
	if env := queryEnv(nil); !env.SessionUnknown {
		t.Errorf("no variables: %+v, want SessionUnknown", env)
	}
}

// TestParseDDLFill: what an added column gives the rows a table holds, and
// which statements ask for a re-snapshot (and why), against the server's
// rules for defaults (checked against MariaDB by e2e/ddl_fidelity_test.go).
func TestParseDDLFill(t *testing.T) {
	explicitOn := true
	defaults := &fakeDefaults{tables: map[string]uint64{"d.t": 45, "d.l": 8}, databases: map[string]uint64{"d": 224}, explicit: &explicitOn}
	tests := []struct{ sql, want string }{
		{"ALTER TABLE t ADD c INT", "fill <nil>"},
		{"ALTER TABLE t ADD c INT NOT NULL", "fill int64(0)"},
		{"ALTER TABLE t ADD c INT UNSIGNED NOT NULL DEFAULT 7", "fill uint64(7)"},
		{"ALTER TABLE t ADD c INT DEFAULT -3", "fill int64(-3)"},
		{"ALTER TABLE t ADD c INT DEFAULT '12'", "fill int64(12)"},
		{"ALTER TABLE t ADD c INT DEFAULT TRUE", "fill int64(1)"},
		{"ALTER TABLE t ADD c INT DEFAULT 0x10", "fill int64(16)"},
		{"ALTER TABLE t ADD c INT DEFAULT NULL", "fill <nil>"},
		{"ALTER TABLE t ADD c INT DEFAULT 1.5", "resnapshot: column c added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD c DECIMAL(5,2) NOT NULL", `fill "0.00"`},
		{"ALTER TABLE t ADD c DECIMAL(5,2) DEFAULT -1.5", `fill "-1.50"`},
		{"ALTER TABLE t ADD c DECIMAL(5,2) DEFAULT 1.555", "resnapshot: column c added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD c DOUBLE DEFAULT .5", "fill 0.5"},
		{"ALTER TABLE t ADD c FLOAT DEFAULT 0.1", "fill float32(0.1)"},
		{"ALTER TABLE t ADD c FLOAT(7,2) DEFAULT 0.1", "resnapshot: column c added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD c BIT(4) NOT NULL DEFAULT b'101'", "fill uint64(5)"},
		{"ALTER TABLE t ADD c YEAR NOT NULL", "fill int64(0)"},
		{"ALTER TABLE t ADD c YEAR DEFAULT 2024", "fill int64(2024)"},
		{"ALTER TABLE t ADD c YEAR DEFAULT 24", "resnapshot: column c added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD c DATE NOT NULL", "fill <nil>"}, // the zero date
		{"ALTER TABLE t ADD c DATE DEFAULT '2020-02-29'", "fill int32(18321)"},
		{"ALTER TABLE t ADD c DATETIME(3) DEFAULT '2020-01-01 10:00:00.25'", "fill int64(1577872800250000)"},
		{"ALTER TABLE t ADD c DATETIME DEFAULT '2020-01-01 10:00:00.5'", "resnapshot: column c added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD c DATETIME DEFAULT CURRENT_TIMESTAMP", "resnapshot: column c added: an expression default: the server evaluates it"},
		{"ALTER TABLE t ADD c DATETIME DEFAULT NOW()", "resnapshot: column c added: an expression default: the server evaluates it"},
		{"ALTER TABLE t ADD c TIMESTAMP NOT NULL", "fill <nil>"},
		{"ALTER TABLE t ADD c TIMESTAMP DEFAULT '2020-01-01 00:00:00'", "resnapshot: column c added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD c TIME(1) NOT NULL DEFAULT '-838:59:59.0'", "fill int64(-3020399000000)"},
		{"ALTER TABLE t ADD note VARCHAR(20) DEFAULT 'none'", `fill "none"`},
		{"ALTER TABLE t ADD note VARCHAR(20) NOT NULL", `fill ""`},
		{"ALTER TABLE t ADD note VARCHAR(20) DEFAULT 'it''s' ' here'", `fill "it's here"`},
		{"ALTER TABLE t ADD note CHAR(5) DEFAULT 'ab  '", `fill "ab"`},
		{"ALTER TABLE t ADD note VARCHAR(20) DEFAULT 'héllo'", `fill "héllo"`},
		{"ALTER TABLE l ADD note VARCHAR(20) DEFAULT 'héllo'", "resnapshot: column note added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD note VARCHAR(20) DEFAULT 42", `fill "42"`},
		{"ALTER TABLE t ADD code VARCHAR(30) NOT NULL DEFAULT (CONCAT('c-', 42))", "resnapshot: column code added: an expression default: the server evaluates it"},
		{"ALTER TABLE t ADD e ENUM('x','y') NOT NULL", `fill "x"`},
		{"ALTER TABLE t ADD e ENUM('x','y') DEFAULT 'y'", `fill "y"`},
		{"ALTER TABLE t ADD e ENUM('x','y') DEFAULT 'Y'", "resnapshot: column e added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD s SET('a','b','c') DEFAULT 'c,a'", `fill "a,c"`},
		{"ALTER TABLE t ADD b BINARY(3) NOT NULL", `fill []byte{0x0, 0x0, 0x0}`},
		{"ALTER TABLE t ADD b BINARY(3) DEFAULT x'41'", `fill []byte{0x41, 0x0, 0x0}`},
		{"ALTER TABLE t ADD b BLOB NOT NULL", `fill []byte{}`},
		{"ALTER TABLE t ADD j JSON DEFAULT '{\"a\":1}'", `fill "{\"a\":1}"`},
		{"ALTER TABLE t ADD j JSON NOT NULL", `fill ""`}, // fails its CHECK unless the table is empty
		{"ALTER TABLE t ADD twice INT AS (id*2) STORED", "resnapshot: column twice added: a generated column: the server computes it for every row"},
		{"ALTER TABLE t ADD seq INT NOT NULL AUTO_INCREMENT UNIQUE", "resnapshot: column seq added: an AUTO_INCREMENT column: the server numbers every row"},
		{"ALTER TABLE t MODIFY c INT AS (id*2) VIRTUAL", "resnapshot: column c made generated: the server computes it for every row"},
		{"ALTER TABLE t TRUNCATE PARTITION p1", "resnapshot: TRUNCATE PARTITION changes rows without row events"},
		{"ALTER TABLE t DROP PARTITION p0", "resnapshot: DROP PARTITION removes rows without row events"},
		{"ALTER TABLE t EXCHANGE PARTITION p0 WITH TABLE s", "resnapshot: EXCHANGE PARTITION changes rows without row events"},
		{"ALTER TABLE t REORGANIZE PARTITION p0 INTO (PARTITION a VALUES LESS THAN (5), PARTITION b VALUES LESS THAN (10))", "resnapshot: REORGANIZE PARTITION changes rows without row events"},
		{"ALTER TABLE t COALESCE PARTITION 2", "resnapshot: COALESCE PARTITION changes rows without row events"},
		{"ALTER TABLE t IMPORT TABLESPACE", "resnapshot: IMPORT TABLESPACE replaces rows without row events"},
		{"ALTER TABLE t CONVERT TO CHARACTER SET latin1", "resnapshot: CONVERT TO CHARACTER SET converts every text value"},
		{"ALTER TABLE t FROBNICATE", "resnapshot: the statement is not fully understood"},
		{"ALTER TABLE t ADD c VECTOR(3)", "resnapshot: the statement is not fully understood"},
		{"ALTER TABLE t ADD u UUID DEFAULT '6CCD780C-BABA-1026-9564-5B8C656024DB'", `fill []byte{0x6c, 0xcd, 0x78, 0xc, 0xba, 0xba, 0x10, 0x26, 0x95, 0x64, 0x5b, 0x8c, 0x65, 0x60, 0x24, 0xdb}`},
		{"ALTER TABLE t ADD u UUID DEFAULT '6ccd780cbaba102695645b8c656024db'", `fill []byte{0x6c, 0xcd, 0x78, 0xc, 0xba, 0xba, 0x10, 0x26, 0x95, 0x64, 0x5b, 0x8c, 0x65, 0x60, 0x24, 0xdb}`},
		{"ALTER TABLE t ADD u UUID DEFAULT X'00112233445566778899aabbccddeeff'", `fill []byte{0x0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}`},
		{"ALTER TABLE t ADD u UUID NOT NULL", `fill []byte{0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0}`},
		{"ALTER TABLE t ADD u UUID DEFAULT '6ccd-780c-baba-1026-9564-5b8c-6560-24db'", "resnapshot: column u added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD u UUID DEFAULT uuid()", "resnapshot: column u added: an expression default: the server evaluates it"},
		{"ALTER TABLE t ADD a INET4 NOT NULL", `fill "0.0.0.0"`},
		{"ALTER TABLE t ADD a INET4 DEFAULT '10.1.2.3'", `fill "10.1.2.3"`},
		{"ALTER TABLE t ADD a INET4 DEFAULT X'0a010203'", `fill "10.1.2.3"`},
		{"ALTER TABLE t ADD a INET4 DEFAULT '010.1.2.3'", "resnapshot: column a added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD a INET6 NOT NULL", `fill "::"`},
		{"ALTER TABLE t ADD a INET6 DEFAULT '::FFFF:1.2.3.4'", `fill "::ffff:1.2.3.4"`},
		{"ALTER TABLE t ADD a INET6 DEFAULT '2001:DB8:0:1:1:1:1:1'", `fill "2001:db8::1:1:1:1:1"`},
		{"ALTER TABLE t ADD a INET6 DEFAULT '::1.2.3.04'", "resnapshot: column a added: the value existing rows get is not a constant binlake reads"},
		{"ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (30))", "no re-snapshot"},
		{"ALTER TABLE t ANALYZE PARTITION p1", "no re-snapshot"},
		{"ALTER TABLE t DISCARD TABLESPACE", "no re-snapshot"},
		{"ALTER TABLE t DROP INDEX i", "no re-snapshot"},
		{"ALTER TABLE t ADD INDEX (a), ENGINE=InnoDB", "no re-snapshot"},
		{"ALTER IGNORE TABLE t ADD UNIQUE KEY u (a)", "resnapshot: ALTER IGNORE deletes the rows an added unique key duplicates"},
		{"ALTER IGNORE TABLE t ADD COLUMN b INT UNIQUE", "resnapshot: ALTER IGNORE deletes the rows an added unique key duplicates"},
		{"ALTER IGNORE TABLE t ADD INDEX (a)", "no re-snapshot"},
	}
	for _, tc := range tests {
		ds := ParseDDLWith("d", tc.sql, DDLEnv{Defaults: defaults})
		want := 1
		if strings.Contains(tc.sql, "EXCHANGE") {
			want = 2 // the table swapped in (TestParseDDLExchangeAndIgnore)
		}
		if len(ds) != want {
			t.Errorf("%s: %d statements, want %d", tc.sql, len(ds), want)
			continue
		}
		d := ds[0]
		got := "no re-snapshot"
		switch {
		case d.Resnapshot != "":
			got = "resnapshot: " + d.Resnapshot
		case d.Complete && len(d.Alter) == 1:
			if a, ok := d.Alter[0].(*ingest.AddColumn); ok {
				switch x := a.Fill.(type) {
				case nil:
					got = "fill <nil>"
				case string, []byte, float64:
					got = fmt.Sprintf("fill %#v", x)
				default:
					got = fmt.Sprintf("fill %T(%v)", x, x)
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.sql, got, tc.want)
		}
	}
}

// TestParseDDLExchangeAndIgnore: EXCHANGE PARTITION … WITH TABLE changes
// the rows of both tables; ALTER IGNORE cuts values as a sql_mode without
// STRICT does.
func TestParseDDLExchangeAndIgnore(t *testing.T) {
	ds := ParseDDLWith("d", "ALTER TABLE t EXCHANGE PARTITION p0 WITH TABLE e.s", DDLEnv{})
	if len(ds) != 2 || ds[1].Op != ingest.DDLAlter || ds[1].DB != "e" || ds[1].Name != "s" || !ds[1].Complete || len(ds[1].Alter) != 0 ||
		ds[1].Resnapshot != "EXCHANGE PARTITION changes rows without row events" {
		t.Errorf("EXCHANGE PARTITION: %+v", ds)
	}
	for sql, strict := range map[string]bool{"ALTER TABLE t MODIFY a VARCHAR(3)": true, "ALTER IGNORE TABLE t MODIFY a VARCHAR(3)": false} {
		if d := ParseDDLWith("d", sql, DDLEnv{SQLMode: modeStrictTrans}); d[0].Strict != strict {
			t.Errorf("%s under STRICT_TRANS_TABLES: Strict %v, want %v", sql, d[0].Strict, strict)
		}
	}
}
