package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/reference-impl/pgstore"
	"github.com/keyrace/keyrace/reference-impl/pgstore/pgtest"
	"github.com/keyrace/keyrace/reference-impl/storetest"
	"github.com/keyrace/keyrace/wire"
)

// Two Stores on one database are two connection pools: two replicas, as
// far as the store can tell.
func twoReplicas(t testing.TB) (*pgstore.Store, *pgstore.Store) {
	t.Helper()
	url := pgtest.Shared(t).NewDatabase(t)
	return openDB(t, url), openDB(t, url)
}

// TestReplicasSeeEachOther: a write acknowledged by one replica is what
// the other reads next, for every kind of write.
func TestReplicasSeeEachOther(t *testing.T) {
	ctx := ctxT(t)
	a, b := twoReplicas(t)
	created, err := a.CreateTeam(ctx, team("t1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetTeam(ctx, "t1"); err != nil || got.Rev != created.Rev {
		t.Fatalf("B after A's create: rev %d, %v; want rev %d", got.Rev, err, created.Rev)
	}
	updated, err := b.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error {
		tm.Perm.MCPAccessGroups = []string{"G1", "G2"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.GetTeam(ctx, "t1")
	if err != nil || !slices.Equal(got.Perm.MCPAccessGroups, []string{"G1", "G2"}) || got.Rev != updated.Rev {
		t.Fatalf("A after B's update: groups %v rev %d (%v); want [G1 G2] rev %d", got.Perm.MCPAccessGroups, got.Rev, err, updated.Rev)
	}
	if p, err := a.GetPerm(ctx, updated.PermID); err != nil || !slices.Equal(p.MCPAccessGroups, []string{"G1", "G2"}) {
		t.Fatalf("A's GetPerm after B's update: %v, %v", p, err)
	}
	key := refimpl.Key{KeyRow: refimpl.KeyRow{Token: "tok1", Alias: "k1", TeamID: "t1"}}
	if _, err := a.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateKey(ctx, refimpl.Key{KeyRow: refimpl.KeyRow{Token: "tok2", Alias: "k1"}}); !errors.Is(err, refimpl.ErrAliasTaken) {
		t.Fatalf("B creating A's alias: want ErrAliasTaken, got %v", err)
	}
	if k, err := b.GetKeyByAlias(ctx, "k1"); err != nil || k.Token != "tok1" {
		t.Fatalf("B's GetKeyByAlias after A's create: %v, %v", k.Token, err)
	}
	if _, tm, err := b.AddSpend(ctx, "tok1", 2); err != nil || tm.Spend != 2 {
		t.Fatalf("B's AddSpend: %v, %v", tm, err)
	}
	if k, err := a.GetKey(ctx, "tok1"); err != nil || k.Spend != 2 {
		t.Fatalf("A after B's AddSpend: spend %v, %v", k.Spend, err)
	}
	if _, _, err := b.DeleteTeams(ctx, []string{"t1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetTeam(ctx, "t1"); !errors.Is(err, refimpl.ErrNotFound) {
		t.Fatalf("A after B's delete: %v", err)
	}
	if _, err := a.PutTeam(ctx, got); !errors.Is(err, refimpl.ErrNotFound) {
		t.Fatalf("A's PutTeam after B's delete: want TeamNotFoundError, got %v", err)
	}
}

// TestReplicasConcurrentUpdateTeam: merges sent through both replicas at
// once, on one team, all persist: the row lock is in the database, not in
// a replica.
func TestReplicasConcurrentUpdateTeam(t *testing.T) {
	ctx := ctxT(t)
	a, b := twoReplicas(t)
	if _, err := a.CreateTeam(ctx, team("t1")); err != nil {
		t.Fatal(err)
	}
	const perReplica = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*perReplica+2)
	start := make(chan struct{})
	for r, s := range []*pgstore.Store{a, b} {
		for i := range perReplica {
			wg.Go(func() {
				<-start
				_, err := s.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error {
					tm.Members = append(tm.Members, wire.Member{UserID: fmt.Sprintf("r%d-u%d", r, i), Role: "user"})
					tm.Metadata[fmt.Sprintf("r%d-k%d", r, i)] = float64(i)
					return nil
				})
				errs <- err
			})
		}
	}
	wg.Go(func() {
		<-start
		_, err := a.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error { tm.Models = []string{"m-a"}; return nil })
		errs <- err
	})
	wg.Go(func() {
		<-start
		_, err := b.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error {
			tm.Perm.MCPAccessGroups = append(tm.Perm.MCPAccessGroups, "G2")
			return nil
		})
		errs <- err
	})
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("UpdateTeam: %v", err)
		}
	}
	for _, s := range []*pgstore.Store{a, b} {
		got, err := s.GetTeam(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Members) != 2*perReplica || len(got.Metadata) != 2*perReplica {
			t.Fatalf("lost updates: %d members and %d metadata entries, want %d", len(got.Members), len(got.Metadata), 2*perReplica)
		}
		if !slices.Equal(got.Models, []string{"m-a"}) || !slices.Equal(got.Perm.MCPAccessGroups, []string{"G1", "G2"}) {
			t.Fatalf("lost a field update: models %v groups %v", got.Models, got.Perm.MCPAccessGroups)
		}
	}
}

