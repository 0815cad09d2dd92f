package query

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
	"sync"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
)

// The lake BenchmarkQuery reads: one keyed table shop.orders of qbRows rows
// held by a compacted snapshot (qbSnapFiles files, rows in key order,
// AsOfSeq = the snapshot's sequence), then qbCommits ingest commits of
// qbChangesPerCommit row changes each, not compacted: 80% updates of random
// live keys (an update_before key in a delete file + the new image in a data
// file, same sequence), 10% inserts of new keys, 10% deletes. Transactions
// of qbTxnChanges changes.
const (
	qbRows             = 10_000_000
	qbSnapFiles        = 8 // 1.25 M rows each
	qbCommits          = 100
	qbChangesPerCommit = 10_000
	qbTxnChanges       = 10
	qbLookupKeys       = 1000
	// qbGenVersion changes whenever the generator's output changes, so a
	// cached lake of an older generator is not reused.
	qbGenVersion = "1"
)

// qbMeta describes a generated lake; it is stored beside it as meta.json.
type qbMeta struct {
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

// qbLake is a generated lake on local disk and the plain Parquet files of
// its table's state at the older and the latest point ("the equivalent
// compacted data").
type qbLake struct {
	dir             string
	store           *objstore.Local
	meta            qbMeta
	compactedOlder  string
	compactedLatest string
}

var (
	qbOnce    sync.Once
	qbShared  *qbLake
	qbOnceErr error
)

// qbSchema is shop.orders.
func qbSchema() *tableformat.Schema {
	return &tableformat.Schema{Version: 1, Key: []int{1}, Columns: []tableformat.Column{
		{ID: 1, Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
		{ID: 2, Name: "customer", Type: tableformat.Type{Kind: tableformat.KindInt}},
		{ID: 3, Name: "status", Type: tableformat.Type{Kind: tableformat.KindVarchar, Length: 16}},
		{ID: 4, Name: "total", Type: tableformat.Type{Kind: tableformat.KindDecimal, Precision: 12, Scale: 2}},
		{ID: 5, Name: "created", Type: tableformat.Type{Kind: tableformat.KindDatetime, FSP: 6}},
		{ID: 6, Name: "note", Type: tableformat.Type{Kind: tableformat.KindText}, Nullable: true},
	}}
}

var qbStatuses = []string{"pending", "paid", "shipped", "delivered", "cancelled", "returned"}

const qbBaseTS = int64(1_767_225_600_000_000) // 2026-01-01 UTC, µs

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// qbValues is the row image of key k written by the change of sequence
// seq, derived from both so that generation needs no shared state.
func qbValues(k, seq int64, vals []any) []any {
	h := splitmix(uint64(k)*1_000_003 ^ uint64(seq))
	cents := int64(h>>24) % 10_000_000
	var note any
	if (h>>56)%10 >= 3 {
		note = "order " + strconv.FormatInt(k, 10) + " note " + strconv.FormatUint(h&0xffffff, 16)
	}
	return append(vals[:0],
		k,
		int64(h%100_000),
		qbStatuses[(h>>20)%uint64(len(qbStatuses))],
		strconv.FormatInt(cents/100, 10)+"."+fmt.Sprintf("%02d", cents%100),
		qbBaseTS+k*1_000+int64(h%1000),
		note)
}

// qbLakeDir is where the lake is generated once and reused by later runs:
// a directory under os.TempDir() named by a hash of the generator's
// parameters. Delete it to regenerate.
func qbLakeDir() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%d|%d|%d|%d|%d", qbGenVersion, qbRows, qbSnapFiles, qbCommits,
		qbChangesPerCommit, qbTxnChanges, qbLookupKeys))
	return filepath.Join(os.TempDir(), "binlake-querybench-"+hex.EncodeToString(sum[:6]))
}

// qbSetup returns the shared lake, generating it the first time (in this
// process or, through qbLakeDir, on this machine).
func qbSetup(b *testing.B) *qbLake {
	b.Helper()
	qbOnce.Do(func() { qbShared, qbOnceErr = qbLoadOrGenerate(b) })
	if qbOnceErr != nil {
		b.Fatal(qbOnceErr)
	}
	return qbShared
}

