package refimpl

import (
	"slices"
	"testing"

	"github.com/keyrace/keyrace/wire"
)

func modelIDs(f *famSvc, key, path string) []string {
	f.t.Helper()
	var l wire.ModelList
	f.ok(key, "GET", path, nil, &l)
	if l.Object != "list" {
		f.t.Fatalf("object %q, want list", l.Object)
	}
	for _, m := range l.Data {
		if m.Object != "model" || m.Created != wire.ModelCreated || m.OwnedBy == "" {
			f.t.Fatalf("model entry %+v", m)
		}
	}
	return l.IDs()
}

// TestModels: /v1/models lists the served models the key may use: key
// models ∩ team models, where an empty list (or a sentinel) means all.
func TestModels(t *testing.T) {
	f := newFam(t, Config{Models: []string{"m1", "m2", "m3"}})
	f.newTeam(map[string]any{"team_id": "open"})
	f.newTeam(map[string]any{"team_id": "narrow", "models": []string{"m2", "m3", "other"}})
	for _, tc := range []struct {
		name string
		key  map[string]any
		want []string
	}{
		{"no restriction", map[string]any{}, []string{"m1", "m2", "m3"}},
		{"key models", map[string]any{"models": []string{"m3", "m1", "gone"}}, []string{"m1", "m3"}},
		{"team models", map[string]any{"team_id": "narrow"}, []string{"m2", "m3"}},
		{"key ∩ team", map[string]any{"team_id": "narrow", "models": []string{"m1", "m2"}}, []string{"m2"}},
		{"disjoint", map[string]any{"team_id": "narrow", "models": []string{"m1"}}, []string{}},
		{"all-team-models", map[string]any{"team_id": "narrow", "models": []string{"all-team-models"}}, []string{"m2", "m3"}},
		{"open team", map[string]any{"team_id": "open", "models": []string{"m2"}}, []string{"m2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := f.newKey(tc.key)
			if got := modelIDs(f, k, "/v1/models"); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := modelIDs(f, famMaster, "/models"); !slices.Equal(got, []string{"m1", "m2", "m3"}) {
		t.Fatalf("admin on /models: %v", got)
	}
	f.call("", "GET", "/v1/models", nil).want(t, 401, "", "No api key passed in")
	f.call("sk-unknown", "GET", "/v1/models", nil).want(t, 401, wire.TypeTokenNotFound, "")
}

// TestChatCompletion: a mock completion's shape, and the 400s of the
// reference service's mock-only contract.
func TestChatCompletion(t *testing.T) {
	f := newFam(t, Config{})
	k := f.newKey(map[string]any{})
	var cc wire.ChatCompletion
	f.ok(k, "POST", "/v1/chat/completions", famChatBody("gpt-4o"), &cc)
	if cc.Object != "chat.completion" || cc.Model != "gpt-4o" || len(cc.Choices) != 1 || cc.ID == "" || cc.Created == 0 {
		t.Fatalf("completion: %+v", cc)
	}
	if ch := cc.Choices[0]; ch.Message.Role != "assistant" || ch.Message.Content != "pong" || ch.FinishReason != "stop" {
		t.Fatalf("choice: %+v", ch)
	}
	if cc.Usage.TotalTokens != cc.Usage.PromptTokens+cc.Usage.CompletionTokens {
		t.Fatalf("usage: %+v", cc.Usage)
	}
	f.ok(famMaster, "POST", "/chat/completions", famChatBody("claude-3-5-sonnet"), nil)

	noMock := map[string]any{"model": "gpt-4o", "messages": []any{map[string]any{"role": "user", "content": "hi"}}}
	f.call(k, "POST", "/v1/chat/completions", noMock).want(t, 400, "", "send mock_response")
	stream := famChatBody("gpt-4o")
	stream["stream"] = true
	f.call(k, "POST", "/v1/chat/completions", stream).want(t, 400, "", "does not stream")
	f.chat(k, "gpt-5").want(t, 400, "", "Invalid model name passed in model=gpt-5")

	for _, tc := range []struct {
		name string
		body any
		loc  []any
	}{
		{"malformed", `{"model": "gpt-4o",`, nil},
		{"missing model", map[string]any{"messages": []any{}, "mock_response": "x"}, []any{"body", "model"}},
		{"missing messages", map[string]any{"model": "gpt-4o", "mock_response": "x"}, []any{"body", "messages"}},
		{"messages a string", map[string]any{"model": "gpt-4o", "messages": "hi", "mock_response": "x"}, []any{"body", "messages"}},
		{"mock_response a number", map[string]any{"model": "gpt-4o", "messages": []any{}, "mock_response": 3}, []any{"body", "mock_response"}},
	} {
		t.Run(tc.name, func(t *testing.T) { f.call(k, "POST", "/v1/chat/completions", tc.body).wantDetail(t, tc.loc...) })
	}
	f.call(k, "GET", "/v1/chat/completions", nil).want(t, 405, "", "")
}

// TestChatEnforcement: every check of a real call, with LiteLLM's
// statuses, types and messages.
func TestChatEnforcement(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1", "models": []string{"gpt-4o", "gpt-4o-mini"}})
	f.newTeam(map[string]any{"team_id": "broke", "max_budget": 0})
	f.newTeam(map[string]any{"team_id": "off", "blocked": true})

	k := f.newKey(map[string]any{"team_id": "t1", "models": []string{"gpt-4o"}})
	e := f.chat(k, "gpt-4o-mini").want(t, 403, wire.TypeKeyModel,
		"key not allowed to access model. This key can only access models=['gpt-4o']. Tried to access gpt-4o-mini")
	if e.Param != "model" {
		t.Errorf("param %v, want model", e.Param)
	}
	inTeam := f.newKey(map[string]any{"team_id": "t1"})
	f.chat(inTeam, "claude-3-5-sonnet").want(t, 403, wire.TypeTeamModel,
		"team not allowed to access model. This team can only access models=['gpt-4o', 'gpt-4o-mini']. Tried to access claude-3-5-sonnet")
	f.chat(inTeam, "gpt-4o-mini").want(t, 200, "", "")

	broke := f.newKey(map[string]any{"team_id": "broke"})
	e = f.chat(broke, "gpt-4o").want(t, 429, wire.TypeBudgetExceeded, "Budget has been exceeded! Team=broke Current cost: 0.0, Max budget: 0.0")
	if e.Param != nil {
		t.Errorf("budget param %v, want null", e.Param)
	}
	f.chat(f.newKey(map[string]any{"team_id": "off"}), "gpt-4o").want(t, 401, wire.TypeAuth, "Team=off is blocked")
	blocked := f.newKey(map[string]any{})
	f.ok(famMaster, "POST", "/key/update", map[string]any{"key": blocked, "blocked": true}, nil)
	f.chat(blocked, "gpt-4o").want(t, 401, wire.TypeAuth, "Key is blocked")
	f.chat("", "gpt-4o").want(t, 401, wire.TypeAuth, "No api key passed in")
	f.chat("sk-nobody", "gpt-4o").want(t, 401, wire.TypeTokenNotFound, "Unable to find token")
}

// TestChatSpend: with a per-call cost, each served call charges the key and
// its team, and the team's budget stops calls once spend reaches it.
func TestChatSpend(t *testing.T) {
	f := newFam(t, Config{MockCallCost: 0.5})
	f.newTeam(map[string]any{"team_id": "t1", "max_budget": 1})
	k := f.newKey(map[string]any{"team_id": "t1"})
	f.chat(k, "gpt-4o").want(t, 200, "", "")
	f.chat(k, "gpt-4o").want(t, 200, "", "")
	f.chat(k, "gpt-4o").want(t, 429, wire.TypeBudgetExceeded, "Budget has been exceeded! Team=t1 Current cost: 1.0, Max budget: 1.0")
	if ks, ts := f.keyInfo(k).Spend, f.teamInfo("t1").Spend; ks != 1 || ts != 1 {
		t.Fatalf("spend key %v team %v, want 1 and 1", ks, ts)
	}
	// A refused call costs nothing; raising the budget lets calls through at once.
	f.ok(famMaster, "POST", "/team/update", map[string]any{"team_id": "t1", "max_budget": 10}, nil)
	f.chat(k, "gpt-4o").want(t, 200, "", "")
	if ts := f.teamInfo("t1").Spend; ts != 1.5 {
		t.Fatalf("team spend %v, want 1.5", ts)
	}
	if _, err := New(Config{MasterKey: "sk-x", MockCallCost: -1}); err == nil {
		t.Fatal("a negative call cost was accepted")
	}
}

// TestRequestTimeSeesTeamWrites: after a warm decision, each team write
// (models, max_budget, blocked) decides the very next request on the
// correct build.
func TestRequestTimeSeesTeamWrites(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1", "models": []string{"gpt-4o"}})
	k := f.newKey(map[string]any{"team_id": "t1"})
	f.chat(k, "gpt-4o").want(t, 200, "", "")
	f.chat(k, "gpt-4o-mini").want(t, 403, wire.TypeTeamModel, "")

	f.ok(famMaster, "POST", "/team/update", map[string]any{"team_id": "t1", "models": []string{"gpt-4o", "gpt-4o-mini"}}, nil)
	f.chat(k, "gpt-4o-mini").want(t, 200, "", "")
	if got := modelIDs(f, k, "/v1/models"); !slices.Equal(got, []string{"gpt-4o", "gpt-4o-mini"}) {
		t.Fatalf("/v1/models after grant: %v", got)
	}
	f.ok(famMaster, "POST", "/team/update", map[string]any{"team_id": "t1", "models": []string{"gpt-4o"}}, nil)
	f.chat(k, "gpt-4o-mini").want(t, 403, wire.TypeTeamModel, "This team can only access models=['gpt-4o']")

	f.ok(famMaster, "POST", "/team/update", map[string]any{"team_id": "t1", "max_budget": 0}, nil)
	f.chat(k, "gpt-4o").want(t, 429, wire.TypeBudgetExceeded, "Team=t1")
	f.ok(famMaster, "POST", "/team/update", map[string]any{"team_id": "t1", "max_budget": nil}, nil)
	f.chat(k, "gpt-4o").want(t, 200, "", "")

	f.ok(famMaster, "POST", "/team/update", map[string]any{"team_id": "t1", "blocked": true}, nil)
	f.chat(k, "gpt-4o").want(t, 401, wire.TypeAuth, "Team=t1 is blocked")
}

// TestModelsFromEnv: KEYRACE_MODELS sets the served models.
func TestModelsFromEnv(t *testing.T) {
	t.Setenv("KEYRACE_MODELS", " a, b,,a ")
	cfg, err := ConfigFromEnv()
	if err != nil || !slices.Equal(cfg.Models, []string{"a", "b"}) {
		t.Fatalf("got %v, %v", cfg.Models, err)
	}
	t.Setenv("KEYRACE_MODELS", " , ")
	if _, err := ConfigFromEnv(); err == nil {
		t.Fatal("a list without names was accepted")
	}
	t.Setenv("KEYRACE_MODELS", "")
	if cfg, err := ConfigFromEnv(); err != nil || cfg.Models != nil {
		t.Fatalf("empty KEYRACE_MODELS must mean the default: %v, %v", cfg.Models, err)
	}
	f := newFam(t, Config{})
	if got := modelIDs(f, famMaster, "/v1/models"); !slices.Equal(got, DefaultModels) {
		t.Fatalf("default models: %v", got)
	}
}
