package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// waitForGTID polls the lake until it has reached gtid, with a deadline.
func waitForGTID(t testing.TB, store tableformat.Store, gtid string, deadline time.Duration) {
	t.Helper()
	want, err := tableformat.ParseGTIDSet(gtid)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, deadline, "the lake at "+gtid, func() error {
		st, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
		if err != nil {
			return err
		}
		have, _ := tableformat.ParseGTIDSet(st.Progress.Position.GTIDSet)
		if ok, _ := have.ContainsSet(want); !ok {
			return fmt.Errorf("it is at %s", st.Progress.Position)
		}
		return nil
	})
}

// get fetches a path of the daemon's ops endpoint.
func (e *env) get(path string) (int, string) {
	resp, err := http.Get("http://" + e.ops + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady polls /readyz until it answers 200, with a deadline.
func (e *env) waitReady(deadline time.Duration) {
	e.t.Helper()
	testenv.Eventually(e.t, deadline, "/readyz saying ready", func() error {
		if code, body := e.get("/readyz"); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

// TestIngestReconnectsAndStopsCleanly: the source's binlog dump thread is
// killed while the daemon runs; the daemon reconnects from the lake's
// position by itself. SIGTERM then stops it with exit code 0.
func TestIngestReconnectsAndStopsCleanly(t *testing.T) {
	e := newEnv(t)
	store := e.store()
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 4)
	cmd := e.ingest("--start-gtid", start)
	e.waitReady(30 * time.Second)
	if code, _ := e.get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	ctx := context.Background()
	for range 60 {
		w.txn(ctx)
	}
	waitForGTID(t, store, w.moments[len(w.moments)-1].gtid, 30*time.Second)
	ids := strings.Fields(e.db.Query(t, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'"))
	if len(ids) == 0 {
		t.Fatal("no binlog dump thread to kill")
	}
	for _, id := range ids {
		e.db.Exec(t, "KILL "+id)
	}
	for range 60 {
		w.txn(ctx)
	}
	waitForGTID(t, store, w.moments[len(w.moments)-1].gtid, 60*time.Second)
	e.waitReady(30 * time.Second)
	// Caught up: no binlog left between the lake's position and the
	// server's end.
	e.waitLagBytes("0", lagWait)
	code, metrics := e.get("/metrics")
	for _, want := range []string{"binlake_ingest_commits_total", `binlake_ingest_row_changes_total{op="insert"}`,
		"binlake_ingest_lag_seconds", "binlake_ingest_lag_bytes"} {
		if code != http.StatusOK || !strings.Contains(metrics, want) {
			t.Fatalf("/metrics (%d) lacks %s", code, want)
		}
	}
	if strings.Contains(metrics, e.db.UserPassword) || strings.Contains(metrics, e.minio.SecretKey) {
		t.Fatal("/metrics shows a secret")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit code 0", err)
	}
	w.check(store)
}

// TestIngestReplayFromGTID: --start-gtid on a lake that is past it rewinds
// the lake (a rewind commit, history kept) and replays from there; the lake
// then equals the source at every transaction again.
func TestIngestReplayFromGTID(t *testing.T) {
	e := newEnv(t)
	store := e.store()
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 5)
	for range 80 {
		w.txn(context.Background())
	}
	if err := e.ingest("--exit-when-caught-up", "--start-gtid", start).Wait(); err != nil {
		t.Fatal(err)
	}
	before, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		w.txn(context.Background())
	}
	middle := w.moments[30].gtid
	if err := e.ingest("--exit-when-caught-up", "--start-gtid", middle).Wait(); err != nil {
		t.Fatal(err)
	}
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	rewinds := 0
	latest, err := l.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for v := before.Version + 1; v <= latest.Version; v++ {
		en, err := l.Entry(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		if en.Kind == tableformat.KindRewind {
			rewinds++
		}
	}
	if rewinds != 1 {
		t.Fatalf("%d rewind commits after version %d, want 1", rewinds, before.Version)
	}
	if _, err := l.AtVersion(context.Background(), before.Version); err != nil {
		t.Fatalf("history before the rewind: %v", err)
	}
	w.check(store)
}

// TestIngestPositionLost: a start position the server has purged gives its
// own exit code and a message that says what to do; the lake is unchanged.
// purgeBinlog purges the server's binlogs up to its current one, until file
// is gone (MariaDB purges a binlog only once its checkpoint has moved past
// it).
func purgeBinlog(t *testing.T, db *testenv.MariaDB, file string) {
	t.Helper()
	current := strings.Fields(db.Query(t, "SHOW MASTER STATUS"))[0]
	testenv.Eventually(t, time.Minute, "purging "+file, func() error {
		db.Exec(t, "PURGE BINARY LOGS TO '"+current+"'")
		if logs := db.Query(t, "SHOW BINARY LOGS"); strings.Contains(logs, file) {
			return fmt.Errorf("the server still has it:\n%s", logs)
		}
		return nil
	})
}

func TestIngestPositionLost(t *testing.T) {
	e := newEnv(t)
	store := e.store()
	first := strings.Fields(e.db.Query(t, "SHOW BINARY LOGS"))[0]
	e.db.Exec(t, "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY)", "INSERT INTO shop.t VALUES (1)", "FLUSH BINARY LOGS")
	purgeBinlog(t, e.db, first)
	cmd := e.ingest("--exit-when-caught-up", "--start-position", first+":4")
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 6 {
		t.Fatalf("exit: %v, want exit code 6 (position lost)", err)
	}
	out, _ := os.ReadFile(filepath.Join(e.logDir, "ingest-001.log"))
	if !strings.Contains(string(out), first) || !strings.Contains(string(out), "SHOW BINARY LOGS") || strings.Contains(string(out), "goroutine ") {
		t.Fatalf("the error should name the position and say what to do, without a stack trace:\n%s", out)
	}
	st, lerr := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
	if lerr != nil || st.Progress.MaxSeq != 0 {
		t.Fatalf("the lake changed: %v, max seq %d", lerr, st.Progress.MaxSeq)
	}
}

// TestIngestPurgedPastLake: the daemon was stopped, and the server purged
// the binlog past the lake's saved position meanwhile. The daemon (not in
// catch-up mode: it would otherwise retry forever) exits by itself with
// the position-lost code and the fix, and the lake is unchanged.
func TestIngestPurgedPastLake(t *testing.T) {
	e := newEnv(t)
	store := e.store()
	start := binlogPos(t, e.db)
	e.db.Exec(t, "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY)", "INSERT INTO shop.t VALUES (1)")
	e.catchUp(start)
	before, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lakeFile := before.Progress.Position.File
	e.db.Exec(t, "INSERT INTO shop.t VALUES (2)", "FLUSH BINARY LOGS", "INSERT INTO shop.t VALUES (3)")
	purgeBinlog(t, e.db, lakeFile)
	cmd := e.ingest()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(5 * time.Minute): // a daemon that retries for ever never exits
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		t.Fatal("the daemon kept retrying a position the server no longer has")
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != 6 {
		t.Fatalf("exit: %v, want exit code 6 (position lost)", werr)
	}
	out, _ := os.ReadFile(filepath.Join(e.logDir, fmt.Sprintf("ingest-%03d.log", e.runs)))
	if !strings.Contains(string(out), lakeFile) || !strings.Contains(string(out), "SHOW BINARY LOGS") || stackTrace.Match(out) {
		t.Fatalf("the error should name the lake's position and say what to do, without a stack trace:\n%s", out)
	}
	after, err := tableformat.NewLog(store, tableformat.LogOptions{}).Latest(context.Background())
	if err != nil || after.Version != before.Version {
		t.Fatalf("the lake changed: version %d → %d (%v)", before.Version, after.Version, err)
	}
}

// TestCheck: `binlake check` on a correctly set up source and MinIO passes
// every check, storage put-if-absent included; with binlog_row_metadata
// turned down it fails (exit 1) and prints the fix.
func TestCheck(t *testing.T) {
	e := newEnv(t)
	run := func() (int, string) {
		cmd := exec.Command(binary, "check", "-c", e.config)
		cmd.Env = e.envs
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	code, out := run()
	if code != 0 || !strings.Contains(out, "storage put-if-absent") || strings.Contains(out, "FAIL") || strings.Contains(out, "fix:") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	e.db.Exec(t, "SET GLOBAL binlog_row_metadata=MINIMAL")
	code, out = run()
	if code != 1 || !strings.Contains(out, "SET GLOBAL binlog_row_metadata=FULL") {
		t.Fatalf("check with MINIMAL row metadata: exit %d\n%s", code, out)
	}
	if strings.Contains(out, e.db.UserPassword) || strings.Contains(out, e.minio.SecretKey) {
		t.Fatal("check printed a secret")
	}
	t.Logf("binlake check:\n%s", out)
}

// TestIngestSnapshotThenStream: a lake started on a database that already
// has rows takes a consistent snapshot while writes continue, then streams
// from the snapshot's position: the lake ends equal to the source, and every
// transaction after the snapshot reads back exactly.
func TestIngestSnapshotThenStream(t *testing.T) {
	e := newEnv(t)
	store := e.store()
	w := newWorkload(t, e.db, 7)
	ctx := context.Background()
	for range 150 {
		w.txn(ctx) // rows that exist before the lake
	}
	cmd := e.ingest() // snapshot: auto
	for range 300 {
		w.txn(ctx) // writes while the snapshot runs and after
	}
	waitForGTID(t, store, w.moments[len(w.moments)-1].gtid, 60*time.Second)
	// The snapshot's progress, in total: every table read.
	code, metrics := e.get("/metrics")
	tables := regexp.MustCompile(`(?m)^binlake_snapshot_tables (\d+)$`).FindStringSubmatch(metrics)
	done := regexp.MustCompile(`(?m)^binlake_snapshot_tables_done (\d+)$`).FindStringSubmatch(metrics)
	if code != http.StatusOK || tables == nil || done == nil || tables[1] == "0" || tables[1] != done[1] ||
		!regexp.MustCompile(`(?m)^binlake_snapshot_rows [1-9]`).MatchString(metrics) {
		t.Fatalf("/metrics (%d) lacks the snapshot's progress (tables %v, done %v)", code, tables, done)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	first, err := l.Entry(ctx, 2)
	if err != nil || len(first.Add) == 0 {
		t.Fatalf("version 2 should be the snapshot: %+v %v", first, err)
	}
	// The moments the lake has: from the snapshot on.
	var after []moment
	for _, m := range w.moments {
		if _, err := l.AtGTID(ctx, m.gtid); errors.Is(err, tableformat.ErrBeforeHistory) {
			continue
		}
		after = append(after, m)
	}
	if len(after) == 0 || after[len(after)-1].gtid != w.moments[len(w.moments)-1].gtid || len(after) == len(w.moments) {
		t.Fatalf("%d of %d transactions after the snapshot: want the ones after it, the last included", len(after), len(w.moments))
	}
	t.Logf("the snapshot caught %d transactions; %d came after it", len(w.moments)-len(after), len(after))
	w.moments = after
	w.check(store)
}

// TestDDLAfterRestart: an ALTER that adds a character column without a
// charset takes its table's default, which the daemon learnt from a CREATE
// it read before a restart. After the restart it must still know it (from
// the lake), even when the server has since renamed or dropped the table:
// the new structure is in force from the ALTER's own transaction, not from
// the table's next row event. (Found by `make chaos`: DDL storms under
// kills.)
func TestDDLAfterRestart(t *testing.T) {
	e := newEnv(t)
	store := e.store()
	start := binlogPos(t, e.db)
	e.db.Exec(t, "CREATE DATABASE shop",
		"CREATE TABLE shop.t (id INT PRIMARY KEY) DEFAULT CHARSET latin1", "INSERT INTO shop.t VALUES (1)",
		"CREATE TABLE shop.d (id INT PRIMARY KEY) DEFAULT CHARSET cp1251", "INSERT INTO shop.d VALUES (1)",
		"CREATE TABLE shop.c (id INT PRIMARY KEY) DEFAULT CHARSET latin1", "ALTER TABLE shop.c DEFAULT CHARSET utf8mb4")
	e.catchUp(start)
	// Stopped; meanwhile the ALTERs, then each table renamed or dropped.
	e.db.Exec(t, "ALTER TABLE shop.t ADD COLUMN v VARCHAR(12)")
	alterT := binlogPos(t, e.db)
	e.db.Exec(t, "ALTER TABLE shop.d ADD COLUMN v TEXT")
	alterD := binlogPos(t, e.db)
	e.db.Exec(t, "ALTER TABLE shop.c ADD COLUMN v CHAR(3)")
	alterC := binlogPos(t, e.db)
	e.db.Exec(t, "RENAME TABLE shop.t TO shop.u", "DROP TABLE shop.d", "DROP TABLE shop.c",
		"INSERT INTO shop.u VALUES (2, 'é')",
		// A change of the default alone is a schema version of its own;
		// reads go on across it.
		"CREATE TABLE shop.k (id INT PRIMARY KEY, v VARCHAR(3)) DEFAULT CHARSET latin1", "INSERT INTO shop.k VALUES (1, 'é')",
		"ALTER TABLE shop.k DEFAULT CHARSET utf8mb4", "INSERT INTO shop.k VALUES (2, 'ü')")
	e.catchUp("")

	l := tableformat.NewLog(store, tableformat.LogOptions{})
	for _, tc := range []struct {
		gtid, table, sql, charset string
	}{
		{alterT, "t", "varchar(12)", "latin1"},
		{alterD, "d", "text", "cp1251"},
		{alterC, "c", "char(3)", "utf8mb4"},
	} {
		p, err := l.AtGTID(context.Background(), tc.gtid)
		if err != nil {
			t.Fatal(err)
		}
		ts, ok := p.State.TableByName("shop", tc.table, p.Seq)
		if !ok {
			t.Fatalf("as of %s: no shop.%s", tc.gtid, tc.table)
		}
		sc := ts.SchemaAt(p.Seq)
		if len(sc.Columns) != 2 || sc.Columns[1].Name != "v" || sc.Columns[1].Type.SQL != tc.sql || sc.Columns[1].Type.Charset != tc.charset {
			t.Errorf("shop.%s as of its ALTER (%s): schema v%d %+v, want v %s in %s", tc.table, tc.gtid, sc.Version, sc.Columns, tc.sql, tc.charset)
		}
	}
	out, stderr, code := e.runCmd("query", "-c", e.config, "--format", "csv", "SELECT id, v FROM shop.u ORDER BY id")
	if code != 0 || out != "id,v\n1,\n2,é\n" {
		t.Errorf("query shop.u: exit %d, %q %s", code, out, stderr)
	}
	out, stderr, code = e.runCmd("query", "-c", e.config, "--format", "csv", "SELECT id, v FROM shop.k ORDER BY id")
	if code != 0 || out != "id,v\n1,é\n2,ü\n" {
		t.Errorf("query shop.k: exit %d, %q %s", code, out, stderr)
	}
	p, err := l.AtLatest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := p.State.TableByName("shop", "k", p.Seq); !ok || len(k.Schemas) != 2 || k.Schemas[0].Schema.Charset != "latin1" || k.Schema().Charset != "utf8mb4" {
		t.Errorf("shop.k: want two schema versions, latin1 then utf8mb4: %v %+v", ok, k)
	}
}

// TestSkewedProcessClocks: the source's clock two hours ahead, the daemon's
// an hour behind, the compactor's an hour ahead (BINLAKE_CLOCK_SKEW, the
// processes' own clocks). Commit times still only grow — a daemon commit
// after the compactor's comes later although its clock says earlier — and
// "as of" a time reads the source's commit times, whatever the writers'
// clocks said.
func TestSkewedProcessClocks(t *testing.T) {
	e := newEnv(t)
	store := e.store()
	start := binlogPos(t, e.db)
	base := time.Now().Add(2 * time.Hour).Truncate(time.Second) // the source's clock
	insert := func(id int, at time.Time) {
		e.db.Exec(t, fmt.Sprintf("SET timestamp = %d; INSERT INTO shop.t VALUES (%d)", at.Unix(), id))
	}
	envs := e.envs
	with := func(skew string, run func()) {
		e.envs = append(slices.Clip(envs), "BINLAKE_CLOCK_SKEW="+skew)
		defer func() { e.envs = envs }()
		run()
	}
	e.db.Exec(t, "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY)")
	insert(1, base)
	// The wall clock around each writer's run: its commit times lie between
	// the two readings, moved by its skew.
	daemonFrom := time.Now()
	with("-1h", func() { e.catchUp(start) })
	compactorFrom := time.Now()
	with("1h", func() {
		if out, errs, code := e.runCmd("compact", "-c", e.config, "--force"); code != 0 {
			t.Fatalf("binlake compact: exit %d\n%s%s", code, out, errs)
		}
	})
	compactorTo := time.Now()
	insert(2, base.Add(10*time.Second))
	with("-1h", func() { e.catchUp("") })
	insert(3, base.Add(20*time.Second))
	with("-1h", func() { e.catchUp("") })

	l := tableformat.NewLog(store, tableformat.LogOptions{})
	st, err := l.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var prev time.Time
	kinds := map[tableformat.EntryKind]int{}
	for v := int64(1); v <= st.Version; v++ {
		en, err := l.Entry(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		if !en.CommitTime.After(prev) {
			t.Errorf("version %d (%s) commit time %s is not after the previous one's, %s", v, en.Kind, en.CommitTime, prev)
		}
		prev = en.CommitTime
		kinds[en.Kind]++
		// The writers' clocks were skewed: the first daemon commits carry
		// its clock, an hour behind; the compactor's its own, ahead.
		switch {
		case en.Kind == tableformat.KindIngest && kinds[tableformat.KindCompaction] == 0 &&
			(en.CommitTime.Before(daemonFrom.Add(-time.Hour).Truncate(time.Microsecond)) || en.CommitTime.After(compactorFrom.Add(-time.Hour))):
			t.Errorf("version %d: the daemon's commit time %s is not an hour behind its run (%s to %s): BINLAKE_CLOCK_SKEW not in effect",
				v, en.CommitTime, daemonFrom, compactorFrom)
		case en.Kind == tableformat.KindCompaction &&
			(en.CommitTime.Before(compactorFrom.Add(time.Hour).Truncate(time.Microsecond)) || en.CommitTime.After(compactorTo.Add(time.Hour))):
			t.Errorf("version %d: the compactor's commit time %s is not an hour ahead of its run (%s to %s)", v, en.CommitTime, compactorFrom, compactorTo)
		}
	}
	if kinds[tableformat.KindCompaction] == 0 || kinds[tableformat.KindIngest] < 3 {
		t.Errorf("entries by kind %v: want the compactor's between the daemon's", kinds)
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{base.Add(5 * time.Second), "id\n1\n"},
		{base.Add(15 * time.Second), "id\n1\n2\n"},
		{base.Add(25 * time.Second), "id\n1\n2\n3\n"},
	} {
		out, errs, code := e.runCmd("query", "-c", e.config, "--format", "csv", "--as-of", tc.at.Format(time.RFC3339), "SELECT id FROM shop.t ORDER BY id")
		if code != 0 || out != tc.want {
			t.Errorf("as of %s (source time): exit %d, %q, want %q %s", tc.at.Format(time.RFC3339), code, out, tc.want, errs)
		}
	}
}
