package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/connectors/objstore"
)

// errChecksFailed: a prerequisite does not hold (exit code 1).
var errChecksFailed = errors.New("prerequisites not met: see the fixes above")

func runCheck(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "check", "-c binlake.yaml [--format table|json]")
	format := fs.String("format", "table", "output format: table or json (one object per line)")
	cfg, err := parseAndLoad(env, fs, args, cfgPath, format)
	if err != nil {
		return err
	}
	if err := cfg.validateConnection(); err != nil {
		return err
	}
	srcCfg, err := sourceConfig(cfg, false)
	if err != nil {
		return err
	}
	results, err := mysql.CheckSource(ctx, srcCfg)
	if err != nil {
		results = []mysql.CheckResult{{Name: "connect to the source", Found: err.Error(),
			Fix: "check source.host, source.port, source.user, the password (BINLAKE_SOURCE_PASSWORD or BINLAKE_SOURCE_PASSWORD_FILE) and source.tls"}}
	}
	results = append(results, storageCheck(ctx, cfg))
	if *format == "json" {
		if err := writeJSONLines(env.stdout, results); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
		for _, r := range results {
			mark := "ok"
			switch {
			case r.Note:
				mark = "note"
			case !r.OK && r.Advice:
				mark = "WARN"
			case !r.OK:
				mark = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, r.Name, r.Found)
			if r.Fix != "" {
				fmt.Fprintf(tw, "\t  fix:\t%s\n", r.Fix)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, r := range results {
		if !r.OK && !r.Advice {
			return errChecksFailed
		}
	}
	return nil
}

// storageCheck proves the warehouse takes conditional creates, which the
// commit protocol depends on.
func storageCheck(ctx context.Context, cfg *Config) mysql.CheckResult {
	r := mysql.CheckResult{Name: "storage put-if-absent (atomic commits)"}
	store, err := openStore(ctx, cfg)
	if err != nil {
		r.Name, r.Found = "storage reachable (warehouse)", err.Error()
		r.Fix = "fix warehouse.url (the directory must be writable)"
		if strings.HasPrefix(cfg.Warehouse.URL, "s3://") {
			r.Fix = "fix warehouse.url (the bucket must exist), warehouse.s3.endpoint, warehouse.s3.use_tls, " +
				"warehouse.s3.access_key_id and the secret key (BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY or BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY_FILE)"
		}
		return r
	}
	defer store.Close()
	if err := objstore.ProbePutIfAbsent(ctx, store); err != nil {
		r.Found = err.Error()
		r.Fix = "use storage that supports conditional writes (If-None-Match: *): AWS S3, MinIO, or a local directory"
		return r
	}
	r.OK, r.Found = true, lakeURL(cfg)+" refuses a second create of the same key"
	return r
}
