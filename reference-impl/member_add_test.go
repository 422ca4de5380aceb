package refimpl

import (
	"net/http"
	"slices"
	"testing"

	"github.com/keyrace/keyrace/wire"
)

func memberIDs(t wire.Team) []string {
	var out []string
	for _, m := range t.MembersWithRoles {
		out = append(out, m.UserID+":"+m.Role)
	}
	return out
}

// TestMemberAddShapes: the answer is the team row plus updated_users and
// updated_team_memberships; single and list forms; duplicates.
func TestMemberAddShapes(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1", "members_with_roles": []any{map[string]any{"user_id": "ua", "role": "admin"}}})

	var resp wire.TeamMemberAddResponse
	f.ok(famMaster, "POST", "/team/member_add", map[string]any{
		"team_id": "t1", "member": map[string]any{"user_id": "u1", "role": "user"}, "max_budget_in_team": 2.5,
	}, &resp)
	if resp.TeamID != "t1" || !slices.Equal(memberIDs(resp.Team), []string{"ua:admin", "u1:user"}) {
		t.Fatalf("team row: %+v", resp.Team)
	}
	if len(resp.UpdatedUsers) != 1 || *resp.UpdatedUsers[0].UserID != "u1" || !slices.Equal(resp.UpdatedUsers[0].Teams, []string{"t1"}) {
		t.Fatalf("updated_users: %+v", resp.UpdatedUsers)
	}
	if m := resp.UpdatedTeamMemberships; len(m) != 1 || m[0].TeamID != "t1" || m[0].BudgetTable == nil || *m[0].BudgetTable.MaxBudget != 2.5 {
		t.Fatalf("updated_team_memberships: %+v", m)
	}

	// A list: each new member is added once, in order.
	f.ok(famMaster, "POST", "/team/member_add", map[string]any{"team_id": "t1", "member": []any{
		map[string]any{"user_id": "u2", "role": "user"}, map[string]any{"user_email": "e@x", "role": "admin"},
		map[string]any{"user_id": "u2", "role": "user"},
	}}, &resp)
	if got := memberIDs(resp.Team); !slices.Equal(got, []string{"ua:admin", "u1:user", "u2:user", ":admin"}) || len(resp.UpdatedUsers) != 2 {
		t.Fatalf("after list add: %v, users %+v", got, resp.UpdatedUsers)
	}

	existing := `Existing members=[Member(user_id='ua', user_email=None, role='admin'), Member(user_id='u1', user_email=None, role='user'), ` +
		`Member(user_id='u2', user_email=None, role='user'), Member(user_id=None, user_email='e@x', role='admin')]`
	e := f.call(famMaster, "POST", "/team/member_add", map[string]any{"team_id": "t1", "member": map[string]any{"user_id": "u1", "role": "admin"}}).
		want(t, 400, wire.TypeAlreadyInTeam, "User already in team. Member: user_id=u1, user_email=None. "+existing)
	if e.Param != "member" {
		t.Errorf("param %v, want member", e.Param)
	}
	f.call(famMaster, "POST", "/team/member_add", map[string]any{"team_id": "t1", "member": []any{
		map[string]any{"user_id": "u9", "user_email": "e@x", "role": "user"}, map[string]any{"user_id": "u2", "role": "user"},
	}}).want(t, 400, wire.TypeAlreadyInTeam, "All users are already in team. "+existing)

	// A list with one new member among duplicates adds just that one.
	f.ok(famMaster, "POST", "/team/member_add", map[string]any{"team_id": "t1", "member": []any{
		map[string]any{"user_id": "u1", "role": "user"}, map[string]any{"user_id": "u3", "role": "user"},
	}}, &resp)
	if len(resp.UpdatedUsers) != 1 || *resp.UpdatedUsers[0].UserID != "u3" || len(f.teamInfo("t1").MembersWithRoles) != 5 {
		t.Fatalf("partial duplicate list: users %+v, team %v", resp.UpdatedUsers, memberIDs(f.teamInfo("t1")))
	}
}

