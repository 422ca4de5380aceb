package check

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyrace/keyrace/scenarios/history"
)

// shape is the traffic of a generated history.
type shape struct {
	teams, opsPerTeam int
	writers, deciders int     // concurrent clients per team
	writeRatio        float64 // share of permission ops that are writes (incl. block/unblock)
	blockRatio        float64 // share of writes that are block/unblock
	unknownRatio      float64 // share of writes whose outcome is unknown
	failRatio         float64 // share of decisions that fail (dropped by the checker)
	memberRatio       float64 // share of ops that are member adds/reads (two more clients)
	groups            int     // size of the group universe
	replicas          int
	// lag makes decisions and member reads see the state up to lag before
	// their linearization point (a cache): such histories are consistent
	// with bounded:<lag> by construction, and stale in strict mode.
	lag time.Duration
}

// realistic is the benchmark's shape: one sequential writer, four
// concurrent deciders, ~20% writes, a few unknown outcomes and failures.
var realistic = shape{teams: 1000, opsPerTeam: 1000, writers: 1, deciders: 4, writeRatio: 0.2,
	blockRatio: 0.1, unknownRatio: 0.005, failRatio: 0.01, groups: 5, replicas: 2}

// event is a generated operation and its linearization point.
type event struct {
	op      history.Op
	lp      int64 // when it takes effect / reads; -1: never (unknown write not applied)
	applied bool
}

// generate returns a history that is linearizable by construction: every
// operation gets a linearization point inside its interval (unknown
// writes: some time after their call, or never), outcomes are computed by
// replaying the operations in that order. The same seed gives the same
// history.
func generate(seed int64, s shape) history.History {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b657972616365))
	h := history.History{Header: history.Header{
		Format: history.FormatV1, Scenario: "generated", Seed: seed,
		Initial: map[string][]string{}, Consistency: "strict",
	}}
	for r := range max(s.replicas, 1) {
		h.Header.Target = append(h.Header.Target, fmt.Sprintf("http://127.0.0.1:%d", 4000+r))
	}
	groups := make([]string, s.groups)
	for i := range groups {
		groups[i] = fmt.Sprintf("G%d", i+1)
	}
	randList := func() []string {
		var l []string
		for _, g := range groups {
			if rng.IntN(2) == 0 {
				l = append(l, g)
			}
		}
		return l
	}
	h.Ops = make([]history.Op, 0, s.teams*s.opsPerTeam)
	for ti := range s.teams {
		team := fmt.Sprintf("team-%04d", ti)
		init := randList()
		h.Header.Initial[team] = init
		blocked := rng.IntN(20) == 0
		if blocked {
			h.Header.InitialBlocked = append(h.Header.InitialBlocked, team)
		}
		h.Ops = append(h.Ops, genTeam(rng, s, team, init, blocked, groups, randList)...)
	}
	for i := range h.Ops {
		h.Ops[i].ID = uint64(i + 1)
	}
	return h
}

