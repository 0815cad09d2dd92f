package mysql

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
)

// CheckResult is one prerequisite of the source: whether it holds, what was
// found, and how to fix it when it does not.
type CheckResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Found  string `json:"found"`
	Fix    string `json:"fix,omitempty"`
	Advice bool   `json:"advice,omitempty"` // a warning: ingest works, but should be changed
}

// CheckSource connects as the configured user and checks everything ingest
// needs from the server (DESIGN §8, binlake check). An error means the
// checks could not run at all (the connection failed).
func CheckSource(ctx context.Context, cfg SourceConfig) ([]CheckResult, error) {
	s := &BinlogSource{cfg: cfg.withDefaults()}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	vars, err := serverVariables(conn, "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata",
		"server_id", "version", "expire_logs_days", "binlog_expire_logs_seconds")
	if err != nil {
		return nil, err
	}
	var out []CheckResult
	add := func(name string, ok bool, found, fix string) {
		out = append(out, CheckResult{Name: name, OK: ok, Found: found, Fix: fix})
	}
	add("binary log enabled", vars["log_bin"] == "ON" || vars["log_bin"] == "1", "log_bin="+vars["log_bin"],
		"add log_bin (e.g. log_bin=mysql-bin) to the server's [mysqld] config and restart it")
	add("row-based binary log", strings.EqualFold(vars["binlog_format"], "ROW"), "binlog_format="+vars["binlog_format"],
		"SET GLOBAL binlog_format=ROW, and binlog_format=ROW in the server's config (sessions opened before keep the old format)")
	add("full row images", strings.EqualFold(vars["binlog_row_image"], "FULL"), "binlog_row_image="+vars["binlog_row_image"],
		"SET GLOBAL binlog_row_image=FULL, and binlog_row_image=FULL in the server's config")
	meta, hasMeta := vars["binlog_row_metadata"]
	add("full row metadata (column names in the binlog)", strings.EqualFold(meta, "FULL"), "binlog_row_metadata="+orNone(meta, hasMeta),
		"SET GLOBAL binlog_row_metadata=FULL, and binlog_row_metadata=FULL in the server's config (MariaDB 10.5+ / MySQL 8.0+)")
	sid, _ := strconv.ParseUint(vars["server_id"], 10, 32)
	add("server id set and distinct from binlake's", sid != 0 && sid != uint64(s.cfg.ServerID),
		fmt.Sprintf("server_id=%d, binlake's source.server_id=%d", sid, s.cfg.ServerID),
		"give the server a non-zero server_id, and binlake a source.server_id that no replica of this server uses")
	out = append(out, grantChecks(conn, s.cfg)...)
	out = append(out, retentionCheck(vars))
	for i := range out {
		if out[i].OK {
			out[i].Fix = "" // a fix is shown only for what fails
		}
	}
	return out, nil
}

func orNone(v string, ok bool) string {
	if !ok {
		return "(not supported by this server)"
	}
	return v
}

// serverVariables reads global variables; missing ones are absent from the map.
func serverVariables(conn *client.Conn, names ...string) (map[string]string, error) {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + n + "'"
	}
	res, err := conn.Execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN (" + strings.Join(quoted, ",") + ")")
	if err != nil {
		return nil, fmt.Errorf("read server variables: %w", err)
	}
	defer res.Close()
	vars := map[string]string{}
	for i := range res.RowNumber() {
		name, _ := res.GetString(i, 0)
		val, _ := res.GetString(i, 1)
		vars[strings.ToLower(name)] = val
	}
	return vars, nil
}

// grantChecks checks the privileges ingest uses: replication (the binlog
// stream), binlog monitoring (positions) and SELECT (snapshots).
func grantChecks(conn *client.Conn, cfg SourceConfig) []CheckResult {
	res, err := conn.Execute("SHOW GRANTS")
	if err != nil {
		return []CheckResult{{Name: "privileges", Found: err.Error(), Fix: "let the user run SHOW GRANTS"}}
	}
	defer res.Close()
	var grants []string
	for i := range res.RowNumber() {
		g, _ := res.GetString(i, 0)
		grants = append(grants, strings.ToUpper(g))
	}
	all := strings.Join(grants, "\n")
	global := func(privs ...string) bool {
		for _, g := range grants {
			if !strings.Contains(g, " ON *.* ") {
				continue
			}
			if strings.Contains(g, "ALL PRIVILEGES") {
				return true
			}
			for _, p := range privs {
				if strings.Contains(g, p) {
					return true
				}
			}
		}
		return false
	}
	user := fmt.Sprintf("'%s'@'%%'", cfg.User)
	monitor := "BINLOG MONITOR"
	if cfg.Flavor == "mysql" {
		monitor = "REPLICATION CLIENT"
	}
	found := func(ok bool) string {
		if ok {
			return "granted"
		}
		return "missing; the user has: " + strings.ReplaceAll(all, "\n", "; ")
	}
	repl := global("REPLICATION SLAVE", "REPLICATION REPLICA")
	mon := global("BINLOG MONITOR", "REPLICATION CLIENT", "SUPER")
	sel := global("SELECT") || strings.Contains(all, "GRANT SELECT")
	return []CheckResult{
		{Name: "privilege REPLICATION SLAVE (read the binlog)", OK: repl, Found: found(repl),
			Fix: "GRANT REPLICATION SLAVE ON *.* TO " + user},
		{Name: "privilege " + monitor + " (binlog positions)", OK: mon, Found: found(mon),
			Fix: "GRANT " + monitor + " ON *.* TO " + user},
		{Name: "privilege SELECT (initial snapshot)", OK: sel, Found: found(sel),
			Fix: "GRANT SELECT ON *.* TO " + user + " (or on each mirrored database)"},
	}
}

// retentionCheck advises when the server keeps its binlog for less than a
// day: a daemon stopped for longer could not resume.
func retentionCheck(vars map[string]string) CheckResult {
	secs, _ := strconv.ParseInt(vars["binlog_expire_logs_seconds"], 10, 64)
	if secs == 0 {
		days, _ := strconv.ParseFloat(vars["expire_logs_days"], 64)
		secs = int64(days * 86400)
	}
	r := CheckResult{Name: "binary log retention", OK: true, Advice: true}
	switch {
	case secs == 0:
		r.Found = "binlogs are kept until purged by hand"
	case secs < 86400:
		r.OK = false
		r.Found = fmt.Sprintf("binlogs are purged after %ds", secs)
		r.Fix = "keep binlogs longer than ingest may be stopped (e.g. SET GLOBAL binlog_expire_logs_seconds=604800): a lake whose position was purged must be rebuilt"
	default:
		r.Found = fmt.Sprintf("binlogs are kept for %.1f days", float64(secs)/86400)
	}
	return r
}
