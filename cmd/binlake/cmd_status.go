package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// daemonTimeout bounds the call to the daemon's /status.
const daemonTimeout = 2 * time.Second

// statusReport is `binlake status`: the lake (from storage) and the daemon
// (from its /status, when it answers).
type statusReport struct {
	Lake lakeStatus `json:"lake"`
	// Tables are the tables --table chose (every table without it);
	// absent with --summary.
	Tables  []tableStatus `json:"tables,omitzero"`
	Summary listSummary   `json:"summary"`
	Daemon  daemonView    `json:"daemon"`
}

// lakeStatus is what the lake's latest state says.
type lakeStatus struct {
	URL        string `json:"url"`
	Version    int64  `json:"version"`
	CommitTime string `json:"commit_time"`
	Kind       string `json:"kind"` // of the last commit
	Position   string `json:"position,omitempty"`
	GTIDSet    string `json:"gtid_set,omitempty"`
	MaxSeq     int64  `json:"max_seq"`
	// SourceTime is the newest source commit time in the lake.
	SourceTime string `json:"source_time,omitempty"`
	// Retention is where retained history starts; absent before a vacuum.
	Retention *retentionStatus `json:"retention,omitempty"`
	// Resnapshots are the re-snapshots in progress, in the order the
	// daemon performs them; Gaps the stretches of history the lake does
	// not have (docs/guarantees.md). With --table, the re-snapshots of the
	// tables matched only; the gaps, which hold for every table, all.
	Resnapshots []resnapshotStatus `json:"resnapshots"`
	Gaps        []gapStatus        `json:"gaps"`
}

// resnapshotStatus is a re-snapshot in progress.
type resnapshotStatus struct {
	Table  string `json:"table"` // db.table
	Reason string `json:"reason"`
	Chunks int    `json:"chunks"`    // committed chunks
	Rows   int64  `json:"rows"`      // rows in them
	Read   bool   `json:"read"`      // every chunk is read: comparing
	Since  int64  `json:"since_seq"` // requested_seq
}

// gapStatus is a gap in the lake's history.
type gapStatus struct {
	Reason   string `json:"reason"`
	AfterSeq int64  `json:"after_seq"`
	UntilSeq int64  `json:"until_seq,omitempty"` // 0: open
	From     string `json:"from"`
	To       string `json:"to"`
	// Pending are the tables the gap waits for (those --table matches);
	// PendingOther counts the ones --table leaves out.
	Pending      []string `json:"pending,omitempty"`
	PendingOther int      `json:"pending_other,omitempty"`
}

type retentionStatus struct {
	FromTime string `json:"from_time"`
	FromSeq  int64  `json:"from_seq"`
}

// tableStatus is one table: the counts of `binlake tables` (makeTableRow),
// and its newest snapshot.
type tableStatus struct {
	Table string `json:"table"` // db.table
	ID    int64  `json:"table_id"`
	Files int    `json:"files"`
	tableCounts
	// LastSnapshotSeq is the change sequence of the newest materialized
	// snapshot (compaction or initial snapshot); 0: none.
	LastSnapshotSeq int64 `json:"last_snapshot_seq"`
}

// daemonView is what the daemon said, or why it said nothing.
type daemonView struct {
	Address   string        `json:"address,omitempty"`
	Reachable bool          `json:"reachable"`
	Error     string        `json:"error,omitempty"`
	Status    *daemonReport `json:"status,omitempty"`
}

func runStatus(ctx context.Context, env *cliEnv, args []string) error {
	rc := newReadCommand(env, "status", "-c binlake.yaml [--format table|json] [--daemon HOST:PORT] [--table PATTERN]... [--summary]")
	daemonAddr := rc.fs.String("daemon", "", "address of the ingest daemon's ops server (default: ingest.listen)")
	var patterns tablePatterns
	rc.fs.Var(&patterns, "table", tablePatternUsage("show"))
	summaryOnly := rc.fs.Bool("summary", false, "show the summary of the tables (in all and per database) instead of every table, "+
		"and the number of re-snapshots in progress instead of each")
	rc.fs.Lookup("format").Usage = "output format: table or json (one object)"
	lk, st, err := rc.open(ctx, env, args)
	if err != nil {
		return err
	}
	defer lk.store.Close()
	chosen, total, err := selectTables(st, patterns, nil)
	if err != nil {
		return err
	}
	rep := statusReport{Lake: makeLakeStatus(lakeURL(lk.cfg), st, patterns)}
	e, err := lk.log.Entry(ctx, st.Version)
	if err != nil {
		return fmt.Errorf("read the last commit: %w", err)
	}
	rep.Lake.Kind = string(e.Kind)
	rows := make([]tableRow, 0, len(chosen))
	for _, t := range chosen {
		rows = append(rows, makeTableRow(t))
	}
	rep.Summary = summarize(total, patterns, rows)
	if !*summaryOnly {
		rep.Tables = make([]tableStatus, 0, len(chosen))
		for i, t := range chosen {
			rep.Tables = append(rep.Tables, makeTableStatus(t, rows[i]))
		}
	}
	addr := *daemonAddr
	if addr == "" {
		addr = lk.cfg.Ingest.Listen
	}
	rep.Daemon = askDaemon(ctx, addr)
	if *rc.format == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	return writeStatus(env.stdout, rep, time.Now(), *summaryOnly)
}

