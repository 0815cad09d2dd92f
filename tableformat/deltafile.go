package tableformat

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// Delta files (data, deletes, snapshots) are Parquet files; FORMAT.md
// "Delta files" is their specification. Each table column is an optional
// Parquet column named c<ID> with field_id ID, followed by the required
// hidden columns below. The key-value metadata holds the binlake schema,
// the file kind and the format version.

// Hidden columns and metadata keys of a delta file.
const (
	SeqColumn = "_binlake_seq" // INT64 INT(64,true): the change sequence
	TSColumn  = "_binlake_ts"  // INT64 TIMESTAMP(UTC, MICROS): the source commit time
	OpColumn  = "_binlake_op"  // INT32 INT(32,true): the Op

	MetaSchema        = "binlake.schema"         // the table Schema as JSON
	MetaKind          = "binlake.kind"           // the FileKind
	MetaFormatVersion = "binlake.format_version" // DeltaFormatVersion
	// MetaFileSHA256 is the hex SHA-256 of the whole file as it would be
	// with this value's 64 characters all '0': the file checks itself, so
	// ReadFile hands parquet-go only bytes a binlake writer produced.
	MetaFileSHA256 = "binlake.file_sha256"

	DeltaFormatVersion = "1"
)

// ErrCorruptFile is wrapped by every error that reports a delta file whose
// bytes are damaged: a size or checksum mismatch, or bytes that do not
// decode as a delta file.
var ErrCorruptFile error = corruptFileError{}

// corruptFileError is ErrCorruptFile: a kind of ErrCorrupt, so callers that
// only ask "is the lake damaged?" need one check.
type corruptFileError struct{}

func (corruptFileError) Error() string        { return "corrupt file" }
func (corruptFileError) Is(target error) bool { return target == ErrCorrupt }

// ColumnName is the physical Parquet name of the table column with the given ID.
func ColumnName(id int) string { return fmt.Sprintf("c%d", id) }

// Compression is the codec of a delta file's pages.
type Compression string

// Compressions.
const (
	CompressionZstd   Compression = "zstd"
	CompressionSnappy Compression = "snappy"
	CompressionNone   Compression = "none"
)

// Writer defaults.
const (
	// DefaultRowGroupRows is the row cap of a row group: 122,880 rows is what
	// DuckDB's own Parquet writer uses (60 of its 2,048-row vectors), so a
	// large snapshot splits into row groups DuckDB scans in parallel and
	// prunes with their statistics, while a typical delta file (one commit)
	// stays a single row group.
	DefaultRowGroupRows = 122_880
	// DefaultRowGroupBytes caps the uncompressed bytes buffered for one row
	// group, so wide rows (texts, blobs) keep the writer's memory bounded and
	// row groups near the 64–128 MiB most Parquet readers are tuned for.
	DefaultRowGroupBytes = 64 << 20
	// DefaultPageBytes is the target uncompressed size of a data page: small
	// enough for page statistics to prune, large enough to compress well.
	DefaultPageBytes = 256 << 10
)

// maxChunkRows bounds the rows encoded before they are handed to the column
// writers; pages are cut between such chunks.
const maxChunkRows = 1024

// FileWriterOptions tunes a FileWriter. The zero value means the defaults.
type FileWriterOptions struct {
	// RowGroupRows caps the rows of one row group (DefaultRowGroupRows).
	RowGroupRows int
	// RowGroupBytes caps the estimated uncompressed bytes of one row group
	// (DefaultRowGroupBytes).
	RowGroupBytes int64
	// PageBytes is the target uncompressed size of a data page (DefaultPageBytes).
	PageBytes int
	// Compression of the pages (CompressionZstd).
	Compression Compression
}

func (o FileWriterOptions) withDefaults() FileWriterOptions {
	if o.RowGroupRows == 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.RowGroupBytes == 0 {
		o.RowGroupBytes = DefaultRowGroupBytes
	}
	if o.PageBytes == 0 {
		o.PageBytes = DefaultPageBytes
	}
	if o.Compression == "" {
		o.Compression = CompressionZstd
	}
	return o
}

