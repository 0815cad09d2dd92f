package tableformat_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
)

// TestCheckpointEqualsReplay is a property test: for random histories
// (ingest, DDL, truncations, snapshots, merges, rewinds; checkpoint
// intervals from 1 to 13; parts of 512 bytes to 4 KiB, so checkpoints are
// trees of many parts, each built on the one before; a writer restarted
// half-way, building on the checkpoint it read), the state read through
// checkpoints equals the state replayed from version 1, at every version.
func TestCheckpointEqualsReplay(t *testing.T) {
	ctx := context.Background()
	mix := laketest.DefaultMix()
	mix.Rewind = 5
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			store := tableformat.NewMemStore()
			// Every checkpoint is written and read: no warnings.
			var warned bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&warned, &slog.HandlerOptions{Level: slog.LevelWarn}))
			logOpts := tableformat.LogOptions{CheckpointPartBytes: 512 << (seed % 4), Logger: logger}
			l := laketest.New(t, laketest.Options{Seed: seed, Store: store, CheckpointInterval: 1 + int64(seed%5)*3, Mix: &mix,
				Log: logOpts, Files: tableformat.FileWriterOptions{Compression: tableformat.CompressionNone}})
			l.Run(60)
			l.Log = tableformat.NewLog(store, logOpts)
			l.Run(60)
			fresh := tableformat.NewLog(store, tableformat.LogOptions{Logger: logger})
			latest, err := fresh.Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The history must exercise every kind the generator makes.
			kinds := map[tableformat.EntryKind]int{}
			for v := int64(1); v <= latest.Version; v++ {
				e, err := fresh.Entry(ctx, v)
				if err != nil {
					t.Fatal(err)
				}
				kinds[e.Kind]++
			}
			for _, k := range []tableformat.EntryKind{tableformat.KindIngest, tableformat.KindSchema, tableformat.KindCompaction,
				tableformat.KindTruncate, tableformat.KindRewind} {
				if kinds[k] == 0 && seed < 4 {
					t.Errorf("history has no %s entry: %v", k, kinds)
				}
			}
			// A fresh reader (checkpoint hint + tail) equals replay from one.
			if got, want := tableformat.ImagesJSON(t, latest), tableformat.ImagesJSON(t, tableformat.ReplayFromOne(t, fresh, latest.Version)); got != want {
				t.Fatalf("latest via checkpoint differs from replay:\n%s\n%s", got, want)
			}
			for v := int64(1); v <= latest.Version; v += 1 + int64(l.Rand.IntN(7)) {
				got, err := tableformat.NewLog(store, tableformat.LogOptions{Logger: logger}).StateAt(ctx, v)
				if err != nil {
					t.Fatal(err)
				}
				if tableformat.ImagesJSON(t, got) != tableformat.ImagesJSON(t, tableformat.ReplayFromOne(t, fresh, v)) {
					t.Fatalf("state at %d via checkpoint differs from replay", v)
				}
			}
			if warned.Len() > 0 {
				t.Fatalf("warnings: %s", warned.String())
			}
		})
	}
}
