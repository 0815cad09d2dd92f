package mysql

import (
	"slices"
	"testing"
)

func TestDMLTargets(t *testing.T) {
	type tbl = [2]string
	for _, c := range []struct {
		sql     string
		verb    string
		targets []tbl
		notDML  bool
	}{
		{sql: "INSERT INTO orders VALUES (1)", verb: "INSERT", targets: []tbl{{"shop", "orders"}}},
		{sql: "insert low_priority ignore into `my db`.`t.x` (a) values (1)", verb: "INSERT", targets: []tbl{{"my db", "t.x"}}},
		{sql: "INSERT other.t SELECT * FROM shop.orders", verb: "INSERT", targets: []tbl{{"other", "t"}}},
		{sql: "REPLACE DELAYED INTO orders SET id = 1", verb: "REPLACE", targets: []tbl{{"shop", "orders"}}},
		{sql: "/* app */ UPDATE orders SET total = 2 WHERE id IN (SELECT id FROM other.x)", verb: "UPDATE",
			targets: []tbl{{"shop", "orders"}}},
		{sql: "UPDATE LOW_PRIORITY IGNORE a.t1 AS x LEFT JOIN b.t2 y ON x.id = y.id, t3 SET x.v = 1", verb: "UPDATE",
			targets: []tbl{{"a", "t1"}, {"b", "t2"}, {"shop", "t3"}}},
		{sql: "UPDATE (t1 JOIN t2 ON t1.a = t2.a) SET t1.b = 1", verb: "UPDATE", targets: []tbl{{"shop", "t1"}, {"shop", "t2"}}},
		{sql: "UPDATE t1 JOIN (SELECT a FROM secret.t9) d ON d.a = t1.a SET t1.b = 1", verb: "UPDATE",
			targets: []tbl{{"shop", "t1"}}},
		{sql: "DELETE FROM orders WHERE id = 3", verb: "DELETE", targets: []tbl{{"shop", "orders"}}},
		{sql: "DELETE QUICK FROM orders PARTITION (p0) ORDER BY id LIMIT 2", verb: "DELETE", targets: []tbl{{"shop", "orders"}}},
		{sql: "DELETE t1.*, s.t2 FROM t1 JOIN s.t2 ON t1.a = t2.a WHERE 1", verb: "DELETE",
			targets: []tbl{{"shop", "t1"}, {"s", "t2"}, {"shop", "t1"}, {"s", "t2"}}},
		{sql: "DELETE FROM t1, t2 USING t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id = t2.id", verb: "DELETE",
			targets: []tbl{{"shop", "t1"}, {"shop", "t2"}, {"shop", "t1"}, {"shop", "t2"}, {"shop", "t3"}}},
		{sql: "WITH RECURSIVE c (n) AS (SELECT 1 UNION SELECT n + 1 FROM c WHERE n < 3) DELETE FROM orders WHERE id IN (SELECT n FROM c)",
			verb: "DELETE", targets: []tbl{{"shop", "orders"}}},
		{sql: "LOAD DATA LOCAL INFILE '/tmp/x INTO TABLE y' REPLACE INTO TABLE shop2.items", verb: "LOAD",
			targets: []tbl{{"shop2", "items"}}},
		{sql: "BEGIN", notDML: true},
		{sql: "CREATE TABLE t (id INT)", notDML: true},
		{sql: "ALTER TABLE orders ADD c INT", notDML: true},
		{sql: "SET @x = 1", notDML: true},
		{sql: "", notDML: true},
	} {
		verb, targets, ok := DMLTargets("shop", c.sql)
		if ok == c.notDML || verb != c.verb || !slices.Equal(targets, c.targets) {
			t.Errorf("DMLTargets(%q) = %q, %q, %v; want %q, %q, %v", c.sql, verb, targets, ok, c.verb, c.targets, !c.notDML)
		}
	}
}

// FuzzDMLTargets: any statement text is read without a panic, and a
// statement that is not data-changing names no table.
func FuzzDMLTargets(f *testing.F) {
	for _, s := range []string{"INSERT INTO t VALUES (1)", "UPDATE (a JOIN (SELECT 1) x ON (1)) SET a.b = 1",
		"DELETE t1.*, FROM", "WITH c AS (SELECT 1) DELETE FROM", "LOAD DATA INFILE", "UPDATE ((((", "DELETE `a`.`b`.* FROM ``"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		verb, targets, ok := DMLTargets("db", sql)
		if !ok && (verb != "" || len(targets) > 0) {
			t.Fatalf("DMLTargets(%q) = %q, %q, false", sql, verb, targets)
		}
	})
}
