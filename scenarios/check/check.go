// Package check decides whether a recorded race history (package history) is
// consistent, team by team, and explains every violation it finds.
//
// Each team is two registers, checked separately (linearizability is local):
// its permissions (allow-list + blocked flag: writes, block/unblock,
// decisions) and its member set (adds, reads). Two layers work on each.
//
// A porcupine model gives the verdict in strict mode: porcupine is the
// authority on whether the register's sub-history is linearizable. A
// classifier, O(n log n) and run on every team, looks at each decision on
// its own against the writes around it and labels what went wrong —
// stale-deny, stale-allow, contract, lost-update — with the evidence a
// report needs (the acknowledged write that was missed, expected and
// observed state, staleness). It flags only decisions that no
// linearization of the writes could explain, so its findings are proofs;
// porcupine also catches violations that take several decisions together
// (decisions seeing writes in opposite orders), reported as
// non-linearizable.
//
// In bounded:<d> mode a decision may miss writes acknowledged less than d
// before its call. That is a property of each decision against the writes,
// which the classifier decides exactly, so it gives the verdict; porcupine
// still runs strictly and reports, per team, whether the register was
// linearizable outright. Options.JointBounded asks porcupine instead for
// one linearization with every decision's call moved back by d.
//
// Unknown-outcome writes may take effect any time after their call, or
// never (pending.go); failed decisions are dropped. A porcupine timeout is
// its own verdict, unknown, unless the classifier proved a violation.
//
// Check is safe to call concurrently; it runs partitions on GOMAXPROCS
// workers.
package check

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/keyrace/keyrace/scenarios/history"
)

// DefaultTimeout is the porcupine time budget when Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Options configure Check.
type Options struct {
	// Consistency is the mode to check; the zero value is strict.
	Consistency Mode
	// Timeout is porcupine's time budget for the whole history (default
	// DefaultTimeout). A first pass gives each partition at most a
	// sixteenth of it (at least 100ms), so one hard team cannot starve the
	// others; partitions that ran out then share what is left. Partitions
	// still running when it is spent, or not started by then, get
	// porcupine verdict unknown.
	Timeout time.Duration
	// Workers is how many partitions are checked at once (default
	// GOMAXPROCS).
	Workers int
	// JointBounded makes a bounded mode demand one linearization of each
	// team with every decision's call moved back by the bound (porcupine
	// on the shifted history), instead of judging each decision against
	// the writes. It is stricter — decisions must also agree with each
	// other at the scale of the bound — and exponential once the bound
	// spans many writes: expect unknown verdicts above ~10 writes per
	// bound. No effect in strict mode.
	JointBounded bool
	// MaxViolations is how many violations Result.Violations keeps with
	// their evidence: the earliest by decision call (default
	// DefaultMaxViolations; negative keeps all). Counts, MaxLag and the
	// per-team numbers always cover every violation.
	MaxViolations int
}

// DefaultMaxViolations is the default of Options.MaxViolations.
const DefaultMaxViolations = 1000

