package storetest

import (
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

func init() {
	register(
		Case{"DeleteTeams", deleteTeams},
		Case{"DeleteTeamsAllOrNothing", deleteTeamsAllOrNothing},
		Case{"DeleteTeamsRepeatedID", deleteTeamsRepeatedID},
		Case{"DeleteKeys", deleteKeys},
	)
}

// deleteTeams deletes the teams, their keys and their permission records
// (the teams' and the keys' own), returns what it deleted, frees the keys'
// aliases, and leaves every other team and key alone.
func deleteTeams(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	t1 := mustTeam(t, s, fullTeam("t1"))
	t2 := mustTeam(t, s, plainTeam("t2", "b"))
	keep := mustTeam(t, s, fullTeam("keep"))
	k1 := mustKey(t, s, fullKey("s1", "t1", "a1"))
	k2 := mustKey(t, s, plainKey("s2", "t2", "u", "a2"))
	k3 := mustKey(t, s, plainKey("s3", "t1", "u", ""))
	kKeep := mustKey(t, s, fullKey("s4", "keep", "a4"))
	kLoose := mustKey(t, s, plainKey("s5", "", "u", "a5"))

	teams, keys, err := s.DeleteTeams(ctx, []string{"t2", "t1"})
	if err != nil {
		t.Fatalf("DeleteTeams: %v", err)
	}
	sameList(t, "deleted teams, in the order asked", []string{"t2", "t1"}, idsOf(teams))
	teamsEqual(t, "deleted team t2", t2, teams[0])
	teamsEqual(t, "deleted team t1 (with its relation)", t1, teams[1])
	sameList(t, "deleted keys, per team in creation order", []string{k2.Token, k1.Token, k3.Token}, tokensOf(keys))
	keysEqual(t, "deleted key k1 (with its record)", k1, keys[1])

	for _, id := range []string{"t1", "t2"} {
		_, err := s.GetTeam(ctx, id)
		wantTeamNotFound(t, "GetTeam of a deleted team", err, id)
		ks, err := s.KeysOfTeam(ctx, id)
		if err != nil || len(ks) != 0 {
			t.Fatalf("KeysOfTeam(%q) after delete: %v, %v", id, tokensOf(ks), err)
		}
	}
	for _, k := range []refimpl.Key{k1, k2, k3} {
		_, err := s.GetKey(ctx, k.Token)
		wantErr(t, "GetKey of a deleted team's key", err, refimpl.ErrNotFound)
	}
	for _, a := range []string{"a1", "a2"} {
		_, err := s.GetKeyByAlias(ctx, a)
		wantErr(t, "GetKeyByAlias of a deleted key", err, refimpl.ErrNotFound)
	}
	for _, id := range []string{t1.PermID, k1.PermID} {
		_, err := s.GetPerm(ctx, id)
		wantErr(t, "GetPerm of a deleted record", err, refimpl.ErrNotFound)
	}
	all, total, err := s.ListKeys(ctx, refimpl.KeyFilter{}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 {
		t.Fatalf("ListKeys total after delete: want 2, got %d", total)
	}
	sameList(t, "keys left", []string{kKeep.Token, kLoose.Token}, tokensOf(all))
	teamsEqual(t, "untouched team", keep, getTeam(t, s, "keep"))
	keysEqual(t, "untouched key", kKeep, getKey(t, s, kKeep.Token))
	sameList(t, "teams left", []string{"keep"}, idsOf(mustList(t, s)))
	// The aliases are free again, and the ids too.
	mustKey(t, s, plainKey("s6", "keep", "u", "a1"))
	mustTeam(t, s, plainTeam("t1", "again"))
}

// deleteTeamsAllOrNothing: an unknown id fails the whole call with
// ErrNotFound naming the first unknown id, and nothing is deleted.
func deleteTeamsAllOrNothing(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	t1 := mustTeam(t, s, fullTeam("t1"))
	k1 := mustKey(t, s, fullKey("s1", "t1", "a1"))
	teams, keys, err := s.DeleteTeams(ctx, []string{"t1", "missing-1", "missing-2"})
	wantTeamNotFound(t, "DeleteTeams with unknown ids", err, "missing-1")
	if len(teams) != 0 || len(keys) != 0 {
		t.Fatalf("a failed DeleteTeams returned %v and %v", idsOf(teams), tokensOf(keys))
	}
	teamsEqual(t, "team after a failed delete", t1, getTeam(t, s, "t1"))
	keysEqual(t, "key after a failed delete", k1, getKey(t, s, k1.Token))
	if _, err := s.GetPerm(ctx, t1.PermID); err != nil {
		t.Fatalf("record after a failed delete: %v", err)
	}
}

// deleteTeamsRepeatedID: an id listed twice is deleted (and returned) once.
func deleteTeamsRepeatedID(t testing.TB, s refimpl.Store) {
	mustTeam(t, s, plainTeam("t1", "a"))
	k := mustKey(t, s, plainKey("s1", "t1", "u", ""))
	teams, keys, err := s.DeleteTeams(ctxFor(t), []string{"t1", "t1"})
	if err != nil {
		t.Fatalf("DeleteTeams: %v", err)
	}
	sameList(t, "deleted teams", []string{"t1"}, idsOf(teams))
	sameList(t, "deleted keys", []string{k.Token}, tokensOf(keys))
}

// deleteKeys deletes the keys that exist (ignoring unknown tokens), returns
// them in the order asked, frees their aliases and deletes their records.
func deleteKeys(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	team := mustTeam(t, s, fullTeam("t1"))
	k1 := mustKey(t, s, fullKey("s1", "t1", "a1"))
	k2 := mustKey(t, s, plainKey("s2", "", "u", "a2"))
	k3 := mustKey(t, s, plainKey("s3", "t1", "u", "a3"))
	got, err := s.DeleteKeys(ctx, []string{token("unknown"), k2.Token, k1.Token, k2.Token})
	if err != nil {
		t.Fatalf("DeleteKeys: %v", err)
	}
	sameList(t, "deleted keys", []string{k2.Token, k1.Token}, tokensOf(got))
	keysEqual(t, "deleted key with its record", k1, got[1])
	for _, k := range []refimpl.Key{k1, k2} {
		_, err := s.GetKey(ctx, k.Token)
		wantErr(t, "GetKey of a deleted key", err, refimpl.ErrNotFound)
		_, err = s.GetKeyByAlias(ctx, k.Alias)
		wantErr(t, "GetKeyByAlias of a deleted key", err, refimpl.ErrNotFound)
	}
	_, err = s.GetPerm(ctx, k1.PermID)
	wantErr(t, "GetPerm of a deleted key's record", err, refimpl.ErrNotFound)
	keysEqual(t, "untouched key", k3, getKey(t, s, k3.Token))
	teamsEqual(t, "the team of deleted keys", team, getTeam(t, s, "t1"))
	none, err := s.DeleteKeys(ctx, []string{k1.Token, token("unknown")})
	if err != nil || len(none) != 0 {
		t.Fatalf("DeleteKeys of gone keys: want nothing, got %v, %v", tokensOf(none), err)
	}
	mustKey(t, s, plainKey("s7", "", "u", "a1")) // the alias is free again
}
