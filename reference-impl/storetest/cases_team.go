package storetest

import (
	"errors"
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/wire"
)

func init() {
	register(
		Case{"CreateTeamRoundTrip", createTeamRoundTrip},
		Case{"CreateTeamDefaults", createTeamDefaults},
		Case{"CreateTeamExists", createTeamExists},
		Case{"GetTeamNotFound", getTeamNotFound},
		Case{"GetPerm", getPerm},
		Case{"TeamCopies", teamCopies},
		Case{"UpdateTeamMerges", updateTeamMerges},
		Case{"UpdateTeamNewPerm", updateTeamNewPerm},
		Case{"UpdateTeamKeepsID", updateTeamKeepsID},
		Case{"UpdateTeamFnError", updateTeamFnError},
		Case{"UpdateTeamNotFound", updateTeamNotFound},
		Case{"PutTeamOverwrites", putTeamOverwrites},
		Case{"PutTeamNeverResurrects", putTeamNeverResurrects},
		Case{"ListTeamsOrder", listTeamsOrder},
	)
}

// createTeamRoundTrip: CreateTeam inserts t and t.Perm; GetTeam reads the
// team with its relation, as CreateTeam returned it.
func createTeamRoundTrip(t testing.TB, s refimpl.Store) {
	in := fullTeam("t1")
	created := mustTeam(t, s, in)
	teamsEqual(t, "CreateTeam result", in, created, ignoreStamps)
	if created.Rev == 0 || created.Perm == nil || created.Perm.ID == "" || created.PermID != created.Perm.ID {
		t.Fatalf("CreateTeam: want a revision and a Perm with an id equal to PermID, got rev %d PermID %q Perm %+v",
			created.Rev, created.PermID, created.Perm)
	}
	if created.Perm.Rev == 0 {
		t.Fatalf("CreateTeam: the permission record has no revision")
	}
	teamsEqual(t, "GetTeam after CreateTeam", created, getTeam(t, s, "t1"))
}

// createTeamDefaults: a team without relation has Perm nil and no PermID;
// nil lists and maps come back empty.
func createTeamDefaults(t testing.TB, s refimpl.Store) {
	created := mustTeam(t, s, plainTeam("t1", ""))
	got := getTeam(t, s, "t1")
	teamsEqual(t, "GetTeam", created, got)
	if got.Perm != nil || got.PermID != "" {
		t.Fatalf("team created without permission: got PermID %q Perm %+v", got.PermID, got.Perm)
	}
	if got.Models == nil || got.Metadata == nil || got.Members == nil {
		t.Fatalf("nil lists and maps must come back empty, got models %v metadata %v members %v",
			got.Models, got.Metadata, got.Members)
	}
	if got.MaxBudget != nil || got.Spend != 0 || got.Blocked {
		t.Fatalf("zero scalars changed: %+v", got.TeamRow)
	}
}

// createTeamExists: ErrExists if the id is taken, and nothing changes.
func createTeamExists(t testing.TB, s refimpl.Store) {
	first := mustTeam(t, s, fullTeam("t1"))
	again := fullTeam("t1")
	again.Alias, again.Perm = "other", fullPerm("G9")
	_, err := s.CreateTeam(ctxFor(t), again)
	wantErr(t, "CreateTeam of a taken id", err, refimpl.ErrExists)
	teamsEqual(t, "team after the refused create", first, getTeam(t, s, "t1"))
	if n := len(mustList(t, s)); n != 1 {
		t.Fatalf("ListTeams: want 1 team, got %d", n)
	}
}

// getTeamNotFound: an unknown id is a TeamNotFoundError naming it.
func getTeamNotFound(t testing.TB, s refimpl.Store) {
	_, err := s.GetTeam(ctxFor(t), "nope")
	wantTeamNotFound(t, "GetTeam of an unknown id", err, "nope")
}

