package refimpl

import (
	"slices"
	"testing"

	"github.com/keyrace/keyrace/wire"
)

// famSeq is a short deterministic sequence: set up, warm with a decision,
// write, decide at once. It runs with the default 60 s TTL, so nothing
// expires on its own during it.
type famSeq struct {
	name string
	// catches are the faults under which the final decision differs.
	catches []FaultName
	// run performs the sequence and returns the final decision's answer.
	run func(t *testing.T, f *famSvc) famResp
	// correct is the final status on a build without any catching fault,
	// correctMsg a substring of its error message; faulty the status with one.
	correct    int
	correctMsg string
	faulty     int
}

// famBuilds are the builds the matrix runs: the correct one and each fault
// on its own.
var famBuilds = []FaultName{"", FaultStaleObjectPermission, FaultStaleTeamCache, FaultLostUpdate, FaultNullRelationAllows}

func famSeqs() []famSeq {
	teamModels := func(models ...string) map[string]any {
		return map[string]any{"team_id": "t1", "models": models}
	}
	update := func(t *testing.T, f *famSvc, body map[string]any) {
		body["team_id"] = "t1"
		f.ok(famMaster, "POST", "/team/update", body, nil)
	}
	return []famSeq{
		{
			name: "team-models-grant", catches: []FaultName{FaultStaleTeamCache},
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(teamModels("gpt-4o"))
				k := f.newKey(map[string]any{"team_id": "t1"})
				f.chat(k, "gpt-4o").want(t, 200, "", "")
				update(t, f, map[string]any{"models": []string{"gpt-4o", "gpt-4o-mini"}})
				return f.chat(k, "gpt-4o-mini")
			},
			correct: 200, faulty: 403,
		},
		{
			name: "team-models-revoke", catches: []FaultName{FaultStaleTeamCache},
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(teamModels("gpt-4o", "gpt-4o-mini"))
				k := f.newKey(map[string]any{"team_id": "t1"})
				f.chat(k, "gpt-4o-mini").want(t, 200, "", "")
				update(t, f, map[string]any{"models": []string{"gpt-4o"}})
				return f.chat(k, "gpt-4o-mini")
			},
			correct: 403, correctMsg: "This team can only access models=['gpt-4o']", faulty: 200,
		},
		{
			name: "team-models-list", catches: []FaultName{FaultStaleTeamCache},
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(teamModels("gpt-4o"))
				k := f.newKey(map[string]any{"team_id": "t1"})
				f.call(k, "GET", "/v1/models", nil).want(t, 200, "", "")
				update(t, f, map[string]any{"models": []string{"gpt-4o", "gpt-4o-mini"}})
				r := f.call(k, "GET", "/v1/models", nil)
				if r.status == 200 && !slices.Contains(modelIDs(f, k, "/v1/models"), "gpt-4o-mini") {
					r.status = 299 // 200 with the stale list: a stale decision
				}
				return r
			},
			correct: 200, faulty: 299,
		},
		{
			name: "team-block", catches: []FaultName{FaultStaleTeamCache},
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(teamModels())
				k := f.newKey(map[string]any{"team_id": "t1"})
				f.chat(k, "gpt-4o").want(t, 200, "", "")
				f.ok(famMaster, "POST", "/team/block", map[string]any{"team_id": "t1"}, nil)
				return f.chat(k, "gpt-4o")
			},
			correct: 401, correctMsg: "Team=t1 is blocked", faulty: 200,
		},
		{
			name: "team-max-budget", catches: []FaultName{FaultStaleTeamCache},
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(teamModels())
				k := f.newKey(map[string]any{"team_id": "t1"})
				f.chat(k, "gpt-4o").want(t, 200, "", "")
				update(t, f, map[string]any{"max_budget": 0})
				return f.chat(k, "gpt-4o")
			},
			correct: 429, correctMsg: "Team=t1 Current cost: 0.0, Max budget: 0.0", faulty: 200,
		},
		{
			// The revoke direction of the seed sequence: a privilege leak.
			name: "perm-revoke-generate", catches: []FaultName{FaultNullRelationAllows, FaultStaleObjectPermission},
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(map[string]any{"team_id": "t1", "object_permission": famGroups("G1", "G2")})
				f.newKey(map[string]any{"team_id": "t1", "object_permission": famGroups("G2")})
				update(t, f, map[string]any{"object_permission": famGroups("G1")})
				return f.call(famMaster, "POST", "/key/generate", map[string]any{"team_id": "t1", "object_permission": famGroups("G2")})
			},
			correct: 403, correctMsg: "not allowed by team 't1': ['G2']. Team allows: ['G1'].", faulty: 200,
		},
		{
			name: "perm-revoke-key-update", catches: []FaultName{FaultNullRelationAllows, FaultStaleObjectPermission},
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(map[string]any{"team_id": "t1", "object_permission": famGroups("G1", "G2")})
				k := f.newKey(map[string]any{"team_id": "t1", "object_permission": famGroups("G1")})
				f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "object_permission": famGroups("G2")}, nil)
				update(t, f, map[string]any{"object_permission": famGroups("G1")})
				return f.call(famMaster, "POST", "/key/update", map[string]any{"key": k, "object_permission": famGroups("G1", "G2")})
			},
			correct: 403, correctMsg: "Team allows: ['G1'].", faulty: 200,
		},
		{
			// Any team write drops the relation from the cached copy, so a
			// block or a member add opens groups the team never allowed.
			name: "perm-after-member-add", catches: []FaultName{FaultNullRelationAllows},
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(map[string]any{"team_id": "t1", "object_permission": famGroups("G1")})
				f.newKey(map[string]any{"team_id": "t1", "object_permission": famGroups("G1")})
				f.ok(famMaster, "POST", "/team/member_add", map[string]any{"team_id": "t1", "member": map[string]any{"user_id": "u1", "role": "user"}}, nil)
				return f.call(famMaster, "POST", "/key/generate", map[string]any{"team_id": "t1", "object_permission": famGroups("G9")})
			},
			correct: 403, correctMsg: "Team allows: ['G1'].", faulty: 200,
		},
		{
			name: "perm-after-block", catches: []FaultName{FaultNullRelationAllows},
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(map[string]any{"team_id": "t1", "object_permission": map[string]any{"mcp_servers": []string{"s1"}}})
				f.ok(famMaster, "POST", "/team/block", map[string]any{"team_id": "t1"}, nil)
				return f.call(famMaster, "POST", "/key/generate", map[string]any{"team_id": "t1", "object_permission": map[string]any{"mcp_servers": []string{"s9"}}})
			},
			correct: 403, correctMsg: "Team allows: ['s1']", faulty: 200,
		},
		{
			// Without a team write no fault of the family shows.
			name: "perm-no-write", catches: nil,
			run: func(t *testing.T, f *famSvc) famResp {
				f.newTeam(map[string]any{"team_id": "t1", "object_permission": famGroups("G1")})
				f.newKey(map[string]any{"team_id": "t1", "object_permission": famGroups("G1")})
				return f.call(famMaster, "POST", "/key/generate", map[string]any{"team_id": "t1", "object_permission": famGroups("G2")})
			},
			correct: 403, correctMsg: "Team allows: ['G1'].",
		},
	}
}

