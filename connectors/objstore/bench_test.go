package objstore_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// BenchmarkPutIfAbsent measures creating one ~2 KB log entry, the cost of a
// commit's last step, on the local directory store and on MinIO.
func BenchmarkPutIfAbsent(b *testing.B) {
	entry := bytes.Repeat([]byte("x"), 2048)
	run := func(b *testing.B, s tableformat.Store) {
		ctx := b.Context()
		v := int64(0)
		start := time.Now()
		for b.Loop() {
			v++
			if err := s.PutIfAbsent(ctx, tableformat.EntryKey(v), entry); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/float64(v), "µs/op")
	}
	b.Run("local", func(b *testing.B) {
		l, err := objstore.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		run(b, l)
	})
	b.Run("minio", func(b *testing.B) {
		mc := testenv.StartMinIO(b)
		s, err := objstore.NewS3(b.Context(), objstore.S3Config{
			Endpoint: mc.Endpoint, Bucket: mc.NewBucket(b), Region: mc.Region,
			AccessKey: mc.AccessKey, SecretKey: secret.String(mc.SecretKey),
		})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, s)
	})
}
