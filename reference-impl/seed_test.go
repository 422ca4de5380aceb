package refimpl

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/suites/seq"
	"github.com/keyrace/keyrace/wire"
)

func runSeed(t *testing.T, cfg Config) []seq.Result {
	t.Helper()
	_, c := startTest(t, cfg)
	target := seq.Target{Writer: c, Decider: c, RunID: seq.NewRunID()}
	res, err := seq.Run(ctxT(t), target, seq.Seed(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func verdicts(rs []seq.Result) []seq.Verdict {
	var out []seq.Verdict
	for _, r := range rs {
		out = append(out, r.Verdict())
	}
	return out
}

// TestSeedEndToEnd runs the seed sequence and its inverse over HTTP on each
// build: the correct one passes both, the faulty one reproduces the bug in
// both directions, and with a TTL of 0 the fault cannot reproduce.
func TestSeedEndToEnd(t *testing.T) {
	zero := time.Duration(0)
	cases := []struct {
		name string
		cfg  Config
		want []seq.Verdict
	}{
		{"correct build", Config{}, []seq.Verdict{seq.Pass, seq.Pass}},
		{"correct build, TTL 0", Config{CacheTTL: &zero}, []seq.Verdict{seq.Pass, seq.Pass}},
		{"stale-object-permission", Config{Faults: FaultSet{FaultStaleObjectPermission: true}}, []seq.Verdict{seq.StaleDeny, seq.StaleAllow}},
		{"stale-object-permission, TTL 0", Config{CacheTTL: &zero, Faults: FaultSet{FaultStaleObjectPermission: true}}, []seq.Verdict{seq.Pass, seq.Pass}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runSeed(t, tc.cfg)
			if got := verdicts(res); !slices.Equal(got, tc.want) {
				t.Fatalf("verdicts %v, want %v", got, tc.want)
			}
			if tc.want[0] == seq.StaleDeny {
				d := res[0].Decisive()
				ae := client.ParseError(d.Exchange.Status, d.Exchange.ResponseBody)
				if ae.NotAllowed == nil || !slices.Equal(ae.NotAllowed.Allowed, []string{"G1"}) {
					t.Fatalf("the stale 403 must list the pre-update groups ['G1']: %s", d.Exchange.ResponseBody)
				}
			}
		})
	}
}

// TestStaleWindowCountsFromFirstCaching pins the fault to LiteLLM's
// mechanism: the entry's deadline is set when it is first cached and a
// later rewrite of the record does not move it.
func TestStaleWindowCountsFromFirstCaching(t *testing.T) {
	ttl := 300 * time.Millisecond
	s, c := startTest(t, Config{CacheTTL: &ttl, Faults: FaultSet{FaultStaleObjectPermission: true}})
	ctx := ctxT(t)
	mustTeam(t, c, wire.NewTeamRequest{TeamID: "t", ObjectPermission: groups("G1")})
	cachedAt := time.Now()
	if _, _, err := c.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: "t", ObjectPermission: groups("G1")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: "t", ObjectPermission: wire.Some(groups("G1", "G2"))}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: "t", ObjectPermission: groups("G2")})
	if time.Since(cachedAt) < ttl {
		apiErr(t, err, 403)
	}
	// Poll until the deadline set at first caching has passed; the request
	// must then succeed even though the record was rewritten after caching.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err = c.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: "t", ObjectPermission: groups("G2")})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still stale %v after first caching (TTL %v): %v", time.Since(cachedAt), ttl, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if el := time.Since(cachedAt); el < ttl {
		t.Fatalf("the stale window closed after %v, before the TTL %v", el, ttl)
	}
	_ = s
}

// TestConcurrentUpdatesOfDifferentFields: two /team/update calls that touch
// different object_permission fields at the same time must both persist.
func TestConcurrentUpdatesOfDifferentFields(t *testing.T) {
	_, c := startTest(t, Config{})
	ctx := ctxT(t)
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("t%d", i)
		mustTeam(t, c, wire.NewTeamRequest{TeamID: id, ObjectPermission: groups("G0")})
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for _, p := range []*wire.PermissionUpdate{
			{MCPAccessGroups: wire.List("G1")}, {MCPServers: wire.List("s1")}, {VectorStores: wire.List("v1")},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := c.UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: id, ObjectPermission: wire.Some(p)})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		info, _, err := c.TeamInfo(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		p := info.TeamInfo.ObjectPermission
		if !slices.Equal(p.MCPAccessGroups, []string{"G1"}) || !slices.Equal(p.MCPServers, []string{"s1"}) || !slices.Equal(p.VectorStores, []string{"v1"}) {
			t.Fatalf("team %s lost an update: %+v", id, p)
		}
	}
}

// TestParallelKeyGenerate: N parallel /key/generate give N distinct keys.
func TestParallelKeyGenerate(t *testing.T) {
	_, c := startTest(t, Config{})
	ctx := ctxT(t)
	mustTeam(t, c, wire.NewTeamRequest{TeamID: "t", ObjectPermission: groups("G1")})
	const n = 64
	keys := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := c.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: "t", ObjectPermission: groups("G1")})
			if err == nil {
				keys[i] = k.Key
			}
		}()
	}
	wg.Wait()
	slices.Sort(keys)
	if keys[0] == "" || len(slices.Compact(keys)) != n {
		t.Fatalf("want %d distinct keys, got %d (first %q)", n, len(slices.Compact(keys)), keys[0])
	}
	info, _, _ := c.TeamInfo(ctx, "t")
	if len(info.Keys) != n {
		t.Fatalf("team/info lists %d keys, want %d", len(info.Keys), n)
	}
}
