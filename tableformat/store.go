package tableformat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Store is the object storage a lake lives in: a flat namespace of immutable
// objects addressed by slash-separated keys relative to the lake's root.
//
// Implementations (a local directory, S3, memory) live outside this package;
// they must all pass the conformance suite in tableformat/storetest.
//
// Errors: a missing object wraps fs.ErrNotExist; a PutIfAbsent that lost to an
// existing object wraps fs.ErrExist. A PutIfAbsent whose outcome is unknown
// (timeout, connection reset, 5xx after the request was sent) wraps
// ErrUnknownOutcome: the object may or may not exist, and the caller must read
// it back before deciding anything.
type Store interface {
	// Put writes size bytes from r as the object at key, replacing any object
	// there. A reader never sees a partial object: it sees the old one, the new
	// one, or none.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// PutIfAbsent creates the object at key only if no object exists there.
	// Exactly one of several concurrent callers for the same key succeeds. It
	// is meant for small objects (log entries) and always uploads in one part.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// Open returns a reader of the whole object; the caller closes it.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat returns the object's size and modification time.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List returns the objects whose keys start with prefix and sort after
	// startAfter (all of them when startAfter is ""), in lexical key order.
	List(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// ErrUnknownOutcome marks a write whose effect is unknown: the request may
// have been applied by the store even though the client saw an error.
var ErrUnknownOutcome = errors.New("outcome unknown")

// ReadObject returns the whole object at key.
func ReadObject(ctx context.Context, s Store, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// PutBytes writes data as the object at key.
func PutBytes(ctx context.Context, s Store, key string, data []byte) error {
	return s.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
}

// PutFile uploads the local file at path as the object at key.
func PutFile(ctx context.Context, s Store, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := s.Put(ctx, key, f, fi.Size()); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

// WrittenFile is a lake file written into a local directory and sealed,
// not yet uploaded: Add has everything a log entry records but the path
// (the object key, which the uploader chooses; PutFile uploads the file).
// It is how a writer of lake files (DuckDB's COPY, in query) hands them to
// the package that commits them (compaction) without either importing the
// other.
type WrittenFile struct {
	Local string
	Add   AddFile
}

// IsNotExist reports whether err means the object does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// IsExist reports whether err means PutIfAbsent lost to an existing object.
func IsExist(err error) bool { return errors.Is(err, fs.ErrExist) }

// ValidateKey reports why key cannot name an object, or nil. A key is
// relative and slash-separated: not empty, no leading or trailing slash, no
// empty, "." or ".." segment, no backslash, no NUL. Every store applies the
// same rule, so a key that works on S3 also works in a local directory and
// no key can reach outside the lake's root.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("invalid key: empty")
	}
	if strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("invalid key %q: contains a backslash or NUL", key)
	}
	if key[0] == '/' {
		return fmt.Errorf("invalid key %q: absolute", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("invalid key %q: has an empty segment or a trailing slash", key)
		case ".", "..":
			return fmt.Errorf("invalid key %q: has a %q segment", key, seg)
		}
	}
	return nil
}

// ValidatePrefix accepts "" and any List prefix whose directory part (up to
// its last slash) is a valid key and that has no backslash or NUL: "a/b" and
// "a/b/" are fine, "../" and "a//" are not.
func ValidatePrefix(prefix string) error {
	if strings.ContainsAny(prefix, "\\\x00") {
		return fmt.Errorf("invalid prefix %q: contains a backslash or NUL", prefix)
	}
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		if err := ValidateKey(prefix[:i]); err != nil {
			return fmt.Errorf("invalid prefix %q: %w", prefix, err)
		}
	}
	return nil
}