// getPerm reads one permission record by id; ErrNotFound otherwise.
func getPerm(t testing.TB, s refimpl.Store) {
	created := mustTeam(t, s, fullTeam("t1"))
	p, err := s.GetPerm(ctxFor(t), created.PermID)
	if err != nil {
		t.Fatalf("GetPerm(%q): %v", created.PermID, err)
	}
	permsEqual(t, "GetPerm", created.Perm, p)
	_, err = s.GetPerm(ctxFor(t), "no-such-perm")
	wantErr(t, "GetPerm of an unknown id", err, refimpl.ErrNotFound)
}

// teamCopies: returned values are copies the caller may keep and modify,
// and the store keeps no reference to what the caller passed in (nor to
// the team it handed to an UpdateTeam merge).
func teamCopies(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	in := fullTeam("t1")
	created := mustTeam(t, s, in)
	want := getTeam(t, s, "t1").Clone() // a snapshot no store can share
	scribbleTeam(&in)
	scribbleTeam(&created)
	teamsEqual(t, "after modifying CreateTeam's input and result", want, getTeam(t, s, "t1"))

	got := getTeam(t, s, "t1")
	scribbleTeam(&got)
	p, err := s.GetPerm(ctx, want.PermID)
	if err != nil {
		t.Fatal(err)
	}
	p.MCPAccessGroups[0] = "scribbled"
	teamsEqual(t, "after modifying GetTeam's and GetPerm's results", want, getTeam(t, s, "t1"))

	var kept *refimpl.Team
	updated, err := s.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error {
		kept = tm
		tm.Alias = "renamed"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateTeam: %v", err)
	}
	want = getTeam(t, s, "t1").Clone()
	scribbleTeam(kept)
	scribbleTeam(&updated)
	teamsEqual(t, "after modifying the merged team and UpdateTeam's result", want, getTeam(t, s, "t1"))

	list := mustList(t, s)
	scribbleTeam(&list[0])
	teamsEqual(t, "after modifying ListTeams' result", want, getTeam(t, s, "t1"))
}

// scribbleTeam modifies every mutable part of tm in place.
func scribbleTeam(tm *refimpl.Team) {
	tm.Models[0] = "scribbled"
	*tm.MaxBudget = -1
	tm.Metadata["owner"] = "scribbled"
	tm.Metadata["nested"].(map[string]any)["a"].([]any)[0] = "scribbled"
	tm.Members[0].Role = "scribbled"
	tm.MemberBudgets["u1"] = -1
	tm.Perm.MCPAccessGroups[0] = "scribbled"
	tm.Perm.MCPToolPermissions["srv-a"][0] = "scribbled"
	tm.Perm.MCPToolPermissions["new"] = nil
}

func mustList(t testing.TB, s refimpl.Store) []refimpl.Team {
	t.Helper()
	out, err := s.ListTeams(ctxFor(t))
	if err != nil {
		t.Fatalf("ListTeams: %v", err)
	}
	return out
}

// updateTeamMerges: UpdateTeam applies fn to the current team and writes
// row and relation in one step; the record keeps its id (rewritten in
// place), and the write gets a newer revision on team and record.
func updateTeamMerges(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	created := mustTeam(t, s, fullTeam("t1"))
	var seen refimpl.Team
	updated, err := s.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error {
		seen = tm.Clone()
		tm.Models = []string{"claude-3-5-sonnet"}
		tm.Blocked = false
		tm.MaxBudget = nil
		tm.Metadata["added"] = "yes"
		tm.Members = append(tm.Members, wire.Member{UserID: "u4", Role: "user"})
		tm.Perm.MCPAccessGroups = []string{"G1", "G2"}
		tm.UpdatedAt = at(30)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateTeam: %v", err)
	}
	teamsEqual(t, "the team fn saw", created, seen)
	want := created.Clone()
	want.Models, want.Blocked, want.MaxBudget, want.UpdatedAt = []string{"claude-3-5-sonnet"}, false, nil, at(30)
	want.Metadata["added"] = "yes"
	want.Members = append(want.Members, wire.Member{UserID: "u4", Role: "user"})
	want.Perm.MCPAccessGroups = []string{"G1", "G2"}
	teamsEqual(t, "UpdateTeam result", want, updated, ignoreRevs)
	wantNewer(t, "team revision after UpdateTeam", created.Rev, updated.Rev)
	wantNewer(t, "permission revision after UpdateTeam", created.Perm.Rev, updated.Perm.Rev)
	if updated.PermID != created.PermID || updated.Perm.ID != created.PermID {
		t.Fatalf("the permission record changed id: %q -> %q (Perm.ID %q)", created.PermID, updated.PermID, updated.Perm.ID)
	}
	teamsEqual(t, "GetTeam after UpdateTeam", updated, getTeam(t, s, "t1"))
	p, err := s.GetPerm(ctx, created.PermID)
	if err != nil {
		t.Fatalf("GetPerm of the rewritten record: %v", err)
	}
	permsEqual(t, "GetPerm after UpdateTeam", updated.Perm, p)
}

