package main

import (
	"errors"
	"log/slog"
	"testing"
)

func TestFaultFromEnv(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == faultEnv && v != "" {
				return v, true
			}
			return "", false
		}
	}
	if f, err := faultFromEnv(env(""), logger); f != nil || err != nil {
		t.Fatalf("unset: %v, %v; want no fault", f != nil, err)
	}
	for _, bad := range []string{"committed", "committed:0", "committed:x", "nowhere:1", ":1", "committed:-2"} {
		var ue *usageError
		if _, err := faultFromEnv(env(bad), logger); !errors.As(err, &ue) {
			t.Errorf("%s=%q: %v, want a usage error", faultEnv, bad, err)
		}
	}
	f, err := faultFromEnv(env("uploaded:2"), logger)
	if err != nil || f == nil {
		t.Fatalf("uploaded:2: %v", err)
	}
	// Other points, and the first hit, pass without effect (the second
	// would kill the test process: the e2e fault suite exercises it).
	f("committed")
	f("spilled")
	f("uploaded")
}
