package refimpl

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

func TestTeamAndKeyLifecycle(t *testing.T) {
	_, c := startTest(t, Config{})
	ctx := ctxT(t)
	team := mustTeam(t, c, wire.NewTeamRequest{TeamID: "t1", TeamAlias: "alpha", Models: []string{"gpt-4o"}, ObjectPermission: groups("G1")})
	if team.TeamID != "t1" || team.ObjectPermissionID == nil || team.ObjectPermission == nil ||
		!slices.Equal(team.ObjectPermission.MCPAccessGroups, []string{"G1"}) {
		t.Fatalf("team/new answered %+v", team)
	}

	key, _, err := c.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: "t1", KeyAlias: "k1", ObjectPermission: groups("G1")})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(key.Key))
	switch {
	case !strings.HasPrefix(key.Key, "sk-") || len(key.Key) != 25:
		t.Errorf("key %q: want sk- plus 22 characters", key.Key)
	case key.Token != hex.EncodeToString(sum[:]) || key.TokenID != key.Token:
		t.Errorf("token %q, token_id %q: want sha256(key)", key.Token, key.TokenID)
	case key.KeyName != "sk-..."+key.Key[len(key.Key)-4:]:
		t.Errorf("key_name %q", key.KeyName)
	case key.TeamID == nil || *key.TeamID != "t1" || key.Expires != nil:
		t.Errorf("team_id/expires: %+v", key)
	case key.ObjectPermissionID == nil || *key.ObjectPermissionID == *team.ObjectPermissionID:
		t.Errorf("the key must get its own object permission record, got %v", key.ObjectPermissionID)
	}

	for _, q := range []string{key.Key, key.Token} {
		info, _, err := c.KeyInfo(ctx, q)
		if err != nil || info.Key != q || info.Info.KeyAlias == nil || *info.Info.KeyAlias != "k1" {
			t.Errorf("key/info?key=%s: %+v %v", q, info, err)
		}
	}
	ti, _, err := c.TeamInfo(ctx, "t1")
	if err != nil || len(ti.Keys) != 1 || ti.Keys[0].Token != "" || ti.TeamInfo.ObjectPermission == nil {
		t.Fatalf("team/info: %+v %v", ti, err)
	}
	teams, _, err := c.ListTeams(ctx)
	if err != nil || len(teams) != 1 || teams[0].TeamID != "t1" {
		t.Fatalf("team/list: %+v %v", teams, err)
	}

	// The virtual key authenticates, sees itself, and is refused admin routes.
	kc := c.WithKey(key.Key)
	if self, _, err := kc.KeyInfo(ctx, ""); err != nil || self.Info.TokenID != key.Token {
		t.Errorf("key/info as the key itself: %+v %v", self, err)
	}
	_, _, err = kc.NewTeam(ctx, wire.NewTeamRequest{TeamID: "t2"})
	if ae := apiErr(t, err, 401); !strings.HasPrefix(ae.Message, "Authentication Error, Only proxy admin can be used") || !strings.Contains(ae.Message, "Route=/team/new") {
		t.Errorf("admin-only route: %s", ae.Message)
	}
	if _, _, err := kc.TeamInfo(ctx, "t1"); err != nil {
		t.Errorf("a team's key may read its team: %v", err)
	}

	del, _, err := c.DeleteKeys(ctx, key.Key)
	if err != nil || !slices.Equal(del.DeletedKeys, []string{key.Key}) {
		t.Fatalf("key/delete: %+v %v", del, err)
	}
	_, _, err = c.KeyInfo(ctx, key.Key)
	if ae := apiErr(t, err, 404); ae.Message != wire.MsgKeyNotFound {
		t.Errorf("key/info after delete: %s", ae.Message)
	}
	_, _, err = kc.KeyInfo(ctx, "")
	if ae := apiErr(t, err, 401); ae.Type != wire.TypeTokenNotFound {
		t.Errorf("deleted key still authenticates: %s", ae.Body)
	}
	_, _, err = c.DeleteKeys(ctx, key.Key)
	if ae := apiErr(t, err, 404); ae.Message != wire.MsgNoKeysFound {
		t.Errorf("second delete: %s", ae.Message)
	}

	if _, err := c.DeleteTeams(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.TeamInfo(ctx, "t1")
	if ae := apiErr(t, err, 404); ae.Message != wire.MsgTeamInfoNotFound("t1") {
		t.Errorf("team/info after delete: %s", ae.Message)
	}
}

