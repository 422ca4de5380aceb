package run

import (
	"slices"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// A repro plan is the shortest request sequence that provokes a
// violation again on a fresh team: put the team in the state the stale
// decision observed (or, for a stale grant, the state that still granted
// it), warm the caches with decisions as the run did, perform the
// acknowledged write, and at once the decision; or, for a lost update,
// fire the member adds together and read the members.

// warmReads is how many decisions warm the caches when the history shows
// none before the write (a cold cache hides the bug).
const warmReads = 2

// Member adds fired together by a lost-update repro: the run's count of
// adds acknowledged before the read, clamped.
const (
	minMemberAdds = 8
	maxMemberAdds = 32
	// memberRounds is how many times the adds are fired before the script
	// gives up: an overlap inside the proxy is likely, not certain.
	memberRounds = 3
)

// plan is a repro of one violation.
type plan struct {
	v   check.Violation
	dim dim
	// Permission register: the state before the write, the write
	// (nil: none, the decision is judged against the before state), the
	// state after it, the warm-up decisions and the decision.
	beforeList    []string
	beforeBlocked bool
	write         *history.Op
	afterList     []string
	afterBlocked  bool
	warm          []history.Op
	decision      history.Op
	// wantAllowed is what the acknowledged state requires of the decision.
	wantAllowed bool
	// Member register: how many adds, on which replicas, read where.
	adds        int
	addReplicas []int
	// why is set when no request sequence can reproduce the violation.
	why string
}

// newPlan works out how to reproduce v from h.
func newPlan(h history.History, v check.Violation) plan {
	p := plan{v: v, dim: dimensions(h)(v.Team), decision: v.Decision}
	if v.Kind == check.NonLinearizable {
		p.why = "the team's decisions saw its writes in an order no linearization allows; that needs operations in flight together " +
			"(a slow write overlapping decisions on several replicas), which a sequential curl script cannot provoke. " +
			"See porcupine's view of the team in report.html, and re-run the scenario to catch it again"
		return p
	}
	if v.Register == check.Members {
		return memberPlan(h, p)
	}
	if v.Decision.Kind != history.Decide {
		p.why = "the violating operation is not a decision"
		return p
	}
	list, blocked := stateBefore(h, v.Team, cutoff(v))
	switch {
	case v.Missed != nil && v.Kind == check.StaleDeny && v.Observed != nil && !v.Observed.Blocked:
		list = v.Observed.Groups // the state the refusal printed
	case v.Missed != nil && v.Kind == check.StaleDeny && v.Observed != nil:
		blocked = true
	case v.Missed != nil && v.Kind == check.StaleAllow && v.Missed.Kind == history.Write:
		list = grantingList(h, v)
	case v.Missed != nil && v.Kind == check.StaleAllow:
		blocked = false
	case v.Missed == nil && len(v.Expected) > 0:
		list, blocked = v.Expected[0].Groups, v.Expected[0].Blocked
	}
	p.beforeList, p.beforeBlocked = history.Canon(list), blocked
	p.afterList, p.afterBlocked = p.beforeList, p.beforeBlocked
	if w := v.Missed; w != nil {
		wc := *w
		p.write = &wc
		switch w.Kind {
		case history.Write:
			p.afterList = history.Canon(w.Groups)
		case history.Block:
			p.afterBlocked = true
		case history.Unblock:
			p.afterBlocked = false
		}
	}
	p.wantAllowed = !p.afterBlocked && (!p.askMatters() || slices.Contains(p.afterList, v.Decision.Ask))
	p.warm = warmups(h, p)
	return p
}

// cutoff is the time before which the run's state is the "before" state:
// the missed write's call, or the decision's.
func cutoff(v check.Violation) int64 {
	if v.Missed != nil {
		return v.Missed.Call
	}
	return v.Decision.Call
}

// stateBefore is the team's state as of the acknowledged writes that
// returned before t: the latest list and blocked flag, else the initial.
func stateBefore(h history.History, team string, t int64) ([]string, bool) {
	list := h.Header.Initial[team]
	blocked := slices.Contains(h.Header.InitialBlocked, team)
	var lastList, lastBlock int64 = -1 << 63, -1 << 63
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Team != team || op.Outcome != history.OK || op.Return >= t {
			continue
		}
		switch op.Kind {
		case history.Write:
			if op.Return > lastList {
				list, lastList = op.Groups, op.Return
			}
		case history.Block, history.Unblock:
			if op.Return > lastBlock {
				blocked, lastBlock = op.Kind == history.Block, op.Return
			}
		}
	}
	return list, blocked
}

// grantingList is, for a stale grant of an item a write revoked, the last
// list before that write that still held the item.
func grantingList(h history.History, v check.Violation) []string {
	ask := v.Decision.Ask
	var best []string
	found := false
	if init := h.Header.Initial[v.Team]; slices.Contains(init, ask) {
		best, found = init, true
	}
	var bestRet int64 = -1 << 63
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Team == v.Team && op.Kind == history.Write && op.Outcome == history.OK &&
			op.Return < v.Missed.Call && op.Return > bestRet && slices.Contains(op.Groups, ask) {
			best, bestRet, found = op.Groups, op.Return, true
		}
	}
	if !found {
		best = append(slices.Clone(v.Missed.Groups), ask)
	}
	return best
}

// warmups are the last decisions the run made on the team through the
// decision's replica before the missed write (at most warmReads); when it
// made none, decisions like the violating one, asking for something the
// before state allows.
func warmups(h history.History, p plan) []history.Op {
	var out []history.Op
	t := cutoff(p.v)
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Team == p.v.Team && op.Kind == history.Decide && op.Replica == p.decision.Replica && op.Call < t &&
			(op.Outcome == history.Allowed || op.Outcome == history.Denied) {
			out = append(out, *op)
		}
	}
	if len(out) > warmReads {
		return out[len(out)-warmReads:]
	}
	if len(out) > 0 {
		return out
	}
	w := p.decision
	if !slices.Contains(p.beforeList, w.Ask) && len(p.beforeList) > 0 && w.Ask != "" {
		w.Ask = p.beforeList[0]
	}
	return slices.Repeat([]history.Op{w}, warmReads)
}

// memberPlan is a lost-update repro: N concurrent adds, then a read.
func memberPlan(h history.History, p plan) plan {
	if p.decision.Kind != history.ReadMembers {
		p.why = "the violating operation is not a member read"
		return p
	}
	seen := map[int]bool{}
	acked := 0
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Team != p.v.Team || op.Kind != history.MemberAdd {
			continue
		}
		if op.Outcome == history.OK && op.Return < p.decision.Call {
			acked++
		}
		if !seen[op.Replica] {
			seen[op.Replica] = true
			p.addReplicas = append(p.addReplicas, op.Replica)
		}
	}
	slices.Sort(p.addReplicas)
	if len(p.addReplicas) == 0 {
		p.addReplicas = []int{0}
	}
	p.adds = min(max(acked, minMemberAdds), maxMemberAdds)
	return p
}

// askMatters reports whether the decision's ask is judged against the
// list: always for key validation, only for a models list on request-time
// endpoints (where a blocked team is what an access-group list cannot
// explain).
func (p plan) askMatters() bool {
	return p.decision.Ask != "" && (!isModelEndpoint(p.decision.Endpoint) || p.dim == dimModels)
}
