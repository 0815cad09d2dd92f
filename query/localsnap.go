package query

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// Local snapshots: the merge-on-read of a table that has many deltas after
// its latest lake snapshot costs a probe of every snapshot row, on every
// query. An engine with Options.Materialize writes, in the background, the
// table's merged state at a point into one Parquet file in the cache — a
// snapshot that exists only here — and sessions at that point, or at any
// later point of the same history, read it in place of the lake's files up
// to its sequence (planTable). Compaction (a snapshot in the lake) is the
// lasting remedy; this one costs nothing in the lake and serves whoever
// shares the cache.
//
// A local snapshot of table t at sequence S is named by S and by a hash of
// what makes the state at S: the lake files the plan of t at S reads
// (their SHA-256s), the truncation and the schema in force. A later point
// uses it only if the plan of t at S, from the later point's log state,
// hashes the same — a rewind, a delta merge or a new lake snapshot at or
// below S changes the hash, and the file is then simply not used (and
// evicted in time, least recently used first, like any cached file).
//
// Layout: <cache>/objects/local/<lake id>/<table id>/<S, 20 digits>-<hash>.parquet.
// Columns are those of a lake file (c<ID> in their stored types, then
// _binlake_seq, _binlake_ts, _binlake_op), rows sorted by key.

// localSnap is a local snapshot of one table.
type localSnap struct {
	seq           int64
	schemaVersion int
	path          string
}

// DefaultMaterializeRows is Options.MaterializeRows' default.
const DefaultMaterializeRows = 100_000

// localCandidates is how many local snapshots of a table, newest first, a
// session considers.
const localCandidates = 4

func (c *Cache) localDir(lakeID string, tableID int64) (string, error) {
	if lakeID == "" || strings.Trim(lakeID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return "", fmt.Errorf("lake id %q is not a plain identifier", lakeID)
	}
	return filepath.Join(c.dir, "objects", "local", lakeID, strconv.FormatInt(tableID, 10)), nil
}

// localKey hashes what makes table t's state at seq: the plan of t at seq
// over lake files only.
func localKey(t *tableformat.TableState, seq int64) (string, error) {
	p, err := planTable(t, seq, nil)
	if err != nil {
		return "", err
	}
	schema, err := json.Marshal(p.schema)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "binlake local snapshot 1\ntable %d seq %d trunc %s snap %s\nschema %s\n", t.ID, seq, p.trunc, p.snap, schema)
	for _, f := range p.files() {
		fmt.Fprintf(h, "%s %s %d\n", f.add.Checksum, f.add.Kind, f.add.AsOfSeq)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// localPath is where the local snapshot of t at seq with key lives.
func (c *Cache) localPath(lakeID string, t *tableformat.TableState, seq int64, key string) (string, error) {
	dir, err := c.localDir(lakeID, t.ID)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, fmt.Sprintf("%020d-%s.parquet", seq, key)), nil
}

// findLocal returns the newest local snapshot of t at or below seq that
// the history of t still agrees with, nil if none.
func (c *Cache) findLocal(lakeID string, t *tableformat.TableState, seq int64) (*localSnap, error) {
	dir, err := c.localDir(lakeID, t.ID)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query cache: %w", err)
	}
	type cand struct {
		seq  int64
		key  string
		name string
	}
	var cands []cand
	for _, e := range ents {
		s, key, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".parquet"), "-")
		n, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".parquet") || n > seq || n < t.CreatedSeq {
			continue
		}
		cands = append(cands, cand{n, key, e.Name()})
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Compare(b.seq, a.seq) })
	for _, cd := range cands[:min(len(cands), localCandidates)] {
		if !t.ExistsAt(cd.seq) {
			continue
		}
		key, err := localKey(t, cd.seq)
		if err != nil {
			return nil, err
		}
		if key == cd.key {
			return &localSnap{seq: cd.seq, schemaVersion: t.SchemaAt(cd.seq).Version, path: filepath.Join(dir, cd.name)}, nil
		}
	}
	return nil, nil
}

// pinLocal pins a local snapshot at path (see pin).
func (c *Cache) pinLocal(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return c.pin(path, fi.Size())
}

// pinnedLocal is findLocal's snapshot, pinned (the caller unpins it); nil
// when there is none or it went away meanwhile (evicted, or replaced by
// another process writing the same one).
func (c *Cache) pinnedLocal(lakeID string, t *tableformat.TableState, seq int64) (*localSnap, error) {
	for range 3 {
		local, err := c.findLocal(lakeID, t, seq)
		if err != nil || local == nil {
			return nil, err
		}
		if err := c.pinLocal(local.path); err == nil {
			return local, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("local snapshot %s: %w", local.path, err)
		}
	}
	return nil, nil
}

// deltaRows is the number of delta rows (data and deletes) the plan merges.
func (p *tablePlan) deltaRows() int64 {
	var n int64
	for _, f := range p.files() {
		if f.add.Kind != tableformat.FileSnapshot {
			n += f.add.Rows
		}
	}
	return n
}

