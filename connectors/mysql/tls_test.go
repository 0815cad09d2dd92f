package mysql

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlake/binlake/ingest"
	"github.com/binlake/binlake/internal/testenv"
	"github.com/binlake/binlake/tableformat"
)

// caPool reads a PEM CA file.
func caPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", file)
	}
	return pool
}

func withTLS(cfg SourceConfig, tc *tls.Config) SourceConfig {
	cfg.TLS = tc
	return cfg
}

// TestSourceOverTLS: against a server that refuses plaintext TCP, the
// snapshot source, the binlog source and the checks work over verified TLS,
// and the server sees every connection of the CDC user, the binlog dump
// included, encrypted.
func TestSourceOverTLS(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDBWith(t, testenv.MariaDBOptions{TLS: true, RequireSecureTransport: true, PerformanceSchema: true})
	m.Exec(t, "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO shop.t VALUES (1, 'a'), (2, 'b')")
	cfg := withTLS(sourceConfig(m, 1), &tls.Config{RootCAs: caPool(t, m.CAFile), ServerName: m.Host, MinVersion: tls.VersionTLS12})

	results, err := CheckSource(ctx, cfg)
	if err != nil {
		t.Fatalf("check over TLS: %v", err)
	}
	if f := failing(results); len(f) != 0 {
		t.Fatalf("checks over TLS fail: %+v", f)
	}

	snap, err := NewSnapshotSource(ctx, cfg)
	if err != nil {
		t.Fatalf("snapshot source over TLS: %v", err)
	}
	n := 0
	for _, ev := range drain(t, ctx, snap) {
		if r, ok := ev.(*ingest.Rows); ok {
			n += len(r.After)
		}
	}
	snap.Close()
	if n != 2 {
		t.Errorf("snapshot over TLS read %d rows, want 2", n)
	}

	first, err := NewBinlogSource(ctx, cfg, tableformat.Position{})
	if err != nil {
		t.Fatalf("binlog source over TLS: %v", err)
	}
	start := first.Start()
	first.Close()
	m.Exec(t, "INSERT INTO shop.t VALUES (3, 'c'), (4, 'd')", "UPDATE shop.t SET v = 'z' WHERE id = 1", "DELETE FROM shop.t WHERE id = 2")
	src, err := NewBinlogSource(ctx, cfg, start)
	if err != nil {
		t.Fatalf("binlog source over TLS at %s: %v", start, err)
	}
	t.Cleanup(func() { src.Close() })

	// The replication stream is encrypted: the server's own view of the
	// binlog dump connection.
	var dump []testenv.SessionTLS
	testenv.Eventually(t, time.Minute, "the binlog dump session of "+m.User, func() error {
		dump = dump[:0]
		for _, s := range m.SessionCiphers(t) {
			if s.User == m.User && strings.HasPrefix(s.Command, "Binlog Dump") {
				dump = append(dump, s)
			}
		}
		if len(dump) == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	if len(dump) != 1 || dump[0].Cipher == "" || !strings.HasPrefix(dump[0].Version, "TLSv1.") {
		t.Fatalf("binlog dump sessions of %s: %+v, want one, encrypted", m.User, dump)
	}
	for _, s := range m.SessionCiphers(t) {
		if s.User == m.User && s.Cipher == "" {
			t.Errorf("a connection of %s is not encrypted: %+v", m.User, s)
		}
	}
	t.Logf("binlog dump over %s, %s", dump[0].Version, dump[0].Cipher)

	l := newLake(t, ctx)
	ingestToCaughtUp(t, ctx, l, src)
	_, rows := lakeTable(t, ctx, l, "shop", "t")
	got := rowKeys(rows)
	slices.Sort(got)
	// The lake began at start: rows 1 and 2 predate it, so only the
	// changes after it are there (the update of 1 as its new image).
	want := []string{`1 | "z"`, `3 | "c"`, `4 | "d"`}
	if !slices.Equal(got, want) {
		t.Errorf("lake rows over TLS:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSourceTLSErrors: a certificate that does not verify, a plaintext
// login the server refuses, and TLS to a server without it each fail with
// an error that names the TLS problem and never the password.
func TestSourceTLSErrors(t *testing.T) {
	ctx := testContext(t)
	m := testenv.StartMariaDBWith(t, testenv.MariaDBOptions{TLS: true, RequireSecureTransport: true})
	base := sourceConfig(m, 1)
	open := map[string]func(SourceConfig) error{
		"binlog source": func(c SourceConfig) error {
			s, err := NewBinlogSource(ctx, c, tableformat.Position{})
			if err == nil {
				s.Close()
			}
			return err
		},
		"snapshot source": func(c SourceConfig) error {
			s, err := NewSnapshotSource(ctx, c)
			if err == nil {
				s.Close()
			}
			return err
		},
		"check": func(c SourceConfig) error { _, err := CheckSource(ctx, c); return err },
	}
	cases := []struct {
		name string
		tls  *tls.Config
		want []string
		cert bool // errors.Is ErrTLSCertificate
	}{
		{"wrong CA", &tls.Config{RootCAs: caPool(t, testenv.UnrelatedCAFile(t)), ServerName: m.Host},
			[]string{"TLS", "certificate signed by unknown authority", "not signed by the CA in source.tls.ca_file"}, true},
		{"wrong server name", &tls.Config{RootCAs: caPool(t, m.CAFile), ServerName: "db.example.com"},
			[]string{"TLS", "db.example.com", "set source.tls.server_name"}, true},
		{"plaintext refused", nil,
			[]string{"Access denied", "require_secure_transport", "source.tls.mode"}, false},
	}
	for _, c := range cases {
		for who, fn := range open {
			err := fn(withTLS(base, c.tls))
			if err == nil {
				t.Errorf("%s, %s: connected", c.name, who)
				continue
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s, %s: error lacks %q: %s", c.name, who, w, msg)
				}
			}
			if errors.Is(err, ErrTLSCertificate) != c.cert {
				t.Errorf("%s, %s: errors.Is(err, ErrTLSCertificate) = %v", c.name, who, !c.cert)
			}
			if strings.Contains(msg, m.UserPassword) {
				t.Errorf("%s, %s: error shows the password: %s", c.name, who, msg)
			}
			if who == "binlog source" {
				t.Logf("%s: %s", c.name, msg)
			}
		}
	}
	// Unverified TLS (mode required) connects.
	if err := open["check"](withTLS(base, &tls.Config{InsecureSkipVerify: true})); err != nil {
		t.Errorf("unverified TLS: %v", err)
	}

	// TLS asked of a server that does not offer it.
	plain := testenv.StartMariaDB(t)
	err := open["binlog source"](withTLS(sourceConfig(plain, 1), &tls.Config{RootCAs: caPool(t, m.CAFile), ServerName: plain.Host}))
	if err == nil || !strings.Contains(err.Error(), "does not support TLS") || strings.Contains(err.Error(), plain.UserPassword) {
		t.Errorf("TLS to a server without it: %v", err)
	}
	// A plaintext login the server refuses for another reason gets no TLS hint.
	bad := sourceConfig(plain, 1)
	bad.Password = "wrong-password-sentinel"
	if err := open["check"](bad); err == nil || strings.Contains(err.Error(), "tls") || strings.Contains(err.Error(), "wrong-password-sentinel") {
		t.Errorf("wrong password on a server without TLS: %v", err)
	}
}
