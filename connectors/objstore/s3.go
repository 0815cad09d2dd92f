package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/tableformat"
)

// S3 defaults.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxRetries     = 5
)

// S3Config configures an S3 store. Printing it (fmt, slog) never shows the
// secret key or the session token.
type S3Config struct {
	// Endpoint is host[:port] without a scheme: "127.0.0.1:9000",
	// "s3.eu-west-1.amazonaws.com".
	Endpoint string
	Bucket   string
	// Prefix is prepended to every key ("lakes/prod" stores key k as
	// "lakes/prod/k"); leading and trailing slashes are ignored.
	Prefix string
	// Region is the bucket's region; empty asks the server once.
	Region       string
	AccessKey    string
	SecretKey    secret.String
	SessionToken secret.String
	// UseTLS selects https.
	UseTLS bool
	// CACertFile is a PEM file of extra certificate authorities to trust,
	// for a server whose certificate a private CA signed. Needs UseTLS.
	CACertFile string
	// RequestTimeout bounds connecting, waiting for each response, and
	// every stretch of a transfer in which no byte moves (a server that
	// hangs mid-body); and the whole of a PutIfAbsent. 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxRetries is how often a failed idempotent request (everything but
	// PutIfAbsent) is retried on timeouts, connection errors, 5xx and
	// throttling, with exponential backoff and full jitter (minio-go's own
	// retry loop); PutIfAbsent retries only answers proving nothing was
	// written (409, 429), as often. 0 means DefaultMaxRetries, a negative
	// value disables retries.
	MaxRetries int
}

// Validate reports every problem of the configuration (after its
// defaults) at once, each a *settings.Problem naming its field. It never
// shows a secret, nor an endpoint that holds credentials.
func (c S3Config) Validate() error {
	var ps settings.Problems
	switch {
	case c.Endpoint == "":
		ps.Missing("endpoint", "host:port of the S3 API, such as s3.amazonaws.com, or 127.0.0.1:9000 for a local MinIO with {use_tls} false")
	case strings.Contains(c.Endpoint, "@"): // not shown: it may hold a password
		ps.Add("endpoint", "give host:port only: credentials belong in {access_key} and the secret key, not in the endpoint")
	case strings.Contains(c.Endpoint, "://"):
		scheme, _, _ := strings.Cut(c.Endpoint, "://")
		ps.Add("endpoint", "scheme %q: give host:port with no scheme (a warehouse's endpoint may have http or https in front: it decides TLS)",
			settings.Shorten(scheme))
	case strings.ContainsAny(c.Endpoint, "/?#"):
		ps.Add("endpoint", "%q: give host:port only; the bucket and prefix belong in {bucket} (s3://bucket/prefix)", c.Endpoint)
	}
	if err := s3utils.CheckValidBucketName(c.Bucket); err != nil {
		ps.Add("bucket", "%q: %v (an S3 bucket name is 3–63 characters of a-z, 0-9, '.' and '-')", c.Bucket, err)
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			ps.Add("prefix", "%v", err)
		}
	}
	if c.AccessKey == "" {
		ps.Missing("access_key", "the S3 store needs the access key")
	}
	if c.SecretKey == "" {
		ps.Missing("secret_key", "the S3 store needs the secret key")
	}
	if c.CACertFile != "" && !c.UseTLS {
		ps.Add("ca_cert_file", "set, but {use_tls} is false: a CA certificate is for https: set use_tls: true, or remove {ca_cert_file}")
	}
	if c.RequestTimeout <= 0 {
		ps.Add("request_timeout", "%s: must be positive, such as %s", c.RequestTimeout, settings.Duration(DefaultRequestTimeout))
	}
	return ps.Err()
}

func (c S3Config) withDefaults() S3Config {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	return c
}

// url returns s3://bucket/prefix.
func (c S3Config) url() string {
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		return "s3://" + c.Bucket + "/" + p
	}
	return "s3://" + c.Bucket
}

// String describes the configuration without its secrets.
func (c S3Config) String() string {
	scheme := "http"
	if c.UseTLS {
		scheme = "https"
	}
	token := ""
	if c.SessionToken != "" {
		token = fmt.Sprintf(", session token %s", c.SessionToken)
	}
	return fmt.Sprintf("%s at %s://%s (region %q, access key %q, secret key %s%s)",
		c.url(), scheme, c.Endpoint, c.Region, c.AccessKey, c.SecretKey, token)
}

