package secret

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// String is a secret value. Reveal returns it; nothing else does.
type String string

const redacted = "REDACTED"

// Reveal returns the secret itself, for the one call that needs it.
func (s String) Reveal() string { return string(s) }

// String returns "REDACTED", or "" for an empty secret.
func (s String) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format prints String for every verb, %#v and %q included.
func (s String) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes the redacted form.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText encodes the redacted form (YAML and other text encoders).
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