// Validate reports every problem with o at once. Zero fields mean defaults.
func (o FileWriterOptions) Validate() error {
	var errs []error
	if o.RowGroupRows < 0 {
		errs = append(errs, fmt.Errorf("row group rows %d is negative", o.RowGroupRows))
	}
	if o.RowGroupBytes < 0 {
		errs = append(errs, fmt.Errorf("row group bytes %d is negative", o.RowGroupBytes))
	}
	if o.PageBytes < 0 {
		errs = append(errs, fmt.Errorf("page bytes %d is negative", o.PageBytes))
	}
	switch o.Compression {
	case "", CompressionZstd, CompressionSnappy, CompressionNone:
	default:
		errs = append(errs, fmt.Errorf("unknown compression %q (want zstd, snappy or none)", o.Compression))
	}
	return errors.Join(errs...)
}

func (c Compression) codec() compress.Codec {
	switch c {
	case CompressionSnappy:
		return &parquet.Snappy
	case CompressionNone:
		return &parquet.Uncompressed
	}
	return zstdPages
}

// FileStats describes a written delta file, as its log entry records it.
type FileStats struct {
	Rows     int64
	Bytes    int64
	Checksum string // hex SHA-256 of the file's bytes
	MinSeq   int64
	MaxSeq   int64
	MinTS    int64
	MaxTS    int64
}

// InvalidValueError reports a row value its column type does not admit.
type InvalidValueError struct {
	Column   string
	ColumnID int
	Type     Type
	Seq      int64 // the row's change sequence
	Reason   string
}

func (e *InvalidValueError) Error() string {
	return fmt.Sprintf("column %q (id %d, %s) in row seq %d: %s", e.Column, e.ColumnID, e.Type, e.Seq, e.Reason)
}

// opAllowed reports whether a file of kind k may hold a row with op.
func opAllowed(k FileKind, op Op) bool {
	if k == FileDelete {
		return op == OpDelete || op == OpUpdateBefore
	}
	return op == OpInsert || op == OpUpdateAfter || op == OpSnapshot
}

// FileWriter writes one delta file. It is not safe for concurrent use.
type FileWriter struct {
	layout *fileLayout
	opts   FileWriterOptions
	out    *hashingWriter
	pw     *parquet.Writer

	values  [][]parquet.Value // per Parquet column: the chunk being encoded
	scratch [][]byte          // per table column: fixed-length bytes of the chunk
	rgRows  int
	rgBytes int64
	stats   FileStats
	err     error // sticky: after a failed Write the file is unusable
	closed  bool
}

// NewFileWriter starts a delta file of the given kind for a table schema on
// w. Data and snapshot files hold every column of the schema, delete files
// its KeyColumns. Writes reach w unbuffered: give it memory (a
// bytes.Buffer), or a buffered writer.
func NewFileWriter(w io.Writer, schema *Schema, kind FileKind, opts FileWriterOptions) (*FileWriter, error) {
	if w == nil || schema == nil {
		return nil, errors.New("new delta file writer: nil writer or schema")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("new delta file writer: %w", err)
	}
	opts = opts.withDefaults()
	layout, err := newFileLayout(schema, kind)
	if err != nil {
		return nil, fmt.Errorf("new delta file writer: %w", err)
	}
	schemaJSON, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("new delta file writer: encode schema: %w", err)
	}
	out := &hashingWriter{w: w, h: sha256.New()}
	options := []parquet.WriterOption{
		layout.parquet,
		parquet.Compression(opts.Compression.codec()),
		parquet.PageBufferSize(opts.PageBytes),
		// No write buffer of its own (32 KiB by default): w is memory,
		// and a commit of a lake of 10,000 tables writes thousands of
		// files of a few KiB, 32 at a time.
		parquet.WriteBufferSize(0),
		parquet.DataPageStatistics(true),
		parquet.KeyValueMetadata(MetaFormatVersion, DeltaFormatVersion),
		parquet.KeyValueMetadata(MetaKind, string(kind)),
		parquet.KeyValueMetadata(MetaSchema, string(schemaJSON)),
		parquet.KeyValueMetadata(MetaFileSHA256, SelfSumPlaceholder),
	}
	for _, cc := range layout.codecs {
		if !cc.keepStatistics() {
			name := ColumnName(cc.col.ID)
			options = append(options, parquet.SkipPageStatistics(name), parquet.SkipPageBounds(name))
		}
	}
	// parquet.NewWriter panics on a bad option: check them first. The
	// options go to it as they are, for a config passed as an option takes
	// the default write buffer back.
	if _, err := parquet.NewWriterConfig(options...); err != nil {
		return nil, fmt.Errorf("new delta file writer: %w", err)
	}
	fw := &FileWriter{
		layout:  layout,
		opts:    opts,
		out:     out,
		pw:      parquet.NewWriter(out, options...),
		values:  make([][]parquet.Value, len(layout.columns)+3),
		scratch: make([][]byte, len(layout.columns)),
	}
	for i, cc := range layout.codecs {
		if cc.width > 0 {
			fw.scratch[i] = make([]byte, 0, maxChunkRows*cc.width)
		}
	}
	return fw, nil
}

