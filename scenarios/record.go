package scenarios

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/scenarios/history"
	"github.com/keyrace/keyrace/wire"
)

// bodyLimit is how much of a refusal's or an error's body an operation
// keeps as evidence.
const bodyLimit = 512

// internLimit bounds the number of distinct bodies and lists shared
// between operations (refusals of one team repeat the same text).
const internLimit = 1 << 16

// recorder holds the run's operations: those in flight, by id, and the
// finished ones in the order they finished. Finished operations are never
// modified again, so a prefix of ops can be read without the lock once
// its length was taken under it (progress.go's snapshots).
type recorder struct {
	mu      sync.Mutex
	pending map[uint64]*pending
	ops     []history.Op
	errors  int
	enc     vegeta.Encoder
	encErr  error
	strs    map[string]string
	lists   map[string][]string
}

func newRecorder(w io.Writer) *recorder {
	r := &recorder{pending: map[uint64]*pending{}, strs: map[string]string{}, lists: map[string][]string{}}
	if w != nil {
		r.enc = vegeta.NewEncoder(w)
	}
	return r
}

// start registers an operation as in flight.
func (r *recorder) start(p *pending) {
	r.mu.Lock()
	r.pending[p.op.ID] = p
	r.mu.Unlock()
}

// get returns the in-flight operation id (nil if unknown).
func (r *recorder) get(id uint64) *pending {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending[id]
}

// finish moves a finished operation from in flight to the history, in one
// step under the lock, so that a snapshot sees it exactly once, and
// encodes its result. Successful results are encoded without body and
// headers: `vegeta report` and `vegeta plot` need neither, and the history
// keeps what matters.
func (r *recorder) finish(op history.Op, res *vegeta.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, op.ID)
	op.Body = r.str(op.Body)
	op.Observed = r.list(op.Observed)
	op.Members = r.list(op.Members)
	r.ops = append(r.ops, op)
	switch op.Outcome {
	case history.Failed, history.Unknown, history.Rejected:
		r.errors++
	}
	if r.enc == nil || r.encErr != nil || res == nil {
		return
	}
	res.Headers = nil
	if res.Code >= 200 && res.Code < 400 {
		res.Body = nil
	} else if len(res.Body) > bodyLimit {
		res.Body = res.Body[:bodyLimit]
	}
	if err := r.enc.Encode(res); err != nil {
		r.encErr = fmt.Errorf("write results: %w", err)
	}
}

func (r *recorder) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := r.strs[s]; ok {
		return v
	}
	if len(r.strs) < internLimit {
		r.strs[s] = s
	}
	return s
}

func (r *recorder) list(l []string) []string {
	if l == nil {
		return nil
	}
	k := history.Key(l)
	if v, ok := r.lists[k]; ok {
		return v
	}
	if len(r.lists) < internLimit {
		r.lists[k] = l
	}
	return l
}

// result fills in how p ended from the response: status code (0 for a
// transport error), body, transport error text, and return time (ns since
// the base time).
func (e *engine) result(p *pending, code int, body []byte, transportErr string, ret int64) history.Op {
	op := p.op
	op.Return, op.Status = ret, code
	failed := code == 0 || code >= 500
	if failed {
		op.Error = transportErr
		if op.Error == "" {
			op.Error = "HTTP " + http.StatusText(code)
		}
		op.Body = truncate(body)
	}
	if op.Kind != history.Decide && op.Kind != history.ReadMembers {
		switch {
		case failed || code == http.StatusRequestTimeout:
			// The write may or may not have happened: the checker lets it
			// take effect at any time after its call.
			op.Outcome, op.Return = history.Unknown, -1
		case code >= 200 && code < 300:
			op.Outcome = history.OK
		default:
			op.Outcome, op.Error, op.Body = history.Rejected, refusal(code, body), truncate(body)
		}
		return op
	}
	if failed {
		op.Outcome = history.Failed
		return op
	}
	e.decision(&op, p.decide, code, body)
	return op
}