func qbLoadOrGenerate(b *testing.B) (*qbLake, error) {
	dir := qbLakeDir()
	if l, err := qbLoad(dir); err == nil {
		b.Logf("query bench: reusing the lake in %s (generated in %.0f s; delete the directory to regenerate)", dir, l.meta.GenSeconds)
		return l, nil
	}
	_ = os.RemoveAll(dir)
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	_ = os.RemoveAll(tmp)
	start := time.Now()
	b.Logf("query bench: generating %d rows + %d changes in %s (about a minute; reused by later runs)", qbRows, qbCommits*qbChangesPerCommit, dir)
	if err := qbGenerate(tmp, start); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	return qbLoad(dir)
}

func qbLoad(dir string) (*qbLake, error) {
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	l := &qbLake{dir: dir, compactedOlder: filepath.Join(dir, "compacted-older.parquet"),
		compactedLatest: filepath.Join(dir, "compacted-latest.parquet")}
	if err := json.Unmarshal(data, &l.meta); err != nil {
		return nil, err
	}
	for _, p := range []string{l.compactedOlder, l.compactedLatest} {
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
	}
	if l.store, err = objstore.NewLocal(filepath.Join(dir, "lake")); err != nil {
		return nil, err
	}
	return l, nil
}

// qbGenerate writes the lake, its meta.json and the compacted files in dir.
func qbGenerate(dir string, start time.Time) error {
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Join(dir, "lake"), 0o755); err != nil {
		return err
	}
	store, err := objstore.NewLocal(filepath.Join(dir, "lake"))
	if err != nil {
		return err
	}
	log := tableformat.NewLog(store, tableformat.LogOptions{})
	if _, err := log.Create(ctx, "shop", 50); err != nil {
		return err
	}
	sc := qbSchema()
	var meta qbMeta

	// The snapshot: keys 1…qbRows, row k written at sequence k+1 (the
	// table is created at 1), as of sequence qbRows+1.
	snapSeq := int64(qbRows + 1)
	meta.SnapshotSeq = snapSeq
	adds := make([]tableformat.AddFile, qbSnapFiles)
	errs := make([]error, qbSnapFiles)
	var wg sync.WaitGroup
	work := make(chan int)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := range work {
				lo := int64(i)*qbRows/qbSnapFiles + 1
				hi := int64(i+1) * qbRows / qbSnapFiles
				adds[i], errs[i] = qbWriteSnapshotFile(ctx, store, sc, lo, hi, snapSeq, i)
			}
		})
	}
	for i := range qbSnapFiles {
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
	snapTS := qbBaseTS + snapSeq
	if _, err := log.Commit(ctx, &tableformat.Entry{Kind: tableformat.KindSnapshot,
		Tables: []tableformat.TableChange{{Op: tableformat.TableCreate, TableID: 1, Seq: 1, DB: "shop", Name: "orders", Schema: sc}},
		Add:    adds, Txns: []tableformat.TxnMark{{Seq: snapSeq, TS: snapTS}},
		Progress: tableformat.Progress{PrevSeq: 0, MaxSeq: snapSeq, MaxTS: snapTS}}); err != nil {
		return fmt.Errorf("commit the snapshot: %w", err)
	}

	// The deltas.
	live := make([]int64, qbRows)
	for i := range live {
		live[i] = int64(i + 1)
	}
	nextKey := int64(qbRows + 1)
	rnd := rand.New(rand.NewPCG(4, 2))
	seq, ts := snapSeq, snapTS
	pick := func(keys []int64) []int64 {
		out := make([]int64, qbLookupKeys)
		for i := range out {
			out[i] = keys[rnd.IntN(len(keys))]
		}
		return out
	}
	for c := range qbCommits {
		prev := seq
		var data, dels []tableformat.Row
		var txns []tableformat.TxnMark
		for j := range qbChangesPerCommit {
			seq++
			ts += int64(rnd.IntN(200))
			switch r := rnd.IntN(100); {
			case r < 80:
				k := live[rnd.IntN(len(live))]
				dels = append(dels, tableformat.Row{Seq: seq, TS: ts, Op: tableformat.OpUpdateBefore, Values: []any{k}})
				data = append(data, tableformat.Row{Seq: seq, TS: ts, Op: tableformat.OpUpdateAfter, Values: qbValues(k, seq, make([]any, 0, 6))})
			case r < 90:
				k := nextKey
				nextKey++
				live = append(live, k)
				data = append(data, tableformat.Row{Seq: seq, TS: ts, Op: tableformat.OpInsert, Values: qbValues(k, seq, make([]any, 0, 6))})
			default:
				i := rnd.IntN(len(live))
				k := live[i]
				live[i] = live[len(live)-1]
				live = live[:len(live)-1]
				dels = append(dels, tableformat.Row{Seq: seq, TS: ts, Op: tableformat.OpDelete, Values: []any{k}})
			}
			if (j+1)%qbTxnChanges == 0 {
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
		if c+1 == qbCommits/2 {
			meta.OlderVersion, meta.OlderRows, meta.OlderKeys = st.Version, int64(len(live)), pick(live)
		}
		meta.LatestVersion = st.Version
	}
	meta.LatestRows, meta.LatestKeys = int64(len(live)), pick(live)
	meta.LakeBytes = qbDirBytes(filepath.Join(dir, "lake"))
	live = nil

	// The equivalent compacted data: each point's view, copied by a plain
	// DuckDB into one Parquet file sorted by key (as a compaction writes
	// it).
	for _, p := range []struct {
		version int64
		path    string
	}{{meta.OlderVersion, "compacted-older.parquet"}, {meta.LatestVersion, "compacted-latest.parquet"}} {
		if err := qbCompact(ctx, dir, log, p.version, filepath.Join(dir, p.path)); err != nil {
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

func qbWriteSnapshotFile(ctx context.Context, store tableformat.Store, sc *tableformat.Schema, lo, hi, asOf int64, n int) (tableformat.AddFile, error) {
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
			rows[i].Seq, rows[i].TS, rows[i].Op = key+1, qbBaseTS+key+1, tableformat.OpSnapshot
			rows[i].Values = qbValues(key, key+1, rows[i].Values)
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
	return qbAddFile(key, tableformat.FileSnapshot, sc, st, asOf), nil
}

func qbAddFile(key string, kind tableformat.FileKind, sc *tableformat.Schema, st tableformat.FileStats, asOf int64) tableformat.AddFile {
	return tableformat.AddFile{Path: key, TableID: 1, Kind: kind, SchemaVersion: sc.Version, Rows: st.Rows, Bytes: st.Bytes,
		Checksum: st.Checksum, MinSeq: st.MinSeq, MaxSeq: st.MaxSeq, MinTS: st.MinTS, MaxTS: st.MaxTS, AsOfSeq: asOf}
}

func qbDirBytes(dir string) int64 {
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

// qbCompact writes the table's state at version v as one plain Parquet
// file: the view a session at v defines, run by a separate DuckDB that is
// not locked down, through COPY … ORDER BY id.
func qbCompact(ctx context.Context, dir string, log *tableformat.Log, v int64, out string) error {
	cache, err := OpenCache(filepath.Join(dir, "gen-cache"), 0, nil)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Join(dir, "gen-cache"))
	e := NewEngine(log, cache, Options{})
	p, err := e.Resolve(ctx, At{Version: v})
	if err != nil {
		return err
	}
	s, err := e.Open(ctx, p)
	if err != nil {
		return err
	}
	defer s.Close()
	var view string
	if err := s.conn.QueryRowContext(ctx, "SELECT sql FROM duckdb_views() WHERE schema_name = 'shop' AND view_name = 'orders'").Scan(&view); err != nil {
		return fmt.Errorf("the view's SQL: %w", err)
	}
	db, err := qbPlainDB(ctx, "4GB", filepath.Join(dir, "gen-cache", "spill"))
	if err != nil {
		return err
	}
	defer db.Close()
	for _, stmt := range []string{
		"CREATE SCHEMA shop", "USE memory.shop", view, "USE memory.main",
		fmt.Sprintf("COPY (SELECT * FROM shop.orders ORDER BY id) TO %s (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE %d)",
			quoteString(out), tableformat.DefaultRowGroupRows),
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w (statement: %.200s)", err, stmt)
		}
	}
	return nil
}

// qbPlainDB is a plain in-memory DuckDB with the settings a session uses
// (threads, memory limit, time zone), not locked down, on one connection.
func qbPlainDB(ctx context.Context, memory, spill string) (*sql.DB, error) {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	defaults := Options{}.withDefaults()
	if memory == "" {
		memory = defaults.MemoryLimit
	}
	setup := []string{
		fmt.Sprintf("SET threads = %d", defaults.Threads),
		"SET memory_limit = " + quoteString(memory),
		"SET TimeZone = 'UTC'",
	}
	if spill != "" {
		if err := os.MkdirAll(spill, 0o755); err != nil {
			db.Close()
			return nil, err
		}
		setup = append(setup, "SET temp_directory = "+quoteString(spill))
	}
	for _, stmt := range setup {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}
