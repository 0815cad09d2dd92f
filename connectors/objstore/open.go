package objstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/binlake/binlake/tableformat"
)

// Store is a tableformat.Store that holds resources until closed.
type Store interface {
	tableformat.Store
	io.Closer
}

// Warehouse is a parsed warehouse URL.
type Warehouse struct {
	Scheme string // "file" or "s3"
	Path   string // file: the absolute directory
	Bucket string // s3
	Prefix string // s3: the key prefix without slashes at either end, or ""
}

// String returns the warehouse's canonical URL.
func (w Warehouse) String() string {
	if w.Scheme == "file" {
		return (&url.URL{Scheme: "file", Path: w.Path}).String()
	}
	if w.Prefix == "" {
		return "s3://" + w.Bucket
	}
	return "s3://" + w.Bucket + "/" + w.Prefix
}

const warehouseForms = "use file:///absolute/path, an absolute path, or s3://bucket/prefix"

// ParseWarehouse parses file:///abs/path, a bare absolute path, or
// s3://bucket/prefix. Errors name the URL (never a password in it) and say
// what to write instead.
func ParseWarehouse(raw string) (Warehouse, error) {
	if raw == "" {
		return Warehouse{}, fmt.Errorf("warehouse URL is empty: %s", warehouseForms)
	}
	if strings.HasPrefix(raw, "/") {
		return Warehouse{Scheme: "file", Path: filepath.Clean(raw)}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, secrets and all
		}
		return Warehouse{}, fmt.Errorf("warehouse URL is not a valid URL (%v): %s", err, warehouseForms)
	}
	shown := u.Redacted()
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return Warehouse{}, fmt.Errorf("warehouse %s: a file URL names no host: write file:///%s%s (three slashes)",
				shown, u.Host, u.Path)
		}
		if u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
			return Warehouse{}, fmt.Errorf("warehouse %s: relative path: use an absolute path, file:///absolute/path", shown)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return Warehouse{}, fmt.Errorf("warehouse %s: a file URL takes no query or fragment", shown)
		}
		return Warehouse{Scheme: "file", Path: filepath.Clean(u.Path)}, nil
	case "s3":
		if u.User != nil {
			return Warehouse{}, fmt.Errorf("warehouse %s: credentials in the URL are not accepted: "+
				"give the access key and secret key in the S3 options", shown)
		}
		if u.Host == "" {
			return Warehouse{}, fmt.Errorf("warehouse %s: no bucket: write s3://bucket/prefix", shown)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return Warehouse{}, fmt.Errorf("warehouse %s: an s3 URL takes no query or fragment: "+
				"give the endpoint and region in the S3 options", shown)
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix != "" {
			if err := ValidateKey(prefix); err != nil {
				return Warehouse{}, fmt.Errorf("warehouse %s: prefix: %w", shown, err)
			}
		}
		return Warehouse{Scheme: "s3", Bucket: u.Host, Prefix: prefix}, nil
	case "":
		return Warehouse{}, fmt.Errorf("warehouse %s: relative path: %s", shown, warehouseForms)
	default:
		return Warehouse{}, fmt.Errorf("warehouse %s: unknown scheme %q: %s", shown, u.Scheme, warehouseForms)
	}
}

// Open opens the store a warehouse URL names: a local directory (created if
// missing) or an S3 bucket, whose existence and credentials it checks.
// s3 carries what the URL cannot (endpoint, credentials, client settings);
// a file:// warehouse ignores it.
func Open(ctx context.Context, warehouseURL string, s3 S3Config) (Store, error) {
	w, err := ParseWarehouse(warehouseURL)
	if err != nil {
		return nil, err
	}
	switch w.Scheme {
	case "file":
		l, err := NewLocal(w.Path)
		if err != nil {
			return nil, fmt.Errorf("warehouse %s: %w", w, err)
		}
		return l, nil
	default:
		if s3.Bucket != "" || s3.Prefix != "" {
			return nil, fmt.Errorf("warehouse %s: the bucket and prefix come from the warehouse URL: leave them out of the S3 settings", w)
		}
		cfg := s3.In(w)
		if err := cfg.withDefaults().Validate(); err != nil {
			return nil, fmt.Errorf("warehouse %s: S3 options: %w", w, err)
		}
		s, err := NewS3(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// In returns the S3 settings of warehouse w: its bucket and prefix, and an
// Endpoint written as http://host or https://host turned into the host,
// its scheme deciding UseTLS.
func (c S3Config) In(w Warehouse) S3Config {
	c.Bucket, c.Prefix = w.Bucket, w.Prefix
	if scheme, host, ok := strings.Cut(c.Endpoint, "://"); ok && (scheme == "http" || scheme == "https") {
		c.UseTLS = scheme == "https"
		c.Endpoint = strings.TrimSuffix(host, "/")
	}
	return c
}

// ProbeDir is where ProbePutIfAbsent writes its probe objects.
const ProbeDir = "_probe/"

// ErrNoConditionalWrites means a store accepted a second create of the same
// key: it does not enforce put-if-absent, and two writers could both commit
// the same lake version.
var ErrNoConditionalWrites = errors.New("store does not enforce put-if-absent")

// ProbePutIfAbsent checks that store enforces put-if-absent: it creates a
// probe object under _probe/, checks that a second create of the same key
// fails with fs.ErrExist and left the first content, then deletes it.
func ProbePutIfAbsent(ctx context.Context, store tableformat.Store) (err error) {
	var id [8]byte
	rand.Read(id[:])
	key := ProbeDir + "put-if-absent-" + hex.EncodeToString(id[:])
	first := []byte("binlake put-if-absent probe, first create of " + key)
	if err := store.PutIfAbsent(ctx, key, first); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return fmt.Errorf("probe put-if-absent: %w: %w", ErrNoConditionalWrites, err)
		}
		return fmt.Errorf("probe put-if-absent: first create: %w", err)
	}
	defer func() {
		if derr := store.Delete(ctx, key); derr != nil && err == nil {
			err = fmt.Errorf("probe put-if-absent: remove probe: %w", derr)
		}
	}()
	err = store.PutIfAbsent(ctx, key, []byte("binlake put-if-absent probe, second create"))
	switch {
	case err == nil:
		return fmt.Errorf("probe put-if-absent: a second create of %s succeeded: %w; binlake commits by "+
			"creating each log entry only if absent (S3 If-None-Match: *), so it needs a store that enforces it "+
			"(MinIO, AWS S3, or another S3 API with conditional writes)", key, ErrNoConditionalWrites)
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("probe put-if-absent: second create: %w", err)
	}
	got, err := tableformat.ReadObject(ctx, store, key)
	if err != nil {
		return fmt.Errorf("probe put-if-absent: read back: %w", err)
	}
	if string(got) != string(first) {
		return fmt.Errorf("probe put-if-absent: the refused second create still replaced %s: %w", key, ErrNoConditionalWrites)
	}
	return nil
}
