package objstore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
)

// fakeS3 answers HEAD bucket with 200 and every object request from a
// script, and records what it was sent.
type fakeS3 struct {
	mu      sync.Mutex
	script  func(method string, n int) (status int, code string) // n counts from 1 per method; status 0 hangs
	counts  map[string]int
	headers []http.Header
	queries []string
}

func newFakeS3(t *testing.T, script func(method string, n int) (int, string)) (*fakeS3, *httptest.Server) {
	f := &fakeS3{script: script, counts: make(map[string]int)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	if strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 { // bucket request
		w.WriteHeader(http.StatusOK)
		return
	}
	f.mu.Lock()
	f.counts[r.Method]++
	n := f.counts[r.Method]
	f.headers = append(f.headers, r.Header.Clone())
	f.queries = append(f.queries, r.URL.RawQuery)
	status, code := f.script(r.Method, n)
	f.mu.Unlock()
	if status == 0 {
		<-r.Context().Done() // a server that never answers
		return
	}
	if status >= 300 {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>scripted</Message></Error>`, code)
		}
		return
	}
	w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
	w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
	w.WriteHeader(status)
}

func (f *fakeS3) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[method]
}

func fakeStore(t *testing.T, srv *httptest.Server, timeout time.Duration) *objstore.S3 {
	t.Helper()
	s, err := objstore.NewS3(t.Context(), objstore.S3Config{
		Endpoint:       strings.TrimPrefix(srv.URL, "http://"),
		Bucket:         "bucket",
		Region:         "us-east-1",
		AccessKey:      "AK",
		SecretKey:      "SK-secret-value",
		RequestTimeout: timeout,
		MaxRetries:     2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestS3PutIfAbsentOutcomes(t *testing.T) {
	type outcome int
	const (
		ok outcome = iota
		exists
		unknown
		unsupported
		refused
	)
	cases := []struct {
		name   string
		script func(method string, n int) (int, string)
		want   outcome
		puts   int
	}{
		{"Created", always(200, ""), ok, 1},
		{"PreconditionFailed", always(412, "PreconditionFailed"), exists, 1},
		{"InternalError", always(500, "InternalError"), unknown, 1},
		{"SlowDown", always(503, "SlowDown"), unknown, 1},
		{"AccessDenied", always(403, "AccessDenied"), refused, 1},
		{"NotImplemented", always(501, "NotImplemented"), unsupported, 1},
		{"ConflictThenCreated", firstThen(409, "ConditionalRequestConflict", 200), ok, 2},
		{"ConflictThenLost", firstThen(409, "ConditionalRequestConflict", 412), exists, 2},
		{"ThrottledThenCreated", firstThen(429, "SlowDown", 200), ok, 2},
		{"ConflictForever", always(409, "ConditionalRequestConflict"), refused, 3},
		{"NoAnswer", always(0, ""), unknown, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFakeS3(t, tc.script)
			// A server that answers is given all the time it needs, so no
			// outcome depends on the machine's speed; one that never
			// answers is ended by the request timeout.
			timeout := time.Minute
			if tc.name == "NoAnswer" {
				timeout = 300 * time.Millisecond
			}
			s := fakeStore(t, srv, timeout)
			err := s.PutIfAbsent(t.Context(), "_log/1", []byte(`{"v":1}`))
			var got outcome
			switch {
			case err == nil:
				got = ok
			case errors.Is(err, fs.ErrExist):
				got = exists
			case errors.Is(err, tableformat.ErrUnknownOutcome):
				got = unknown
			case errors.Is(err, errors.ErrUnsupported):
				got = unsupported
			default:
				got = refused
			}
			if got != tc.want {
				t.Fatalf("got %v (outcome %d), want outcome %d", err, got, tc.want)
			}
			if n := f.count(http.MethodPut); n != tc.puts {
				t.Fatalf("sent %d PUTs, want %d", n, tc.puts)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for i, h := range f.headers {
				if h.Get("If-None-Match") != "*" {
					t.Errorf("PUT %d: If-None-Match = %q, want *", i, h.Get("If-None-Match"))
				}
				if f.queries[i] != "" {
					t.Errorf("PUT %d: query %q: not a single-part upload", i, f.queries[i])
				}
			}
		})
	}
}

func TestS3PutIfAbsentServerDown(t *testing.T) {
	_, srv := newFakeS3(t, always(200, ""))
	s := fakeStore(t, srv, time.Minute)
	srv.Close()
	s.Close() // no pooled connection: the next request must dial
	err := s.PutIfAbsent(t.Context(), "_log/1", []byte("x"))
	if err == nil || errors.Is(err, tableformat.ErrUnknownOutcome) {
		t.Fatalf("got %v, want an error that says nothing was sent", err)
	}
}

func TestS3RetriesIdempotentCalls(t *testing.T) {
	t.Run("PutSeekable", func(t *testing.T) {
		f, srv := newFakeS3(t, func(_ string, n int) (int, string) {
			if n <= 2 {
				return 503, "SlowDown"
			}
			return 200, ""
		})
		s := fakeStore(t, srv, time.Minute)
		if err := tableformat.PutBytes(t.Context(), s, "data/x", []byte("payload")); err != nil {
			t.Fatal(err)
		}
		if n := f.count(http.MethodPut); n != 3 {
			t.Fatalf("sent %d PUTs, want 3", n)
		}
	})
	t.Run("PutStream", func(t *testing.T) {
		f, srv := newFakeS3(t, always(500, "InternalError"))
		s := fakeStore(t, srv, time.Minute)
		// A stream cannot be rewound, so it is sent once.
		if err := s.Put(t.Context(), "data/x", io.MultiReader(strings.NewReader("payload")), 7); err == nil {
			t.Fatal("put succeeded")
		}
		if n := f.count(http.MethodPut); n != 1 {
			t.Fatalf("sent %d PUTs, want 1", n)
		}
	})
	t.Run("StatGivesUp", func(t *testing.T) {
		f, srv := newFakeS3(t, always(503, "SlowDown"))
		s := fakeStore(t, srv, time.Minute)
		if _, err := s.Stat(t.Context(), "x"); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v, want a plain error", err)
		}
		if n := f.count(http.MethodHead); n != 3 {
			t.Fatalf("sent %d HEADs, want 3 (MaxRetries 2)", n)
		}
	})
	t.Run("NotFoundIsNotRetried", func(t *testing.T) {
		f, srv := newFakeS3(t, always(404, "NoSuchKey"))
		s := fakeStore(t, srv, time.Minute)
		if _, err := s.Stat(t.Context(), "x"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v, want fs.ErrNotExist", err)
		}
		if _, err := s.Open(t.Context(), "x"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v, want fs.ErrNotExist", err)
		}
		if err := s.Delete(t.Context(), "x"); err != nil {
			t.Fatalf("delete of a missing object: %v", err)
		}
		if n := f.count(http.MethodHead) + f.count(http.MethodGet); n != 2 {
			t.Fatalf("sent %d requests, want 2", n)
		}
	})
}

// TestS3PutSignsWholeBodies: without TLS, a PUT of an object the reader
// holds is signed with the SHA-256 of its bytes, and sends them as they
// are, on a retry too; a stream is still signed chunk by chunk as it is
// sent (minio-go's way without TLS, with a 64 KiB buffer for each PUT).
func TestS3PutSignsWholeBodies(t *testing.T) {
	type put struct {
		sha, encoding string
		body          []byte
	}
	var (
		mu   sync.Mutex
		puts []put
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPut {
			w.WriteHeader(http.StatusOK) // the bucket check
			return
		}
		mu.Lock()
		puts = append(puts, put{r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("Content-Encoding"), body})
		first := len(puts)%2 == 1
		mu.Unlock()
		if first {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>scripted</Message></Error>`)
			return
		}
		w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	s := fakeStore(t, srv, time.Minute)
	data := bytes.Repeat([]byte("payload "), 20_000) // 160 KB: several chunks of a streamed PUT
	sum := sha256.Sum256(data)
	sent := func() []put {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(puts)
	}
	if err := tableformat.PutBytes(t.Context(), s, "data/x", data); err != nil {
		t.Fatal(err)
	}
	got := sent()
	if len(got) != 2 {
		t.Fatalf("sent %d PUTs, want 2 (one retry)", len(got))
	}
	for i, p := range got {
		if p.sha != hex.EncodeToString(sum[:]) || p.encoding != "" || !bytes.Equal(p.body, data) {
			t.Fatalf("PUT %d: X-Amz-Content-Sha256 %q, Content-Encoding %q, %d bytes of body; want the data's SHA-256, none, the %d bytes",
				i+1, p.sha, p.encoding, len(p.body), len(data))
		}
	}
	if err := s.Put(t.Context(), "data/y", io.MultiReader(bytes.NewReader(data)), int64(len(data))); err == nil {
		t.Fatal("a stream was sent again after a 503")
	}
	if got = sent()[2:]; len(got) != 1 || got[0].sha != "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" {
		t.Fatalf("a stream was sent as %d PUTs, want one signed chunk by chunk", len(got))
	}
}

