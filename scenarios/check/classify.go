package check

import (
	"fmt"
	"math"
	"time"

	"github.com/keyrace/keyrace/scenarios/history"
)

// clResult is what the classifier found in one partition.
type clResult struct {
	violations []Violation
	lagging    int
	maxLag     time.Duration
}

// classify labels the decisions (or member reads) of one partition that
// no linearization of the partition's writes could explain. It looks at
// each decision against the writes only, never against other decisions,
// so everything it flags is a proven violation; porcupine catches the
// rest. Decisions are judged with their recorded call; in bounded mode a
// stale decision whose staleness is within the bound is counted as lagging
// instead of flagged (the same decisions porcupine accepts once their call
// is moved back by the bound).
func classify(p *part, ops []mop, mode Mode) clResult {
	if len(ops) == 0 {
		return clResult{}
	}
	var cl clResult
	var found []Violation
	if p.reg == Members {
		found = classifyMembers(ops[0].home, ops)
	} else {
		found = newPermClassifier(ops[0].home, ops).run(ops)
	}
	for _, v := range found {
		if stale(v.Kind) {
			cl.maxLag = max(cl.maxLag, v.Staleness)
			if v.Staleness <= mode.Bound {
				cl.lagging++
				continue
			}
		}
		cl.violations = append(cl.violations, v)
	}
	return cl
}

func stale(k Kind) bool { return k == StaleDeny || k == StaleAllow || k == LostUpdate }

// permClassifier classifies the decisions of one permission partition.
type permClassifier struct {
	b      *built
	list   *timeline // allow-list writes; values are list ids
	block  *timeline // block/unblock; values 0 (unblocked) and 1 (blocked)
	askUnk map[string]int64
	askSrc map[string][]int32
}

func newPermClassifier(b *built, ops []mop) *permClassifier {
	c := &permClassifier{
		b:     b,
		list:  newTimeline(0, len(b.lists)),
		block: newTimeline(int32(boolInt(b.initBlocked)), 2),
	}
	for i := range ops {
		m := &ops[i]
		switch m.kind {
		case kList:
			c.list.add(m, m.val)
		case kBlock:
			c.block.add(m, 1)
		case kUnblock:
			c.block.add(m, 0)
		}
	}
	c.list.finish()
	c.block.finish()
	return c
}

// run classifies every decision.
func (c *permClassifier) run(ops []mop) []Violation {
	var out []Violation
	for i := range ops {
		m := &ops[i]
		call, ret := m.op.Call, m.op.Return
		switch m.kind {
		case kDenyList:
			v := m.val
			if v < 0 || m.askIn || (c.list.unknownFirst[v] > ret && !c.list.ackedLegal(v, call, ret)) {
				out = append(out, c.explainDenyList(m))
			}
		case kDenyBlocked:
			if c.block.unknownFirst[1] > ret && !c.block.ackedLegal(1, call, ret) {
				out = append(out, c.explainDenyBlocked(m))
			}
		case kAllow:
			ask := m.op.Ask
			listOK := c.askUnknown(ask) <= ret || c.askAcked(ask, call, ret)
			blockOK := c.block.unknownFirst[0] <= ret || c.block.ackedLegal(0, call, ret)
			if !listOK || !blockOK {
				out = append(out, c.explainAllow(m, listOK, blockOK))
			}
		}
	}
	return out
}

// askAcked reports whether some list legal for a decision [c, r] by
// acknowledged writes alone holds ask.
func (c *permClassifier) askAcked(ask string, call, ret int64) bool {
	if ask == "" {
		return true
	}
	return c.list.eachLegal(call, ret, func(v int32, _ *tw) bool { return listHas(c.b.lists[v], ask) })
}

// askUnknown is the earliest call of an unknown-outcome write whose list
// holds ask (MaxInt64: none).
func (c *permClassifier) askUnknown(ask string) int64 {
	if ask == "" {
		return math.MinInt64
	}
	if t, ok := c.askUnk[ask]; ok {
		return t
	}
	if c.askUnk == nil {
		c.askUnk = map[string]int64{}
	}
	first := int64(math.MaxInt64)
	for v, t := range c.list.unknownFirst {
		if t < first && listHas(c.b.lists[v], ask) {
			first = t
		}
	}
	c.askUnk[ask] = first
	return first
}

// askSources lists the acknowledged writes whose list holds ask.
func (c *permClassifier) askSources(ask string) []int32 {
	if s, ok := c.askSrc[ask]; ok {
		return s
	}
	if c.askSrc == nil {
		c.askSrc = map[string][]int32{}
	}
	var s []int32
	for i, w := range c.list.acked {
		if listHas(c.b.lists[w.val], ask) {
			s = append(s, int32(i))
		}
	}
	c.askSrc[ask] = s
	return s
}

// expected lists the states legal for a decision: legal lists × legal
// blocked flags.
func (c *permClassifier) expected(call, ret int64) []State {
	var out []State
	flags := c.block.legalVals(call, ret)
	for _, v := range c.list.legalVals(call, ret) {
		for _, f := range flags {
			out = append(out, State{Groups: c.b.lists[v], Blocked: f == 1})
		}
	}
	return out
}

func (c *permClassifier) violation(m *mop, k Kind) Violation {
	return Violation{
		Kind: k, Team: c.b.p.team, Register: Permissions,
		Decision: *m.op, Replica: m.op.Replica,
		Expected: c.expected(m.op.Call, m.op.Return),
	}
}

