package testenv

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// MinIOModule is the MinIO server tests run against, pinned so every machine
// and CI builds the same one (scripts/ensure-minio.sh installs the same pin).
const MinIOModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

const (
	minioUser     = "binlake-test"
	minioPassword = "binlake-test-secret"
	minioRegion   = "us-east-1"
	readyTimeout  = 60 * time.Second
	stopTimeout   = 10 * time.Second
	logTailBytes  = 4000
)

// MinIO is a running MinIO server that belongs to one test.
type MinIO struct {
	Endpoint  string // host:port (127.0.0.1), plain http unless started with MinIOOptions.TLS
	AccessKey string
	SecretKey string
	Region    string
	LogFile   string // the server's output
	// TLS: the server answers https only, with a certificate signed by the
	// throwaway CA whose PEM certificate CAFile holds.
	TLS    bool
	CAFile string

	buckets   atomic.Int64
	srv       *server
	tlsConfig *tls.Config // how the harness verifies the server (TLS only)
}

// URL returns the server's http:// (with TLS, https://) URL.
func (m *MinIO) URL() string {
	if m.TLS {
		return "https://" + m.Endpoint
	}
	return "http://" + m.Endpoint
}

// StartMinIO starts a MinIO server on a free 127.0.0.1 port with its data
// under t.TempDir(), waits until it is ready, and stops it when the test
// ends. If no minio binary is found it installs the pinned one with go
// install (minutes on a fresh machine), failing the test if that fails.
// Under -short it skips the test instead (SkipIfShort).
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	return StartMinIOWith(t, MinIOOptions{})
}

// StartMinIOWith is StartMinIO with options (TLS).
func StartMinIOWith(t testing.TB, opts MinIOOptions) *MinIO {
	t.Helper()
	SkipIfShort(t, "MinIO")
	bin, err := minioBinary(t)
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	dir := t.TempDir()
	srvTLS, err := opts.serverTLS(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	// A port taken between our probe and MinIO's bind makes MinIO exit:
	// try again on another port.
	var lastErr error
	for attempt := range 3 {
		m, err := launch(t, bin, dir, attempt, srvTLS)
		if err == nil {
			return m
		}
		lastErr = err
	}
	t.Fatalf("minio: %v", lastErr)
	return nil
}

func launch(t testing.TB, bin, dir string, attempt int, srvTLS *minioTLS) (*MinIO, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	endpoint := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	run := filepath.Join(dir, fmt.Sprintf("run%d", attempt))
	logPath := filepath.Join(run, "minio.log")
	if err := os.MkdirAll(run, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor

	certs := filepath.Join(run, "certs")
	if err := srvTLS.install(certs); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "server", filepath.Join(run, "data"),
		"--address", endpoint,
		"--certs-dir", certs,
		"--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser,
		"MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_REGION="+minioRegion,
		"HOME="+run,
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	pr, err := startProc(cmd)
	if err != nil {
		return nil, err
	}
	exited := pr.exited
	clientTLS := srvTLS.clientConfig()
	if err := waitReady(endpoint, clientTLS, exited); err != nil {
		return nil, fmt.Errorf("%w\n--- tail of %s ---\n%s", pr.failed(err), logPath, tail(logPath))
	}
	srv := newServer(pr, logPath, func(exited <-chan struct{}) error { return waitReady(endpoint, clientTLS, exited) })
	t.Cleanup(srv.stop)
	m := &MinIO{
		Endpoint:  endpoint,
		AccessKey: minioUser,
		SecretKey: minioPassword,
		Region:    minioRegion,
		LogFile:   logPath,
		srv:       srv,
	}
	if srvTLS != nil {
		m.TLS, m.CAFile, m.tlsConfig = true, srvTLS.files.ca, clientTLS
	}
	return m, nil
}

// waitReady polls until the server reports ready and answers a signed S3
// request (the health check turns ready a moment before the S3 API stops
// answering "Server not initialized"), the process exits, or the deadline
// passes.
func waitReady(endpoint string, tc *tls.Config, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	client := httpClient(tc, time.Second)
	defer client.CloseIdleConnections()
	base := "http://" + endpoint
	if tc != nil {
		base = "https://" + endpoint
	}
	get := func(path string, sign bool) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if sign {
			signV4(req, minioUser, minioPassword, minioRegion, time.Now().UTC())
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := 0
	for {
		if last = get("/minio/health/ready", false); last == http.StatusOK {
			if last = get("/", true); last == http.StatusOK { // ListBuckets
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("minio exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("minio at %s not ready after %v (last status %d)", base, readyTimeout, last)
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
	}
	return string(b)
}

// minioBinary finds minio in $GOBIN or $GOPATH/bin (where the pinned one is
// installed), then in PATH, and installs the pinned one if it is nowhere.
func minioBinary(t testing.TB) (string, error) {
	gobin, err := goBinDir()
	if err != nil {
		return "", err
	}
	installed := filepath.Join(gobin, "minio")
	if fi, err := os.Stat(installed); err == nil && fi.Mode().IsRegular() {
		return installed, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	msg := fmt.Sprintf("testenv: minio not found: installing %s into %s (about 3 minutes on a fresh machine)", MinIOModule, gobin)
	t.Log(msg)
	fmt.Fprintln(os.Stderr, msg)
	cmd := exec.Command("go", "install", MinIOModule)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", MinIOModule, err, out.String())
	}
	if _, err := os.Stat(installed); err != nil {
		return "", fmt.Errorf("go install %s left no binary: %w", MinIOModule, err)
	}
	return installed, nil
}

func goBinDir() (string, error) {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 2 && strings.TrimSpace(lines[0]) != "" {
		return strings.TrimSpace(lines[0]), nil
	}
	gopath := strings.TrimSpace(lines[len(lines)-1])
	if gopath == "" {
		return "", errors.New("go env GOPATH is empty")
	}
	return filepath.Join(filepath.SplitList(gopath)[0], "bin"), nil
}

// NewBucket creates a bucket no other test uses and returns its name.
func (m *MinIO) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test-%04d", m.buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.createBucket(ctx, name); err != nil {
		t.Fatalf("minio: create bucket %s: %v\n--- tail of %s ---\n%s", name, err, m.LogFile, tail(m.LogFile))
	}
	return name
}

// createBucket sends a PUT Bucket signed with AWS Signature V4, so this
// package needs no S3 client library.
func (m *MinIO) createBucket(ctx context.Context, name string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, m.URL()+"/"+name, nil)
	if err != nil {
		return err
	}
	signV4(req, m.AccessKey, m.SecretKey, m.Region, time.Now().UTC())
	client := httpClient(m.tlsConfig, 0)
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		return fmt.Errorf("%s: %s", resp.Status, body.String())
	}
	return nil
}

// signV4 signs a request with an empty body (AWS Signature Version 4,
// service s3).
func signV4(req *http.Request, accessKey, secretKey, region string, now time.Time) {
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	amzDate := now.Format("20060102T150405Z")
	day := now.Format("20060102")
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	const signed = "host;x-amz-content-sha256;x-amz-date"
	canonical := strings.Join([]string{
		req.Method,
		req.URL.EscapedPath(),
		req.URL.RawQuery,
		"host:" + req.URL.Host + "\n" +
			"x-amz-content-sha256:" + emptySHA256 + "\n" +
			"x-amz-date:" + amzDate + "\n",
		signed,
		emptySHA256,
	}, "\n")
	scope := day + "/" + region + "/s3/aws4_request"
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secretKey)
	for _, part := range []string{day, region, "s3", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		accessKey, scope, signed, hex.EncodeToString(hmacSHA256(key, toSign))))
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