// Columns returns the table columns the file holds, in file order.
func (w *FileWriter) Columns() []Column { return w.layout.columns }

// Write appends rows. Each row's Values follow the order of Columns and the
// Type contract; a value the column type does not admit is an
// *InvalidValueError naming the column and the row's seq. After Write returns
// an error the file is unusable: later calls return the same error.
func (w *FileWriter) Write(rows ...Row) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("write delta file: writer is closed")
	}
	for len(rows) > 0 {
		n, err := w.encodeChunk(rows)
		if err == nil {
			err = w.writeChunk(n)
		}
		if err != nil {
			w.err = fmt.Errorf("write delta file: %w", err)
			return w.err
		}
		for _, r := range rows[:n] {
			w.stats.MinSeq, w.stats.MaxSeq = minMax(w.stats.Rows == 0, w.stats.MinSeq, w.stats.MaxSeq, r.Seq)
			w.stats.MinTS, w.stats.MaxTS = minMax(w.stats.Rows == 0, w.stats.MinTS, w.stats.MaxTS, r.TS)
			w.stats.Rows++
		}
		rows = rows[n:]
		if w.rgRows >= w.opts.RowGroupRows || w.rgBytes >= w.opts.RowGroupBytes {
			if err := w.pw.Flush(); err != nil {
				w.err = fmt.Errorf("write delta file: flush row group: %w", err)
				return w.err
			}
			w.rgRows, w.rgBytes = 0, 0
		}
	}
	return nil
}