// missed fills in the write the decision missed.
func missed(v *Violation, call int64, w *tw) {
	op := *w.m.op
	v.Missed = &op
	v.Staleness = time.Duration(call - w.ret)
}

func (c *permClassifier) explainDenyList(m *mop) Violation {
	op := m.op
	v := c.violation(m, Contract)
	v.Observed = &State{Groups: history.Canon(op.Observed)}
	printed := pyList(v.Observed.Groups)
	switch {
	case m.val < 0:
		v.Reason = fmt.Sprintf("refused %s printing Team allows %s, a list the team never had", askText(op.Ask), printed)
	case m.askIn:
		v.Reason = fmt.Sprintf("refused %s although the printed list %s holds it", askText(op.Ask), printed)
	default:
		w := c.list.superseder(op.Call, c.list.sources(m.val), m.val == c.list.init)
		if w == nil {
			v.Kind = NonLinearizable
			v.Reason = fmt.Sprintf("refused %s printing %s, a list only a write called after the decision returned set", askText(op.Ask), printed)
			break
		}
		v.Kind = StaleDeny
		missed(&v, op.Call, w)
		v.Reason = fmt.Sprintf("refused %s printing Team allows %s, the list before write op %d %s acknowledged %v before the call",
			askText(op.Ask), printed, w.m.op.ID, describeWrite(w), v.Staleness)
	}
	return v
}

func (c *permClassifier) explainDenyBlocked(m *mop) Violation {
	op := m.op
	v := c.violation(m, Contract)
	v.Observed = &State{Blocked: true}
	w := c.block.superseder(op.Call, c.block.sources(1), c.block.init == 1)
	switch {
	case w != nil:
		v.Kind = StaleDeny
		missed(&v, op.Call, w)
		v.Reason = fmt.Sprintf("refused %s as blocked, but unblock op %d was acknowledged %v before the call", askText(op.Ask), w.m.op.ID, v.Staleness)
	case c.block.init == 1 || len(c.block.sources(1)) > 0 || c.block.unknownFirst[1] < math.MaxInt64:
		v.Kind = NonLinearizable
		v.Reason = fmt.Sprintf("refused %s as blocked before any block was called", askText(op.Ask))
	default:
		v.Reason = fmt.Sprintf("refused %s as blocked, but the team was never blocked", askText(op.Ask))
	}
	return v
}

func (c *permClassifier) explainAllow(m *mop, listOK, blockOK bool) Violation {
	op := m.op
	v := c.violation(m, StaleAllow)
	var reasons []string
	var worst *tw
	kind := StaleAllow
	worse := func(k Kind) {
		if rank(k) > rank(kind) {
			kind = k
		}
	}
	if !listOK {
		w := c.list.superseder(op.Call, c.askSources(op.Ask), listHas(c.b.lists[c.list.init], op.Ask))
		switch {
		case w != nil:
			worst = w
			reasons = append(reasons, fmt.Sprintf("granted %s, which write op %d %s revoked %v before the call",
				askText(op.Ask), w.m.op.ID, describeWrite(w), time.Duration(op.Call-w.ret)))
		case c.anyListHas(op.Ask):
			worse(NonLinearizable)
			reasons = append(reasons, fmt.Sprintf("granted %s, which only a write called after the decision returned allows", askText(op.Ask)))
		default:
			worse(Contract)
			reasons = append(reasons, fmt.Sprintf("granted %s, which no state of the team ever allowed", askText(op.Ask)))
		}
	}
	if !blockOK {
		w := c.block.superseder(op.Call, c.block.sources(0), c.block.init == 0)
		switch {
		case w != nil:
			if worst == nil || w.ret < worst.ret {
				worst = w
			}
			reasons = append(reasons, fmt.Sprintf("granted %s on a team whose block (op %d) was acknowledged %v before the call",
				askText(op.Ask), w.m.op.ID, time.Duration(op.Call-w.ret)))
		case c.block.init == 0 || len(c.block.sources(0)) > 0 || c.block.unknownFirst[0] < math.MaxInt64:
			worse(NonLinearizable)
			reasons = append(reasons, fmt.Sprintf("granted %s while blocked, before any unblock was called", askText(op.Ask)))
		default:
			worse(Contract)
			reasons = append(reasons, fmt.Sprintf("granted %s on a team blocked throughout", askText(op.Ask)))
		}
	}
	v.Kind = kind
	if worst != nil {
		missed(&v, op.Call, worst)
	}
	v.Reason = reasons[0]
	if len(reasons) > 1 {
		v.Reason += "; " + reasons[1]
	}
	return v
}

// rank orders kinds by how much they say: a contract breach outranks a
// future read, which outranks staleness.
func rank(k Kind) int {
	switch k {
	case Contract:
		return 2
	case NonLinearizable:
		return 1
	}
	return 0
}

func (c *permClassifier) anyListHas(ask string) bool {
	for _, l := range c.b.lists {
		if listHas(l, ask) {
			return true
		}
	}
	return false
}

// describeWrite renders a write for a reason: its list, or block/unblock.
func describeWrite(w *tw) string {
	switch w.m.kind {
	case kBlock:
		return "(block)"
	case kUnblock:
		return "(unblock)"
	}
	return "(" + pyList(history.Canon(w.m.op.Groups)) + ")"
}
