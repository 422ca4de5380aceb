package refimpl

import (
	"testing"
	"time"

	"github.com/keyrace/keyrace/suites/seq"
)

func TestParseFaultSpec(t *testing.T) {
	set, p, err := ParseFaultSpec(" stale-team-cache , invalidation-lag=5ms")
	if err != nil || !set.Has(FaultStaleTeamCache) || !set.Has(FaultInvalidationLag) || p.InvalidationLag != 5*time.Millisecond {
		t.Fatalf("got %v %+v %v", set, p, err)
	}
	if got := set.Spec(p); got != "invalidation-lag=5ms,stale-team-cache" {
		t.Errorf("Spec = %q", got)
	}
	for _, bad := range []string{"nope", "invalidation-lag", "invalidation-lag=-1s", "invalidation-lag=soon", "lost-update=3"} {
		if _, _, err := ParseFaultSpec(bad); err == nil {
			t.Errorf("ParseFaultSpec(%q) accepted", bad)
		}
	}
	if _, err := ParseFaults("invalidation-lag=5ms"); err == nil {
		t.Error("ParseFaults must refuse a parameter it cannot return")
	}
	if _, err := New(Config{MasterKey: "k", Faults: FaultSet{FaultInvalidationLag: true}}); err == nil {
		t.Error("invalidation-lag without a lag was accepted")
	}
	lio := FaultSet{FaultLocalInvalidationOnly: true}
	if _, err := New(Config{MasterKey: "k", Faults: lio}); err == nil {
		t.Error("local-invalidation-only on a lone replica (no peers, no Redis) was accepted")
	}
	if _, err := New(Config{MasterKey: "k", Faults: lio, Peers: NewPeers()}); err != nil {
		t.Errorf("local-invalidation-only with peers: %v", err)
	}
	if lio.CheckReplicas(1) == nil || lio.CheckReplicas(2) != nil || (FaultSet{}).CheckReplicas(1) != nil {
		t.Error("CheckReplicas: want an error for local-invalidation-only on 1 replica only")
	}
}

// TestInvalidationLag: with the fault, a decision inside the lag window
// after a write sees the old state (both directions); once the lag has
// passed it sees the write. The correct build is never stale.
func TestInvalidationLag(t *testing.T) {
	lag := 400 * time.Millisecond
	_, c := startTest(t, Config{Faults: FaultSet{FaultInvalidationLag: true}, InvalidationLag: lag})
	target := seq.Target{Writer: c, Decider: c, RunID: seq.NewRunID()}
	res, err := seq.Run(ctxT(t), target, seq.Seed(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := verdicts(res); got[0] != seq.StaleDeny || got[1] != seq.StaleAllow {
		t.Fatalf("inside the lag: verdicts %v, want stale-deny, stale-allow", got)
	}
	// Under a bound longer than the lag, the same sequences pass.
	target.Bound, target.RunID = lag+200*time.Millisecond, seq.NewRunID()
	res, err = seq.Run(ctxT(t), target, seq.Seed(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := verdicts(res); got[0] != seq.Pass || got[1] != seq.Pass {
		t.Fatalf("bounded by more than the lag: verdicts %v, want pass, pass", got)
	}
}