// encodeChunk checks and encodes the first rows into w.values, stopping at
// maxChunkRows, at a page's worth of bytes, or at the row group's end. It
// returns how many rows it encoded. It works column by column, so each
// column's codec stays at hand for the whole chunk.
func (w *FileWriter) encodeChunk(rows []Row) (int, error) {
	codecs := w.layout.codecs
	ncols := len(codecs)
	limit := min(len(rows), maxChunkRows, w.opts.RowGroupRows-w.rgRows)
	budget := min(int64(w.opts.PageBytes), w.opts.RowGroupBytes-w.rgBytes)
	var chunkBytes int64
	n := 0
	for n < limit {
		r := &rows[n]
		if len(r.Values) != ncols {
			return 0, fmt.Errorf("row seq %d has %d values, the %s file holds %d columns", r.Seq, len(r.Values), w.layout.kind, ncols)
		}
		if !opAllowed(w.layout.kind, r.Op) {
			return 0, fmt.Errorf("row seq %d: a %s file cannot hold op %s", r.Seq, w.layout.kind, r.Op)
		}
		rowBytes := 20 // the hidden columns
		for j, v := range r.Values {
			rowBytes += codecs[j].size(v)
		}
		n++
		if chunkBytes += int64(rowBytes); chunkBytes >= budget {
			break
		}
	}
	// Levels are set in place (Value.Level copies and does not inline):
	// definition level 1 for a value of an optional column, 0 for NULL and
	// for the required hidden columns.
	chunk := rows[:n]
	for j, cc := range codecs {
		vals, scratch := w.values[j][:0], w.scratch[j][:0]
		var null parquet.Value
		null.SetColumnIndex(j)
		for i := range chunk {
			v := chunk[i].Values[j]
			if v == nil {
				vals = append(vals, null)
				continue
			}
			pv, err := cc.encode(v, &scratch)
			if err != nil {
				return 0, &InvalidValueError{Column: cc.col.Name, ColumnID: cc.col.ID, Type: cc.col.Type, Seq: chunk[i].Seq, Reason: err.Error()}
			}
			pv.SetDefinitionLevel(1)
			pv.SetColumnIndex(j)
			vals = append(vals, pv)
		}
		w.values[j], w.scratch[j] = vals, scratch
	}
	seq, ts, op := w.values[ncols][:0], w.values[ncols+1][:0], w.values[ncols+2][:0]
	for i := range chunk {
		r := &chunk[i]
		s, t, o := parquet.Int64Value(r.Seq), parquet.Int64Value(r.TS), parquet.Int32Value(int32(r.Op))
		s.SetColumnIndex(ncols)
		t.SetColumnIndex(ncols + 1)
		o.SetColumnIndex(ncols + 2)
		seq, ts, op = append(seq, s), append(ts, t), append(op, o)
	}
	w.values[ncols], w.values[ncols+1], w.values[ncols+2] = seq, ts, op
	w.rgBytes += chunkBytes
	return n, nil
}

// writeChunk hands the encoded chunk of n rows to the column writers.
func (w *FileWriter) writeChunk(n int) error {
	for i, cw := range w.pw.ColumnWriters() {
		if _, err := cw.WriteRowValues(w.values[i]); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
		// Drop the references to the caller's strings and byte slices.
		clear(w.values[i])
	}
	w.rgRows += n
	return nil
}

// Close writes the rest of the file and returns its statistics. Closing a
// file after a failed Write returns that error.
func (w *FileWriter) Close() (FileStats, error) {
	if w.err != nil {
		return FileStats{}, w.err
	}
	if w.closed {
		return FileStats{}, errors.New("close delta file: writer is closed")
	}
	w.closed = true
	if err := w.close(); err != nil {
		w.err = fmt.Errorf("close delta file: %w", err)
		return FileStats{}, w.err
	}
	st := w.stats
	st.Bytes = w.out.n
	st.Checksum = hex.EncodeToString(w.out.h.Sum(nil))
	return st, nil
}

// close writes the last row group, then holds back the footer to fill in
// its MetaFileSHA256 before writing it.
func (w *FileWriter) close() error {
	if err := w.pw.Flush(); err != nil {
		return err
	}
	w.out.hold = true
	if err := w.pw.Close(); err != nil {
		return err
	}
	tail := w.out.held
	w.out.hold, w.out.held = false, nil
	i := bytes.LastIndex(tail, selfSumMarker()) + len(selfSumMarker())
	if i < len(selfSumMarker()) || !bytes.HasPrefix(tail[i:], []byte(SelfSumPlaceholder)) {
		return errors.New("footer lacks the file checksum placeholder")
	}
	// The hash of the bytes so far, continued with the tail as it stands.
	state, err := w.out.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	self := sha256.New()
	if err := self.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return err
	}
	self.Write(tail)
	copy(tail[i:], hex.EncodeToString(self.Sum(nil)))
	if _, err := w.out.Write(tail); err != nil {
		return err
	}
	return w.out.err
}

func minMax(first bool, lo, hi, v int64) (int64, int64) {
	if first {
		return v, v
	}
	return min(lo, v), max(hi, v)
}

