package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestServeQuery answers SQL over HTTP on the lake buildLake makes: JSON and
// CSV, every kind of point, refusals, the row cap's trailer.
func TestServeQuery(t *testing.T) {
	cfg := queryTestLake(t)
	env := &cliEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) (string, bool) { return "", false }}
	lk, engine, err := openQueryEngine(t.Context(), env, cfg, false, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.store.Close()
	srv := newQueryServer(engine, 1, 2, newServeMetrics(prometheus.NewRegistry()), lk.logger)
	defer srv.sessions.Close()
	ts := httptest.NewServer(http.HandlerFunc(srv.handleQuery))
	defer ts.Close()
	get := func(params url.Values) (int, string, http.Header) {
		t.Helper()
		resp, err := http.PostForm(ts.URL, params)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body), resp.Trailer
	}
	cases := []struct {
		params  url.Values
		status  int
		body    string
		trailer string
	}{
		{url.Values{"sql": {"SELECT count(*) AS n FROM shop.purchases"}}, 200, `{"n":2}` + "\n", ""},
		{url.Values{"sql": {"SELECT * FROM shop.orders"}, "as_of_version": {"2"}, "format": {"csv"}}, 200, "id,total\n2,12.50\n", ""},
		{url.Values{"sql": {"SELECT count(*) AS n FROM shop.orders"}, "as_of_gtid": {"0-1-2"}}, 200, `{"n":1}` + "\n", ""},
		{url.Values{"sql": {"SELECT count(*) AS n FROM shop.orders"}, "as_of_position": {"mysql-bin.000001:300"}}, 200, `{"n":2}` + "\n", ""},
		{url.Values{"sql": {"SELECT count(*) AS n FROM shop.purchases"}, "as_of": {"2026-11-01T12:00:00Z"}}, 200, `{"n":2}` + "\n", ""},
		{url.Values{"sql": {"SELECT id FROM shop.purchases ORDER BY id"}}, 200, `{"id":2}` + "\n", "1"},
		{url.Values{"sql": {"COPY (SELECT 1) TO '/tmp/x'"}}, 403, "only SELECT", ""},
		{url.Values{"sql": {"SELECT 1"}, "format": {"xml"}}, 400, "format", ""},
		{url.Values{"sql": {"SELECT 1"}, "as_of_version": {"2"}, "as_of_gtid": {"0-1-2"}}, 400, "one of", ""},
		{url.Values{"sql": {"SELECT * FROM missing.t"}}, 400, "missing", ""},
	}
	for _, c := range cases {
		status, body, trailer := get(c.params)
		if status != c.status || !strings.Contains(body, c.body) || trailer.Get("X-Binlake-Truncated") != c.trailer {
			t.Errorf("%v: %d %q (trailer %q), want %d containing %q (trailer %q)", c.params, status, body, trailer.Get("X-Binlake-Truncated"), c.status, c.body, c.trailer)
		}
	}
}
