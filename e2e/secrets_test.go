package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
)

// TestSecretsNeverLeak runs binlake with sentinel secrets — the source
// password of a real MariaDB user, and the secret key and session token of
// real temporary S3 credentials — through every command, the daemon's
// HTTP endpoints at log level debug, and the error paths (a wrong
// password, an unreachable or refusing S3, a bad config): no sentinel, in
// any form a program would print it (as is, base64, URL-escaped), appears
// in standard output or error, a log file, an HTTP body, a file binlake
// wrote, or the lake.
func TestSecretsNeverLeak(t *testing.T) {
	const exitStorage = 3 // storage unreachable or refusing (docs/cli.md)
	db := testenv.StartMariaDB(t)
	minio := testenv.StartMinIO(t)
	bucket := minio.NewBucket(t)
	dir := t.TempDir()

	// The source password holds characters that URL escaping and base64
	// change, so a leak in an escaped form is caught too.
	password := "SENTINEL-PW-" + sentinelHex(t, 6) + "+=!%"
	wrongPassword := "SENTINEL-PW-WRONG-" + sentinelHex(t, 6) + "+=!"
	db.Exec(t, fmt.Sprintf("CREATE USER 'sentinel'@'%%' IDENTIFIED BY '%s'", password),
		"GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'sentinel'@'%'",
		"CREATE DATABASE shop",
		"CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40))",
		"INSERT INTO shop.orders VALUES (1, 'first')")
	// testenv fixes MinIO's root credentials; temporary credentials from
	// its STS API are random, and come with a session token.
	creds := assumeRole(t, minio)
	wrongS3Secret := "SENTINEL-S3-WRONG-" + sentinelHex(t, 10)
	wrongToken := "SENTINEL-TOK-WRONG-" + sentinelHex(t, 10)
	leaks := newLeakCheck(password, wrongPassword, creds.SecretAccessKey, creds.SessionToken, wrongS3Secret, wrongToken,
		minio.SecretKey, db.RootPassword, db.UserPassword)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "binlake.yaml")
	writeFileForTest(t, cfg, fmt.Sprintf(`source:
  name: shop
  host: 127.0.0.1
  port: %d
  user: sentinel
  server_id: 4343
  include: ["shop.*"]
warehouse:
  url: s3://%s/lakes
  s3:
    endpoint: %s
    access_key_id: %s
    use_tls: false
    request_timeout: 5s
    max_retries: 1
ingest:
  commit_interval: 100ms
  listen: %s
log:
  level: debug
`, db.Port, bucket, minio.Endpoint, creds.AccessKeyID, ops))
	secretFile := filepath.Join(dir, "s3-secret")
	writeFileForTest(t, secretFile, creds.SecretAccessKey+"\n")
	cacheDir := filepath.Join(dir, "cache")
	// environ: the password from a variable, the S3 secret key from a
	// file, the session token from a variable; extra on top.
	environ := func(extra ...string) []string {
		return append(append(os.Environ(), "BINLAKE_SOURCE_PASSWORD="+password,
			"BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY_FILE="+secretFile,
			"BINLAKE_WAREHOUSE_S3_SESSION_TOKEN="+creds.SessionToken,
			"BINLAKE_QUERY_CACHE_DIR="+cacheDir), extra...)
	}
	// expect checks one run's exit code, what it must say, and that it
	// shows no secret.
	expect := func(t *testing.T, what string, r run, code int, wants ...string) {
		t.Helper()
		t.Logf("%s: exit %d (stopped by the test: %v):\n%s", what, r.code, r.stopped, r.out)
		if code == stoppedByTest && !r.stopped || code != stoppedByTest && (r.stopped || r.code != code) {
			t.Errorf("%s: exit %d (stopped: %v), want %d", what, r.code, r.stopped, code)
		}
		for _, w := range wants {
			if !strings.Contains(r.out, w) {
				t.Errorf("%s: the output does not say %q", what, w)
			}
		}
		if stackTrace.MatchString(r.out) {
			t.Errorf("%s: a Go stack trace", what)
		}
		leaks.check(t, what, r.out)
	}

	t.Run("check", func(t *testing.T) {
		expect(t, "check", runBinary(t, environ(), "", "check", "-c", cfg), 0, "storage put-if-absent")
		expect(t, "check, json debug log", runBinary(t, environ("BINLAKE_LOG_FORMAT=json"), "", "check", "-c", cfg, "--format", "json"), 0)
		expect(t, "check with a wrong password", runBinary(t, environ("BINLAKE_SOURCE_PASSWORD="+wrongPassword), "", "check", "-c", cfg),
			1, "Access denied", "source.password")
	})

	t.Run("ingest at log level debug, and its endpoints", func(t *testing.T) {
		logPath := filepath.Join(dir, "ingest.log")
		out, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		daemon := exec.Command(binary, "ingest", "-c", cfg)
		daemon.Env, daemon.Stdout, daemon.Stderr = environ(), out, out
		if err := daemon.Start(); err != nil {
			t.Fatal(err)
		}
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				daemon.Process.Signal(syscall.SIGTERM)
				daemon.Wait()
			}
		}
		defer stop()
		get := func(path string) (int, string) {
			resp, err := http.Get("http://" + ops + path)
			if err != nil {
				return 0, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		testenv.Eventually(t, 2*time.Minute, "/readyz saying ready", func() error {
			if code, body := get("/readyz"); code != http.StatusOK {
				b, _ := os.ReadFile(logPath)
				return fmt.Errorf("%d %s\n%s", code, body, b)
			}
			return nil
		})
		for i := 2; i <= 6; i++ {
			db.Exec(t, fmt.Sprintf("INSERT INTO shop.orders VALUES (%d, 'row %d')", i, i))
		}
		db.Exec(t, "UPDATE shop.orders SET note = 'changed' WHERE id = 2", "DELETE FROM shop.orders WHERE id = 3")
		store, err := objstore.Open(context.Background(), "s3://"+bucket+"/lakes/shop", objstore.S3Config{
			Endpoint: minio.Endpoint, Region: minio.Region, AccessKey: creds.AccessKeyID,
			SecretKey: secret.String(creds.SecretAccessKey), SessionToken: secret.String(creds.SessionToken), RequestTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		waitForGTID(t, store, binlogPos(t, db), 60*time.Second)
		for _, path := range []string{"/metrics", "/status", "/readyz", "/healthz"} {
			code, body := get(path)
			if code != http.StatusOK {
				t.Errorf("%s: %d %s", path, code, body)
			}
			leaks.check(t, path, body)
		}
		expect(t, "status with the daemon running", runBinary(t, environ(), "", "status", "-c", cfg), 0, "shop.orders")
		expect(t, "status --format json", runBinary(t, environ(), "", "status", "-c", cfg, "--format", "json"), 0, `"reachable":true`)
		stop()
		if code := daemon.ProcessState.ExitCode(); code != 0 {
			t.Errorf("ingest after SIGTERM: exit %d", code)
		}
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "level=DEBUG") {
			t.Errorf("the daemon logged nothing at debug level:\n%s", b)
		}
		leaks.check(t, "the ingest log", string(b))

		// What binlake wrote: the lake's objects.
		objs, err := store.List(context.Background(), "", "")
		if err != nil || len(objs) == 0 {
			t.Fatalf("list the lake: %d objects, %v", len(objs), err)
		}
		for _, o := range objs {
			r, err := store.Open(context.Background(), o.Key)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			leaks.check(t, "lake object "+o.Key, string(b))
		}
	})

	t.Run("reading commands", func(t *testing.T) {
		expect(t, "status", runBinary(t, environ(), "", "status", "-c", cfg), 0, "shop.orders")
		expect(t, "query", runBinary(t, environ(), "", "query", "-c", cfg, "--format", "csv", "SELECT id, note FROM shop.orders ORDER BY id"),
			0, "2,changed")
		expect(t, "query json", runBinary(t, environ(), "", "query", "-c", cfg, "--format", "json", "--meta", "SELECT * FROM shop.orders"), 0)
		expect(t, "query error", runBinary(t, environ(), "", "query", "-c", cfg, "SELECT nope FROM shop.orders"), 1)
		expect(t, "tables", runBinary(t, environ(), "", "tables", "-c", cfg, "--columns"), 0, "shop.orders")
		expect(t, "tables json", runBinary(t, environ(), "", "tables", "-c", cfg, "--format", "json"), 0, `"orders"`)
		expect(t, "log", runBinary(t, environ(), "", "log", "-c", cfg), 0, "VERSION")
		expect(t, "log json", runBinary(t, environ(), "", "log", "-c", cfg, "--format", "json"), 0)
		leaks.checkDir(t, "the query cache", cacheDir)
	})

	t.Run("storage errors", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		unreachable := ln.Addr().String()
		ln.Close() // nothing listens there now
		off := "BINLAKE_WAREHOUSE_S3_ENDPOINT=" + unreachable
		expect(t, "ingest, S3 unreachable", runBinary(t, environ(off, "BINLAKE_INGEST_LISTEN="), "", "ingest", "-c", cfg, "--exit-when-caught-up"),
			exitStorage, "connection refused")
		expect(t, "check, S3 unreachable", runBinary(t, environ(off), "", "check", "-c", cfg), 1, "storage reachable")
		expect(t, "log, S3 unreachable", runBinary(t, environ(off), "", "log", "-c", cfg), exitStorage)

		wrongFile := filepath.Join(dir, "wrong-s3-secret")
		writeFileForTest(t, wrongFile, wrongS3Secret)
		wrong := "BINLAKE_WAREHOUSE_S3_SECRET_ACCESS_KEY_FILE=" + wrongFile
		expect(t, "ingest, wrong S3 secret", runBinary(t, environ(wrong, "BINLAKE_INGEST_LISTEN="), "", "ingest", "-c", cfg, "--exit-when-caught-up"),
			exitStorage)
		expect(t, "query, wrong S3 secret", runBinary(t, environ(wrong), "", "query", "-c", cfg, "SELECT 1"), exitStorage)
		expect(t, "check, wrong S3 secret", runBinary(t, environ(wrong), "", "check", "-c", cfg), 1, "storage reachable")
		badToken := "BINLAKE_WAREHOUSE_S3_SESSION_TOKEN=" + wrongToken
		expect(t, "tables, wrong session token", runBinary(t, environ(badToken), "", "tables", "-c", cfg), exitStorage)
		expect(t, "ingest, wrong password", runBinary(t, environ("BINLAKE_SOURCE_PASSWORD="+wrongPassword, "BINLAKE_INGEST_LISTEN="), "",
			"ingest", "-c", cfg, "--exit-when-caught-up"), 1, "Access denied")
	})

	t.Run("init", func(t *testing.T) {
		for i, dsn := range []string{
			fmt.Sprintf("sentinel:%s@tcp(127.0.0.1:%d)/shop", password, db.Port),
			fmt.Sprintf("mysql://sentinel:%s@127.0.0.1:%d/shop", url.QueryEscape(password), db.Port),
		} {
			out := filepath.Join(dir, fmt.Sprintf("init-%d.yaml", i))
			expect(t, "init", runBinary(t, os.Environ(), "", "init", "--dsn", dsn, "--warehouse", "s3://"+bucket+"/other", "-o", out),
				0, "was not written")
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			leaks.check(t, "the config init wrote", string(b))
			// And the config it wrote works with the password from the environment.
			expect(t, "check of init's config", runBinary(t, append(environ(), "BINLAKE_WAREHOUSE_S3_ENDPOINT="+minio.Endpoint,
				"BINLAKE_WAREHOUSE_S3_USE_TLS=false", "BINLAKE_WAREHOUSE_S3_ACCESS_KEY_ID="+creds.AccessKeyID), "", "check", "-c", out), 0)
		}
		// DSNs init refuses: the error does not repeat the password.
		for _, dsn := range []string{
			fmt.Sprintf("sentinel:%s@tcp(127.0.0.1:99999)/shop", password),
			fmt.Sprintf("mysql://sentinel:%s@127.0.0.1:port/shop", url.QueryEscape(password)),
			fmt.Sprintf("postgres://sentinel:%s@127.0.0.1/shop", password),
			fmt.Sprintf("sentinel:%s@unix(/tmp/sock)/shop", password),
		} {
			expect(t, "init with a bad DSN", runBinary(t, os.Environ(), "", "init", "--dsn", dsn, "--warehouse", "s3://"+bucket+"/x",
				"-o", filepath.Join(dir, "refused.yaml")), 2, "--dsn")
		}
	})

	t.Run("bad config", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		writeFileForTest(t, bad, strings.Replace(readFileForTest(t, cfg), "  user: sentinel\n", "  user: sentinel\n  password: ["+password+"]\n  port: abc\n", 1))
		expect(t, "a secret in a bad place", runBinary(t, environ(), "", "ingest", "-c", bad), 2, "source.password (line", "source.port")
		expect(t, "a misnamed secret variable", runBinary(t, environ("BINLAKE_WAREHOUSE_S3_SECRET_KEY="+wrongS3Secret, "BINLAKE_PASSWORD="+wrongPassword),
			"", "check", "-c", cfg), 2, "BINLAKE_WAREHOUSE_S3_SECRET_KEY", "BINLAKE_PASSWORD")
		expect(t, "a secret file that is a directory", runBinary(t, environ("BINLAKE_SOURCE_PASSWORD_FILE="+dir), "", "check", "-c", cfg),
			2, "BINLAKE_SOURCE_PASSWORD_FILE")
	})

	leaks.check(t, "the config file", readFileForTest(t, cfg))
}

