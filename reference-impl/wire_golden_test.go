package refimpl

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyrace/keyrace/wire"
)

var update = flag.Bool("update", false, "rewrite the golden wire fixtures in fixtures/wire")

// TestWireFixtures pins every error body the reference service sends to a
// fixture file in fixtures/wire (the client's parser tests read the same
// files). Run with -update to rewrite them after a deliberate change.
func TestWireFixtures(t *testing.T) {
	_, c := startTest(t, Config{MaxBody: 256})
	ctx := ctxT(t)
	mustTeam(t, c, wire.NewTeamRequest{TeamID: "team-1", ObjectPermission: &wire.PermissionUpdate{
		MCPAccessGroups: wire.List("G1"), MCPServers: wire.List("srv-1")}})
	key, _, err := c.GenerateKey(ctx, wire.GenerateKeyRequest{UserID: "user-1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name         string
		method, path string
		auth         string
		body         string
	}{
		{"401-no-key", "GET", "/team/list", "", ""},
		{"401-malformed-key", "GET", "/team/list", "Token sk-1234", ""},
		{"401-unknown-key", "GET", "/team/list", "Bearer sk-unknown-0000", ""},
		{"401-admin-only", "POST", "/team/new", "Bearer " + key.Key, `{"team_id":"x"}`},
		{"403-mcp-access-groups", "POST", "/key/generate", "Bearer " + testMasterKey, `{"team_id":"team-1","object_permission":{"mcp_access_groups":["G2"]}}`},
		{"403-mcp-servers", "POST", "/key/generate", "Bearer " + testMasterKey, `{"team_id":"team-1","object_permission":{"mcp_servers":["srv-2"]}}`},
		{"403-teamless-groups", "POST", "/key/generate", "Bearer " + testMasterKey, `{"object_permission":{"mcp_access_groups":["G1"]}}`},
		{"400-team-exists", "POST", "/team/new", "Bearer " + testMasterKey, `{"team_id":"team-1"}`},
		{"400-negative-budget", "POST", "/team/update", "Bearer " + testMasterKey, `{"team_id":"team-1","max_budget":-1}`},
		{"400-team-not-in-db", "POST", "/key/generate", "Bearer " + testMasterKey, `{"team_id":"team-unknown"}`},
		{"404-team-update", "POST", "/team/update", "Bearer " + testMasterKey, `{"team_id":"team-unknown"}`},
		{"404-team-info", "GET", "/team/info?team_id=team-unknown", "Bearer " + testMasterKey, ""},
		{"404-key-info", "GET", "/key/info?key=sk-unknown-0000", "Bearer " + testMasterKey, ""},
		{"404-key-delete", "POST", "/key/delete", "Bearer " + testMasterKey, `{"keys":["sk-unknown-0000"]}`},
		{"404-route", "GET", "/nothing", "", ""},
		{"405-method", "GET", "/team/new", "", ""},
		{"413-oversized", "POST", "/team/new", "Bearer " + testMasterKey, `{"team_id":"` + strings.Repeat("x", 300) + `"}`},
		{"422-malformed-json", "POST", "/team/update", "Bearer " + testMasterKey, `{"team_id":`},
		{"422-wrong-type", "POST", "/team/update", "Bearer " + testMasterKey, `{"team_id":["team-1"]}`},
		{"422-missing-team-id", "POST", "/team/update", "Bearer " + testMasterKey, `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, query, _ := strings.Cut(tc.path, "?")
			req, _ := http.NewRequestWithContext(ctx, tc.method, c.BaseURL()+path+"?"+query, strings.NewReader(tc.body))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got := append(readAll(t, resp), '\n')
			if resp.StatusCode < 400 || resp.StatusCode > 499 {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			file := filepath.Join("..", "fixtures", "wire", tc.name+".json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./reference-impl -run TestWireFixtures -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("body changed:\ngot  %s\nwant %s", got, want)
			}
		})
	}
}
