package refimpl

import (
	"slices"
	"testing"

	"github.com/keyrace/keyrace/wire"
)

// TestKeyUpdatePartial is the partial-update algebra: sent fields replace,
// null clears, omitted fields are kept, and 0 / false / [] are values.
func TestKeyUpdatePartial(t *testing.T) {
	f := newFam(t, Config{})
	k := f.newKey(map[string]any{"key_alias": "a1", "models": []string{"gpt-4o"}, "max_budget": 5, "metadata": map[string]any{"x": 1}})
	update := func(body map[string]any) wire.Key {
		t.Helper()
		body["key"] = k
		var out wire.Key
		f.ok(famMaster, "POST", "/key/update", body, &out)
		if out.Key != k || out.Token != hashKey(k) {
			t.Fatalf("answer key/token: %q / %q", out.Key, out.Token)
		}
		return out
	}

	out := update(map[string]any{"key_alias": "a2"})
	if *out.KeyAlias != "a2" || !slices.Equal(out.Models, []string{"gpt-4o"}) || *out.MaxBudget != 5 || out.Metadata["x"] != float64(1) {
		t.Fatalf("alias only: %+v", out)
	}
	out = update(map[string]any{"max_budget": 0, "models": []string{}, "blocked": false, "metadata": map[string]any{}})
	if out.MaxBudget == nil || *out.MaxBudget != 0 || len(out.Models) != 0 || *out.Blocked || len(out.Metadata) != 0 || *out.KeyAlias != "a2" {
		t.Fatalf("zero values: %+v", out)
	}
	// max_budget 0 is a budget: the next call is refused.
	f.chat(k, "gpt-4o-mini").want(t, 429, wire.TypeBudgetExceeded, "Budget has been exceeded! Current cost: 0.0, Max budget: 0.0")
	out = update(map[string]any{"max_budget": nil, "key_alias": nil})
	if out.MaxBudget != nil || out.KeyAlias != nil {
		t.Fatalf("null clears: %+v", out)
	}
	f.chat(k, "gpt-4o-mini").want(t, 200, "", "")
	// The alias freed by null can be taken by another key.
	f.newKey(map[string]any{"key_alias": "a2"})

	// /key/info shows what the answer showed; the hash form of the key works too.
	var byHash wire.Key
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": hashKey(k), "metadata": map[string]any{"y": "z"}}, &byHash)
	info := f.keyInfo(k)
	if info.Metadata["y"] != "z" || info.MaxBudget != nil || info.KeyAlias != nil || len(info.Models) != 0 {
		t.Fatalf("/key/info after updates: %+v", info)
	}
}

// TestKeyUpdateTakesEffectAtOnce: a warmed key's next request sees the
// update (blocked, models, max_budget): the "token:<hash>" entry is evicted
// before the answer.
func TestKeyUpdateTakesEffectAtOnce(t *testing.T) {
	f := newFam(t, Config{})
	k := f.newKey(map[string]any{})
	f.chat(k, "gpt-4o-mini").want(t, 200, "", "")
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "models": []string{"gpt-4o"}}, nil)
	f.chat(k, "gpt-4o-mini").want(t, 403, wire.TypeKeyModel,
		"key not allowed to access model. This key can only access models=['gpt-4o']. Tried to access gpt-4o-mini")
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "blocked": true}, nil)
	f.chat(k, "gpt-4o").want(t, 401, wire.TypeAuth, "Key is blocked")
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "blocked": false}, nil)
	f.chat(k, "gpt-4o").want(t, 200, "", "")
}

// TestKeyUpdateObjectPermission: object_permission merges field by field
// into the key's own record and is validated against the key's team like
// /key/generate; a refused update changes nothing at all.
func TestKeyUpdateObjectPermission(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1", "object_permission": map[string]any{"mcp_access_groups": []string{"G1", "G2"}, "mcp_servers": []string{"s1"}}})
	k := f.newKey(map[string]any{"team_id": "t1", "object_permission": map[string]any{"mcp_access_groups": []string{"G1"}, "mcp_servers": []string{"s1"}}})
	before := f.keyInfo(k)

	var out wire.Key
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "object_permission": famGroups("G2")}, &out)
	p := out.ObjectPermission
	if p == nil || !slices.Equal(p.MCPAccessGroups, []string{"G2"}) || !slices.Equal(p.MCPServers, []string{"s1"}) {
		t.Fatalf("merged permission: %+v", p)
	}
	if *out.ObjectPermissionID != *before.ObjectPermissionID {
		t.Fatalf("permission id changed: %s -> %s", *before.ObjectPermissionID, *out.ObjectPermissionID)
	}

	f.call(famMaster, "POST", "/key/update", map[string]any{"key": k, "object_permission": famGroups("G3"), "metadata": map[string]any{"m": 1}, "key_alias": "zz"}).
		want(t, 403, wire.TypeAuth, "Key requests MCP access groups not allowed by team 't1': ['G3']. Team allows: ['G1', 'G2'].")
	f.call(famMaster, "POST", "/key/update", map[string]any{"key": k, "object_permission": map[string]any{"mcp_servers": []string{"s9"}}}).
		want(t, 403, wire.TypeAuth, "Key requests MCP servers not allowed by team 't1': ['s9']. Team allows: ['s1'].")
	after := f.keyInfo(k)
	if after.KeyAlias != nil || len(after.Metadata) != 0 || !slices.Equal(after.ObjectPermission.MCPAccessGroups, []string{"G2"}) {
		t.Fatalf("a refused update changed the key: %+v %+v", after, after.ObjectPermission)
	}

	// A teamless key gets the teamless template, as on /key/generate.
	solo := f.newKey(map[string]any{})
	f.call(famMaster, "POST", "/key/update", map[string]any{"key": solo, "object_permission": famGroups("G1")}).
		want(t, 403, wire.TypeAuth, "Key is not in a team. MCP access groups cannot be assigned to keys outside of a team. Disallowed groups: ['G1'].")
	// null object_permission changes nothing.
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "object_permission": nil}, &out)
	if !slices.Equal(out.ObjectPermission.MCPAccessGroups, []string{"G2"}) {
		t.Fatalf("null object_permission changed it: %+v", out.ObjectPermission)
	}
}

