package compaction

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/tableformat"
)

// VacuumReason says why a vacuum removes a file from the lake's state.
type VacuumReason string

// Why a file is outside retention (FORMAT.md §13).
const (
	ReasonDropped     VacuumReason = "table dropped"          // the table was dropped at or before the retention's sequence
	ReasonOldSnapshot VacuumReason = "older snapshot"         // a newer snapshot at or before the retention's sequence replaces it
	ReasonInSnapshot  VacuumReason = "folded into a snapshot" // every change of the delta is in that snapshot
	ReasonTruncated   VacuumReason = "before a truncation"    // every row lies before the last truncation at or before it
)

// VacuumFile is one file a vacuum removes from the lake's state.
type VacuumFile struct {
	File   tableformat.AddFile
	Reason VacuumReason
}

// VacuumPlan is what a vacuum removes: the files no point at or after
// FromSeq needs.
type VacuumPlan struct {
	FromSeq  int64
	FromTime time.Time
	// Remove lists the files, by table id, then path.
	Remove []VacuumFile
}

// Bytes returns the size of the files the plan removes.
func (p VacuumPlan) Bytes() int64 {
	var n int64
	for _, f := range p.Remove {
		n += f.File.Bytes
	}
	return n
}

// ByReason counts the plan's files by reason.
func (p VacuumPlan) ByReason() map[VacuumReason]int {
	out := map[VacuumReason]int{}
	for _, f := range p.Remove {
		out[f.Reason]++
	}
	return out
}

// PlanVacuum returns the files of st that no point with a sequence at or
// after fromSeq reads (FORMAT.md §8, §13), table by table:
//   - every file of a table dropped at or before fromSeq;
//   - snapshot files older than the newest snapshot whose as_of_seq is at or
//     before fromSeq (call that as_of_seq A);
//   - data and delete files whose max_seq is at most A;
//   - files whose rows all lie before the last truncation T at or before
//     fromSeq: deltas with max_seq below T, snapshots with as_of_seq below T.
//
// It is a pure function of its arguments; fromTime is carried into the plan
// for the retention the vacuum commits.
func PlanVacuum(st *tableformat.State, fromSeq int64, fromTime time.Time) VacuumPlan {
	plan := VacuumPlan{FromSeq: fromSeq, FromTime: fromTime}
	ids := st.Tables.IDs()
	for _, id := range ids {
		t := st.Tables.Get(id)
		files := slices.SortedFunc(maps.Values(t.Files), func(a, b tableformat.AddFile) int { return cmp.Compare(a.Path, b.Path) })
		if t.DroppedSeq != 0 && t.DroppedSeq <= fromSeq {
			for _, f := range files {
				plan.Remove = append(plan.Remove, VacuumFile{f, ReasonDropped})
			}
			continue
		}
		var a int64
		for _, f := range files {
			if f.Kind == tableformat.FileSnapshot && f.AsOfSeq <= fromSeq {
				a = max(a, f.AsOfSeq)
			}
		}
		trunc := t.TruncatedAt(fromSeq)
		for _, f := range files {
			snap := f.Kind == tableformat.FileSnapshot
			var why VacuumReason
			switch {
			case snap && f.AsOfSeq < a:
				why = ReasonOldSnapshot
			case snap && f.AsOfSeq < trunc:
				why = ReasonTruncated
			case !snap && f.MaxSeq <= a:
				why = ReasonInSnapshot
			case !snap && f.MaxSeq < trunc:
				why = ReasonTruncated
			default:
				continue
			}
			plan.Remove = append(plan.Remove, VacuumFile{f, why})
		}
	}
	return plan
}

// VacuumOptions configure Vacuum.
type VacuumOptions struct {
	// Retain is the time-travel window: history from now − Retain on stays
	// readable. Required unless RetainFrom is set; DefaultRetain is the
	// usual one.
	Retain time.Duration
	// RetainFrom, when set, is where the readable history starts instead
	// of now − Retain (Retain is ignored): for an operator who names the
	// instant, and for a test whose retention must not move with the time
	// it takes to run. It must not be in the future.
	RetainFrom time.Time
	// Grace is how long an object no longer named by the lake stays in
	// storage, so readers that pinned an older version keep working, and how
	// old an unnamed object must be before it counts as an orphan (not an
	// upload in flight). Default DefaultGrace.
	Grace time.Duration
	// DryRun plans and reports without committing or deleting.
	DryRun bool
	// Now returns the wall clock; default time.Now.
	Now func() time.Time
	// Logger receives progress; default: discard.
	Logger *slog.Logger
	// Parallelism bounds concurrent log reads and deletes; default
	// DefaultVacuumParallelism.
	Parallelism int
}

