package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/binlake/binlake/internal/testenv"
)

// cdcGrants are the privileges a CDC source user needs on MariaDB, and
// nothing more.
var cdcGrants = []string{"REPLICATION SLAVE", "BINLOG MONITOR", "SELECT"}

// privPassword is the password of TestLeastPrivilege's source users.
const privPassword = "cdc-user-secret"

// TestLeastPrivilege: a user with only REPLICATION SLAVE, BINLOG MONITOR and
// SELECT passes `binlake check` and mirrors the source (initial snapshot,
// then the binlog) exactly. A user missing any one of the three makes
// `binlake ingest` stop with exit 1, naming the privilege and the GRANT to
// run, before it commits any table. A storage key that can only read (an
// STS session whose policy allows s3:GetObject and s3:ListBucket) serves
// query, tables, log and status, while ingest and compact with it fail with
// a storage permission error (exit 3) and change nothing.
func TestLeastPrivilege(t *testing.T) {
	db := testenv.StartMariaDB(t)
	mc := testenv.StartMinIO(t)
	db.Exec(t, "CREATE DATABASE shop",
		"CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2) NOT NULL, note VARCHAR(20))",
		"INSERT INTO shop.orders VALUES (1, 9.50, 'one'), (2, 20.00, NULL), (3, 0.99, 'three')")
	users := map[string][]string{"cdc": cdcGrants}
	for _, missing := range cdcGrants {
		user := "no_" + strings.ToLower(strings.Fields(missing)[0])
		users[user] = slices.DeleteFunc(slices.Clone(cdcGrants), func(g string) bool { return g == missing })
	}
	for user, grants := range users {
		db.Exec(t, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, privPassword),
			fmt.Sprintf("GRANT %s ON *.* TO '%s'@'%%'", strings.Join(grants, ", "), user))
	}
	dir := t.TempDir()
	p := &privLake{t: t, db: db, minio: mc, dir: dir}
	rootEnv := p.environ(mc.AccessKey, mc.SecretKey, "")

	// The least-privilege user: check passes; ingest mirrors the source.
	cdc := p.config("cdc", mc.NewBucket(t))
	t.Run("check", func(t *testing.T) {
		r := runSplit(t, rootEnv, "check", "-c", cdc, "--format", "json")
		if r.code != 0 {
			t.Fatalf("binlake check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		var names []string
		for line := range strings.SplitSeq(strings.TrimSpace(r.stdout), "\n") {
			var c struct {
				Name  string `json:"name"`
				OK    bool   `json:"ok"`
				Found string `json:"found"`
			}
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("binlake check: %q: %v", line, err)
			}
			if !c.OK {
				t.Errorf("binlake check: %s: not ok: %s", c.Name, c.Found)
			}
			names = append(names, c.Name)
		}
		for _, g := range cdcGrants {
			if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "privilege "+g+" ") }) {
				t.Errorf("binlake check did not check privilege %s: %q", g, names)
			}
		}
	})
	p.mustRun(rootEnv, "ingest", "-c", cdc, "--exit-when-caught-up") // the initial snapshot
	db.Exec(t, "UPDATE shop.orders SET total = 10.25, note = 'one+' WHERE id = 1",
		"DELETE FROM shop.orders WHERE id = 2",
		"INSERT INTO shop.orders VALUES (4, 4.00, 'four')")
	p.mustRun(rootEnv, "ingest", "-c", cdc, "--exit-when-caught-up") // the binlog
	const ordersSQL = "SELECT id, total, note FROM shop.orders ORDER BY id"
	want := "id,total,note\n1,10.25,one+\n3,0.99,three\n4,4.00,four\n"
	if src := "id,total,note\n" + strings.ReplaceAll(db.Query(t, ordersSQL), "\t", ","); src != want {
		t.Fatalf("the source holds\n%s\nwant\n%s", src, want)
	}
	if got := p.mustRun(rootEnv, "query", "-c", cdc, "--format", "csv", ordersSQL); got != want {
		t.Errorf("the lake of the least-privilege user holds\n%s\nwant\n%s", got, want)
	}

	// A user missing one privilege: ingest stops before the snapshot
	// commits anything, and says what to grant.
	for _, missing := range cdcGrants {
		user := "no_" + strings.ToLower(strings.Fields(missing)[0])
		t.Run("without "+missing, func(t *testing.T) {
			cfg := p.config(user, mc.NewBucket(t))
			r := runBinary(t, rootEnv, "", "ingest", "-c", cfg, "--exit-when-caught-up")
			t.Logf("exit %d (stopped: %v) after %v:\n%s", r.code, r.stopped, r.took, lastLines(r.out, 10))
			if r.code != 1 || r.stopped {
				t.Errorf("ingest as %s: exit %d (stopped by the test: %v), want 1", user, r.code, r.stopped)
			}
			grant := fmt.Sprintf("GRANT %s ON *.* TO '%s'@'%%'", missing, user)
			for _, w := range []string{missing, grant} {
				if !strings.Contains(r.out, w) {
					t.Errorf("ingest as %s does not say %q:\n%s", user, w, r.out)
				}
			}
			if stackTrace.MatchString(r.out) || strings.Contains(r.out, privPassword) {
				t.Errorf("ingest as %s printed a stack trace or the password:\n%s", user, r.out)
			}
			tables := runSplit(t, rootEnv, "tables", "-c", cfg, "--format", "json")
			if tables.code != 0 || tables.stdout != "" {
				t.Errorf("after the failed ingest, binlake tables: exit %d, printed %q (want no table)\n%s", tables.code, tables.stdout, tables.stderr)
			}
		})
	}

	// A read-only storage key.
	t.Run("read-only storage key", func(t *testing.T) {
		bucket := p.buckets["cdc"]
		ro := readOnlyKey(t, mc, bucket)
		roEnv := p.environ(ro.AccessKeyID, ro.SecretAccessKey, ro.SessionToken)
		// The key really cannot write.
		probe, err := minioClient(mc, ro)
		if err != nil {
			t.Fatal(err)
		}
		_, err = probe.PutObject(context.Background(), bucket, "lakes/shop/_probe/ro", bytes.NewReader(nil), 0, minio.PutObjectOptions{})
		if minioCode(err) != "AccessDenied" {
			t.Fatalf("a PUT with the read-only key: %v, want AccessDenied", err)
		}
		before := p.objects(bucket)
		// Reading needs no more: each read command answers with the
		// read-only key exactly as with the root key.
		for _, args := range [][]string{
			{"query", "--format", "csv", ordersSQL},
			{"tables", "--format", "json"},
			{"log", "--format", "json"},
			{"status", "--format", "json"},
		} {
			args = append([]string{args[0], "-c", cdc}, args[1:]...)
			full := p.mustRun(rootEnv, args...)
			r := runSplit(t, roEnv, args...)
			if r.code != 0 || r.stdout != full {
				t.Errorf("binlake %s with a read-only key: exit %d\n%s%s\nwant, as with the root key,\n%s", args[0], r.code, r.stdout, r.stderr, full)
			}
			switch args[0] {
			case "query":
				if full != want {
					t.Errorf("binlake query:\n%s\nwant\n%s", full, want)
				}
			case "log":
				if n := strings.Count(full, "\n"); n < 3 || !strings.Contains(full, `"kind":"create"`) || !strings.Contains(full, `"kind":"ingest"`) {
					t.Errorf("binlake log: %d entries, want the creation, the snapshot and the binlog's changes:\n%s", n, full)
				}
			default:
				if !strings.Contains(full, "orders") {
					t.Errorf("binlake %s does not show shop.orders:\n%s", args[0], full)
				}
			}
		}
		// Writing needs more: ingest (with a change to commit) and compact
		// fail, saying the store refused, and leave the lake as it was.
		db.Exec(t, "INSERT INTO shop.orders VALUES (5, 5.00, 'five')")
		for _, args := range [][]string{
			{"ingest", "--exit-when-caught-up"},
			{"compact", "--force"},
		} {
			r := runBinary(t, roEnv, "", append([]string{args[0], "-c", cdc}, args[1:]...)...)
			t.Logf("%s with a read-only key: exit %d (stopped: %v) after %v:\n%s", args[0], r.code, r.stopped, r.took, lastLines(r.out, 6))
			if r.code != exitStorageCode || r.stopped {
				t.Errorf("binlake %s with a read-only key: exit %d (stopped by the test: %v), want %d (storage unusable)",
					args[0], r.code, r.stopped, exitStorageCode)
			}
			if !strings.Contains(r.out, "Access Denied") || !strings.Contains(r.out, "the storage refused") || !strings.Contains(r.out, "s3:PutObject") {
				t.Errorf("binlake %s with a read-only key does not say that the storage refused access:\n%s", args[0], r.out)
			}
			if stackTrace.MatchString(r.out) || strings.Contains(r.out, ro.SecretAccessKey) || strings.Contains(r.out, ro.SessionToken) {
				t.Errorf("binlake %s printed a stack trace or a secret:\n%s", args[0], r.out)
			}
		}
		if after := p.objects(bucket); !slices.Equal(before, after) {
			t.Errorf("the read-only runs changed the bucket:\nbefore %q\nafter  %q", before, after)
		}
	})
}

