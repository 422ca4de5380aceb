package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

// The tester's own test: each mutant breaks one clause of the contract on
// top of a correct MemStore, and the cases that check that clause must
// fail on it. (The correct MemStore passing every case is
// reference-impl/memstore_contract_test.go.)

// lossyUpdate is UpdateTeam as an unlocked read-modify-write: the
// lost-update bug.
type lossyUpdate struct{ refimpl.Store }

func (s lossyUpdate) UpdateTeam(ctx context.Context, id string, fn func(*refimpl.Team) error) (refimpl.Team, error) {
	t, err := s.GetTeam(ctx, id)
	if err != nil {
		return refimpl.Team{}, err
	}
	if err := fn(&t); err != nil {
		return refimpl.Team{}, err
	}
	time.Sleep(time.Millisecond) // the database round trip between read and write
	return s.PutTeam(ctx, t)
}

// sharedTeams hands out the same team value to every GetTeam: no copies.
type sharedTeams struct {
	refimpl.Store
	cache map[string]refimpl.Team
}

func (s *sharedTeams) GetTeam(ctx context.Context, id string) (refimpl.Team, error) {
	if t, ok := s.cache[id]; ok {
		return t, nil
	}
	t, err := s.Store.GetTeam(ctx, id)
	if err == nil {
		s.cache[id] = t
	}
	return t, err
}

// resurrecting PutTeam creates the team when it is gone.
type resurrecting struct{ refimpl.Store }

func (s resurrecting) PutTeam(ctx context.Context, t refimpl.Team) (refimpl.Team, error) {
	out, err := s.Store.PutTeam(ctx, t)
	if err != nil {
		return s.CreateTeam(ctx, t)
	}
	return out, err
}

// partialDelete deletes team by team and stops at the first unknown id.
type partialDelete struct{ refimpl.Store }

func (s partialDelete) DeleteTeams(ctx context.Context, ids []string) ([]refimpl.Team, []refimpl.Key, error) {
	var teams []refimpl.Team
	var keys []refimpl.Key
	for _, id := range ids {
		ts, ks, err := s.Store.DeleteTeams(ctx, []string{id})
		if err != nil {
			return teams, keys, err
		}
		teams, keys = append(teams, ts...), append(keys, ks...)
	}
	return teams, keys, nil
}

// tokenOrder lists keys by token instead of creation.
type tokenOrder struct{ refimpl.Store }

func (s tokenOrder) ListKeys(ctx context.Context, f refimpl.KeyFilter, offset, limit int) ([]refimpl.Key, int, error) {
	all, total, err := s.Store.ListKeys(ctx, f, 0, 1<<30)
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(all, func(a, b refimpl.Key) int { return strings.Compare(a.Token, b.Token) })
	if offset >= len(all) || limit <= 0 {
		return nil, total, nil
	}
	return all[offset:min(len(all), offset+limit)], total, nil
}

// staleRevision reports the revision the key had before the update.
type staleRevision struct{ refimpl.Store }

func (s staleRevision) UpdateKey(ctx context.Context, tok string, fn func(*refimpl.Key) error) (refimpl.Key, error) {
	before, _ := s.GetKey(ctx, tok)
	out, err := s.Store.UpdateKey(ctx, tok, fn)
	out.Rev = before.Rev
	return out, err
}

// aliasBlind, refused an alias, writes the rest of the update anyway.
type aliasBlind struct{ refimpl.Store }

func (s aliasBlind) UpdateKey(ctx context.Context, tok string, fn func(*refimpl.Key) error) (refimpl.Key, error) {
	out, err := s.Store.UpdateKey(ctx, tok, fn)
	if !errors.Is(err, refimpl.ErrAliasTaken) {
		return out, err
	}
	return s.Store.UpdateKey(ctx, tok, func(k *refimpl.Key) error {
		old := k.Alias
		if err := fn(k); err != nil {
			return err
		}
		k.Alias = old
		return nil
	})
}

func TestMutantsAreCaught(t *testing.T) {
	for _, m := range []struct {
		name   string
		wrap   func(refimpl.Store) refimpl.Store
		caught []string
	}{
		{"lost-update", func(s refimpl.Store) refimpl.Store { return lossyUpdate{s} },
			[]string{"ConcurrentUpdateTeamFields", "ConcurrentMemberAppends"}},
		{"shared-copies", func(s refimpl.Store) refimpl.Store { return &sharedTeams{s, map[string]refimpl.Team{}} },
			[]string{"TeamCopies"}},
		{"resurrecting-put", func(s refimpl.Store) refimpl.Store { return resurrecting{s} },
			[]string{"PutTeamNeverResurrects"}},
		{"partial-delete", func(s refimpl.Store) refimpl.Store { return partialDelete{s} },
			[]string{"DeleteTeamsAllOrNothing"}},
		{"token-order", func(s refimpl.Store) refimpl.Store { return tokenOrder{s} },
			[]string{"ListKeysFilterPaging"}},
		{"stale-revision", func(s refimpl.Store) refimpl.Store { return staleRevision{s} },
			[]string{"UpdateKeyMerges", "RevisionsGlobalMonotonic"}},
		{"alias-blind", func(s refimpl.Store) refimpl.Store { return aliasBlind{s} },
			[]string{"UpdateKeyAliasTaken"}},
	} {
		t.Run(m.name, func(t *testing.T) {
			for _, name := range m.caught {
				c := caseNamed(t, name)
				if failed, _ := runCase(c, m.wrap(refimpl.NewMemStore())); !failed {
					t.Errorf("case %s passed on mutant %s", name, m.name)
				}
			}
		})
	}
}

func TestCasesPassOnMemStore(t *testing.T) {
	for _, c := range Cases() {
		if failed, msg := runCase(c, refimpl.NewMemStore()); failed {
			t.Errorf("%s failed on MemStore: %s", c.Name, msg)
		}
	}
}

func caseNamed(t *testing.T, name string) Case {
	t.Helper()
	for _, c := range Cases() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no case %q", name)
	return Case{}
}

// runCase runs c on s with a recorder instead of a *testing.T, so that a
// failure is data.
func runCase(c Case, s refimpl.Store) (failed bool, msg string) {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			for i := len(r.cleanups) - 1; i >= 0; i-- {
				r.cleanups[i]()
			}
		}()
		c.Run(r, s)
	}()
	<-done
	return r.failed, r.msg
}

// recorder is the part of testing.TB the cases use; any other method
// panics on the nil embedded TB.
type recorder struct {
	testing.TB
	failed   bool
	msg      string
	cleanups []func()
}

func (r *recorder) Helper()                   {}
func (r *recorder) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Fatal(args ...any)         { r.fail(fmt.Sprint(args...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.fail(fmt.Sprintf(f, a...)) }

func (r *recorder) fail(msg string) {
	r.failed, r.msg = true, msg
	runtime.Goexit()
}