// leakCheck finds secrets in text, in the forms a program prints them.
type leakCheck struct{ forms map[string]string } // form → the secret's name

func newLeakCheck(secrets ...string) *leakCheck {
	l := &leakCheck{forms: map[string]string{}}
	for i, s := range secrets {
		name := fmt.Sprintf("secret #%d (%.14s…)", i+1, s)
		for _, f := range []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.RawStdEncoding.EncodeToString([]byte(s)),
			base64.URLEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)),
			url.QueryEscape(s), url.PathEscape(s), hex.EncodeToString([]byte(s))} {
			l.forms[f] = name
		}
	}
	return l
}

func (l *leakCheck) check(t *testing.T, what, text string) {
	t.Helper()
	for f, name := range l.forms {
		if strings.Contains(text, f) {
			t.Errorf("%s shows %s as %q", what, name, f)
		}
	}
}

// checkDir checks every file under dir.
func (l *leakCheck) checkDir(t *testing.T, what, dir string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		l.check(t, what+" file "+path, string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Errorf("%s: no files under %s", what, dir)
	}
}

// stsCredentials are temporary S3 credentials.
type stsCredentials struct {
	AccessKeyID     string `xml:"AssumeRoleResult>Credentials>AccessKeyId"`
	SecretAccessKey string `xml:"AssumeRoleResult>Credentials>SecretAccessKey"`
	SessionToken    string `xml:"AssumeRoleResult>Credentials>SessionToken"`
}