// hashingWriter counts and hashes what passes through it. While hold is
// set it keeps the bytes instead, for the footer to be completed.
type hashingWriter struct {
	w    io.Writer
	h    hash.Hash
	n    int64
	err  error
	hold bool
	held []byte
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	if hw.err != nil {
		return 0, hw.err
	}
	if hw.hold {
		hw.held = append(hw.held, p...)
		return len(p), nil
	}
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	hw.err = err
	return n, err
}

// SelfSumPlaceholder is the MetaFileSHA256 value a writer writes first
// (SealFile replaces it).
const SelfSumPlaceholder = "0000000000000000000000000000000000000000000000000000000000000000"

// selfSumMarker is how the MetaFileSHA256 key-value pair's bytes run up to
// its value in the footer (Thrift compact protocol): the key, then the
// header of field 2 (binary) and the value's length, 64.
func selfSumMarker() []byte {
	return []byte(MetaFileSHA256 + "\x18\x40")
}

// checkSelfSum checks a file against its MetaFileSHA256, before any of it
// is parsed beyond the trailer, and returns that checksum.
func checkSelfSum(data []byte) (string, error) {
	// The Parquet frame: magic, …, footer, footer length, magic.
	if len(data) < 12 || string(data[:4]) != "PAR1" || string(data[len(data)-4:]) != "PAR1" {
		return "", fmt.Errorf("%d bytes without the Parquet magic at both ends", len(data))
	}
	footerLen := int64(binary.LittleEndian.Uint32(data[len(data)-8:]))
	if footerLen > int64(len(data)-12) {
		return "", fmt.Errorf("footer of %d bytes in a file of %d", footerLen, len(data))
	}
	start := int64(len(data)-8) - footerLen
	i := bytes.LastIndex(data[start:len(data)-8], selfSumMarker())
	if i < 0 {
		return "", fmt.Errorf("no %s in the footer", MetaFileSHA256)
	}
	pos := start + int64(i+len(selfSumMarker()))
	if pos+64 > int64(len(data)-8) {
		return "", fmt.Errorf("%s runs past the footer", MetaFileSHA256)
	}
	h := sha256.New()
	h.Write(data[:pos])
	h.Write([]byte(SelfSumPlaceholder))
	h.Write(data[pos+64:])
	want := string(data[pos : pos+64])
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return "", fmt.Errorf("%s: expected %q, got %s", MetaFileSHA256, want, got)
	}
	return want, nil
}

// SealFile writes the self-checksum (MetaFileSHA256) into a Parquet file
// of size bytes whose writer put SelfSumPlaceholder there — a file written by
// another Parquet writer (DuckDB's COPY … KV_METADATA) — and returns the
// SHA-256 of the sealed file, as a log entry records it. The file is read
// twice, never held in memory.
func SealFile(f interface {
	io.ReaderAt
	io.WriterAt
}, size int64) (string, error) {
	if size < 12 {
		return "", fmt.Errorf("%w: %d bytes is no Parquet file", ErrCorruptFile, size)
	}
	var trailer [8]byte
	if _, err := f.ReadAt(trailer[:], size-8); err != nil {
		return "", err
	}
	footerLen := int64(binary.LittleEndian.Uint32(trailer[:4]))
	if string(trailer[4:]) != "PAR1" || footerLen > size-12 {
		return "", fmt.Errorf("%w: no Parquet trailer", ErrCorruptFile)
	}
	footer := make([]byte, footerLen)
	if _, err := f.ReadAt(footer, size-8-footerLen); err != nil {
		return "", err
	}
	i := bytes.LastIndex(footer, selfSumMarker())
	if i < 0 {
		return "", fmt.Errorf("%w: no %s in the footer", ErrCorruptFile, MetaFileSHA256)
	}
	pos := size - 8 - footerLen + int64(i+len(selfSumMarker()))
	if pos+64 > size-8 || string(footer[i+len(selfSumMarker()):i+len(selfSumMarker())+64]) != SelfSumPlaceholder {
		return "", fmt.Errorf("%w: %s is not the placeholder", ErrCorruptFile, MetaFileSHA256)
	}
	// One pass: hash the bytes before the value, keep that state, then
	// finish it twice — over the placeholder (the self-checksum) and over
	// the sealed value (the file's SHA-256); what follows the value is in
	// the footer already read.
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, pos)); err != nil {
		return "", err
	}
	prefix, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return "", err
	}
	rest := footer[i+len(selfSumMarker())+64:]
	h.Write([]byte(SelfSumPlaceholder))
	h.Write(rest)
	h.Write(trailer[:])
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.WriteAt([]byte(sum), pos); err != nil {
		return "", err
	}
	whole := sha256.New()
	if err := whole.(encoding.BinaryUnmarshaler).UnmarshalBinary(prefix); err != nil {
		return "", err
	}
	whole.Write([]byte(sum))
	whole.Write(rest)
	whole.Write(trailer[:])
	return hex.EncodeToString(whole.Sum(nil)), nil
}