// updateTeamNewPerm: fn may set t.Perm on a team that had none; a Perm
// without ID gets a new one, which later updates keep.
func updateTeamNewPerm(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	created := mustTeam(t, s, plainTeam("t1", "a"))
	updated, err := s.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error {
		tm.Perm = &refimpl.Perm{MCPAccessGroups: []string{"G1"}}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateTeam: %v", err)
	}
	if updated.Perm == nil || updated.Perm.ID == "" || updated.PermID != updated.Perm.ID {
		t.Fatalf("a Perm without ID must get one: PermID %q Perm %+v", updated.PermID, updated.Perm)
	}
	wantNewer(t, "team revision", created.Rev, updated.Rev)
	p, err := s.GetPerm(ctx, updated.PermID)
	if err != nil {
		t.Fatalf("GetPerm of the new record: %v", err)
	}
	permsEqual(t, "GetPerm", updated.Perm, p)
	again, err := s.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error {
		tm.Perm.MCPAccessGroups = append(tm.Perm.MCPAccessGroups, "G2")
		return nil
	})
	if err != nil {
		t.Fatalf("second UpdateTeam: %v", err)
	}
	if again.PermID != updated.PermID || again.Perm.ID != updated.PermID {
		t.Fatalf("the record changed id on its second update: %q -> %q", updated.PermID, again.PermID)
	}
	sameList(t, "groups after the second update", []string{"G1", "G2"}, getTeam(t, s, "t1").Perm.MCPAccessGroups)
}