func TestAuthentication(t *testing.T) {
	_, c := startTest(t, Config{})
	ctx := ctxT(t)
	cases := []struct {
		name    string
		headers map[string]string
		status  int
		typ     string
		message string
	}{
		{"no key", nil, 401, wire.TypeAuth, wire.MsgNoAPIKey},
		{"malformed header", map[string]string{"Authorization": "Token abc"}, 401, wire.TypeAuth, wire.MsgMalformedKey("Token abc")},
		{"unknown key", map[string]string{"Authorization": "Bearer sk-nope1234"}, 401, wire.TypeTokenNotFound,
			wire.MsgInvalidToken("sk-nope1234", hashKey("sk-nope1234"))},
		{"wrong master key", map[string]string{"Authorization": "Bearer sk-test-masterX"}, 401, wire.TypeTokenNotFound, ""},
		{"bearer master key", map[string]string{"Authorization": "Bearer " + testMasterKey}, 200, "", ""},
		{"x-litellm-api-key", map[string]string{"x-litellm-api-key": testMasterKey}, 200, "", ""},
		{"x-litellm-api-key with Bearer", map[string]string{"x-litellm-api-key": "Bearer " + testMasterKey, "Authorization": "junk"}, 200, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL()+"/team/list", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 200 {
				return
			}
			e := client.ParseError(resp.StatusCode, body)
			if e.Variant != client.VariantEnvelope || e.Type != tc.typ || e.Code != "401" || (tc.message != "" && e.Message != tc.message) {
				t.Errorf("got %s", body)
			}
		})
	}
}

func TestObjectPermissionMerge(t *testing.T) {
	_, c := startTest(t, Config{})
	ctx := ctxT(t)
	team := mustTeam(t, c, wire.NewTeamRequest{TeamID: "t", ObjectPermission: &wire.PermissionUpdate{
		MCPServers: wire.List("s1"), MCPAccessGroups: wire.List("A"), VectorStores: wire.List("v1"),
		MCPToolPermissions: wire.Some(map[string][]string{"s9": {"read"}}),
	}})
	opID := *team.ObjectPermissionID
	steps := []struct {
		name string
		perm *wire.PermissionUpdate
		want func(p *wire.ObjectPermission) bool
	}{
		{"a sent field replaces, lists are not unioned", &wire.PermissionUpdate{MCPAccessGroups: wire.List("B")},
			func(p *wire.ObjectPermission) bool {
				return slices.Equal(p.MCPAccessGroups, []string{"B"}) && slices.Equal(p.MCPServers, []string{"s1"}) && slices.Equal(p.VectorStores, []string{"v1"})
			}},
		{"null clears to empty, others kept", &wire.PermissionUpdate{MCPServers: wire.Null[[]string]()},
			func(p *wire.ObjectPermission) bool {
				return len(p.MCPServers) == 0 && p.MCPServers != nil && slices.Equal(p.MCPAccessGroups, []string{"B"})
			}},
		{"[] sets empty", &wire.PermissionUpdate{VectorStores: wire.List()},
			func(p *wire.ObjectPermission) bool {
				return len(p.VectorStores) == 0 && slices.Equal(p.MCPAccessGroups, []string{"B"})
			}},
		{"the tool map is replaced as a unit", &wire.PermissionUpdate{MCPToolPermissions: wire.Some(map[string][]string{"s2": {"write"}})},
			func(p *wire.ObjectPermission) bool {
				return len(p.MCPToolPermissions) == 1 && slices.Equal(p.MCPToolPermissions["s2"], []string{"write"})
			}},
	}
	for _, st := range steps {
		res, _, err := c.UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: "t", ObjectPermission: wire.Some(st.perm)})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		p := res.Data.ObjectPermission
		if p == nil || p.ObjectPermissionID != opID || !st.want(p) {
			t.Fatalf("%s: got %+v (id must stay %s)", st.name, p, opID)
		}
		info, _, _ := c.TeamInfo(ctx, "t")
		if !st.want(info.TeamInfo.ObjectPermission) {
			t.Fatalf("%s: /team/info does not show the write at once: %+v", st.name, info.TeamInfo.ObjectPermission)
		}
	}
	// object_permission: null and omitted both leave the record alone.
	before, _, _ := c.TeamInfo(ctx, "t")
	for _, body := range []string{`{"team_id":"t","object_permission":null}`, `{"team_id":"t","team_alias":"x"}`} {
		if _, err := c.DoRaw(ctx, http.MethodPost, "/team/update", nil, []byte(body), nil); err != nil {
			t.Fatal(err)
		}
	}
	after, _, _ := c.TeamInfo(ctx, "t")
	if !slices.Equal(before.TeamInfo.ObjectPermission.MCPAccessGroups, after.TeamInfo.ObjectPermission.MCPAccessGroups) ||
		after.TeamInfo.TeamAlias == nil || *after.TeamInfo.TeamAlias != "x" {
		t.Fatalf("null/omitted object_permission changed the record: %+v", after.TeamInfo)
	}
}