// TestMemberAddPermissions: proxy admin and team admins may add; plain
// members and outsiders get 403; an unknown team is 404; a refused call
// changes nothing.
func TestMemberAddPermissions(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1", "members_with_roles": []any{
		map[string]any{"user_id": "ua", "role": "admin"}, map[string]any{"user_id": "um", "role": "user"},
	}})
	f.newTeam(map[string]any{"team_id": "t2", "members_with_roles": []any{map[string]any{"user_id": "uo", "role": "admin"}}})
	teamAdmin := f.newKey(map[string]any{"user_id": "ua"})
	member := f.newKey(map[string]any{"user_id": "um", "team_id": "t1"})
	outsider := f.newKey(map[string]any{"user_id": "uo"})

	add := func(key, team, user string) famResp {
		return f.call(key, "POST", "/team/member_add", map[string]any{"team_id": team, "member": map[string]any{"user_id": user, "role": "user"}})
	}
	add(teamAdmin, "t1", "new1").want(t, 200, "", "")
	notAllowed := "Call not allowed. User not proxy admin OR team admin. route=/team/member_add, team_id=t1"
	add(member, "t1", "new2").want(t, 403, "", notAllowed)
	add(outsider, "t1", "new3").want(t, 403, "", notAllowed)
	add(teamAdmin, "t2", "new4").want(t, 403, "", "team_id=t2")
	add(famMaster, "nope", "x").want(t, 404, "", "Team not found, passed team_id=nope")
	add(teamAdmin, "nope", "x").want(t, 404, "", "Team not found, passed team_id=nope")
	add("", "t1", "x").want(t, 401, wire.TypeAuth, "No api key passed in")

	if got := memberIDs(f.teamInfo("t1")); !slices.Equal(got, []string{"ua:admin", "um:user", "new1:user"}) {
		t.Fatalf("members after refused adds: %v", got)
	}
	if got := memberIDs(f.teamInfo("t2")); !slices.Equal(got, []string{"uo:admin"}) {
		t.Fatalf("t2 changed: %v", got)
	}
}

// TestMemberAddBadInput: schema errors are 422 detail lists, never 500, and
// change nothing.
func TestMemberAddBadInput(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1"})
	for _, tc := range []struct {
		name string
		body any
		loc  []any
	}{
		{"malformed", `{"team_id": "t1", "member": `, nil},
		{"not an object", `[1, 2]`, []any{"body"}},
		{"empty body", ``, []any{"body"}},
		{"missing team_id", map[string]any{"member": map[string]any{"user_id": "u", "role": "user"}}, []any{"body", "team_id"}},
		{"missing member", map[string]any{"team_id": "t1"}, []any{"body", "member"}},
		{"null member", map[string]any{"team_id": "t1", "member": nil}, []any{"body", "member"}},
		{"member a string", map[string]any{"team_id": "t1", "member": "u"}, []any{"body", "member"}},
		{"team_id a number", map[string]any{"team_id": 7, "member": map[string]any{"user_id": "u", "role": "user"}}, []any{"body", "team_id"}},
		{"bad role", map[string]any{"team_id": "t1", "member": map[string]any{"user_id": "u", "role": "owner"}}, []any{"body", "member", "role"}},
		{"bad role in list", map[string]any{"team_id": "t1", "member": []any{map[string]any{"user_id": "u", "role": "owner"}}}, []any{"body", "member", 0, "role"}},
		{"no identity", map[string]any{"team_id": "t1", "member": map[string]any{"role": "user"}}, []any{"body", "member"}},
		{"empty list", map[string]any{"team_id": "t1", "member": []any{}}, []any{"body", "member"}},
		{"user_id a number", map[string]any{"team_id": "t1", "member": map[string]any{"user_id": 5, "role": "user"}}, []any{"body", "member", "user_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.call(famMaster, "POST", "/team/member_add", tc.body).wantDetail(t, tc.loc...)
		})
	}
	f.call(famMaster, "POST", "/team/member_add", map[string]any{"team_id": "t1", "member": map[string]any{"user_id": "u", "role": "user"}, "max_budget_in_team": -1}).
		want(t, 400, "", "max_budget_in_team cannot be negative. Received: -1.0")
	f.call(famMaster, "GET", "/team/member_add", nil).want(t, http.StatusMethodNotAllowed, "", "")
	if n := len(f.teamInfo("t1").MembersWithRoles); n != 0 {
		t.Fatalf("bad input added %d members", n)
	}
}

// TestMemberAddSequentialUnderLostUpdate: the lost-update fault only loses
// concurrent writes; one writer at a time still sees every member.
func TestMemberAddSequentialUnderLostUpdate(t *testing.T) {
	f := newFam(t, Config{Faults: FaultSet{FaultLostUpdate: true}})
	f.newTeam(map[string]any{"team_id": "t1"})
	for _, u := range []string{"u1", "u2", "u3"} {
		f.ok(famMaster, "POST", "/team/member_add", map[string]any{"team_id": "t1", "member": map[string]any{"user_id": u, "role": "user"}}, nil)
	}
	if got := memberIDs(f.teamInfo("t1")); !slices.Equal(got, []string{"u1:user", "u2:user", "u3:user"}) {
		t.Fatalf("members: %v", got)
	}
}
