// Package seq holds keyrace's read-your-writes sequences as plain Go: each
// one creates what it needs on a target, warms the caches, performs one
// acknowledged management write, fires the decision that must see it, and
// returns every step with its evidence and verdict. The Ginkgo suites and
// `keyrace check` both run them; nothing here asserts or exits.
package seq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/keyrace/keyrace/client"
)

// Verdict is the outcome of one step. The values are wire strings that
// land in reports.
type Verdict string

// Step verdicts.
const (
	// Pass: the decision reflected the acknowledged write.
	Pass Verdict = "pass"
	// StaleDeny: refused on the strength of a state an acknowledged write
	// already replaced.
	StaleDeny Verdict = "stale-deny"
	// StaleAllow: granted a permission an acknowledged write already revoked.
	StaleAllow Verdict = "stale-allow"
	// Contract: an answer no correct proxy gives (a refusal whose "Team
	// allows" list matches no state the team had, a wrong status).
	Contract Verdict = "contract"
	// Setup: a step that prepares the sequence (create, warm, write) and
	// behaved as expected.
	Setup Verdict = "setup"
)

// Violation reports whether v is a finding against the target.
func (v Verdict) Violation() bool { return v == StaleDeny || v == StaleAllow || v == Contract }

// ErrCannotRun wraps failures that stop a sequence before it can judge the
// target: unreachable, credentials refused, garbage answers, setup refused.
var ErrCannotRun = errors.New("cannot run")

// Step is one request of a sequence with what was expected and observed.
type Step struct {
	// Name says what the step does ("decide: generate key for G2").
	Name string `json:"name"`
	// Expected and Observed describe the outcome in words, lists in Python
	// repr as the proxy prints them.
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	// Verdict judges the step.
	Verdict Verdict `json:"verdict"`
	// Exchange is the request and response.
	Exchange *client.Exchange `json:"exchange,omitempty"`
	// SinceAck is how long after the acknowledged write the request started
	// (0 for steps before the write).
	SinceAck time.Duration `json:"since_ack_ns,omitempty"`
	// Replica is the base URL that served the step.
	Replica string `json:"replica"`
	// Attempts is how many times a decision was made before it was judged
	// (more than 1 only under bounded consistency).
	Attempts int `json:"attempts,omitempty"`
	// Write marks an acknowledged management write: the decisions after it,
	// up to the next write, are judged against it.
	Write bool `json:"write,omitempty"`

	err error // why a step without verdict could not be judged
}

// withinBound makes a decision, and under bounded consistency repeats a
// stale one until bound has passed since the write's acknowledgement.
func withinBound(bound time.Duration, write *client.Exchange, decide func() Step) Step {
	var st Step
	attempts := 0
	UntilBound(bound, write.End, func() bool {
		attempts++
		st = decide()
		st.Attempts = attempts
		return st.Verdict != StaleDeny && st.Verdict != StaleAllow
	})
	return st
}

// UntilBound calls decide, which reports whether the decision saw the
// write acknowledged at ack. Strict (bound 0) decides once; bounded
// consistency repeats a decision that missed the write, a few milliseconds
// apart, and judges the first one that started bound or more after ack (a
// decision that started inside the bound may lag). It returns decide's
// last answer.
func UntilBound(bound time.Duration, ack time.Time, decide func() bool) bool {
	for {
		started := time.Now()
		if ok := decide(); ok || bound <= 0 || started.Sub(ack) >= bound {
			return ok
		}
		time.Sleep(min(5*time.Millisecond, bound/10+time.Microsecond))
	}
}

// Result is one sequence run.
type Result struct {
	// Sequence is the sequence's name ("seed-grant").
	Sequence string `json:"sequence"`
	// Team is the team id the sequence created.
	Team string `json:"team"`
	// Steps in the order they ran.
	Steps []Step `json:"steps"`
	// Write is the last acknowledged write of the sequence; each decision is
	// judged against the write step before it (see WriteBefore).
	Write *client.Exchange `json:"write,omitempty"`
}

// WriteBefore returns the last write step before step i, the one decision
// i is judged against, or false when no write precedes it.
func (r Result) WriteBefore(i int) (Step, bool) {
	for j := min(i, len(r.Steps)) - 1; j >= 0; j-- {
		if r.Steps[j].Write {
			return r.Steps[j], true
		}
	}
	return Step{}, false
}

// Verdict returns the first violation of the result, or Pass.
func (r Result) Verdict() Verdict {
	for _, s := range r.Steps {
		if s.Verdict.Violation() {
			return s.Verdict
		}
	}
	return Pass
}

// Decisive returns the step that judges the target: the first violation, or
// else the last step.
func (r Result) Decisive() Step {
	for _, s := range r.Steps {
		if s.Verdict.Violation() {
			return s
		}
	}
	if len(r.Steps) == 0 {
		return Step{}
	}
	return r.Steps[len(r.Steps)-1]
}

// Target is where a sequence runs: a writer and a decider, which are
// different replicas when the target has several, so that a write through
// one must be seen by decisions on the other.
type Target struct {
	Writer  *client.Client
	Decider *client.Client
	// RunID makes every id the sequence creates unique, so sequences can run
	// against a shared proxy.
	RunID string
	// Bound is the staleness tolerated (bounded consistency): a decision that
	// misses the write is repeated until Bound has passed since the write was
	// acknowledged, and only then judged. 0 means strict.
	Bound time.Duration
}

// NewRunID returns a short random id for one run.
func NewRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Sequence is a named read-your-writes sequence.
type Sequence struct {
	// Name is the wire name ("seed-grant").
	Name string
	// Description says what it proves, in one sentence.
	Description string
	// Run executes it. An error wraps ErrCannotRun; a finding is a Verdict.
	Run func(ctx context.Context, t Target) (Result, error)
}

// TeamID returns the unique team id a sequence uses in a run.
func (t Target) TeamID(seq string) string { return fmt.Sprintf("keyrace-%s-%s", t.RunID, seq) }

func cannotRun(step string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrCannotRun, step, err)
}
