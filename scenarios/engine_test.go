package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keyrace/keyrace/client"
	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// shortTTL shortens the ttl-sweep scenario for tests: a 500 ms TTL on the
// target and in the scenario, so that two sweeps fit in 2 s.
const shortTTL = 500 * time.Millisecond

func sweepShort(s *Scenario) {
	s.Pacer.TTL = Duration(shortTTL)
	s.Pacer.Offsets = []Duration{Duration(-100 * time.Millisecond), Duration(100 * time.Millisecond)}
}

// runScenario runs a built-in scenario briefly against urls, shortening
// ttl-sweep.
func runScenario(t *testing.T, name string, urls []string, seed int64) *Outcome {
	t.Helper()
	o := short(name, urls, seed)
	if name == "ttl-sweep" {
		s, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		sweepShort(s)
		o.Scenario, o.Duration, o.Teams = s, 2*time.Second, 4
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d ops, streams %v, verdict %s %s", name, out.Sent, out.Streams, out.Check.Verdict, describe(out.Check))
		return out
	}
	return mustRun(t, name, o)
}

// TestCorrectBuildPasses: every built-in scenario, run against the correct
// reference service (one replica, and warm-update and flap on two), finds
// nothing: the engine records no false positives.
func TestCorrectBuildPasses(t *testing.T) {
	ttl := shortTTL
	one := startTarget(t, 1, "", refimpl.Config{})
	oneShortTTL := startTarget(t, 1, "", refimpl.Config{CacheTTL: &ttl})
	two := startTarget(t, 2, "", refimpl.Config{})
	type run struct {
		name string
		urls []string
	}
	runs := []run{{"warm-update", two}, {"flap", two}}
	for _, n := range Names() {
		urls := one
		if n == "ttl-sweep" {
			urls = oneShortTTL
		}
		runs = append(runs, run{n, urls})
	}
	for _, r := range runs {
		t.Run(fmt.Sprintf("%s/%d-replicas", r.name, len(r.urls)), func(t *testing.T) {
			// In parallel, sharing the targets: more concurrency is a
			// harder test of "no false positives", and it keeps -race fast.
			t.Parallel()
			out := runScenario(t, r.name, r.urls, 11)
			if out.Check.Verdict != check.VerdictOK || out.Violations() != 0 {
				t.Fatalf("verdict %s, %d violations: %s", out.Check.Verdict, out.Violations(), describe(out.Check))
			}
			if out.Sent < 50 || out.Errors > 0 || out.Check.Invalid > 0 || out.Check.Ops != out.Sent {
				t.Fatalf("%d ops (%d checked, %d invalid), %d errors: %v", out.Sent, out.Check.Ops, out.Check.Invalid, out.Errors, out.Outcomes)
			}
		})
	}
}

// TestFaultsFound: each fault of the reference service is caught by the
// scenarios that claim it, with the expected kind of violation.
func TestFaultsFound(t *testing.T) {
	ttl := shortTTL
	for _, tc := range []struct {
		scenario, fault string
		replicas        int
		ttl             *time.Duration
		want            check.Kind // "" for any violation
	}{
		{"warm-update", "stale-object-permission", 1, nil, check.StaleDeny},
		{"flap", "stale-object-permission", 1, nil, check.StaleAllow},
		{"seed-burst", "stale-object-permission", 1, nil, check.StaleDeny},
		{"ttl-sweep", "stale-object-permission", 1, &ttl, ""},
		{"member-storm", "lost-update", 1, nil, check.LostUpdate},
		{"litellm-25951-member-add", "lost-update", 1, nil, check.LostUpdate},
		{"litellm-34266-team-models", "stale-team-cache", 1, nil, ""},
		{"litellm-35565-team-block", "stale-team-cache", 1, nil, check.StaleAllow},
		{"warm-update", "invalidation-lag=50ms", 2, nil, ""},
		{"flap", "invalidation-lag=5ms", 2, nil, ""},
	} {
		t.Run(tc.scenario+"/"+tc.fault, func(t *testing.T) {
			t.Parallel()
			urls := startTarget(t, tc.replicas, tc.fault, refimpl.Config{CacheTTL: tc.ttl})
			out := runScenario(t, tc.scenario, urls, 5)
			if out.Check.Verdict != check.VerdictViolation {
				t.Fatalf("verdict %s against %s", out.Check.Verdict, tc.fault)
			}
			if tc.want != "" && out.Check.Counts[tc.want] == 0 {
				t.Fatalf("no %s violation: %s", tc.want, describe(out.Check))
			}
		})
	}
}

// TestResultsFile: the results written during a run decode with Vegeta's
// own decoder, one per recorded operation, joined by the op id in the URL.
func TestResultsFile(t *testing.T) {
	urls := startTarget(t, 2, "", refimpl.Config{})
	var buf bytes.Buffer
	o := short("litellm-34266-team-models", urls, 3)
	o.Results = &buf
	out := mustRun(t, "litellm-34266-team-models", o)
	ids := map[uint64]history.Op{}
	for _, op := range out.History.Ops {
		ids[op.ID] = op
	}
	dec := vegeta.NewDecoder(&buf)
	seen := map[uint64]bool{}
	attacks := map[string]int{}
	for {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		id := opID(r.URL)
		op, ok := ids[id]
		if !ok || seen[id] {
			t.Fatalf("result %s: op %d unknown or seen twice", r.URL, id)
		}
		seen[id] = true
		attacks[r.Attack]++
		if r.Attack != op.Stream || int(r.Code) != op.Status {
			t.Fatalf("result %+v does not match op %+v", r, op)
		}
	}
	if len(seen) != len(out.History.Ops) {
		t.Fatalf("%d results for %d ops", len(seen), len(out.History.Ops))
	}
	if attacks["flow"] == 0 || attacks["write"] == 0 || attacks["warm"] == 0 {
		t.Fatalf("results by attack: %v", attacks)
	}
}

