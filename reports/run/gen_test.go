package run

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/keyrace/keyrace/scenarios/history"
	"github.com/keyrace/keyrace/wire"
)

// genShape is the traffic of a generated run.
type genShape struct {
	teams   int     // teams per kind of team (groups, models, block)
	decides int     // decisions per team
	lagMs   float64 // how far behind the decision replica's cache is (0: correct)
	members bool    // add a member storm team with a lost add
}

// genRun builds a run the way the race engine records one: two replicas,
// writes through replica 0, decisions through both, the decision replica
// 1 reading a cache lagMs behind; access-group teams on /key/generate,
// model teams on /v1/models and chat calls, a team blocked and unblocked,
// optionally a member storm that loses an add. Outcomes are computed
// from the state the serving replica sees, so the history is exactly as
// stale as lagMs makes it. The same seed gives the same history.
func genRun(seed uint64, s genShape) history.History {
	rng := rand.New(rand.NewPCG(seed, 0x72756e))
	h := history.History{Header: history.Header{
		Format: history.FormatV1, Scenario: "mixed", Seed: int64(seed),
		Target:  []string{"http://127.0.0.1:4000", "http://127.0.0.1:4001"},
		Initial: map[string][]string{}, Consistency: "strict",
	}}
	ns := func(ms float64) int64 { return int64(ms * 1e6) }
	lat := func() float64 { return 0.3 + rng.Float64()*1.5 + float64(rng.IntN(40)/39)*6 } // ms, a rare slow one
	add := func(op history.Op) { op.ID = uint64(len(h.Ops) + 1); h.Ops = append(h.Ops, op) }

	type write struct {
		ret     float64
		list    []string
		blocked bool
	}
	// seen is the state replica r sees at time t (ms).
	seen := func(ws []write, init []string, r int, t float64) ([]string, bool) {
		if r == 1 {
			t -= s.lagMs
		}
		list, blocked := init, false
		for _, w := range ws {
			if w.ret <= t {
				list, blocked = w.list, w.blocked
			}
		}
		return list, blocked
	}
	kinds := []string{"groups", "models", "block"}
	for ti := range s.teams * len(kinds) {
		kind := kinds[ti%len(kinds)]
		team := fmt.Sprintf("team-%s-%02d", kind, ti/len(kinds))
		items, ep := []string{"G1", "G2", "G3"}, "/key/generate"
		if kind != "groups" {
			items = []string{"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"}
		}
		init := items[:1]
		h.Header.Initial[team] = init
		var ws []write
		list, blocked := init, false
		t := rng.Float64() * 5
		for d := range s.decides {
			if d%4 == 0 { // a write every fourth decision
				switch kind {
				case "block":
					blocked = !blocked
					k, path := history.Unblock, "/team/unblock"
					if blocked {
						k, path = history.Block, "/team/block"
					}
					c, r := t, t+lat()
					add(history.Op{Team: team, Kind: k, Endpoint: path, Replica: 0, Call: ns(c), Return: ns(r), Outcome: history.OK, Status: 200})
					ws = append(ws, write{ret: r, list: list, blocked: blocked})
				default:
					list = history.Canon(append([]string{items[0]}, items[1+rng.IntN(2)]))
					if rng.IntN(2) == 0 {
						list = items[:1]
					}
					c, r := t, t+lat()
					add(history.Op{Team: team, Kind: history.Write, Endpoint: "/team/update", Replica: 0, Call: ns(c), Return: ns(r), Groups: list, Outcome: history.OK, Status: 200})
					ws = append(ws, write{ret: r, list: list, blocked: blocked})
				}
				t += 0.5 + rng.Float64()
				continue
			}
			rep := rng.IntN(2)
			ask := items[rng.IntN(2)]
			if kind == "block" {
				ask = items[0]
			}
			if kind != "groups" {
				ep = []string{"/v1/models", "/v1/chat/completions"}[rng.IntN(2)]
			}
			c, r := t, t+lat()
			if rng.IntN(40) == 0 {
				add(history.Op{Team: team, Kind: history.Decide, Endpoint: ep, Replica: rep, Call: ns(c), Return: ns(r + 30), Ask: ask,
					Outcome: history.Failed, Status: 502, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"})
				t += 1 + rng.Float64()
				continue
			}
			sl, sb := seen(ws, init, rep, c)
			op := history.Op{Team: team, Kind: history.Decide, Endpoint: ep, Replica: rep, Call: ns(c), Return: ns(r), Ask: ask, Status: 200, Outcome: history.Allowed}
			switch {
			case sb:
				op.Outcome, op.Blocked, op.Status = history.Denied, true, 401
				op.Body = fmt.Sprintf(`{"error":{"message":"Authentication Error, Team=%s is blocked. Update via `+"`/team/unblock`"+` if your admin.","type":"auth_error","param":"None","code":"401"}}`, team)
			case !slices.Contains(sl, ask):
				op.Outcome, op.Observed, op.Status = history.Denied, sl, 403
				op.Body = fmt.Sprintf(`{"error":{"message":"%s","type":"internal_server_error","param":"None","code":"403"}}`,
					wire.MsgGroupsNotAllowed(team, []string{ask}, sl))
			}
			add(op)
			t += 1 + rng.Float64()
		}
	}
	if s.members {
		team := "team-members-00"
		for i, m := range []string{"alice", "bob", "carol", "dave"} {
			c := 1 + float64(i)*0.3
			add(history.Op{Team: team, Kind: history.MemberAdd, Endpoint: "/team/member_add", Replica: i % 2, Call: ns(c), Return: ns(c + 2), Member: m, Outcome: history.OK, Status: 200})
		}
		add(history.Op{Team: team, Kind: history.ReadMembers, Endpoint: "/team/info", Replica: 1, Call: ns(6), Return: ns(7), Members: []string{"admin", "alice", "carol", "dave"}, Outcome: history.OK, Status: 200})
		add(history.Op{Team: team, Kind: history.ReadMembers, Endpoint: "/team/info", Replica: 0, Call: ns(9), Return: ns(10), Members: []string{"admin", "alice", "carol", "dave"}, Outcome: history.OK, Status: 200})
	}
	slices.SortStableFunc(h.Ops, func(a, b history.Op) int { return cmp.Compare(a.Call, b.Call) })
	for i := range h.Ops {
		h.Ops[i].ID = uint64(i + 1)
	}
	return h
}
