package storetest

import (
	"fmt"
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

func init() {
	register(
		Case{"ListKeysFilterPaging", listKeysFilterPaging},
		Case{"KeysOfTeamOrder", keysOfTeamOrder},
		Case{"AddSpend", addSpend},
		Case{"RevisionsGlobalMonotonic", revisionsGlobalMonotonic},
		Case{"ReadyKind", readyKind},
	)
}

// listKeysFilterPaging: ListKeys returns the keys matching every non-empty
// filter field exactly, in creation order (not token order), skipping
// offset and returning at most limit, plus the number of matching keys.
func listKeysFilterPaging(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	mustTeam(t, s, plainTeam("t1", "a"))
	mustTeam(t, s, plainTeam("t2", "b"))
	// Secrets chosen so that creation order is not token order.
	spec := []struct{ secret, team, user, alias string }{
		{"k0", "t1", "u1", "a0"}, {"k1", "t2", "u1", ""}, {"k2", "t1", "u2", "a2"},
		{"k3", "", "u1", ""}, {"k4", "t1", "u1", "a4"}, {"k5", "t2", "u2", "a5"},
	}
	var all []string
	for _, k := range spec {
		all = append(all, mustKey(t, s, plainKey(k.secret, k.team, k.user, k.alias)).Token)
	}
	pick := func(i ...int) []string {
		var out []string
		for _, n := range i {
			out = append(out, all[n])
		}
		return out
	}
	for _, c := range []struct {
		f             refimpl.KeyFilter
		offset, limit int
		want          []string
		total         int
	}{
		{refimpl.KeyFilter{}, 0, 100, all, 6},
		{refimpl.KeyFilter{}, 0, 2, pick(0, 1), 6},
		{refimpl.KeyFilter{}, 2, 2, pick(2, 3), 6},
		{refimpl.KeyFilter{}, 4, 10, pick(4, 5), 6},
		{refimpl.KeyFilter{}, 6, 10, nil, 6},
		{refimpl.KeyFilter{}, 100, 10, nil, 6},
		{refimpl.KeyFilter{}, 0, 0, nil, 6},
		{refimpl.KeyFilter{TeamID: "t1"}, 0, 10, pick(0, 2, 4), 3},
		{refimpl.KeyFilter{TeamID: "t1"}, 1, 1, pick(2), 3},
		{refimpl.KeyFilter{UserID: "u1"}, 0, 10, pick(0, 1, 3, 4), 4},
		{refimpl.KeyFilter{TeamID: "t1", UserID: "u1"}, 0, 10, pick(0, 4), 2},
		{refimpl.KeyFilter{TeamID: "t2", UserID: "u1"}, 0, 10, pick(1), 1},
		{refimpl.KeyFilter{Alias: "a2"}, 0, 10, pick(2), 1},
		{refimpl.KeyFilter{Alias: "a2", TeamID: "t2"}, 0, 10, nil, 0},
		{refimpl.KeyFilter{Token: all[5]}, 0, 10, pick(5), 1},
		{refimpl.KeyFilter{Token: all[5], UserID: "u1"}, 0, 10, nil, 0},
		{refimpl.KeyFilter{TeamID: "nope"}, 0, 10, nil, 0},
	} {
		what := fmt.Sprintf("ListKeys(%+v, %d, %d)", c.f, c.offset, c.limit)
		got, total, err := s.ListKeys(ctx, c.f, c.offset, c.limit)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		sameList(t, what, c.want, tokensOf(got))
		if total != c.total {
			t.Fatalf("%s: total %d, want %d", what, total, c.total)
		}
		for _, k := range got {
			keysEqual(t, what+" entry", getKey(t, s, k.Token), k)
		}
	}
}

// keysOfTeamOrder: the keys of one team, in creation order; none for an
// unknown team.
func keysOfTeamOrder(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	mustTeam(t, s, plainTeam("t1", "a"))
	mustTeam(t, s, plainTeam("t2", "b"))
	var want []string
	for i, secret := range []string{"z", "a", "m", "b"} {
		k := mustKey(t, s, plainKey(secret, "t1", "u", ""))
		want = append(want, k.Token)
		mustKey(t, s, plainKey(fmt.Sprint(secret, i), "t2", "u", ""))
	}
	got, err := s.KeysOfTeam(ctx, "t1")
	if err != nil {
		t.Fatalf("KeysOfTeam: %v", err)
	}
	sameList(t, "KeysOfTeam order", want, tokensOf(got))
	for _, k := range got {
		keysEqual(t, "KeysOfTeam entry", getKey(t, s, k.Token), k)
	}
	none, err := s.KeysOfTeam(ctx, "nope")
	if err != nil || len(none) != 0 {
		t.Fatalf("KeysOfTeam of an unknown team: %v, %v", tokensOf(none), err)
	}
}

// addSpend adds cost to the key's and its team's spend in one step and
// returns both after the write (team nil for a key without team), each
// with a newer revision; ErrNotFound for an unknown token.
func addSpend(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	team := mustTeam(t, s, fullTeam("t1")) // spend 1.25
	k := mustKey(t, s, fullKey("s1", "t1", "a1"))
	gotK, gotT, err := s.AddSpend(ctx, k.Token, 0.5)
	if err != nil {
		t.Fatalf("AddSpend: %v", err)
	}
	if gotT == nil {
		t.Fatal("AddSpend returned no team for a key with team")
	}
	if gotK.Spend != 1.25 || gotT.Spend != 1.75 {
		t.Fatalf("AddSpend: key spend %v (want 1.25), team spend %v (want 1.75)", gotK.Spend, gotT.Spend)
	}
	wantNewer(t, "key revision after AddSpend", k.Rev, gotK.Rev)
	wantNewer(t, "team revision after AddSpend", team.Rev, gotT.Rev)
	keysEqual(t, "GetKey after AddSpend", gotK, getKey(t, s, k.Token))
	teamsEqual(t, "GetTeam after AddSpend", *gotT, getTeam(t, s, "t1"))
	wantK, wantT := k.Clone(), team.Clone()
	wantK.Spend, wantT.Spend = 1.25, 1.75
	keysEqual(t, "only spend changes on the key", wantK, gotK, ignoreRevs)
	teamsEqual(t, "only spend changes on the team", wantT, *gotT, ignoreRevs)

	loose := mustKey(t, s, plainKey("s2", "", "u", ""))
	gotK, gotT, err = s.AddSpend(ctx, loose.Token, 2)
	if err != nil || gotT != nil || gotK.Spend != 2 {
		t.Fatalf("AddSpend of a key without team: spend %v, team %v, %v", gotK.Spend, gotT, err)
	}
	_, _, err = s.AddSpend(ctx, token("nope"), 1)
	wantErr(t, "AddSpend of an unknown token", err, refimpl.ErrNotFound)
	if got := getTeam(t, s, "t1").Spend; got != 1.75 {
		t.Fatalf("team spend after the other calls: %v, want 1.75", got)
	}
}

// revisionsGlobalMonotonic: every write to a team or key carries a
// revision newer than every write acknowledged before it, whichever
// object that was (caches version entries by it), and reads return the
// revision of the last write.
func revisionsGlobalMonotonic(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	var last uint64
	step := func(what string, rev uint64, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		wantNewer(t, what, last, rev)
		last = rev
	}
	t1, err := s.CreateTeam(ctx, fullTeam("t1"))
	step("CreateTeam t1", t1.Rev, err)
	t2, err := s.CreateTeam(ctx, plainTeam("t2", "b"))
	step("CreateTeam t2", t2.Rev, err)
	k1, err := s.CreateKey(ctx, fullKey("s1", "t1", "a1"))
	step("CreateKey k1", k1.Rev, err)
	u1, err := s.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error { tm.Alias = "x"; return nil })
	step("UpdateTeam t1", u1.Rev, err)
	u2, err := s.UpdateTeam(ctx, "t2", func(tm *refimpl.Team) error { tm.Alias = "y"; return nil })
	step("UpdateTeam t2", u2.Rev, err)
	uk, err := s.UpdateKey(ctx, k1.Token, func(k *refimpl.Key) error { k.Alias = "a9"; return nil })
	step("UpdateKey k1", uk.Rev, err)
	p, err := s.PutTeam(ctx, u2)
	step("PutTeam t2", p.Rev, err)
	sk, st, err := s.AddSpend(ctx, k1.Token, 1)
	step("AddSpend k1", sk.Rev, err)
	if st == nil || st.Rev < sk.Rev {
		t.Fatalf("AddSpend: the team's revision %v is older than the key's %d", st, sk.Rev)
	}
	last = st.Rev
	k2, err := s.CreateKey(ctx, plainKey("s2", "t2", "u", ""))
	step("CreateKey k2", k2.Rev, err)
	if got := getTeam(t, s, "t1"); got.Rev != st.Rev {
		t.Fatalf("GetTeam t1: revision %d, want the last write's %d", got.Rev, st.Rev)
	}
	if got := getTeam(t, s, "t2"); got.Rev != p.Rev {
		t.Fatalf("GetTeam t2: revision %d, want the last write's %d", got.Rev, p.Rev)
	}
	if got := getKey(t, s, k1.Token); got.Rev != sk.Rev {
		t.Fatalf("GetKey k1: revision %d, want the last write's %d", got.Rev, sk.Rev)
	}
}

// readyKind: a fresh store is ready and names its kind.
func readyKind(t testing.TB, s refimpl.Store) {
	if err := s.Ready(ctxFor(t)); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if s.Kind() == "" {
		t.Fatal("Kind is empty")
	}
}
