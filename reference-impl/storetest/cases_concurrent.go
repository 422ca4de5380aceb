package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/wire"
)

func init() {
	register(
		Case{"ConcurrentUpdateTeamFields", concurrentUpdateTeamFields},
		Case{"ConcurrentMemberAppends", concurrentMemberAppends},
		Case{"ConcurrentUpdateKeyFields", concurrentUpdateKeyFields},
		Case{"ConcurrentAddSpend", concurrentAddSpend},
		Case{"ConcurrentCreateSameID", concurrentCreateSameID},
		Case{"ConcurrentCreateKeyDeleteTeam", concurrentCreateKeyDeleteTeam},
		Case{"ConcurrentPutTeamDeleteTeam", concurrentPutTeamDeleteTeam},
	)
}

// Sizes of the concurrency cases: enough goroutines to overlap inside any
// unlocked read-modify-write window, few enough for a 2-core CI machine.
const (
	rounds  = 5
	writers = 24
)

// together runs fns at once (released by one barrier) and returns their
// errors, in order.
func together(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func noErrors(t testing.TB, what string, errs []error) {
	t.Helper()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// concurrentUpdateTeamFields: concurrent UpdateTeam calls that change
// different fields (scalars, lists, map entries, the relation) all
// persist: UpdateTeam merges under the team's lock.
func concurrentUpdateTeamFields(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	for r := range rounds {
		id := fmt.Sprint("t", r)
		mustTeam(t, s, fullTeam(id))
		update := func(fn func(*refimpl.Team)) func() error {
			return func() error {
				_, err := s.UpdateTeam(ctx, id, func(tm *refimpl.Team) error { fn(tm); return nil })
				return err
			}
		}
		fns := []func() error{
			update(func(tm *refimpl.Team) { tm.Alias = "renamed" }),
			update(func(tm *refimpl.Team) { tm.Models = append(tm.Models, "added-model") }),
			update(func(tm *refimpl.Team) { tm.MaxBudget = ptr(99.0) }),
			update(func(tm *refimpl.Team) { tm.Blocked = false }),
			update(func(tm *refimpl.Team) { tm.Members = append(tm.Members, wire.Member{UserID: "new", Role: "user"}) }),
			update(func(tm *refimpl.Team) { tm.MemberBudgets["new"] = 1 }),
			update(func(tm *refimpl.Team) { tm.Perm.MCPAccessGroups = append(tm.Perm.MCPAccessGroups, "G2") }),
			update(func(tm *refimpl.Team) { tm.Perm.Agents = append(tm.Perm.Agents, "agent-2") }),
		}
		for i := range writers - len(fns) {
			fns = append(fns, update(func(tm *refimpl.Team) { tm.Metadata[fmt.Sprint("k", i)] = float64(i) }))
		}
		noErrors(t, "concurrent UpdateTeam", together(fns...))
		got := getTeam(t, s, id)
		switch {
		case got.Alias != "renamed":
			t.Fatalf("round %d: lost the alias update: %q", r, got.Alias)
		case !slices.Contains(got.Models, "added-model"):
			t.Fatalf("round %d: lost the models update: %v", r, got.Models)
		case got.MaxBudget == nil || *got.MaxBudget != 99:
			t.Fatalf("round %d: lost the budget update: %v", r, got.MaxBudget)
		case got.Blocked:
			t.Fatalf("round %d: lost the unblock", r)
		case len(got.Members) != 4:
			t.Fatalf("round %d: lost the member append: %v", r, got.Members)
		case got.MemberBudgets["new"] != 1:
			t.Fatalf("round %d: lost the member budget: %v", r, got.MemberBudgets)
		case !slices.Equal(got.Perm.MCPAccessGroups, []string{"G1", "G2"}):
			t.Fatalf("round %d: lost the relation update: %v", r, got.Perm.MCPAccessGroups)
		case !slices.Equal(got.Perm.Agents, []string{"agent-1", "agent-2"}):
			t.Fatalf("round %d: lost the second relation update: %v", r, got.Perm.Agents)
		}
		for i := range writers - 8 {
			if got.Metadata[fmt.Sprint("k", i)] != float64(i) {
				t.Fatalf("round %d: lost metadata entry k%d: %v", r, i, got.Metadata)
			}
		}
	}
}

// concurrentMemberAppends: N concurrent member appends through UpdateTeam
// leave N members (what /team/member_add relies on).
func concurrentMemberAppends(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	for r := range rounds {
		id := fmt.Sprint("t", r)
		mustTeam(t, s, plainTeam(id, "a"))
		fns := make([]func() error, writers)
		for i := range fns {
			fns[i] = func() error {
				_, err := s.UpdateTeam(ctx, id, func(tm *refimpl.Team) error {
					tm.Members = append(tm.Members, wire.Member{UserID: fmt.Sprint("u", i), Role: "user"})
					return nil
				})
				return err
			}
		}
		noErrors(t, "concurrent member appends", together(fns...))
		got := getTeam(t, s, id)
		var ids []string
		for _, m := range got.Members {
			ids = append(ids, m.UserID)
		}
		slices.Sort(ids)
		want := make([]string, writers)
		for i := range want {
			want[i] = fmt.Sprint("u", i)
		}
		slices.Sort(want)
		sameList(t, fmt.Sprint("round ", r, ": members after ", writers, " concurrent appends"), want, ids)
	}
}

// concurrentUpdateKeyFields: concurrent UpdateKey calls that change
// different fields all persist (UpdateKey merges under the store's lock).
func concurrentUpdateKeyFields(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	for r := range rounds {
		k := mustKey(t, s, fullKey(fmt.Sprint("s", r), "", fmt.Sprint("a", r)))
		update := func(fn func(*refimpl.Key)) func() error {
			return func() error {
				_, err := s.UpdateKey(ctx, k.Token, func(k *refimpl.Key) error { fn(k); return nil })
				return err
			}
		}
		fns := []func() error{
			update(func(k *refimpl.Key) { k.Models = append(k.Models, "added-model") }),
			update(func(k *refimpl.Key) { k.Blocked = false }),
			update(func(k *refimpl.Key) { k.Expires = nil }),
			update(func(k *refimpl.Key) { k.Perm.MCPAccessGroups = append(k.Perm.MCPAccessGroups, "G2") }),
		}
		for i := range writers - len(fns) {
			fns = append(fns, update(func(k *refimpl.Key) { k.Metadata[fmt.Sprint("k", i)] = float64(i) }))
		}
		noErrors(t, "concurrent UpdateKey", together(fns...))
		got := getKey(t, s, k.Token)
		if !slices.Contains(got.Models, "added-model") || got.Blocked || got.Expires != nil ||
			!slices.Equal(got.Perm.MCPAccessGroups, []string{"G1", "G2"}) {
			t.Fatalf("round %d: lost a field update: models %v blocked %v expires %v groups %v",
				r, got.Models, got.Blocked, got.Expires, got.Perm.MCPAccessGroups)
		}
		for i := range writers - 4 {
			if got.Metadata[fmt.Sprint("k", i)] != float64(i) {
				t.Fatalf("round %d: lost metadata entry k%d: %v", r, i, got.Metadata)
			}
		}
	}
}

// concurrentAddSpend: concurrent charges to two keys of one team all add
// up, on each key and on the team.
func concurrentAddSpend(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	mustTeam(t, s, plainTeam("t1", "a"))
	a := mustKey(t, s, plainKey("sa", "t1", "u", ""))
	b := mustKey(t, s, plainKey("sb", "t1", "u", ""))
	fns := make([]func() error, writers)
	for i := range fns {
		tok := a.Token
		if i%2 == 1 {
			tok = b.Token
		}
		fns[i] = func() error { _, _, err := s.AddSpend(ctx, tok, 0.25); return err }
	}
	noErrors(t, "concurrent AddSpend", together(fns...))
	half := float64(writers/2) * 0.25
	if ga, gb, gt := getKey(t, s, a.Token).Spend, getKey(t, s, b.Token).Spend, getTeam(t, s, "t1").Spend; ga != half || gb != half || gt != 2*half {
		t.Fatalf("spend after %d charges of 0.25: keys %v and %v (want %v each), team %v (want %v)",
			writers, ga, gb, half, gt, 2*half)
	}
}

// concurrentCreateSameID: of concurrent creates of one team id, or of keys
// with one alias, exactly one succeeds; the others get ErrExists or
// ErrAliasTaken.
func concurrentCreateSameID(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	fns := make([]func() error, writers)
	for i := range fns {
		fns[i] = func() error {
			_, err := s.CreateTeam(ctx, plainTeam("same", fmt.Sprint("alias-", i)))
			return err
		}
	}
	exactlyOne(t, "concurrent CreateTeam of one id", together(fns...), refimpl.ErrExists)
	for i := range fns {
		fns[i] = func() error {
			_, err := s.CreateKey(ctx, plainKey(fmt.Sprint("s", i), "same", "u", "same-alias"))
			return err
		}
	}
	exactlyOne(t, "concurrent CreateKey with one alias", together(fns...), refimpl.ErrAliasTaken)
	_, total, err := s.ListKeys(ctx, refimpl.KeyFilter{}, 0, 100)
	if err != nil || total != 1 {
		t.Fatalf("keys after the race: %d, %v", total, err)
	}
}

func exactlyOne(t testing.TB, what string, errs []error, loser error) {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, loser):
			t.Fatalf("%s: want nil or %v, got %v", what, loser, err)
		}
	}
	if won != 1 {
		t.Fatalf("%s: %d succeeded, want exactly 1", what, won)
	}
}

