package tableformat

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Verify checks a lake end to end without trusting any of it (binlake
// verify): the log's versions are contiguous, every entry decodes and
// applies, every checkpoint equals the fold of the entries before it, and
// every file the latest state names (with AllVersions, every file a reader
// may still need) exists with the size and SHA-256 the log records, decodes
// as a binlake Parquet file and holds the rows its metadata says. Objects
// no entry names are reported as warnings.

// VerifyOptions configure Verify. The zero value is usable.
type VerifyOptions struct {
	// AllVersions also checks the files earlier versions still need
	// (FORMAT.md §13's protected files: those live at the newest version
	// older than Grace, those added since, and those of versions rewound
	// away that are inside retention), not only the latest state's.
	AllVersions bool
	// Grace is vacuum's grace period (compaction.grace): with AllVersions,
	// a file only versions committed longer ago than this needed may have
	// been deleted by vacuum, and is not required. Default DefaultGrace.
	Grace time.Duration
	// Parallelism bounds the files read and checked at once; each is held
	// in memory while checked. Default 4.
	Parallelism int
	// Now returns the wall clock; default time.Now.
	Now func() time.Time
	// Logger receives progress; default: discard.
	Logger *slog.Logger
}

// DefaultGrace is how long vacuum leaves an object the lake no longer
// names (FORMAT.md §13), and how old an unnamed object must be before it
// counts as an orphan rather than an upload in flight: Verify's default,
// and the one compaction.DefaultGrace takes.
const DefaultGrace = time.Hour

// verifyLogParallelism bounds concurrent reads of log entries and
// checkpoints (small objects).
const verifyLogParallelism = 16

// Validate reports every problem of the options at once.
func (o *VerifyOptions) Validate() error {
	var errs []error
	if o.Grace < 0 {
		errs = append(errs, fmt.Errorf("grace %s: must not be negative", o.Grace))
	}
	if o.Parallelism < 0 {
		errs = append(errs, fmt.Errorf("parallelism %d: must not be negative", o.Parallelism))
	}
	return errors.Join(errs...)
}

func (o *VerifyOptions) withDefaults() VerifyOptions {
	r := *o
	if r.Grace == 0 {
		r.Grace = DefaultGrace
	}
	if r.Parallelism == 0 {
		r.Parallelism = 4
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r
}

// Severity says whether a VerifyProblem is damage. Persisted by name (in
// `binlake verify --format json`).
type Severity string

// Severities.
const (
	// SeverityError is damage: a reader may fail (never return wrong rows).
	SeverityError Severity = "error"
	// SeverityWarning is something no reader reads: orphans, stray files.
	SeverityWarning Severity = "warning"
)

// VerifyProblem is one finding of Verify.
type VerifyProblem struct {
	Severity Severity `json:"severity"`
	// Key is the object concerned (for a missing one, the key it should have).
	Key string `json:"key"`
	// Table is db.table when the object belongs to a known table.
	Table string `json:"table,omitempty"`
	// Version is the log version concerned: the entry's, or the version that
	// added the file; 0 when unknown.
	Version int64 `json:"version,omitempty"`
	// Problem says what is wrong, Fix what to do about it.
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

func (p VerifyProblem) String() string {
	var where []string
	if p.Table != "" {
		where = append(where, p.Table)
	}
	if p.Version > 0 {
		where = append(where, fmt.Sprintf("version %d", p.Version))
	}
	s := p.Key
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	return s + ": " + p.Problem
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	// Version is the newest version of the log (from its entries and
	// checkpoints); StateVersion the version whose files were checked, lower
	// only when the log cannot be folded up to Version.
	Version      int64 `json:"version"`
	StateVersion int64 `json:"state_version"`
	// Versions counts the entries read and decoded; Checkpoints those
	// checked against the fold of the entries.
	Versions    int `json:"versions"`
	Checkpoints int `json:"checkpoints"`
	// Files and Bytes count the files read and checked.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Objects counts the objects listed under the lake's root.
	Objects int `json:"objects"`
	// Problems: errors first, then warnings, each by key.
	Problems []VerifyProblem `json:"problems"`
}

// Add records a problem found outside Verify (a caller's own checks).
func (r *VerifyReport) Add(p VerifyProblem) {
	r.Problems = append(r.Problems, p)
	r.sort()
}

func (r *VerifyReport) sort() {
	rank := func(s Severity) int {
		if s == SeverityError {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(r.Problems, func(a, b VerifyProblem) int {
		return cmp.Or(cmp.Compare(rank(a.Severity), rank(b.Severity)), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Problem, b.Problem))
	})
}

// Errors counts the problems that are damage.
func (r *VerifyReport) Errors() int {
	n := 0
	for _, p := range r.Problems {
		if p.Severity == SeverityError {
			n++
		}
	}
	return n
}

// Warnings counts the problems that are not damage.
func (r *VerifyReport) Warnings() int { return len(r.Problems) - r.Errors() }

// Err returns nil when the lake has no damage, else an error wrapping
// ErrCorrupt that counts the problems and names the first.
func (r *VerifyReport) Err() error {
	for _, p := range r.Problems {
		if p.Severity == SeverityError {
			return fmt.Errorf("the lake is damaged: %d problem(s), the first: %w", r.Errors(), &CorruptError{p.Key, p.Problem})
		}
	}
	return nil
}

// Verify checks the lake in store end to end (see VerifyOptions). Damage is
// reported in the VerifyReport, never as an error; the error is for a lake
// that cannot be checked: no lake (ErrNoLake), a store that fails, or ctx
// ending.
func Verify(ctx context.Context, store Store, opts VerifyOptions) (*VerifyReport, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	v := &verifier{
		store: store, opts: opts.withDefaults(), rep: &VerifyReport{Problems: []VerifyProblem{}},
		listed: map[int64]bool{}, entries: map[int64]*Entry{}, broken: map[int64]bool{},
		checkpoints: map[int64]*State{}, cpRaw: map[int64]lastCheckpoint{}, addedIn: map[string]int64{},
		parts: &partCache{parts: map[string]*cachedPart{}}, partUsed: map[string]bool{},
	}
	objs, err := store.List(ctx, "", "")
	if err != nil {
		return nil, fmt.Errorf("list the lake's objects: %w", err)
	}
	v.rep.Objects = len(objs)
	var data, parts []ObjectInfo
	var cps []int64
	hint := false
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, LogDir) {
			data = append(data, o)
			continue
		}
		ver, cp, ok := parseLogKey(o.Key)
		switch {
		case ok && cp:
			cps = append(cps, ver)
		case ok:
			v.listed[ver] = true
		case o.Key == lastCheckpointKey:
			hint = true
		case isPartKey(o.Key):
			parts = append(parts, o)
		default:
			v.warn(VerifyProblem{Key: o.Key, Problem: strayNote(o, v.opts.Now()) + " under " + LogDir + " that is no log entry or checkpoint; readers ignore it",
				Fix: "delete it by hand if no writer is using it (vacuum never deletes under " + LogDir + ")"})
		}
	}
	if len(v.listed) == 0 {
		return nil, fmt.Errorf("no log entries under %s: %w", LogDir, ErrNoLake)
	}
	if err := v.readLog(ctx, cps); err != nil {
		return nil, err
	}
	v.findOrphanParts(parts)
	v.checkGaps()
	latest := v.fold(nil)
	if hint {
		if err := v.checkHint(ctx); err != nil {
			return nil, err
		}
	}
	files := v.filesToCheck(latest)
	v.opts.Logger.Debug("verify: log checked", "version", v.rep.Version, "entries", v.rep.Versions, "checkpoints", v.rep.Checkpoints, "files", len(files))
	if err := v.checkFiles(ctx, files); err != nil {
		return nil, err
	}
	v.findOrphans(data, latest)
	v.rep.sort()
	v.opts.Logger.Debug("verify: done", "files", v.rep.Files, "bytes", v.rep.Bytes, "errors", v.rep.Errors(), "warnings", v.rep.Warnings())
	return v.rep, nil
}

// verifier holds one run of Verify.
type verifier struct {
	store Store
	opts  VerifyOptions

	mu  sync.Mutex // guards rep while files are checked
	rep *VerifyReport

	listed      map[int64]bool           // versions whose entry key was listed
	entries     map[int64]*Entry         // the entries that decode
	broken      map[int64]bool           // versions whose entry is missing, undecodable or does not apply
	checkpoints map[int64]*State         // the checkpoints that decode
	cpRaw       map[int64]lastCheckpoint // size and SHA-256 of every checkpoint read
	addedIn     map[string]int64         // file path → the version whose entry added it
	latest      *State                   // the fold's result (nil when unknown)
	parts       *partCache               // checkpoint parts read, shared by the checkpoints
	partUsed    map[string]bool          // the parts the readable checkpoints reference
}

func (v *verifier) add(p VerifyProblem) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.rep.Problems = append(v.rep.Problems, p)
}

func (v *verifier) fail(p VerifyProblem) { p.Severity = SeverityError; v.add(p) }
func (v *verifier) warn(p VerifyProblem) { p.Severity = SeverityWarning; v.add(p) }

const entryFix = "restore it from a backup or an earlier object version (versioned bucket); " +
	"log entries are written once and never rewritten, so do not write one by hand"

// readLog reads and decodes every entry listed and the checkpoints cps.
func (v *verifier) readLog(ctx context.Context, cps []int64) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(verifyLogParallelism)
	for _, ver := range slices.Sorted(maps.Keys(v.listed)) {
		g.Go(func() error {
			key := EntryKey(ver)
			data, err := ReadObject(gctx, v.store, key)
			if IsNotExist(err) {
				mu.Lock()
				defer mu.Unlock()
				delete(v.listed, ver) // deleted since the listing: a gap
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
			e, err := DecodeEntry(key, ver, data)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				v.broken[ver] = true
				v.fail(VerifyProblem{Key: key, Version: ver, Problem: corruptReason(err), Fix: entryFix +
					"; until then, readers that replay this version fail"})
				return nil
			}
			v.entries[ver] = e
			return nil
		})
	}
	for _, ver := range cps {
		g.Go(func() error {
			key := CheckpointKey(ver)
			data, err := ReadObject(gctx, v.store, key)
			if IsNotExist(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
			st, tree, err := checkpointState(gctx, v.store, ver, data, verifyLogParallelism, v.parts, false)
			if err != nil && !errors.Is(err, ErrCorrupt) {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			v.cpRaw[ver] = lastCheckpoint{Version: ver, Bytes: int64(len(data)), Checksum: sha256Hex(data)}
			if err != nil {
				v.failCheckpoint(ver, err)
				return nil
			}
			v.checkpoints[ver] = st
			if tree != nil {
				for _, level := range tree.levels {
					for _, nd := range level {
						v.partUsed[nd.ref.Key] = true
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	v.rep.Versions = len(v.entries)
	v.rep.Version = max(maxKey(v.listed), maxKey(v.cpRaw))
	return nil
}

// failCheckpoint reports the checkpoint of version ver unreadable: its top
// object, or the part of it err names.
func (v *verifier) failCheckpoint(ver int64, err error) {
	key := CheckpointKey(ver)
	p := VerifyProblem{Key: key, Version: ver, Problem: "unreadable checkpoint: " + corruptReason(err),
		Fix: "delete it: readers skip a damaged checkpoint and replay the log instead (slower, still correct)"}
	var ce *CorruptError
	if errors.As(err, &ce) && ce.Key != key {
		p.Key = ce.Key
		p.Problem = fmt.Sprintf("checkpoint part unreadable (checkpoint %s is unreadable): %s", key, ce.Reason)
		p.Fix = "restore the part, or delete " + key + " (and later checkpoints that reference the part): readers skip a " +
			"damaged checkpoint and read an older one or replay the log (slower, still correct)"
	}
	v.fail(p)
}

// findOrphanParts warns of the checkpoint parts no readable checkpoint
// references: left by a checkpoint writer that failed before its top
// object (vacuum deletes them once older than the grace period).
func (v *verifier) findOrphanParts(parts []ObjectInfo) {
	for _, o := range parts {
		if !v.partUsed[o.Key] {
			v.warn(VerifyProblem{Key: o.Key, Problem: "checkpoint part that no readable checkpoint references (" + strayNote(o, v.opts.Now()) +
				"): a checkpoint writer stopped before its top object, or the checkpoints that referenced it are damaged",
				Fix: "none needed: vacuum deletes it once it is older than the grace period"})
		}
	}
}

func maxKey[V any](m map[int64]V) int64 {
	var x int64
	for k := range m {
		x = max(x, k)
	}
	return x
}

// corruptReason is the reason of a CorruptError (whose key the problem
// names already), or the error's text.
func corruptReason(err error) string {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return err.Error()
}

// checkGaps reports each run of versions missing from 1 to the newest.
func (v *verifier) checkGaps() {
	newest := v.rep.Version
	for ver := int64(1); ver <= newest; ver++ {
		if v.listed[ver] {
			continue
		}
		from := ver
		for ver+1 <= newest && !v.listed[ver+1] {
			ver++
		}
		to, next := ver, ver+1
		var what string
		if from == to {
			what = fmt.Sprintf("version %d missing", from)
		} else {
			what = fmt.Sprintf("versions %d…%d missing", from, to)
		}
		if from == 1 {
			what += fmt.Sprintf(": the log starts at version %d", next)
		} else {
			what += fmt.Sprintf(" between %d and %d", from-1, next)
		}
		if !v.listed[next] {
			what += fmt.Sprintf(" (of version %d only the checkpoint is left)", next)
		}
		for x := from; x <= to; x++ {
			v.broken[x] = true
		}
		v.fail(VerifyProblem{Key: EntryKey(from), Version: from, Problem: what, Fix: fmt.Sprintf("restore the missing entries (%s…) from a backup "+
			"or an earlier object version (versioned bucket); until then, readers that replay across the gap fail (a later checkpoint "+
			"lets the latest state load, but the versions before it stay unreadable)", EntryKey(from))})
	}
}

// fold replays the log from version 1, reporting entries that do not apply
// and checkpoints that differ from the fold (when visit is nil, the first
// pass), and returns the newest state it reaches. Where an entry is
// missing or damaged, it resumes from the next checkpoint, if any. visit,
// when set, sees every version's state and entry (nil when the state came
// from a checkpoint).
func (v *verifier) fold(visit func(ver int64, st *State, e *Entry)) *State {
	first := visit == nil
	st := emptyState()
	var last *State // the newest state known
	for ver := int64(1); ver <= v.rep.Version; ver++ {
		var next *State
		e := v.entries[ver]
		if st != nil && e != nil {
			n, err := st.applied(e)
			if err != nil && first {
				v.broken[ver] = true
				v.fail(VerifyProblem{Key: EntryKey(ver), Version: ver, Problem: fmt.Sprintf("does not apply to the state at version %d: %v", ver-1, err),
					Fix: entryFix + "; until then, readers refuse the lake from this version on"})
			}
			next = n
		}
		cp := v.checkpoints[ver]
		switch {
		case next != nil && cp != nil && first:
			v.rep.Checkpoints++
			if diff := diffStates(cp, next); diff != "" {
				v.fail(VerifyProblem{Key: CheckpointKey(ver), Version: ver, Problem: "differs from the fold of log entries 1…" + fmt.Sprint(ver) + ": " + diff,
					Fix: "delete it, and " + lastCheckpointKey + " if it names it: a reader that loads it gets a wrong state; without it readers replay the log"})
			}
		case next == nil && cp != nil:
			next, e = cp, nil
			if first {
				v.warn(VerifyProblem{Key: CheckpointKey(ver), Version: ver,
					Problem: "the log cannot be replayed up to this version (see the errors before it): the state from here on is this checkpoint's, unchecked against the entries",
					Fix:     "repair the log before it"})
			}
		}
		if next != nil && first && e != nil {
			for _, f := range e.Add {
				if _, ok := v.addedIn[f.Path]; !ok {
					v.addedIn[f.Path] = ver
				}
			}
		}
		if next != nil && visit != nil {
			visit(ver, next, e)
		}
		st = next
		if st != nil {
			last = st
		}
	}
	if first {
		v.latest = last
		if last != nil {
			v.rep.StateVersion = last.Version
		}
	}
	return last
}

// diffStates describes how a checkpoint's state differs from the fold's,
// or returns "".
func diffStates(cp, fold *State) string {
	var d []string
	switch {
	case !cp.CommitTime.Equal(fold.CommitTime):
		d = append(d, fmt.Sprintf("commit time %s, the log says %s", cp.CommitTime.Format(time.RFC3339Nano), fold.CommitTime.Format(time.RFC3339Nano)))
	case cp.Lake != fold.Lake:
		d = append(d, "lake info differs")
	case cp.Progress != fold.Progress:
		d = append(d, fmt.Sprintf("progress %+v, the log says %+v", cp.Progress, fold.Progress))
	case !slices.Equal(cp.Lineage, fold.Lineage):
		d = append(d, fmt.Sprintf("lineage %v, the log says %v", cp.Lineage, fold.Lineage))
	case (cp.Retention == nil) != (fold.Retention == nil) ||
		cp.Retention != nil && (cp.Retention.FromSeq != fold.Retention.FromSeq || !cp.Retention.FromTime.Equal(fold.Retention.FromTime)):
		d = append(d, "retention differs")
	}
	if ja, jb := jsonOf(cp.Resnapshots), jsonOf(fold.Resnapshots); ja != jb {
		d = append(d, "re-snapshots in progress differ")
	}
	if ja, jb := jsonOf(cp.Gaps), jsonOf(fold.Gaps); ja != jb {
		d = append(d, "gaps differ")
	}
	ids := cp.Tables.IDs()
	for id := range fold.Tables.All() {
		if cp.Tables.Get(id) == nil {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		a, b := cp.Tables.Get(id), fold.Tables.Get(id)
		switch {
		case a == nil:
			d = append(d, fmt.Sprintf("table %s (id %d) is missing", tableLabel(b), id))
			continue
		case b == nil:
			d = append(d, fmt.Sprintf("table %s (id %d) is not in the log", tableLabel(a), id))
			continue
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			d = append(d, fmt.Sprintf("table %s: names, schemas or truncations differ", tableLabel(b)))
		}
		for _, p := range slices.Sorted(maps.Keys(a.Files)) {
			if g, ok := b.Files[p]; !ok {
				d = append(d, fmt.Sprintf("table %s: file %s is live only in the checkpoint", tableLabel(b), p))
			} else if g != a.Files[p] {
				d = append(d, fmt.Sprintf("table %s: file %s has other metadata", tableLabel(b), p))
			}
		}
		for _, p := range slices.Sorted(maps.Keys(b.Files)) {
			if _, ok := a.Files[p]; !ok {
				d = append(d, fmt.Sprintf("table %s: file %s is missing", tableLabel(b), p))
			}
		}
	}
	if len(d) > 3 {
		d = append(d[:3], fmt.Sprintf("and %d more differences", len(d)-3))
	}
	return strings.Join(d, "; ")
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func tableLabel(t *TableState) string {
	if t == nil || len(t.Names) == 0 {
		return ""
	}
	n := t.Current()
	return n.DB + "." + n.Name
}

// checkHint checks _log/_last_checkpoint against the checkpoint it names.
func (v *verifier) checkHint(ctx context.Context) error {
	data, err := ReadObject(ctx, v.store, lastCheckpointKey)
	if IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", lastCheckpointKey, err)
	}
	fix := "delete it: readers ignore a damaged hint and find checkpoints by listing " + LogDir + " (slower, still correct); the next checkpoint rewrites it"
	var h lastCheckpoint
	if err := decodeStrict(data, &h); err != nil || h.Version < 1 {
		v.fail(VerifyProblem{Key: lastCheckpointKey, Problem: fmt.Sprintf("undecodable checkpoint hint (%d bytes): %v", len(data), err), Fix: fix})
		return nil
	}
	raw, ok := v.cpRaw[h.Version]
	switch {
	case !ok:
		v.fail(VerifyProblem{Key: lastCheckpointKey, Version: h.Version, Problem: fmt.Sprintf("names checkpoint %s, which does not exist", CheckpointKey(h.Version)), Fix: fix})
	case raw.Bytes != h.Bytes || raw.Checksum != h.Checksum:
		v.fail(VerifyProblem{Key: lastCheckpointKey, Version: h.Version, Problem: fmt.Sprintf("records %d bytes and SHA-256 %s for %s, which has %d bytes and SHA-256 %s",
			h.Bytes, h.Checksum, CheckpointKey(h.Version), raw.Bytes, raw.Checksum), Fix: fix})
	}
	return nil
}
