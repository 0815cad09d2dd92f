package objstore_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/testenv"
)

// TestS3StalledServer: a server that stops answering in the middle of a
// body (SIGSTOP: connections stay open, nothing moves) fails the read or
// the write after request_timeout without a byte, instead of blocking it
// for ever; once the server runs again the same store works. (make chaos
// found a daemon that went on saying ready through a hung MinIO, waiting
// in such a read.)
func TestS3StalledServer(t *testing.T) {
	mc := testenv.StartMinIO(t) // a server of its own: it is paused below
	cfg := s3Config(mc, mc.NewBucket(t), "")
	cfg.RequestTimeout = time.Second
	s, err := objstore.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// Larger than what the kernel's socket buffers hold, so the reader
	// runs dry while the server is stopped.
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	if err := s.Put(ctx, "big", bytes.NewReader(big), int64(len(big))); err != nil {
		t.Fatal(err)
	}
	// Every blocking call runs in a goroutine: a hang is a failure of the
	// test after a bound far above request_timeout, never a verdict on
	// speed.
	const bound = 2 * time.Minute
	done := func(what string, f func() error) error {
		t.Helper()
		errc := make(chan error, 1)
		go func() { errc <- f() }()
		select {
		case err := <-errc:
			return err
		case <-time.After(bound):
			mc.Resume(t)
			t.Fatalf("%s: still blocked after %v with the server stopped", what, bound)
			return nil
		}
	}

	rc, err := s.Open(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	mc.Pause(t)
	err = done("a read of a body", func() error {
		_, err := io.Copy(io.Discard, rc)
		return err
	})
	rc.Close()
	if err == nil {
		t.Fatal("read the whole object from a stopped server")
	}
	t.Logf("read with the server stopped: %v", err)
	err = done("a write of a body", func() error {
		return s.Put(ctx, "big2", bytes.NewReader(big), int64(len(big)))
	})
	if err == nil {
		t.Fatal("wrote an object to a stopped server")
	}
	t.Logf("write with the server stopped: %v", err)

	mc.Resume(t)
	rc, err = s.Open(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil || n != int64(len(big)) {
		t.Fatalf("after the server resumed: %d bytes, %v", n, err)
	}
}