// makeLakeStatus is what the lake's state st says, its re-snapshots and
// the tables its gaps wait for narrowed to the tables patterns match.
func makeLakeStatus(url string, st *tableformat.State, patterns []string) lakeStatus {
	chosen := func(name string) bool { return len(patterns) == 0 || matchName(patterns, name) }
	l := lakeStatus{URL: url, Version: st.Version, CommitTime: st.CommitTime.UTC().Format(timeLayout),
		Position: st.Progress.Position.FilePos(), GTIDSet: st.Progress.Position.GTIDSet, MaxSeq: st.Progress.MaxSeq}
	if st.Progress.MaxTS > 0 {
		l.SourceTime = time.UnixMicro(st.Progress.MaxTS).UTC().Format(timeLayout)
	}
	if r := st.Retention; r != nil {
		l.Retention = &retentionStatus{FromTime: r.FromTime.UTC().Format(timeLayout), FromSeq: r.FromSeq}
	}
	l.Resnapshots, l.Gaps = []resnapshotStatus{}, []gapStatus{}
	for _, j := range st.Resnapshots {
		if name := j.DB + "." + j.Name; chosen(name) {
			l.Resnapshots = append(l.Resnapshots, resnapshotStatus{Table: name, Reason: j.Reason, Chunks: len(j.Chunks),
				Rows: j.Rows(), Read: j.Read(), Since: j.RequestedSeq})
		}
	}
	for _, g := range st.Gaps {
		gs := gapStatus{Reason: g.Reason, AfterSeq: g.AfterSeq, UntilSeq: g.UntilSeq,
			From: positionText(g.From.FilePos(), g.From.GTIDSet), To: positionText(g.To.FilePos(), g.To.GTIDSet)}
		for _, p := range g.Pending {
			if chosen(p) {
				gs.Pending = append(gs.Pending, p)
			} else {
				gs.PendingOther++
			}
		}
		l.Gaps = append(l.Gaps, gs)
	}
	return l
}

// makeTableStatus takes the counts from makeTableRow (r, of t), so status
// and tables never disagree.
func makeTableStatus(t *tableformat.TableState, r tableRow) tableStatus {
	s := tableStatus{Table: r.DB + "." + r.Table, ID: r.ID, Files: r.DataFiles + r.DeleteFiles + r.SnapshotFiles, tableCounts: r.tableCounts}
	for _, f := range t.Files {
		if f.Kind == tableformat.FileSnapshot {
			s.LastSnapshotSeq = max(s.LastSnapshotSeq, f.AsOfSeq)
		}
	}
	return s
}

// askDaemon reads the daemon's /status at addr (host:port, as
// ingest.listen: an unspecified host means this machine).
func askDaemon(ctx context.Context, addr string) daemonView {
	if addr == "" {
		return daemonView{Error: "ingest.listen is empty: the daemon serves no status"}
	}
	v := daemonView{Address: dialAddress(addr)}
	ctx, cancel := context.WithTimeout(ctx, daemonTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+v.Address+"/status", nil)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the repeated URL
		}
		v.Error = err.Error()
		return v
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		v.Error = fmt.Sprintf("GET /status: %s (a binlake older than this one, or not binlake)", resp.Status)
		return v
	}
	var rep daemonReport
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rep); err != nil {
		v.Error = fmt.Sprintf("GET /status: %v", err)
		return v
	}
	v.Reachable, v.Status = true, &rep
	return v
}

