package pgstore_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/keyrace/keyrace/client"
	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/reference-impl/pgstore/pgtest"
	"github.com/keyrace/keyrace/suites/seq"
	"github.com/keyrace/keyrace/wire"
)

const masterKey = "sk-pgstore-test"

// services starts n reference services, each with its own store (pool) on
// one database and its own cache, as separate processes would be.
func services(t *testing.T, n int, faults string) []*client.Client {
	t.Helper()
	url := pgtest.Shared(t).NewDatabase(t)
	set, _, err := refimpl.ParseFaultSpec(faults)
	if err != nil {
		t.Fatal(err)
	}
	var out []*client.Client
	for range n {
		r, err := refimpl.Start(refimpl.Config{MasterKey: masterKey, Store: openDB(t, url), Faults: set})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		c, err := client.New(r.URL, masterKey)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestServiceSeedAcrossReplicas: the seed sequences, writing through one
// replica and deciding through the other, pass on the correct build: the
// key-vs-team validation reads PostgreSQL, which has the write.
func TestServiceSeedAcrossReplicas(t *testing.T) {
	cs := services(t, 2, "")
	for _, s := range seq.Seed() {
		r, err := s.Run(ctxT(t), seq.Target{Writer: cs[0], Decider: cs[1], RunID: seq.NewRunID()})
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if v := r.Verdict(); v != seq.Pass {
			t.Fatalf("%s across two replicas on PostgreSQL: %s", s.Name, v)
		}
	}
	ready, _, err := cs[1].Readiness(ctxT(t))
	if err != nil || ready["store"] != "postgres" || ready["db"] != "connected" {
		t.Fatalf("readiness: %v, %v", ready, err)
	}
}

// TestServiceMemberAddAcrossReplicas: concurrent /team/member_add through
// two replicas leave every member on the correct build, and lose some
// with the lost-update fault (its PutTeam path overwrites on PostgreSQL
// as it does in memory).
func TestServiceMemberAddAcrossReplicas(t *testing.T) {
	const adds = 16
	run := func(t *testing.T, faults string) int {
		cs := services(t, 2, faults)
		ctx := ctxT(t)
		if _, _, err := cs[0].NewTeam(ctx, wire.NewTeamRequest{TeamID: "t1"}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, adds)
		for i := range adds {
			wg.Go(func() {
				_, _, errs[i] = cs[i%2].MemberAdd(ctx, wire.TeamMemberAddRequest{TeamID: "t1",
					Member: wire.MemberField{Members: []wire.Member{{UserID: fmt.Sprint("u", i), Role: "user"}}}})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("member_add: %v", err)
			}
		}
		info, _, err := cs[1].TeamInfo(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		return len(info.TeamInfo.MembersWithRoles)
	}
	t.Run("correct", func(t *testing.T) {
		if n := run(t, ""); n != adds {
			t.Fatalf("%d members after %d concurrent adds", n, adds)
		}
	})
	t.Run("lost-update", func(t *testing.T) {
		if n := run(t, "lost-update"); n == adds {
			t.Fatalf("the lost-update fault lost nothing: %d members after %d concurrent adds", n, adds)
		}
	})
}
