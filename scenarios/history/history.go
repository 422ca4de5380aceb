// Package history is the record of a race run: every operation a scenario
// sent, when it was called and when it returned (offsets from one monotonic
// base time), which replica served it, what it asked and what came back.
// The checker reads it; run folders store it as history.jsonl, one Op per
// line, so a saved run can be checked again later.
package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Kind is what an operation did to or asked of a team's permission state.
type Kind string

// Operation kinds.
const (
	// Write sets the team's allow-list (POST /team/update with
	// object_permission, or models); Groups is the new list.
	Write Kind = "write"
	// Block and Unblock set the team's blocked flag.
	Block   Kind = "block"
	Unblock Kind = "unblock"
	// Decide asks for one item (Ask) under the team's current state: a
	// /key/generate validation, a /key/update validation, a /v1/models
	// listing, or a mock_response chat call.
	Decide Kind = "decide"
	// MemberAdd adds one member (Member) to the team.
	MemberAdd Kind = "member_add"
	// ReadMembers reads the team's members (Members is what was seen).
	ReadMembers Kind = "read_members"
)

// Outcome is how an operation ended.
type Outcome string

// Outcomes.
const (
	// OK: a write or member add acknowledged (2xx).
	OK Outcome = "ok"
	// Allowed: a decision granted the request.
	Allowed Outcome = "allowed"
	// Denied: a decision refused the request; Observed is the allow-list the
	// refusal printed (nil when the refusal printed none, e.g. a block).
	Denied Outcome = "denied"
	// Unknown: a write that timed out or got a 5xx; it may or may not have
	// taken effect. Checkers let it take effect at any time after its call.
	Unknown Outcome = "unknown"
	// Failed: a decision that errored (timeout, 5xx); it carries no
	// information and checkers drop it.
	Failed Outcome = "failed"
	// Rejected: a write refused with a 4xx that guarantees no effect.
	Rejected Outcome = "rejected"
)

// Op is one recorded operation. Times are nanoseconds since the run's base
// time, taken from the monotonic clock of the process that sent it.
//
// Memory: the struct is 248 bytes on 64-bit platforms (unsafe.Sizeof), plus
// what its strings and slices point to: a grant ~250 B in all (Team and
// Endpoint shared with other ops), a write ~290 B (Groups), a refusal
// ~450-550 B (Observed and a LiteLLM error body of 200-300 B). A 1M-op
// history holds roughly 0.3-0.4 GB.
type Op struct {
	// ID is the operation id; it is also sent with the request
	// (X-Keyrace-Op header) so server logs can be joined with the history.
	ID uint64 `json:"id"`
	// Team is the team the operation concerns (its partition).
	Team string `json:"team"`
	// Kind and Endpoint say what was sent ("decide", "/key/generate").
	Kind     Kind   `json:"kind"`
	Endpoint string `json:"endpoint"`
	// Replica is the index of the target URL that served it.
	Replica int `json:"replica"`
	// Call and Return bound the operation; Return is meaningless (and set to
	// -1) for Unknown outcomes.
	Call   int64 `json:"call"`
	Return int64 `json:"return"`
	// Groups is the allow-list a Write set (sorted).
	Groups []string `json:"groups,omitempty"`
	// Ask is the item a Decide requested.
	Ask string `json:"ask,omitempty"`
	// Member is the user a MemberAdd added; Members what ReadMembers saw.
	Member  string   `json:"member,omitempty"`
	Members []string `json:"members,omitempty"`
	// Outcome, and for refusals the allow-list the refusal printed.
	Outcome  Outcome  `json:"outcome"`
	Observed []string `json:"observed,omitempty"`
	// Blocked is true when a decision was refused because the team is blocked.
	Blocked bool `json:"blocked,omitempty"`
	// Status is the HTTP status (0 for transport errors); Error the
	// transport error or a short reason.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Body is the response body of refusals and errors (truncated), kept
	// as evidence.
	Body string `json:"body,omitempty"`
	// Stream is the traffic stream of the race engine that sent the
	// operation: "write", "decide", "warm" (cache-warming decisions) or
	// "flow" (a decision fired when a write was acknowledged); "" when
	// not recorded by the race engine.
	Stream string `json:"stream,omitempty"`
}

// Header is the first line of history.jsonl: what produced the history.
type Header struct {
	// Format is "keyrace-history/v1".
	Format string `json:"format"`
	// Scenario, Seed and Target identify the run.
	Scenario string   `json:"scenario"`
	Seed     int64    `json:"seed"`
	Target   []string `json:"target"`
	// Initial is the allow-list every team starts with (sorted).
	Initial map[string][]string `json:"initial"`
	// InitialBlocked lists teams that start blocked.
	InitialBlocked []string `json:"initial_blocked,omitempty"`
	// Consistency is the mode the run was checked with ("strict", "bounded:50ms").
	Consistency string `json:"consistency"`
	// Disruptions are the faults injected into the target's containers
	// during the run, as windows on the history's clock.
	Disruptions []Disruption `json:"disruptions,omitempty"`
}

// Disruption is a window during which the target was broken on purpose.
type Disruption struct {
	// Kind is "redis-paused", "replica-disconnected" or "replica-killed".
	Kind string `json:"kind"`
	// Replica is the target index of the replica (-1 for Redis).
	Replica int `json:"replica"`
	// Start and End are nanoseconds since the history's base time.
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// FormatV1 is the current history format.
const FormatV1 = "keyrace-history/v1"

// History is a header and its operations.
type History struct {
	Header Header
	Ops    []Op
}

// Canon returns a sorted, de-duplicated copy of a list: the canonical form
// of an allow-list.
func Canon(items []string) []string {
	out := append([]string{}, items...)
	sort.Strings(out)
	j := 0
	for i, s := range out {
		if i == 0 || s != out[i-1] {
			out[j] = s
			j++
		}
	}
	return out[:j]
}

// Key renders a canonical allow-list as one comparable string.
func Key(items []string) string { return strings.Join(Canon(items), "\x1f") }

// Save writes h as JSON lines: the header, then one Op per line.
func Save(w io.Writer, h History) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if h.Header.Format == "" {
		h.Header.Format = FormatV1
	}
	if err := enc.Encode(h.Header); err != nil {
		return fmt.Errorf("write history header: %w", err)
	}
	for i := range h.Ops {
		if err := enc.Encode(&h.Ops[i]); err != nil {
			return fmt.Errorf("write history op %d: %w", h.Ops[i].ID, err)
		}
	}
	return bw.Flush()
}

// Load reads a history written by Save.
func Load(r io.Reader) (History, error) {
	var h History
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		if line == 1 {
			if err := json.Unmarshal(b, &h.Header); err != nil {
				return h, fmt.Errorf("read history: line 1 (header): %w", err)
			}
			if h.Header.Format != FormatV1 {
				return h, fmt.Errorf("read history: format %q, want %q", h.Header.Format, FormatV1)
			}
			continue
		}
		var op Op
		if err := json.Unmarshal(b, &op); err != nil {
			return h, fmt.Errorf("read history: line %d: %w", line, err)
		}
		h.Ops = append(h.Ops, op)
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("read history: %w", err)
	}
	if line == 0 {
		return h, fmt.Errorf("read history: empty")
	}
	return h, nil
}
