package tableformat

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// TableImage is the serialized form of a TableState: its live files as a
// list sorted by path. Checkpoints and rewind entries hold tables this way.
type TableImage struct {
	TableState
	Files []AddFile `json:"files"`
}

// Images returns the state's tables in serialized form, ordered by id.
func (s *State) Images() []TableImage {
	out := make([]TableImage, 0, s.Tables.Len())
	for t := range s.Tables.Values() {
		out = append(out, t.image())
	}
	return out
}

// image is the table in serialized form.
func (t *TableState) image() TableImage {
	files := make([]AddFile, 0, len(t.Files))
	for _, f := range t.Files {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b AddFile) int { return cmp.Compare(a.Path, b.Path) })
	return TableImage{TableState: *t, Files: files}
}

func tablesFromImages(images []TableImage) (Tables, error) {
	var tables Tables
	edit := &tablesEdit{}
	for _, im := range images {
		t, err := im.table()
		if err != nil {
			return Tables{}, err
		}
		if tables.Get(t.ID) != nil {
			return Tables{}, fmt.Errorf("table image %d appears twice", t.ID)
		}
		tables.set(t.ID, t, edit)
	}
	return tables, nil
}

// table checks a table image and returns the table it holds.
func (im *TableImage) table() (*TableState, error) {
	t := im.TableState
	if t.ID < 1 || len(t.Names) == 0 || len(t.Schemas) == 0 {
		return nil, fmt.Errorf("table image %d: needs an id, a name and a schema", t.ID)
	}
	for i, sv := range t.Schemas {
		if sv.Schema.Version != i+1 {
			return nil, fmt.Errorf("table image %d: schema %d has version %d", t.ID, i+1, sv.Schema.Version)
		}
	}
	t.Files = make(map[string]AddFile, len(im.Files))
	for _, f := range im.Files {
		if err := f.validateShape(); err != nil {
			return nil, fmt.Errorf("table image %d: file %q: %w", t.ID, f.Path, err)
		}
		if f.TableID != t.ID {
			return nil, fmt.Errorf("table image %d: file %q belongs to table %d", t.ID, f.Path, f.TableID)
		}
		t.Files[f.Path] = f
	}
	return &t, nil
}

// checkpoint is the object _log/<version>.checkpoint.json: a whole State.
type checkpoint struct {
	FormatVersion int          `json:"format_version"`
	State         *State       `json:"state"`
	Tables        []TableImage `json:"tables"`
}

// lastCheckpoint is the object _log/_last_checkpoint: a hint naming the
// newest checkpoint. It may lag behind (it is written after the checkpoint)
// but never names a checkpoint that does not exist.
type lastCheckpoint struct {
	Version  int64  `json:"version"`
	Bytes    int64  `json:"bytes"`
	Checksum string `json:"sha256"`
}

func encodeCheckpoint(s *State) ([]byte, error) {
	b, err := json.Marshal(checkpoint{FormatVersion: FormatVersion, State: s, Tables: s.Images()})
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint %d: %w", s.Version, err)
	}
	return append(b, '\n'), nil
}

func decodeCheckpoint(key string, v int64, data []byte) (*State, error) {
	if err := checkFormatVersion(key, data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c checkpoint
	if err := dec.Decode(&c); err != nil {
		return nil, &CorruptError{key, fmt.Sprintf("undecodable checkpoint (truncated or damaged): %v", err)}
	}
	if c.State == nil || c.State.Version != v || len(c.State.Lineage) == 0 {
		return nil, &CorruptError{key, fmt.Sprintf("checkpoint does not hold a state at version %d", v)}
	}
	tables, err := tablesFromImages(c.Tables)
	if err != nil {
		return nil, &CorruptError{key, err.Error()}
	}
	c.State.Tables = tables
	return c.State, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