// S3 is a Store in an S3 bucket, through minio-go. PutIfAbsent sends
// If-None-Match: * in a single-part PUT and is never retried blindly; every
// other call is idempotent and retried on timeouts, 5xx and throttling.
type S3 struct {
	cfg       S3Config // secrets cleared
	prefix    string   // "" or "p/"
	client    *minio.Client
	once      *minio.Client // never retries: for PutIfAbsent
	transport *http.Transport
}

var _ tableformat.Store = (*S3)(nil)

// NewS3 connects to the bucket and checks that it exists and the
// credentials work.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("s3 store %s: %w", cfg, err)
	}
	tr, err := newTransport(cfg)
	if err != nil {
		return nil, fmt.Errorf("s3 store %s: %w", cfg, err)
	}
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey.Reveal(), cfg.SessionToken.Reveal())
	newClient := func(region string, attempts int) (*minio.Client, error) {
		return minio.New(cfg.Endpoint, &minio.Options{
			Creds:      creds,
			Secure:     cfg.UseTLS,
			Transport:  tr,
			Region:     region,
			MaxRetries: attempts, // minio-go counts attempts: 1 is no retry
		})
	}
	client, err := newClient(cfg.Region, cfg.MaxRetries+1)
	if err != nil {
		return nil, fmt.Errorf("s3 store %s: %w", cfg, err)
	}
	if cfg.UseTLS {
		if err := probeTLS(ctx, cfg, tr); err != nil {
			tr.CloseIdleConnections()
			return nil, fmt.Errorf("s3 store %s: %w", cfg, err)
		}
	}
	s, err := connect(ctx, cfg, client, newClient)
	if err != nil {
		tr.CloseIdleConnections()
		if terr := tlsError(cfg, err); terr != nil {
			err = terr
		}
		return nil, fmt.Errorf("s3 store %s: %w", cfg, err)
	}
	s.transport = tr
	return s, nil
}

func connect(ctx context.Context, cfg S3Config, client *minio.Client,
	newClient func(region string, attempts int) (*minio.Client, error),
) (*S3, error) {
	cctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	ok, err := client.BucketExists(cctx, cfg.Bucket)
	if err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.Code == minio.AccessDenied {
			err = cfg.permissionError("check bucket", err)
		}
		return nil, fmt.Errorf("check bucket: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("bucket %s does not exist: create it first (e.g. mc mb, aws s3 mb), or fix the bucket in warehouse.url", cfg.Bucket)
	}
	region := cfg.Region
	if region == "" {
		// Resolve it now (BucketExists cached it), so that PutIfAbsent
		// never needs an extra request that could fail on its own.
		if region, err = client.GetBucketLocation(cctx, cfg.Bucket); err != nil {
			return nil, fmt.Errorf("bucket location: %w", err)
		}
	}
	once, err := newClient(region, 1)
	if err != nil {
		return nil, err
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	cfg.SecretKey, cfg.SessionToken = "", ""
	return &S3{cfg: cfg, prefix: prefix, client: client, once: once}, nil
}

func newTransport(cfg S3Config) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: cfg.RequestTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &stallConn{Conn: c, idle: cfg.RequestTimeout}, nil
		},
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       time.Minute,
		TLSHandshakeTimeout:   cfg.RequestTimeout,
		ResponseHeaderTimeout: cfg.RequestTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // objects are stored as sent
	}
	if cfg.UseTLS {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CACertFile != "" {
			pem, err := os.ReadFile(cfg.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %s: no PEM certificate in it", cfg.CACertFile)
			}
			tr.TLSClientConfig.RootCAs = pool
		}
	}
	return tr, nil
}

// String returns the store's URL and endpoint.
func (s *S3) String() string { return s.cfg.url() + " at " + s.cfg.Endpoint }

// Format prints String for every verb.
func (s *S3) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// Close releases idle connections.
func (s *S3) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

func (s *S3) check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ValidateKey(key)
}

// Put implements tableformat.Store. Objects up to 16 MiB go in one PUT,
// larger ones as a multipart upload, which S3 makes visible atomically. A
// failed request is retried only when r can seek back (minio-go rewinds
// readers that implement io.Seeker and io.ReaderAt).
//
// Without TLS, minio-go signs a PUT's body in 64 KiB chunks as it sends it,
// with a 64 KiB buffer and more for each PUT in flight: 10 MiB of the
// daemon's heap while a commit of a lake of 10,000 tables uploads its small
// files, 32 at a time. An object of one PUT that r holds (io.ReaderAt and
// io.Seeker, such as a bytes.Reader) is signed whole instead, with the
// SHA-256 of its bytes computed first.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size < 0 {
		return fmt.Errorf("put %s: negative size %d", key, size)
	}
	if r == nil {
		r = bytes.NewReader(nil)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if body, sum, ok := hashedBody(r, size, s.cfg.UseTLS); ok {
		opts.DisableContentSha256 = true // the payload's hash is sum: no chunks
		_, err := minio.Core{Client: s.client}.PutObject(ctx, s.cfg.Bucket, s.prefix+key, body, size, "", sum, opts)
		return s.wrap("put", key, err)
	}
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, s.prefix+key, r, size, opts)
	return s.wrap("put", key, err)
}

