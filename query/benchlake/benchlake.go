package benchlake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/binlake/binlake/query"
	"github.com/binlake/binlake/tableformat"
)

// The lake: one keyed table shop.orders of Rows rows held by a compacted
// snapshot (SnapFiles files, rows in key order, AsOfSeq = the snapshot's
// sequence), then Commits ingest commits of ChangesPerCommit row changes
// each, not compacted: 80% updates of random live keys (an update_before
// key in a delete file + the new image in a data file, same sequence), 10%
// inserts of new keys, 10% deletes. Transactions of TxnChanges changes.
const (
	Rows             = 10_000_000
	SnapFiles        = 8 // 1.25 M rows each
	Commits          = 100
	ChangesPerCommit = 10_000
	TxnChanges       = 10
	LookupKeys       = 1000
	// GenVersion changes whenever the generator's output changes, so a
	// cached lake of an older generator is not reused.
	GenVersion = "1"
)

// Settings of the plain DuckDB (PlainDB): query.Options' defaults, which a
// session uses unless told otherwise.
const (
	Threads     = 2
	MemoryLimit = "1GB"
)

// Meta describes a generated lake; it is stored beside it as meta.json.
type Meta struct {
	SnapshotSeq   int64   `json:"snapshot_seq"`
	OlderVersion  int64   `json:"older_version"` // after half the delta commits
	LatestVersion int64   `json:"latest_version"`
	OlderRows     int64   `json:"older_rows"`
	LatestRows    int64   `json:"latest_rows"`
	OlderKeys     []int64 `json:"older_keys"`  // live at OlderVersion
	LatestKeys    []int64 `json:"latest_keys"` // live at LatestVersion
	LakeBytes     int64   `json:"lake_bytes"`
	SnapshotBytes int64   `json:"snapshot_bytes"`
	DeltaBytes    int64   `json:"delta_bytes"`
	GenSeconds    float64 `json:"gen_seconds"`
}

// Lake is a generated lake on local disk and the plain Parquet files of
// its table's state at the older and the latest point ("the equivalent
// compacted data"). Nothing may change it: a benchmark that writes to a
// lake copies Root first.
type Lake struct {
	// Dir holds everything: Root, meta.json and the compacted files.
	Dir string
	// Root is the lake's directory, the root of Store.
	Root  string
	Store tableformat.Store
	Meta  Meta
	// CompactedOlder and CompactedLatest are the table's state at
	// Meta.OlderVersion and Meta.LatestVersion, one Parquet file each
	// (COPY … ORDER BY id by a plain DuckDB, zstd, 122,880-row groups).
	CompactedOlder  string
	CompactedLatest string
}

// OpenStore opens the object store rooted at a local directory (creating
// it): objstore.NewLocal, wired in by the caller.
type OpenStore func(root string) (tableformat.Store, error)

// shared is the lake of this process, set up once by the first Setup.
var shared struct {
	once sync.Once
	lake *Lake
	err  error
}

// Schema is shop.orders.
func Schema() *tableformat.Schema {
	return &tableformat.Schema{Version: 1, Key: []int{1}, Columns: []tableformat.Column{
		{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
		{ID: 2, Name: "customer", Type: tableformat.Type{Kind: tableformat.KindInt}},
		{ID: 3, Name: "status", Type: tableformat.Type{Kind: tableformat.KindVarchar, Length: 16}},
		{ID: 4, Name: "total", Type: tableformat.Type{Kind: tableformat.KindDecimal, Precision: 12, Scale: 2}},
		{ID: 5, Name: "created", Type: tableformat.Type{Kind: tableformat.KindDatetime, FSP: 6}},
		{ID: 6, Name: "note", Type: tableformat.Type{Kind: tableformat.KindText}, Nullable: true},
	}}
}

var statuses = []string{"pending", "paid", "shipped", "delivered", "cancelled", "returned"}

const baseTS = int64(1_767_225_600_000_000) // 2026-01-01 UTC, µs

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// values is the row image of key k written by the change of sequence seq,
// derived from both so that generation needs no shared state.
func values(k, seq int64, vals []any) []any {
	h := splitmix(uint64(k)*1_000_003 ^ uint64(seq))
	cents := int64(h>>24) % 10_000_000
	var note any
	if (h>>56)%10 >= 3 {
		note = "order " + strconv.FormatInt(k, 10) + " note " + strconv.FormatUint(h&0xffffff, 16)
	}
	return append(vals[:0],
		k,
		int64(h%100_000),
		statuses[(h>>20)%uint64(len(statuses))],
		strconv.FormatInt(cents/100, 10)+"."+fmt.Sprintf("%02d", cents%100),
		baseTS+k*1_000+int64(h%1000),
		note)
}

// Dir is where the lake is generated once and reused by later runs: a
// directory under os.TempDir() named by a hash of the generator's
// parameters. Delete it to regenerate.
func Dir() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%d|%d|%d|%d|%d", GenVersion, Rows, SnapFiles, Commits,
		ChangesPerCommit, TxnChanges, LookupKeys))
	return filepath.Join(os.TempDir(), "binlake-querybench-"+hex.EncodeToString(sum[:6]))
}

