package mysql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

func TestBytesBetween(t *testing.T) {
	files := []BinlogFile{{"b.000003", 1000}, {"b.000004", 500}, {"b.000005", 300}}
	end := tableformat.Position{File: "b.000005", Pos: 300}
	for _, c := range []struct {
		pos  tableformat.Position
		want int64
		err  string
	}{
		{tableformat.Position{File: "b.000005", Pos: 300}, 0, ""},
		{tableformat.Position{File: "b.000005", Pos: 120}, 180, ""},
		{tableformat.Position{File: "b.000004", Pos: 400}, 100 + 300, ""},
		{tableformat.Position{File: "b.000003", Pos: 4}, 996 + 500 + 300, ""},
		{tableformat.Position{File: "b.000006", Pos: 4}, 0, ""}, // past the end
		{tableformat.Position{File: "b.000002", Pos: 4}, 0, "no longer has binlog file b.000002"},
		{tableformat.Position{File: "other.000004", Pos: 4}, 0, "different logs"},
	} {
		got, err := BytesBetween(files, end, c.pos)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %d, %v; want an error with %q", c.pos, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %d, %v; want %d", c.pos, got, err, c.want)
		}
	}
}

// TestLagProbeBytesBehind: against a real server, the bytes between a
// position and the end of the binlog, in the current file, in an older one
// across FLUSH BINARY LOGS, and 0 at the end or when the position's GTID
// set holds everything the server has written.
func TestLagProbeBytesBehind(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDB(t)
	probe := NewLagProbe(sourceConfig(m, 1))
	defer probe.Close()
	status := func() tableformat.Position {
		f := strings.Fields(m.Query(t, "SHOW MASTER STATUS"))
		pos, _ := strconv.ParseUint(f[1], 10, 64)
		gtid := strings.TrimSpace(m.Query(t, "SELECT @@gtid_binlog_pos"))
		return tableformat.Position{File: f[0], Pos: pos, GTIDSet: gtid}
	}
	size := func(file string) int64 {
		for line := range strings.SplitSeq(m.Query(t, "SHOW BINARY LOGS"), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == file {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
		t.Fatalf("no binlog file %s", file)
		return 0
	}
	behind := func(pos tableformat.Position) int64 {
		t.Helper()
		n, err := probe.BytesBehind(ctx, pos)
		if err != nil {
			t.Fatalf("bytes behind %s: %v", pos, err)
		}
		return n
	}
	filePos := func(p tableformat.Position) tableformat.Position { p.GTIDSet = ""; return p }

	m.Exec(t, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT)")
	p0 := status()
	if n := behind(p0); n != 0 {
		t.Errorf("at the end: %d bytes behind, want 0", n)
	}
	m.Exec(t, "INSERT INTO d.t VALUES (1, REPEAT('x', 1000))", "INSERT INTO d.t VALUES (2, REPEAT('y', 2000))")
	p1 := status()
	if p1.File != p0.File {
		t.Fatalf("the binlog rotated: %s → %s", p0.File, p1.File)
	}
	if n, want := behind(p0), int64(p1.Pos-p0.Pos); n != want || n < 3000 {
		t.Errorf("in the current file: %d bytes behind, want %d", n, want)
	}
	if n := behind(filePos(p0)); n != int64(p1.Pos-p0.Pos) {
		t.Errorf("in the current file, no GTID set: %d bytes behind, want %d", n, p1.Pos-p0.Pos)
	}

	// Rotate: the old file is closed at its size.
	m.Exec(t, "FLUSH BINARY LOGS")
	newFile := status().File
	if newFile == p1.File {
		t.Fatalf("FLUSH BINARY LOGS did not rotate")
	}
	// MariaDB writes a Binlog_checkpoint event naming the new file to it
	// shortly after the rotation, on its own: wait for it, so the end
	// stays put while the test measures.
	testenv.Eventually(t, time.Minute, "a binlog checkpoint for "+newFile, func() error {
		if events := m.Query(t, "SHOW BINLOG EVENTS IN '"+newFile+"'"); !checkpointed(events, newFile) {
			return fmt.Errorf("none in\n%s", events)
		}
		return nil
	})
	p2 := status()
	// p1 holds every transaction: nothing to ingest although the new
	// file's headers lie beyond it.
	if n := behind(p1); n != 0 {
		t.Errorf("caught up before a rotation: %d bytes behind, want 0", n)
	}
	if n, want := behind(filePos(p1)), size(p1.File)-int64(p1.Pos)+int64(p2.Pos); n != want || n == 0 {
		t.Errorf("file position at the end of the older file: %d bytes behind, want %d", n, want)
	}
	m.Exec(t, "INSERT INTO d.t VALUES (3, REPEAT('z', 5000))")
	p3 := status()
	if n, want := behind(p0), size(p0.File)-int64(p0.Pos)+int64(p3.Pos); n != want {
		t.Errorf("in an older file: %d bytes behind, want %d", n, want)
	}
	if n, want := behind(p1), size(p1.File)-int64(p1.Pos)+int64(p3.Pos); n != want || n < 5000 {
		t.Errorf("at the end of an older file: %d bytes behind, want %d", n, want)
	}
	if n, want := behind(p2), int64(p3.Pos-p2.Pos); n != want {
		t.Errorf("at the start of the current file: %d bytes behind, want %d", n, want)
	}
	if n := behind(p3); n != 0 {
		t.Errorf("at the end: %d bytes behind, want 0", n)
	}

	// A file the server does not have.
	if _, err := probe.BytesBehind(ctx, tableformat.Position{File: "binlog.000000", Pos: 4}); err == nil ||
		!strings.Contains(err.Error(), "no longer has binlog file binlog.000000") {
		t.Errorf("a file the server lacks: %v", err)
	}

	// The probe needs BINLOG MONITOR, which the documented grants include;
	// without it the error says so and never shows the password.
	m.Exec(t, "CREATE USER 'nomon'@'%' IDENTIFIED BY 'nomon-secret-sentinel'", "GRANT REPLICATION SLAVE, SELECT ON *.* TO 'nomon'@'%'")
	cfg := sourceConfig(m, 1)
	cfg.User, cfg.Password = "nomon", secret.String("nomon-secret-sentinel")
	weak := NewLagProbe(cfg)
	defer weak.Close()
	_, err := weak.BytesBehind(context.Background(), p0)
	if err == nil || !strings.Contains(err.Error(), "BINLOG MONITOR") || strings.Contains(err.Error(), "nomon-secret-sentinel") {
		t.Errorf("without BINLOG MONITOR: %v", err)
	}
	// The account statements went to the binlog: p3 is behind by them.
	p4 := status()
	if n, want := behind(filePos(p3)), int64(p4.Pos-p3.Pos); n != want || n == 0 {
		t.Errorf("before the account statements: %d bytes behind, want %d", n, want)
	}
	if n := behind(p4); n != 0 {
		t.Errorf("at the end, again: %d", n)
	}
	// A connection the server dropped is reopened on the next call.
	m.Exec(t, "KILL CONNECTION USER 'binlake'")
	if _, err := probe.BytesBehind(ctx, p4); err == nil {
		t.Log("the killed connection answered once more")
	}
	if n := behind(p4); n != 0 {
		t.Errorf("after a reconnection: %d", n)
	}
}

// checkpointed reports whether SHOW BINLOG EVENTS output holds a
// Binlog_checkpoint event naming file.
func checkpointed(events, file string) bool {
	for line := range strings.SplitSeq(events, "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 6 && f[2] == "Binlog_checkpoint" && strings.TrimSpace(f[5]) == file {
			return true
		}
	}
	return false
}