func always(status int, code string) func(string, int) (int, string) {
	return func(string, int) (int, string) { return status, code }
}

func firstThen(status int, code string, then int) func(string, int) (int, string) {
	return func(_ string, n int) (int, string) {
		if n == 1 {
			return status, code
		}
		if then >= 300 {
			return then, "PreconditionFailed"
		}
		return then, ""
	}
}

const (
	testSecret = "wJalrXUtnFEMI-K7MDENG-secret"
	testToken  = "FwoGZXIvYXdz-session-token"
)

func TestS3ConfigRedaction(t *testing.T) {
	cfg := objstore.S3Config{
		Endpoint: "s3.example.com", Bucket: "b", Prefix: "p", Region: "eu-west-1",
		AccessKey: "AKIAEXAMPLE", SecretKey: testSecret, SessionToken: testToken, UseTLS: true,
	}
	opts := objstore.S3Config{Endpoint: "https://s3.example.com", AccessKey: "AKIAEXAMPLE", SecretKey: testSecret, SessionToken: testToken}
	var outputs []string
	for _, v := range []any{cfg, &cfg, opts, &opts} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		outputs = append(outputs, fmt.Sprint(v), fmt.Sprintf("%v", []any{v}), fmt.Sprintf("%+v", struct{ C any }{v}))
	}
	for _, v := range []any{cfg, opts, struct{ C, O any }{cfg, &opts}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(b))
	}
	if b, _ := json.Marshal(cfg); !strings.Contains(string(b), `"Bucket":"b"`) || !strings.Contains(string(b), `"SecretKey":"REDACTED"`) {
		t.Fatalf("JSON = %s: want the fields, the secret masked", b)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("s3", "cfg", cfg, "opts", opts)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("s3", "cfg", cfg, "opts", opts)
	outputs = append(outputs, buf.String())
	if err := (objstore.S3Config{SecretKey: testSecret, SessionToken: testToken}).Validate(); err != nil {
		outputs = append(outputs, err.Error())
	}
	_, err := objstore.NewS3(t.Context(), objstore.S3Config{SecretKey: testSecret, SessionToken: testToken, Bucket: "b"})
	if err == nil {
		t.Fatal("NewS3 without endpoint succeeded")
	}
	outputs = append(outputs, err.Error())
	_, err = objstore.Open(t.Context(), "s3://b/p", objstore.S3Config{SecretKey: testSecret, SessionToken: testToken})
	if err == nil {
		t.Fatal("Open without endpoint succeeded")
	}
	outputs = append(outputs, err.Error())

	for _, out := range outputs {
		if strings.Contains(out, testSecret) || strings.Contains(out, testToken) {
			t.Fatalf("a secret leaked: %s", out)
		}
	}
	if s := cfg.String(); !strings.Contains(s, "REDACTED") || !strings.Contains(s, "s3://b/p") || !strings.Contains(s, "AKIAEXAMPLE") {
		t.Fatalf("String = %q: want the URL, the access key and REDACTED", s)
	}
}