// TestOutcomeAndProgress: the outcome's header, counts and the progress
// callback agree with the history; every op id is unique and every team's
// teams are deleted after the run.
func TestOutcomeAndProgress(t *testing.T) {
	urls := startTarget(t, 1, "stale-object-permission", refimpl.Config{})
	var mu sync.Mutex
	var calls []Progress
	o := short("warm-update", urls, 9)
	o.Duration = 3 * time.Second
	o.Consistency = "bounded:1ms"
	o.Progress = func(p Progress) {
		mu.Lock()
		calls = append(calls, p)
		mu.Unlock()
	}
	out := mustRun(t, "warm-update", o)
	h := out.History
	if h.Header.Scenario != "warm-update" || h.Header.Seed != 9 || !slices.Equal(h.Header.Target, urls) ||
		h.Header.Consistency != "bounded:1ms" || len(h.Header.Initial) != len(out.Teams) || out.Header.Scenario != h.Header.Scenario {
		t.Fatalf("header %+v", h.Header)
	}
	ids := map[uint64]bool{}
	for i, op := range h.Ops {
		if ids[op.ID] || op.ID == 0 {
			t.Fatalf("op id %d repeated or zero", op.ID)
		}
		ids[op.ID] = true
		if i > 0 && op.Call < h.Ops[i-1].Call {
			t.Fatalf("ops not sorted by call at %d", i)
		}
		if op.Outcome != history.Unknown && op.Return < op.Call {
			t.Fatalf("op %d returns before its call", op.ID)
		}
		if op.Outcome == history.Denied && !op.Blocked && op.Body == "" {
			t.Fatalf("refusal %d without body", op.ID)
		}
	}
	if out.Sent != len(h.Ops) || out.Check.Verdict != check.VerdictViolation {
		t.Fatalf("sent %d of %d, verdict %s", out.Sent, len(h.Ops), out.Check.Verdict)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) < 2 {
		t.Fatalf("progress called %d times", len(calls))
	}
	last := calls[len(calls)-1]
	if !last.Done || last.Ops != out.Sent || last.Violations != out.Violations() {
		t.Fatalf("last progress %+v, outcome %d ops %d violations", last, out.Sent, out.Violations())
	}
	found := false
	for _, p := range calls[:len(calls)-1] {
		found = found || p.Violations > 0
		if p.Done || p.Ops > out.Sent {
			t.Fatalf("progress %+v during the run", p)
		}
	}
	if !found {
		t.Fatalf("no snapshot check reported the violations: %+v", calls)
	}
	c, err := client.New(urls[0], testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, team := range out.Teams {
		if _, _, err := c.TeamInfo(context.Background(), team); err == nil {
			t.Fatalf("team %s still exists after the run", team)
		}
	}
}

// TestCancel: cancelling the context stops the traffic; the outcome of
// what was sent comes back with the context's error, and the teams are
// deleted.
func TestCancel(t *testing.T) {
	urls := startTarget(t, 1, "", refimpl.Config{})
	s, _ := Load("flap")
	o := short("flap", urls, 4)
	o.Scenario, o.Duration, o.Teams = s, time.Minute, 4
	ctx, cancel := context.WithCancel(context.Background())
	o.Progress = func(Progress) { cancel() }
	start := time.Now()
	out, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) || out == nil {
		t.Fatalf("Run = %v, %v", out, err)
	}
	if time.Since(start) > 30*time.Second || out.Sent == 0 || out.Check.Verdict != check.VerdictOK {
		t.Fatalf("after cancel: %d ops in %v, verdict %s", out.Sent, time.Since(start), out.Check.Verdict)
	}
	c, _ := client.New(urls[0], testMasterKey)
	if _, _, err := c.TeamInfo(context.Background(), out.Teams[0]); err == nil {
		t.Fatal("teams left behind")
	}
}

// TestRunRefuses: invalid options, the hard limits, and a target that
// cannot run the scenario are errors, with no outcome.
func TestRunRefuses(t *testing.T) {
	urls := startTarget(t, 1, "", refimpl.Config{Models: []string{"gpt-4o"}})
	s, _ := Load("warm-update")
	base := Options{Scenario: s, Targets: urls, MasterKey: testMasterKey, Duration: time.Second}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no scenario", func(o *Options) { o.Scenario = nil }, "no scenario"},
		{"no target", func(o *Options) { o.Targets = nil }, "no target"},
		{"bad target", func(o *Options) { o.Targets = []string{"localhost:4000"} }, "http(s)"},
		{"no master key", func(o *Options) { o.MasterKey = "" }, "master key"},
		{"rate limit", func(o *Options) { o.Rate = 5000 }, "at most 2000"},
		{"duration limit", func(o *Options) { o.Duration = time.Hour }, "at most 5m0s"},
		{"consistency", func(o *Options) { o.Consistency = "eventual" }, "consistency"},
		{"wrong master key", func(o *Options) { o.MasterKey = "sk-wrong" }, "setup"},
		{"unreachable", func(o *Options) { o.Targets = []string{"http://127.0.0.1:1"} }, "setup"},
		{"unserved models", func(o *Options) { o.Scenario, _ = Load("litellm-34266-team-models") }, "does not serve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			out, err := Run(context.Background(), o)
			if err == nil || out != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, %v; want an error containing %q", out, err, tc.want)
			}
		})
	}
	// Unsafe lifts the limits (checked without running).
	o := base
	o.Rate, o.Unsafe = 5000, true
	if _, err := resolve(o); err != nil {
		t.Fatalf("Unsafe: %v", err)
	}
}