// Vacuum defaults.
const (
	// DefaultRetain is a week of history: the window the binlake command
	// keeps when told none (VacuumOptions.Retain itself has no default: a
	// caller that forgets it must not lose history).
	DefaultRetain = 7 * 24 * time.Hour
	// DefaultGrace is the default grace period of vacuum: the format's
	// (tableformat.DefaultGrace), which verify assumes too.
	DefaultGrace = tableformat.DefaultGrace
	// DefaultVacuumParallelism bounds vacuum's concurrent log reads and
	// deletes.
	DefaultVacuumParallelism = 16
)

// Validate reports every problem of the options (after WithDefaults) at
// once, each a *settings.Problem naming its field.
func (o *VacuumOptions) Validate() error {
	var ps settings.Problems
	if o.Retain <= 0 && o.RetainFrom.IsZero() {
		ps.Add("retain", "%s: must be positive, such as %s", o.Retain, settings.Duration(DefaultRetain))
	}
	if o.Grace <= 0 {
		ps.Add("grace", "%s: must be positive, such as %s (longer than any write takes)", o.Grace, settings.Duration(DefaultGrace))
	}
	if o.Parallelism < 1 {
		ps.Add("parallelism", "%d: must be at least 1, such as %d", o.Parallelism, DefaultVacuumParallelism)
	}
	return ps.Err()
}