func genTeam(rng *rand.Rand, s shape, team string, init []string, blocked bool, groups []string, randList func() []string) []history.Op {
	n := s.opsPerTeam
	nMember := int(float64(n) * s.memberRatio)
	nWrite := int(float64(n-nMember) * s.writeRatio)
	nDecide := n - nMember - nWrite
	type client struct {
		count int
		write bool
		mem   bool
	}
	var clients []client
	split := func(total, k int, write, mem bool) {
		for i := range k {
			c := total / k
			if i < total%k {
				c++
			}
			clients = append(clients, client{count: c, write: write, mem: mem})
		}
	}
	split(nWrite, max(s.writers, 1), true, false)
	split(nDecide, max(s.deciders, 1), false, false)
	if nMember > 0 {
		split(nMember, 2, false, true)
	}
	// Every client spans about the same time; a decider's cycle is ~2ms.
	span := float64(nDecide/max(s.deciders, 1)+1) * 2e6
	var evs []event
	memberSeq := 0
	for _, c := range clients {
		if c.count == 0 {
			continue
		}
		cycle := span / float64(c.count)
		t := int64(rng.Float64() * cycle)
		for range c.count {
			lat := int64(cycle * (0.2 + 0.6*rng.Float64()))
			call := t
			ret := call + lat
			t = ret + int64(cycle*(0.2+0.4*rng.Float64()))
			op := history.Op{Team: team, Call: call, Return: ret, Replica: rng.IntN(max(s.replicas, 1))}
			ev := event{lp: call + rng.Int64N(lat+1)}
			switch {
			case c.write:
				if rng.Float64() < s.blockRatio {
					op.Kind, op.Endpoint = history.Block, "/team/block"
					if rng.IntN(2) == 0 {
						op.Kind, op.Endpoint = history.Unblock, "/team/unblock"
					}
				} else {
					op.Kind, op.Endpoint, op.Groups = history.Write, "/team/update", history.Canon(randList())
				}
				op.Outcome, op.Status = history.OK, 200
				if rng.Float64() < s.unknownRatio {
					op.Outcome, op.Status, op.Return, op.Error = history.Unknown, 0, -1, "context deadline exceeded"
					ev.lp = -1
					if rng.IntN(2) == 0 {
						ev.lp = call + rng.Int64N(int64(3*cycle)+1)
					}
				}
			case c.mem:
				if rng.IntN(2) == 0 {
					memberSeq++
					op.Kind, op.Endpoint, op.Member = history.MemberAdd, "/team/member_add", fmt.Sprintf("user-%d", memberSeq)
					op.Outcome, op.Status = history.OK, 200
				} else {
					op.Kind, op.Endpoint, op.Outcome, op.Status = history.ReadMembers, "/team/info", history.OK, 200
				}
			default:
				op.Kind, op.Endpoint, op.Ask = history.Decide, "/key/generate", groups[rng.IntN(len(groups))]
				if rng.Float64() < s.failRatio {
					op.Outcome, op.Status, op.Error = history.Failed, 502, "502 Bad Gateway"
				}
			}
			ev.op = op
			evs = append(evs, ev)
		}
	}
	// Replay the writes in linearization order, recording every state with
	// the time it began; then each decision and read looks up the state at
	// its linearization point (less its lag).
	order := make([]int, len(evs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(evs[a].lp, evs[b].lp) })
	type snap struct {
		at      int64
		list    []string
		blocked bool
		members []string
	}
	snaps := []snap{{at: -1 << 62, list: init, blocked: blocked, members: []string{"admin"}}}
	for _, i := range order {
		ev := &evs[i]
		if ev.lp < 0 {
			continue
		}
		cur := snaps[len(snaps)-1]
		cur.at = ev.lp
		switch ev.op.Kind {
		case history.Write:
			cur.list = ev.op.Groups
		case history.Block:
			cur.blocked = true
		case history.Unblock:
			cur.blocked = false
		case history.MemberAdd:
			if slices.Contains(cur.members, ev.op.Member) {
				continue
			}
			cur.members = append(slices.Clone(cur.members), ev.op.Member)
		default:
			continue
		}
		snaps = append(snaps, cur)
	}
	at := func(t int64) snap {
		// The last state begun strictly before t: a read and a write at
		// the same point read the old state, as the sort order implies.
		k := sort.Search(len(snaps), func(i int) bool { return snaps[i].at >= t })
		return snaps[k-1]
	}
	for i := range evs {
		ev := &evs[i]
		op := &ev.op
		if op.Kind != history.Decide && op.Kind != history.ReadMembers || ev.lp < 0 {
			continue
		}
		t := ev.lp
		if s.lag > 0 {
			t -= rng.Int64N(int64(s.lag) + 1)
		}
		st := at(t)
		if op.Kind == history.ReadMembers {
			op.Members = history.Canon(st.members)
			continue
		}
		if op.Outcome == history.Failed {
			continue
		}
		switch {
		case st.blocked:
			op.Outcome, op.Blocked, op.Status = history.Denied, true, 401
			op.Body = "Authentication Error, Team=" + team + " is blocked."
		case slices.Contains(st.list, op.Ask):
			op.Outcome, op.Status = history.Allowed, 200
		default:
			op.Outcome, op.Status, op.Observed = history.Denied, 403, st.list
			op.Body = denyBody(team, op.Ask, st.list)
		}
	}
	ops := make([]history.Op, len(evs))
	for i := range evs {
		ops[i] = evs[i].op
	}
	slices.SortStableFunc(ops, func(a, b history.Op) int { return cmp.Compare(a.Call, b.Call) })
	return ops
}

