package testenv_test

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/binlake/binlake/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartMinIO(t *testing.T) {
	var endpoint string
	t.Run("server", func(t *testing.T) {
		mc := testenv.StartMinIO(t)
		endpoint = mc.Endpoint
		host, _, err := net.SplitHostPort(mc.Endpoint)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("endpoint %q is not on 127.0.0.1", mc.Endpoint)
		}
		a, b := mc.NewBucket(t), mc.NewBucket(t)
		if a == b {
			t.Fatalf("two buckets named %s", a)
		}
		// Anonymous requests are refused: the bucket exists and is private.
		resp, err := http.Get(mc.URL() + "/" + a + "/missing")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		http.DefaultClient.CloseIdleConnections()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("anonymous GET: %s, want 403 Forbidden", resp.Status)
		}
	})
	// The test's cleanup stopped the server.
	conn, err := net.DialTimeout("tcp", endpoint, time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("minio still listening on %s after its test ended", endpoint)
	}
}
