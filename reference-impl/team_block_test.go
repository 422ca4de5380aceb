package refimpl

import (
	"encoding/json"
	"testing"

	"github.com/keyrace/keyrace/wire"
)

// TestTeamBlockUnblock: block and unblock answer with the team row and take
// effect on the team's keys at the very next request, cache warm or not.
func TestTeamBlockUnblock(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1"})
	k := f.newKey(map[string]any{"team_id": "t1"})
	f.chat(k, "gpt-4o").want(t, 200, "", "") // warm the key and team entries

	var row wire.Team
	f.ok(famMaster, "POST", "/team/block", map[string]any{"team_id": "t1"}, &row)
	if row.TeamID != "t1" || !row.Blocked {
		t.Fatalf("block answered %+v", row)
	}
	f.chat(k, "gpt-4o").want(t, 401, wire.TypeAuth, "Team=t1 is blocked")
	f.call(k, "GET", "/v1/models", nil).want(t, 401, wire.TypeAuth, "Team=t1 is blocked")
	if !f.teamInfo("t1").Blocked {
		t.Fatal("/team/info does not show the block")
	}

	f.ok(famMaster, "POST", "/team/unblock", map[string]any{"team_id": "t1"}, &row)
	if row.Blocked {
		t.Fatalf("unblock answered %+v", row)
	}
	f.chat(k, "gpt-4o").want(t, 200, "", "")

	// Blocking twice is fine and still blocked.
	f.ok(famMaster, "POST", "/team/block", map[string]any{"team_id": "t1"}, nil)
	f.ok(famMaster, "POST", "/team/block", map[string]any{"team_id": "t1"}, nil)
	f.chat(k, "gpt-4o").want(t, 401, wire.TypeAuth, "Team=t1 is blocked")
}

// TestTeamBlockRefusals: admin only; unknown team 404; bad input 422.
func TestTeamBlockRefusals(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1", "members_with_roles": []any{map[string]any{"user_id": "ua", "role": "admin"}}})
	teamAdmin := f.newKey(map[string]any{"user_id": "ua", "team_id": "t1"})
	for _, path := range []string{"/team/block", "/team/unblock"} {
		t.Run(path, func(t *testing.T) {
			f.call(teamAdmin, "POST", path, map[string]any{"team_id": "t1"}).
				want(t, 401, wire.TypeAuth, "Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route="+path)
			f.call("", "POST", path, map[string]any{"team_id": "t1"}).want(t, 401, wire.TypeAuth, "No api key passed in")
			f.call(famMaster, "POST", path, map[string]any{"team_id": "nope"}).want(t, 404, "", "Team not found, passed team_id=nope")
			f.call(famMaster, "POST", path, map[string]any{}).wantDetail(t, "body", "team_id")
			f.call(famMaster, "POST", path, map[string]any{"team_id": true}).wantDetail(t, "body", "team_id")
			f.call(famMaster, "POST", path, `{"team_id":`).wantDetail(t)
			f.call(famMaster, "GET", path, nil).want(t, 405, "", "")
		})
	}
	if f.teamInfo("t1").Blocked {
		t.Fatal("a refused block changed the team")
	}
}

// TestTeamBlockUnderStaleTeamCache is LiteLLM issue 35565: with the fault,
// a warmed team copy keeps admitting traffic after /team/block and keeps
// refusing it after /team/unblock; the correct build follows at once.
func TestTeamBlockUnderStaleTeamCache(t *testing.T) {
	for _, tc := range []struct {
		name           string
		faults         FaultSet
		afterBlock     int
		afterUnblocked int
	}{
		{"correct", nil, 401, 200},
		{"stale-team-cache", FaultSet{FaultStaleTeamCache: true}, 200, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFam(t, Config{Faults: tc.faults})
			f.newTeam(map[string]any{"team_id": "t1"})
			k := f.newKey(map[string]any{"team_id": "t1"})
			f.chat(k, "gpt-4o").want(t, 200, "", "")
			f.ok(famMaster, "POST", "/team/block", map[string]any{"team_id": "t1"}, nil)
			f.chat(k, "gpt-4o").want(t, tc.afterBlock, "", "")

			f.newTeam(map[string]any{"team_id": "t2", "blocked": true})
			k2 := f.newKey(map[string]any{"team_id": "t2"})
			f.chat(k2, "gpt-4o").want(t, 401, "", "Team=t2 is blocked")
			f.ok(famMaster, "POST", "/team/unblock", map[string]any{"team_id": "t2"}, nil)
			f.chat(k2, "gpt-4o").want(t, tc.afterUnblocked, "", "")
		})
	}
}

// teamRowOf decodes a team row answer (for shape checks).
func teamRowOf(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTeamBlockAnswerShape: the answer is a plain team row, with the
// fields /team/info shows.
func TestTeamBlockAnswerShape(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1", "models": []string{"gpt-4o"}})
	m := teamRowOf(t, f.call(famMaster, "POST", "/team/block", map[string]any{"team_id": "t1"}).body)
	for _, field := range []string{"team_id", "team_alias", "models", "max_budget", "spend", "blocked", "metadata", "members_with_roles", "object_permission_id"} {
		if _, ok := m[field]; !ok {
			t.Errorf("answer lacks %q: %v", field, m)
		}
	}
}
