package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat/laketest"
)

// manyRows is how many rows each table createManyTables makes holds.
const manyRows = 3

// manyScripts is how many sessions create or change many tables at once:
// MariaDB creates tables faster from a few sessions than from one, and
// the scripts (statements of up to manyPerScript tables each, through the
// command-line client) save a round trip per statement.
const (
	manyScripts   = 4
	manyPerScript = 250
)

// manyTableName is the name of table i of createManyTables: laketest's
// naming, so the lake's tables sort as the generated lakes' do.
func manyTableName(i int) string {
	_, name := laketest.ManyTable(i)
	return name
}

// createManyTables creates database db with n tables t00000 … (id BIGINT
// key, v VARCHAR(32), n INT) of manyRows rows each, and returns how long
// it took.
func createManyTables(t testing.TB, m *testenv.MariaDB, db string, n int) time.Duration {
	t.Helper()
	start := time.Now()
	m.Exec(t, "CREATE DATABASE "+db)
	err := forManyTables(n, func(i int, sb *strings.Builder) {
		fmt.Fprintf(sb, "CREATE TABLE %s.%s (id BIGINT PRIMARY KEY, v VARCHAR(32), n INT);\n", db, manyTableName(i))
		fmt.Fprintf(sb, "INSERT INTO %s.%s VALUES ", db, manyTableName(i))
		for r := 1; r <= manyRows; r++ {
			if r > 1 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(sb, "(%d,'row %d of %d',%d)", r, r, i, r*i)
		}
		sb.WriteString(";\n")
	}, m)
	if err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// updateManyTables changes one row of each of the n tables of db, each in
// a transaction of its own: changes spread over every table. round picks
// the row (and the value).
func updateManyTables(t testing.TB, m *testenv.MariaDB, db string, n, round int) {
	t.Helper()
	err := forManyTables(n, func(i int, sb *strings.Builder) {
		fmt.Fprintf(sb, "UPDATE %s.%s SET n = n + 1, v = 'round %d' WHERE id = %d;\n", db, manyTableName(i), round, 1+round%manyRows)
	}, m)
	if err != nil {
		t.Fatal(err)
	}
}

// forManyTables runs the statements stmt writes for tables 0 … n-1 as
// scripts of manyPerScript tables, manyScripts at a time.
func forManyTables(n int, stmt func(i int, sb *strings.Builder), m *testenv.MariaDB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(manyScripts)
	for lo := 0; lo < n; lo += manyPerScript {
		g.Go(func() error {
			var sb strings.Builder
			for i := lo; i < min(n, lo+manyPerScript); i++ {
				stmt(i, &sb)
			}
			return m.ExecContext(gctx, sb.String())
		})
	}
	return g.Wait()
}