// singlePutBytes is the largest object minio-go's PutObject sends in one
// PUT (its minimum part size); larger ones go as multipart uploads.
const singlePutBytes = 16 << 20

// hashedBody returns the size bytes of r from its offset as a body that
// seeks back for a retry, and their SHA-256 in hex, when a PUT without TLS
// sends them whole (see Put): r can be read twice, and they fit in one PUT.
func hashedBody(r io.Reader, size int64, useTLS bool) (io.ReadSeeker, string, bool) {
	ra, ok := r.(io.ReaderAt)
	seeker, seeks := r.(io.Seeker)
	if useTLS || !ok || !seeks || size > singlePutBytes {
		return nil, "", false
	}
	off, err := seeker.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, "", false
	}
	h := sha256.New()
	if n, err := io.Copy(h, io.NewSectionReader(ra, off, size)); err != nil || n != size {
		return nil, "", false // short: PutObject reports it
	}
	return io.NewSectionReader(ra, off, size), hex.EncodeToString(h.Sum(nil)), true
}

// PutIfAbsent implements tableformat.Store: one PUT with If-None-Match: *,
// bounded by the request timeout. 412 Precondition Failed wraps
// fs.ErrExist. A timeout, a broken connection or a 5xx wraps
// tableformat.ErrUnknownOutcome. Only answers that prove nothing was written
// (409 ConditionalRequestConflict, 429) are retried.
func (s *S3) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	for attempt := 0; ; attempt++ {
		err := s.putIfAbsentOnce(ctx, key, data)
		if err == nil {
			return nil
		}
		outcome := classifyConditionalPut(err)
		switch {
		case outcome == putExists:
			return fmt.Errorf("put-if-absent %s: %w", key, fs.ErrExist)
		case outcome == putRetry && attempt < s.cfg.MaxRetries:
			if werr := backoff(ctx, attempt); werr != nil {
				return fmt.Errorf("put-if-absent %s: %w (then %w)", key, err, werr)
			}
			continue
		case outcome == putUnsupported:
			return fmt.Errorf("put-if-absent %s: the server does not support conditional writes "+
				"(If-None-Match: *), which every lake commit needs: use AWS S3, MinIO or another S3 API that has them "+
				"(binlake check probes it): %w: %w", key, errors.ErrUnsupported, err)
		case outcome == putUnknown:
			return fmt.Errorf("put-if-absent %s: %w: %w", key, tableformat.ErrUnknownOutcome, err)
		default:
			return s.wrap("put-if-absent", key, err)
		}
	}
}

func (s *S3) putIfAbsentOnce(ctx context.Context, key string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	opts := minio.PutObjectOptions{
		ContentType:      "application/octet-stream",
		DisableMultipart: true, // conditional writes must be single-part
		SendContentMd5:   true,
	}
	opts.SetMatchETagExcept("*")
	_, err := s.once.PutObject(ctx, s.cfg.Bucket, s.prefix+key, bytes.NewReader(data), int64(len(data)), opts)
	return err
}

type putOutcome int

const (
	putFailed      putOutcome = iota + 1 // rejected: nothing was written
	putExists                            // lost to an existing object
	putRetry                             // rejected for now: nothing was written, try again
	putUnsupported                       // the server ignores or refuses conditional writes
	putUnknown                           // may or may not have been written
)

// classifyConditionalPut sorts the error of one conditional PUT by what it
// proves about the object.
func classifyConditionalPut(err error) putOutcome {
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.StatusCode != 0 {
		switch {
		case er.StatusCode == http.StatusPreconditionFailed || er.Code == minio.PreconditionFailed:
			return putExists
		case er.StatusCode == http.StatusConflict || er.StatusCode == http.StatusTooManyRequests:
			return putRetry
		case er.StatusCode == http.StatusNotImplemented || er.Code == minio.NotImplemented:
			return putUnsupported
		case er.StatusCode >= 500:
			return putUnknown
		default:
			return putFailed // any other 4xx: the request was refused
		}
	}
	// No connection was made, so nothing was sent.
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) && opErr.Op == "dial" {
		return putFailed
	}
	return putUnknown
}

