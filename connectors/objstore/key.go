// Package objstore owns the object stores a lake can live in: a local
// directory (the embedded default, Local), any S3 API with conditional writes
// through minio-go (S3), the warehouse URL that picks one (Open), and the
// probe that checks a store really enforces put-if-absent. Every store
// implements tableformat.Store and passes the storetest conformance suite.
package objstore

import "github.com/binlake/binlake/tableformat"

// ValidateKey reports why key cannot name an object (tableformat.ValidateKey).
func ValidateKey(key string) error { return tableformat.ValidateKey(key) }

func validatePrefix(prefix string) error { return tableformat.ValidatePrefix(prefix) }