// Check checks every team of h under opts and returns the verdict with its
// evidence. Per-request failures in h are data, not errors: failed
// decisions are dropped, unknown-outcome writes may take effect any time
// after their call (or never).
func Check(h history.History, opts Options) Result {
	start := time.Now()
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case opts.MaxViolations == 0:
		opts.MaxViolations = DefaultMaxViolations
	case opts.MaxViolations < 0:
		opts.MaxViolations = math.MaxInt
	}
	deadline := start.Add(opts.Timeout)
	in := split(h)
	res := Result{
		Consistency:     opts.Consistency,
		JointBounded:    opts.JointBounded && opts.Consistency.Bound > 0,
		Counts:          map[Kind]int{},
		Ops:             in.ops,
		Dropped:         in.dropped,
		Invalid:         in.invalid,
		WritesAcked:     in.acked,
		DecisionsJudged: in.judged,
		Violations:      []Violation{},
		Teams:           make([]TeamResult, len(in.parts)),
	}
	for _, k := range Kinds {
		res.Counts[k] = 0
	}
	// Largest partitions first, so one big team does not start last.
	order := make([]int, len(in.parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(in.parts[b].n, in.parts[a].n) })

	// Pass 1 gives every partition a slice of the budget, so one hard team
	// cannot starve the others; pass 2 shares what is left among the
	// partitions that ran out of time.
	outs := make([]partOut, len(in.parts))
	slice := max(opts.Timeout/16, 100*time.Millisecond)
	run(opts.Workers, order, func(_, i int, sc *scratch) {
		outs[i] = checkPart(&in, in.parts[i], opts, min(slice, time.Until(deadline)), sc)
	})
	var retry []int
	for _, i := range order {
		if outs[i].timedOut {
			retry = append(retry, i)
		}
	}
	run(opts.Workers, retry, func(k, i int, sc *scratch) {
		left := len(retry) - k
		share := time.Until(deadline) * time.Duration(min(opts.Workers, left)) / time.Duration(left)
		spent := outs[i].team.Duration
		outs[i] = checkPart(&in, in.parts[i], opts, min(share, time.Until(deadline)), sc)
		outs[i].team.Duration += spent
	})

	unknownTeams := map[string]bool{}
	teams := map[string]bool{}
	total := 0
	for i, o := range outs {
		res.Teams[i] = o.team
		teams[o.team.Team] = true
		if o.team.Verdict == VerdictUnknown {
			unknownTeams[o.team.Team] = true
		}
		if o.disagree {
			res.Disagreements++
		}
		res.Lagging += o.team.Lagging
		res.MaxLag = max(res.MaxLag, o.maxLag)
		for k, n := range o.counts {
			res.Counts[k] += n
			total += n
		}
	}
	res.TeamsChecked = len(teams)
	res.TeamsUnknown = len(unknownTeams)
	var refs []*Violation
	for _, o := range outs {
		for i := range o.violations {
			refs = append(refs, &o.violations[i])
		}
	}
	refs = sortViolations(refs)
	if len(refs) > opts.MaxViolations {
		refs = refs[:opts.MaxViolations]
	}
	kept := make([]Violation, len(refs))
	for i, v := range refs {
		kept[i] = *v
	}
	res.Violations = kept
	res.ViolationsDropped = total - len(kept)
	res.Inconclusive = inconclusive(in)
	switch {
	case total > 0:
		res.Verdict = VerdictViolation
	case res.TeamsUnknown > 0 || res.Inconclusive != "":
		res.Verdict = VerdictUnknown
	default:
		res.Verdict = VerdictOK
	}
	res.CheckDuration = time.Since(start)
	return res
}

// inconclusive says why a history cannot show the absence of stale
// decisions, or "": no write was acknowledged (nothing to be stale about),
// no decision was judged, most operations failed or were unusable, a
// replica answered nothing usable, or the target stopped answering before
// the last third of the run (a broken target would otherwise pass).
func inconclusive(in input) string {
	lost := in.dropped + in.invalid + in.lostWrites
	total := in.ops + in.dropped + in.invalid
	switch {
	case total == 0:
		return "the history holds no operation"
	case in.acked == 0:
		return fmt.Sprintf("no write was acknowledged (%d operations, %d failed or unusable)", total, lost)
	case in.judged == 0:
		return fmt.Sprintf("no decision could be judged (%d operations, %d failed or unusable)", total, lost)
	case 2*lost > total:
		return fmt.Sprintf("%d of %d operations failed or were unusable", lost, total)
	case in.lastGood < in.lastCall*2/3:
		return fmt.Sprintf("no usable answer after %.1f s of a run whose operations went on until %.1f s: the target stopped answering",
			float64(in.lastGood)/1e9, float64(in.lastCall)/1e9)
	}
	for _, r := range slices.Sorted(maps.Keys(in.perReplica)) {
		if c := in.perReplica[r]; c.usable == 0 {
			return fmt.Sprintf("replica %d answered none of its %d operations usably: nothing was judged through it", r, c.sent)
		}
	}
	return ""
}

// sortViolations orders violations by decision call time (then team,
// register, decision id), moving pointers rather than the large structs.
func sortViolations(vs []*Violation) []*Violation {
	slices.SortFunc(vs, func(a, b *Violation) int {
		return cmp.Or(cmp.Compare(a.Decision.Call, b.Decision.Call), cmp.Compare(a.Team, b.Team),
			cmp.Compare(a.Register, b.Register), cmp.Compare(a.Decision.ID, b.Decision.ID))
	})
	return vs
}

// run calls f for every index of idx on up to workers goroutines; k is the
// position in idx, taken in order.
func run(workers int, idx []int, f func(k, i int, sc *scratch)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(idx)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc scratch
			for {
				k := int(next.Add(1)) - 1
				if k >= len(idx) {
					return
				}
				f(k, idx[k], &sc)
			}
		}()
	}
	wg.Wait()
}

// partOut is what checking one partition produced.
type partOut struct {
	team TeamResult
	// violations are the earliest (by call) of the partition's violations,
	// at most Options.MaxViolations; counts counts all of them.
	violations []Violation
	counts     map[Kind]int
	maxLag     time.Duration
	disagree   bool
	timedOut   bool // porcupine ran out of its limit
}

