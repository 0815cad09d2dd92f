package tableformat

// The file checks of Verify: which files the lake needs, and each one's
// bytes, decoding and metadata against its log entry; orphans.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// verifyFile is a file to check, with what the log says about it.
type verifyFile struct {
	AddFile
	table  string  // db.table, "" when unknown
	schema *Schema // its schema version, nil when unknown
	added  int64   // the version whose entry added it, 0 when unknown
}

// filesToCheck returns the live files of latest and, with AllVersions, the
// other files a reader may still need, by path.
func (v *verifier) filesToCheck(latest *State) []verifyFile {
	files := map[string]verifyFile{}
	addLive := func(st *State, ver int64) {
		for t := range st.Tables.Values() {
			for _, f := range t.Files {
				v.addFile(files, st, f, ver)
			}
		}
		for _, j := range st.Resnapshots { // read by the re-snapshot when it ends
			for _, c := range j.Chunks {
				for _, f := range c.Files {
					v.addFile(files, st, f, ver)
				}
			}
		}
	}
	if latest != nil {
		addLive(latest, 0)
	}
	if v.opts.AllVersions && latest != nil {
		vg, runs := v.protection(latest)
		v.fold(func(ver int64, st *State, e *Entry) {
			first, inRun := runStart(runs, ver)
			switch {
			case ver == vg || inRun && ver == first:
				addLive(st, 0)
			case ver > vg || inRun:
				if e == nil {
					return
				}
				for _, f := range e.Add {
					v.addFile(files, st, f, ver)
				}
				for _, op := range e.Resnapshot {
					if op.Chunk != nil {
						for _, f := range op.Chunk.Files {
							v.addFile(files, st, f, ver)
						}
					}
				}
				if e.Rewind != nil {
					for _, im := range e.Rewind.Tables {
						for _, f := range im.Files {
							v.addFile(files, st, f, 0)
						}
					}
				}
			}
		})
	}
	out := slices.Collect(maps.Values(files))
	slices.SortFunc(out, func(a, b verifyFile) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

func (v *verifier) addFile(files map[string]verifyFile, st *State, f AddFile, ver int64) {
	if _, ok := files[f.Path]; ok {
		return
	}
	vf := verifyFile{AddFile: f, added: v.addedIn[f.Path]}
	if vf.added == 0 {
		vf.added = ver
	}
	if t := st.Tables.Get(f.TableID); t != nil {
		vf.table = tableLabel(t)
		vf.schema, _ = t.SchemaVersion(f.SchemaVersion)
	}
	files[f.Path] = vf
}

// protection returns, for AllVersions, V_G — the newest version committed
// at or before now − Grace (0 if none) — and the runs of versions rewound
// away that are inside retention, each from its first version committed at
// or after the retention's time (FORMAT.md §13).
func (v *verifier) protection(latest *State) (int64, []VersionRange) {
	graceCut := v.opts.Now().Add(-v.opts.Grace)
	var vg int64
	for ver := int64(1); ver <= latest.Version; ver++ {
		if e := v.entries[ver]; e != nil && !e.CommitTime.After(graceCut) {
			vg = ver
		}
	}
	var from time.Time
	if latest.Retention != nil {
		from = latest.Retention.FromTime
	}
	var runs []VersionRange
	next := int64(1)
	for _, r := range append(slices.Clone(latest.Lineage), VersionRange{From: latest.Version + 1}) {
		for x := next; x < r.From; x++ {
			if e := v.entries[x]; e != nil && !e.CommitTime.Before(from) {
				runs = append(runs, VersionRange{x, r.From - 1})
				break
			}
		}
		next = r.To + 1
	}
	return vg, runs
}

func runStart(runs []VersionRange, ver int64) (int64, bool) {
	for _, r := range runs {
		if r.From <= ver && ver <= r.To {
			return r.From, true
		}
	}
	return 0, false
}

// checkFiles checks files with a bounded pool of workers.
func (v *verifier) checkFiles(ctx context.Context, files []verifyFile) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.opts.Parallelism)
	for _, f := range files {
		g.Go(func() error { return v.checkFile(gctx, f) })
	}
	return g.Wait()
}