func TestS3StoreRedaction(t *testing.T) {
	_, srv := newFakeS3(t, always(200, ""))
	s, err := objstore.NewS3(t.Context(), objstore.S3Config{
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "bucket", Region: "us-east-1",
		AccessKey: "AK", SecretKey: testSecret, SessionToken: testToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, testSecret) || strings.Contains(out, testToken) {
			t.Fatalf("%s of the store leaked a secret: %s", verb, out)
		}
	}
	if got := s.String(); got != "s3://bucket at "+strings.TrimPrefix(srv.URL, "http://") {
		t.Fatalf("String = %q", got)
	}
}

func TestS3ConfigValidateReportsEverything(t *testing.T) {
	err := objstore.S3Config{Endpoint: "https://x", Bucket: "B_", Prefix: "a/../b", CACertFile: "/ca.pem", RequestTimeout: -1}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"no scheme", "bucket", "prefix", "access_key missing", "secret_key missing", "use_tls is false",
		"request_timeout -1ns: must be positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestS3CACertFile(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.pem"
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{bad, dir + "/missing.pem"} {
		_, err := objstore.NewS3(t.Context(), objstore.S3Config{
			Endpoint: "127.0.0.1:1", Bucket: "bucket", AccessKey: "a", SecretKey: "s", UseTLS: true, CACertFile: file,
		})
		if err == nil || !strings.Contains(err.Error(), "CA file") {
			t.Errorf("CA file %s: got %v", file, err)
		}
	}
}

// A server that answers If-None-Match with 501 fails the probe as a store
// without conditional writes.
func TestProbeServerWithoutConditionalWrites(t *testing.T) {
	_, srv := newFakeS3(t, always(501, "NotImplemented"))
	err := objstore.ProbePutIfAbsent(t.Context(), fakeStore(t, srv, time.Minute))
	if !errors.Is(err, objstore.ErrNoConditionalWrites) {
		t.Fatalf("got %v, want ErrNoConditionalWrites", err)
	}
}
