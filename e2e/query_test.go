package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// The query layer end to end: the lake read through `binlake query` and
// `binlake serve` as CSV, compared byte for byte with an oracle rendered
// here from the workload's model, following docs/query.md (never from the
// product's formatting code).

// ---- the CSV oracle (docs/query.md "Output") ----

// csvText is one value's text: decimals with their scale (the model keeps
// the canonical text), DATE 2006-01-02, DATETIME without a zone, TIMESTAMP
// in UTC with Z, TIME [-]HH:MM:SS[.ffffff] never wrapped, binary values \x
// and lower-case hex, floats as the shortest text of their bit size.
func csvText(kind string, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return `\x` + hex.EncodeToString(x)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case uint64:
		return strconv.FormatUint(x, 10)
	case int32:
		if kind != "date" {
			panic("int32 value of a " + kind + " column")
		}
		return time.Unix(int64(x)*86400, 0).UTC().Format("2006-01-02")
	case int64:
		switch kind {
		case "datetime":
			return time.UnixMicro(x).UTC().Format("2006-01-02T15:04:05.999999")
		case "timestamp":
			return time.UnixMicro(x).UTC().Format("2006-01-02T15:04:05.999999Z")
		case "time":
			sign := ""
			if x < 0 {
				sign, x = "-", -x
			}
			s := fmt.Sprintf("%s%02d:%02d:%02d", sign, x/3_600_000_000, x/60_000_000%60, x/1_000_000%60)
			if f := x % 1_000_000; f != 0 {
				s += strings.TrimRight(fmt.Sprintf(".%06d", f), "0")
			}
			return s
		}
		return strconv.FormatInt(x, 10)
	}
	panic(fmt.Sprintf("no CSV text for %T (%s)", v, kind))
}

// csvField is one RFC 4180 field: NULL empty and unquoted, an empty string
// "", quotes around a field holding a comma, a quote, CR or LF.
func csvField(v any, null bool) string {
	s, _ := v.(string)
	switch {
	case null:
		return ""
	case s == "" || strings.ContainsAny(s, ",\"\r\n"):
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

func csvLine(fields []string) string { return strings.Join(fields, ",") + "\n" }

// renderTable is the CSV of `SELECT * FROM shop.<t> ORDER BY id` (keyed) or
// of `SELECT * FROM shop.<t>` with its records sorted (keyless).
func renderTable(t *mtable) string {
	hdr := make([]string, len(t.cols))
	for i, c := range t.cols {
		hdr[i] = csvField(c.name, false)
	}
	line := func(r []cell) string {
		f := make([]string, len(r))
		for i, c := range r {
			if c.lake == nil {
				f[i] = csvField(nil, true)
			} else {
				f[i] = csvField(csvText(kindOf(t.cols[i].typ.sql), c.lake), false)
			}
		}
		return csvLine(f)
	}
	var recs []string
	if t.keyed {
		for _, k := range slices.Sorted(maps.Keys(t.rows)) {
			recs = append(recs, line(t.rows[k]))
		}
	} else {
		for _, r := range t.bag {
			recs = append(recs, line(r))
		}
		slices.Sort(recs)
	}
	return csvLine(hdr) + strings.Join(recs, "")
}

// csvRecords splits CSV text into its records (each with its "\n"),
// honouring quoted fields that hold line breaks.
func csvRecords(s string) []string {
	var recs []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\n':
			if !quoted {
				recs = append(recs, s[start:i+1])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		recs = append(recs, s[start:])
	}
	return recs
}

// sortRecords sorts every record after the header line.
func sortRecords(s string) string {
	recs := csvRecords(s)
	if len(recs) > 1 {
		slices.Sort(recs[1:])
	}
	return strings.Join(recs, "")
}

// csvFields splits one record into its fields as written (quotes kept).
func csvFields(rec string) []string {
	rec = strings.TrimSuffix(rec, "\n")
	var fields []string
	quoted, start := false, 0
	for i := 0; i < len(rec); i++ {
		switch rec[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				fields = append(fields, rec[start:i])
				start = i + 1
			}
		}
	}
	return append(fields, rec[start:])
}

// csvDiff describes where got and want first differ, record by record.
func csvDiff(got, want string) string {
	g, w := csvRecords(got), csvRecords(want)
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			where := ""
			if fa, fb := csvFields(a), csvFields(b); len(w) > 0 && len(fa) == len(fb) {
				hdr := csvFields(w[0])
				for j := range fa {
					if fa[j] != fb[j] && j < len(hdr) {
						where = fmt.Sprintf(" (column %s: got %s, want %s)", hdr[j], fa[j], fb[j])
						break
					}
				}
			}
			return fmt.Sprintf("%d records, want %d; first difference at record %d%s:\n got %q\nwant %q", len(g), len(w), i, where, a, b)
		}
	}
	return "same records"
}

