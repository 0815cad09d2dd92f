package objstore_test

import (
	"testing"
	"time"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/internal/secret"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/storetest"
)

// The commit protocol over real stores: 16 writers racing to commit to one
// lake.
func TestLogCommitRaceLocal(t *testing.T) {
	storetest.CommitRace(t, newLocal(t), 16, 10)
}

func TestLogCommitRaceMinIO(t *testing.T) {
	mc := testenv.StartMinIO(t)
	storetest.CommitRace(t, newMinIOStore(t, mc), 16, 10)
}

func newMinIOStore(tb testing.TB, mc *testenv.MinIO) tableformat.Store {
	tb.Helper()
	s, err := objstore.Open(tb.Context(), "s3://"+mc.NewBucket(tb)+"/lake", objstore.S3Config{
		Endpoint: mc.Endpoint, Region: mc.Region, AccessKey: mc.AccessKey, SecretKey: secret.String(mc.SecretKey),
		RequestTimeout: 30 * time.Second, MaxRetries: 3})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func localTB(tb testing.TB) tableformat.Store {
	tb.Helper()
	l, err := objstore.NewLocal(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// Commit latency: list the new log entries, create the next one.
func BenchmarkLogCommitLocal(b *testing.B) { storetest.BenchmarkCommit(b, localTB(b)) }

func BenchmarkLogCommitMinIO(b *testing.B) {
	storetest.BenchmarkCommit(b, newMinIOStore(b, testenv.StartMinIO(b)))
}

// Opening the latest state of a lake of 10,000 versions (checkpoints every
// 100): the target is well under a second.
func BenchmarkLogOpenLatest10kLocal(b *testing.B) {
	storetest.BenchmarkOpenLatest(b, localTB(b), 10_000)
}

func BenchmarkLogOpenLatest10kMinIO(b *testing.B) {
	storetest.BenchmarkOpenLatest(b, newMinIOStore(b, testenv.StartMinIO(b)), 10_000)
}