// TestContractAcrossReplicas runs the whole Store contract on a store
// whose every call goes to the next of two replicas in turn: what one
// wrote, the other reads, and concurrent merges land on both.
func TestContractAcrossReplicas(t *testing.T) {
	storetest.Run(t, func(t *testing.T) refimpl.Store {
		url := pgtest.Shared(t).NewSchema(t)
		return &roundRobin{stores: []refimpl.Store{openDB(t, url), openDB(t, url)}}
	})
}

// roundRobin sends each call to the next store.
type roundRobin struct {
	stores []refimpl.Store
	n      atomic.Uint64
}

func (r *roundRobin) next() refimpl.Store {
	return r.stores[(r.n.Add(1)-1)%uint64(len(r.stores))]
}

func (r *roundRobin) CreateTeam(ctx context.Context, t refimpl.Team) (refimpl.Team, error) {
	return r.next().CreateTeam(ctx, t)
}
func (r *roundRobin) GetTeam(ctx context.Context, id string) (refimpl.Team, error) {
	return r.next().GetTeam(ctx, id)
}
func (r *roundRobin) GetPerm(ctx context.Context, id string) (*refimpl.Perm, error) {
	return r.next().GetPerm(ctx, id)
}
func (r *roundRobin) UpdateTeam(ctx context.Context, id string, fn func(*refimpl.Team) error) (refimpl.Team, error) {
	return r.next().UpdateTeam(ctx, id, fn)
}
func (r *roundRobin) PutTeam(ctx context.Context, t refimpl.Team) (refimpl.Team, error) {
	return r.next().PutTeam(ctx, t)
}
func (r *roundRobin) ListTeams(ctx context.Context) ([]refimpl.Team, error) {
	return r.next().ListTeams(ctx)
}
func (r *roundRobin) DeleteTeams(ctx context.Context, ids []string) ([]refimpl.Team, []refimpl.Key, error) {
	return r.next().DeleteTeams(ctx, ids)
}
func (r *roundRobin) CreateKey(ctx context.Context, k refimpl.Key) (refimpl.Key, error) {
	return r.next().CreateKey(ctx, k)
}
func (r *roundRobin) GetKey(ctx context.Context, token string) (refimpl.Key, error) {
	return r.next().GetKey(ctx, token)
}
func (r *roundRobin) GetKeyByAlias(ctx context.Context, alias string) (refimpl.Key, error) {
	return r.next().GetKeyByAlias(ctx, alias)
}
func (r *roundRobin) UpdateKey(ctx context.Context, token string, fn func(*refimpl.Key) error) (refimpl.Key, error) {
	return r.next().UpdateKey(ctx, token, fn)
}
func (r *roundRobin) ListKeys(ctx context.Context, f refimpl.KeyFilter, offset, limit int) ([]refimpl.Key, int, error) {
	return r.next().ListKeys(ctx, f, offset, limit)
}
func (r *roundRobin) AddSpend(ctx context.Context, token string, cost float64) (refimpl.Key, *refimpl.Team, error) {
	return r.next().AddSpend(ctx, token, cost)
}
func (r *roundRobin) KeysOfTeam(ctx context.Context, teamID string) ([]refimpl.Key, error) {
	return r.next().KeysOfTeam(ctx, teamID)
}
func (r *roundRobin) DeleteKeys(ctx context.Context, tokens []string) ([]refimpl.Key, error) {
	return r.next().DeleteKeys(ctx, tokens)
}
func (r *roundRobin) Ready(ctx context.Context) error { return r.next().Ready(ctx) }
func (r *roundRobin) Kind() string                    { return r.stores[0].Kind() }
