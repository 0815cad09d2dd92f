package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/binlake/binlake/tableformat"
	"github.com/binlake/binlake/tableformat/laketest"
	"github.com/binlake/binlake/tableformat/storetest"
)

// snapshotScript is a snapshot of tables t0 … tn-1 of two rows each, each
// followed by its TableComplete, then one Commit. Before the Commit it
// waits, with a deadline, until wait says so.
type snapshotScript struct {
	events []Event
	i      int
	wait   func() error
}

func newSnapshotScript(n int) *snapshotScript {
	s := &snapshotScript{}
	for i := range n {
		t := &Table{DB: "shop", Name: fmt.Sprintf("t%d", i), Key: []string{"id"}, Columns: []SourceColumn{
			{Name: "id", Type: tableformat.Type{Kind: tableformat.KindBigInt}},
			{Name: "v", Type: tableformat.Type{Kind: tableformat.KindVarchar, Length: 16}, Nullable: true}}}
		s.events = append(s.events, &Rows{Table: t, Op: RowSnapshot, Time: 1_700_000_000_000_000,
			After: [][]any{{int64(1), fmt.Sprintf("a%d", i)}, {int64(2), nil}}}, &TableComplete{Table: t})
	}
	s.events = append(s.events, &Commit{End: tableformat.Position{GTIDSet: "0-1-9", File: "binlog.000001", Pos: 900},
		Time: 1_700_000_000_000_000})
	return s
}

func (s *snapshotScript) Next(ctx context.Context) (Event, error) {
	if s.i == len(s.events) {
		return nil, io.EOF
	}
	if _, ok := s.events[s.i].(*Commit); ok && s.wait != nil {
		deadline := time.Now().Add(30 * time.Second)
		for err := s.wait(); err != nil; err = s.wait() {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("before the commit: %w", err)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Millisecond): // polling with a deadline
			}
		}
	}
	s.i++
	return s.events[s.i-1], nil
}

func (s *snapshotScript) Close() error { return nil }

// TestTableCompleteWritesWhileTheTransactionGoesOn: the rows of a table the
// open transaction is done with go to storage before the transaction ends
// (the source waits for every table's file before it sends the Commit),
// and are committed with it, one file per table.
func TestTableCompleteWritesWhileTheTransactionGoesOn(t *testing.T) {
	const tables = 40
	store, l := newLake(t)
	src := newSnapshotScript(tables)
	src.wait = func() error {
		for i := range tables {
			objs, err := store.List(context.Background(), tableformat.TablePrefix("shop", fmt.Sprintf("t%d", i)), "")
			if err != nil {
				return err
			}
			if len(objs) == 0 {
				return fmt.Errorf("no file of shop.t%d yet", i)
			}
		}
		return nil
	}
	if err := New(l, Options{CommitInterval: time.Hour, UploadParallelism: 1}).Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	st, err := l.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e, err := l.Entry(context.Background(), st.Version)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Add) != tables || len(e.Txns) != 1 || st.Progress.Position.GTIDSet != "0-1-9" {
		t.Fatalf("the commit holds %d files and %d transactions at %s, want %d files and one transaction at 0-1-9",
			len(e.Add), len(e.Txns), st.Progress.Position, tables)
	}
	p, err := l.AtGTID(context.Background(), "0-1-9")
	if err != nil {
		t.Fatal(err)
	}
	read := laketest.CachedFiles(store)
	for tb := range p.State.Tables.Values() {
		_, rows, err := tableformat.ScanTableFrom(context.Background(), read, p, tb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 {
			t.Errorf("%s: %d rows, want 2", tb.Current().Name, len(rows))
		}
	}
}

// TestTableCompleteWriteFails: a file written in the background that fails
// fails the run at the transaction's Commit, which is not committed.
func TestTableCompleteWriteFails(t *testing.T) {
	store, l := newLake(t)
	fs := storetest.NewFaultStore(store)
	fs.Inject(storetest.Fault{Op: storetest.OpPut, Prefix: tableformat.TablePrefix("shop", "t3"), Mode: storetest.Before})
	err := New(tableformat.NewLog(fs, tableformat.LogOptions{}), Options{CommitInterval: time.Hour}).Run(context.Background(), newSnapshotScript(8))
	if !errors.Is(err, storetest.ErrInjected) {
		t.Fatalf("run: %v, want the injected fault", err)
	}
	st, err := l.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 1 {
		t.Errorf("lake at version %d, want 1 (nothing committed)", st.Version)
	}
}
