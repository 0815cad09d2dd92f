package main

import (
	"errors"
	"log/slog"
	"testing"
	"time"
)

// oneVar is an environment holding only name=v (nothing when v is empty).
func oneVar(name string) func(v string) func(string) (string, bool) {
	return func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == name && v != "" {
				return v, true
			}
			return "", false
		}
	}
}

func TestFaultFromEnv(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	env := oneVar(faultEnv)
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

func TestClockFromEnv(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	env := oneVar(clockSkewEnv)
	if now, err := clockFromEnv(env(""), logger); now != nil || err != nil {
		t.Fatalf("unset: %v, %v; want the real clock", now != nil, err)
	}
	for _, bad := range []string{"1", "an hour", "-1d"} {
		var ue *usageError
		if _, err := clockFromEnv(env(bad), logger); !errors.As(err, &ue) {
			t.Errorf("%s=%q: %v, want a usage error", clockSkewEnv, bad, err)
		}
	}
	now, err := clockFromEnv(env("-1h"), logger)
	if err != nil || now == nil {
		t.Fatalf("-1h: %v", err)
	}
	before := time.Now()
	got := now()
	after := time.Now()
	if got.Before(before.Add(-time.Hour)) || got.After(after.Add(-time.Hour)) {
		t.Errorf("-1h: the clock reads %v between %v and %v, want an hour behind", got, before, after)
	}
}
