package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
)

// TestStorageTLS runs binlake against a MinIO that speaks https only, with
// a certificate from a test CA valid for the name localhost alone. With
// warehouse.s3.use_tls and the CA in warehouse.s3.ca_file, check, ingest and
// query work. With a CA that did not sign the certificate, with no ca_file
// (the system's CAs), or by an address the certificate does not name
// (127.0.0.1), every command fails closed, before writing anything, with a
// message that names the certificate problem and the setting to fix; check
// reports it as its storage check.
func TestStorageTLS(t *testing.T) {
	db := testenv.StartMariaDB(t)
	mc := testenv.StartMinIOWith(t, testenv.MinIOOptions{TLS: true, CertHosts: []string{"localhost"}})
	db.Exec(t, "CREATE DATABASE shop",
		"CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(20) NOT NULL)",
		"INSERT INTO shop.orders VALUES (1, 'one'), (2, 'two')")
	_, port, err := net.SplitHostPort(mc.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	byName := net.JoinHostPort("localhost", port) // in the certificate
	byIP := mc.Endpoint                           // 127.0.0.1: not in it
	dir := t.TempDir()
	environ := append(os.Environ(), "BINLAKE_SOURCE_PASSWORD="+db.UserPassword,
		"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY="+mc.SecretKey, "BINLAKE_QUERY_CACHE_DIR="+filepath.Join(dir, "cache"))
	configs := 0
	// config writes a config for a lake in bucket at endpoint over TLS,
	// trusting caFile ("": no ca_file).
	config := func(endpoint, caFile, bucket string) string {
		configs++
		ca := ""
		if caFile != "" {
			ca = "    ca_file: " + caFile + "\n"
		}
		path := filepath.Join(dir, fmt.Sprintf("binlake-%d.yaml", configs))
		body := fmt.Sprintf(`source:
  name: shop
  host: 127.0.0.1
  port: %d
  user: %s
  server_id: 4245
  include: ["shop.*"]
warehouse:
  url: s3://%s/lakes
  s3:
    endpoint: %s
    access_key_id: %s
    use_tls: true
%singest:
  commit_interval: 100ms
  listen: ""
`, db.Port, db.User, bucket, endpoint, mc.AccessKey, ca)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// objects lists the bucket over a verified connection.
	objects := func(bucket string) int {
		t.Helper()
		s, err := objstore.NewS3(context.Background(), objstore.S3Config{Endpoint: byName, Bucket: bucket,
			AccessKey: mc.AccessKey, SecretKey: secret.String(mc.SecretKey), Region: mc.Region, UseTLS: true, CACertFile: mc.CAFile})
		if err != nil {
			t.Fatalf("a verified connection to %s: %v", byName, err)
		}
		defer s.Close()
		objs, err := s.List(context.Background(), "", "")
		if err != nil {
			t.Fatal(err)
		}
		return len(objs)
	}

	t.Run("verified", func(t *testing.T) {
		cfg := config(byName, mc.CAFile, mc.NewBucket(t))
		r := runSplit(t, environ, "check", "-c", cfg)
		if r.code != 0 || !regexp.MustCompile(`(?m)^ok +storage put-if-absent`).MatchString(r.stdout) {
			t.Errorf("check over verified TLS: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := runSplit(t, environ, "ingest", "-c", cfg, "--exit-when-caught-up"); r.code != 0 {
			t.Fatalf("ingest over verified TLS: exit %d\n%s", r.code, lastLines(r.stderr, 20))
		}
		db.Exec(t, "UPDATE shop.orders SET note = 'two+' WHERE id = 2", "INSERT INTO shop.orders VALUES (3, 'three')")
		if r := runSplit(t, environ, "ingest", "-c", cfg, "--exit-when-caught-up"); r.code != 0 {
			t.Fatalf("ingest over verified TLS: exit %d\n%s", r.code, lastLines(r.stderr, 20))
		}
		r = runSplit(t, environ, "query", "-c", cfg, "--format", "csv", "SELECT id, note FROM shop.orders ORDER BY id")
		if want := "id,note\n1,one\n2,two+\n3,three\n"; r.code != 0 || r.stdout != want {
			t.Errorf("query over verified TLS: exit %d\n%s%s\nwant\n%s", r.code, r.stdout, r.stderr, want)
		}
	})

	for _, c := range []struct {
		name, endpoint, caFile string
		wants                  []string // in every command's message
	}{
		{"wrong CA", byName, testenv.UnrelatedCAFile(t), []string{"certificate signed by unknown authority", "warehouse.s3.ca_file"}},
		{"no CA file", byName, "", []string{"certificate signed by unknown authority", "warehouse.s3.ca_file"}},
		{"host not in the certificate", byIP, mc.CAFile, []string{"not valid for 127.0.0.1", "warehouse.s3.endpoint", "valid for localhost"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			bucket := mc.NewBucket(t)
			cfg := config(c.endpoint, c.caFile, bucket)
			for _, args := range [][]string{
				{"check"},
				{"ingest", "--exit-when-caught-up"},
				{"query", "SELECT 1"},
				{"tables"},
			} {
				began := time.Now()
				r := runSplit(t, environ, append([]string{args[0], "-c", cfg}, args[1:]...)...)
				out := r.stdout + r.stderr
				t.Logf("%s: exit %d after %v:\n%s", args[0], r.code, time.Since(began).Round(time.Millisecond), lastLines(out, 4))
				want := exitStorageCode
				if args[0] == "check" {
					want = 1
					if !regexp.MustCompile(`(?m)^FAIL +storage reachable`).MatchString(r.stdout) {
						t.Errorf("check does not fail its storage check:\n%s", r.stdout)
					}
				}
				if r.code != want {
					t.Errorf("%s: exit %d, want %d", args[0], r.code, want)
				}
				for _, w := range c.wants {
					if !strings.Contains(out, w) {
						t.Errorf("%s does not say %q:\n%s", args[0], w, out)
					}
				}
				if stackTrace.MatchString(out) || strings.Contains(out, mc.SecretKey) {
					t.Errorf("%s printed a stack trace or the secret key:\n%s", args[0], out)
				}
			}
			if n := objects(bucket); n != 0 {
				t.Errorf("a refused connection wrote %d objects", n)
			}
		})
	}
}
