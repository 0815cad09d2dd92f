package query

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// TestStoredLiteralDates: an initial default of a DATE column before 1970
// (negative days) is SQL DuckDB parses, and reads back as the same day.
// (make chaos found "syntax error at or near DAY": a compaction of a table
// whose dropped DATE column had a default before 1970.)
func TestStoredLiteralDates(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	typ := tableformat.Type{Kind: tableformat.KindDate, SQL: "date"}
	for _, day := range []string{"1000-01-01", "1969-12-31", "1970-01-01", "2026-12-07", "9999-12-31"} {
		d, err := time.Parse(time.DateOnly, day)
		if err != nil {
			t.Fatal(err)
		}
		v := int32(d.Unix() / 86400)
		var got string
		q := fmt.Sprintf("SELECT CAST(%s AS VARCHAR)", storedLiteral(typ, v))
		if err := db.QueryRow(q).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got != day {
			t.Fatalf("%s: %s, want %s", q, got, day)
		}
	}
}
