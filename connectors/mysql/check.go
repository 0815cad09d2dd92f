package mysql

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/binlake/binlake/tableformat"
)

// CheckResult is one prerequisite of the source: whether it holds, what was
// found, and how to fix it when it does not.
type CheckResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Found  string `json:"found"`
	Fix    string `json:"fix,omitempty"`
	Advice bool   `json:"advice,omitempty"` // a warning: ingest works, but should be changed
	Note   bool   `json:"note,omitempty"`   // for information: nothing to fix
}

// CheckSource connects as the configured user and checks everything ingest
// needs from the server (binlake check, docs/cli.md). An error means the
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
		"SET GLOBAL binlog_format=ROW, and binlog_format=ROW in the server's config (sessions opened before keep the old format); "+
			"changes logged as statements are not mirrored")
	add("full row images", strings.EqualFold(vars["binlog_row_image"], "FULL"), "binlog_row_image="+vars["binlog_row_image"],
		"SET GLOBAL binlog_row_image=FULL, and binlog_row_image=FULL in the server's config")
	meta, hasMeta := vars["binlog_row_metadata"]
	add("full row metadata (column names in the binlog)", strings.EqualFold(meta, "FULL"), "binlog_row_metadata="+orNone(meta, hasMeta),
		"SET GLOBAL binlog_row_metadata=FULL, and binlog_row_metadata=FULL in the server's config (MariaDB 10.5+ / MySQL 8.0+); "+
			"row events logged before cannot be decoded, so a lake must start after them")
	sid, _ := strconv.ParseUint(vars["server_id"], 10, 32)
	add("server id set and distinct from binlake's", sid != 0 && sid != uint64(s.cfg.ServerID),
		fmt.Sprintf("server_id=%d, binlake's source.server_id=%d", sid, s.cfg.ServerID),
		"give the server a non-zero server_id, and binlake a source.server_id that no replica of this server uses")
	if grants, err := readGrants(conn); err != nil {
		out = append(out, CheckResult{Name: "privileges", Found: err.Error(), Fix: "let the user run SHOW GRANTS"})
	} else {
		out = append(out, grantChecks(grants, s.cfg)...)
		out = append(out, snapshotCheck(conn, grants, s.cfg))
	}
	out = append(out, retentionCheck(vars))
	if keyless, err := keylessTables(conn, s.cfg.Include); err == nil && len(keyless) > 0 {
		out = append(out, keylessNote(keyless))
	}
	for i := range out {
		if out[i].OK {
			out[i].Fix = "" // a fix is shown only for what fails
		}
	}
	return out, nil
}

// ErrPartialRowImage reports row events without every column: the server
// does not log full row images, so rows cannot be mirrored.
var ErrPartialRowImage = errors.New("partial row image: set binlog_row_image=FULL (SET GLOBAL and the server's config); " +
	"events logged before cannot be mirrored: start a new lake, or --start-position/--start-gtid past them")

// ErrNoSelect reports a source user without the SELECT privilege on any
// table: the server shows it no table, so an initial snapshot would
// silently hold none of the rows the source has.
var ErrNoSelect = errors.New("the source user may read no table")

// Preflight proves, before a new lake's initial snapshot commits anything,
// that the snapshot can read and streaming will work after it: it opens the
// binlog stream at the server's current position (credentials, binary
// logging, row format, the privileges to read positions and to register as
// a replica), reads binlog_row_image and binlog_row_metadata, which must be
// FULL, and checks that SHOW GRANTS gives SELECT on something. Unlike
// CheckSource it tries rather than reads SHOW GRANTS where it can, so
// privileges that come through roles count (MariaDB's SHOW GRANTS lists
// the current role's too).
func Preflight(ctx context.Context, cfg SourceConfig) error {
	cfg.StopAtCaughtUp = false
	src, err := NewBinlogSource(ctx, cfg, tableformat.Position{})
	if err != nil {
		return err
	}
	defer src.Close()
	conn, err := src.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	vars, err := serverVariables(conn, "binlog_row_image", "binlog_row_metadata")
	if err != nil {
		return fmt.Errorf("binlog source: %s: %w", src.addr(), err)
	}
	if v := vars["binlog_row_image"]; !strings.EqualFold(v, "FULL") {
		return fmt.Errorf("binlog source: %s: binlog_row_image=%s: %w", src.addr(), v, ErrPartialRowImage)
	}
	if v, ok := vars["binlog_row_metadata"]; !strings.EqualFold(v, "FULL") {
		return fmt.Errorf("binlog source: %s: binlog_row_metadata=%s: %w", src.addr(), orNone(v, ok), ErrNoRowMetadata)
	}
	// Trying cannot tell: without SELECT the snapshot finds no table and
	// succeeds, empty.
	if grants, err := readGrants(conn); err == nil && !privileges(grants).anywhere("SELECT") {
		return fmt.Errorf("binlog source: %s: user %q has the SELECT privilege on nothing, so the initial snapshot would see no table "+
			"and the lake would miss every row the source holds: %w: GRANT SELECT ON *.* TO %s (or on each mirrored database); "+
			"binlake check lists every privilege ingest needs", src.addr(), src.cfg.User, ErrNoSelect, grantee(src.cfg))
	}
	return nil
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
		// GetString aliases the result's buffer, which Close recycles.
		name, _ := res.GetString(i, 0)
		val, _ := res.GetString(i, 1)
		name, val = strings.Clone(name), strings.Clone(val)
		vars[strings.ToLower(name)] = val
	}
	return vars, nil
}