// checkPart builds one partition's model operations, classifies its
// decisions and runs porcupine on it for at most limit, combining the two
// into a verdict.
//
// Strict mode (and bounded with JointBounded): porcupine decides; the
// classifier explains. A porcupine timeout leaves the partition unknown
// unless the classifier proved a violation (its findings are proofs).
//
// Bounded mode: a decision is legal iff some linearization of the writes
// alone shows its state at a point in [call-bound, return] — it may miss
// writes acknowledged less than the bound before its call. The classifier
// decides exactly that, per decision, so it gives the verdict; porcupine
// still checks the strict history, which tells whether the team was
// linearizable outright and cross-checks the classifier.
func checkPart(in *input, p *part, opts Options, limit time.Duration, sc *scratch) partOut {
	mode := opts.Consistency
	perDecision := mode.Bound > 0 && !opts.JointBounded
	ops := build(in, p, sc)
	cl := classify(p, ops, mode)
	out := partOut{
		team:   TeamResult{Team: p.team, Register: p.reg, Ops: len(ops), Lagging: cl.lagging},
		maxLag: cl.maxLag,
	}
	pv, strict := VerdictUnknown, VerdictUnknown
	end := time.Now().Add(limit)
	shift := mode.Bound
	if perDecision {
		shift = 0
	}
	if limit > 0 {
		t0 := time.Now()
		strict, pv = linearizable(ops, shift, end, sc)
		out.team.Duration = time.Since(t0)
	}
	out.team.Porcupine = pv
	vs := cl.violations
	switch {
	case pv == VerdictOK && len(vs) > 0, strict == VerdictOK && cl.lagging > 0:
		// Porcupine is the authority; a classifier flag on a history it
		// accepts is a checker bug, counted so it cannot go unnoticed.
		out.disagree = true
		vs = nil
	case perDecision:
	case pv == VerdictViolation && len(vs) == 0:
		vs = []Violation{nonLinearizable(p, ops, shift, max(time.Until(end), time.Second))}
	}
	// A retry cannot change a proven violation, nor a per-decision verdict.
	out.timedOut = pv == VerdictUnknown && len(vs) == 0 && !perDecision
	out.team.Violations = len(vs)
	if len(vs) > 0 {
		out.counts = map[Kind]int{}
		for _, v := range vs {
			out.counts[v.Kind]++
		}
		if len(vs) > opts.MaxViolations {
			refs := make([]*Violation, len(vs))
			for i := range vs {
				refs[i] = &vs[i]
			}
			refs = sortViolations(refs)[:opts.MaxViolations]
			first := make([]Violation, len(refs))
			for i, v := range refs {
				first[i] = *v
			}
			vs = first
		}
	}
	out.violations = vs
	switch {
	case len(vs) > 0:
		out.team.Verdict = VerdictViolation
	case pv == VerdictUnknown && !perDecision:
		out.team.Verdict = VerdictUnknown
	default:
		out.team.Verdict = VerdictOK
	}
	return out
}

// linearizable runs porcupine on a partition until end, with decision
// calls moved back by shift.
//
// With a shift it first checks the strict history: shifting calls back
// only relaxes it, so strictly linearizable implies linearizable shifted,
// and the strict check is cheap where the shifted one is expensive (wide
// decision windows multiply the orders porcupine explores). It returns
// the strict answer and the final one.
func linearizable(ops []mop, shift time.Duration, end time.Time, sc *scratch) (strict, final Verdict) {
	sc.pops = modelOps(ops, sc.pops, 0, false)
	strict = porcupineUntil(sc.pops, end, sc)
	if strict != VerdictViolation || shift <= 0 {
		return strict, strict
	}
	sc.pops = modelOps(ops, sc.pops, shift, false)
	return strict, porcupineUntil(sc.pops, end, sc)
}

// porcupineUntil checks one partition with porcupine until end.
func porcupineUntil(pops []porcupine.Operation, end time.Time, sc *scratch) Verdict {
	left := time.Until(end)
	if left <= 0 { // porcupine reads a timeout of 0 as none
		return VerdictUnknown
	}
	switch porcupine.CheckOperationsTimeout(checkModel, pops, left) {
	case porcupine.Ok:
		return VerdictOK
	case porcupine.Illegal:
		return VerdictViolation
	}
	sc.abandon()
	return VerdictUnknown
}

// abandon drops the scratch buffers: on a timeout porcupine returns
// without waiting for its search goroutine, which may still read them
// until it notices.
func (sc *scratch) abandon() { sc.ops, sc.pops = nil, nil }
