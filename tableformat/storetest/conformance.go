package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
)

// RunConformance runs the conformance suite. newStore is called once per
// subtest and must return an empty store that nothing else uses.
func RunConformance(t *testing.T, newStore func(t *testing.T) tableformat.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s tableformat.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"EmptyObjects", testEmptyObjects},
		{"Overwrite", testOverwrite},
		{"FailedPutLeavesNothing", testFailedPut},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"ConcurrentPut", testConcurrentPut},
		{"Missing", testMissing},
		{"List", testList},
		{"ListSiblings", testListSiblings},
		{"PrefixBecomesKey", testPrefixBecomesKey},
		{"InvalidKeys", testInvalidKeys},
		{"ContextCanceled", testContextCanceled},
		{"Large", testLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// maxClockSkew bounds how far a store's ModTime may be from this machine's
// clock (S3 signatures tolerate 15 minutes).
const maxClockSkew = 15 * time.Minute

func testRoundTrip(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	data := []byte("hello, lake")
	mustPut(t, s, "x/y/obj.json", data)
	if got := mustRead(t, s, "x/y/obj.json"); !bytes.Equal(got, data) {
		t.Fatalf("read back %q, want %q", got, data)
	}
	info, err := s.Stat(ctx, "x/y/obj.json")
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if info.Key != "x/y/obj.json" || info.Size != int64(len(data)) {
		t.Fatalf("stat = %+v, want key x/y/obj.json size %d", info, len(data))
	}
	checkModTime(t, info)
	if err := s.Delete(ctx, "x/y/obj.json"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.Open(ctx, "x/y/obj.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open after delete: got %v, want fs.ErrNotExist", err)
	}
	if _, err := s.Stat(ctx, "x/y/obj.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat after delete: got %v, want fs.ErrNotExist", err)
	}
	if got := listKeys(t, s, "", ""); len(got) != 0 {
		t.Fatalf("list after delete = %q, want nothing", got)
	}

	// The store keeps its own copy of what PutIfAbsent was given.
	buf := []byte("original")
	if err := s.PutIfAbsent(ctx, "x/copy", buf); err != nil {
		t.Fatalf("put-if-absent: %v", err)
	}
	copy(buf, "mutated!")
	if got := mustRead(t, s, "x/copy"); string(got) != "original" {
		t.Fatalf("stored object changed with the caller's buffer: %q", got)
	}
}

func testEmptyObjects(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	if err := s.Put(ctx, "e/put", bytes.NewReader(nil), 0); err != nil {
		t.Fatalf("put of 0 bytes from a seekable reader: %v", err)
	}
	if err := s.Put(ctx, "e/stream", onlyReader{strings.NewReader("")}, 0); err != nil {
		t.Fatalf("put of 0 bytes from a stream: %v", err)
	}
	if err := s.PutIfAbsent(ctx, "e/pia", nil); err != nil {
		t.Fatalf("put-if-absent of nil data: %v", err)
	}
	if err := s.PutIfAbsent(ctx, "e/pia", []byte{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second put-if-absent of an empty object: got %v, want fs.ErrExist", err)
	}
	for _, key := range []string{"e/pia", "e/put", "e/stream"} {
		if got := mustRead(t, s, key); len(got) != 0 {
			t.Fatalf("%s: read %d bytes, want 0", key, len(got))
		}
		info, err := s.Stat(ctx, key)
		if err != nil || info.Size != 0 {
			t.Fatalf("stat %s = %+v, %v; want size 0", key, info, err)
		}
	}
	got, err := s.List(ctx, "e/", "")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("list = %+v, want 3 empty objects", got)
	}
	for _, o := range got {
		if o.Size != 0 {
			t.Fatalf("list: %+v, want size 0", o)
		}
	}
}

func testOverwrite(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	mustPut(t, s, "o/k", []byte("first version, longer"))
	mustPut(t, s, "o/k", []byte("second"))
	if got := mustRead(t, s, "o/k"); string(got) != "second" {
		t.Fatalf("read %q after overwrite, want %q", got, "second")
	}
	info, err := s.Stat(ctx, "o/k")
	if err != nil || info.Size != 6 {
		t.Fatalf("stat after overwrite = %+v, %v; want size 6", info, err)
	}
	// Put never fails because an object exists.
	if err := s.PutIfAbsent(ctx, "o/p", []byte("a")); err != nil {
		t.Fatalf("put-if-absent: %v", err)
	}
	mustPut(t, s, "o/p", []byte("b"))
	if got := mustRead(t, s, "o/p"); string(got) != "b" {
		t.Fatalf("read %q after put over a put-if-absent object, want b", got)
	}
}

