// Package client talks to any LiteLLM-compatible proxy's team/key management
// API. Suites, scenarios and the CLI all use it, so every part of keyrace
// reads proxies the same way: typed requests and responses, every exchange
// recorded for evidence, and errors parsed from any envelope variant.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyrace/keyrace/wire"
)

// DefaultTimeout bounds one request, body included.
const DefaultTimeout = 10 * time.Second

// maxResponseBody caps how much of a response is read; the management API
// never needs more, and a garbage-speaking target cannot exhaust memory.
const maxResponseBody = 4 << 20

// ErrUnreachable wraps transport failures: refused connections, timeouts,
// resets. A target that is down yields it.
var ErrUnreachable = errors.New("target unreachable")

// ErrGarbage wraps 2xx answers whose body is not the JSON the endpoint
// promises.
var ErrGarbage = errors.New("unexpected response body")

// Exchange is one request and its answer, kept as evidence.
type Exchange struct {
	Method       string    `json:"method"`
	URL          string    `json:"url"`
	RequestBody  []byte    `json:"request_body,omitempty"`
	Status       int       `json:"status"`
	ResponseBody []byte    `json:"response_body,omitempty"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
}

// Client is a handle on one base URL with one API key. It is safe for
// concurrent use; WithKey derives a client that sends another key.
type Client struct {
	base   string
	apiKey string
	http   *http.Client
	trace  func(Exchange)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the underlying *http.Client.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTimeout sets the per-request timeout (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.http = &http.Client{Timeout: d, Transport: c.http.Transport} }
}

// WithTrace calls fn with every finished exchange (including failed ones).
func WithTrace(fn func(Exchange)) Option { return func(c *Client) { c.trace = fn } }

// New returns a client for baseURL (scheme and host, optionally a path
// prefix) that authenticates with apiKey.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("target %q: want an http(s)://host:port URL", baseURL)
	}
	c := &Client{
		base:   strings.TrimRight(u.String(), "/"),
		apiKey: apiKey,
		http:   &http.Client{Timeout: DefaultTimeout, Transport: http.DefaultTransport},
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the URL the client talks to.
func (c *Client) BaseURL() string { return c.base }

// HTTP returns the *http.Client c sends with (its timeout included), for
// requests that need headers Do does not set.
func (c *Client) HTTP() *http.Client { return c.http }

// WithKey returns a copy of c that authenticates with key.
func (c *Client) WithKey(key string) *Client {
	cp := *c
	cp.apiKey = key
	return &cp
}

// Do sends one request and decodes a 2xx JSON answer into out (when out is
// not nil). It returns the exchange in every case where a request was built.
// Non-2xx answers come back as *APIError, transport failures wrap
// ErrUnreachable, undecodable 2xx bodies wrap ErrGarbage.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) (*Exchange, error) {
	var reqBody []byte
	if body != nil {
		var err error
		if reqBody, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
	}
	return c.DoRaw(ctx, method, path, query, reqBody, out)
}

// DoRaw is Do with a body given as raw bytes (sent as is), for requests the
// typed structs cannot express, such as malformed JSON.
func (c *Client) DoRaw(ctx context.Context, method, path string, query url.Values, reqBody []byte, out any) (*Exchange, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(reqBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	ex := &Exchange{Method: method, URL: u, RequestBody: reqBody, Start: time.Now()}
	resp, err := c.http.Do(req)
	if err != nil {
		ex.End = time.Now()
		c.emit(ex)
		return ex, fmt.Errorf("%s %s: %w: %w", method, path, ErrUnreachable, err)
	}
	ex.ResponseBody, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	resp.Body.Close()
	ex.End = time.Now()
	ex.Status = resp.StatusCode
	c.emit(ex)
	if err != nil {
		return ex, fmt.Errorf("%s %s: read body: %w: %w", method, path, ErrUnreachable, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ex, ParseError(resp.StatusCode, ex.ResponseBody)
	}
	if out != nil {
		if err := json.Unmarshal(ex.ResponseBody, out); err != nil {
			return ex, fmt.Errorf("%s %s: %w (%v): %s", method, path, ErrGarbage, err, snippet(ex.ResponseBody))
		}
	}
	return ex, nil
}

func (c *Client) emit(ex *Exchange) {
	if c.trace != nil {
		c.trace(*ex)
	}
}

// NewTeam calls POST /team/new.
func (c *Client) NewTeam(ctx context.Context, r wire.NewTeamRequest) (wire.Team, *Exchange, error) {
	var t wire.Team
	ex, err := c.Do(ctx, http.MethodPost, "/team/new", nil, r, &t)
	if err == nil && t.TeamID == "" {
		err = fmt.Errorf("POST /team/new: %w: no team_id in %s", ErrGarbage, snippet(ex.ResponseBody))
	}
	return t, ex, err
}

// UpdateTeam calls POST /team/update.
func (c *Client) UpdateTeam(ctx context.Context, r wire.UpdateTeamRequest) (wire.UpdateTeamResponse, *Exchange, error) {
	var out wire.UpdateTeamResponse
	ex, err := c.Do(ctx, http.MethodPost, "/team/update", nil, r, &out)
	return out, ex, err
}

// TeamInfo calls GET /team/info?team_id=.
func (c *Client) TeamInfo(ctx context.Context, teamID string) (wire.TeamInfoResponse, *Exchange, error) {
	var out wire.TeamInfoResponse
	ex, err := c.Do(ctx, http.MethodGet, "/team/info", url.Values{"team_id": {teamID}}, nil, &out)
	if err == nil && out.TeamInfo.TeamID == "" {
		err = fmt.Errorf("GET /team/info: %w: no team_info.team_id in %s", ErrGarbage, snippet(ex.ResponseBody))
	}
	return out, ex, err
}

// ListTeams calls GET /team/list.
func (c *Client) ListTeams(ctx context.Context) ([]wire.Team, *Exchange, error) {
	var out []wire.Team
	ex, err := c.Do(ctx, http.MethodGet, "/team/list", nil, nil, &out)
	return out, ex, err
}

// DeleteTeams calls POST /team/delete.
func (c *Client) DeleteTeams(ctx context.Context, ids ...string) (*Exchange, error) {
	return c.Do(ctx, http.MethodPost, "/team/delete", nil, wire.DeleteTeamsRequest{TeamIDs: ids}, nil)
}

// GenerateKey calls POST /key/generate.
func (c *Client) GenerateKey(ctx context.Context, r wire.GenerateKeyRequest) (wire.Key, *Exchange, error) {
	var k wire.Key
	ex, err := c.Do(ctx, http.MethodPost, "/key/generate", nil, r, &k)
	if err == nil && k.Key == "" {
		err = fmt.Errorf("POST /key/generate: %w: no key in %s", ErrGarbage, snippet(ex.ResponseBody))
	}
	return k, ex, err
}

// KeyInfo calls GET /key/info?key= (the caller's own key when key is "").
func (c *Client) KeyInfo(ctx context.Context, key string) (wire.KeyInfoResponse, *Exchange, error) {
	var q url.Values
	if key != "" {
		q = url.Values{"key": {key}}
	}
	var out wire.KeyInfoResponse
	ex, err := c.Do(ctx, http.MethodGet, "/key/info", q, nil, &out)
	return out, ex, err
}

// DeleteKeys calls POST /key/delete.
func (c *Client) DeleteKeys(ctx context.Context, keys ...string) (wire.DeleteKeysResponse, *Exchange, error) {
	var out wire.DeleteKeysResponse
	ex, err := c.Do(ctx, http.MethodPost, "/key/delete", nil, wire.DeleteKeysRequest{Keys: keys}, &out)
	return out, ex, err
}

// Liveliness calls GET /health/liveliness (no auth needed).
func (c *Client) Liveliness(ctx context.Context) (*Exchange, error) {
	var s any
	return c.Do(ctx, http.MethodGet, "/health/liveliness", nil, nil, &s)
}

// Preflight checks that c talks to a LiteLLM-compatible proxy that takes
// its key: /health/liveliness answers, and /team/info for a team that
// cannot exist is a 404 in a known envelope (not a 200 that would make
// every answer look like a grant, not a 401). The error says which.
func (c *Client) Preflight(ctx context.Context) error {
	if _, err := c.Liveliness(ctx); err != nil {
		if errors.Is(err, ErrUnreachable) {
			return fmt.Errorf("%s is not reachable: %w", c.BaseURL(), err)
		}
		return fmt.Errorf("%s does not answer GET /health/liveliness like a LiteLLM proxy: %w", c.BaseURL(), err)
	}
	_, _, err := c.TeamInfo(ctx, "keyrace-preflight-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	ae, isAPI := AsAPIError(err)
	switch {
	case err == nil:
		return fmt.Errorf("%s answered /team/info for a team that cannot exist", c.BaseURL())
	case isAPI && ae.Status == 401:
		return fmt.Errorf("%s refused the master key: %s", c.BaseURL(), ae.Message)
	case isAPI && ae.Status == 404 && ae.Variant != VariantUnparsed:
		return nil
	}
	return fmt.Errorf("%s answered GET /team/info unlike a LiteLLM proxy: %w", c.BaseURL(), err)
}

// Readiness calls GET /health/readiness and returns its JSON object.
func (c *Client) Readiness(ctx context.Context) (map[string]any, *Exchange, error) {
	var out map[string]any
	ex, err := c.Do(ctx, http.MethodGet, "/health/readiness", nil, nil, &out)
	return out, ex, err
}