func denyBody(team, ask string, list []string) string {
	return `{"error":{"message":"{'error': \"Key requests MCP access groups not allowed by team '` + team + `': ['` + ask +
		`']. Team allows: ` + pyList(list) + `.\"}","type":"internal_server_error","param":"None","code":"403"}}`
}

// refLegal is an independent, quadratic statement of the legal states of a
// decision d in strict mode: the lists (keys) and blocked flags some
// linearization of the team's writes alone lets d see.
func refLegal(h history.History, d *history.Op) (lists map[string][]string, flags map[bool]bool) {
	lists, flags = map[string][]string{}, map[bool]bool{}
	type w struct {
		call, ret int64
		list      []string
		flag      bool
		isList    bool
	}
	var acked, unknown []w
	for _, op := range h.Ops {
		if op.Team != d.Team {
			continue
		}
		x := w{call: op.Call, ret: op.Return, list: op.Groups, isList: op.Kind == history.Write, flag: op.Kind == history.Block}
		if op.Kind != history.Write && op.Kind != history.Block && op.Kind != history.Unblock {
			continue
		}
		switch op.Outcome {
		case history.OK:
			acked = append(acked, x)
		case history.Unknown, history.Failed:
			unknown = append(unknown, x)
		}
	}
	for _, isList := range []bool{true, false} {
		anyBefore := false
		for _, a := range acked {
			if a.isList != isList {
				continue
			}
			switch {
			case a.ret < d.Call:
				anyBefore = true
				superseded := false
				for _, b := range acked {
					if b.isList == isList && b.call > a.ret && b.ret < d.Call {
						superseded = true
					}
				}
				if superseded {
					continue
				}
			case a.call > d.Return:
				continue
			}
			if isList {
				lists[history.Key(a.list)] = history.Canon(a.list)
			} else {
				flags[a.flag] = true
			}
		}
		for _, u := range unknown {
			if u.isList == isList && u.call <= d.Return {
				if isList {
					lists[history.Key(u.list)] = history.Canon(u.list)
				} else {
					flags[u.flag] = true
				}
			}
		}
		if !anyBefore {
			if isList {
				init := h.Header.Initial[d.Team]
				lists[history.Key(init)] = history.Canon(init)
			} else {
				flags[slices.Contains(h.Header.InitialBlocked, d.Team)] = true
			}
		}
	}
	return lists, flags
}

// refViolates says whether decision d is inconsistent on its own with the
// legal states refLegal computes.
func refViolates(h history.History, d *history.Op) bool {
	lists, flags := refLegal(h, d)
	switch {
	case d.Outcome == history.Allowed:
		if !flags[false] {
			return true
		}
		if d.Ask == "" {
			return false
		}
		for _, l := range lists {
			if slices.Contains(l, d.Ask) {
				return false
			}
		}
		return true
	case d.Blocked:
		return !flags[true]
	default:
		_, ok := lists[history.Key(d.Observed)]
		return !ok || slices.Contains(d.Observed, d.Ask)
	}
}

// pastLists returns the lists team had before call: the initial list and
// those of acknowledged writes that returned before call.
func pastLists(h history.History, team string, call int64) [][]string {
	out := [][]string{history.Canon(h.Header.Initial[team])}
	for _, op := range h.Ops {
		if op.Team == team && op.Kind == history.Write && op.Outcome == history.OK && op.Return < call {
			out = append(out, op.Groups)
		}
	}
	return out
}

// corruption rewrites one operation of a linearizable history so that it
// must be flagged with kind; it returns the op's index or -1 if the
// history offers no place for it.
type corruption struct {
	name  string
	kind  Kind
	apply func(h history.History, rng *rand.Rand) int
}