// Setup returns the shared lake, generating it the first time (in this
// process or, through Dir, on this machine); open opens its store (the
// first caller's open is the one used).
func Setup(tb testing.TB, open OpenStore) *Lake {
	tb.Helper()
	shared.once.Do(func() { shared.lake, shared.err = loadOrGenerate(tb, open) })
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.lake
}

func loadOrGenerate(tb testing.TB, open OpenStore) (*Lake, error) {
	dir := Dir()
	if l, err := load(dir, open); err == nil {
		tb.Logf("bench lake: reusing the lake in %s (generated in %.0f s; delete the directory to regenerate)", dir, l.Meta.GenSeconds)
		return l, nil
	}
	_ = os.RemoveAll(dir)
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	_ = os.RemoveAll(tmp)
	start := time.Now()
	tb.Logf("bench lake: generating %d rows + %d changes in %s (about a minute; reused by later runs)", Rows, Commits*ChangesPerCommit, dir)
	if err := generate(tmp, open, start); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("generate the bench lake: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("generate the bench lake: %w", err)
	}
	return load(dir, open)
}

func load(dir string, open OpenStore) (*Lake, error) {
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	l := &Lake{Dir: dir, Root: filepath.Join(dir, "lake"), CompactedOlder: filepath.Join(dir, "compacted-older.parquet"),
		CompactedLatest: filepath.Join(dir, "compacted-latest.parquet")}
	if err := json.Unmarshal(data, &l.Meta); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "meta.json"), err)
	}
	for _, p := range []string{l.CompactedOlder, l.CompactedLatest} {
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
	}
	if l.Store, err = open(l.Root); err != nil {
		return nil, fmt.Errorf("open the bench lake's store: %w", err)
	}
	return l, nil
}

// generate writes the lake, its meta.json and the compacted files in dir.
func generate(dir string, open OpenStore, start time.Time) error {
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Join(dir, "lake"), 0o755); err != nil {
		return err
	}
	store, err := open(filepath.Join(dir, "lake"))
	if err != nil {
		return err
	}
	log := tableformat.NewLog(store, tableformat.LogOptions{})
	if _, err := log.Create(ctx, "shop", 50); err != nil {
		return err
	}
	var meta Meta
	if err := commitSnapshot(ctx, log, store, &meta); err != nil {
		return err
	}
	if err := commitDeltas(ctx, log, store, &meta); err != nil {
		return err
	}
	meta.LakeBytes = dirBytes(filepath.Join(dir, "lake"))

	// The equivalent compacted data: each point's view, copied by a plain
	// DuckDB into one Parquet file sorted by key (as a compaction writes
	// it).
	for _, p := range []struct {
		version int64
		path    string
	}{{meta.OlderVersion, "compacted-older.parquet"}, {meta.LatestVersion, "compacted-latest.parquet"}} {
		if err := compact(ctx, dir, log, p.version, filepath.Join(dir, p.path)); err != nil {
			return fmt.Errorf("compact version %d: %w", p.version, err)
		}
	}
	meta.GenSeconds = time.Since(start).Seconds()
	data, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "meta.json"), data, 0o644)
}

// commitSnapshot commits the lake's first table version: the table created
// at sequence 1 and its snapshot, keys 1…Rows, row k written at sequence
// k+1, as of sequence Rows+1, in SnapFiles files written in parallel.
func commitSnapshot(ctx context.Context, log *tableformat.Log, store tableformat.Store, meta *Meta) error {
	sc := Schema()
	snapSeq := int64(Rows + 1)
	meta.SnapshotSeq = snapSeq
	adds := make([]tableformat.AddFile, SnapFiles)
	errs := make([]error, SnapFiles)
	var wg sync.WaitGroup
	work := make(chan int)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := range work {
				lo := int64(i)*Rows/SnapFiles + 1
				hi := int64(i+1) * Rows / SnapFiles
				adds[i], errs[i] = writeSnapshotFile(ctx, store, sc, lo, hi, snapSeq, i)
			}
		})
	}
	for i := range SnapFiles {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, a := range adds {
		meta.SnapshotBytes += a.Bytes
	}
	snapTS := baseTS + snapSeq
	if _, err := log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindSnapshot,
		Tables: []tableformat.TableChange{{Op: tableformat.TableCreate, TableID: 1, Seq: 1, DB: "shop", Name: "orders", Schema: sc}},
		Add:    adds, Txns: []tableformat.TxnMark{{Seq: snapSeq, TS: snapTS}},
		Progress: tableformat.Progress{PrevSeq: 0, MaxSeq: snapSeq, MaxTS: snapTS}}); err != nil {
		return fmt.Errorf("commit the snapshot: %w", err)
	}
	return nil
}

