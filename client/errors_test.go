package client

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyrace/keyrace/wire"
)

// fixtureDirs hold real-shaped error bodies: fixtures/errors has one of
// every envelope variant proxies are known to send, fixtures/wire has every
// error body the reference service sends.
var fixtureDirs = []string{"../fixtures/errors", "../fixtures/wire"}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../fixtures/errors", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseErrorFixtures(t *testing.T) {
	cases := []struct {
		file       string
		status     int
		variant    Variant
		message    string // prefix
		typ, param string
		code       string
		notAllowed *wire.NotAllowed
	}{
		{"litellm-1.83-key-generate-403-dict-repr.json", 403, VariantEnvelopeDictRepr,
			"Key requests MCP access groups not allowed by team '00000000-0000-4000-8000-000000000001': ['test2']. Team allows: ['test1'].",
			"internal_server_error", "None", "403",
			&wire.NotAllowed{Kind: wire.KindMCPAccessGroup, TeamID: "00000000-0000-4000-8000-000000000001", Requested: []string{"test2"}, Allowed: []string{"test1"}}},
		{"litellm-1.83-key-generate-403-dict-repr-escaped.json", 403, VariantEnvelopeDictRepr,
			`Key requests MCP access groups not allowed by team 'team-1': ["o'brien"]. Team allows: ['G1'].`,
			"internal_server_error", "None", "403",
			&wire.NotAllowed{Kind: wire.KindMCPAccessGroup, TeamID: "team-1", Requested: []string{"o'brien"}, Allowed: []string{"G1"}}},
		{"plain-403-servers.json", 403, VariantEnvelope, "Key requests MCP servers not allowed by team 'team-1'", "auth_error", "None", "403",
			&wire.NotAllowed{Kind: wire.KindMCPServers, TeamID: "team-1", Requested: []string{"srv-2"}, Allowed: []string{"srv-1"}, Global: []string{}}},
		{"numeric-code-401.json", 401, VariantEnvelope, wire.MsgNoAPIKey, "auth_error", "None", "401", nil},
		{"token-not-found-401.json", 401, VariantEnvelope, "Authentication Error, Invalid proxy server token passed.", "token_not_found_in_db", "key", "401", nil},
		{"detail-object-404.json", 404, VariantDetailObject, "Team not found, passed team_id=team-unknown", "", "", "", nil},
		{"detail-string-404.json", 404, VariantDetailString, "Not Found", "", "", "", nil},
		{"detail-list-422.json", 422, VariantDetailList, "body.team_id: Field required", "", "", "", nil},
		{"error-string-400.json", 400, VariantErrorString, "Team id = team-1 already exists.", "", "", "", nil},
		{"budget-429-null-param.json", 429, VariantEnvelope, "Budget has been exceeded! Team=team-1", "budget_exceeded", "", "429", nil},
		{"html-502.txt", 502, VariantUnparsed, "<html><body><h1>502 Bad Gateway", "", "", "", nil},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			e := ParseError(c.status, readFixture(t, c.file))
			if e.Status != c.status || e.Variant != c.variant || !strings.HasPrefix(e.Message, c.message) ||
				e.Type != c.typ || e.Param != c.param || e.Code != c.code {
				t.Fatalf("got status=%d variant=%s type=%q param=%q code=%q message=%q", e.Status, e.Variant, e.Type, e.Param, e.Code, e.Message)
			}
			switch {
			case c.notAllowed == nil && e.NotAllowed != nil:
				t.Fatalf("unexpected NotAllowed %+v", e.NotAllowed)
			case c.notAllowed != nil && e.NotAllowed == nil:
				t.Fatalf("NotAllowed not extracted from %q", e.Message)
			case c.notAllowed != nil:
				g, w := e.NotAllowed, c.notAllowed
				if g.Kind != w.Kind || g.TeamID != w.TeamID || !slices.Equal(g.Requested, w.Requested) || !slices.Equal(g.Allowed, w.Allowed) || !slices.Equal(g.Global, w.Global) {
					t.Fatalf("NotAllowed = %+v, want %+v", g, w)
				}
			}
		})
	}
}

// TestEveryFixtureParses makes sure no fixture in the fixture folders is
// left unread: each must parse into a known variant (or be the deliberate
// unparsed one), with a non-empty message.
func TestEveryFixtureParses(t *testing.T) {
	for _, dir := range fixtureDirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			e := ParseError(400, b)
			if e.Message == "" {
				t.Errorf("%s: empty message", f)
			}
			if e.Variant == VariantUnparsed && !strings.HasSuffix(f, ".txt") {
				t.Errorf("%s: not parsed as any envelope", f)
			}
		}
	}
}

// FuzzParseError feeds arbitrary bodies (seeded with every fixture) to the
// parser: it must never panic, must always return a message for non-empty
// bodies, and must find a refusal wherever the exact template appears.
func FuzzParseError(f *testing.F) {
	for _, dir := range fixtureDirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e := ParseError(403, body)
		if e == nil || e.Status != 403 {
			t.Fatal("ParseError lost the status")
		}
		if len(strings.TrimSpace(string(body))) > 0 && e.Message == "" && e.Variant == VariantUnparsed {
			t.Fatalf("no message for %q", body)
		}
		if e.NotAllowed != nil && !strings.Contains(e.Message, "not allowed by team") {
			t.Fatalf("NotAllowed %+v from a message without the template: %q", e.NotAllowed, e.Message)
		}
	})
}
