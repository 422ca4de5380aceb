package suites

import (
	"context"
	"strings"
	"testing"

	"github.com/keyrace/keyrace/client"
	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/suites/seq"
)

// TestDescribeResultNamesTheWriteBeforeTheViolation runs the block/unblock
// sequence (two writes) against stale-team-cache, where the decision after
// the first write (block) is the one that fails: the evidence must name
// that write, not the last one of the sequence.
func TestDescribeResultNamesTheWriteBeforeTheViolation(t *testing.T) {
	faults, err := refimpl.ParseFaults(string(refimpl.FaultStaleTeamCache))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := refimpl.Start(refimpl.Config{MasterKey: "sk-evidence", Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	c, err := client.New(svc.URL, "sk-evidence")
	if err != nil {
		t.Fatal(err)
	}
	res, err := seq.TeamBlock().Run(context.Background(), seq.Target{Writer: c, Decider: c, RunID: seq.NewRunID()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict() != seq.StaleAllow {
		t.Fatalf("verdict %s, want %s (the fault serves a blocked team)", res.Verdict(), seq.StaleAllow)
	}
	got := describeResult(res)
	if want := `first violation: decide: mock call after block [stale-allow]`; !strings.Contains(got, want) {
		t.Errorf("evidence lacks %q:\n%s", want, got)
	}
	if want := `after "write: block team" was acknowledged`; !strings.Contains(got, want) {
		t.Errorf("evidence does not name the block as the write the violation missed (%q):\n%s", want, got)
	}
	if want := "- write: block team [acknowledged]"; !strings.Contains(got, want) {
		t.Errorf("evidence does not show the block as an acknowledged write (%q):\n%s", want, got)
	}
	if !strings.Contains(got, "/team/block") {
		t.Errorf("evidence does not show the block request:\n%s", got)
	}
}