// commitDeltas commits the Commits ingest commits after the snapshot
// (meta.SnapshotSeq), seeded so that every run writes the same changes, and
// records the older and latest points in meta.
func commitDeltas(ctx context.Context, log *tableformat.Log, store tableformat.Store, meta *Meta) error {
	sc := Schema()
	live := make([]int64, Rows)
	for i := range live {
		live[i] = int64(i + 1)
	}
	nextKey := int64(Rows + 1)
	rnd := rand.New(rand.NewPCG(4, 2))
	seq := meta.SnapshotSeq
	ts := baseTS + seq
	pick := func(keys []int64) []int64 {
		out := make([]int64, LookupKeys)
		for i := range out {
			out[i] = keys[rnd.IntN(len(keys))]
		}
		return out
	}
	for c := range Commits {
		prev := seq
		var data, dels []tableformat.Row
		var txns []tableformat.TxnMark
		for j := range ChangesPerCommit {
			seq++
			ts += int64(rnd.IntN(200))
			switch r := rnd.IntN(100); {
			case r < 80:
				k := live[rnd.IntN(len(live))]
				dels = append(dels, tableformat.Row{Seq: seq, TS: ts, Op: tableformat.OpUpdateBefore, Values: []any{k}})
				data = append(data, tableformat.Row{Seq: seq, TS: ts, Op: tableformat.OpUpdateAfter, Values: values(k, seq, make([]any, 0, 6))})
			case r < 90:
				k := nextKey
				nextKey++
				live = append(live, k)
				data = append(data, tableformat.Row{Seq: seq, TS: ts, Op: tableformat.OpInsert, Values: values(k, seq, make([]any, 0, 6))})
			default:
				i := rnd.IntN(len(live))
				k := live[i]
				live[i] = live[len(live)-1]
				live = live[:len(live)-1]
				dels = append(dels, tableformat.Row{Seq: seq, TS: ts, Op: tableformat.OpDelete, Values: []any{k}})
			}
			if (j+1)%TxnChanges == 0 {
				txns = append(txns, tableformat.TxnMark{Seq: seq, TS: ts})
			}
		}
		var add []tableformat.AddFile
		for _, f := range []struct {
			kind tableformat.FileKind
			rows []tableformat.Row
		}{{tableformat.FileData, data}, {tableformat.FileDelete, dels}} {
			a, err := tableformat.WriteAddFile(ctx, store, "shop", "orders", 1, sc, f.kind, tableformat.FileWriterOptions{}, f.rows)
			if err != nil {
				return err
			}
			meta.DeltaBytes += a.Bytes
			add = append(add, a)
		}
		st, err := log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindIngest, Add: add, Txns: txns,
			Progress: tableformat.Progress{PrevSeq: prev, MaxSeq: seq, MaxTS: ts}})
		if err != nil {
			return fmt.Errorf("commit %d: %w", c, err)
		}
		if c+1 == Commits/2 {
			meta.OlderVersion, meta.OlderRows, meta.OlderKeys = st.Version, int64(len(live)), pick(live)
		}
		meta.LatestVersion = st.Version
	}
	meta.LatestRows, meta.LatestKeys = int64(len(live)), pick(live)
	return nil
}

func writeSnapshotFile(ctx context.Context, store tableformat.Store, sc *tableformat.Schema, lo, hi, asOf int64, n int) (tableformat.AddFile, error) {
	var buf bytes.Buffer
	buf.Grow(int(hi-lo+1) * 40)
	w, err := tableformat.NewFileWriter(&buf, sc, tableformat.FileSnapshot, tableformat.FileWriterOptions{})
	if err != nil {
		return tableformat.AddFile{}, err
	}
	const chunk = 4096
	rows := make([]tableformat.Row, chunk)
	for i := range rows {
		rows[i].Values = make([]any, 0, 6)
	}
	for k := lo; k <= hi; k += chunk {
		n := int(min(chunk, hi-k+1))
		for i := range n {
			key := k + int64(i)
			rows[i].Seq, rows[i].TS, rows[i].Op = key+1, baseTS+key+1, tableformat.OpSnapshot
			rows[i].Values = values(key, key+1, rows[i].Values)
		}
		if err := w.Write(rows[:n]...); err != nil {
			return tableformat.AddFile{}, err
		}
	}
	st, err := w.Close()
	if err != nil {
		return tableformat.AddFile{}, err
	}
	key := tableformat.NewFileKey("shop", "orders", tableformat.FileSnapshot, st.MinSeq, fmt.Sprintf("snap%02d", n))
	if err := tableformat.PutBytes(ctx, store, key, buf.Bytes()); err != nil {
		return tableformat.AddFile{}, err
	}
	return addFile(key, tableformat.FileSnapshot, sc, st, asOf), nil
}

