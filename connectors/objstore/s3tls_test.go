package objstore_test

import (
	"bytes"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlake/binlake/connectors/objstore"
)

// TestS3TLSCertificate: an https endpoint whose certificate is not signed
// by a trusted CA, or is not valid for the endpoint's host name, fails
// NewS3 with ErrTLSCertificate and says which setting to fix; a server that
// does not speak TLS is told apart; the right CA file connects.
func TestS3TLSCertificate(t *testing.T) {
	f := &fakeS3{script: always(200, ""), counts: map[string]int{}}
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()                                   // a certificate for 127.0.0.1, ::1 and example.com
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	byIP := strings.TrimPrefix(srv.URL, "https://")
	byName := strings.Replace(byIP, "127.0.0.1", "localhost", 1) // not in the certificate
	plain := httptest.NewServer(f)
	t.Cleanup(plain.Close)
	open := func(endpoint, caFile string) error {
		s, err := objstore.NewS3(t.Context(), objstore.S3Config{Endpoint: endpoint, Bucket: "bucket", Region: "us-east-1",
			AccessKey: "AK", SecretKey: "SK", UseTLS: true, CACertFile: caFile})
		if err == nil {
			s.Close()
		}
		return err
	}
	if err := open(byIP, ca); err != nil {
		t.Fatalf("with the CA that signed the certificate: %v", err)
	}
	for _, c := range []struct {
		name, endpoint, caFile string
		cert                   bool
		wants                  []string
	}{
		{"no CA file", byIP, "", true, []string{"unknown authority", "warehouse.s3.ca_file"}},
		{"host name not in the certificate", byName, ca, true, []string{"not valid for localhost", "warehouse.s3.endpoint", "example.com"}},
		{"server without TLS", strings.TrimPrefix(plain.URL, "http://"), "", false, []string{"use_tls: false"}},
	} {
		err := open(c.endpoint, c.caFile)
		if err == nil || errors.Is(err, objstore.ErrTLSCertificate) != c.cert {
			t.Errorf("%s: %v, want an error (certificate refused: %v)", c.name, err, c.cert)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v does not say %q", c.name, err, w)
			}
		}
	}
}

// TestS3AccessDenied: a request refused with AccessDenied wraps
// fs.ErrPermission and names the permission; other 403s (a wrong
// signature) do not.
func TestS3AccessDenied(t *testing.T) {
	_, srv := newFakeS3(t, always(403, "AccessDenied"))
	s := fakeStore(t, srv, 0)
	for op, err := range map[string]error{
		"put":           s.Put(t.Context(), "a/b", bytes.NewReader([]byte("x")), 1),
		"put-if-absent": s.PutIfAbsent(t.Context(), "a/c", []byte("x")),
		"delete":        s.Delete(t.Context(), "a/b"),
	} {
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "s3:") {
			t.Errorf("%s refused with AccessDenied: %v, want fs.ErrPermission naming the permission", op, err)
		}
	}
	_, srv = newFakeS3(t, always(403, "SignatureDoesNotMatch"))
	if err := fakeStore(t, srv, 0).Put(t.Context(), "a/b", bytes.NewReader([]byte("x")), 1); err == nil || errors.Is(err, fs.ErrPermission) {
		t.Errorf("put refused with SignatureDoesNotMatch: %v, want an error that is not fs.ErrPermission", err)
	}
}