var corruptions = []corruption{
	{"stale deny", StaleDeny, func(h history.History, rng *rand.Rand) int {
		return pick(h, rng, func(d *history.Op) bool {
			if d.Kind != history.Decide || d.Outcome == history.Failed {
				return false
			}
			lists, _ := refLegal(h, d)
			for _, l := range pastLists(h, d.Team, d.Call) {
				if _, legal := lists[history.Key(l)]; !legal && !slices.Contains(l, d.Ask) {
					d.Outcome, d.Blocked, d.Observed, d.Status = history.Denied, false, l, 403
					d.Body = denyBody(d.Team, d.Ask, l)
					return true
				}
			}
			return false
		})
	}},
	{"stale allow", StaleAllow, func(h history.History, rng *rand.Rand) int {
		return pick(h, rng, func(d *history.Op) bool {
			if d.Kind != history.Decide || d.Outcome == history.Failed {
				return false
			}
			lists, flags := refLegal(h, d)
			if !flags[false] {
				return false
			}
			for _, l := range lists {
				if slices.Contains(l, d.Ask) {
					return false
				}
			}
			for _, l := range pastLists(h, d.Team, d.Call) {
				if slices.Contains(l, d.Ask) {
					d.Outcome, d.Blocked, d.Observed, d.Status, d.Body = history.Allowed, false, nil, 200, ""
					return true
				}
			}
			return false
		})
	}},
	{"blocked grant", StaleAllow, func(h history.History, rng *rand.Rand) int {
		return pick(h, rng, func(d *history.Op) bool {
			if d.Kind != history.Decide || d.Outcome == history.Failed {
				return false
			}
			lists, flags := refLegal(h, d)
			if flags[false] {
				return false
			}
			wasUnblocked := !slices.Contains(h.Header.InitialBlocked, d.Team)
			for _, op := range h.Ops {
				if op.Team == d.Team && op.Kind == history.Unblock && op.Outcome == history.OK && op.Return < d.Call {
					wasUnblocked = true
				}
			}
			if !wasUnblocked {
				return false
			}
			for _, l := range lists {
				if len(l) > 0 {
					d.Ask = l[0]
					d.Outcome, d.Blocked, d.Observed, d.Status, d.Body = history.Allowed, false, nil, 200, ""
					return true
				}
			}
			return false
		})
	}},
	{"contract", Contract, func(h history.History, rng *rand.Rand) int {
		return pick(h, rng, func(d *history.Op) bool {
			if d.Kind != history.Decide || d.Outcome == history.Failed {
				return false
			}
			d.Outcome, d.Blocked, d.Observed, d.Status = history.Denied, false, []string{"never-set"}, 403
			d.Body = denyBody(d.Team, d.Ask, d.Observed)
			return true
		})
	}},
	{"lost member", LostUpdate, func(h history.History, rng *rand.Rand) int {
		return pick(h, rng, func(r *history.Op) bool {
			if r.Kind != history.ReadMembers {
				return false
			}
			for _, op := range h.Ops {
				if op.Team == r.Team && op.Kind == history.MemberAdd && op.Outcome == history.OK && op.Return < r.Call {
					r.Members = slices.DeleteFunc(slices.Clone(r.Members), func(m string) bool { return m == op.Member })
					return true
				}
			}
			return false
		})
	}},
}

// pick tries f on operations in random order until it rewrites one.
func pick(h history.History, rng *rand.Rand, f func(*history.Op) bool) int {
	for _, i := range rng.Perm(len(h.Ops)) {
		if f(&h.Ops[i]) {
			return i
		}
	}
	return -1
}

// clone deep-copies the ops of h so a corruption does not leak.
func clone(h history.History) history.History {
	out := h
	out.Ops = slices.Clone(h.Ops)
	return out
}

func describeCounts(r Result) string {
	var parts []string
	for _, k := range Kinds {
		if r.Counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, r.Counts[k]))
		}
	}
	return strings.Join(parts, " ")
}