// updateTeamKeepsID: fn cannot move the team to another id.
func updateTeamKeepsID(t testing.TB, s refimpl.Store) {
	mustTeam(t, s, plainTeam("t1", "a"))
	updated, err := s.UpdateTeam(ctxFor(t), "t1", func(tm *refimpl.Team) error {
		tm.ID = "t2"
		tm.Alias = "b"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateTeam: %v", err)
	}
	if updated.ID != "t1" || getTeam(t, s, "t1").Alias != "b" {
		t.Fatalf("UpdateTeam wrote %q (alias %q), want t1 renamed to b", updated.ID, updated.Alias)
	}
	_, err = s.GetTeam(ctxFor(t), "t2")
	wantTeamNotFound(t, "GetTeam of the id fn set", err, "t2")
}

// updateTeamFnError: when fn fails, UpdateTeam returns its error and has
// changed nothing, whatever fn did to the team it was given.
func updateTeamFnError(t testing.TB, s refimpl.Store) {
	created := mustTeam(t, s, fullTeam("t1"))
	_, err := s.UpdateTeam(ctxFor(t), "t1", func(tm *refimpl.Team) error {
		tm.Alias, tm.Models = "changed", []string{"changed"}
		tm.Perm.MCPAccessGroups = []string{"changed"}
		return errFn
	})
	if !errors.Is(err, errFn) {
		t.Fatalf("UpdateTeam: want fn's error back, got %v", err)
	}
	teamsEqual(t, "team after a refused merge", created, getTeam(t, s, "t1"))
	p, err := s.GetPerm(ctxFor(t), created.PermID)
	if err != nil {
		t.Fatal(err)
	}
	permsEqual(t, "record after a refused merge", created.Perm, p)
}

// updateTeamNotFound: an unknown id is a TeamNotFoundError, and fn is not
// called.
func updateTeamNotFound(t testing.TB, s refimpl.Store) {
	called := false
	_, err := s.UpdateTeam(ctxFor(t), "nope", func(*refimpl.Team) error { called = true; return nil })
	wantTeamNotFound(t, "UpdateTeam of an unknown id", err, "nope")
	if called {
		t.Fatal("UpdateTeam called fn for an unknown team")
	}
	if n := len(mustList(t, s)); n != 0 {
		t.Fatalf("UpdateTeam of an unknown id created a team: %d teams", n)
	}
}

// putTeamOverwrites: PutTeam writes t (row and relation) as a whole,
// overwriting whatever another writer stored since the caller's read.
func putTeamOverwrites(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	mustTeam(t, s, fullTeam("t1"))
	read := getTeam(t, s, "t1") // the caller's unlocked read
	between, err := s.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error {
		tm.Members = append(tm.Members, wire.Member{UserID: "lost", Role: "user"})
		tm.Perm.MCPAccessGroups = []string{"lost"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	read.Alias = "put"
	read.Perm.Agents = []string{"put-agent"}
	put, err := s.PutTeam(ctx, read)
	if err != nil {
		t.Fatalf("PutTeam: %v", err)
	}
	wantNewer(t, "revision after PutTeam", between.Rev, put.Rev)
	teamsEqual(t, "PutTeam result", read, put, ignoreRevs)
	got := getTeam(t, s, "t1")
	teamsEqual(t, "GetTeam after PutTeam", put, got)
	if len(got.Members) != 3 || got.Perm.MCPAccessGroups[0] != "G1" {
		t.Fatalf("PutTeam must overwrite the write in between, got members %v groups %v", got.Members, got.Perm.MCPAccessGroups)
	}
	if got.PermID != between.PermID {
		t.Fatalf("PutTeam changed the record id %q -> %q", between.PermID, got.PermID)
	}
}

// putTeamNeverResurrects: PutTeam of a deleted or unknown team is a
// TeamNotFoundError and leaves it absent.
func putTeamNeverResurrects(t testing.TB, s refimpl.Store) {
	ctx := ctxFor(t)
	mustTeam(t, s, fullTeam("t1"))
	read := getTeam(t, s, "t1")
	if _, _, err := s.DeleteTeams(ctx, []string{"t1"}); err != nil {
		t.Fatalf("DeleteTeams: %v", err)
	}
	_, err := s.PutTeam(ctx, read)
	wantTeamNotFound(t, "PutTeam of a deleted team", err, "t1")
	_, err = s.GetTeam(ctx, "t1")
	wantTeamNotFound(t, "GetTeam after PutTeam of a deleted team", err, "t1")
	_, err = s.GetPerm(ctx, read.PermID)
	wantErr(t, "GetPerm of the deleted team's record after PutTeam", err, refimpl.ErrNotFound)
	_, err = s.PutTeam(ctx, fullTeam("never"))
	wantTeamNotFound(t, "PutTeam of an unknown team", err, "never")
	if n := len(mustList(t, s)); n != 0 {
		t.Fatalf("PutTeam created teams: %d", n)
	}
}

// listTeamsOrder: every team with its relation, ordered by alias then id
// (byte order, as Go compares strings; no alias sorts first).
func listTeamsOrder(t testing.TB, s refimpl.Store) {
	if got := mustList(t, s); len(got) != 0 {
		t.Fatalf("ListTeams of an empty store: %v", idsOf(got))
	}
	for _, tm := range []refimpl.Team{
		plainTeam("t5", "beta"), plainTeam("t4", "Beta"), plainTeam("t3", "alpha"),
		plainTeam("t2", "beta"), plainTeam("t1", ""), plainTeam("t0", "äpfel"), fullTeam("t6"),
	} {
		mustTeam(t, s, tm)
	}
	list := mustList(t, s)
	sameList(t, "ListTeams order", []string{"t1", "t4", "t6", "t3", "t2", "t5", "t0"}, idsOf(list))
	for _, tm := range list {
		teamsEqual(t, "ListTeams entry "+tm.ID, getTeam(t, s, tm.ID), tm)
	}
}
