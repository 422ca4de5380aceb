package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/wire"
)

// caseTimeout bounds one case, so a deadlocked store fails instead of
// hanging the test binary until its global timeout.
const caseTimeout = 60 * time.Second

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	t.Cleanup(cancel)
	return ctx
}

// at is a fixed instant at microsecond precision (what SQL timestamps keep).
func at(sec int) time.Time {
	return time.Date(2026, 4, 1, 12, 0, sec, 123456000, time.UTC)
}

func ptr[T any](v T) *T { return &v }

// token is a key token as the service stores it: SHA-256 hex of a secret.
func token(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// fullPerm is a permission record with every field set.
func fullPerm(group string) *refimpl.Perm {
	return &refimpl.Perm{
		MCPServers:         []string{"srv-a", "srv-b"},
		MCPAccessGroups:    []string{group},
		MCPToolPermissions: map[string][]string{"srv-a": {"read", "write"}, "srv-c": {}},
		VectorStores:       []string{"vs-1"},
		Agents:             []string{"agent-1"},
		AgentAccessGroups:  []string{"ag-1"},
		Models:             []string{"gpt-4o"},
		BlockedTools:       []string{"rm"},
	}
}

// fullTeam is a team with every field set, including its relation.
func fullTeam(id string) refimpl.Team {
	return refimpl.Team{
		TeamRow: refimpl.TeamRow{
			ID: id, Alias: "alias-" + id, Models: []string{"gpt-4o", "gpt-4o-mini"}, MaxBudget: ptr(12.5),
			Spend: 1.25, Blocked: true,
			Metadata: map[string]any{"owner": "ops", "n": 3.0, "nested": map[string]any{"a": []any{1.0, "x", true, nil}}},
			Members: []wire.Member{
				{UserID: "u1", Role: "admin"}, {UserEmail: "u2@example.com", Role: "user"},
				{UserID: "u3", UserEmail: "u3@example.com", Role: "user"},
			},
			MemberBudgets: map[string]float64{"u1": 5, "u2@example.com": 0.5},
			CreatedAt:     at(1), UpdatedAt: at(2),
		},
		Perm: fullPerm("G1"),
	}
}

// plainTeam is a team with only an id and an alias, and no relation.
func plainTeam(id, alias string) refimpl.Team {
	return refimpl.Team{TeamRow: refimpl.TeamRow{ID: id, Alias: alias, CreatedAt: at(1), UpdatedAt: at(1)}}
}

// fullKey is a key of team with every field set, including its own Perm.
func fullKey(secret, team, alias string) refimpl.Key {
	return refimpl.Key{
		KeyRow: refimpl.KeyRow{
			Token: token(secret), KeyName: "sk-...abcd", Alias: alias, TeamID: team, UserID: "u1",
			Models: []string{"gpt-4o"}, MaxBudget: ptr(3.0), Spend: 0.75, Blocked: true, Expires: ptr(at(59)),
			Metadata:  map[string]any{"purpose": "ci", "tags": []any{"a", "b"}},
			CreatedBy: "default_user_id", CreatedAt: at(3), UpdatedAt: at(4),
		},
		Perm: fullPerm("G1"),
	}
}

// plainKey is a key with only a token, team, user and alias.
func plainKey(secret, team, user, alias string) refimpl.Key {
	return refimpl.Key{KeyRow: refimpl.KeyRow{
		Token: token(secret), KeyName: "sk-..." + secret, Alias: alias, TeamID: team, UserID: user,
		CreatedAt: at(5), UpdatedAt: at(5),
	}}
}

// equalOpts compare stored values the way the contract means "the same":
// instants by Equal, nil and empty slices and maps alike (stores return
// empty ones, see Clone).
var equalOpts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

// ignoreStamps leaves out what a store assigns: revisions and relation ids.
var ignoreStamps = cmp.Options{
	cmpopts.IgnoreFields(refimpl.TeamRow{}, "Rev", "PermID"),
	cmpopts.IgnoreFields(refimpl.KeyRow{}, "Rev", "PermID"),
	cmpopts.IgnoreFields(refimpl.Perm{}, "Rev", "ID"),
}

// ignoreRevs leaves out only the revisions.
var ignoreRevs = cmp.Options{
	cmpopts.IgnoreFields(refimpl.TeamRow{}, "Rev"),
	cmpopts.IgnoreFields(refimpl.KeyRow{}, "Rev"),
	cmpopts.IgnoreFields(refimpl.Perm{}, "Rev"),
}

// teamsEqual fails t when got differs from want in any stored field.
func teamsEqual(t testing.TB, what string, want, got refimpl.Team, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(cmp.Options{equalOpts}, opts...)...); d != "" {
		t.Fatalf("%s: team differs (-want +got):\n%s", what, d)
	}
}

