package storetest

import (
	"errors"
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

func init() {
	register(
		Case{"CreateKeyRoundTrip", createKeyRoundTrip},
		Case{"CreateKeyWithoutTeam", createKeyWithoutTeam},
		Case{"CreateKeyAliasTaken", createKeyAliasTaken},
		Case{"CreateKeyTeamGone", createKeyTeamGone},
		Case{"CreateKeyTokenExists", createKeyTokenExists},
		Case{"GetKeyNotFound", getKeyNotFound},
		Case{"GetKeyByAlias", getKeyByAlias},
		Case{"KeyCopies", keyCopies},
		Case{"UpdateKeyMerges", updateKeyMerges},
		Case{"UpdateKeyAlias", updateKeyAlias},
		Case{"UpdateKeyAliasTaken", updateKeyAliasTaken},
		Case{"UpdateKeyNotFound", updateKeyNotFound},
		Case{"UpdateKeyFnError", updateKeyFnError},
	)
}

// createKeyRoundTrip: CreateKey inserts the key and its own Perm; GetKey
// reads it back by token as CreateKey returned it.
func createKeyRoundTrip(t testing.TB, s refimpl.Store) {
	mustTeam(t, s, fullTeam("t1"))
	in := fullKey("s1", "t1", "a1")
	created := mustKey(t, s, in)
	keysEqual(t, "CreateKey result", in, created, ignoreStamps)
	if created.Rev == 0 || created.Perm == nil || created.Perm.ID == "" || created.PermID != created.Perm.ID {
		t.Fatalf("CreateKey: want a revision and a Perm with an id equal to PermID, got rev %d PermID %q Perm %+v",
			created.Rev, created.PermID, created.Perm)
	}
	keysEqual(t, "GetKey after CreateKey", created, getKey(t, s, created.Token))
	p, err := s.GetPerm(ctxFor(t), created.PermID)
	if err != nil {
		t.Fatalf("GetPerm of the key's record: %v", err)
	}
	permsEqual(t, "GetPerm of the key's record", created.Perm, p)
}

// createKeyWithoutTeam: a key needs no team, alias, user or record.
func createKeyWithoutTeam(t testing.TB, s refimpl.Store) {
	in := plainKey("s1", "", "", "")
	created := mustKey(t, s, in)
	keysEqual(t, "CreateKey result", in, created, ignoreStamps)
	got := getKey(t, s, created.Token)
	keysEqual(t, "GetKey", created, got)
	if got.Perm != nil || got.PermID != "" || got.Expires != nil || got.MaxBudget != nil {
		t.Fatalf("unset fields came back set: %+v", got)
	}
	if got.Models == nil || got.Metadata == nil {
		t.Fatalf("nil lists and maps must come back empty: models %v metadata %v", got.Models, got.Metadata)
	}
}

// createKeyAliasTaken: ErrAliasTaken when another key has the alias, and
// nothing changes.
func createKeyAliasTaken(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	mustTeam(t, s, plainTeam("t1", "a"))
	first := mustKey(t, s, plainKey("s1", "t1", "u", "dup"))
	_, err := s.CreateKey(ctx, fullKey("s2", "t1", "dup"))
	wantErr(t, "CreateKey with a taken alias", err, refimpl.ErrAliasTaken)
	_, err = s.GetKey(ctx, token("s2"))
	wantErr(t, "GetKey of the refused key", err, refimpl.ErrNotFound)
	byAlias, err := s.GetKeyByAlias(ctx, "dup")
	if err != nil {
		t.Fatal(err)
	}
	keysEqual(t, "the alias' owner", first, byAlias)
	// Keys without alias never collide.
	mustKey(t, s, plainKey("s3", "t1", "u", ""))
	mustKey(t, s, plainKey("s4", "t1", "u", ""))
}

// createKeyTeamGone: ErrNotFound (TeamNotFoundError) when the key's team
// does not exist or was deleted, and nothing changes.
func createKeyTeamGone(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	_, err := s.CreateKey(ctx, fullKey("s1", "nope", "a1"))
	wantTeamNotFound(t, "CreateKey for an unknown team", err, "nope")
	mustTeam(t, s, plainTeam("t1", "a"))
	if _, _, err := s.DeleteTeams(ctx, []string{"t1"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateKey(ctx, fullKey("s2", "t1", "a2"))
	wantTeamNotFound(t, "CreateKey for a deleted team", err, "t1")
	_, total, err := s.ListKeys(ctx, refimpl.KeyFilter{}, 0, 10)
	if err != nil || total != 0 {
		t.Fatalf("refused keys were stored: total %d, %v", total, err)
	}
	// The aliases of refused keys stay free.
	mustKey(t, s, plainKey("s3", "", "u", "a1"))
}

// createKeyTokenExists: a second key with the same token is ErrExists
// (the handler's "A key with this value already exists").
func createKeyTokenExists(t testing.TB, s refimpl.Store) {
	first := mustKey(t, s, plainKey("s1", "", "u", "a1"))
	_, err := s.CreateKey(ctxFor(t), plainKey("s1", "", "other", "a2"))
	wantErr(t, "CreateKey of a taken token", err, refimpl.ErrExists)
	keysEqual(t, "key after the refused create", first, getKey(t, s, first.Token))
	_, err = s.GetKeyByAlias(ctxFor(t), "a2")
	wantErr(t, "alias of the refused key", err, refimpl.ErrNotFound)
}

func getKeyNotFound(t testing.TB, s refimpl.Store) {
	_, err := s.GetKey(ctxFor(t), token("nope"))
	wantErr(t, "GetKey of an unknown token", err, refimpl.ErrNotFound)
}

// getKeyByAlias reads a key by alias; an unknown or empty alias is
// ErrNotFound (keys without alias are not found by "").
func getKeyByAlias(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	k := mustKey(t, s, fullKey("s1", "", "a1"))
	mustKey(t, s, plainKey("s2", "", "u", ""))
	got, err := s.GetKeyByAlias(ctx, "a1")
	if err != nil {
		t.Fatalf("GetKeyByAlias: %v", err)
	}
	keysEqual(t, "GetKeyByAlias", k, got)
	_, err = s.GetKeyByAlias(ctx, "A1")
	wantErr(t, "GetKeyByAlias is exact", err, refimpl.ErrNotFound)
	_, err = s.GetKeyByAlias(ctx, "")
	wantErr(t, "GetKeyByAlias of the empty alias", err, refimpl.ErrNotFound)
}

// keyCopies: returned keys are copies; the store keeps no reference to
// the caller's input or to the key handed to an UpdateKey merge.
func keyCopies(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	mustTeam(t, s, fullTeam("t1"))
	in := fullKey("s1", "t1", "a1")
	created := mustKey(t, s, in)
	want := getKey(t, s, created.Token).Clone() // a snapshot no store can share
	scribbleKey(&in)
	scribbleKey(&created)
	got := getKey(t, s, want.Token)
	keysEqual(t, "after modifying CreateKey's input and result", want, got)
	scribbleKey(&got)
	byAlias, err := s.GetKeyByAlias(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	scribbleKey(&byAlias)
	keysEqual(t, "after modifying GetKey's and GetKeyByAlias' results", want, getKey(t, s, want.Token))

	var kept *refimpl.Key
	updated, err := s.UpdateKey(ctx, want.Token, func(k *refimpl.Key) error { kept = k; k.KeyName = "renamed"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	spent, spentTeam, err := s.AddSpend(ctx, want.Token, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, wantTeam := getKey(t, s, want.Token).Clone(), getTeam(t, s, "t1").Clone()
	scribbleKey(kept)
	scribbleKey(&updated)
	scribbleKey(&spent)
	scribbleTeam(spentTeam)
	for _, list := range [][]refimpl.Key{
		mustKeys(t)(s.KeysOfTeam(ctx, "t1")),
		mustKeysTotal(t)(s.ListKeys(ctx, refimpl.KeyFilter{}, 0, 10)),
	} {
		scribbleKey(&list[0])
	}
	keysEqual(t, "after modifying the merged key and every result", want, getKey(t, s, want.Token))
	teamsEqual(t, "after modifying AddSpend's team", wantTeam, getTeam(t, s, "t1"))
}

func scribbleKey(k *refimpl.Key) {
	k.Models[0] = "scribbled"
	*k.MaxBudget = -1
	*k.Expires = at(0)
	k.Metadata["purpose"] = "scribbled"
	k.Metadata["tags"].([]any)[0] = "scribbled"
	k.Perm.MCPServers[0] = "scribbled"
	k.Perm.MCPToolPermissions["srv-a"][0] = "scribbled"
}

func mustKeys(t testing.TB) func([]refimpl.Key, error) []refimpl.Key {
	return func(ks []refimpl.Key, err error) []refimpl.Key {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
}

func mustKeysTotal(t testing.TB) func([]refimpl.Key, int, error) []refimpl.Key {
	return func(ks []refimpl.Key, _ int, err error) []refimpl.Key {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
}

// updateKeyMerges: UpdateKey applies fn to the current key and writes row
// and record in one step; the record keeps its id, a Perm without ID gets
// a new one, and every write has a newer revision.
func updateKeyMerges(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	mustTeam(t, s, plainTeam("t1", "a"))
	created := mustKey(t, s, fullKey("s1", "t1", "a1"))
	var seen refimpl.Key
	updated, err := s.UpdateKey(ctx, created.Token, func(k *refimpl.Key) error {
		seen = k.Clone()
		k.Models, k.MaxBudget, k.Blocked, k.Expires = []string{"m2"}, nil, false, nil
		k.Metadata["added"] = 1.5
		k.Perm.MCPAccessGroups = []string{"G2"}
		k.Token = token("moved") // ignored: the token is the key's identity
		k.UpdatedAt = at(40)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	keysEqual(t, "the key fn saw", created, seen)
	want := created.Clone()
	want.Models, want.MaxBudget, want.Blocked, want.Expires, want.UpdatedAt = []string{"m2"}, nil, false, nil, at(40)
	want.Metadata["added"] = 1.5
	want.Perm.MCPAccessGroups = []string{"G2"}
	keysEqual(t, "UpdateKey result", want, updated, ignoreRevs)
	wantNewer(t, "key revision after UpdateKey", created.Rev, updated.Rev)
	wantNewer(t, "record revision after UpdateKey", created.Perm.Rev, updated.Perm.Rev)
	keysEqual(t, "GetKey after UpdateKey", updated, getKey(t, s, created.Token))
	_, err = s.GetKey(ctx, token("moved"))
	wantErr(t, "GetKey of the token fn set", err, refimpl.ErrNotFound)

	plain := mustKey(t, s, plainKey("s2", "t1", "u", ""))
	withPerm, err := s.UpdateKey(ctx, plain.Token, func(k *refimpl.Key) error {
		k.Perm = &refimpl.Perm{MCPServers: []string{"srv"}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if withPerm.Perm == nil || withPerm.Perm.ID == "" || withPerm.PermID != withPerm.Perm.ID {
		t.Fatalf("a Perm without ID must get one: PermID %q Perm %+v", withPerm.PermID, withPerm.Perm)
	}
	p, err := s.GetPerm(ctx, withPerm.PermID)
	if err != nil {
		t.Fatal(err)
	}
	permsEqual(t, "the key's new record", withPerm.Perm, p)
}

// updateKeyAlias: a new alias takes effect at once; the old one is free.
func updateKeyAlias(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	k := mustKey(t, s, plainKey("s1", "", "u", "old"))
	rename := func(alias string) refimpl.Key {
		t.Helper()
		out, err := s.UpdateKey(ctx, k.Token, func(k *refimpl.Key) error { k.Alias = alias; return nil })
		if err != nil {
			t.Fatalf("UpdateKey alias %q: %v", alias, err)
		}
		return out
	}
	rename("old") // keeping its own alias is no conflict
	if got := rename("new"); got.Alias != "new" {
		t.Fatalf("UpdateKey alias: got %q", got.Alias)
	}
	_, err := s.GetKeyByAlias(ctx, "old")
	wantErr(t, "the old alias", err, refimpl.ErrNotFound)
	if got, err := s.GetKeyByAlias(ctx, "new"); err != nil || got.Token != k.Token {
		t.Fatalf("the new alias: %v, %v", got.Token, err)
	}
	mustKey(t, s, plainKey("s2", "", "u", "old")) // reusable
	rename("")
	_, err = s.GetKeyByAlias(ctx, "new")
	wantErr(t, "a cleared alias", err, refimpl.ErrNotFound)
	mustKey(t, s, plainKey("s3", "", "u", "new"))
}

// updateKeyAliasTaken: ErrAliasTaken when another key has the new alias;
// nothing changes, the key's record included.
func updateKeyAliasTaken(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	k1 := mustKey(t, s, fullKey("s1", "", "a1"))
	mustKey(t, s, plainKey("s2", "", "u", "a2"))
	_, err := s.UpdateKey(ctx, k1.Token, func(k *refimpl.Key) error {
		k.Alias = "a2"
		k.Models = []string{"changed"}
		k.Perm.MCPAccessGroups = []string{"changed"}
		return nil
	})
	wantErr(t, "UpdateKey to a taken alias", err, refimpl.ErrAliasTaken)
	keysEqual(t, "key after the refused update", k1, getKey(t, s, k1.Token))
	p, err := s.GetPerm(ctx, k1.PermID)
	if err != nil {
		t.Fatal(err)
	}
	permsEqual(t, "record after the refused update", k1.Perm, p)
	if got, err := s.GetKeyByAlias(ctx, "a2"); err != nil || got.Token != token("s2") {
		t.Fatalf("the alias' owner changed: %v, %v", got.Token, err)
	}
}

// updateKeyNotFound: an unknown token is ErrNotFound and fn is not called.
func updateKeyNotFound(t testing.TB, s refimpl.Store) {
	called := false
	_, err := s.UpdateKey(ctxFor(t), token("nope"), func(*refimpl.Key) error { called = true; return nil })
	wantErr(t, "UpdateKey of an unknown token", err, refimpl.ErrNotFound)
	if called {
		t.Fatal("UpdateKey called fn for an unknown key")
	}
}

// updateKeyFnError: fn's error comes back and nothing changes.
func updateKeyFnError(t testing.TB, s refimpl.Store) {
	k := mustKey(t, s, fullKey("s1", "", "a1"))
	_, err := s.UpdateKey(ctxFor(t), k.Token, func(k *refimpl.Key) error {
		k.Alias, k.Models = "changed", []string{"changed"}
		k.Perm.Agents = []string{"changed"}
		return errFn
	})
	if !errors.Is(err, errFn) {
		t.Fatalf("UpdateKey: want fn's error back, got %v", err)
	}
	keysEqual(t, "key after a refused merge", k, getKey(t, s, k.Token))
	_, err = s.GetKeyByAlias(ctxFor(t), "changed")
	wantErr(t, "alias of a refused merge", err, refimpl.ErrNotFound)
}
