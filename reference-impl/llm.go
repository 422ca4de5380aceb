package refimpl

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/keyrace/keyrace/wire"
)

// The LLM API surface: where a key is used rather than managed. These are
// request-time decisions: the key comes from the "token:<hash>" cache and
// its team from teamForAuth ("team_id:<id>"), both of which every write
// evicts before acknowledging, so a management write is visible to the
// very next request.

// Model-list sentinels a key or team may hold instead of names: they lift
// the restriction at that level (all-team-models on a key defers to the
// team; all-proxy-models allows every served model).
const (
	allTeamModels  = "all-team-models"
	allProxyModels = "all-proxy-models"
)

// Mock completions report LiteLLM's mock usage.
const (
	mockPromptTokens     = 10
	mockCompletionTokens = 20
)

// restricts reports whether a models list limits anything: an empty list
// and the sentinels mean every model.
func restricts(models []string) bool {
	return len(models) > 0 && !slices.Contains(models, allTeamModels) && !slices.Contains(models, allProxyModels)
}

func allows(models []string, model string) bool {
	return !restricts(models) || slices.Contains(models, model)
}

// handleModels is GET /v1/models: the served models the caller may use,
// i.e. key models ∩ team models (an empty list means all).
func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	out := wire.ModelList{Object: "list", Data: []wire.Model{}}
	for _, m := range s.cfg.Models {
		if c.admin || (allows(c.key.Models, m) && (c.team == nil || allows(c.team.Models, m))) {
			out.Data = append(out.Data, wire.Model{ID: m, Object: "model", Created: wire.ModelCreated, OwnedBy: "openai"})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleChatCompletions is POST /v1/chat/completions with LiteLLM's
// mock_response. Every check a real call gets runs first, in LiteLLM's
// order: auth (401: key missing, unknown, blocked, expired; team blocked),
// key model access (403), team model access (403), key budget (429), team
// budget (429), served model (400). Only then does the reference service
// insist on mock_response (400), since it never calls a provider.
//
// A successful call adds Config.MockCallCost to the key's and the team's
// spend (default 0). The budget check and the charge are not one atomic
// step, so concurrent calls can overspend a budget by a few calls, as in
// LiteLLM.
func (s *Server) handleChatCompletions(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	var req wire.ChatCompletionRequest
	if aerr == nil {
		aerr = s.decode(w, r, &req)
	}
	switch {
	case aerr != nil:
	case req.Model == "":
		aerr = missingField("model")
	case req.Messages == nil:
		aerr = missingField("messages")
	default:
		aerr = admitCall(c, req.Model)
	}
	if aerr == nil && !slices.Contains(s.cfg.Models, req.Model) {
		aerr = badRequest(wire.MsgInvalidModel(req.Model))
	}
	if aerr == nil && req.MockResponse == nil {
		aerr = badRequest(wire.MsgMockResponseRequired)
	}
	if aerr == nil && req.Stream {
		aerr = badRequest(wire.MsgStreamUnsupported)
	}
	if aerr == nil {
		aerr = s.chargeMockCall(r, c)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, wire.ChatCompletion{
		ID: "chatcmpl-" + uuid.NewString(), Object: "chat.completion", Created: time.Now().Unix(), Model: req.Model,
		Choices: []wire.ChatChoice{{
			Message:      wire.ChatMessage{Role: "assistant", Content: *req.MockResponse},
			FinishReason: "stop",
		}},
		Usage: wire.Usage{PromptTokens: mockPromptTokens, CompletionTokens: mockCompletionTokens,
			TotalTokens: mockPromptTokens + mockCompletionTokens},
	})
}

// admitCall applies the model-access and budget checks of a request with
// the caller's key and the team authentication read. The master key is
// not limited.
func admitCall(c caller, model string) *apiError {
	if c.admin {
		return nil
	}
	k, t := c.key, c.team
	if !allows(k.Models, model) {
		return &apiError{status: http.StatusForbidden, typ: wire.TypeKeyModel, param: "model",
			msg: wire.MsgKeyModelDenied(k.Models, model)}
	}
	if t != nil && !allows(t.Models, model) {
		return &apiError{status: http.StatusForbidden, typ: wire.TypeTeamModel, param: "model",
			msg: wire.MsgTeamModelDenied(t.Models, model)}
	}
	if k.MaxBudget != nil && k.Spend >= *k.MaxBudget {
		return &apiError{status: http.StatusTooManyRequests, typ: wire.TypeBudgetExceeded,
			msg: wire.MsgKeyBudgetExceeded(k.Spend, *k.MaxBudget)}
	}
	if t != nil && t.MaxBudget != nil && t.Spend >= *t.MaxBudget {
		return &apiError{status: http.StatusTooManyRequests, typ: wire.TypeBudgetExceeded,
			msg: wire.MsgTeamBudgetExceeded(t.ID, t.Spend, *t.MaxBudget)}
	}
	return nil
}

// chargeMockCall adds the configured cost of a served call to the key's and
// its team's spend, and evicts both cache entries so the next budget check
// sees the new spend. A key deleted meanwhile is not charged.
func (s *Server) chargeMockCall(r *http.Request, c caller) *apiError {
	if c.admin || s.cfg.MockCallCost == 0 {
		return nil
	}
	keys := []string{"token:" + c.key.Token}
	if c.key.TeamID != "" {
		keys = append(keys, "team_id:"+c.key.TeamID)
	}
	err := s.announced(r.Context(), keys, func() (uint64, error) {
		k, t, err := s.store.AddSpend(r.Context(), c.key.Token, s.cfg.MockCallCost)
		if t != nil && t.Rev > k.Rev {
			return t.Rev, err
		}
		return k.Rev, err
	})
	var refused *apiError
	switch {
	case errors.As(err, &refused):
		return refused
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return internal(err)
	}
	return nil
}
