package objstore_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
)

func TestParseWarehouse(t *testing.T) {
	good := []struct {
		in   string
		want objstore.Warehouse
		url  string
	}{
		{"file:///var/lib/binlake", objstore.Warehouse{Scheme: "file", Path: "/var/lib/binlake"}, "file:///var/lib/binlake"},
		{"file:///var/lib/binlake/", objstore.Warehouse{Scheme: "file", Path: "/var/lib/binlake"}, "file:///var/lib/binlake"},
		{"file://localhost/data", objstore.Warehouse{Scheme: "file", Path: "/data"}, "file:///data"},
		{"file:///with%20space", objstore.Warehouse{Scheme: "file", Path: "/with space"}, "file:///with%20space"},
		{"/srv/lake", objstore.Warehouse{Scheme: "file", Path: "/srv/lake"}, "file:///srv/lake"},
		{"/srv/../srv/lake/", objstore.Warehouse{Scheme: "file", Path: "/srv/lake"}, "file:///srv/lake"},
		{"s3://bucket", objstore.Warehouse{Scheme: "s3", Bucket: "bucket"}, "s3://bucket"},
		{"s3://bucket/", objstore.Warehouse{Scheme: "s3", Bucket: "bucket"}, "s3://bucket"},
		{"s3://bucket/lakes/prod/", objstore.Warehouse{Scheme: "s3", Bucket: "bucket", Prefix: "lakes/prod"}, "s3://bucket/lakes/prod"},
	}
	for _, tc := range good {
		got, err := objstore.ParseWarehouse(tc.in)
		if err != nil || got != tc.want || got.String() != tc.url {
			t.Errorf("ParseWarehouse(%q) = %+v (%s), %v; want %+v (%s)", tc.in, got, got, err, tc.want, tc.url)
		}
	}
	bad := []struct{ in, says string }{
		{"", "empty"},
		{"lake", "relative"},
		{"./lake", "relative"},
		{"file:lake", "relative"},
		{"file://lake/dir", "three slashes"},
		{"file:///x?y=1", "no query"},
		{"s3://", "no bucket"},
		{"s3:///prefix", "no bucket"},
		{"s3://bucket/a/../b", "prefix"},
		{"s3://bucket/p?region=x", "no query"},
		{"gs://bucket/p", `unknown scheme "gs"`},
		{"https://s3.amazonaws.com/bucket", `unknown scheme "https"`},
		{"s3://AKIA:topsecret@bucket/p", "credentials in the URL"},
		{"s3://b/%zz", "not a valid URL"},
	}
	for _, tc := range bad {
		_, err := objstore.ParseWarehouse(tc.in)
		if err == nil {
			t.Errorf("ParseWarehouse(%q) accepted it", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseWarehouse(%q) = %q: want it to say %q", tc.in, err, tc.says)
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("ParseWarehouse(%q) = %q: shows the password", tc.in, err)
		}
		if tc.in != "" && !strings.Contains(err.Error(), "file:///") && !strings.Contains(err.Error(), "s3://") {
			t.Errorf("ParseWarehouse(%q) = %q: does not say what to write", tc.in, err)
		}
	}
}

func TestOpenFile(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "lake")
	for _, raw := range []string{"file://" + dir, dir} {
		s, err := objstore.Open(ctx, raw, objstore.S3Config{})
		if err != nil {
			t.Fatalf("Open(%q): %v", raw, err)
		}
		if _, ok := s.(*objstore.Local); !ok {
			t.Fatalf("Open(%q) = %T, want *objstore.Local", raw, s)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("Open did not create the directory: %v", err)
	}
}

func TestOpenS3ReportsMissingOptions(t *testing.T) {
	_, err := objstore.Open(t.Context(), "s3://bucket/p", objstore.S3Config{})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"s3://bucket/p", "endpoint missing", "access_key missing", "secret_key missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	_, err = objstore.Open(t.Context(), "s3://bucket", objstore.S3Config{Endpoint: "ftp://x", AccessKey: "a", SecretKey: "s"})
	if err == nil || !strings.Contains(err.Error(), "http or https") {
		t.Fatalf("ftp endpoint: got %v", err)
	}
}

func TestProbePutIfAbsent(t *testing.T) {
	ctx := t.Context()
	for name, s := range map[string]tableformat.Store{"mem": tableformat.NewMemStore(), "local": newLocal(t)} {
		if err := objstore.ProbePutIfAbsent(ctx, s); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if left, _ := s.List(ctx, "", ""); len(left) != 0 {
			t.Errorf("%s: probe left %+v", name, left)
		}
	}
	mem := tableformat.NewMemStore()
	err := objstore.ProbePutIfAbsent(ctx, blindStore{mem})
	if !errors.Is(err, objstore.ErrNoConditionalWrites) || !strings.Contains(err.Error(), "If-None-Match") {
		t.Fatalf("store without conditional writes: got %v", err)
	}
	if left, _ := mem.List(ctx, "", ""); len(left) != 0 {
		t.Errorf("probe left %+v", left)
	}
}

// blindStore overwrites on PutIfAbsent, like an S3 server that ignores
// If-None-Match.
type blindStore struct{ tableformat.Store }

func (b blindStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return b.Put(ctx, key, strings.NewReader(string(data)), int64(len(data)))
}

var _ io.Closer = (*objstore.S3)(nil)