// readGrants returns the user's SHOW GRANTS lines, upper case, without
// password hashes.
func readGrants(conn *client.Conn) ([]string, error) {
	res, err := conn.Execute("SHOW GRANTS")
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var grants []string
	for i := range res.RowNumber() {
		g, _ := res.GetString(i, 0)
		g = strings.Clone(g) // GetString aliases the result's buffer
		g = passwordHash.ReplaceAllString(g, "")
		grants = append(grants, strings.ToUpper(g))
	}
	return grants, nil
}

var passwordHash = regexp.MustCompile(`(?i)\s+IDENTIFIED\s+(BY\s+PASSWORD|VIA|WITH)\s+.*$`)

// privileges answers which privileges SHOW GRANTS lines give (the user's
// own and, on MariaDB, those of its current role).
type privileges []string

// grantLine splits a SHOW GRANTS line "GRANT <privileges> ON <object> TO …"
// into its privileges (without column lists: "SELECT (`ID`), INSERT" gives
// SELECT and INSERT) and the object; ok is false for other lines (a role
// granted, SET DEFAULT ROLE). Whole names are compared, so REPLICATION
// SLAVE ADMIN is not REPLICATION SLAVE.
func grantLine(g string) (privs []string, object string, ok bool) {
	rest, found := strings.CutPrefix(g, "GRANT ")
	if !found {
		return nil, "", false
	}
	list, tail, found := strings.Cut(rest, " ON ")
	if !found {
		return nil, "", false
	}
	object, _, _ = strings.Cut(tail, " TO ")
	depth, start := 0, 0
	for i := 0; i <= len(list); i++ {
		switch {
		case i < len(list) && list[i] == '(':
			depth++
		case i < len(list) && list[i] == ')':
			depth--
		case i == len(list) || list[i] == ',' && depth == 0:
			name, _, _ := strings.Cut(list[start:i], "(")
			if name = strings.TrimSpace(name); name != "" {
				privs = append(privs, name)
			}
			start = i + 1
		}
	}
	return privs, object, true
}

// grants reports whether a line whose object on matches gives one of privs
// (or ALL PRIVILEGES).
func (p privileges) grants(on func(object string) bool, privs ...string) bool {
	for _, g := range p {
		names, object, ok := grantLine(g)
		if !ok || !on(object) {
			continue
		}
		for _, n := range names {
			if n == "ALL PRIVILEGES" || slices.Contains(privs, n) {
				return true
			}
		}
	}
	return false
}

// global reports whether one of privs (or ALL PRIVILEGES) is granted on *.*.
func (p privileges) global(privs ...string) bool {
	return p.grants(func(object string) bool { return object == "*.*" }, privs...)
}

var databaseLevel = regexp.MustCompile("^(\\*|`[^`]*`)\\.\\*$")

// database reports whether priv (or ALL PRIVILEGES) is granted on *.* or on
// some database.
func (p privileges) database(priv string) bool {
	return p.grants(databaseLevel.MatchString, priv)
}

// anywhere reports whether priv (or ALL PRIVILEGES) is granted on anything:
// every table, a database, a table or some of its columns.
func (p privileges) anywhere(priv string) bool {
	return p.grants(func(string) bool { return true }, priv)
}

func (p privileges) String() string { return strings.Join(p, "; ") }

// monitorPrivilege is the privilege that reads binlog positions:
// BINLOG MONITOR on MariaDB, REPLICATION CLIENT on MySQL.
func monitorPrivilege(flavor string) string {
	if flavor == "mysql" {
		return "REPLICATION CLIENT"
	}
	return "BINLOG MONITOR"
}

// grantChecks checks the privileges ingest uses: replication (the binlog
// stream), binlog monitoring (positions) and SELECT (snapshots).
func grantChecks(grants privileges, cfg SourceConfig) []CheckResult {
	user := grantee(cfg)
	monitor := monitorPrivilege(cfg.Flavor)
	found := func(ok bool) string {
		if ok {
			return "granted"
		}
		return "missing; the user has: " + grants.String()
	}
	repl := grants.global("REPLICATION SLAVE", "REPLICATION REPLICA")
	mon := grants.global("BINLOG MONITOR", "REPLICATION CLIENT", "SUPER")
	sel := grants.anywhere("SELECT")
	return []CheckResult{
		{Name: "privilege REPLICATION SLAVE (read the binlog)", OK: repl, Found: found(repl),
			Fix: "GRANT REPLICATION SLAVE ON *.* TO " + user},
		{Name: "privilege " + monitor + " (binlog positions)", OK: mon, Found: found(mon),
			Fix: "GRANT " + monitor + " ON *.* TO " + user},
		{Name: "privilege SELECT (initial snapshot)", OK: sel, Found: found(sel),
			Fix: "GRANT SELECT ON *.* TO " + user + " (or on each mirrored database)"},
	}
}

