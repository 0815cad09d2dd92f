package e2e

import (
	"context"
	bin "encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// lakeRows runs `binlake ingest --exit-when-caught-up` from start and
// returns each table's rows (fmt.Sprint of the values, sorted) and column
// "name kind" lists as of gtid.
func lakeRowsAt(t *testing.T, e *env, start, gtid string, tables ...string) (map[string][]string, map[string]string) {
	t.Helper()
	if err := e.ingest("--exit-when-caught-up", "--start-gtid", start).Wait(); err != nil {
		t.Fatalf("binlake ingest: %v", err)
	}
	store := e.store()
	p, err := tableformat.NewLog(store, tableformat.LogOptions{}).AtGTID(context.Background(), gtid)
	if err != nil {
		t.Fatal(err)
	}
	rows, cols := map[string][]string{}, map[string]string{}
	for _, name := range tables {
		tb, ok := p.State.TableByName("shop", name, p.Seq)
		if !ok {
			t.Fatalf("no table shop.%s in the lake", name)
		}
		schema, rs, err := tableformat.ScanTable(context.Background(), store, p, tb.ID)
		if err != nil {
			t.Fatal(err)
		}
		var cs []string
		for _, c := range schema.Columns {
			cs = append(cs, c.Name+" "+string(c.Type.Kind))
		}
		cols[name] = strings.Join(cs, ",")
		for _, r := range rs {
			rows[name] = append(rows[name], fmt.Sprint(r.Values))
		}
		slices.Sort(rows[name])
	}
	return rows, cols
}

func days(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func wkbPoint(srid uint32, x, y float64) []byte {
	b := bin.LittleEndian.AppendUint32(nil, srid)
	b = append(b, 1)
	b = bin.LittleEndian.AppendUint32(b, 1)
	b = bin.LittleEndian.AppendUint64(b, math.Float64bits(x))
	return bin.LittleEndian.AppendUint64(b, math.Float64bits(y))
}

// TestIngestTypeExtremes: each type of docs/types.md at the ends of its range,
// zero and invalid dates, NULLs, inserted in a +05:30 session: the lake
// holds the values FORMAT.md §12 and the tableformat Type contract name.
func TestIngestTypeExtremes(t *testing.T) {
	e := newEnv(t)
	start := binlogPos(t, e.db)
	const ddl = `CREATE TABLE shop.x (id INT PRIMARY KEY,
  ti TINYINT NULL, tiu TINYINT UNSIGNED NULL, si SMALLINT NULL, siu SMALLINT UNSIGNED NULL,
  mi MEDIUMINT NULL, miu MEDIUMINT UNSIGNED NULL, i INT NULL, iu INT UNSIGNED NULL,
  bi BIGINT NULL, biu BIGINT UNSIGNED NULL,
  d5 DECIMAL(5,2) NULL, d38 DECIMAL(38,38) NULL, d65 DECIMAL(65,30) NULL, d650 DECIMAL(65,0) NULL,
  f FLOAT NULL, dbl DOUBLE NULL, dt DATE NULL, y YEAR NULL, dtm DATETIME(6) NULL, dtm0 DATETIME NULL,
  ts TIMESTAMP(6) NULL, ts0 TIMESTAMP NULL, tm TIME(6) NULL, tm0 TIME NULL,
  c VARCHAR(10) CHARACTER SET latin1 NULL, cu CHAR(4) CHARACTER SET utf8mb4 NULL,
  bn BINARY(4) NULL, vb VARBINARY(4) NULL, bt BIT(64) NULL, b1 BIT(1) NULL,
  e ENUM('a','ça') CHARACTER SET utf8mb4 NULL, s SET('x','y','z') CHARACTER SET utf8mb4 NULL,
  j JSON NULL, g GEOMETRY NULL)`
	rows := []string{
		`(1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  -999.99, -0.99999999999999999999999999999999999999, -99999999999999999999999999999999999.999999999999999999999999999999,
  -99999999999999999999999999999999999999999999999999999999999999999,
  -3.4028234663852886e38, -1.7976931348623157e308, '1000-01-01', 1901, '1000-01-01 00:00:00.000000', '1000-01-01 00:00:00',
  '1970-01-01 05:30:01.000000', '1970-01-01 05:30:01', '-838:59:59.000000', '-00:00:01',
  'é', '', X'00', X'', b'0', b'0', 'a', '', '{}', ST_GeomFromText('POINT(1 2)'))`,
		`(2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  999.99, 0.00000000000000000000000000000000000001, 99999999999999999999999999999999999.999999999999999999999999999999,
  99999999999999999999999999999999999999999999999999999999999999999,
  3.4028234663852886e38, 1.7976931348623157e308, '9999-12-31', 2155, '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59',
  '2038-01-19 08:44:07.999999', '2038-01-19 08:44:07', '838:59:59.000000', '24:00:01',
  'ÿ£ß', '😀✓ä', X'6162', X'61620000', b'1111111111111111111111111111111111111111111111111111111111111111', b'1',
  'ça', 'z,x', '[1, "é"]', ST_GeomFromText('POINT(-1.5 0.25)', 4326))`,
		// zero dates (NULL), YEAR 0, zeros, a negative zero decimal.
		`(3, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL,
  0, 0, -0.0, 0, 0, 0, '0000-00-00', 0, '0000-00-00 00:00:00', '0000-00-00 00:00:00',
  '0000-00-00 00:00:00', '0000-00-00 00:00:00', '-00:00:00.500000', '00:00:00',
  '', NULL, X'', NULL, NULL, NULL, NULL, NULL, 'null', NULL)`,
		// invalid dates: a zero month or day (NULL).
		`(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, '2020-00-15', NULL, '2020-05-00 10:00:00.5', '2020-00-00 00:00:00',
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	}
	w := newWorkload(t, e.db, 9) // for its session: +05:30, zero dates allowed
	w.exec(context.Background(), ddl)
	for _, r := range rows {
		w.exec(context.Background(), "INSERT INTO shop.x VALUES "+r)
	}
	var gtid string
	if err := w.conn.QueryRowContext(context.Background(), "SELECT @@last_gtid").Scan(&gtid); err != nil {
		t.Fatal(err)
	}
	max9 := strings.Repeat("9", 35) + "." + strings.Repeat("9", 30)
	want := [][]any{
		{int64(1), int64(-128), uint64(0), int64(-32768), uint64(0), int64(-8388608), uint64(0), int64(math.MinInt32), uint64(0), int64(math.MinInt64), uint64(0),
			"-999.99", "-0." + strings.Repeat("9", 38), "-" + max9, "-" + strings.Repeat("9", 65),
			float32(-math.MaxFloat32), -math.MaxFloat64, days(1000, 1, 1), int64(1901),
			time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(),
			int64(1e6), int64(1e6), int64(-(838*3600 + 59*60 + 59) * 1e6), int64(-1e6),
			"é", "", []byte{0, 0, 0, 0}, []byte{}, uint64(0), uint64(0), "a", "", "{}", wkbPoint(0, 1, 2)},
		{int64(2), int64(127), uint64(255), int64(32767), uint64(65535), int64(8388607), uint64(16777215), int64(math.MaxInt32), uint64(math.MaxUint32), int64(math.MaxInt64), uint64(math.MaxUint64),
			"999.99", "0." + strings.Repeat("0", 37) + "1", max9, strings.Repeat("9", 65),
			float32(math.MaxFloat32), math.MaxFloat64, days(9999, 12, 31), int64(2155),
			time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro(), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).UnixMicro(),
			time.Date(2038, 1, 19, 3, 14, 7, 999999000, time.UTC).UnixMicro(), time.Date(2038, 1, 19, 3, 14, 7, 0, time.UTC).UnixMicro(),
			int64((838*3600 + 59*60 + 59) * 1e6), int64((24*3600 + 1) * 1e6),
			"ÿ£ß", "😀✓ä", []byte{'a', 'b', 0, 0}, []byte{'a', 'b', 0, 0}, uint64(math.MaxUint64), uint64(1),
			"ça", "x,z", `[1, "é"]`, wkbPoint(4326, -1.5, 0.25)},
		{int64(3), int64(0), nil, int64(0), nil, int64(0), nil, int64(0), nil, int64(0), nil,
			"0.00", "0." + strings.Repeat("0", 38), "0." + strings.Repeat("0", 30), "0",
			float32(0), float64(0), nil, int64(0), nil, nil,
			nil, nil, int64(-500000), int64(0),
			"", nil, []byte{0, 0, 0, 0}, nil, nil, nil, nil, nil, "null", nil},
		{int64(4), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	}
	var wantRows []string
	for _, r := range want {
		wantRows = append(wantRows, fmt.Sprint(r))
	}
	slices.Sort(wantRows)
	got, _ := lakeRowsAt(t, e, start, gtid, "x")
	if !slices.Equal(got["x"], wantRows) {
		t.Fatalf("shop.x:\n%s", rowDiff(got["x"], wantRows))
	}
}

// TestIngestSchemaAtDDLPosition: the lake as of an ALTER's own GTID has the
// columns the ALTER gave (docs/design.md, Schema history: schemas are keyed by the position where
// they took effect), also for DROP COLUMN on a table without a key and for
// a character column without a charset on a table renamed before the daemon
// reads the ALTER; and a column dropped and added again under the same name
// is a new column, reading NULL in the rows written before (as the source
// does).
func TestIngestSchemaAtDDLPosition(t *testing.T) {
	e := newEnv(t)
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 10)
	type step struct{ sql, table, cols, rows string }
	steps := []step{
		{"CREATE TABLE shop.k (a INT NULL, b INT NULL)", "k", "a int,b int", ""},
		{"INSERT INTO shop.k VALUES (1, 2)", "k", "a int,b int", "[1 2]"},
		{"ALTER TABLE shop.k DROP COLUMN b", "k", "a int", "[1]"},
		{"ALTER TABLE shop.k ADD COLUMN b INT NULL", "k", "a int,b int", "[1 <nil>]"},
		{"INSERT INTO shop.k VALUES (3, NULL)", "k", "a int,b int", "[1 <nil>]\n[3 <nil>]"},
		{"CREATE TABLE shop.o (id INT PRIMARY KEY, x INT NULL)", "o", "id int,x int", ""},
		{"INSERT INTO shop.o VALUES (1, 7)", "o", "id int,x int", "[1 7]"},
		{"ALTER TABLE shop.o ADD COLUMN v VARCHAR(5) NULL", "o", "id int,x int,v varchar", "[1 7 <nil>]"},
		{"ALTER TABLE shop.o DROP COLUMN x", "o", "id int,v varchar", "[1 <nil>]"},
		{"ALTER TABLE shop.o ADD COLUMN x INT NULL", "o", "id int,v varchar,x int", "[1 <nil> <nil>]"},
		{"INSERT INTO shop.o VALUES (2, 'a', NULL)", "o", "id int,v varchar,x int", "[1 <nil> <nil>]\n[2 a <nil>]"},
		{"RENAME TABLE shop.o TO shop.o2", "o2", "id int,v varchar,x int", "[1 <nil> <nil>]\n[2 a <nil>]"},
	}
	var gtids []string
	for _, s := range steps {
		w.exec(context.Background(), s.sql)
		var g string
		if err := w.conn.QueryRowContext(context.Background(), "SELECT @@last_gtid").Scan(&g); err != nil {
			t.Fatal(err)
		}
		gtids = append(gtids, g)
	}
	if err := e.ingest("--exit-when-caught-up", "--start-gtid", start).Wait(); err != nil {
		t.Fatalf("binlake ingest: %v", err)
	}
	store := e.store()
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	var failures []string
	for i, s := range steps {
		p, err := l.AtGTID(context.Background(), gtids[i])
		if err != nil {
			t.Fatal(err)
		}
		tb, ok := p.State.TableByName("shop", s.table, p.Seq)
		if !ok {
			failures = append(failures, fmt.Sprintf("after %s: no table shop.%s", s.sql, s.table))
			continue
		}
		schema, rs, err := tableformat.ScanTable(context.Background(), store, p, tb.ID)
		if err != nil {
			t.Fatal(err)
		}
		var cs, rows []string
		for _, c := range schema.Columns {
			cs = append(cs, c.Name+" "+string(c.Type.Kind))
		}
		for _, r := range rs {
			rows = append(rows, fmt.Sprint(r.Values))
		}
		slices.Sort(rows)
		if got := strings.Join(cs, ","); got != s.cols || strings.Join(rows, "\n") != s.rows {
			failures = append(failures, fmt.Sprintf("after %s:\n   got columns %s rows %q\n  want columns %s rows %q",
				s.sql, got, strings.Join(rows, "\n"), s.cols, s.rows))
		}
	}
	if len(failures) > 0 {
		t.Fatal(strings.Join(failures, "\n"))
	}
}
