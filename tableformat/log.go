package tableformat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"
)

// DefaultCheckpointInterval is the checkpoint interval of a new lake.
const DefaultCheckpointInterval = 100

// LogOptions configure a Log. The zero value is usable.
type LogOptions struct {
	// WriterID names this process in the entries it writes; default: host,
	// pid and a random suffix.
	WriterID string
	// Now returns the wall clock; default time.Now.
	Now func() time.Time
	// Logger receives warnings (a damaged checkpoint that was skipped, …).
	Logger *slog.Logger
	// MaxCommitAttempts bounds the retries of a commit that keeps losing
	// races to other writers; default 100.
	MaxCommitAttempts int
	// FetchParallelism bounds concurrent reads of log entries; default 16.
	FetchParallelism int
	// EntryCacheSize bounds the decoded entries kept for as-of resolution;
	// default 4096.
	EntryCacheSize int
	// EntryCacheBytes bounds the same entries by their encoded size, which
	// is about what an entry takes decoded: one commit of a lake of 10,000
	// tables is megabytes. An entry larger than the bound is not kept.
	// Default DefaultEntryCacheBytes.
	EntryCacheBytes int64
	// CheckpointPartBytes is the size a checkpoint's parts of tables aim at
	// (FORMAT.md §9); default DefaultCheckpointPartBytes.
	CheckpointPartBytes int64
	// LazyTables makes a log for readers that read a few tables' files and
	// every table's names and schemas (queries): the tables of the states
	// it reads from a checkpoint hold no files until Log.LoadTables loads
	// them (TableState.Loaded), so opening a lake of many tables
	// reads the checkpoint's tables but not its leaves of files. Such a
	// log cannot commit.
	LazyTables bool
}

func (o *LogOptions) withDefaults() LogOptions {
	r := *o
	if r.WriterID == "" {
		host, _ := os.Hostname()
		r.WriterID = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.MaxCommitAttempts <= 0 {
		r.MaxCommitAttempts = 100
	}
	if r.FetchParallelism <= 0 {
		r.FetchParallelism = 16
	}
	if r.EntryCacheSize <= 0 {
		r.EntryCacheSize = 4096
	}
	if r.EntryCacheBytes <= 0 {
		r.EntryCacheBytes = DefaultEntryCacheBytes
	}
	if r.CheckpointPartBytes <= 0 {
		r.CheckpointPartBytes = DefaultCheckpointPartBytes
	}
	return r
}

// Log reads and writes one lake's commit log. It is safe for concurrent use.
type Log struct {
	store Store
	opts  LogOptions

	mu      sync.Mutex
	latest  *State                // newest state seen, nil before the first load
	entries map[int64]cachedEntry // decoded entries, bounded by EntryCacheSize and EntryCacheBytes
	order   []int64               // insertion order of entries, for eviction
	cached  int64                 // the encoded bytes of entries
	base    *checkpointTree       // the newest checkpoint read or written, nil before
	leaves  leafCache             // leaves read by LoadTables (LazyTables)
}

// DefaultEntryCacheBytes is LogOptions.EntryCacheBytes unless told
// otherwise: thousands of the entries of a lake of a few tables (a few KiB
// each), a few of a lake of 10,000 tables.
const DefaultEntryCacheBytes = 32 << 20

// cachedEntry is a decoded entry and the size of its encoding.
type cachedEntry struct {
	e    *Entry
	size int64
}

// ErrNoLake is returned when the store holds no lake (no version 1).
var ErrNoLake = errors.New("no lake here")

// ErrVersionNotFound is returned for a version the lake does not have.
var ErrVersionNotFound = errors.New("no such version")

// NewLog returns a Log over store. It reads nothing until asked.
func NewLog(store Store, opts LogOptions) *Log {
	return &Log{store: store, opts: opts.withDefaults(), entries: map[int64]cachedEntry{}}
}

// WriterID returns the id this Log writes into its entries.
func (l *Log) WriterID() string { return l.opts.WriterID }

// Store returns the store the log lives in.
func (l *Log) Store() Store { return l.store }

// Create writes version 1 of a new lake for source. If the lake already
// exists it returns its latest state, or an error if it belongs to another
// source.
func (l *Log) Create(ctx context.Context, source string, checkpointInterval int64) (*State, error) {
	if checkpointInterval <= 0 {
		checkpointInterval = DefaultCheckpointInterval
	}
	e := &Entry{
		Kind: KindCreate,
		Lake: &LakeInfo{LakeID: uuid.NewString(), Source: source, CheckpointInterval: checkpointInterval},
	}
	st, err := l.Commit(ctx, e)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, ErrConflict) {
		return nil, err
	}
	st, lerr := l.Latest(ctx)
	if lerr != nil {
		return nil, lerr
	}
	if st.Lake.Source != source {
		return nil, fmt.Errorf("the warehouse already holds the lake of source %q, not %q: give each source its own warehouse path", st.Lake.Source, source)
	}
	return st, nil
}