func addFile(key string, kind tableformat.FileKind, sc *tableformat.Schema, st tableformat.FileStats, asOf int64) tableformat.AddFile {
	return tableformat.AddFile{Path: key, TableID: 1, Kind: kind, SchemaVersion: sc.Version, Rows: st.Rows, Bytes: st.Bytes,
		Checksum: st.Checksum, MinSeq: st.MinSeq, MaxSeq: st.MaxSeq, MinTS: st.MinTS, MaxTS: st.MaxTS, AsOfSeq: asOf}
}

func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// compact writes the table's state at version v as one plain Parquet file:
// the view a session at v defines (read through the session's own
// duckdb_views()), run by a separate DuckDB that is not locked down,
// through COPY … ORDER BY id.
func compact(ctx context.Context, dir string, log *tableformat.Log, v int64, out string) error {
	cacheDir := filepath.Join(dir, "gen-cache")
	cache, err := query.OpenCache(cacheDir, 0, nil)
	if err != nil {
		return err
	}
	defer os.RemoveAll(cacheDir)
	e := query.NewEngine(log, cache, query.Options{})
	defer e.Close()
	p, err := e.Resolve(ctx, query.At{Version: v})
	if err != nil {
		return err
	}
	s, err := e.Open(ctx, p)
	if err != nil {
		return err
	}
	defer s.Close()
	view, err := viewSQL(ctx, s, "shop", "orders")
	if err != nil {
		return err
	}
	db, err := PlainDB(ctx, "4GB", filepath.Join(cacheDir, "spill"))
	if err != nil {
		return err
	}
	defer db.Close()
	for _, stmt := range []string{
		"CREATE SCHEMA shop", "USE memory.shop", view, "USE memory.main",
		fmt.Sprintf("COPY (SELECT * FROM shop.orders ORDER BY id) TO %s (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE %d)",
			QuoteString(out), tableformat.DefaultRowGroupRows),
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w (statement: %.200s)", err, stmt)
		}
	}
	return nil
}

// viewSQL is the CREATE VIEW statement of the session's view db.name.
func viewSQL(ctx context.Context, s *query.Session, db, name string) (string, error) {
	// A session binds what its statements name: name the view first, or
	// duckdb_views() shows its stub (docs/query.md).
	rows, cancel, err := s.Query(ctx, fmt.Sprintf("SELECT * FROM %s.%s LIMIT 0", quoteIdent(db), quoteIdent(name)))
	if err != nil {
		return "", fmt.Errorf("bind the view: %w", err)
	}
	rows.Close()
	cancel()
	rows, cancel, err = s.Query(ctx, fmt.Sprintf("SELECT sql FROM duckdb_views() WHERE schema_name = %s AND view_name = %s",
		QuoteString(db), QuoteString(name)))
	if err != nil {
		return "", fmt.Errorf("the view's SQL: %w", err)
	}
	defer cancel()
	defer rows.Close()
	var view string
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("the view's SQL: %w", err)
		}
		return "", fmt.Errorf("the view's SQL: no view %s.%s", db, name)
	}
	if err := rows.Scan(&view); err != nil {
		return "", fmt.Errorf("the view's SQL: %w", err)
	}
	return view, rows.Close()
}

// PlainDB is a plain in-memory DuckDB with the settings a session uses
// (Threads, the memory limit — MemoryLimit when memory is "" —, the time
// zone), not locked down, on one connection; spill, when not "", is its
// temporary directory (created).
func PlainDB(ctx context.Context, memory, spill string) (*sql.DB, error) {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	if memory == "" {
		memory = MemoryLimit
	}
	setup := []string{
		fmt.Sprintf("SET threads = %d", Threads),
		"SET memory_limit = " + QuoteString(memory),
		"SET TimeZone = 'UTC'",
	}
	if spill != "" {
		if err := os.MkdirAll(spill, 0o755); err != nil {
			db.Close()
			return nil, err
		}
		setup = append(setup, "SET temp_directory = "+QuoteString(spill))
	}
	for _, stmt := range setup {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("set up duckdb: %w", err)
		}
	}
	return db, nil
}

// QuoteString quotes s as an SQL string literal.
func QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
