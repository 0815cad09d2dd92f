package tableformat_test

import (
	"testing"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/storetest"
)

func TestCommitRaceMem(t *testing.T) { storetest.CommitRace(t, tableformat.NewMemStore(), 16, 20) }

func BenchmarkCommitMem(b *testing.B) { storetest.BenchmarkCommit(b, tableformat.NewMemStore()) }

func BenchmarkOpenLatest10kMem(b *testing.B) {
	storetest.BenchmarkOpenLatest(b, tableformat.NewMemStore(), 10_000)
}