// Latest returns the newest state of the lake, reading what was committed
// since the last call. It returns ErrNoLake when there is no lake.
func (l *Log) Latest(ctx context.Context) (*State, error) {
	l.mu.Lock()
	base := l.latest
	l.mu.Unlock()
	cached := base
	if base == nil {
		var err error
		if base, err = l.loadCheckpointHint(ctx); err != nil {
			return nil, err
		}
	}
	versions, err := l.newVersions(ctx, base.Version, base == cached)
	if err != nil {
		return nil, err
	}
	st, err := l.replay(ctx, base, versions)
	if err != nil {
		return nil, err
	}
	if st.Version == 0 {
		return nil, ErrNoLake
	}
	l.setLatest(st)
	return st, nil
}

func (l *Log) setLatest(st *State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.latest == nil || st.Version > l.latest.Version {
		l.latest = st
	}
}

// emptyState is the state before version 1.
func emptyState() *State { return &State{} }

// loadCheckpointHint returns the state of the checkpoint the hint names, or
// the empty state when there is no usable checkpoint.
func (l *Log) loadCheckpointHint(ctx context.Context) (*State, error) {
	data, err := ReadObject(ctx, l.store, lastCheckpointKey)
	if IsNotExist(err) {
		return l.newestCheckpoint(ctx, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", lastCheckpointKey, err)
	}
	var hint lastCheckpoint
	if err := decodeStrict(data, &hint); err != nil || hint.Version < 1 {
		l.opts.Logger.Warn("ignoring a damaged checkpoint hint", "key", lastCheckpointKey, "err", err)
		return l.newestCheckpoint(ctx, 0)
	}
	st, tree, err := l.readCheckpoint(ctx, hint.Version, hint.Bytes, hint.Checksum)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		l.opts.Logger.Warn("ignoring an unreadable checkpoint", "version", hint.Version, "err", err)
		return l.newestCheckpoint(ctx, 0)
	}
	l.setCheckpointBase(tree)
	return st, nil
}

// newestCheckpoint lists the log and returns the newest readable checkpoint
// at or below limit (any version when limit is 0), or the empty state.
func (l *Log) newestCheckpoint(ctx context.Context, limit int64) (*State, error) {
	objs, err := l.store.List(ctx, LogDir, "")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", LogDir, err)
	}
	for i := len(objs) - 1; i >= 0; i-- {
		v, cp, ok := parseLogKey(objs[i].Key)
		if !ok || !cp || (limit > 0 && v > limit) {
			continue
		}
		st, tree, err := l.readCheckpoint(ctx, v, -1, "")
		if err == nil {
			l.setCheckpointBase(tree)
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		l.opts.Logger.Warn("ignoring an unreadable checkpoint", "version", v, "err", err)
	}
	return emptyState(), nil
}

// newVersions returns the versions of the entries after v. When probe is
// set (v is a state already seen), it first checks for the entry of v+1, so
// the common case — nothing new — costs one small request instead of a
// listing of the log.
func (l *Log) newVersions(ctx context.Context, v int64, probe bool) ([]int64, error) {
	if probe {
		_, err := l.store.Stat(ctx, EntryKey(v+1))
		if IsNotExist(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", EntryKey(v+1), err)
		}
	}
	return l.listAfter(ctx, v)
}

// listAfter returns the versions of the entries after v, checking that they
// follow v without a gap.
func (l *Log) listAfter(ctx context.Context, v int64) ([]int64, error) {
	start := ""
	if v > 0 {
		start = EntryKey(v)
	}
	objs, err := l.store.List(ctx, LogDir, start)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", LogDir, err)
	}
	var out []int64
	next := v + 1
	for _, o := range objs {
		ev, cp, ok := parseLogKey(o.Key)
		if !ok || cp || ev <= v {
			continue
		}
		if ev != next {
			return nil, &CorruptError{EntryKey(next), fmt.Sprintf("missing: the log has version %d but not version %d", ev, next)}
		}
		out = append(out, ev)
		next++
	}
	return out, nil
}

