package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/mysql"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// tlsConfigFile writes a config for m with the given source.tls block.
func tlsConfigFile(t *testing.T, m *testenv.MariaDB, dir, name, tlsYAML string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops := ln.Addr().String()
	ln.Close()
	return writeFile(t, dir, name, fmt.Sprintf(`source:
  name: shop
  host: %s
  port: %d
  user: %s
  server_id: 4242
  snapshot: never
  include: ["shop.*"]
  tls:
%s
warehouse:
  url: file://%s/wh
ingest:
  commit_interval: 50ms
  listen: %s
`, m.Host, m.Port, m.User, tlsYAML, dir, ops))
}

// TestSourceTLSModes: against a server that refuses plaintext TCP, each TLS
// mode of the config connects the binlog source, the snapshot source and
// `binlake check` (verify-full with the right CA and name, verify-ca with
// any name, required); a wrong CA or name and TLS disabled fail with an
// error that names the problem and never the password; `binlake ingest`
// over verify-full mirrors the source.
func TestSourceTLSModes(t *testing.T) {
	m := testenv.StartMariaDBWith(t, testenv.MariaDBOptions{TLS: true, RequireSecureTransport: true})
	m.Exec(t, "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20))", "INSERT INTO shop.t VALUES (1, 'a')")
	dir := t.TempDir()
	env := map[string]string{"BINLAKE_SOURCE_PASSWORD": m.UserPassword}
	wrongCA := testenv.UnrelatedCAFile(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	good := []struct{ name, tls string }{
		{"verify-full", "    mode: verify-full\n    ca_file: " + m.CAFile},
		{"verify-full localhost", "    mode: verify-full\n    ca_file: " + m.CAFile + "\n    server_name: localhost"},
		{"verify-ca", "    mode: verify-ca\n    ca_file: " + m.CAFile + "\n    server_name: db.example.com"},
		{"required", "    mode: required"},
	}
	for i, c := range good {
		t.Run(c.name, func(t *testing.T) {
			path := tlsConfigFile(t, m, dir, fmt.Sprintf("good%d.yaml", i), c.tls)
			code, out, errs := runCLI(t, env, "check", "-c", path)
			if code != 0 || strings.Contains(out, "FAIL") {
				t.Fatalf("check: exit %d\n%s%s", code, out, errs)
			}
			cfg, err := loadConfig(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			sc, err := sourceConfig(cfg, true)
			if err != nil {
				t.Fatal(err)
			}
			src, err := mysql.NewBinlogSource(ctx, sc, tableformat.Position{})
			if err != nil {
				t.Fatalf("binlog source: %v", err)
			}
			src.Close()
			snap, err := mysql.NewSnapshotSource(ctx, sc)
			if err != nil {
				t.Fatalf("snapshot source: %v", err)
			}
			snap.Close()
		})
	}

	// A certificate that does not verify ends ingest at once (retrying
	// cannot help); a refused login is retried like any other, so ingest
	// is not run for it here.
	bad := []struct {
		name, tls, want string
		ingest          bool
	}{
		{"verify-full wrong CA", "    mode: verify-full\n    ca_file: " + wrongCA, "not signed by the CA in source.tls.ca_file", true},
		{"verify-full wrong name", "    mode: verify-full\n    ca_file: " + m.CAFile + "\n    server_name: db.example.com", "set source.tls.server_name", true},
		{"verify-ca wrong CA", "    mode: verify-ca\n    ca_file: " + wrongCA, "not signed by the CA in source.tls.ca_file", true},
		{"disabled", "    mode: disabled", "require_secure_transport=ON", false},
	}
	for i, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			path := tlsConfigFile(t, m, dir, fmt.Sprintf("bad%d.yaml", i), c.tls)
			code, out, errs := runCLI(t, env, "check", "-c", path)
			if code != 1 || !strings.Contains(out, c.want) || !strings.Contains(out, "source.tls") {
				t.Errorf("check: exit %d, want 1 and %q\n%s%s", code, c.want, out, errs)
			}
			var out2, errs2 string
			if c.ingest {
				code, out2, errs2 = runCLI(t, env, "ingest", "-c", path, "--exit-when-caught-up")
				if code == 0 || !strings.Contains(errs2, c.want) {
					t.Errorf("ingest: exit %d, want an error with %q\n%s%s", code, c.want, out2, errs2)
				}
				// At once: without a single reconnection (each is logged).
				if strings.Contains(errs2, "reconnecting") {
					t.Errorf("ingest retried a certificate that does not verify:\n%s", errs2)
				}
			}
			if all := out + errs + out2 + errs2; strings.Contains(all, m.UserPassword) {
				t.Errorf("the password was printed:\n%s", all)
			}
		})
	}

	// binlake ingest over verify-full: rows written before and after the
	// lake began arrive (snapshot: never, so the lake starts at the
	// server's position; then a second run reads what came after).
	t.Run("ingest", func(t *testing.T) {
		path := tlsConfigFile(t, m, dir, "ingest.yaml", "    mode: verify-full\n    ca_file: "+m.CAFile)
		if code, out, errs := runCLI(t, env, "ingest", "-c", path, "--exit-when-caught-up"); code != 0 {
			t.Fatalf("ingest: exit %d\n%s%s", code, out, errs)
		}
		m.Exec(t, "INSERT INTO shop.t VALUES (2, 'b'), (3, 'c')", "UPDATE shop.t SET v = 'B' WHERE id = 2")
		if code, out, errs := runCLI(t, env, "ingest", "-c", path, "--exit-when-caught-up"); code != 0 {
			t.Fatalf("ingest: exit %d\n%s%s", code, out, errs)
		}
		code, out, errs := runCLI(t, env, "tables", "-c", path)
		if code != 0 || !strings.Contains(out, "shop.t") {
			t.Fatalf("tables: exit %d\n%s%s", code, out, errs)
		}
		t.Logf("binlake tables:\n%s", out)
	})
}