// VerifyChecksum checks data against the size and hex SHA-256 a log entry
// records for it. A mismatch wraps ErrCorruptFile.
func VerifyChecksum(data []byte, size int64, checksum string) error {
	if int64(len(data)) != size {
		return fmt.Errorf("%w: size: expected %d bytes, got %d", ErrCorruptFile, size, len(data))
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, checksum) {
		return fmt.Errorf("%w: sha-256: expected %s, got %s", ErrCorruptFile, checksum, got)
	}
	return nil
}

// FileContents is a decoded delta file.
type FileContents struct {
	Kind    FileKind
	Schema  Schema   // the table schema the file was written under
	Columns []Column // the table columns the file holds, in file order
	Rows    []Row    // values in the order of Columns
}

// ReadFile decodes a whole delta file. It first checks the file against its
// own MetaFileSHA256, so damaged bytes (truncated, flipped, garbage) yield an
// error wrapping ErrCorruptFile, never rows. VerifyChecksum against the log
// entry's checksum also catches a whole file swapped for another.
func ReadFile(data []byte) (fc *FileContents, err error) {
	defer func() {
		if r := recover(); r != nil {
			fc, err = nil, fmt.Errorf("read delta file: %w: decoder panic: %v", ErrCorruptFile, r)
		}
	}()
	fc, err = readFile(data)
	if err != nil {
		return nil, fmt.Errorf("read delta file: %w: %w", ErrCorruptFile, err)
	}
	return fc, nil
}

func readFile(data []byte) (*FileContents, error) {
	// parquet-go sizes buffers from lengths in the file before it can check
	// them (a flipped bit can make it allocate gigabytes): only bytes that
	// pass the file's own checksum reach it.
	selfSum, err := checkSelfSum(data)
	if err != nil {
		return nil, err
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	if v, _ := f.Lookup(MetaFormatVersion); v != DeltaFormatVersion {
		return nil, fmt.Errorf("format version %q, want %q", v, DeltaFormatVersion)
	}
	kind, _ := f.Lookup(MetaKind)
	schemaJSON, _ := f.Lookup(MetaSchema)
	if sum, _ := f.Lookup(MetaFileSHA256); sum != selfSum {
		return nil, fmt.Errorf("%s is %q in the footer, %q where it was checked", MetaFileSHA256, sum, selfSum)
	}
	fc := &FileContents{Kind: FileKind(kind)}
	if err := json.Unmarshal([]byte(schemaJSON), &fc.Schema); err != nil {
		return nil, fmt.Errorf("schema metadata: %w", err)
	}
	layout, err := newFileLayout(&fc.Schema, fc.Kind)
	if err != nil {
		return nil, err
	}
	fc.Columns = layout.columns
	if err := checkParquetColumns(f.Root(), layout); err != nil {
		return nil, err
	}
	fc.Rows = make([]Row, 0, max(f.NumRows(), 0))
	for i, rg := range f.RowGroups() {
		if fc.Rows, err = readRowGroup(rg, layout, fc.Rows); err != nil {
			return nil, fmt.Errorf("row group %d: %w", i, err)
		}
	}
	if int64(len(fc.Rows)) != f.NumRows() {
		return nil, fmt.Errorf("read %d rows, the footer counts %d", len(fc.Rows), f.NumRows())
	}
	return fc, nil
}

// readRowGroup decodes the rows of one row group and appends them to out.
func readRowGroup(rg parquet.RowGroup, layout *fileLayout, out []Row) ([]Row, error) {
	rows := rg.Rows()
	defer rows.Close()
	ncols := len(layout.codecs)
	buf := make([]parquet.Row, 256)
	for {
		n, err := rows.ReadRows(buf)
		for _, pr := range buf[:n] {
			r, err := decodeRow(pr, layout, ncols)
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", len(out), err)
			}
			out = append(out, r)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errors.New("no progress reading rows")
		}
	}
}