// exitStorageCode is binlake's exit code for storage that is unreachable or
// refuses requests (docs/cli.md).
const exitStorageCode = 3

// privLake writes the configs of TestLeastPrivilege: one lake per source
// user, each in a bucket of its own.
type privLake struct {
	t       *testing.T
	db      *testenv.MariaDB
	minio   *testenv.MinIO
	dir     string
	buckets map[string]string // user → bucket
}

// config writes a config reading the source as user into a new lake in
// bucket (warehouse.s3.access_key_id comes from the environment).
func (p *privLake) config(user, bucket string) string {
	if p.buckets == nil {
		p.buckets = map[string]string{}
	}
	p.buckets[user] = bucket
	path := filepath.Join(p.dir, user+".yaml")
	body := fmt.Sprintf(`source:
  name: shop
  host: 127.0.0.1
  port: %d
  user: %s
  server_id: 4244
  include: ["shop.*"]
warehouse:
  url: s3://%s/lakes
  s3:
    endpoint: %s
    use_tls: false
ingest:
  commit_interval: 100ms
  listen: ""
`, p.db.Port, user, bucket, p.minio.Endpoint)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// environ is the environment of a run with the source password and the
// given storage credentials.
func (p *privLake) environ(accessKey, secretKey, sessionToken string) []string {
	env := append(os.Environ(), "BINLAKE_SOURCE_PASSWORD="+privPassword,
		"BINLAKE_WAREHOUSE_S3_ACCESS_KEY_ID="+accessKey,
		"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY="+secretKey,
		"BINLAKE_QUERY_CACHE_DIR="+filepath.Join(p.dir, "cache"))
	if sessionToken != "" {
		env = append(env, "BINLAKE_WAREHOUSE_S3_SESSION_TOKEN="+sessionToken)
	}
	return env
}

// mustRun runs binlake, failing the test unless it exits 0, and returns
// its standard output.
func (p *privLake) mustRun(env []string, args ...string) string {
	p.t.Helper()
	r := runSplit(p.t, env, args...)
	if r.code != 0 {
		p.t.Fatalf("binlake %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, lastLines(r.stderr, 30))
	}
	return r.stdout
}

// objects lists every object of bucket with its size and ETag, as root.
func (p *privLake) objects(bucket string) []string {
	p.t.Helper()
	c, err := minioClient(p.minio, credentials.Value{AccessKeyID: p.minio.AccessKey, SecretAccessKey: p.minio.SecretKey})
	if err != nil {
		p.t.Fatal(err)
	}
	var out []string
	for o := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			p.t.Fatal(o.Err)
		}
		out = append(out, fmt.Sprintf("%s %d %s", o.Key, o.Size, o.ETag))
	}
	if len(out) == 0 {
		p.t.Fatalf("bucket %s is empty", bucket)
	}
	return out
}