// checkFile reads one file and reports what is wrong with it.
func (v *verifier) checkFile(ctx context.Context, f verifyFile) error {
	if err := ValidateKey(f.Path); err != nil {
		v.fail(VerifyProblem{Key: f.Path, Table: f.table, Version: f.added, Problem: "the log names a file by a key no store can hold: " + err.Error(),
			Fix: "the entry that added it is damaged: " + entryFix})
		return nil
	}
	data, err := ReadObject(ctx, v.store, f.Path)
	if IsNotExist(err) {
		v.fail(VerifyProblem{Key: f.Path, Table: f.table, Version: f.added,
			Problem: fmt.Sprintf("missing: the log names this %s file (%d bytes, %d rows) but the store does not have it", f.Kind, f.Bytes, f.Rows),
			Fix:     v.fileFix(f)})
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Path, err)
	}
	v.mu.Lock()
	v.rep.Files++
	v.rep.Bytes += int64(len(data))
	v.mu.Unlock()
	if what := fileDamage(f, data); what != "" {
		v.fail(VerifyProblem{Key: f.Path, Table: f.table, Version: f.added, Problem: what, Fix: v.fileFix(f)})
	}
	return nil
}

// fileDamage says what is wrong with data as the file f, or "".
func fileDamage(f verifyFile, data []byte) string {
	// A damaged file that still passes its own checksum is an intact
	// binlake file — only not the one the log names.
	swapped := func() string {
		if _, err := ReadFile(data); err == nil {
			return "; it is an intact binlake file, but not the one the log names (overwritten by another file?)"
		}
		return ""
	}
	switch {
	case len(data) == 0:
		return fmt.Sprintf("zero-length object: the log says %d bytes", f.Bytes)
	case int64(len(data)) < f.Bytes:
		return fmt.Sprintf("truncated: %d bytes, the log says %d", len(data), f.Bytes) + swapped()
	case int64(len(data)) > f.Bytes:
		return fmt.Sprintf("%d bytes, the log says %d", len(data), f.Bytes) + swapped()
	case sha256Hex(data) != strings.ToLower(f.Checksum):
		return "SHA-256 differs from the log's: the bytes were changed (bit rot, a bad copy, or overwritten)" + swapped()
	}
	fc, err := ReadFile(data)
	if err != nil {
		return fmt.Sprintf("matches the log's size and SHA-256 but does not decode as a binlake Parquet file: %v", err)
	}
	var why []string
	if fc.Kind != f.Kind {
		why = append(why, fmt.Sprintf("holds %s, the log says %s", fc.Kind, f.Kind))
	}
	if fc.Schema.Version != f.SchemaVersion {
		why = append(why, fmt.Sprintf("written with schema version %d, the log says %d", fc.Schema.Version, f.SchemaVersion))
	} else if f.schema != nil && !sameJSON(&fc.Schema, f.schema) {
		why = append(why, fmt.Sprintf("its schema differs from the table's schema version %d in the log", f.SchemaVersion))
	}
	if int64(len(fc.Rows)) != f.Rows {
		why = append(why, fmt.Sprintf("%d rows, the log says %d", len(fc.Rows), f.Rows))
	}
	if len(fc.Rows) > 0 {
		r0 := fc.Rows[0]
		minSeq, maxSeq, minTS, maxTS := r0.Seq, r0.Seq, r0.TS, r0.TS
		for _, r := range fc.Rows[1:] {
			minSeq, maxSeq = min(minSeq, r.Seq), max(maxSeq, r.Seq)
			minTS, maxTS = min(minTS, r.TS), max(maxTS, r.TS)
		}
		if minSeq != f.MinSeq || maxSeq != f.MaxSeq {
			why = append(why, fmt.Sprintf("sequences %d…%d, the log says %d…%d", minSeq, maxSeq, f.MinSeq, f.MaxSeq))
		}
		if minTS != f.MinTS || maxTS != f.MaxTS {
			why = append(why, fmt.Sprintf("source times %d…%d µs, the log says %d…%d", minTS, maxTS, f.MinTS, f.MaxTS))
		}
		if f.Kind == FileSnapshot && maxSeq > f.AsOfSeq {
			why = append(why, fmt.Sprintf("a snapshot as of sequence %d holds a row of sequence %d", f.AsOfSeq, maxSeq))
		}
	}
	if len(why) == 0 {
		return ""
	}
	return "the file does not match the log: " + strings.Join(why, "; ")
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// fileFix says how to repair a damaged or missing file.
func (v *verifier) fileFix(f verifyFile) string {
	s := fmt.Sprintf("restore the object from a backup or an earlier object version (versioned bucket): it must be %d bytes with SHA-256 %s", f.Bytes, f.Checksum)
	if hint := v.rewindHint(f.added); hint != "" {
		s += fmt.Sprintf("; or rewind the lake to before version %d, which added it, and replay the source from there: %s", f.added, hint)
	}
	return s + ". Until then, queries that read it fail (they never return wrong rows)"
}

// rewindHint returns the ingest command that rewinds the lake to the
// newest version before added whose source position is before added's,
// or "" when there is none.
func (v *verifier) rewindHint(added int64) string {
	e := v.entries[added]
	if e == nil || v.latest == nil || !v.latest.inLineage(added) {
		return ""
	}
	for u := added - 1; u >= 1; u-- {
		p := v.entries[u]
		if !v.latest.inLineage(u) || p == nil || p.Progress.MaxSeq >= e.Progress.MaxSeq {
			continue
		}
		pos := p.Progress.Position
		switch {
		case pos.GTIDSet != "":
			return fmt.Sprintf("`binlake ingest --start-gtid '%s'` (version %d; the source's binlog must still have what follows)", pos.GTIDSet, u)
		case pos.File != "":
			return fmt.Sprintf("`binlake ingest --start-position %s` (version %d; the source's binlog must still have what follows)", pos.FilePos(), u)
		}
		return ""
	}
	return ""
}

// findOrphans warns about the objects outside _log/ that no entry or
// checkpoint names.
func (v *verifier) findOrphans(objs []ObjectInfo, latest *State) {
	named := map[string]bool{}
	for _, e := range v.entries {
		e.NamedFiles(func(path string) { named[path] = true })
		for _, r := range e.Remove {
			named[r.Path] = true
		}
	}
	for _, st := range v.checkpoints {
		for t := range st.Tables.Values() {
			for p := range t.Files {
				named[p] = true
			}
		}
		st.ResnapshotFiles(func(path string) { named[path] = true })
	}
	// Table prefixes, to name the table an orphan sits under.
	prefixes := map[string]string{}
	if latest != nil {
		for t := range latest.Tables.Values() {
			for _, n := range t.Names {
				prefixes[TablePrefix(n.DB, n.Name)] = n.DB + "." + n.Name
			}
		}
	}
	now := v.opts.Now()
	fix := "no reader reads it: `binlake vacuum` deletes objects no entry names once they are older than the grace period (compaction.grace)"
	if len(v.broken) > 0 {
		fix += "; but the log has missing or damaged entries, which may name it: repair the log first"
	}
	for _, o := range objs {
		if named[o.Key] {
			continue
		}
		var table string
		if i := strings.Index(o.Key, "/"); i >= 0 {
			if j := strings.Index(o.Key[i+1:], "/"); j >= 0 {
				table = prefixes[o.Key[:i+j+2]]
			}
		}
		why := "an orphan of a failed or abandoned write"
		if now.Sub(o.ModTime) < v.opts.Grace {
			why = "an orphan of a failed write, or an upload of a commit still in flight"
		}
		v.warn(VerifyProblem{Key: o.Key, Table: table, Problem: strayNote(o, now) + " that no log entry names: " + why, Fix: fix})
	}
}

// strayNote describes an object no entry names: "a zero-length object",
// "a temporary file (12 bytes, written 3m0s ago)", …
func strayNote(o ObjectInfo, now time.Time) string {
	base := path.Base(o.Key)
	kind := "an object"
	if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "tmp") || strings.Contains(base, ".tmp") || strings.HasSuffix(base, "~") {
		kind = "a temporary file"
	}
	if o.Size == 0 {
		kind = "a zero-length " + strings.TrimPrefix(strings.TrimPrefix(kind, "an "), "a ")
	}
	var facts []string
	if o.Size > 0 {
		facts = append(facts, fmt.Sprintf("%d bytes", o.Size))
	}
	if age := now.Sub(o.ModTime); !o.ModTime.IsZero() && age >= 0 {
		facts = append(facts, fmt.Sprintf("written %s ago", age.Round(time.Second)))
	}
	if len(facts) > 0 {
		kind += " (" + strings.Join(facts, ", ") + ")"
	}
	return kind
}