func testFailedPut(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	// A reader shorter than the announced size.
	if err := s.Put(ctx, "f/short", onlyReader{strings.NewReader("12345")}, 10); err == nil {
		t.Fatal("put of 5 bytes announced as 10 succeeded")
	}
	checkMissing(t, s, "f/short")
	// A reader that fails half way.
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("abc"), errReader{boom})
	if err := s.Put(ctx, "f/broken", r, 10); err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	checkMissing(t, s, "f/broken")
	// A failed overwrite leaves the old object whole.
	mustPut(t, s, "f/keep", []byte("old content"))
	if err := s.Put(ctx, "f/keep", onlyReader{strings.NewReader("new")}, 100); err == nil {
		t.Fatal("put of 3 bytes announced as 100 succeeded")
	}
	if got := mustRead(t, s, "f/keep"); string(got) != "old content" {
		t.Fatalf("failed overwrite left %q, want the old content", got)
	}
	if got := listKeys(t, s, "", ""); !slices.Equal(got, []string{"f/keep"}) {
		t.Fatalf("list after failed puts = %q, want [f/keep]", got)
	}
}

func testPutIfAbsent(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	key := "_log/00000000000000000001.json"
	if err := s.PutIfAbsent(ctx, key, []byte("winner")); err != nil {
		t.Fatalf("first put-if-absent: %v", err)
	}
	err := s.PutIfAbsent(ctx, key, []byte("loser"))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second put-if-absent: got %v, want fs.ErrExist", err)
	}
	if errors.Is(err, tableformat.ErrUnknownOutcome) {
		t.Fatalf("lost put-if-absent also claims an unknown outcome: %v", err)
	}
	if got := mustRead(t, s, key); string(got) != "winner" {
		t.Fatalf("content after lost put-if-absent = %q, want winner", got)
	}
	// An object written by Put counts as present.
	mustPut(t, s, "_log/put", []byte("x"))
	if err := s.PutIfAbsent(ctx, "_log/put", []byte("y")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("put-if-absent over a Put object: got %v, want fs.ErrExist", err)
	}
	// After a delete the key can be created again.
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := s.PutIfAbsent(ctx, key, []byte("again")); err != nil {
		t.Fatalf("put-if-absent after delete: %v", err)
	}
	if got := mustRead(t, s, key); string(got) != "again" {
		t.Fatalf("content = %q, want again", got)
	}
}

// Racers is how many goroutines race for one key in the PutIfAbsentRace test.
const Racers = 16

