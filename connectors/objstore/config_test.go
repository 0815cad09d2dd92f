package objstore_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/settings"
)

// TestS3ConfigProblemsNameFields: every problem of an S3 configuration
// names its field, so that a configuration can say which of its keys is
// wrong; an endpoint that holds credentials is never shown.
func TestS3ConfigProblemsNameFields(t *testing.T) {
	err := objstore.S3Config{Endpoint: "http://user:" + testSecret + "@127.0.0.1:9000", Bucket: "B_", Prefix: "a/../b",
		CACertFile: "/ca.pem"}.Validate()
	want := []string{"endpoint", "bucket", "prefix", "access_key", "secret_key", "ca_cert_file", "request_timeout"}
	if got := settings.Fields(err); !slices.Equal(got, want) {
		t.Fatalf("Validate: %v\nfields %v, want %v", err, got, want)
	}
	if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "user:") {
		t.Fatalf("Validate shows the endpoint's credentials: %v", err)
	}
	for _, p := range settings.ProblemsIn(err) {
		if missing := p.Field == "access_key" || p.Field == "secret_key"; p.Missing != missing {
			t.Errorf("%s: Missing %v", p.Field, p.Missing)
		}
	}
}

// TestS3ConfigIn: a warehouse's S3 settings take its bucket and prefix,
// and an endpoint's http:// or https:// decides TLS.
func TestS3ConfigIn(t *testing.T) {
	w, err := objstore.ParseWarehouse("s3://lake/lakes/prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		endpoint string
		useTLS   bool
		host     string
		tls      bool
	}{
		{"127.0.0.1:9000", false, "127.0.0.1:9000", false},
		{"s3.amazonaws.com", true, "s3.amazonaws.com", true},
		{"http://127.0.0.1:9000/", true, "127.0.0.1:9000", false},
		{"https://minio.example.com:9000", false, "minio.example.com:9000", true},
		{"ftp://x", true, "ftp://x", true}, // left for Validate to refuse
	} {
		got := objstore.S3Config{Endpoint: c.endpoint, UseTLS: c.useTLS}.In(w)
		if got.Endpoint != c.host || got.UseTLS != c.tls || got.Bucket != "lake" || got.Prefix != "lakes/prod" {
			t.Errorf("In(%q, TLS %v) = %q, TLS %v, bucket %q, prefix %q", c.endpoint, c.useTLS, got.Endpoint, got.UseTLS, got.Bucket, got.Prefix)
		}
	}
}