// backoff waits before retry attempt+1: full jitter over an exponential
// delay from 100 ms, capped at 2 s.
func backoff(ctx context.Context, attempt int) error {
	d := min(100*time.Millisecond<<min(attempt, 5), 2*time.Second)
	t := time.NewTimer(rand.N(d) + time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Open implements tableformat.Store. ctx governs the whole read.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.wrap("open", key, err)
	}
	// Stat sends the GET, so a missing object shows here, not at Read.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.wrap("open", key, err)
	}
	return obj, nil
}

// Stat implements tableformat.Store.
func (s *S3) Stat(ctx context.Context, key string) (tableformat.ObjectInfo, error) {
	if err := s.check(ctx, key); err != nil {
		return tableformat.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	oi, err := s.client.StatObject(ctx, s.cfg.Bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return tableformat.ObjectInfo{}, s.wrap("stat", key, err)
	}
	return tableformat.ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// List implements tableformat.Store with ListObjectsV2 (recursive,
// StartAfter), page by page.
func (s *S3) List(ctx context.Context, prefix, startAfter string) ([]tableformat.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	if err := validatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing if we return early
	fetchOwner := false
	opts := minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true, FetchOwner: &fetchOwner}
	if startAfter != "" {
		opts.StartAfter = s.prefix + startAfter
	}
	var out []tableformat.ObjectInfo
	for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, opts) {
		if o.Err != nil {
			return nil, s.wrap("list", prefix, o.Err)
		}
		key, ok := strings.CutPrefix(o.Key, s.prefix)
		// Skip "directory" markers some tools create, and anything a
		// server returns outside what was asked.
		if !ok || strings.HasSuffix(key, "/") || !strings.HasPrefix(key, prefix) || key <= startAfter {
			continue
		}
		out = append(out, tableformat.ObjectInfo{Key: key, Size: o.Size, ModTime: o.LastModified})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	// S3 lists in UTF-8 byte order, as Go compares strings; sorting keeps
	// the contract with servers that do not.
	slices.SortFunc(out, func(a, b tableformat.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements tableformat.Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err = s.wrap("delete", key, err); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// wrap maps a minio-go error: a missing object wraps fs.ErrNotExist; a
// missing bucket does not, as it means the store itself is gone; a request
// the server refused for want of permission wraps fs.ErrPermission.
func (s *S3) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch {
		case er.Code == minio.NoSuchBucket:
			return fmt.Errorf("%s %s: bucket %s does not exist: %w", op, key, s.cfg.Bucket, err)
		case er.Code == minio.NoSuchKey || er.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s %s: %w", op, key, fs.ErrNotExist)
		case er.Code == minio.AccessDenied:
			return fmt.Errorf("%s %s: %w", op, key, s.cfg.permissionError(op, err))
		}
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// action names the S3 permission a store operation needs.
func action(op string) string {
	switch op {
	case "put", "put-if-absent":
		return "s3:PutObject"
	case "open", "stat":
		return "s3:GetObject"
	case "delete":
		return "s3:DeleteObject"
	}
	return "s3:ListBucket" // list, check bucket
}

// permissionError explains a request the server refused (403 Forbidden,
// AccessDenied): the credentials lack a permission. It wraps err and
// fs.ErrPermission.
func (c S3Config) permissionError(op string, err error) error {
	also := ""
	if op == "check bucket" {
		// A HEAD request's 403 has no body to tell a wrong secret apart.
		also = ", or the secret key is not the access key's"
	}
	return fmt.Errorf("%w: %w: the storage refused the request: the access key %q (warehouse.s3.access_key_id) "+
		"lacks the permission %s on %s%s; a read-only key serves query, tables, log and status, "+
		"ingest, compact and vacuum need s3:PutObject and s3:DeleteObject too", err, fs.ErrPermission, c.AccessKey, action(op), c.url(), also)
}

// stallConn is a connection on which a read or a write fails once no byte
// has moved for idle: timeouts on connecting and on response headers do
// not cover request and response bodies, so a server that hangs in the
// middle of one (a stopped process, a silent network) would block the
// transfer for ever, and with it ingest's commit path. A write also moves
// the read deadline on: waiting for the response to a request counts from
// the request's last byte. A connection idle in the pool for idle is
// closed by its pending read, which the transport handles as a server
// closing an idle connection.
type stallConn struct {
	net.Conn
	idle time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *stallConn) Write(p []byte) (int, error) {
	deadline := time.Now().Add(c.idle)
	if err := c.Conn.SetWriteDeadline(deadline); err != nil {
		return 0, err
	}
	if err := c.Conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
