// Package compaction keeps a lake cheap to read and bounded in size
// (DESIGN §7): snapshots of a table's state, merged delta files, and vacuum
// of what no point inside the retention window needs. Each is a plan that is
// a pure function of the lake's state and a policy, then its execution,
// committed as one log entry that never changes any answer inside the
// window.
package compaction
