package check

import (
	"fmt"
	"strings"
	"time"
)

// Mode is the consistency a history is checked against: strict
// linearizability per team (the zero value) or bounded staleness.
type Mode struct {
	// Bound is how far a decision may lag an acknowledged write; 0 means
	// strict. A decision called less than Bound after a write's
	// acknowledgement may still see the state before it.
	Bound time.Duration
}

// Strict is linearizability per team: once a write is acknowledged, every
// decision called later reflects it or a newer write.
var Strict = Mode{}

// Bounded returns the mode that lets decisions lag acknowledged writes by up
// to d.
func Bounded(d time.Duration) Mode { return Mode{Bound: d} }

// ParseMode parses "strict" (or "") and "bounded:<duration>" with a
// positive Go duration, e.g. "bounded:50ms".
func ParseMode(s string) (Mode, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "strict":
		return Strict, nil
	case strings.HasPrefix(s, "bounded:"):
		arg := strings.TrimPrefix(s, "bounded:")
		d, err := time.ParseDuration(arg)
		if err != nil {
			return Mode{}, fmt.Errorf("parse consistency %q: bounded needs a duration like bounded:50ms: %w", s, err)
		}
		if d <= 0 {
			return Mode{}, fmt.Errorf("parse consistency %q: bounded needs a positive duration (use strict for none)", s)
		}
		return Mode{Bound: d}, nil
	case s == "bounded":
		return Mode{}, fmt.Errorf("parse consistency %q: bounded needs a duration, e.g. bounded:50ms", s)
	default:
		return Mode{}, fmt.Errorf("parse consistency %q: want strict or bounded:<duration>", s)
	}
}

// String renders the mode as ParseMode reads it.
func (m Mode) String() string {
	if m.Bound <= 0 {
		return "strict"
	}
	return "bounded:" + m.Bound.String()
}

// MarshalText renders the mode as its String, so it lands in JSON as
// "strict" or "bounded:50ms".
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a mode written by MarshalText.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Set parses s into m; with String it makes *Mode a flag.Value.
func (m *Mode) Set(s string) error { return m.UnmarshalText([]byte(s)) }
