package scenarios

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

const testMasterKey = "sk-keyrace-scenarios-test"

// startTarget starts the reference service in-process with the given
// faults ("" for the correct build) on n replicas sharing one store, and
// returns their URLs.
func startTarget(t testing.TB, n int, faults string, cfg refimpl.Config) []string {
	t.Helper()
	set, params, err := refimpl.ParseFaultSpec(faults)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MasterKey, cfg.Faults, cfg.InvalidationLag = testMasterKey, set, params.InvalidationLag
	if n == 1 {
		r, err := refimpl.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return []string{r.URL}
	}
	rs, err := refimpl.StartReplicas(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	return rs.URLs()
}

// short are the options of a test run: at most 2 s at a modest rate, so
// that -race CI stays fast.
func short(name string, urls []string, seed int64) Options {
	return Options{
		Targets: urls, MasterKey: testMasterKey, Seed: seed,
		Duration: 1500 * time.Millisecond,
	}
}

// mustRun loads the scenario, caps its rates for tests, runs it and fails
// the test on any error.
func mustRun(t testing.TB, name string, o Options) *Outcome {
	t.Helper()
	sc, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	o.Scenario = sc
	if o.Rate == 0 && sc.Pacer.Type != PacerTTLSweep && sc.Pacer.Rate > 200 {
		o.Rate = 200
	}
	if o.Teams == 0 {
		o.Teams = min(sc.Teams, 8)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
	t.Logf("%s: %d ops in %v (%.0f/s), streams %v, outcomes %v, verdict %s %s",
		name, out.Sent, out.Elapsed.Round(time.Millisecond), out.Throughput, out.Streams, out.Outcomes,
		out.Check.Verdict, describe(out.Check))
	return out
}

func describe(r check.Result) string {
	var parts []string
	for _, k := range check.Kinds {
		if r.Counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, r.Counts[k]))
		}
	}
	if len(r.Violations) > 0 {
		parts = append(parts, "first: "+r.Violations[0].Reason)
	}
	return strings.Join(parts, " ")
}

// opsOf returns a team's operations of the given stream, in id order.
func opsOf(h history.History, team, stream string) []history.Op {
	var out []history.Op
	for _, op := range h.Ops {
		if op.Team == team && (stream == "" || op.Stream == stream) {
			out = append(out, op)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