func testPutIfAbsentRace(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	key := "_log/00000000000000000007.json"
	errs := make([]error, Racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range Racers {
		wg.Go(func() {
			<-start
			errs[i] = s.PutIfAbsent(ctx, key, racerPayload(i))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("racers %d and %d both won", winner, i)
			}
			winner = i
		case !errors.Is(err, fs.ErrExist):
			t.Fatalf("racer %d: got %v, want nil or fs.ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer won")
	}
	if got := mustRead(t, s, key); !bytes.Equal(got, racerPayload(winner)) {
		t.Fatalf("stored %q, want the winner's %q", got, racerPayload(winner))
	}
}

func racerPayload(i int) []byte {
	return fmt.Appendf(nil, `{"writer":"racer-%02d","pad":%q}`, i, strings.Repeat("x", 100*i))
}

func testConcurrentPut(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	const writers = 8
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 256<<10+i) }
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() { errs[i] = tableformat.PutBytes(ctx, s, "c/k", payload(i)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	got := mustRead(t, s, "c/k")
	for i := range writers {
		if bytes.Equal(got, payload(i)) {
			return
		}
	}
	t.Fatalf("stored object (%d bytes) is not exactly one writer's payload", len(got))
}

func testMissing(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	mustPut(t, s, "m/file", []byte("f"))
	mustPut(t, s, "m/dir/inner", []byte("i"))
	for _, key := range []string{"nope", "m/nope", "m/file/below", "m/dir", "m/di", "deep/a/b/c/d"} {
		checkMissing(t, s, key)
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("delete of missing %s: %v", key, err)
		}
	}
	if err := s.Delete(ctx, "m/file"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := s.Delete(ctx, "m/file"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	// Deleting a "directory" removed nothing under it.
	if got := mustRead(t, s, "m/dir/inner"); string(got) != "i" {
		t.Fatalf("m/dir/inner = %q after deleting m/dir", got)
	}
}

// listTestKeys holds keys whose lexical order differs from a directory walk
// (bytes below '/' such as ' ', '%', '-', '.'), non-ASCII keys, deep keys
// and siblings that share a name prefix.
func listTestKeys() []string {
	return []string{
		"%pct", "a/b c", "a/b%25c", "a/b-c", "a/b.c", "a/b/c", "a/b/d/e", "a/b~", "a/bc",
		"a/bd/e", "a/ü", "a/日本/x", "ab", "b/x", "d1/d2/d3/d4/d5/d6/f", "t1/x", "t10/x", "t1x", "~tilde",
	}
}

func testList(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	sizes := make(map[string]int64)
	keys := listTestKeys()
	// Write in reverse so no store passes by remembering insertion order.
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		data := bytes.Repeat([]byte{'k'}, i)
		mustPut(t, s, k, data)
		sizes[k] = int64(len(data))
	}
	all := slices.Sorted(slices.Values(keys))
	prefixes := []string{"", "a", "a/", "a/b", "a/b/", "a/b/d/", "a/bd/e", "a/bd/e/", "a/日", "t1", "t1/",
		"d1/d2/d3/", "%", "~", "zzz", "a/b/c/d"}
	afters := append([]string{"", "0", "a/b0", "a/b/", "a/b/c0", "a/c", "a/bd", "~~~~", "a"}, all...)
	for _, prefix := range prefixes {
		for _, after := range afters {
			var want []string
			for _, k := range all {
				if strings.HasPrefix(k, prefix) && k > after {
					want = append(want, k)
				}
			}
			got, err := s.List(ctx, prefix, after)
			if err != nil {
				t.Fatalf("list(%q, %q): %v", prefix, after, err)
			}
			var gotKeys []string
			for _, o := range got {
				gotKeys = append(gotKeys, o.Key)
				if o.Size != sizes[o.Key] {
					t.Errorf("list(%q, %q): %s has size %d, want %d", prefix, after, o.Key, o.Size, sizes[o.Key])
				}
				checkModTime(t, o)
			}
			if !slices.Equal(gotKeys, want) {
				t.Fatalf("list(%q, %q) =\n  %q\nwant\n  %q", prefix, after, gotKeys, want)
			}
		}
	}
}

func testListSiblings(t *testing.T, s tableformat.Store) {
	for _, k := range []string{"src/db/t1/data/1", "src/db/t10/data/1", "src/db/t1x", "src/db2/t1/data/1", "src2/db/t1/data/1"} {
		mustPut(t, s, k, []byte(k))
	}
	cases := map[string][]string{
		"src/db/t1/":  {"src/db/t1/data/1"},
		"src/db/t10/": {"src/db/t10/data/1"},
		"src/db/":     {"src/db/t1/data/1", "src/db/t10/data/1", "src/db/t1x"},
		"src/":        {"src/db/t1/data/1", "src/db/t10/data/1", "src/db/t1x", "src/db2/t1/data/1"},
		"src2/":       {"src2/db/t1/data/1"},
		"src/db2/t1/": {"src/db2/t1/data/1"},
	}
	for prefix, want := range cases {
		if got := listKeys(t, s, prefix, ""); !slices.Equal(got, want) {
			t.Errorf("list(%q) = %q, want %q", prefix, got, want)
		}
	}
}

func testPrefixBecomesKey(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	mustPut(t, s, "p/q/r", []byte("deep"))
	if err := s.Delete(ctx, "p/q/r"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	mustPut(t, s, "p/q", []byte("flat"))
	if got := listKeys(t, s, "p/", ""); !slices.Equal(got, []string{"p/q"}) {
		t.Fatalf("list = %q, want [p/q]", got)
	}
	if err := s.Delete(ctx, "p/q"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := s.PutIfAbsent(ctx, "p/q/r", []byte("deep again")); err != nil {
		t.Fatalf("put-if-absent below a deleted key: %v", err)
	}
}

// InvalidKeys returns keys every store refuses: empty, absolute, with an
// empty, "." or ".." segment, a trailing slash, a backslash or a NUL.
func InvalidKeys() []string {
	return []string{"", "/abs", "a//b", "a/", "./a", "a/./b", "../a", "a/..", "a/../b", `a\b`, "a\x00b"}
}

func testInvalidKeys(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: accepted an invalid key", what)
		} else if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) {
			t.Errorf("%s: %v: an invalid key must not look like a missing or existing object", what, err)
		}
	}
	for _, key := range InvalidKeys() {
		check(fmt.Sprintf("put %q", key), tableformat.PutBytes(ctx, s, key, []byte("x")))
		check(fmt.Sprintf("put-if-absent %q", key), s.PutIfAbsent(ctx, key, []byte("x")))
		_, err := s.Open(ctx, key)
		check(fmt.Sprintf("open %q", key), err)
		_, err = s.Stat(ctx, key)
		check(fmt.Sprintf("stat %q", key), err)
		check(fmt.Sprintf("delete %q", key), s.Delete(ctx, key))
	}
	for _, prefix := range []string{"/", "/a", "../", "a/../", "a//", `a\`, "a\x00"} {
		_, err := s.List(ctx, prefix, "")
		check(fmt.Sprintf("list %q", prefix), err)
	}
	if got := listKeys(t, s, "", ""); len(got) != 0 {
		t.Fatalf("invalid keys left objects: %q", got)
	}
}

func testContextCanceled(t *testing.T, s tableformat.Store) {
	mustPut(t, s, "ctx/present", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: got %v, want context.Canceled", what, err)
		}
	}
	check("put", tableformat.PutBytes(ctx, s, "ctx/put", []byte("x")))
	check("put-if-absent", s.PutIfAbsent(ctx, "ctx/pia", []byte("x")))
	rc, err := s.Open(ctx, "ctx/present")
	if err == nil {
		rc.Close()
	}
	check("open", err)
	_, err = s.Stat(ctx, "ctx/present")
	check("stat", err)
	_, err = s.List(ctx, "ctx/", "")
	check("list", err)
	check("delete", s.Delete(ctx, "ctx/present"))
	checkMissing(t, s, "ctx/put")
	checkMissing(t, s, "ctx/pia")
	if got := mustRead(t, s, "ctx/present"); string(got) != "x" {
		t.Fatalf("canceled delete removed the object")
	}

	// Canceled in the middle of a streaming put: no object appears.
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	const size = 4 << 20
	r := &cancelingReader{r: newPattern(7, size), after: 1 << 20, cancel: cancel2}
	if err := s.Put(ctx2, "ctx/stream", r, size); err == nil {
		t.Fatal("put canceled half way succeeded")
	}
	checkMissing(t, s, "ctx/stream")
}

// LargeSize is the size of the object the Large test streams through Put.
const LargeSize = 20 << 20

func testLarge(t *testing.T, s tableformat.Store) {
	ctx := t.Context()
	if err := s.Put(ctx, "big/obj", newPattern(42, LargeSize), LargeSize); err != nil {
		t.Fatalf("put %d bytes: %v", LargeSize, err)
	}
	info, err := s.Stat(ctx, "big/obj")
	if err != nil || info.Size != LargeSize {
		t.Fatalf("stat = %+v, %v; want size %d", info, err, LargeSize)
	}
	rc, err := s.Open(ctx, "big/obj")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	wantH := sha256.New()
	io.Copy(wantH, newPattern(42, LargeSize))
	if n != LargeSize || !bytes.Equal(h.Sum(nil), wantH.Sum(nil)) {
		t.Fatalf("read %d bytes with a different checksum than the %d written", n, LargeSize)
	}
}

func mustPut(t *testing.T, s tableformat.Store, key string, data []byte) {
	t.Helper()
	if err := tableformat.PutBytes(t.Context(), s, key, data); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func mustRead(t *testing.T, s tableformat.Store, key string) []byte {
	t.Helper()
	b, err := tableformat.ReadObject(t.Context(), s, key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func listKeys(t *testing.T, s tableformat.Store, prefix, after string) []string {
	t.Helper()
	infos, err := s.List(t.Context(), prefix, after)
	if err != nil {
		t.Fatalf("list(%q, %q): %v", prefix, after, err)
	}
	var keys []string
	for _, o := range infos {
		keys = append(keys, o.Key)
	}
	return keys
}

func checkMissing(t *testing.T, s tableformat.Store, key string) {
	t.Helper()
	ctx := t.Context()
	rc, err := s.Open(ctx, key)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open %s: got %v, want fs.ErrNotExist", key, err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat %s: got %v, want fs.ErrNotExist", key, err)
	}
}

func checkModTime(t *testing.T, o tableformat.ObjectInfo) {
	t.Helper()
	if d := time.Since(o.ModTime); o.ModTime.IsZero() || d > maxClockSkew || d < -maxClockSkew {
		t.Errorf("%s: ModTime %v is not close to now", o.Key, o.ModTime)
	}
}

// onlyReader hides every method but Read, so a store cannot seek or rewind.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// pattern is a non-seekable reader of n pseudo-random bytes fixed by seed.
type pattern struct {
	rng  *rand.ChaCha8
	left int64
}

func newPattern(seed byte, n int64) *pattern {
	return &pattern{rng: rand.NewChaCha8([32]byte{seed}), left: n}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.left)]
	p.rng.Read(b)
	p.left -= int64(len(b))
	return len(b), nil
}

// cancelingReader cancels a context once it has handed out after bytes.
type cancelingReader struct {
	r      io.Reader
	after  int64
	read   int64
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.read >= c.after {
		c.cancel()
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}