func decodeRow(pr parquet.Row, layout *fileLayout, ncols int) (Row, error) {
	if len(pr) != ncols+3 {
		return Row{}, fmt.Errorf("%d values, want %d", len(pr), ncols+3)
	}
	for i, v := range pr {
		if v.Column() != i || v.RepetitionLevel() != 0 {
			return Row{}, fmt.Errorf("value %d belongs to column %d", i, v.Column())
		}
	}
	seq, ts, op := pr[ncols], pr[ncols+1], pr[ncols+2]
	if seq.IsNull() || ts.IsNull() || op.IsNull() {
		return Row{}, errors.New("null hidden column")
	}
	r := Row{Seq: seq.Int64(), TS: ts.Int64(), Values: make([]any, ncols)}
	if o := op.Int32(); o < math.MinInt8 || o > math.MaxInt8 || !opAllowed(layout.kind, Op(o)) {
		return Row{}, fmt.Errorf("seq %d: op %d in a %s file", r.Seq, o, layout.kind)
	}
	r.Op = Op(op.Int32())
	for j, cc := range layout.codecs {
		v := pr[j]
		if !v.IsNull() && v.Kind() != cc.physicalKind() {
			return Row{}, fmt.Errorf("seq %d column %q: %s value in a %s column", r.Seq, cc.col.Name, v.Kind(), cc.physicalKind())
		}
		x, err := cc.decode(v)
		if err != nil {
			return Row{}, fmt.Errorf("seq %d column %q: %w", r.Seq, cc.col.Name, err)
		}
		r.Values[j] = x
	}
	return r, nil
}

// Project returns the file's rows with the columns of target, the table's
// schema at a later (or the same) version, matched by column ID: a column the
// file lacks reads as its initial default (nil when it has none, FORMAT.md
// §5), a renamed column keeps its values. Delete files
// project onto target.KeyColumns(). A column whose type changed so that its
// stored values are not values of the new type without conversion is an
// error naming the column.
func (fc *FileContents) Project(target *Schema) ([]Row, error) {
	cols := target.Columns
	if fc.Kind == FileDelete {
		cols = target.KeyColumns()
	}
	from := make([]int, len(cols))
	fill := make([]any, len(cols)) // what a column the file lacks reads as
	for i, c := range cols {
		from[i] = slices.IndexFunc(fc.Columns, func(fcCol Column) bool { return fcCol.ID == c.ID })
		if from[i] < 0 {
			v, err := c.Fill()
			if err != nil {
				return nil, fmt.Errorf("project column %q (id %d): %w", c.Name, c.ID, err)
			}
			fill[i] = v
			continue
		}
		src := fc.Columns[from[i]]
		if why := readableAs(src.Type, c.Type); why != "" {
			return nil, fmt.Errorf("project column %q (id %d): stored as %s, cannot read as %s: %s", c.Name, c.ID, src.Type, c.Type, why)
		}
	}
	out := make([]Row, len(fc.Rows))
	for i, r := range fc.Rows {
		vals := make([]any, len(cols))
		for j, k := range from {
			if k >= 0 {
				vals[j] = r.Values[k]
			} else {
				vals[j] = fill[j]
			}
		}
		out[i] = Row{Seq: r.Seq, TS: r.TS, Op: r.Op, Values: vals}
	}
	return out, nil
}
