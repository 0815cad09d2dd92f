package objstore_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newLocal(t *testing.T) *objstore.Local {
	t.Helper()
	l, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConformanceMem(t *testing.T) {
	storetest.RunConformance(t, func(*testing.T) tableformat.Store { return tableformat.NewMemStore() })
}

func TestConformanceLocal(t *testing.T) {
	storetest.RunConformance(t, func(t *testing.T) tableformat.Store { return newLocal(t) })
}

// The fault and barrier wrappers, with nothing injected or held, over a
// real store.
func TestConformanceWrappers(t *testing.T) {
	t.Run("Fault", func(t *testing.T) {
		storetest.RunConformance(t, func(t *testing.T) tableformat.Store { return storetest.NewFaultStore(newLocal(t)) })
	})
	t.Run("Barrier", func(t *testing.T) {
		storetest.RunConformance(t, func(t *testing.T) tableformat.Store { return storetest.NewBarrierStore(newLocal(t)) })
	})
}

// TestMinIO runs everything that needs a real S3 server against one MinIO.
func TestMinIO(t *testing.T) {
	mc := testenv.StartMinIO(t)
	newS3 := func(t *testing.T, bucket, prefix string) *objstore.S3 {
		t.Helper()
		s, err := objstore.NewS3(t.Context(), s3Config(mc, bucket, prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	t.Run("Conformance", func(t *testing.T) {
		storetest.RunConformance(t, func(t *testing.T) tableformat.Store { return newS3(t, mc.NewBucket(t), "") })
	})

	// Many stores in one bucket, told apart by prefixes that are prefixes
	// of each other ("lake/1/" and "lake/10/").
	t.Run("ConformancePrefixed", func(t *testing.T) {
		bucket := mc.NewBucket(t)
		var n atomic.Int64
		storetest.RunConformance(t, func(t *testing.T) tableformat.Store {
			return newS3(t, bucket, fmt.Sprintf("/lake/%d/", n.Add(1)))
		})
	})

	t.Run("PrefixIsolation", func(t *testing.T) {
		ctx := t.Context()
		bucket := mc.NewBucket(t)
		a, b, root := newS3(t, bucket, "lake/1"), newS3(t, bucket, "lake/10"), newS3(t, bucket, "")
		if err := tableformat.PutBytes(ctx, a, "k", []byte("a")); err != nil {
			t.Fatal(err)
		}
		if err := b.PutIfAbsent(ctx, "k", []byte("b")); err != nil {
			t.Fatalf("same key under another prefix: %v", err)
		}
		got, err := a.List(ctx, "", "")
		if err != nil || len(got) != 1 || got[0].Key != "k" || got[0].Size != 1 {
			t.Fatalf("list under lake/1 = %+v, %v; want just k", got, err)
		}
		all, err := root.List(ctx, "", "")
		if err != nil || len(all) != 2 || all[0].Key != "lake/1/k" || all[1].Key != "lake/10/k" {
			t.Fatalf("bucket holds %+v, %v; want lake/1/k and lake/10/k", all, err)
		}
	})

	t.Run("NewS3Errors", func(t *testing.T) {
		ctx := t.Context()
		cfg := s3Config(mc, "no-such-bucket", "")
		if _, err := objstore.NewS3(ctx, cfg); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("missing bucket: got %v", err)
		}
		cfg = s3Config(mc, mc.NewBucket(t), "")
		cfg.SecretKey = "wrong-secret-4f9d2"
		cfg.MaxRetries = -1
		_, err := objstore.NewS3(ctx, cfg)
		if err == nil {
			t.Fatal("wrong secret key accepted")
		}
		if strings.Contains(err.Error(), cfg.SecretKey.Reveal()) {
			t.Fatalf("error shows the secret key: %v", err)
		}
	})

	t.Run("OpenAndProbe", func(t *testing.T) {
		ctx := t.Context()
		bucket := mc.NewBucket(t)
		s, err := objstore.Open(ctx, "s3://"+bucket+"/lakes/prod", objstore.S3Config{
			Endpoint:  mc.URL(),
			Region:    mc.Region,
			AccessKey: mc.AccessKey,
			SecretKey: secret.String(mc.SecretKey),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := objstore.ProbePutIfAbsent(ctx, s); err != nil {
			t.Fatalf("probe on MinIO: %v", err)
		}
		if left, err := s.List(ctx, objstore.ProbeDir, ""); err != nil || len(left) != 0 {
			t.Fatalf("probe left %+v, %v", left, err)
		}
		if err := tableformat.PutBytes(ctx, s, "x", []byte("x")); err != nil {
			t.Fatal(err)
		}
		root := newS3(t, bucket, "")
		if _, err := root.Stat(ctx, "lakes/prod/x"); err != nil {
			t.Fatalf("the URL's prefix was not applied: %v", err)
		}
	})

	// Region left empty is looked up once, before any PutIfAbsent.
	t.Run("RegionLookup", func(t *testing.T) {
		cfg := s3Config(mc, mc.NewBucket(t), "")
		cfg.Region = ""
		s, err := objstore.NewS3(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.PutIfAbsent(t.Context(), "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutIfAbsent(t.Context(), "k", []byte("v")); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("got %v, want fs.ErrExist", err)
		}
	})

	t.Run("FaultOverS3", func(t *testing.T) {
		ctx := t.Context()
		s := newS3(t, mc.NewBucket(t), "")
		f := storetest.NewFaultStore(s)
		f.Inject(storetest.Fault{Op: storetest.OpPutIfAbsent, Prefix: "_log/", Nth: 1, Mode: storetest.After})
		key := tableformat.EntryKey(1)
		err := f.PutIfAbsent(ctx, key, []byte("mine"))
		if !errors.Is(err, tableformat.ErrUnknownOutcome) {
			t.Fatalf("got %v, want ErrUnknownOutcome", err)
		}
		// What a committer does next: read back and find its own entry.
		got, err := tableformat.ReadObject(ctx, f, key)
		if err != nil || string(got) != "mine" {
			t.Fatalf("read back %q, %v", got, err)
		}
	})
}

func s3Config(mc *testenv.MinIO, bucket, prefix string) objstore.S3Config {
	return objstore.S3Config{
		Endpoint:  mc.Endpoint,
		Bucket:    bucket,
		Prefix:    prefix,
		Region:    mc.Region,
		AccessKey: mc.AccessKey,
		SecretKey: secret.String(mc.SecretKey),
	}
}