// decision reads a decision's answer (not a transport failure or 5xx).
func (e *engine) decision(op *history.Op, kind DecisionKind, code int, body []byte) {
	fail := func(why string) {
		op.Outcome, op.Error, op.Body = history.Failed, why, truncate(body)
	}
	if code < 200 || code > 299 {
		ae := client.ParseError(code, body)
		switch {
		case ae.Status == http.StatusUnauthorized && blockedMessage(ae.Message):
			op.Outcome, op.Blocked, op.Body = history.Denied, true, truncate(body)
		case kind == DecideKeyGenerate && ae.NotAllowed != nil && ae.NotAllowed.Kind == wire.KindMCPAccessGroup:
			op.Outcome, op.Observed, op.Body = history.Denied, history.Canon(ae.NotAllowed.Allowed), truncate(body)
		case kind == DecideMockChat && (ae.Status == http.StatusForbidden || ae.Status == http.StatusUnauthorized):
			list, ok := teamModelsRefused(ae)
			if !ok {
				fail(refusal(code, body))
				return
			}
			op.Outcome, op.Observed, op.Body = history.Denied, list, truncate(body)
		default:
			fail(refusal(code, body))
		}
		return
	}
	switch kind {
	case DecideKeyGenerate:
		// A grant is a key: a 200 without one (HTML, {}, an echo) is not
		// a proxy granting anything, and must not count as a privilege leak.
		var k struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(body, &k); err != nil || !strings.HasPrefix(k.Key, "sk-") {
			fail("a 2xx /key/generate answer without a key")
			return
		}
		op.Outcome = history.Allowed
	case DecideMockChat:
		var c struct {
			Choices []json.RawMessage `json:"choices"`
		}
		if err := json.Unmarshal(body, &c); err != nil || len(c.Choices) == 0 {
			fail("a 2xx /v1/chat/completions answer without choices")
			return
		}
		op.Outcome = history.Allowed
	case DecideModels:
		var l wire.ModelList
		if err := json.Unmarshal(body, &l); err != nil || l.Data == nil {
			fail("unreadable /v1/models answer")
			return
		}
		ids := history.Canon(l.IDs())
		if slices.Contains(ids, op.Ask) {
			op.Outcome = history.Allowed
		} else {
			op.Outcome, op.Observed = history.Denied, ids
		}
	case DecideReadMembers:
		var info wire.TeamInfoResponse
		if err := json.Unmarshal(body, &info); err != nil || info.TeamInfo.TeamID == "" {
			fail("unreadable /team/info answer")
			return
		}
		members := make([]string, 0, len(info.TeamInfo.MembersWithRoles))
		for _, m := range info.TeamInfo.MembersWithRoles {
			if m.UserID != "" {
				members = append(members, m.UserID)
			}
		}
		op.Outcome, op.Members = history.OK, history.Canon(members)
	}
}

// blockedMessage recognises LiteLLM's "Team=<id> is blocked" refusal.
func blockedMessage(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "team") && strings.Contains(m, "is blocked")
}

// teamModelsRefused reads the team's models from a
// team_model_access_denied refusal ("This team can only access
// models=['a', 'b']").
func teamModelsRefused(ae *client.APIError) ([]string, bool) {
	const marker = "team can only access models="
	i := strings.Index(ae.Message, marker)
	if i < 0 {
		return nil, false
	}
	list, _, err := wire.ParsePyList(ae.Message[i+len(marker):])
	if err != nil {
		return nil, false
	}
	return history.Canon(list), true
}

// refusal is the one-line reason of an unexpected answer.
func refusal(code int, body []byte) string {
	ae := client.ParseError(code, body)
	msg := ae.Message
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return fmt.Sprintf("HTTP %d: %s", code, msg)
}

func truncate(b []byte) string {
	if len(b) > bodyLimit {
		b = b[:bodyLimit]
	}
	return strings.ToValidUTF8(string(b), "?")
}