// dialAddress turns a listen address into one to connect to: a missing or
// unspecified host (":9464", "0.0.0.0:9464") is this machine.
func dialAddress(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// writeStatus prints the report for a person; summaryOnly: the summary of
// the tables instead of each, the number of re-snapshots instead of each.
func writeStatus(w io.Writer, rep statusReport, now time.Time, summaryOnly bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	l := rep.Lake
	fmt.Fprintf(tw, "lake\t%s\n", l.URL)
	fmt.Fprintf(tw, "version\t%d (%s), committed %s\n", l.Version, l.Kind, l.CommitTime)
	fmt.Fprintf(tw, "position\t%s\n", positionText(l.Position, l.GTIDSet))
	fmt.Fprintf(tw, "source time\t%s\n", orText(l.SourceTime, "- (no source transaction yet)"))
	if l.Retention != nil {
		fmt.Fprintf(tw, "retention\thistory from %s (seq %d); older points were vacuumed\n", l.Retention.FromTime, l.Retention.FromSeq)
	} else {
		fmt.Fprintf(tw, "retention\tall history (never vacuumed)\n")
	}
	if summaryOnly && len(l.Resnapshots) > 0 {
		fmt.Fprintf(tw, "re-snapshots\t%d in progress (without --summary, status lists them)\n", len(l.Resnapshots))
	}
	for _, j := range l.Resnapshots {
		if summaryOnly {
			break
		}
		fmt.Fprintf(tw, "re-snapshot\t%s: %s (%s)\n", j.Table, resnapshotProgress(j.Read, j.Rows, j.Chunks), j.Reason)
	}
	for _, g := range l.Gaps {
		end := fmt.Sprintf("until seq %d", g.UntilSeq)
		if g.UntilSeq == 0 {
			end = "open until " + pendingText(g) + " are re-read"
		}
		fmt.Fprintf(tw, "gap\tafter seq %d (%s → %s), %s: %s\n", g.AfterSeq, g.From, g.To, end, g.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	writeDaemon(tw, rep.Daemon, now)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if rep.Summary.Tables == 0 {
		_, err := fmt.Fprintln(w, "no tables yet")
		return err
	}
	if summaryOnly {
		return writeSummary(w, rep.Summary)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS\tFILES\tBYTES\tDATA FILES/ROWS\tDELETE FILES/KEYS\tSNAPSHOT FILES/ROWS\tLAST SNAPSHOT SEQ")
	for _, t := range rep.Tables {
		snap := "-"
		if t.LastSnapshotSeq > 0 {
			snap = fmt.Sprint(t.LastSnapshotSeq)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d/%d\t%d/%d\t%d/%d\t%s\n", t.Table, rowsText(t.Rows, t.RowsExact, false), t.Files, humanBytes(t.Bytes),
			t.DataFiles, t.DataRows, t.DeleteFiles, t.DeleteRows, t.SnapshotFiles, t.SnapshotRows, snap)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return writeSummary(w, rep.Summary)
}

// pendingText names the tables an open gap waits for: at most maxNamed,
// then how many more, and how many --table left out.
func pendingText(g gapStatus) string {
	names := strings.Join(g.Pending[:min(len(g.Pending), maxNamed)], ", ")
	var more []string
	if n := len(g.Pending) - maxNamed; n > 0 {
		more = append(more, fmt.Sprintf("%d more", n))
	}
	if g.PendingOther > 0 {
		more = append(more, fmt.Sprintf("%d %s that --table leaves out", g.PendingOther, plural(g.PendingOther, "table")))
	}
	switch {
	case len(more) == 0:
		return names
	case names == "":
		return strings.Join(more, ", ")
	}
	return names + " and " + strings.Join(more, ", ")
}

// writeDaemon prints the daemon's lines of the report.
func writeDaemon(tw io.Writer, d daemonView, now time.Time) {
	if !d.Reachable {
		if d.Address == "" {
			fmt.Fprintf(tw, "daemon\tunknown: %s (showing the lake only)\n", d.Error)
			return
		}
		fmt.Fprintf(tw, "daemon\tnot reachable at %s (showing the lake only): %s\n", d.Address, d.Error)
		return
	}
	s := d.Status
	up := (time.Duration(s.UptimeSeconds) * time.Second).String()
	if s.Ready {
		fmt.Fprintf(tw, "daemon\tready, up %s (%s)\n", up, d.Address)
	} else {
		fmt.Fprintf(tw, "daemon\tNOT READY: %s; up %s (%s)\n", orText(s.Reason, "no reason given"), up, d.Address)
	}
	if v := s.Snapshot; v != nil {
		fmt.Fprintf(tw, "  snapshot\t%s\n", snapshotText(v))
	}
	if c := s.LastCommit; c != nil {
		src := ""
		if !c.SourceTime.IsZero() {
			src = ", source time " + c.SourceTime.Format(timeLayout)
		}
		lag := time.Duration(c.LagSeconds * float64(time.Second)).Round(time.Millisecond)
		fmt.Fprintf(tw, "  last commit\tversion %d%s, %s behind the source when committed\n", c.Version, src, lag)
	} else {
		fmt.Fprintf(tw, "  last commit\tnone since the daemon started\n")
	}
	switch {
	case s.LagBytes != nil:
		fmt.Fprintf(tw, "  binlog to read\t%s (measured %s ago)\n", humanBytes(*s.LagBytes), now.Sub(s.LagBytesAt).Round(time.Second))
	default:
		fmt.Fprintf(tw, "  binlog to read\tnot measured yet\n")
	}
	if s.LagBytesError != "" {
		fmt.Fprintf(tw, "  lag probe\tfailing: %s\n", s.LagBytesError)
	}
	if lv := s.Lake; lv != nil {
		fmt.Fprintf(tw, "  lake seen\tversion %d at %s (read %s ago)\n", lv.Version, positionText(lv.Position, lv.GTIDSet),
			now.Sub(lv.ReadAt).Round(time.Second))
	}
	if s.LastError != "" {
		fmt.Fprintf(tw, "  last error\t%s (%s)\n", s.LastError, s.LastErrorAt.Format(timeLayout))
	}
}

func positionText(filePos, gtid string) string {
	var parts []string
	if filePos != "" {
		parts = append(parts, filePos)
	}
	if gtid != "" {
		parts = append(parts, "GTID "+gtid)
	}
	if len(parts) == 0 {
		return "- (none yet)"
	}
	return strings.Join(parts, ", ")
}

func orText(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}