// snapshotCheckName names the check of the snapshot's strategy.
const snapshotCheckName = "initial snapshot consistency (privilege RELOAD or LOCK TABLES on MySQL)"

// snapshotCheck checks that the initial snapshot can pin its binlog
// position with the configured strategy (SnapshotSource): nothing more on
// MariaDB; RELOAD (global_read_lock) or LOCK TABLES (table_locks) on MySQL.
func snapshotCheck(conn *client.Conn, grants privileges, cfg SourceConfig) CheckResult {
	user := grantee(cfg)
	r := CheckResult{Name: snapshotCheckName}
	st, err := ParseSnapshotStrategy(string(cfg.SnapshotStrategy))
	if err != nil {
		r.Found = err.Error()
		r.Fix = "set the source's snapshot strategy to auto, binlog_snapshot, global_read_lock or table_locks"
		return r
	}
	reload := grants.global("RELOAD")
	lock := grants.database("LOCK TABLES")
	fixReload := "GRANT RELOAD ON *.* TO " + user + " (FLUSH TABLES WITH READ LOCK, held for a few milliseconds at the snapshot's start)"
	fixLock := "GRANT LOCK TABLES ON *.* TO " + user + " (or on each mirrored database; read locks on the mirrored tables, as briefly)"
	switch {
	case st == SnapshotBinlogSnapshot || (st == SnapshotAuto && cfg.Flavor != "mysql"):
		if cfg.Flavor != "mysql" {
			r.OK, r.Found = true, "binlog_snapshot: no lock, no privilege beyond SELECT"
			return r
		}
		res, err := conn.Execute("SHOW STATUS LIKE 'binlog_snapshot_file'")
		r.OK = err == nil && res.RowNumber() > 0
		if r.OK {
			r.Found = "binlog_snapshot: the server reports binlog_snapshot_file (Percona Server): no lock"
		} else {
			r.Found = "binlog_snapshot: the server has no binlog_snapshot_file status (MariaDB and Percona Server only)"
			r.Fix = "set the source's snapshot strategy to auto, global_read_lock (" + fixReload + ") or table_locks (" + fixLock + ")"
		}
	case st == SnapshotGlobalReadLock:
		r.OK = reload
		r.Found = "global_read_lock: RELOAD " + map[bool]string{true: "granted", false: "missing; the user has: " + grants.String()}[reload]
		r.Fix = fixReload + ", or snapshot strategy table_locks with " + fixLock
	case st == SnapshotTableLocks:
		r.OK = lock
		r.Found = "table_locks: LOCK TABLES " + map[bool]string{true: "granted", false: "missing; the user has: " + grants.String()}[lock]
		r.Fix = fixLock
	case reload: // auto on MySQL
		r.OK, r.Found = true, "global_read_lock: RELOAD granted (FLUSH TABLES WITH READ LOCK for a few milliseconds at the snapshot's start)"
	case lock:
		r.OK, r.Found = true, "table_locks: LOCK TABLES granted, RELOAD not (read locks on the mirrored tables for a few milliseconds at the snapshot's start)"
	default:
		r.Found = "neither RELOAD nor LOCK TABLES: the initial snapshot cannot pin its binlog position; the user has: " + grants.String()
		r.Fix = fixReload + "; or " + fixLock
	}
	return r
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

// grantee is the source user as GRANT names it.
func grantee(cfg SourceConfig) string { return fmt.Sprintf("'%s'@'%%'", cfg.User) }

// keylessTables lists the mirrored base tables without a primary key (or a
// unique index of NOT NULL columns, which the server promotes to one).
func keylessTables(conn *client.Conn, include func(db, table string) bool) ([]string, error) {
	res, err := conn.Execute(`SELECT t.TABLE_SCHEMA, t.TABLE_NAME FROM information_schema.TABLES t
WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
AND NOT EXISTS (SELECT 1 FROM information_schema.COLUMNS c
  WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.COLUMN_KEY = 'PRI')
ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME`)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var names []string
	for i := range res.RowNumber() {
		db, _ := res.GetString(i, 0)
		table, _ := res.GetString(i, 1)
		if include(db, table) {
			names = append(names, db+"."+table) // the + copies out of the result's buffer
		}
	}
	return names, nil
}

// keylessNote says which mirrored tables have no key: not a problem, as
// they are mirrored exactly (docs/design.md, As of), but worth knowing.
func keylessNote(tables []string) CheckResult {
	shown := tables
	if len(shown) > 10 {
		shown = append(slices.Clone(shown[:10]), fmt.Sprintf("and %d more", len(tables)-10))
	}
	return CheckResult{Name: "tables without a primary key", OK: true, Note: true,
		Found: fmt.Sprintf("%d mirrored exactly, the whole row as the key (identical rows counted): %s",
			len(tables), strings.Join(shown, ", "))}
}