// replay applies the entries of versions to a private copy of base.
func (l *Log) replay(ctx context.Context, base *State, versions []int64) (*State, error) {
	if len(versions) == 0 {
		return base, nil
	}
	entries, err := l.fetchEntries(ctx, versions)
	if err != nil {
		return nil, err
	}
	if base, err = l.LoadTables(ctx, base, changedTables(entries)...); err != nil {
		return nil, err
	}
	// Tables are copied on first write, then changed in place.
	n := *base
	n.Lineage = slices.Clone(base.Lineage)
	a := newApplier(&n)
	for _, e := range entries {
		if err := a.apply(e); err != nil {
			return nil, &CorruptError{EntryKey(e.Version), wrapApplyError(e, err).Error()}
		}
	}
	return &n, nil
}

// Entry returns the entry of version v.
func (l *Log) Entry(ctx context.Context, v int64) (*Entry, error) {
	es, err := l.fetchEntries(ctx, []int64{v})
	if err != nil {
		return nil, err
	}
	return es[0], nil
}

// fetchEntries reads and decodes the entries of versions, concurrently.
func (l *Log) fetchEntries(ctx context.Context, versions []int64) ([]*Entry, error) {
	out := make([]*Entry, len(versions))
	sizes := make([]int64, len(versions)) // encoded; 0: from the cache
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.opts.FetchParallelism)
	for i, v := range versions {
		if out[i] = l.cachedEntry(v); out[i] != nil {
			continue
		}
		g.Go(func() error {
			key := EntryKey(v)
			data, err := ReadObject(gctx, l.store, key)
			if IsNotExist(err) {
				return fmt.Errorf("version %d: %w", v, ErrVersionNotFound)
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
			out[i], err = DecodeEntry(key, v, data)
			sizes[i] = int64(len(data))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, e := range out {
		if sizes[i] > 0 {
			l.cacheEntry(e, sizes[i])
		}
	}
	return out, nil
}

func (l *Log) cachedEntry(v int64) *Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entries[v].e
}

// cacheEntry keeps e, whose encoding is size bytes, evicting the oldest
// entries to stay within EntryCacheSize and EntryCacheBytes. An entry
// larger than EntryCacheBytes is not kept.
func (l *Log) cacheEntry(e *Entry, size int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.entries[e.Version]; ok || size > l.opts.EntryCacheBytes {
		return
	}
	for len(l.order) > 0 && (len(l.order) >= l.opts.EntryCacheSize || l.cached+size > l.opts.EntryCacheBytes) {
		l.cached -= l.entries[l.order[0]].size
		delete(l.entries, l.order[0])
		l.order = l.order[1:]
	}
	l.entries[e.Version] = cachedEntry{e, size}
	l.cached += size
	l.order = append(l.order, e.Version)
}

// StateAt returns the state at version v, replaying from the nearest
// checkpoint at or below it.
func (l *Log) StateAt(ctx context.Context, v int64) (*State, error) {
	latest, err := l.Latest(ctx)
	if err != nil {
		return nil, err
	}
	if v < 1 || v > latest.Version {
		return nil, fmt.Errorf("version %d (the lake has 1…%d): %w", v, latest.Version, ErrVersionNotFound)
	}
	if v == latest.Version {
		return latest, nil
	}
	base := emptyState()
	interval := latest.Lake.CheckpointInterval
	for cp := v / interval * interval; cp >= interval; cp -= interval {
		st, _, err := l.readCheckpoint(ctx, cp, -1, "")
		if err == nil {
			base = st
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !IsNotExist(err) {
			l.opts.Logger.Warn("ignoring an unreadable checkpoint", "version", cp, "err", err)
		}
	}
	versions := make([]int64, 0, v-base.Version)
	for x := base.Version + 1; x <= v; x++ {
		versions = append(versions, x)
	}
	return l.replay(ctx, base, versions)
}

// Commit appends e to the log as the next version and returns the state it
// makes. It fills in the version, commit time, writer and commit ids, and
// for kinds that do not read the source, the unchanged progress.
//
// The protocol (FORMAT.md, "Commit"): the entry is created with
// put-if-absent. When another writer took the version first, the log is
// reloaded and e is applied to the new state: if it still applies, it is
// retried as the next version; if not, the error wraps ErrConflict. When the
// outcome of the write is unknown, the entry is read back and compared.
func (l *Log) Commit(ctx context.Context, e *Entry) (*State, error) {
	if l.opts.LazyTables {
		return nil, errors.New("a log opened for reading (LogOptions.LazyTables) cannot commit")
	}
	mine := map[string]bool{}
	var st *State
	for attempt := 0; attempt < l.opts.MaxCommitAttempts; attempt++ {
		var err error
		if attempt == 0 || st == nil {
			st, err = l.Latest(ctx)
		} else {
			st, err = l.refresh(ctx, st, mine)
		}
		if errors.Is(err, ErrNoLake) && e.Kind == KindCreate {
			st, err = emptyState(), nil
		}
		if err != nil {
			var done *committedError
			if errors.As(err, &done) {
				return done.state, nil
			}
			return nil, err
		}
		cand := *e
		cand.FormatVersion = EntryFormatVersion
		cand.Version = st.Version + 1
		cand.CommitTime = l.commitTime(st)
		cand.WriterID = l.opts.WriterID
		cand.CommitID = uuid.NewString()
		if !cand.Kind.advancesSource() && cand.Kind != KindRewind {
			cand.Progress = st.Progress
		}
		next, err := st.Apply(&cand)
		if err != nil {
			return nil, err
		}
		data, err := EncodeEntry(&cand)
		if err != nil {
			return nil, err
		}
		mine[cand.CommitID] = true
		key := EntryKey(cand.Version)
		err = l.store.PutIfAbsent(ctx, key, data)
		if errors.Is(err, ErrUnknownOutcome) {
			err = l.readBack(ctx, key, cand.CommitID)
		}
		switch {
		case err == nil:
			l.cacheEntry(&cand, int64(len(data)))
			l.setLatest(next)
			l.maybeCheckpoint(ctx, next)
			return next, nil
		case IsExist(err):
			l.backoff(ctx, attempt)
		default:
			return nil, fmt.Errorf("commit version %d: %w", cand.Version, err)
		}
	}
	return nil, fmt.Errorf("commit: lost the race for a version %d times in a row: %w", l.opts.MaxCommitAttempts, ErrConflict)
}

// committedError reports, from refresh, that an earlier attempt of this
// commit is in the log after all.
type committedError struct{ state *State }

func (e *committedError) Error() string { return "committed by an earlier attempt" }

// refresh loads the entries after st. If one of them is an attempt of this
// commit (its outcome was unknown but it landed), it returns a
// *committedError holding the state right after it.
func (l *Log) refresh(ctx context.Context, st *State, mine map[string]bool) (*State, error) {
	versions, err := l.newVersions(ctx, st.Version, true)
	if err != nil {
		return nil, err
	}
	entries, err := l.fetchEntries(ctx, versions)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if st, err = st.Apply(e); err != nil {
			return nil, &CorruptError{EntryKey(e.Version), err.Error()}
		}
		if mine[e.CommitID] {
			l.setLatest(st)
			return nil, &committedError{st}
		}
	}
	l.setLatest(st)
	return st, nil
}

// readBack settles a put-if-absent of unknown outcome: nil if the entry at
// key is ours, an fs.ErrExist error if another writer's, and ErrNotFound
// turned into a retryable fs.ErrExist-free error if absent (the caller
// retries the same version through the lost-race path).
func (l *Log) readBack(ctx context.Context, key, commitID string) error {
	data, err := ReadObject(ctx, l.store, key)
	if IsNotExist(err) {
		// Not written: retry. Reporting it as a lost race makes Commit reload
		// (finding no new version) and try the same version again.
		return fmt.Errorf("%s was not written: %w", key, errExistRetry)
	}
	if err != nil {
		return fmt.Errorf("read back %s after a write of unknown outcome: %w: %w", key, ErrUnknownOutcome, err)
	}
	v, _, _ := parseLogKey(key)
	e, err := DecodeEntry(key, v, data)
	if err != nil {
		return err
	}
	if e.CommitID == commitID {
		return nil
	}
	return fmt.Errorf("%s was written by %s: %w", key, e.WriterID, errExistRetry)
}

// errExistRetry is a lost race to retry; it satisfies IsExist.
var errExistRetry = fmt.Errorf("retry the commit: %w", os.ErrExist)

func (l *Log) commitTime(st *State) time.Time {
	t := l.opts.Now().UTC().Truncate(time.Microsecond)
	if min := st.CommitTime.Add(time.Microsecond); st.Version > 0 && t.Before(min) {
		t = min
	}
	return t
}

func (l *Log) backoff(ctx context.Context, attempt int) {
	d := time.Duration(1+rand.IntN(1<<min(attempt, 6))) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// maybeCheckpoint writes the checkpoint of st when its version is a multiple
// of the lake's interval, then the hint. A failure is logged, not returned:
// the commit itself has succeeded, and readers fall back to older
// checkpoints.
func (l *Log) maybeCheckpoint(ctx context.Context, st *State) {
	if st.Lake.CheckpointInterval <= 0 || st.Version%st.Lake.CheckpointInterval != 0 {
		return
	}
	if err := l.WriteCheckpoint(ctx, st); err != nil {
		l.opts.Logger.Warn("checkpoint not written", "version", st.Version, "err", err)
	}
}
