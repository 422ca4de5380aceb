package refimpl

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

// TestBadInput sends malformed, mistyped, incomplete and oversized requests
// and checks each gets LiteLLM's 4xx in a parseable envelope, never a 5xx,
// and that the team's state is exactly as before.
func TestBadInput(t *testing.T) {
	_, c := startTest(t, Config{MaxBody: 4096})
	ctx := ctxT(t)
	mustTeam(t, c, wire.NewTeamRequest{TeamID: "t", Models: []string{"m1"}, ObjectPermission: groups("G1")})
	before, _, _ := c.TeamInfo(ctx, "t")

	big := `{"team_id":"t","team_alias":"` + strings.Repeat("x", 5000) + `"}`
	cases := []struct {
		name         string
		method, path string
		body         string
		key          string
		status       int
		variant      client.Variant
		contains     string
	}{
		{"malformed json", "POST", "/team/update", `{"team_id": "t",`, testMasterKey, 422, client.VariantDetailList, "JSON decode error"},
		{"not an object", "POST", "/team/update", `["t"]`, testMasterKey, 422, client.VariantDetailList, "valid dictionary"},
		{"empty body", "POST", "/team/update", ``, testMasterKey, 422, client.VariantDetailList, "Field required"},
		{"trailing garbage", "POST", "/team/update", `{"team_id":"t"} x`, testMasterKey, 422, client.VariantDetailList, "JSON decode error"},
		{"missing team_id", "POST", "/team/update", `{"team_alias":"y"}`, testMasterKey, 422, client.VariantDetailList, "body.team_id: Field required"},
		{"team_id of wrong type", "POST", "/team/update", `{"team_id": 7}`, testMasterKey, 422, client.VariantDetailList, "body.team_id: Input should be a valid string"},
		{"list of wrong type", "POST", "/team/update", `{"team_id":"t","object_permission":{"mcp_access_groups":"G2"}}`, testMasterKey, 422, client.VariantDetailList, "mcp_access_groups: Input should be a valid list"},
		{"item of wrong type", "POST", "/team/update", `{"team_id":"t","models":["a",3]}`, testMasterKey, 422, client.VariantDetailList, "Input should be a valid string"},
		{"budget of wrong type", "POST", "/team/update", `{"team_id":"t","max_budget":"ten"}`, testMasterKey, 422, client.VariantDetailList, "max_budget: Input should be a valid number"},
		{"negative budget", "POST", "/team/update", `{"team_id":"t","max_budget":-1}`, testMasterKey, 400, client.VariantEnvelope, "max_budget cannot be negative. Received: -1.0"},
		{"unknown team", "POST", "/team/update", `{"team_id":"nope","team_alias":"z"}`, testMasterKey, 404, client.VariantEnvelope, "Team not found, passed team_id=nope"},
		{"oversized body", "POST", "/team/update", big, testMasterKey, 413, client.VariantEnvelope, "Request body too large"},
		{"small value padded past the limit", "POST", "/team/update", `{"team_id":"t","team_alias":"pad"}` + strings.Repeat(" ", 5000) + "GARBAGE", testMasterKey, 413, client.VariantEnvelope, "Request body too large"},
		{"trailing brackets", "POST", "/team/update", `{"team_id":"t","team_alias":"zz"}]]]`, testMasterKey, 422, client.VariantDetailList, "extra data after the JSON value"},
		{"trailing braces", "POST", "/team/update", `{"team_id":"t","team_alias":"zz"}}}garbage`, testMasterKey, 422, client.VariantDetailList, "extra data after the JSON value"},
		{"null in a list", "POST", "/team/update", `{"team_id":"t","models":[null]}`, testMasterKey, 422, client.VariantDetailList, "body.models.0: Input should be a valid string"},
		{"null among groups", "POST", "/team/update", `{"team_id":"t","object_permission":{"mcp_access_groups":["G1",null]}}`, testMasterKey, 422, client.VariantDetailList, "body.object_permission.mcp_access_groups.1: Input should be a valid string"},
		{"null in a key's list", "POST", "/key/generate", `{"team_id":"t","models":["m1",null]}`, testMasterKey, 422, client.VariantDetailList, "body.models.1: Input should be a valid string"},
		{"null tool list", "POST", "/team/update", `{"team_id":"t","object_permission":{"mcp_tool_permissions":{"s1":null}}}`, testMasterKey, 422, client.VariantDetailList, "mcp_tool_permissions.s1: Input should be a valid list"},
		{"miscased team_id is not team_id", "POST", "/team/update", `{"TEAM_ID":"t","team_alias":"z"}`, testMasterKey, 422, client.VariantDetailList, "body.team_id: Field required"},
		{"budget out of range", "POST", "/team/update", `{"team_id":"t","max_budget":1e400}`, testMasterKey, 422, client.VariantDetailList, "max_budget: Input should be a finite number"},
		{"huge negative budget in Python's notation", "POST", "/team/update", `{"team_id":"t","max_budget":-1e20}`, testMasterKey, 400, client.VariantEnvelope, "max_budget cannot be negative. Received: -1e+20"},
		{"tiny negative budget in Python's notation", "POST", "/team/update", `{"team_id":"t","max_budget":-1e-7}`, testMasterKey, 400, client.VariantEnvelope, "max_budget cannot be negative. Received: -1e-07"},
		{"no key", "POST", "/team/update", `{"team_id":"t","team_alias":"z"}`, "", 401, client.VariantEnvelope, wire.MsgNoAPIKey},
		{"wrong key", "POST", "/team/update", `{"team_id":"t","team_alias":"z"}`, "sk-wrong", 401, client.VariantEnvelope, "Invalid proxy server token"},
		{"duplicate team", "POST", "/team/new", `{"team_id":"t"}`, testMasterKey, 400, client.VariantEnvelope, wire.MsgTeamExists("t")},
		{"bad member role", "POST", "/team/new", `{"team_id":"t2","members_with_roles":[{"user_id":"u","role":"owner"}]}`, testMasterKey, 422, client.VariantDetailList, "'admin' or 'user'"},
		{"key for unknown team", "POST", "/key/generate", `{"team_id":"nope"}`, testMasterKey, 400, client.VariantEnvelope, wire.MsgTeamNotInDB("nope")},
		{"key with bad secret", "POST", "/key/generate", `{"key":"abcdefghijkl"}`, testMasterKey, 400, client.VariantEnvelope, "must start with 'sk-'. Received: abcd****ijkl"},
		{"key with bad duration", "POST", "/key/generate", `{"duration":"soon"}`, testMasterKey, 400, client.VariantEnvelope, "Invalid duration format"},
		{"key not allowed by team", "POST", "/key/generate", `{"team_id":"t","object_permission":{"mcp_access_groups":["G2"]}}`, testMasterKey, 403, client.VariantEnvelope, "Team allows: ['G1']"},
		{"team info without id", "GET", "/team/info", ``, testMasterKey, 422, client.VariantEnvelope, wire.MsgTeamInfoNoID},
		{"team info unknown", "GET", "/team/info?team_id=nope", ``, testMasterKey, 404, client.VariantEnvelope, wire.MsgTeamInfoNotFound("nope")},
		{"key info unknown", "GET", "/key/info?key=sk-nope", ``, testMasterKey, 404, client.VariantEnvelope, wire.MsgKeyNotFound},
		{"key delete nothing", "POST", "/key/delete", `{}`, testMasterKey, 422, client.VariantDetailList, wire.MsgKeysOrAliases},
		{"key delete unknown", "POST", "/key/delete", `{"keys":["sk-nope"]}`, testMasterKey, 404, client.VariantEnvelope, wire.MsgNoKeysFound},
		{"team delete unknown among known", "POST", "/team/delete", `{"team_ids":["t","nope"]}`, testMasterKey, 404, client.VariantEnvelope, "Team not found, passed team_id=nope"},
		{"team delete empty", "POST", "/team/delete", `{"team_ids":[]}`, testMasterKey, 422, client.VariantDetailList, "team_ids: Field required"},
		{"unknown route", "GET", "/team/nothing", ``, testMasterKey, 404, client.VariantDetailString, "Not Found"},
		{"wrong method", "GET", "/team/update", ``, testMasterKey, 405, client.VariantDetailString, "Method Not Allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, query := tc.path, ""
			if i := strings.IndexByte(path, '?'); i >= 0 {
				path, query = path[:i], path[i+1:]
			}
			req, _ := http.NewRequestWithContext(ctx, tc.method, c.BaseURL()+path+"?"+query, strings.NewReader(tc.body))
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			e := client.ParseError(resp.StatusCode, body)
			if resp.StatusCode != tc.status || e.Variant != tc.variant || !strings.Contains(e.Message, tc.contains) {
				t.Fatalf("got %d %s %s\nwant %d %s containing %q", resp.StatusCode, e.Variant, body, tc.status, tc.variant, tc.contains)
			}
			if e.Variant == client.VariantEnvelope && e.Code != itoa(tc.status) {
				t.Errorf("code %q, want %q", e.Code, itoa(tc.status))
			}
		})
	}
	after, _, err := c.TeamInfo(ctx, "t")
	if err != nil {
		t.Fatalf("the team did not survive the bad requests: %v", err)
	}
	a, b := after.TeamInfo, before.TeamInfo
	if ptr(a.TeamAlias) != ptr(b.TeamAlias) || !slices.Equal(a.Models, b.Models) || a.MaxBudget != nil ||
		!slices.Equal(a.ObjectPermission.MCPAccessGroups, b.ObjectPermission.MCPAccessGroups) || len(after.Keys) != 0 {
		t.Fatalf("bad input changed the team:\nbefore %+v\nafter  %+v (keys %d)", b, a, len(after.Keys))
	}
}