// ---- running the binary and the server ----

// querier runs `binlake query` and talks to one `binlake serve`.
type querier struct {
	t    *testing.T
	e    *env
	envs []string
	addr string // the server's host:port, once started
}

func newQuerier(t *testing.T, e *env) *querier {
	return &querier{t: t, e: e, envs: append(slices.Clone(e.envs), "BINLAKE_QUERY_CACHE_DIR="+t.TempDir())}
}

// query runs `binlake query -c … --format csv args… sql`: its stdout,
// stderr and exit code.
func (q *querier) query(sql string, args ...string) (string, string, int) {
	cmd := exec.Command(binary, append(append([]string{"query", "-c", q.e.config, "--format", "csv"}, args...), sql)...)
	var out, errb bytes.Buffer
	cmd.Env, cmd.Stdout, cmd.Stderr = q.envs, &out, &errb
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		return "", "binlake query: " + err.Error(), -1
	}
	return out.String(), errb.String(), code
}

// serve starts `binlake serve` and waits until it answers /healthz.
func (q *querier) serve() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		q.t.Fatal(err)
	}
	q.addr = ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(q.e.logDir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		q.t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "-c", q.e.config)
	// Local snapshots of every view that merges any delta: the server's
	// later answers (and the binary's, which shares the cache) read them.
	cmd.Env = append(slices.Clone(q.envs), "BINLAKE_SERVE_LISTEN="+q.addr, "BINLAKE_SERVE_MAX_CONCURRENT=2",
		"BINLAKE_QUERY_MATERIALIZE_ROWS=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		q.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	q.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if q.t.Failed() {
			b, _ := os.ReadFile(logPath)
			q.t.Logf("--- serve.log ---\n%s", lastLines(string(b), 30))
		}
	})
	testenv.Eventually(q.t, 2*time.Minute, "binlake serve answering /healthz", func() error {
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			q.t.Fatalf("binlake serve exited:\n%s", b)
		default:
		}
		resp, err := http.Get("http://" + q.addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

// post sends POST /query with sql, format=csv and the point parameters:
// the status, the body and the X-Binlake-Error trailer.
func (q *querier) post(sql string, point url.Values) (int, string, string) {
	status, body, trailer, _ := q.postVersion(sql, point)
	return status, body, trailer
}

// postVersion is post, with the answer's X-Binlake-Version header.
func (q *querier) postVersion(sql string, point url.Values) (int, string, string, string) {
	form := url.Values{"sql": {sql}, "format": {"csv"}}
	for k, v := range point {
		form[k] = v
	}
	resp, err := http.PostForm("http://"+q.addr+"/query", form)
	if err != nil {
		return 0, "", "POST /query: " + err.Error(), ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", "POST /query: reading the answer: " + err.Error(), ""
	}
	return resp.StatusCode, string(b), resp.Trailer.Get("X-Binlake-Error"), resp.Header.Get("X-Binlake-Version")
}

// dq quotes a DuckDB identifier.
func dq(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// expectTables renders the workload's tables as they are now, as CSV (a
// table unchanged since an earlier call is rendered once: cache).
func expectTables(w *workload, cache map[*tableSnap]expTable) map[string]expTable {
	m := map[string]expTable{}
	for _, tb := range w.tables {
		x, ok := cache[tb.snap]
		if !ok {
			x = expTable{csv: renderTable(tb), keyed: tb.keyed}
			cache[tb.snap] = x
		}
		m[tb.name] = x
	}
	return m
}

// checkTable runs `binlake query` for table name as of a point (flag and
// value) and compares its CSV with x.
func (q *querier) checkTable(name string, x expTable, flag, value string) error {
	out, stderr, code := q.query(x.sql(name), flag, value)
	if code != 0 {
		return fmt.Errorf("shop.%s as of %s %s: exit %d: %s", name, flag, value, code, stderr)
	}
	if got := x.normalize(out); got != x.csv {
		return fmt.Errorf("shop.%s as of %s %s:\n%s", name, flag, value, csvDiff(got, x.csv))
	}
	return nil
}

// ---- the lake's commit log: where each source transaction landed ----

type txnPlace struct {
	version int64
	last    bool  // the last transaction of its version
	seq     int64 // its last change sequence
	ts      int64 // its effective commit time, µs
}

// txnPlaces reads the whole log: each GTID's version and mark.
func txnPlaces(t *testing.T, store tableformat.Store) map[string]txnPlace {
	ctx := context.Background()
	l := tableformat.NewLog(store, tableformat.LogOptions{})
	latest, err := l.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]txnPlace{}
	for _, r := range latest.Lineage {
		for v := r.From; v <= r.To; v++ {
			e, err := l.Entry(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range e.Txns {
				if m.GTID != "" {
					places[m.GTID] = txnPlace{version: v, last: i == len(e.Txns)-1, seq: m.Seq, ts: m.TS}
				}
			}
		}
	}
	return places
}

// ---- as of moments ----

// expTable is one table's expected CSV at a moment.
type expTable struct {
	csv   string
	keyed bool
}

func (x expTable) sql(name string) string {
	if x.keyed {
		return "SELECT * FROM shop." + dq(name) + " ORDER BY id"
	}
	return "SELECT * FROM shop." + dq(name)
}

// normalize orders a keyless table's records as the oracle does.
func (x expTable) normalize(got string) string {
	if x.keyed {
		return got
	}
	return sortRecords(got)
}

// spread picks n indexes among candidates, evenly, always the last one.
func spread(candidates []int, n int) []int {
	if len(candidates) <= n {
		return candidates
	}
	var out []int
	for k := range n {
		i := candidates[(k+1)*len(candidates)/n-1]
		if len(out) == 0 || out[len(out)-1] != i {
			out = append(out, i)
		}
	}
	return out
}

// TestQueryAsOfMatchesWorkload: the randomized workload (with DDL), each step
// at a source time the test sets (SET timestamp: mostly forward, sometimes
// the same second, sometimes back, so the lake's effective time — the
// running maximum — matters), mirrored by `binlake ingest
// --exit-when-caught-up` after each of several chunks of it.
// For a sample of recorded moments and every table existing then, `binlake
// query --format csv` (and POST /query of `binlake serve`) as of the
// moment's GTID, lake version and time equals the model's contents
// rendered as CSV here; names not in use then fail naming the table.
func TestQueryAsOfMatchesWorkload(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	start := binlogPos(t, e.db)
	w := newWorkload(t, e.db, 1)
	w.ddlEvery = 9
	rnd := rand.New(rand.NewPCG(21, 5))
	const steps = 200
	srcTS := time.Now().Add(time.Hour).Unix() // later than the CREATEs of newWorkload
	var (
		eff   []int64                     // each moment's effective time (s): running max of srcTS
		exps  []map[string]expTable       // each moment's tables
		cache = map[*tableSnap]expTable{} // a table's rendering while it is unchanged
	)
	// The lake gets the workload in chunks of random sizes, one run of the
	// daemon each: lake versions end at known moments (a caught-up run
	// commits whole chunks), some holding a single transaction.
	var ingestTime time.Duration
	for len(w.moments) < steps {
		for range min(1+rnd.IntN(30), steps-len(w.moments)) {
			switch r := rnd.IntN(10); {
			case r < 3: // the same second as the step before
			case r == 3:
				srcTS -= 1 + rnd.Int64N(3) // the source's clock goes back
			default:
				srcTS += 1 + rnd.Int64N(2)
			}
			w.exec(ctx, fmt.Sprintf("SET timestamp = %d", srcTS))
			w.txn(ctx)
			exps = append(exps, expectTables(w, cache))
			prev := int64(0)
			if len(eff) > 0 {
				prev = eff[len(eff)-1]
			}
			eff = append(eff, max(prev, srcTS))
		}
		t0 := time.Now()
		e.catchUp(start)
		ingestTime += time.Since(t0)
	}
	if len(w.moments) != steps {
		t.Fatalf("%d moments recorded for %d steps", len(w.moments), steps)
	}
	t.Logf("workload: %v; %d ingest runs, %v", w.stats, e.runs, ingestTime.Round(time.Millisecond))

	// Where each moment landed. The lake's effective time of each
	// transaction must be the running maximum of the times the source
	// stamped (second resolution).
	places := txnPlaces(t, e.store())
	var versionEnds, timeOK, all []int
	for i, m := range w.moments {
		p, ok := places[m.gtid]
		if !ok {
			t.Fatalf("moment %d (%s, %s): no transaction mark in the lake's log", i, m.gtid, m.what)
		}
		if p.ts != eff[i]*1e6 {
			t.Errorf("moment %d (%s, %s): the lake's effective time is %s, want %s (the running maximum of the source's commit times)",
				i, m.gtid, m.what, time.UnixMicro(p.ts).UTC().Format(time.RFC3339Nano), time.Unix(eff[i], 0).UTC().Format(time.RFC3339))
		}
		all = append(all, i)
		if p.last {
			versionEnds = append(versionEnds, i)
		}
		if i == len(w.moments)-1 || eff[i+1] > eff[i] {
			timeOK = append(timeOK, i)
		}
	}
	t.Logf("%d moments: %d end a lake version, %d end their second of effective time", len(all), len(versionEnds), len(timeOK))
	if t.Failed() {
		t.FailNow()
	}

	type point struct {
		kind, flag, param, value string
	}
	points := func(i int) map[string]point {
		m := w.moments[i]
		ps := map[string]point{"gtid": {"gtid", "--as-of-gtid", "as_of_gtid", m.gtid}}
		if slices.Contains(versionEnds, i) {
			v := strconv.FormatInt(places[m.gtid].version, 10)
			ps["version"] = point{"version", "--as-of-version", "as_of_version", v}
		}
		if slices.Contains(timeOK, i) {
			// Inside the second: every transaction at or before it.
			at := time.Unix(eff[i], 0).UTC()
			if i%2 == 1 {
				at = at.Add(999 * time.Millisecond)
			}
			ps["time"] = point{"time", "--as-of", "as_of", at.Format(time.RFC3339Nano)}
		}
		return ps
	}

	// One check: the table name (absent: a name not in use then) through
	// the binary or the server as of a point.
	type job struct {
		via    string // binary or server
		i      int    // the moment
		p      point
		name   string
		absent bool
	}
	var jobs []job
	plan := func(via string, perKind map[string]int, maxAbsent int) {
		for _, kind := range []string{"gtid", "version", "time"} {
			cands := map[string][]int{"gtid": all, "version": versionEnds, "time": timeOK}[kind]
			for _, i := range spread(cands, perKind[kind]) {
				p := points(i)[kind]
				for _, name := range slices.Sorted(maps.Keys(exps[i])) {
					jobs = append(jobs, job{via, i, p, name, false})
				}
				for j, name := range w.moments[i].absent {
					if j == maxAbsent {
						break
					}
					jobs = append(jobs, job{via, i, p, name, true})
				}
			}
		}
	}
	q := newQuerier(t, e)
	run := func(jb job) error {
		m := w.moments[jb.i]
		at := fmt.Sprintf("%s as of %s %s (moment %d: %s, %s)", jb.via, jb.p.kind, jb.p.value, jb.i, m.gtid, m.what)
		stmt := "SELECT * FROM shop." + dq(jb.name)
		x := exps[jb.i][jb.name]
		if !jb.absent {
			stmt = x.sql(jb.name)
		}
		var got, msg string
		var ok bool
		if jb.via == "binary" {
			out, stderr, code := q.query(stmt, jb.p.flag, jb.p.value)
			got, msg, ok = out, stderr, code == 0
			if jb.absent && code != 1 {
				return fmt.Errorf("%s, %q (no such table then): exit %d, want 1; stdout %q, stderr %q", at, stmt, code, out, stderr)
			}
		} else {
			status, body, trailer, version := q.postVersion(stmt, url.Values{jb.p.param: {jb.p.value}})
			got, msg, ok = body, body+trailer, status == http.StatusOK && trailer == ""
			if ok && jb.p.kind == "version" && version != jb.p.value {
				return fmt.Errorf("%s, %q: X-Binlake-Version %q, want %s", at, stmt, version, jb.p.value)
			}
			if jb.absent && status != http.StatusBadRequest {
				return fmt.Errorf("%s, %q (no such table then): status %d, want 400: %s", at, stmt, status, body)
			}
		}
		if jb.absent {
			if !strings.Contains(msg, jb.name) {
				return fmt.Errorf("%s, %q: the error does not name %s: %s", at, stmt, jb.name, msg)
			}
			return nil
		}
		if !ok {
			return fmt.Errorf("%s, %q: failed: %s", at, stmt, msg)
		}
		if got = x.normalize(got); got != x.csv {
			return fmt.Errorf("%s, %q:\n%s", at, stmt, csvDiff(got, x.csv))
		}
		return nil
	}
	// Two at a time (two cores); the first failures are reported.
	runAll := func() {
		var (
			mu   sync.Mutex
			errs []error
			wg   sync.WaitGroup
		)
		next := make(chan job)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for jb := range next {
					if err := run(jb); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			}()
		}
		for _, jb := range jobs {
			mu.Lock()
			n := len(errs)
			mu.Unlock()
			if n >= 3 {
				break
			}
			next <- jb
		}
		close(next)
		wg.Wait()
		for _, err := range errs {
			t.Error(err)
		}
		if len(errs) > 0 {
			t.FailNow()
		}
	}
	count := func() map[string]int {
		c := map[string]int{}
		moments := map[string]map[int]bool{}
		for _, jb := range jobs {
			k := jb.via + " " + jb.p.kind
			if moments[k] == nil {
				moments[k] = map[int]bool{}
			}
			moments[k][jb.i] = true
			if jb.absent {
				c[k+" absent"]++
			} else {
				c[k+" tables"]++
			}
		}
		for k, m := range moments {
			c[k+" moments"] = len(m)
		}
		return c
	}

	// Moments spread over the history, the last one included: through the
	// binary 6 as of their GTID, 5 as of their version and 5 as of their
	// time, one absent name each; through the server 10 of each kind, two
	// absent names each. (Each answer opens a DuckDB session: about 0.2 s
	// of CPU for a process, 0.1 s for the server.)
	t1 := time.Now()
	plan("binary", map[string]int{"gtid": 6, "version": 5, "time": 5}, 1)
	runAll()
	t.Logf("binary: %d runs in %v: %v", len(jobs), time.Since(t1).Round(time.Millisecond), count())
	t2 := time.Now()
	jobs = nil
	q.serve()
	plan("server", map[string]int{"gtid": 10, "version": 10, "time": 10}, 2)
	runAll()
	t.Logf("server: %d queries in %v: %v", len(jobs), time.Since(t2).Round(time.Millisecond), count())

	// The server writes local snapshots (query.materialize_rows 1) in the
	// background; the binary, sharing its cache, reads them for the points
	// at or after theirs.
	var written int
	testenv.Eventually(t, 2*time.Minute, "a local snapshot written by the server", func() error {
		b, err := os.ReadFile(filepath.Join(e.logDir, "serve.log"))
		if err != nil {
			t.Fatal(err)
		}
		if written = strings.Count(string(b), "local snapshot written"); written == 0 {
			return fmt.Errorf("none in serve.log:\n%s", lastLines(string(b), 20))
		}
		return nil
	})
	t.Logf("the server wrote %d local snapshots", written)
	t3 := time.Now()
	jobs = nil
	plan("binary", map[string]int{"gtid": 4, "version": 4, "time": 4}, 0)
	runAll()
	t.Logf("binary again, on the local snapshots: %d runs in %v", len(jobs), time.Since(t3).Round(time.Millisecond))
}

// ---- the change feed ----

// feedChange is one row of shop.orders_changes: its op and row image as
// CSV fields.
type feedChange struct {
	op  string
	row []string
}

// TestQueryChangeFeedMatchesWorkload: a keyed table without DDL gets random
// transactions (inserts of several rows, updates of values and of the key,
// deletes of rows written long before, several statements on one row in a
// transaction), ingested in two runs. shop.orders_changes between the
// sequences of two GTIDs equals the row changes those transactions made, in
// order, as CSV: an update is its update_before then its update_after, a
// delete carries the whole row.
func TestQueryChangeFeedMatchesWorkload(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	start := binlogPos(t, e.db)
	conn, err := e.db.RootDB(t, "").Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	run := func(c interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}, q string) {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	lastGTID := func() string {
		var g string
		if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	base := time.Now().Add(time.Hour).Unix()
	run(conn, fmt.Sprintf("SET timestamp = %d", base))
	run(conn, "CREATE DATABASE shop")
	run(conn, "CREATE TABLE shop.orders (id BIGINT NOT NULL PRIMARY KEY, qty INT NOT NULL, "+
		"note VARCHAR(40) CHARACTER SET utf8mb4 NULL, amt DECIMAL(10,2) NULL, at DATETIME(6) NULL, raw VARBINARY(8) NULL)")
	createGTID := lastGTID()

	rnd := rand.New(rand.NewPCG(8, 8))
	notes := []string{"", "plain", "a,b", `say "hi"`, "two\nlines", "é✓ 中", " lead", "x'y"}
	type orow struct {
		lits   []string // SQL literals of the non-key columns
		fields []string // CSV fields of the whole row, id first
	}
	rows := map[int64]orow{}
	newRow := func(id int64) orow {
		qty := rnd.IntN(2001) - 1000
		f := []string{strconv.FormatInt(id, 10), strconv.Itoa(qty)}
		lit := []string{strconv.Itoa(qty)}
		if rnd.IntN(5) == 0 {
			f, lit = append(f, ""), append(lit, "NULL")
		} else {
			n := notes[rnd.IntN(len(notes))]
			f, lit = append(f, csvField(n, false)), append(lit, quote(n))
		}
		if rnd.IntN(5) == 0 {
			f, lit = append(f, ""), append(lit, "NULL")
		} else {
			cents := rnd.Int64N(2e9) - 1e9
			d := fmt.Sprintf("%d.%02d", cents/100, max(cents, -cents)%100)
			if cents < 0 && cents > -100 {
				d = "-" + d
			}
			f, lit = append(f, d), append(lit, d)
		}
		if rnd.IntN(5) == 0 {
			f, lit = append(f, ""), append(lit, "NULL")
		} else {
			us := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() + rnd.Int64N(40*365*86400e6)
			if rnd.IntN(2) == 0 {
				us -= us % 1e6
			}
			f = append(f, csvText("datetime", us))
			lit = append(lit, "'"+time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.000000")+"'")
		}
		if rnd.IntN(5) == 0 {
			f, lit = append(f, ""), append(lit, "NULL")
		} else {
			b := make([]byte, rnd.IntN(9))
			for i := range b {
				b[i] = byte(rnd.IntN(256))
			}
			f, lit = append(f, csvText("varbinary", b)), append(lit, "X'"+hex.EncodeToString(b)+"'")
		}
		return orow{lits: lit, fields: f}
	}
	var (
		gtids   []string
		changes [][]feedChange // each transaction's changes
		txnTS   []int64
		nextID  int64
	)
	txn := func(i int) {
		ts := base + 1 + int64(i)
		run(conn, fmt.Sprintf("SET timestamp = %d", ts))
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var cs []feedChange
		keys := slices.Sorted(maps.Keys(rows))
		some := func(n int) []int64 { // n distinct keys, ascending
			p := rnd.Perm(len(keys))[:min(n, len(keys))]
			ks := make([]int64, len(p))
			for j, x := range p {
				ks[j] = keys[x]
			}
			slices.Sort(ks)
			return ks
		}
		in := func(ks []int64) string {
			s := make([]string, len(ks))
			for j, k := range ks {
				s[j] = strconv.FormatInt(k, 10)
			}
			return strings.Join(s, ", ")
		}
		for range 1 + rnd.IntN(3) {
			keys = slices.Sorted(maps.Keys(rows))
			switch r := rnd.IntN(10); {
			case r < 4 || len(keys) < 3: // insert 1–3 rows
				var vals []string
				for range 1 + rnd.IntN(3) {
					nextID++
					row := newRow(nextID)
					rows[nextID] = row
					vals = append(vals, fmt.Sprintf("(%d, %s)", nextID, strings.Join(row.lits, ", ")))
					cs = append(cs, feedChange{"insert", row.fields})
				}
				run(tx, "INSERT INTO shop.orders (id, qty, note, amt, at, raw) VALUES "+strings.Join(vals, ", "))
			case r < 6: // new values for 1–2 rows, one statement each
				for _, k := range some(1 + rnd.IntN(2)) {
					old, row := rows[k], newRow(k)
					sets := make([]string, len(row.lits))
					for j, c := range []string{"qty", "note", "amt", "at", "raw"} {
						sets[j] = c + " = " + row.lits[j]
					}
					run(tx, fmt.Sprintf("UPDATE shop.orders SET %s WHERE id = %d", strings.Join(sets, ", "), k))
					rows[k] = row
					cs = append(cs, feedChange{"update_before", old.fields}, feedChange{"update_after", row.fields})
				}
			case r < 7: // one statement, several rows: qty + 1
				ks := some(2 + rnd.IntN(2))
				run(tx, fmt.Sprintf("UPDATE shop.orders SET qty = qty + 1 WHERE id IN (%s)", in(ks)))
				for _, k := range ks {
					old := rows[k]
					row := orow{lits: slices.Clone(old.lits), fields: slices.Clone(old.fields)}
					q, _ := strconv.Atoi(old.fields[1])
					row.fields[1] = strconv.Itoa(q + 1)
					row.lits[0] = row.fields[1]
					rows[k] = row
					cs = append(cs, feedChange{"update_before", old.fields}, feedChange{"update_after", row.fields})
				}
			case r < 8: // a new key
				k := some(1)[0]
				nextID++
				old := rows[k]
				row := orow{lits: old.lits, fields: slices.Clone(old.fields)}
				row.fields[0] = strconv.FormatInt(nextID, 10)
				run(tx, fmt.Sprintf("UPDATE shop.orders SET id = %d WHERE id = %d", nextID, k))
				delete(rows, k)
				rows[nextID] = row
				cs = append(cs, feedChange{"update_before", old.fields}, feedChange{"update_after", row.fields})
			default: // delete 1–2 rows in one statement
				ks := some(1 + rnd.IntN(2))
				run(tx, fmt.Sprintf("DELETE FROM shop.orders WHERE id IN (%s)", in(ks)))
				for _, k := range ks {
					cs = append(cs, feedChange{"delete", rows[k].fields})
					delete(rows, k)
				}
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		gtids = append(gtids, lastGTID())
		changes = append(changes, cs)
		txnTS = append(txnTS, ts)
	}
	// Two runs of the daemon: deletes and updates in the second read the
	// images of rows the first wrote.
	const n = 80
	for i := range n / 2 {
		txn(i)
	}
	if err := e.ingest("--exit-when-caught-up", "--start-gtid", start).Wait(); err != nil {
		t.Fatalf("binlake ingest: %v", err)
	}
	for i := n / 2; i < n; i++ {
		txn(i)
	}
	if err := e.ingest("--exit-when-caught-up").Wait(); err != nil {
		t.Fatalf("binlake ingest (second run): %v", err)
	}
	places := txnPlaces(t, e.store())

	// want renders the feed after transaction a (-1: the CREATE TABLE)
	// up to transaction b: each transaction's changes have consecutive
	// sequences ending at its mark's.
	want := func(a, b int, withTS bool) string {
		hdr := []string{"_binlake_seq", "_binlake_op", "id", "qty", "note", "amt", "at", "raw"}
		if withTS {
			hdr = slices.Insert(hdr, 1, "_binlake_ts")
		}
		s := csvLine(hdr)
		for i := a + 1; i <= b; i++ {
			p, ok := places[gtids[i]]
			if !ok {
				t.Fatalf("transaction %s: no mark in the lake's log", gtids[i])
			}
			nrow := 0
			for _, c := range changes[i] {
				if c.op != "update_after" {
					nrow++
				}
			}
			seq := p.seq - int64(nrow)
			for _, c := range changes[i] {
				if c.op != "update_after" {
					seq++
				}
				f := []string{strconv.FormatInt(seq, 10)}
				if withTS {
					f = append(f, csvText("timestamp", txnTS[i]*1e6))
				}
				s += csvLine(append(append(f, c.op), c.row...))
			}
		}
		return s
	}
	gtidOf := func(i int) string {
		if i < 0 {
			return createGTID
		}
		return gtids[i]
	}
	feedSQL := func(a, b int, withTS bool) string {
		sel := "* EXCLUDE (_binlake_ts)"
		if withTS {
			sel = "*"
		}
		return fmt.Sprintf("SELECT %s FROM shop.orders_changes(binlake_seq_at_gtid('%s'), binlake_seq_at_gtid('%s'))", sel, gtidOf(a), gtidOf(b))
	}
	q := newQuerier(t, e)
	pairs := [][2]int{{-1, n - 1}, {n/2 - 3, n/2 + 2}, {10, 11}, {25, 25}}
	for _, pr := range pairs {
		stmt := feedSQL(pr[0], pr[1], pr == pairs[0])
		got, stderr, code := q.query(stmt)
		if code != 0 {
			t.Fatalf("binlake query %q: exit %d: %s", stmt, code, stderr)
		}
		if w := want(pr[0], pr[1], pr == pairs[0]); got != w {
			t.Fatalf("binlake query %q:\n%s", stmt, csvDiff(got, w))
		}
	}
	q.serve()
	served := 0
	for range 30 {
		a := rnd.IntN(n+1) - 1
		b := a + rnd.IntN(n-a)
		// Any point of the lake sees the same feed up to it; the feed is
		// asked of the latest point and of the point b itself.
		point := url.Values{}
		if rnd.IntN(2) == 0 {
			point.Set("as_of_gtid", gtidOf(b))
		}
		stmt := feedSQL(a, b, false)
		status, body, trailer := q.post(stmt, point)
		if status != http.StatusOK || trailer != "" {
			t.Fatalf("POST /query %q %v: %d %s (trailer %q)", stmt, point, status, body, trailer)
		}
		if w := want(a, b, false); body != w {
			t.Fatalf("POST /query %q %v:\n%s", stmt, point, csvDiff(body, w))
		}
		served++
	}
	total := 0
	for _, cs := range changes {
		total += len(cs)
	}
	t.Logf("%d transactions, %d change rows; %d feeds through the binary, %d through the server", n, total, len(pairs), served)
}