// WithDefaults fills in the zero values but Retain's.
func (o *VacuumOptions) WithDefaults() VacuumOptions {
	r := *o
	if r.Grace == 0 {
		r.Grace = DefaultGrace
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Parallelism == 0 {
		r.Parallelism = DefaultVacuumParallelism
	}
	return r
}

// VacuumResult reports what a vacuum did (or, in a dry run, would do).
type VacuumResult struct {
	DryRun bool
	// Version is the vacuum's commit, 0 when it committed nothing.
	Version int64
	// Retention is in force after the run (zero when the lake has none);
	// RetentionMoved says whether this run moved it.
	Retention      tableformat.Retention
	RetentionMoved bool
	// Plan lists the files removed from the lake's state.
	Plan VacuumPlan
	// ObjectsDeleted and BytesDeleted count objects deleted from storage:
	// files removed by earlier commits whose grace period has passed, and
	// orphans.
	ObjectsDeleted int
	BytesDeleted   int64
	// Orphans counts the deleted objects that no log entry ever named
	// (uploads of failed or abandoned commits, and checkpoint parts that no
	// checkpoint references).
	Orphans int
	// Waiting counts objects no reader needs that are younger than the
	// grace period (uploads in flight, or orphans too young to tell): a
	// later vacuum deletes those that are still not needed.
	Waiting int
	// TempFilesRemoved counts stale temporary files of a local store.
	TempFilesRemoved int
}

// FilesRemoved is the number of files removed from the lake's state.
func (r VacuumResult) FilesRemoved() int { return len(r.Plan.Remove) }

// BytesRemoved is the size of the files removed from the lake's state.
func (r VacuumResult) BytesRemoved() int64 { return r.Plan.Bytes() }

// tempCleaner is a store with temporary files of its own (a local
// directory) that crashed writers may leave behind.
type tempCleaner interface {
	CleanTemp(ctx context.Context, olderThan time.Duration) (int, error)
}

// Vacuum keeps the lake's history from now − Retain on and removes the rest
// (docs/design.md, Compaction; FORMAT.md §13). It resolves the retention's sequence as of
// now − Retain, plans with PlanVacuum, and when files are removable or the
// retention moves commits one vacuum entry with the removes and the
// retention. A concurrent commit that removed one of the same files makes
// it fail with an error wrapping tableformat.ErrConflict, having committed
// and deleted nothing.
//
// Then it deletes from storage every object (outside _log/) that no reader
// may still need and that is older than the grace period: an object is
// needed while it is live at the newest version committed at or before
// now − Grace, added by a later entry, or live at a version rewound away
// that is inside retention. Under _log/ it deletes only the checkpoint
// parts no checkpoint references, once older than the grace period.
func Vacuum(ctx context.Context, log *tableformat.Log, opts VacuumOptions) (VacuumResult, error) {
	o := opts.WithDefaults()
	if err := o.Validate(); err != nil {
		return VacuumResult{}, fmt.Errorf("vacuum: %w", err)
	}
	now := o.Now().UTC()
	res := VacuumResult{DryRun: o.DryRun}
	if o.RetainFrom.After(now) {
		return res, fmt.Errorf("vacuum: retain from %s: in the future (now is %s)", o.RetainFrom.UTC().Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
	latest, err := log.Latest(ctx)
	if err != nil {
		return res, err
	}

	// Where retention starts: the point as of now − Retain, never moving
	// back. Before the lake's first change nothing is outside retention.
	var cur tableformat.Retention
	if latest.Retention != nil {
		cur = *latest.Retention
	}
	ret := cur
	cutoff := now.Add(-o.Retain).Truncate(time.Microsecond)
	if !o.RetainFrom.IsZero() {
		cutoff = o.RetainFrom.UTC().Truncate(time.Microsecond)
	}
	p, err := log.AtTime(ctx, cutoff)
	switch {
	case err == nil:
		if p.Seq > cur.FromSeq {
			ret = tableformat.Retention{FromSeq: p.Seq, FromTime: cutoff}
			if ret.FromTime.Before(cur.FromTime) {
				ret.FromTime = cur.FromTime
			}
		}
	case errors.Is(err, tableformat.ErrBeforeHistory), errors.Is(err, tableformat.ErrOutsideRetention):
	default:
		return res, fmt.Errorf("vacuum: retention as of %s: %w", cutoff.Format(time.RFC3339Nano), err)
	}
	res.Retention = ret
	res.RetentionMoved = ret.FromSeq > cur.FromSeq
	if ret.FromSeq > 0 {
		res.Plan = PlanVacuum(latest, ret.FromSeq, ret.FromTime)
	}

	if !o.DryRun && (len(res.Plan.Remove) > 0 || res.RetentionMoved) {
		e := &tableformat.Entry{Kind: tableformat.KindVacuum, Retention: &ret, Info: map[string]string{
			"files_removed": strconv.Itoa(len(res.Plan.Remove)),
			"bytes_removed": strconv.FormatInt(res.Plan.Bytes(), 10),
			"retain":        o.Retain.String(),
		}}
		if !o.RetainFrom.IsZero() {
			delete(e.Info, "retain")
			e.Info["retain_from"] = cutoff.Format(time.RFC3339Nano)
		}
		for _, f := range res.Plan.Remove {
			e.Remove = append(e.Remove, tableformat.RemoveFile{Path: f.File.Path, TableID: f.File.TableID})
		}
		st, err := log.Commit(ctx, e)
		if err != nil {
			return res, fmt.Errorf("vacuum: commit: %w", err)
		}
		res.Version = st.Version
		o.Logger.Info("vacuum committed", "version", st.Version, "files", len(e.Remove), "bytes", res.Plan.Bytes(),
			"retention_seq", ret.FromSeq, "retention_time", ret.FromTime)
	}

	if err := deleteUnneeded(ctx, log, o, now, ret, &res); err != nil {
		return res, fmt.Errorf("vacuum: %w", err)
	}
	if c, ok := log.Store().(tempCleaner); ok && !o.DryRun {
		n, err := c.CleanTemp(ctx, o.Grace)
		if err != nil {
			return res, fmt.Errorf("vacuum: %w", err)
		}
		res.TempFilesRemoved = n
	}
	return res, nil
}

// deleteUnneeded deletes (or, in a dry run, counts) the objects no reader
// may need that are older than the grace period.
func deleteUnneeded(ctx context.Context, log *tableformat.Log, o VacuumOptions, now time.Time, ret tableformat.Retention, res *VacuumResult) error {
	latest, err := log.Latest(ctx)
	if err != nil {
		return err
	}
	graceCut := now.Add(-o.Grace)
	protected, err := protectedFiles(ctx, log, o, latest, graceCut, ret)
	if err != nil {
		return err
	}
	objs, err := log.Store().List(ctx, "", "")
	if err != nil {
		return fmt.Errorf("list the lake's objects: %w", err)
	}
	var doomed []tableformat.ObjectInfo
	for _, obj := range objs {
		if strings.HasPrefix(obj.Key, tableformat.LogDir) || protected[obj.Key] {
			continue
		}
		if !obj.ModTime.Before(graceCut) {
			res.Waiting++
			continue
		}
		doomed = append(doomed, obj)
	}
	// Checkpoint parts that no checkpoint references (FORMAT.md §13).
	parts, err := tableformat.UnreferencedCheckpointParts(ctx, log.Store(), o.Parallelism)
	if err != nil {
		o.Logger.Warn("vacuum leaves checkpoint parts alone", "err", err)
	}
	for _, obj := range parts {
		if !obj.ModTime.Before(graceCut) {
			res.Waiting++
			continue
		}
		doomed = append(doomed, obj)
	}
	if len(doomed) == 0 {
		return nil
	}
	named, err := namedByLog(ctx, log, o, latest.Version, doomed)
	if err != nil {
		return err
	}
	for _, obj := range doomed {
		if !named[obj.Key] {
			res.Orphans++
		}
	}
	if o.DryRun {
		res.ObjectsDeleted = len(doomed)
		for _, obj := range doomed {
			res.BytesDeleted += obj.Size
		}
		return nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Parallelism)
	for _, obj := range doomed {
		g.Go(func() error {
			if err := log.Store().Delete(gctx, obj.Key); err != nil {
				return fmt.Errorf("delete %s: %w", obj.Key, err)
			}
			mu.Lock()
			defer mu.Unlock()
			res.ObjectsDeleted++
			res.BytesDeleted += obj.Size
			return nil
		})
	}
	err = g.Wait()
	o.Logger.Info("vacuum deleted objects", "objects", res.ObjectsDeleted, "bytes", res.BytesDeleted, "orphans", res.Orphans, "waiting", res.Waiting)
	return err
}

// protectedFiles returns the paths a reader may still need: the files live
// at the newest version committed at or before graceCut (what a reader that
// pinned a version since then can read), the files added by every later
// entry, and, for each run of versions rewound away, the files live at its
// first version committed at or after the retention's time and the files
// added after it in the run (those versions are inside retention and read
// their own state).
func protectedFiles(ctx context.Context, log *tableformat.Log, o VacuumOptions, latest *tableformat.State, graceCut time.Time,
	ret tableformat.Retention) (map[string]bool, error) {
	commitTime := func(v int64) (time.Time, error) {
		e, err := log.Entry(ctx, v)
		if err != nil {
			return time.Time{}, err
		}
		return e.CommitTime, nil
	}
	// Commit times grow with the version: the first version after
	// graceCut, searched over 1…latest.
	vGrace, err := searchVersions(1, latest.Version, func(v int64) (bool, error) {
		t, err := commitTime(v)
		return t.After(graceCut), err
	})
	if err != nil {
		return nil, err
	}
	vGrace-- // the newest at or before graceCut; 0 if none
	protected := map[string]bool{}
	if err := protectRun(ctx, log, o, protected, vGrace, latest.Version); err != nil {
		return nil, err
	}
	// Versions rewound away: the gaps between the lineage's ranges.
	next := int64(1)
	for _, r := range append(slices.Clone(latest.Lineage), tableformat.VersionRange{From: latest.Version + 1}) {
		if from, to := next, r.From-1; from <= to {
			first, err := searchVersions(from, to, func(v int64) (bool, error) {
				t, err := commitTime(v)
				return !t.Before(ret.FromTime), err
			})
			if err != nil {
				return nil, err
			}
			if first <= to {
				if err := protectRun(ctx, log, o, protected, first, to); err != nil {
					return nil, err
				}
			}
		}
		next = r.To + 1
	}
	return protected, nil
}

// protectRun marks the files live at version from (none when from is 0),
// with the files of its re-snapshots in progress, and those the entries
// from+1…to bring in (Entry.NamedFiles).
func protectRun(ctx context.Context, log *tableformat.Log, o VacuumOptions, protected map[string]bool, from, to int64) error {
	if from > 0 {
		st, err := log.StateAt(ctx, from)
		if err != nil {
			return err
		}
		for t := range st.Tables.Values() {
			for path := range t.Files {
				protected[path] = true
			}
		}
		st.ResnapshotFiles(func(path string) { protected[path] = true })
	}
	return eachEntry(ctx, log, o, from+1, to, func(e *tableformat.Entry) {
		e.NamedFiles(func(path string) { protected[path] = true })
	})
}

// namedByLog returns which of objs an entry of versions 1…to names.
func namedByLog(ctx context.Context, log *tableformat.Log, o VacuumOptions, to int64, objs []tableformat.ObjectInfo) (map[string]bool, error) {
	want := make(map[string]bool, len(objs))
	for _, obj := range objs {
		want[obj.Key] = true
	}
	named := map[string]bool{}
	err := eachEntry(ctx, log, o, 1, to, func(e *tableformat.Entry) {
		e.NamedFiles(func(path string) {
			if want[path] {
				named[path] = true
			}
		})
	})
	return named, err
}

// eachEntry calls fn, one call at a time, for the entries of versions
// from…to, reading them a batch at a time with bounded parallelism.
func eachEntry(ctx context.Context, log *tableformat.Log, o VacuumOptions, from, to int64, fn func(*tableformat.Entry)) error {
	const batch = 256
	for lo := from; lo <= to; lo += batch {
		hi := min(to, lo+batch-1)
		entries := make([]*tableformat.Entry, hi-lo+1)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(o.Parallelism)
		for v := lo; v <= hi; v++ {
			g.Go(func() error {
				e, err := log.Entry(gctx, v)
				entries[v-lo] = e
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for _, e := range entries {
			fn(e)
		}
	}
	return nil
}

// searchVersions returns the first version in from…to for which pred holds,
// pred being false then true over the range; to+1 if none.
func searchVersions(from, to int64, pred func(int64) (bool, error)) (int64, error) {
	var searchErr error
	i := sort.Search(int(max(0, to-from+1)), func(i int) bool {
		if searchErr != nil {
			return true
		}
		ok, err := pred(from + int64(i))
		if err != nil {
			searchErr = err
			return true
		}
		return ok
	})
	return from + int64(i), searchErr
}
