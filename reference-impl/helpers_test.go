package refimpl

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

const testMasterKey = "sk-test-master"

// startTest serves a fresh reference service for one test.
func startTest(t testing.TB, cfg Config) (*Server, *client.Client) {
	t.Helper()
	if cfg.MasterKey == "" {
		cfg.MasterKey = testMasterKey
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	c, err := client.New(hs.URL, cfg.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func groups(items ...string) *wire.PermissionUpdate {
	return &wire.PermissionUpdate{MCPAccessGroups: wire.List(items...)}
}

// mustTeam creates a team or fails the test.
func mustTeam(t testing.TB, c *client.Client, req wire.NewTeamRequest) wire.Team {
	t.Helper()
	team, _, err := c.NewTeam(ctxT(t), req)
	if err != nil {
		t.Fatalf("create team: %v", err)
	}
	return team
}

// apiErr asserts that err is an API error with the given status.
func apiErr(t testing.TB, err error, status int) *client.APIError {
	t.Helper()
	ae, ok := client.AsAPIError(err)
	if !ok {
		t.Fatalf("want HTTP %d, got %v", status, err)
	}
	if ae.Status != status {
		t.Fatalf("want HTTP %d, got %d: %s", status, ae.Status, ae.Body)
	}
	return ae
}

// mustClient serves s for a benchmark's setup calls.
func mustClient(t testing.TB, s *Server) *client.Client {
	t.Helper()
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	c, err := client.New(hs.URL, testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
