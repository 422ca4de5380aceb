package suites

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/suites/seq"
	"github.com/keyrace/keyrace/wire"
)

// Env is what a spec gets: clients for every replica (authenticated with
// the master key), the run id that makes names unique, the declared
// features and the consistency bound.
type Env struct {
	// Replicas has one client per target URL, in the order given.
	Replicas []*client.Client
	// RunID is unique per run; every id a spec creates contains it.
	RunID string
	// Features the target declared.
	Features FeatureSet
	// Bound is the tolerated staleness (0 = strict read-your-writes).
	Bound time.Duration
	// Disruptor breaks the target on purpose (nil unless FeatureDisruptions).
	Disruptor Disruptor

	n atomic.Uint64
}

// Writer is the replica writes go through (the first URL).
func (e *Env) Writer() *client.Client { return e.Replicas[0] }

// Decider is the replica the conformance, consistency and concurrency
// specs decide through: the same as Writer, so those tiers test one
// process; the replica tier crosses replicas (ReplicaPairs).
func (e *Env) Decider() *client.Client { return e.Replicas[0] }

// ID returns a fresh id containing the run id: keyrace-<run>-<what>-<n>.
func (e *Env) ID(what string) string {
	return fmt.Sprintf("keyrace-%s-%s-%d", e.RunID, what, e.n.Add(1))
}

// SeqTarget is the sequence target writing via Writer and deciding via
// Decider.
func (e *Env) SeqTarget() seq.Target {
	return seq.Target{Writer: e.Writer(), Decider: e.Decider(), RunID: fmt.Sprintf("%s-%d", e.RunID, e.n.Add(1)), Bound: e.Bound}
}

// WithinBound judges a decision made after a write acknowledged at ack:
// decide reports whether the answer saw the write. Strict consistency
// decides once; bounded repeats a decision that missed the write until one
// starts Bound or more after ack (seq.UntilBound). It returns the last answer.
func (e *Env) WithinBound(ack time.Time, decide func() bool) bool {
	return seq.UntilBound(e.Bound, ack, decide)
}

// ReplicaPairs returns a target for every ordered pair of distinct
// replicas: write through one, decide through the other.
func (e *Env) ReplicaPairs() []seq.Target {
	var out []seq.Target
	for i, w := range e.Replicas {
		for j, d := range e.Replicas {
			if i != j {
				out = append(out, seq.Target{Writer: w, Decider: d, RunID: fmt.Sprintf("%s-%d-r%d%d", e.RunID, e.n.Add(1), i, j), Bound: e.Bound})
			}
		}
	}
	return out
}

// CreateTeam creates a team through the writer and deletes it (and its
// keys) when the spec ends.
func (e *Env) CreateTeam(ctx context.Context, req wire.NewTeamRequest) wire.Team {
	GinkgoHelper()
	if req.TeamID == "" {
		req.TeamID = e.ID("team")
	}
	t, ex, err := e.Writer().NewTeam(ctx, req)
	Must(err, ex, "create team %s", req.TeamID)
	DeferCleanup(func(ctx SpecContext) {
		if cannotRunErr() == nil { // a target that stopped answering would make each cleanup wait out its timeout
			_, _ = e.Writer().DeleteTeams(ctx, t.TeamID)
		}
	})
	return t
}

// GenerateKey creates a key through c, failing the spec on any error.
func (e *Env) GenerateKey(ctx context.Context, c *client.Client, req wire.GenerateKeyRequest) wire.Key {
	GinkgoHelper()
	k, ex, err := c.GenerateKey(ctx, req)
	Must(err, ex, "generate key")
	return k
}

// cannotRun records failures that say nothing about the target's
// correctness (unreachable, garbage), so the run exits 2 rather than 1.
var cannotRun struct {
	sync.Mutex
	err error
}

// Must fails the spec when err is not nil, printing the exchange. A
// transport failure, a garbage answer or a 5xx also marks the run as
// "cannot run": they say the target is broken, not whether it is stale.
func Must(err error, ex *client.Exchange, what string, args ...any) {
	GinkgoHelper()
	if err == nil {
		return
	}
	if ae, ok := client.AsAPIError(err); errors.Is(err, client.ErrUnreachable) || errors.Is(err, client.ErrGarbage) || (ok && ae.Status >= 500) {
		markCannotRun(err)
	}
	Fail(fmt.Sprintf("%s: %v\n%s", fmt.Sprintf(what, args...), err, Evidence(ex)))
}

// markCannotRun records the first failure that stops the run from judging
// the target.
func markCannotRun(err error) {
	cannotRun.Lock()
	defer cannotRun.Unlock()
	if cannotRun.err == nil {
		cannotRun.err = err
	}
}

// Evidence renders an exchange for a failure message.
func Evidence(ex *client.Exchange) string {
	if ex == nil {
		return "(no response)"
	}
	return fmt.Sprintf("request:  %s %s %s\nresponse: %d %s", ex.Method, ex.URL, ex.RequestBody, ex.Status, ex.ResponseBody)
}

// ExpectSequence runs a sequence and fails with its full evidence unless
// the target passed it.
func ExpectSequence(ctx context.Context, s seq.Sequence, t seq.Target) seq.Result {
	GinkgoHelper()
	res, err := s.Run(ctx, t)
	if err != nil {
		// The sequence could not get to its decision (a setup step was
		// refused or failed): nothing was judged, so the run cannot pass or
		// fail on it.
		markCannotRun(fmt.Errorf("%s: %w", s.Name, err))
		Fail(fmt.Sprintf("%s: %v\n%s", s.Name, err, describeResult(res)))
	}
	AddReportEntry(s.Name, describeResult(res), ReportEntryVisibilityFailureOrVerbose)
	if v := res.Verdict(); v != seq.Pass {
		Fail(fmt.Sprintf("%s: %s: %s\n%s", s.Name, v, s.Description, describeResult(res)))
	}
	return res
}

func describeResult(r seq.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sequence %s on team %s\n", r.Sequence, r.Team)
	for i, s := range r.Steps {
		if !s.Verdict.Violation() {
			continue
		}
		fmt.Fprintf(&b, "first violation: %s [%s]", s.Name, s.Verdict)
		if w, ok := r.WriteBefore(i); ok {
			fmt.Fprintf(&b, ", %.1f ms after %q was acknowledged", float64(s.SinceAck)/float64(time.Millisecond), w.Name)
		}
		b.WriteString("\n")
		break
	}
	for _, s := range r.Steps {
		verdict := string(s.Verdict)
		if s.Write {
			verdict = "acknowledged"
		}
		fmt.Fprintf(&b, "- %s [%s] via %s", s.Name, verdict, s.Replica)
		if s.SinceAck > 0 {
			fmt.Fprintf(&b, ", started %.1f ms after the write was acknowledged", float64(s.SinceAck)/float64(time.Millisecond))
		}
		switch {
		case s.Write:
			fmt.Fprintf(&b, "\n  %s", strings.ReplaceAll(Evidence(s.Exchange), "\n", "\n  "))
		case s.Verdict != seq.Setup:
			fmt.Fprintf(&b, "\n  expected: %s\n  observed: %s\n  %s", s.Expected, s.Observed, strings.ReplaceAll(Evidence(s.Exchange), "\n", "\n  "))
		}
		b.WriteString("\n")
	}
	return b.String()
}