// TestFaultFamilyMatrix runs every sequence on every build: each fault is
// caught by its sequences, and every other build answers those sequences
// exactly as the correct build does.
func TestFaultFamilyMatrix(t *testing.T) {
	for _, build := range famBuilds {
		name := string(build)
		faults := FaultSet{}
		if build == "" {
			name = "correct"
		} else {
			faults[build] = true
		}
		for _, seq := range famSeqs() {
			t.Run(name+"/"+seq.name, func(t *testing.T) {
				f := newFam(t, Config{Faults: faults})
				got := seq.run(t, f)
				if slices.Contains(seq.catches, build) {
					if got.status != seq.faulty {
						t.Fatalf("fault not reproduced: want %d, got %d: %s", seq.faulty, got.status, got.body)
					}
					return
				}
				got.want(t, seq.correct, "", seq.correctMsg)
			})
		}
	}
}

// TestStaleTeamCacheIsPerFirstCaching: with stale-team-cache the stale copy
// serves every decision after the write, not just the first; a write
// before any read is seen, since nothing was cached yet.
func TestStaleTeamCacheIsPerFirstCaching(t *testing.T) {
	f := newFam(t, Config{Faults: FaultSet{FaultStaleTeamCache: true}})
	f.newTeam(map[string]any{"team_id": "t1", "models": []string{"gpt-4o"}})
	k := f.newKey(map[string]any{"team_id": "t1"})
	f.ok(famMaster, "POST", "/team/update", map[string]any{"team_id": "t1", "models": []string{"gpt-4o-mini"}}, nil)
	f.chat(k, "gpt-4o-mini").want(t, 200, "", "") // cold: reads the store
	f.ok(famMaster, "POST", "/team/update", map[string]any{"team_id": "t1", "models": []string{"gpt-4o"}}, nil)
	for range 3 {
		f.chat(k, "gpt-4o-mini").want(t, 200, "", "") // stale allow, every time
	}
	if got := f.teamInfo("t1").Models; !slices.Equal(got, []string{"gpt-4o"}) {
		t.Fatalf("/team/info reads the store and must show the write: %v", got)
	}
}

// TestNullRelationAllowsLeaksOnlyThroughValidation: the fault leaves
// /team/info and request-time decisions correct; only key validation leaks.
func TestNullRelationAllowsLeaksOnlyThroughValidation(t *testing.T) {
	f := newFam(t, Config{Faults: FaultSet{FaultNullRelationAllows: true}})
	f.newTeam(map[string]any{"team_id": "t1", "models": []string{"gpt-4o"}, "object_permission": famGroups("G1", "G2")})
	k := f.newKey(map[string]any{"team_id": "t1"})
	f.ok(famMaster, "POST", "/team/update", map[string]any{"team_id": "t1", "models": []string{"gpt-4o-mini"}, "object_permission": famGroups("G1")}, nil)
	f.chat(k, "gpt-4o").want(t, 403, wire.TypeTeamModel, "")
	f.chat(k, "gpt-4o-mini").want(t, 200, "", "")
	if p := f.teamInfo("t1").ObjectPermission; p == nil || !slices.Equal(p.MCPAccessGroups, []string{"G1"}) {
		t.Fatalf("/team/info: %+v", p)
	}
	f.call(famMaster, "POST", "/key/generate", map[string]any{"team_id": "t1", "object_permission": famGroups("G2")}).want(t, 200, "", "")
}
