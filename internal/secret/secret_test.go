package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestNeverPrinted(t *testing.T) {
	const sentinel = "s3cr3t-sentinel-value"
	type conf struct {
		User string
		Pass String
	}
	c := conf{User: "u", Pass: String(sentinel)}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, c.Pass))
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(b))
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "conf", c, "pass", c.Pass)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("x", "conf", c, "pass", c.Pass)
	outs = append(outs, logBuf.String(), fmt.Sprint(fmt.Errorf("wrapped: %v", c)))
	for _, o := range outs {
		if strings.Contains(o, sentinel) || strings.Contains(o, fmt.Sprintf("%x", sentinel)) {
			t.Fatalf("secret printed: %s", o)
		}
	}
	if !strings.Contains(string(b), redacted) {
		t.Fatalf("JSON %s lacks the redaction mark", b)
	}
	if c.Pass.Reveal() != sentinel || String("").String() != "" {
		t.Fatal("Reveal or empty form wrong")
	}
}