// TestMiscasedFieldsAreIgnored: encoding/json would take "MCP_access_groups"
// for mcp_access_groups; pydantic ignores a key that is not the field's
// name, so the permission the body spells correctly is the one stored.
func TestMiscasedFieldsAreIgnored(t *testing.T) {
	_, c := startTest(t, Config{})
	ctx := ctxT(t)
	raw := `{"team_id":"ci","object_permission":{"mcp_access_groups":["G1"],"MCP_access_groups":["EVIL"]},"Team_Alias":"evil","metadata":{"Owner":"kept"}}`
	status, body := rawRequest(t, c, "POST", "/team/new", raw)
	if status != 200 {
		t.Fatalf("team/new: %d %s", status, body)
	}
	info, _, err := c.TeamInfo(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	got := info.TeamInfo
	if p := got.ObjectPermission; p == nil || !slices.Equal(p.MCPAccessGroups, []string{"G1"}) {
		t.Errorf("stored groups %+v, want ['G1'] (the miscased key must be ignored)", p)
	}
	if got.TeamAlias != nil {
		t.Errorf("team_alias %q taken from Team_Alias", *got.TeamAlias)
	}
	if got.Metadata["Owner"] != "kept" {
		t.Errorf("metadata keys are data, not field names: %v", got.Metadata)
	}
}

// TestIncompleteBodies: a body that ends before its declared length (client
// half-closed) or declares more than the limit is refused, and nothing is
// created.
func TestIncompleteBodies(t *testing.T) {
	_, c := startTest(t, Config{MaxBody: 4096})
	addr := strings.TrimPrefix(c.BaseURL(), "http://")
	send := func(head, body string) string {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST /team/new HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n%s\r\n%s", testMasterKey, head, body)
		_ = conn.(*net.TCPConn).CloseWrite()
		reply, _ := io.ReadAll(conn)
		line, _, _ := strings.Cut(string(reply), "\r\n")
		return line
	}
	cases := []struct{ name, head, body, status string }{
		{"short of its Content-Length", "Content-Length: 100\r\n", `{"team_id":"cut1"}`, "400"},
		{"chunk cut short", "Transfer-Encoding: chunked\r\n", "100\r\n" + `{"team_id":"cut2"}`, "400"},
		{"declared over the limit", "Content-Length: 5000000\r\n", `{"team_id":"cut3"}`, "413"},
	}
	for i, tc := range cases {
		if line := send(tc.head, tc.body); !strings.Contains(line, " "+tc.status+" ") {
			t.Errorf("%s: status line %q, want %s", tc.name, line, tc.status)
		}
		if _, _, err := c.TeamInfo(ctxT(t), fmt.Sprintf("cut%d", i+1)); err == nil {
			t.Errorf("%s: the team was created from an incomplete body", tc.name)
		}
	}
}

func ptr(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
