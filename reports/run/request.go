package run

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/keyrace/keyrace/scenarios/history"
)

// The history keeps what each operation meant (kind, endpoint, the list a
// write set, the item a decision asked for), not the bytes sent. The
// reports and repro.sh rebuild the request from it, in LiteLLM's wire
// shapes.

// dim is the team field an allow-list stands for.
type dim int

const (
	dimAccessGroups dim = iota // object_permission.mcp_access_groups (the seed bug)
	dimServers                 // object_permission.mcp_servers
	dimModels                  // the team's models (request-time decisions)
)

// field is the JSON field of a dimension inside object_permission (or the
// team, for models).
func (d dim) field() string {
	switch d {
	case dimServers:
		return "mcp_servers"
	case dimModels:
		return "models"
	}
	return "mcp_access_groups"
}

// dimFunc tells a team's dimension.
type dimFunc func(team string) dim

// dimensions infers each team's dimension from its decisions: asks on
// /v1/models or chat calls (and none on key validation) mean the list is
// the team's models; a refusal naming MCP servers means servers; anything
// else is MCP access groups.
func dimensions(h history.History) dimFunc {
	type seen struct{ model, key, servers bool }
	m := map[string]*seen{}
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Kind != history.Decide || op.Ask == "" {
			continue
		}
		s := m[op.Team]
		if s == nil {
			s = &seen{}
			m[op.Team] = s
		}
		if isModelEndpoint(op.Endpoint) {
			s.model = true
		} else {
			s.key = true
		}
		if strings.Contains(op.Body, "MCP servers not allowed") {
			s.servers = true
		}
	}
	return func(team string) dim {
		s := m[team]
		switch {
		case s == nil:
			return dimAccessGroups
		case s.model && !s.key:
			return dimModels
		case s.servers:
			return dimServers
		}
		return dimAccessGroups
	}
}

func isModelEndpoint(ep string) bool {
	return ep == "/v1/models" || ep == "/v1/chat/completions" || ep == "/chat/completions"
}

// request is a rebuilt HTTP request.
type request struct {
	Method string
	Path   string
	Query  url.Values
	// Body is the JSON body (nil: none). The team id inside is the run's.
	Body obj
	// TeamKey: sent with a virtual key of the team instead of the master
	// key (request-time decisions).
	TeamKey bool
	// KeyField: the body's "key" is a key of the team (/key/update).
	KeyField bool
	Team     string
}

// String renders the request on one line, as the reports show it.
func (r request) String() string {
	var b strings.Builder
	b.WriteString(r.Method + " " + r.Path)
	if len(r.Query) > 0 {
		b.WriteString("?" + r.Query.Encode())
	}
	if r.Body != nil {
		b.WriteString(" " + r.Body.json())
	}
	if r.TeamKey {
		b.WriteString(" (with a key of team " + r.Team + ")")
	}
	return b.String()
}

// requestOf rebuilds the request op stands for.
func requestOf(op history.Op, d dim) request {
	team := op.Team
	r := request{Method: "POST", Path: op.Endpoint, Team: team}
	list := func(items []string) []string {
		if items == nil {
			return []string{}
		}
		return items
	}
	perm := func(items []string) obj {
		if d == dimModels {
			return obj{{"team_id", team}, {"models", list(items)}}
		}
		return obj{{"team_id", team}, {"object_permission", obj{{d.field(), list(items)}}}}
	}
	switch op.Kind {
	case history.Write:
		r.Path = or(op.Endpoint, "/team/update")
		r.Body = perm(op.Groups)
	case history.Block, history.Unblock:
		r.Path = or(op.Endpoint, "/team/"+string(op.Kind))
		r.Body = obj{{"team_id", team}}
	case history.MemberAdd:
		r.Path = or(op.Endpoint, "/team/member_add")
		r.Body = obj{{"team_id", team}, {"member", obj{{"user_id", op.Member}, {"role", "user"}}}}
	case history.ReadMembers:
		r.Method, r.Path = "GET", or(op.Endpoint, "/team/info")
		r.Query = url.Values{"team_id": {team}}
	case history.Decide:
		r = decideRequest(op, d)
	}
	return r
}

func decideRequest(op history.Op, d dim) request {
	team := op.Team
	r := request{Method: "POST", Path: or(op.Endpoint, "/key/generate"), Team: team}
	askPerm := func() obj {
		if op.Ask == "" {
			return nil
		}
		return obj{{d.field(), []string{op.Ask}}}
	}
	switch r.Path {
	case "/key/generate":
		r.Body = obj{{"team_id", team}}
		if p := askPerm(); p != nil {
			r.Body = append(r.Body, field{"object_permission", p})
		}
	case "/key/update":
		r.KeyField = true
		r.Body = obj{{"key", "<a key of team " + team + ">"}}
		if p := askPerm(); p != nil {
			r.Body = append(r.Body, field{"object_permission", p})
		}
	case "/v1/models":
		r.Method, r.TeamKey = "GET", true
	case "/v1/chat/completions", "/chat/completions":
		r.TeamKey = true
		r.Body = chatBody(or(op.Ask, "gpt-4o"))
	case "/team/info":
		r.Method, r.Query = "GET", url.Values{"team_id": {team}}
	default:
		r.Body = obj{{"team_id", team}}
	}
	return r
}

func chatBody(model string) obj {
	return obj{{"model", model}, {"messages", []obj{{{"role", "user"}, {"content", "keyrace"}}}}, {"mock_response", "keyrace"}}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// obj is a JSON object that keeps its fields in order.
type obj []field

type field struct {
	k string
	v any
}

// MarshalJSON writes the fields in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (o obj) json() string {
	b, _ := marshal(o)
	return string(b)
}

// marshal is json.Marshal without HTML escaping (bodies are shown and
// sent as they are; the writers escape for their own format).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
