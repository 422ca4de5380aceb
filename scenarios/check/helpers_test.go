package check

import (
	"fmt"
	"time"

	"github.com/keyrace/keyrace/scenarios/history"
)

// ms is a time offset in milliseconds, as history nanoseconds.
func ms(x float64) int64 { return int64(x * float64(time.Millisecond)) }

// hb builds hand-made histories in LiteLLM's shape.
type hb struct {
	h  history.History
	id uint64
}

func newHB(scenario string) *hb {
	return &hb{h: history.History{Header: history.Header{
		Format: history.FormatV1, Scenario: scenario, Seed: 1,
		Target:      []string{"http://127.0.0.1:4000", "http://127.0.0.1:4001"},
		Initial:     map[string][]string{},
		Consistency: "strict",
	}}}
}

func (b *hb) initial(team string, groups ...string) *hb {
	b.h.Header.Initial[team] = history.Canon(groups)
	return b
}

func (b *hb) add(op history.Op) *history.Op {
	b.id++
	op.ID = b.id
	b.h.Ops = append(b.h.Ops, op)
	return &b.h.Ops[len(b.h.Ops)-1]
}

// write is an acknowledged /team/update setting the allow-list.
func (b *hb) write(team string, replica int, call, ret float64, groups ...string) {
	b.add(history.Op{Team: team, Kind: history.Write, Endpoint: "/team/update", Replica: replica,
		Call: ms(call), Return: ms(ret), Groups: history.Canon(groups), Outcome: history.OK, Status: 200})
}

// writeUnknown is a /team/update that timed out.
func (b *hb) writeUnknown(team string, replica int, call float64, groups ...string) {
	b.add(history.Op{Team: team, Kind: history.Write, Endpoint: "/team/update", Replica: replica,
		Call: ms(call), Return: -1, Groups: history.Canon(groups), Outcome: history.Unknown,
		Error: "context deadline exceeded"})
}

func (b *hb) block(team string, kind history.Kind, replica int, call, ret float64) {
	ep := "/team/block"
	if kind == history.Unblock {
		ep = "/team/unblock"
	}
	b.add(history.Op{Team: team, Kind: kind, Endpoint: ep, Replica: replica,
		Call: ms(call), Return: ms(ret), Outcome: history.OK, Status: 200})
}

// allow is a /key/generate that succeeded for ask.
func (b *hb) allow(team, ask string, replica int, call, ret float64) {
	b.add(history.Op{Team: team, Kind: history.Decide, Endpoint: "/key/generate", Replica: replica,
		Call: ms(call), Return: ms(ret), Ask: ask, Outcome: history.Allowed, Status: 200})
}

// deny is a /key/generate refused with LiteLLM 1.83's dict-repr 403 body
// printing observed as "Team allows".
func (b *hb) deny(team, ask string, replica int, call, ret float64, observed ...string) {
	obs := history.Canon(observed)
	msg := fmt.Sprintf(`Key requests MCP access groups not allowed by team '%s': ['%s']. Team allows: %s.`, team, ask, pyList(obs))
	body := fmt.Sprintf(`{"error":{"message":"{'error': \"%s\"}","type":"internal_server_error","param":"None","code":"403"}}`, msg)
	b.add(history.Op{Team: team, Kind: history.Decide, Endpoint: "/key/generate", Replica: replica,
		Call: ms(call), Return: ms(ret), Ask: ask, Outcome: history.Denied, Observed: obs, Status: 403, Body: body})
}

// denyBlocked is a request refused with LiteLLM's 401 for a blocked team.
func (b *hb) denyBlocked(team, ask string, replica int, call, ret float64) {
	body := fmt.Sprintf(`{"error":{"message":"Authentication Error, Team=%s is blocked. Update via `+"`/team/unblock`"+` if your admin.","type":"auth_error","param":"None","code":"401"}}`, team)
	b.add(history.Op{Team: team, Kind: history.Decide, Endpoint: "/v1/models", Replica: replica,
		Call: ms(call), Return: ms(ret), Ask: ask, Outcome: history.Denied, Blocked: true, Status: 401, Body: body})
}

func (b *hb) failDecide(team, ask string, replica int, call float64) {
	b.add(history.Op{Team: team, Kind: history.Decide, Endpoint: "/key/generate", Replica: replica,
		Call: ms(call), Return: ms(call + 30), Ask: ask, Outcome: history.Failed, Status: 502,
		Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"})
}

func (b *hb) memberAdd(team, member string, replica int, call, ret float64) {
	b.add(history.Op{Team: team, Kind: history.MemberAdd, Endpoint: "/team/member_add", Replica: replica,
		Call: ms(call), Return: ms(ret), Member: member, Outcome: history.OK, Status: 200})
}

func (b *hb) readMembers(team string, replica int, call, ret float64, members ...string) {
	b.add(history.Op{Team: team, Kind: history.ReadMembers, Endpoint: "/team/info", Replica: replica,
		Call: ms(call), Return: ms(ret), Members: history.Canon(members), Outcome: history.OK, Status: 200})
}
