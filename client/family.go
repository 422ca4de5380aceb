package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyrace/keyrace/wire"
)

// MemberAdd calls POST /team/member_add.
func (c *Client) MemberAdd(ctx context.Context, r wire.TeamMemberAddRequest) (wire.TeamMemberAddResponse, *Exchange, error) {
	var out wire.TeamMemberAddResponse
	ex, err := c.Do(ctx, http.MethodPost, "/team/member_add", nil, r, &out)
	return out, ex, err
}

// BlockTeam calls POST /team/block.
func (c *Client) BlockTeam(ctx context.Context, teamID string) (*Exchange, error) {
	return c.Do(ctx, http.MethodPost, "/team/block", nil, wire.BlockTeamRequest{TeamID: teamID}, nil)
}

// UnblockTeam calls POST /team/unblock.
func (c *Client) UnblockTeam(ctx context.Context, teamID string) (*Exchange, error) {
	return c.Do(ctx, http.MethodPost, "/team/unblock", nil, wire.BlockTeamRequest{TeamID: teamID}, nil)
}

// UpdateKey calls POST /key/update.
func (c *Client) UpdateKey(ctx context.Context, r wire.UpdateKeyRequest) (wire.Key, *Exchange, error) {
	var out wire.Key
	ex, err := c.Do(ctx, http.MethodPost, "/key/update", nil, r, &out)
	return out, ex, err
}

// ListKeys calls GET /key/list with the given filters (team_id, user_id,
// key_alias, return_full_object) on one page.
func (c *Client) ListKeys(ctx context.Context, filters url.Values, page, size int) (wire.KeyListResponse, *Exchange, error) {
	q := url.Values{}
	for k, v := range filters {
		q[k] = v
	}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	if size > 0 {
		q.Set("size", strconv.Itoa(size))
	}
	var out wire.KeyListResponse
	ex, err := c.Do(ctx, http.MethodGet, "/key/list", q, nil, &out)
	return out, ex, err
}

// Models calls GET /v1/models: the models the calling key may use.
func (c *Client) Models(ctx context.Context) (wire.ModelList, *Exchange, error) {
	var out wire.ModelList
	ex, err := c.Do(ctx, http.MethodGet, "/v1/models", nil, nil, &out)
	return out, ex, err
}

// ChatMock calls POST /v1/chat/completions with LiteLLM's mock_response, so
// the proxy enforces auth, model access and budgets but calls no provider.
func (c *Client) ChatMock(ctx context.Context, model, reply string) (wire.ChatCompletion, *Exchange, error) {
	var out wire.ChatCompletion
	req := wire.ChatCompletionRequest{Model: model, Messages: []wire.ChatMessage{{Role: "user", Content: "keyrace"}}, MockResponse: &reply}
	ex, err := c.Do(ctx, http.MethodPost, "/v1/chat/completions", nil, req, &out)
	return out, ex, err
}