func TestKeyValidationMessages(t *testing.T) {
	_, c := startTest(t, Config{})
	ctx := ctxT(t)
	mustTeam(t, c, wire.NewTeamRequest{TeamID: "team-1", ObjectPermission: &wire.PermissionUpdate{
		MCPServers: wire.List("srv-1"), MCPAccessGroups: wire.List("G1", "o'x"),
		MCPToolPermissions: wire.Some(map[string][]string{"srv-t": {"read"}}),
	}})
	mustTeam(t, c, wire.NewTeamRequest{TeamID: "bare"})
	cases := []struct {
		name string
		req  wire.GenerateKeyRequest
		msg  string
	}{
		{"access group", wire.GenerateKeyRequest{TeamID: "team-1", ObjectPermission: groups("G2", "G1")},
			`Key requests MCP access groups not allowed by team 'team-1': ['G2']. Team allows: ['G1', "o'x"].`},
		{"server", wire.GenerateKeyRequest{TeamID: "team-1", ObjectPermission: &wire.PermissionUpdate{MCPServers: wire.List("srv-2")}},
			"Key requests MCP servers not allowed by team 'team-1': ['srv-2']. Team allows: ['srv-1', 'srv-t']. Global (allow_all_keys) servers: []."},
		{"server via tool permissions", wire.GenerateKeyRequest{TeamID: "team-1", ObjectPermission: &wire.PermissionUpdate{MCPToolPermissions: wire.Some(map[string][]string{"srv-9": {"x"}})}},
			"Key requests MCP servers not allowed by team 'team-1': ['srv-9']. Team allows: ['srv-1', 'srv-t']. Global (allow_all_keys) servers: []."},
		{"team without object permission allows nothing", wire.GenerateKeyRequest{TeamID: "bare", ObjectPermission: groups("G1")},
			"Key requests MCP access groups not allowed by team 'bare': ['G1']. Team allows: []."},
		{"teamless key, groups", wire.GenerateKeyRequest{ObjectPermission: groups("G1")},
			"Key is not in a team. MCP access groups cannot be assigned to keys outside of a team. Disallowed groups: ['G1']."},
		{"teamless key, servers", wire.GenerateKeyRequest{ObjectPermission: &wire.PermissionUpdate{MCPServers: wire.List("s")}},
			"Key is not in a team. Only globally available (allow_all_keys) MCP servers can be assigned: []. Disallowed servers: ['s']."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.GenerateKey(ctx, tc.req)
			ae := apiErr(t, err, 403)
			if ae.Message != tc.msg || ae.Code != "403" || ae.Variant != client.VariantEnvelope {
				t.Fatalf("got %s\nwant message %s", ae.Body, tc.msg)
			}
		})
	}
	// Allowed requests pass, including servers reached through tool permissions.
	for _, p := range []*wire.PermissionUpdate{groups("o'x"), {MCPServers: wire.List("srv-t", "srv-1")}} {
		if _, _, err := c.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: "team-1", ObjectPermission: p}); err != nil {
			t.Errorf("allowed request refused: %v", err)
		}
	}
}

func TestHealth(t *testing.T) {
	_, c := startTest(t, Config{Faults: FaultSet{FaultStaleObjectPermission: true}})
	ctx := ctxT(t)
	ex, err := c.WithKey("").Liveliness(ctx)
	if err != nil || string(ex.ResponseBody) != `"I'm alive!"` {
		t.Fatalf("liveliness: %s %v", ex.ResponseBody, err)
	}
	r, _, err := c.WithKey("").Readiness(ctx)
	if err != nil || r["status"] != "healthy" || r["faults"] != string(FaultStaleObjectPermission) {
		t.Fatalf("readiness: %v %v", r, err)
	}
}