// concurrentCreateKeyDeleteTeam: keys created while their team is being
// deleted either fail (team gone) or are deleted with it; no key outlives
// its team.
func concurrentCreateKeyDeleteTeam(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	for r := range rounds {
		id := fmt.Sprint("t", r)
		mustTeam(t, s, plainTeam(id, "a"))
		var deleted []refimpl.Key
		fns := []func() error{func() error {
			var err error
			_, deleted, err = s.DeleteTeams(ctx, []string{id})
			return err
		}}
		created := make([]string, writers)
		for i := range writers - 1 {
			fns = append(fns, func() error {
				k, err := s.CreateKey(ctx, fullKey(fmt.Sprint(id, "-", i), id, fmt.Sprint(id, "-a", i)))
				var nf *refimpl.TeamNotFoundError
				if errors.As(err, &nf) && nf.ID == id {
					return nil // too late: the team is gone
				}
				created[i] = k.Token
				return err
			})
		}
		noErrors(t, "CreateKey racing DeleteTeams", together(fns...))
		gone := tokensOf(deleted)
		for _, tok := range created {
			if tok == "" {
				continue
			}
			if !slices.Contains(gone, tok) {
				t.Fatalf("round %d: key %s was acknowledged but not deleted with its team", r, tok)
			}
			if _, err := s.GetKey(ctx, tok); !errors.Is(err, refimpl.ErrNotFound) {
				t.Fatalf("round %d: a key outlived its team: %v", r, err)
			}
		}
		if _, total, err := s.ListKeys(ctx, refimpl.KeyFilter{TeamID: id}, 0, 100); err != nil || total != 0 {
			t.Fatalf("round %d: %d keys of the deleted team, %v", r, total, err)
		}
	}
}

// concurrentPutTeamDeleteTeam: a PutTeam racing DeleteTeams either lands
// before the delete or fails with TeamNotFoundError; the team stays gone.
func concurrentPutTeamDeleteTeam(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	for r := range rounds {
		id := fmt.Sprint("t", r)
		mustTeam(t, s, fullTeam(id))
		read := getTeam(t, s, id)
		fns := []func() error{func() error { _, _, err := s.DeleteTeams(ctx, []string{id}); return err }}
		for range writers - 1 {
			fns = append(fns, func() error {
				_, err := s.PutTeam(ctx, read)
				var nf *refimpl.TeamNotFoundError
				if errors.As(err, &nf) && nf.ID == id {
					return nil
				}
				return err
			})
		}
		noErrors(t, "PutTeam racing DeleteTeams", together(fns...))
		_, err := s.GetTeam(ctx, id)
		wantTeamNotFound(t, fmt.Sprint("round ", r, ": GetTeam after the race"), err, id)
		if _, err := s.GetPerm(ctx, read.PermID); !errors.Is(err, refimpl.ErrNotFound) {
			t.Fatalf("round %d: the deleted team's record survived: %v", r, err)
		}
	}
}