// TestKeyUpdateRefusals: unknown key, alias clash, who may update, team
// change, bad input. None of them changes anything.
func TestKeyUpdateRefusals(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1", "members_with_roles": []any{
		map[string]any{"user_id": "ua", "role": "admin"}, map[string]any{"user_id": "um", "role": "user"},
	}})
	f.newTeam(map[string]any{"team_id": "t2"})
	owned := f.newKey(map[string]any{"user_id": "um", "team_id": "t1", "key_alias": "owned"})
	other := f.newKey(map[string]any{"user_id": "uz", "key_alias": "other"})
	teamAdmin := f.newKey(map[string]any{"user_id": "ua"})

	f.call(famMaster, "POST", "/key/update", map[string]any{"key": "sk-nope", "blocked": true}).
		want(t, 404, wire.TypeNotFound, "Key not found in database")
	f.call(famMaster, "POST", "/key/update", map[string]any{"key": owned, "key_alias": "other", "max_budget": 1}).
		want(t, 400, wire.TypeBadRequest, "Key with alias 'other' already exists. Unique key aliases across all keys are required.")
	f.call(famMaster, "POST", "/key/update", map[string]any{"key": owned, "team_id": "t2"}).want(t, 400, "", "team_id")
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": owned, "team_id": "t1"}, nil) // same team: fine

	// The owner and the team admin may; another user may not.
	f.ok(owned, "POST", "/key/update", map[string]any{"key": owned, "metadata": map[string]any{"by": "owner"}}, nil)
	f.ok(teamAdmin, "POST", "/key/update", map[string]any{"key": owned, "metadata": map[string]any{"by": "team admin"}}, nil)
	f.call(owned, "POST", "/key/update", map[string]any{"key": other, "blocked": true}).want(t, 403, "", "You are not authorized to update this key")
	f.call(teamAdmin, "POST", "/key/update", map[string]any{"key": other, "blocked": true}).want(t, 403, "", "")

	for _, tc := range []struct {
		name string
		body any
		loc  []any
	}{
		{"malformed", `{"key": `, nil},
		{"missing key", map[string]any{"blocked": true}, []any{"body", "key"}},
		{"models a string", map[string]any{"key": owned, "models": "gpt-4o"}, []any{"body", "models"}},
		{"max_budget a string", map[string]any{"key": owned, "max_budget": "lots"}, []any{"body", "max_budget"}},
		{"blocked a string", map[string]any{"key": owned, "blocked": "yes"}, []any{"body", "blocked"}},
		{"groups a string", map[string]any{"key": owned, "object_permission": map[string]any{"mcp_access_groups": "G1"}}, []any{"body", "object_permission", "mcp_access_groups"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.call(famMaster, "POST", "/key/update", tc.body).wantDetail(t, tc.loc...)
		})
	}
	f.call(famMaster, "POST", "/key/update", map[string]any{"key": owned, "max_budget": -1}).want(t, 400, "", "max_budget cannot be negative. Received: -1.0")
	f.call(famMaster, "POST", "/key/update", map[string]any{"key": owned, "duration": "soon"}).want(t, 400, "", "Invalid duration format")
	f.call("", "POST", "/key/update", map[string]any{"key": owned}).want(t, 401, "", "No api key passed in")

	info := f.keyInfo(owned)
	if *info.KeyAlias != "owned" || info.MaxBudget != nil || *info.Blocked || *info.TeamID != "t1" || info.Metadata["by"] != "team admin" || info.Expires != nil {
		t.Fatalf("refusals changed the key: %+v", info)
	}
	if *f.keyInfo(other).Blocked {
		t.Fatal("a refused update blocked another user's key")
	}
}

// TestKeyUpdateDuration: a duration sets the expiry, null and "-1" clear it.
func TestKeyUpdateDuration(t *testing.T) {
	f := newFam(t, Config{})
	k := f.newKey(map[string]any{})
	var out wire.Key
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "duration": "1h"}, &out)
	if out.Expires == nil {
		t.Fatal("duration 1h set no expiry")
	}
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "duration": "-1"}, &out)
	if out.Expires != nil {
		t.Fatalf("duration -1 kept expiry %v", *out.Expires)
	}
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "duration": "1s"}, nil)
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": k, "duration": nil}, &out)
	if out.Expires != nil {
		t.Fatalf("duration null kept expiry %v", *out.Expires)
	}
}
