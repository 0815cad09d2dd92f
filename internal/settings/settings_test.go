package settings

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestProblems(t *testing.T) {
	var ps Problems
	if ps.Err() != nil {
		t.Fatal("an empty list is an error")
	}
	ps.Add("max_batch_bytes", "%d: must be positive, such as %d", -1, 4)
	ps.Add("small_file_bytes", "%d is not below {target_file_bytes}", 9)
	ps.Missing("endpoint", "host:port of the S3 API")
	err := fmt.Errorf("options: %w", ps.Err())
	if got, want := err.Error(), "options: max_batch_bytes -1: must be positive, such as 4\nsmall_file_bytes 9 is not below target_file_bytes\n"+
		"endpoint missing: host:port of the S3 API"; got != want {
		t.Fatalf("Error:\n%s\nwant\n%s", got, want)
	}
	joined := errors.Join(errors.New("not a field"), err)
	fs := ProblemsIn(joined)
	if names := Fields(joined); len(fs) != 3 || !slices.Equal(names, []string{"max_batch_bytes", "small_file_bytes", "endpoint"}) {
		t.Fatalf("ProblemsIn: %v", names)
	}
	if fs[0].Missing || fs[1].Missing || !fs[2].Missing {
		t.Fatalf("Missing: %v %v %v", fs[0].Missing, fs[1].Missing, fs[2].Missing)
	}
	if got := fs[1].Text(func(n string) string { return "compaction." + n }); got != "9 is not below compaction.target_file_bytes" {
		t.Fatalf("Text: %q", got)
	}
	if ProblemsIn(nil) != nil {
		t.Fatal("ProblemsIn(nil) is not empty")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		48 << 20: "48 MiB", 10 << 30: "10 GiB", 1 << 20: "1 MiB", 3 << 10: "3 KiB", 1536: "1536 bytes", 1000: "1000 bytes", 0: "0 bytes",
		2 << 40: "2 TiB", 240 << 20: "240 MiB", 1<<20 + 1<<10: "1025 KiB",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		168 * time.Hour: "168h", time.Hour: "1h", 90 * time.Minute: "1h30m", 500 * time.Millisecond: "500ms", 0: "0s", 10 * time.Second: "10s",
		5 * time.Minute: "5m",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}
