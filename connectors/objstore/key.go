package objstore

import "github.com/binlake/binlake/tableformat"

// ValidateKey reports why key cannot name an object (tableformat.ValidateKey).
func ValidateKey(key string) error { return tableformat.ValidateKey(key) }

func validatePrefix(prefix string) error { return tableformat.ValidatePrefix(prefix) }
