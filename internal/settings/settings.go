package settings

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Problem is what is wrong with one field of an options struct.
type Problem struct {
	// Field is the field's name in lower_snake case: MaxBatchBytes is
	// max_batch_bytes.
	Field string
	// Msg says what is wrong and what to give instead, starting with the
	// value when there is one ("0: must be at least 1, such as 4"). It
	// names another field of the same struct as {name}, which Text
	// replaces.
	Msg string
	// Missing: the field is required and not set (Msg starts "missing:"),
	// so a caller may add where it can be set.
	Missing bool
}

func (p *Problem) Error() string {
	return p.Field + " " + p.Text(func(field string) string { return field })
}

// fieldRef is a field named inside Msg.
var fieldRef = regexp.MustCompile(`\{([a-z0-9_]+)\}`)

// Text is Msg with each field it names written as name(field).
func (p *Problem) Text(name func(field string) string) string {
	return fieldRef.ReplaceAllStringFunc(p.Msg, func(ref string) string { return name(ref[1 : len(ref)-1]) })
}

// Problems collects what a Validate finds. The zero Problems is empty.
type Problems struct{ errs []error }

// Add records a problem with field.
func (ps *Problems) Add(field, format string, a ...any) {
	ps.errs = append(ps.errs, &Problem{Field: field, Msg: fmt.Sprintf(format, a...)})
}

// Missing records that the required field is not set; what says what it
// is for.
func (ps *Problems) Missing(field, what string) {
	ps.errs = append(ps.errs, &Problem{Field: field, Msg: "missing: " + what, Missing: true})
}

// Err is every problem recorded, joined, or nil when there is none.
func (ps *Problems) Err() error { return errors.Join(ps.errs...) }

// ProblemsIn lists the *Problem errors in err, which may be joined or
// wrapped any number of times, in order. Other errors are not listed.
func ProblemsIn(err error) []*Problem {
	var ps []*Problem
	var walk func(error)
	walk = func(err error) {
		if p, ok := err.(*Problem); ok {
			ps = append(ps, p)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return ps
}

// Fields lists the fields the problems in err name, in order.
func Fields(err error) []string {
	var fields []string
	for _, p := range ProblemsIn(err) {
		fields = append(fields, p.Field)
	}
	return fields
}

// Bytes writes a size in the largest binary unit that holds it whole
// ("48 MiB", "1 GiB"), else in bytes.
func Bytes(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// Shorten cuts a value to a length a message can show: 60 characters.
func Shorten(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:57]) + "..."
	}
	return s
}

// Duration writes a duration without trailing zero units: 168h, not
// 168h0m0s.
func Duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
