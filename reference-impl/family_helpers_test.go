package refimpl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyrace/keyrace/wire"
)

// Helpers of the team/key family tests (member_add, block, key update and
// list, models, chat, faults). They speak raw HTTP so that every status,
// envelope and message is asserted as it is on the wire.

const famMaster = "sk-family-master"

// famSvc is one reference service under test, served over loopback.
type famSvc struct {
	t   testing.TB
	s   *Server
	url string
	hc  *http.Client
}

func newFam(t testing.TB, cfg Config) *famSvc {
	t.Helper()
	if cfg.MasterKey == "" {
		cfg.MasterKey = famMaster
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &famSvc{t: t, s: s, url: hs.URL, hc: hs.Client()}
}

// famResp is one answer.
type famResp struct {
	status int
	body   []byte
}

// famErr is the LiteLLM error envelope's inner object.
type famErr struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   any    `json:"param"`
	Code    string `json:"code"`
}

// do sends body (a string is sent as is, nil as no body, anything else as
// JSON) with key, and returns the answer. Safe to call from goroutines.
func (f *famSvc) do(key, method, path string, body any) (famResp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return famResp{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		return famResp{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.hc.Do(req)
	if err != nil {
		return famResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return famResp{status: resp.StatusCode, body: b}, err
}

// call is do that fails the test on a transport error.
func (f *famSvc) call(key, method, path string, body any) famResp {
	f.t.Helper()
	r, err := f.do(key, method, path, body)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// ok calls as key, requires 200 and decodes the body into out (if not nil).
func (f *famSvc) ok(key, method, path string, body, out any) {
	f.t.Helper()
	r := f.call(key, method, path, body)
	if r.status != http.StatusOK {
		f.t.Fatalf("%s %s: want 200, got %d: %s", method, path, r.status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			f.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
}

// newTeam creates a team as admin.
func (f *famSvc) newTeam(body map[string]any) {
	f.t.Helper()
	f.ok(famMaster, "POST", "/team/new", body, nil)
}

// newKey generates a key as admin and returns its secret.
func (f *famSvc) newKey(body map[string]any) string {
	f.t.Helper()
	var k wire.Key
	f.ok(famMaster, "POST", "/key/generate", body, &k)
	return k.Key
}

// teamInfo reads a team as admin (from the store, never cached).
func (f *famSvc) teamInfo(id string) wire.Team {
	f.t.Helper()
	var info wire.TeamInfoResponse
	f.ok(famMaster, "GET", "/team/info?team_id="+id, nil, &info)
	return info.TeamInfo
}

// keyInfo reads a key as admin.
func (f *famSvc) keyInfo(key string) wire.Key {
	f.t.Helper()
	var info wire.KeyInfoResponse
	f.ok(famMaster, "GET", "/key/info?key="+key, nil, &info)
	return info.Info
}

// chat asks for a mock completion of model with key.
func (f *famSvc) chat(key, model string) famResp {
	f.t.Helper()
	return f.call(key, "POST", "/v1/chat/completions", famChatBody(model))
}

func famChatBody(model string) map[string]any {
	return map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": "hi"}}, "mock_response": "pong"}
}

// want asserts the status and, for errors, that the envelope's type is typ
// (when not "") and its message contains msg (when not "").
func (r famResp) want(t testing.TB, status int, typ, msg string) famErr {
	t.Helper()
	if r.status != status {
		t.Fatalf("want HTTP %d, got %d: %s", status, r.status, r.body)
	}
	if status == http.StatusOK {
		return famErr{}
	}
	var env struct {
		Error *famErr `json:"error"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.Error == nil {
		if typ == "" && msg == "" {
			return famErr{}
		}
		t.Fatalf("want an error envelope, got %s", r.body)
	}
	e := *env.Error
	if e.Code != fmt.Sprint(status) {
		t.Errorf("code %q, want %q (a string)", e.Code, fmt.Sprint(status))
	}
	if typ != "" && e.Type != typ {
		t.Errorf("type %q, want %q (message %q)", e.Type, typ, e.Message)
	}
	if msg != "" && !strings.Contains(e.Message, msg) {
		t.Errorf("message %q\ndoes not contain %q", e.Message, msg)
	}
	return e
}

// wantDetail asserts a FastAPI 422 whose first issue is at loc.
func (r famResp) wantDetail(t testing.TB, loc ...any) {
	t.Helper()
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("want HTTP 422, got %d: %s", r.status, r.body)
	}
	var env struct {
		Detail []struct {
			Loc []any  `json:"loc"`
			Msg string `json:"msg"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || len(env.Detail) == 0 {
		t.Fatalf("want a detail list, got %s", r.body)
	}
	if want := fmt.Sprint([]any(loc)); loc != nil && fmt.Sprint(env.Detail[0].Loc) != want {
		t.Errorf("loc %v, want %s (%s)", env.Detail[0].Loc, want, r.body)
	}
}

// famGroups is an object_permission granting MCP access groups.
func famGroups(items ...string) map[string]any {
	return map[string]any{"mcp_access_groups": items}
}