func keysEqual(t testing.TB, what string, want, got refimpl.Key, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(cmp.Options{equalOpts}, opts...)...); d != "" {
		t.Fatalf("%s: key differs (-want +got):\n%s", what, d)
	}
}

func permsEqual(t testing.TB, what string, want, got *refimpl.Perm, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(cmp.Options{equalOpts}, opts...)...); d != "" {
		t.Fatalf("%s: permission differs (-want +got):\n%s", what, d)
	}
}

func mustTeam(t testing.TB, s refimpl.Store, tm refimpl.Team) refimpl.Team {
	t.Helper()
	out, err := s.CreateTeam(ctxFor(t), tm)
	if err != nil {
		t.Fatalf("CreateTeam(%q): %v", tm.ID, err)
	}
	return out
}

func mustKey(t testing.TB, s refimpl.Store, k refimpl.Key) refimpl.Key {
	t.Helper()
	out, err := s.CreateKey(ctxFor(t), k)
	if err != nil {
		t.Fatalf("CreateKey(alias %q, team %q): %v", k.Alias, k.TeamID, err)
	}
	return out
}

func getTeam(t testing.TB, s refimpl.Store, id string) refimpl.Team {
	t.Helper()
	out, err := s.GetTeam(ctxFor(t), id)
	if err != nil {
		t.Fatalf("GetTeam(%q): %v", id, err)
	}
	return out
}

func getKey(t testing.TB, s refimpl.Store, tok string) refimpl.Key {
	t.Helper()
	out, err := s.GetKey(ctxFor(t), tok)
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	return out
}

// wantTeamNotFound fails t unless err is a *TeamNotFoundError for id that
// also reads as ErrNotFound.
func wantTeamNotFound(t testing.TB, what string, err error, id string) {
	t.Helper()
	var nf *refimpl.TeamNotFoundError
	switch {
	case err == nil:
		t.Fatalf("%s: want TeamNotFoundError{%q}, got success", what, id)
	case !errors.As(err, &nf):
		t.Fatalf("%s: want *TeamNotFoundError{%q}, got %T: %v", what, id, err, err)
	case nf.ID != id:
		t.Fatalf("%s: TeamNotFoundError names %q, want %q", what, nf.ID, id)
	case !errors.Is(err, refimpl.ErrNotFound):
		t.Fatalf("%s: %v does not match ErrNotFound", what, err)
	}
}

// wantErr fails t unless errors.Is(err, target).
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: want %v, got %v", what, target, err)
	}
}

// wantNewer fails t unless rev is strictly greater than before.
func wantNewer(t testing.TB, what string, before, rev uint64) {
	t.Helper()
	if rev <= before {
		t.Fatalf("%s: revision %d is not newer than %d", what, rev, before)
	}
}

// tokensOf lists the tokens of keys, for order checks.
func tokensOf(ks []refimpl.Key) []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.Token)
	}
	return out
}

func idsOf(ts []refimpl.Team) []string {
	out := make([]string, 0, len(ts))
	for _, tm := range ts {
		out = append(out, tm.ID)
	}
	return out
}

func sameList(t testing.TB, what string, want, got []string) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("%s (-want +got):\n%s", what, d)
	}
}

// errFn is what a merge function returns to refuse.
var errFn = fmt.Errorf("storetest: merge refused")
