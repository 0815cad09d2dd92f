// Package objstore owns the object stores a lake can live in: a local
// directory (the embedded default, Local), any S3 API with conditional writes
// through minio-go (S3), the warehouse URL that picks one (Open), and the
// probe that checks a store really enforces put-if-absent. Every store
// implements tableformat.Store and passes the storetest conformance suite.
package objstore

import (
	"fmt"
	"strings"
)

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

// validatePrefix accepts "" and any prefix whose directory part (up to its
// last slash) is a valid key and that has no backslash or NUL: "a/b" and
// "a/b/" are fine, "../" and "a//" are not.
func validatePrefix(prefix string) error {
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
