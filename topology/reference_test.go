package topology_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/suites/seq"
	"github.com/keyrace/keyrace/topology"
	"github.com/keyrace/keyrace/topology/topotest"
	"github.com/keyrace/keyrace/wire"
)

// TestReferenceTopology starts two reference replicas with PostgreSQL and
// Redis in Docker, disrupts them one way after another, and checks that
// they stay correct and come back, then that Close leaves nothing behind.
func TestReferenceTopology(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	runID := "test-" + seq.NewRunID()
	topo := topotest.StartReference(t, ctx, topology.ReferenceOptions{Replicas: 2, RunID: runID})
	t.Logf("started in %s; images %+v", topo.Timings(), topo.Images())

	urls := topo.URLs()
	if len(urls) != 2 {
		t.Fatalf("URLs %v, want 2", urls)
	}
	cs := make([]*client.Client, len(urls))
	for i, u := range urls {
		c, err := client.New(u, topo.MasterKey(), client.WithTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c
	}
	shared := sharedStore(ctx, t, cs[0])

	t.Run("health", func(t *testing.T) {
		for i, c := range cs {
			if _, err := c.Liveliness(ctx); err != nil {
				t.Errorf("replica %d liveliness: %v", i, err)
			}
			r, _, err := c.WithKey("").Readiness(ctx)
			if err != nil || r["status"] != "healthy" || r["coherence"] != "connected" {
				t.Errorf("replica %d readiness %v %v: want healthy with Redis connected", i, r, err)
			}
		}
	})

	t.Run("write on replica 0 visible on replica 1", func(t *testing.T) {
		if !shared {
			t.Skip("replicas keep their own in-memory store until `keyrace serve` uses DATABASE_URL (readiness does not report store postgres yet)")
		}
		team := "topology-" + runID + "-shared"
		if _, _, err := cs[0].NewTeam(ctx, wire.NewTeamRequest{TeamID: team}); err != nil {
			t.Fatalf("create through replica 0: %v", err)
		}
		info, _, err := cs[1].TeamInfo(ctx, team)
		if err != nil || info.TeamInfo.TeamID != team {
			t.Fatalf("team info through replica 1: %+v %v", info, err)
		}
	})

	t.Run("redis paused", func(t *testing.T) {
		target := pair(t, cs, shared)
		mustPass(ctx, t, target, "before the pause")
		if _, err := topo.PauseRedis(ctx); err != nil {
			t.Fatal(err)
		}
		paused := true
		defer func() {
			if paused {
				_, _ = topo.UnpauseRedis(context.WithoutCancel(ctx))
			}
		}()
		// A write is either refused (the reference tier refuses writes it
		// cannot announce: 503, nothing changed) or, if a service accepts
		// it, later decisions must see it. Never a stale decision.
		team := "topology-" + runID + "-paused"
		_, _, err := cs[0].NewTeam(ctx, wire.NewTeamRequest{TeamID: team})
		if ae, ok := client.AsAPIError(err); ok && ae.Status == http.StatusServiceUnavailable {
			if _, _, err := target.Decider.TeamInfo(ctx, team); !isNotFound(err) {
				t.Errorf("a refused write left a trace: team info %v", err)
			}
			r, _, err := cs[0].WithKey("").Readiness(ctx)
			if err != nil || r["status"] != "degraded" {
				t.Errorf("readiness while Redis is paused: %v %v, want degraded", r, err)
			}
		} else if err != nil {
			t.Fatalf("a write while Redis is paused: %v; want success or 503", err)
		} else if _, _, err := target.Decider.TeamInfo(ctx, team); err != nil {
			t.Errorf("an acknowledged write is not seen: %v", err)
		}
		w, err := topo.UnpauseRedis(ctx)
		if err != nil {
			t.Fatal(err)
		}
		paused = false
		if w.Fault != topology.RedisPaused || w.Replica != topology.NotAReplica || w.Open() {
			t.Errorf("window %+v", w)
		}
		eventuallyWrites(ctx, t, cs[0], "after unpause")
		mustPass(ctx, t, target, "after the pause")
	})

	t.Run("replica 0 cut off the private network", func(t *testing.T) {
		if _, err := topo.Disconnect(ctx, 0); err != nil {
			t.Fatal(err)
		}
		cut := true
		defer func() {
			if cut {
				_, _ = topo.Reconnect(context.WithoutCancel(ctx), 0)
			}
		}()
		// Still reachable on its published port (it lives on the public
		// network) but without Redis (and PostgreSQL): writes refused.
		if _, err := cs[0].Liveliness(ctx); err != nil {
			t.Fatalf("a cut-off replica must still answer clients: %v", err)
		}
		_, _, err := cs[0].NewTeam(ctx, wire.NewTeamRequest{TeamID: "topology-" + runID + "-cut"})
		if err == nil {
			t.Error("a replica without Redis (and PostgreSQL) acknowledged a write")
		} else if ae, ok := client.AsAPIError(err); !ok || ae.Status < 500 {
			t.Errorf("write on a cut-off replica: %v, want a 5xx", err)
		}
		// The other replica is untouched.
		if _, _, err := cs[1].NewTeam(ctx, wire.NewTeamRequest{TeamID: "topology-" + runID + "-other"}); err != nil {
			t.Errorf("replica 1 while replica 0 is cut off: %v", err)
		}
		w, err := topo.Reconnect(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		cut = false
		if w.Fault != topology.ReplicaDisconnected || w.Replica != 0 || w.Open() {
			t.Errorf("window %+v", w)
		}
		eventuallyWrites(ctx, t, cs[0], "after reconnect")
		mustPass(ctx, t, pair(t, cs, shared), "after reconnect")
	})

	t.Run("replica 1 killed and restarted", func(t *testing.T) {
		before := topo.URLs()[1]
		if _, err := topo.Kill(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := cs[1].Liveliness(ctx); !errors.Is(err, client.ErrUnreachable) {
			t.Errorf("a killed replica answered: %v", err)
		}
		w, err := topo.Restart(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if w.Fault != topology.ReplicaKilled || w.Replica != 1 || w.Open() {
			t.Errorf("window %+v", w)
		}
		// With a local engine the host port is pinned: same URL.
		if after := topo.URLs()[1]; after != before {
			t.Errorf("replica 1 moved from %s to %s", before, after)
		}
		if _, err := cs[1].Liveliness(ctx); err != nil {
			t.Fatalf("restarted replica: %v", err)
		}
		target := seq.Target{Writer: cs[1], Decider: cs[1], RunID: seq.NewRunID()}
		if shared {
			target.Writer = cs[0]
		}
		mustPass(ctx, t, target, "after the restart")
	})

	ws := topo.Windows()
	want := []topology.Disruption{topology.RedisPaused, topology.ReplicaDisconnected, topology.ReplicaKilled}
	if len(ws) != len(want) {
		t.Fatalf("windows %+v, want %v", ws, want)
	}
	for i, w := range ws {
		if w.Fault != want[i] || w.Open() || w.End.Before(w.Start) || (i > 0 && w.Start.Before(ws[i-1].End)) {
			t.Errorf("window %d: %+v", i, w)
		}
	}

	if err := topo.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	left, err := topology.Leftovers(ctx, topology.LabelRun+"="+runID)
	if err != nil || len(left) != 0 {
		t.Fatalf("after Close: %v %v, want nothing labelled %s=%s", left, err, topology.LabelRun, runID)
	}
}

// TestStartFailureCleansUp makes the replicas miss their readiness deadline
// and checks that the failed start removed everything it had created.
func TestStartFailureCleansUp(t *testing.T) {
	topotest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runID := "test-" + seq.NewRunID()
	topo, err := topology.StartReference(ctx, topology.ReferenceOptions{
		Replicas: 1, RunID: runID, Log: topotest.LogWriter(t),
		Timeouts: topology.Timeouts{Replica: time.Millisecond},
	})
	if err == nil {
		topo.Close(ctx)
		t.Fatal("a replica deadline of 1 ms was met")
	}
	if !strings.Contains(err.Error(), "replica 0") || !strings.Contains(err.Error(), runID) {
		t.Errorf("the error does not say which replica of which run failed: %v", err)
	}
	left, lerr := topology.Leftovers(ctx, topology.LabelRun+"="+runID)
	if lerr != nil || len(left) != 0 {
		t.Fatalf("after a failed start: %v %v, want nothing left", left, lerr)
	}
}

// sharedStore reports whether the replicas share PostgreSQL, from
// /health/readiness.
func sharedStore(ctx context.Context, t *testing.T, c *client.Client) bool {
	t.Helper()
	r, _, err := c.WithKey("").Readiness(ctx)
	if err != nil {
		t.Fatalf("readiness: %v", err)
	}
	t.Logf("replica 0 readiness: store=%v cache=%v", r["store"], r["cache"])
	return r["store"] == "postgres"
}

// pair writes through replica 0 and decides through replica 1 when they
// share a store; otherwise both on replica 0 (the Redis tier is still in
// the path).
func pair(t *testing.T, cs []*client.Client, shared bool) seq.Target {
	t.Helper()
	if shared {
		return seq.Target{Writer: cs[0], Decider: cs[1], RunID: seq.NewRunID()}
	}
	t.Log("no shared store yet: sequences write and decide on replica 0")
	return seq.Target{Writer: cs[0], Decider: cs[0], RunID: seq.NewRunID()}
}

// mustPass runs the seed and request-time sequences and fails t on any
// violation.
func mustPass(ctx context.Context, t *testing.T, target seq.Target, when string) {
	t.Helper()
	seqs := append(seq.Seed(), seq.TeamModels()...)
	seqs = append(seqs, seq.TeamBlock(), seq.TeamBudget())
	rs, err := seq.Run(ctx, target, seqs, nil)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	for _, r := range rs {
		if v := r.Verdict(); v != seq.Pass {
			t.Errorf("%s: %s: %s (%+v)", when, r.Sequence, v, r.Decisive())
		}
	}
}

// eventuallyWrites polls until a write through c is acknowledged.
func eventuallyWrites(ctx context.Context, t *testing.T, c *client.Client, when string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; ; n++ {
		_, _, err := c.NewTeam(ctx, wire.NewTeamRequest{TeamID: "topology-recover-" + seq.NewRunID()})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not recover %s within 20 s: %v", when, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func isNotFound(err error) bool {
	ae, ok := client.AsAPIError(err)
	return ok && ae.Status == http.StatusNotFound
}