// readOnlyKey asks MinIO's STS (AssumeRole, as the root user) for temporary
// credentials whose session policy allows reading bucket and nothing else.
// MinIO takes AssumeRole from its root credentials, and a session policy
// takes away the root's "owner" pass (cmd/signature-v4-utils.go
// checkKeyValid), so the policy is what the key may do.
func readOnlyKey(t *testing.T, m *testenv.MinIO, bucket string) credentials.Value {
	t.Helper()
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+
		`"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}`, bucket, bucket)
	creds, err := credentials.NewSTSAssumeRole(m.URL(), credentials.STSAssumeRoleOptions{
		AccessKey: m.AccessKey, SecretKey: m.SecretKey, Policy: policy, Location: m.Region, DurationSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	v, err := creds.Get()
	if err != nil {
		t.Fatalf("STS AssumeRole as the root user: %v", err)
	}
	if v.SessionToken == "" || v.AccessKeyID == m.AccessKey {
		t.Fatalf("STS AssumeRole gave no temporary credentials: access key %q", v.AccessKeyID)
	}
	return v
}

func minioClient(m *testenv.MinIO, v credentials.Value) (*minio.Client, error) {
	return minio.New(m.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(v.AccessKeyID, v.SecretAccessKey, v.SessionToken),
		Region: m.Region,
	})
}

// minioCode is the S3 error code of err ("" if none).
func minioCode(err error) string { return minio.ToErrorResponse(err).Code }