// storedType is the DuckDB type a column is stored as in a lake file: its
// view type, but TIME as its microseconds.
func storedType(t tableformat.Type) string {
	if t.Kind == tableformat.KindTime {
		return "BIGINT"
	}
	return duckType(t)
}

// materialize writes the local snapshot of t at the point p to dst, if the
// cache lacks it: a snapshot file as compaction writes one (lakewrite.go),
// in the cache only.
func (e *Engine) materialize(ctx context.Context, p tableformat.Point, t *tableformat.TableState, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(filepath.Join(e.cache.dir, "tmp"), "local-*")
	if err != nil {
		return fmt.Errorf("query cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	files, err := e.WriteSnapshot(ctx, p, t.ID, filepath.Join(tmp, "out"), 0)
	if err != nil || len(files) == 0 {
		return err // no rows at all: nothing to save
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("query cache: %w", err)
	}
	if err := os.Rename(files[0].Local, dst); err != nil {
		return fmt.Errorf("query cache: %w", err)
	}
	e.cache.downloaded.Add(files[0].Add.Bytes)
	e.opts.Logger.Info("local snapshot written", "table", tableNameAt(t, p.Seq), "seq", p.Seq,
		"rows", files[0].Add.Rows, "bytes", files[0].Add.Bytes, "duration", time.Since(start).Round(time.Millisecond))
	if _, err := e.cache.Evict(); err != nil {
		e.opts.Logger.Warn("query cache eviction failed", "err", err)
	}
	return nil
}

// build is a local snapshot being written in the background.
type build struct {
	done chan struct{}
	err  error
}

// startBuild writes the local snapshot of t at p to dst in the background,
// one build at a time per engine; a build of dst already under way is
// shared.
func (e *Engine) startBuild(p tableformat.Point, t *tableformat.TableState, dst string) *build {
	e.bmu.Lock()
	defer e.bmu.Unlock()
	if b, ok := e.builds[dst]; ok {
		return b
	}
	b := &build{done: make(chan struct{})}
	e.builds[dst] = b
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.bmu.Lock()
			delete(e.builds, dst)
			e.bmu.Unlock()
			close(b.done)
		}()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-e.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		select {
		case e.sem <- struct{}{}:
			defer func() { <-e.sem }()
		case <-ctx.Done():
			b.err = ctx.Err()
			return
		}
		if b.err = e.materialize(ctx, p, t, dst); b.err != nil && ctx.Err() == nil {
			e.opts.Logger.Warn("local snapshot failed; queries merge the lake's files instead", "table", t.NameAt(p.Seq).DB+"."+t.NameAt(p.Seq).Name, "seq", p.Seq, "err", b.err)
		}
	}()
	return b
}

// Close stops the engine's background work (local snapshots being
// written) and waits for it. Sessions stay usable.
func (e *Engine) Close() error {
	e.bmu.Lock()
	if !e.closed {
		e.closed = true
		close(e.stop)
	}
	e.bmu.Unlock()
	e.wg.Wait()
	e.pmu.Lock()
	defer e.pmu.Unlock()
	if e.parser != nil {
		err := e.parser.close()
		e.parser = nil
		return err
	}
	return nil
}

// pendingView is a view whose local snapshot is being written: the session
// swaps the view to it before its next statement once it is there.
type pendingView struct {
	t   *tableformat.TableState
	b   *build
	dst string
}

// swapLocal points the views whose local snapshot is now written at it.
func (s *Session) swapLocal(ctx context.Context) {
	keep := s.pending[:0]
	for _, pv := range s.pending {
		select {
		case <-pv.b.done:
		default:
			keep = append(keep, pv)
			continue
		}
		if pv.b.err != nil {
			continue
		}
		if err := s.swapView(ctx, pv); err != nil {
			s.opts.Logger.Warn("local snapshot not used", "path", pv.dst, "err", err)
		}
	}
	s.pending = keep
}

func (s *Session) swapView(ctx context.Context, pv pendingView) error {
	if err := s.cache.pinLocal(pv.dst); err != nil {
		return err
	}
	s.pins = append(s.pins, pv.dst)
	plan, err := planTable(pv.t, s.Point.Seq, &localSnap{seq: s.Point.Seq, schemaVersion: pv.t.SchemaAt(s.Point.Seq).Version, path: pv.dst})
	if err != nil {
		return err
	}
	for _, f := range plan.files() {
		if !f.local {
			if f.path = s.paths[f.add.Checksum]; f.path == "" {
				return fmt.Errorf("file %s is not in the session", f.add.Path)
			}
		}
	}
	stmt := s.e.viewStmt(plan)
	if _, err = s.h.conn.ExecContext(ctx, strings.Replace(stmt, "CREATE VIEW", "CREATE OR REPLACE VIEW", 1)); err != nil {
		return err
	}
	s.stmts[objKey{pv.t.ID, objView}] = []string{stmt}
	s.localViews++
	return nil
}
