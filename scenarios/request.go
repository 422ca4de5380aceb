package scenarios

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keyrace/keyrace/scenarios/history"
	"github.com/keyrace/keyrace/wire"
)

// OpHeader carries the operation id of every request, so that a target's
// logs join the history. The same id is in the URL's OpParam, because a
// vegeta.Result keeps the URL but not the request headers.
const (
	OpHeader = "X-Keyrace-Op"
	OpParam  = "keyrace_op"
)

// Endpoints as recorded in history.Op.Endpoint.
const (
	epTeamUpdate = "/team/update"
	epBlock      = "/team/block"
	epUnblock    = "/team/unblock"
	epMemberAdd  = "/team/member_add"
	epGenerate   = "/key/generate"
	epModels     = "/v1/models"
	epChat       = "/v1/chat/completions"
	epTeamInfo   = "/team/info"
)

// mockReply is the mock_response of chat decisions.
const mockReply = "keyrace"

// pending is an operation sent and not yet finished: the history.Op as far
// as it is known, and what the engine needs to finish it.
type pending struct {
	op     history.Op
	team   *team
	decide DecisionKind // for decisions
	write  Write        // for writes
}

// endpointOf is the endpoint a write or decision goes to.
func endpointOf(w Write, d DecisionKind, isWrite bool) string {
	if isWrite {
		switch w.Kind {
		case history.Block:
			return epBlock
		case history.Unblock:
			return epUnblock
		case history.MemberAdd:
			return epMemberAdd
		}
		return epTeamUpdate
	}
	switch d {
	case DecideModels:
		return epModels
	case DecideMockChat:
		return epChat
	case DecideReadMembers:
		return epTeamInfo
	}
	return epGenerate
}

// fill makes t the request of p against base. An id of 0 (setup's warm
// pass) sends no operation id.
func (e *engine) fill(t *vegeta.Target, p *pending) {
	op := &p.op
	base := e.st.Targets[op.Replica]
	key := e.st.MasterKey
	var body any
	t.Method = http.MethodPost
	q := url.Values{}
	switch op.Endpoint {
	case epTeamUpdate:
		r := wire.UpdateTeamRequest{TeamID: p.team.id}
		if e.st.sc.Writes == WriteModels {
			r.Models = wire.List(op.Groups...)
		} else {
			r.ObjectPermission = wire.Some(&wire.PermissionUpdate{MCPAccessGroups: wire.List(op.Groups...)})
		}
		body = r
	case epBlock, epUnblock:
		body = wire.BlockTeamRequest{TeamID: p.team.id}
	case epMemberAdd:
		body = wire.TeamMemberAddRequest{TeamID: p.team.id, Member: wire.OneMember(wire.Member{UserID: op.Member, Role: "user"})}
	case epGenerate:
		body = wire.GenerateKeyRequest{TeamID: p.team.id,
			ObjectPermission: &wire.PermissionUpdate{MCPAccessGroups: wire.List(op.Ask)}}
	case epModels:
		t.Method, key = http.MethodGet, p.team.key
	case epChat:
		reply := mockReply
		key = p.team.key
		body = wire.ChatCompletionRequest{Model: op.Ask, MockResponse: &reply,
			Messages: []wire.ChatMessage{{Role: "user", Content: "keyrace"}}}
	case epTeamInfo:
		t.Method = http.MethodGet
		q.Set("team_id", p.team.id)
	}
	t.Header = http.Header{"Authorization": {"Bearer " + key}}
	if op.ID != 0 {
		id := strconv.FormatUint(op.ID, 10)
		q.Set(OpParam, id)
		t.Header.Set(OpHeader, id)
	}
	if body != nil {
		t.Body, _ = json.Marshal(body) // plain structs of strings: cannot fail
		t.Header.Set("Content-Type", "application/json")
	}
	t.URL = base + op.Endpoint
	if len(q) > 0 {
		t.URL += "?" + q.Encode()
	}
}

// opID reads the operation id from a request URL (0 if there is none).
func opID(rawURL string) uint64 {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	id, _ := strconv.ParseUint(u.Query().Get(OpParam), 10, 64)
	return id
}
