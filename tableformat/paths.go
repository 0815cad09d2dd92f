package tableformat

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// FileKind is the role of a Parquet file in a table. Persisted by name.
type FileKind string

// File kinds (FORMAT.md §1).
const (
	FileData     FileKind = "data"      // inserted rows and new images of updates
	FileDelete   FileKind = "deletes"   // deleted keys and old keys of updates
	FileSnapshot FileKind = "snapshots" // a table's materialized state as of one version
)

// Valid reports whether k is a known file kind.
func (k FileKind) Valid() bool {
	return k == FileData || k == FileDelete || k == FileSnapshot
}

// Log layout.
const (
	LogDir            = "_log/"
	lastCheckpointKey = LogDir + "_last_checkpoint"
	versionDigits     = 20
)

// EntryKey is the object key of the log entry for version v.
func EntryKey(v int64) string { return fmt.Sprintf("%s%020d.json", LogDir, v) }

// CheckpointKey is the object key of the checkpoint holding the state at version v.
func CheckpointKey(v int64) string { return fmt.Sprintf("%s%020d.checkpoint.json", LogDir, v) }

// CheckpointPartKey is the object key of part n of the checkpoint of
// version v written with checkpoint id id (FORMAT.md §9).
func CheckpointPartKey(v int64, id string, n int) string {
	return fmt.Sprintf("%s%020d.checkpoint.%s.%06d.json", LogDir, v, id, n)
}

// parsePartKey recognises the key of a checkpoint part and returns the
// version and the checkpoint id of the checkpoint that wrote it.
func parsePartKey(key string) (v int64, id string, ok bool) {
	name, found := strings.CutPrefix(key, LogDir)
	if !found || len(name) < versionDigits || !allDigits(name[:versionDigits]) {
		return 0, "", false
	}
	rest, found := strings.CutPrefix(name[versionDigits:], ".checkpoint.")
	if !found {
		return 0, "", false
	}
	rest, found = strings.CutSuffix(rest, ".json")
	id, n, _ := strings.Cut(rest, ".")
	if !found || !validCheckpointID(id) || len(n) < 6 || !allDigits(n) {
		return 0, "", false
	}
	for _, c := range name[:versionDigits] {
		v = v*10 + int64(c-'0')
	}
	return v, id, v > 0
}

func isPartKey(key string) bool {
	_, _, ok := parsePartKey(key)
	return ok
}

// validCheckpointID reports whether id is 16 lower-case hex digits.
func validCheckpointID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// parseLogKey recognises a log object key and returns its version and
// whether it is an entry or a checkpoint.
func parseLogKey(key string) (v int64, checkpoint, ok bool) {
	name, found := strings.CutPrefix(key, LogDir)
	if !found || len(name) < versionDigits+1 {
		return 0, false, false
	}
	digits, rest := name[:versionDigits], name[versionDigits:]
	switch rest {
	case ".json":
	case ".checkpoint.json":
		checkpoint = true
	default:
		return 0, false, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, checkpoint, v > 0
}

// maxEscapedName bounds one escaped name segment, so the longest database and
// table names (64 characters of 4-byte UTF-8 each, escaped threefold) still
// make object keys well inside S3's 1024-byte limit.
const maxEscapedName = 160

// EscapeName turns a database or table name into one object-key segment that
// cannot reach outside its prefix: every byte outside [A-Za-z0-9_-] is
// percent-encoded (so no segment is "." or ".." and none holds a "/"), and a
// segment longer than maxEscapedName is cut and suffixed with a hash of the
// whole name, keeping it unique.
func EscapeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	if s == "" {
		return "%"
	}
	if len(s) <= maxEscapedName {
		return s
	}
	sum := sha256.Sum256([]byte(name))
	cut := maxEscapedName - 18
	// Do not cut inside a %XX escape.
	for cut > 0 && (s[cut-1] == '%' || (cut > 1 && s[cut-2] == '%')) {
		cut--
	}
	return s[:cut] + "~" + hex.EncodeToString(sum[:])[:16]
}

// TablePrefix is the key prefix under which a table's files live.
func TablePrefix(db, table string) string {
	return EscapeName(db) + "/" + EscapeName(table) + "/"
}

// NewFileKey returns a fresh key for a file of the given kind in a table.
// minSeq leads the name so a table's files list in change order; unique
// makes it distinct from every other writer's.
func NewFileKey(db, table string, kind FileKind, minSeq int64, unique string) string {
	return newKey(db, table, string(kind), minSeq, unique)
}

// NewChunkKey returns a fresh key for a file of a re-snapshot chunk
// (resnapshot.go): a data file no reader of the table reads.
func NewChunkKey(db, table string, seq int64, unique string) string {
	return newKey(db, table, "resnapshot", seq, unique)
}

func newKey(db, table, folder string, minSeq int64, unique string) string {
	return fmt.Sprintf("%s%s/part-%020d-%s.parquet", TablePrefix(db, table), folder, minSeq, unique)
}