// assumeRole asks MinIO's STS API for temporary credentials of its root
// user (AWS Signature V4, service sts).
func assumeRole(t *testing.T, m *testenv.MinIO) stsCredentials {
	t.Helper()
	body := "Action=AssumeRole&DurationSeconds=3600&Version=2011-06-15"
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	now := time.Now().UTC()
	amzDate, day := now.Format("20060102T150405Z"), now.Format("20060102")
	sum := sha256.Sum256([]byte(body))
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payload)
	const signed = "content-type;host;x-amz-content-sha256;x-amz-date"
	canonical := strings.Join([]string{http.MethodPost, "/", "",
		"content-type:application/x-www-form-urlencoded\nhost:" + req.URL.Host + "\nx-amz-content-sha256:" + payload + "\nx-amz-date:" + amzDate + "\n",
		signed, payload}, "\n")
	scope := day + "/" + m.Region + "/sts/aws4_request"
	csum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(csum[:])
	key := []byte("AWS4" + m.SecretKey)
	for _, part := range []string{day, m.Region, "sts", "aws4_request", toSign} {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(part))
		key = h.Sum(nil)
	}
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		m.AccessKey, scope, signed, hex.EncodeToString(key)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var c stsCredentials
	if err := xml.Unmarshal(b, &c); err != nil || resp.StatusCode != http.StatusOK || c.SecretAccessKey == "" || c.SessionToken == "" {
		t.Fatalf("minio AssumeRole: %s %v\n%s", resp.Status, err, b)
	}
	return c
}

func sentinelHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func writeFileForTest(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFileForTest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
