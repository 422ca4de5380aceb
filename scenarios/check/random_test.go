package check

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/keyrace/keyrace/scenarios/history"
)

var testShapes = []struct {
	name string
	s    shape
}{
	{"one writer", shape{teams: 8, opsPerTeam: 300, writers: 1, deciders: 4, writeRatio: 0.2, groups: 4, replicas: 2}},
	{"blocks and unknowns", shape{teams: 8, opsPerTeam: 300, writers: 1, deciders: 4, writeRatio: 0.25,
		blockRatio: 0.3, unknownRatio: 0.05, failRatio: 0.05, groups: 3, replicas: 3}},
	{"overlapping writers", shape{teams: 6, opsPerTeam: 300, writers: 3, deciders: 3, writeRatio: 0.3,
		blockRatio: 0.1, unknownRatio: 0.02, groups: 3, replicas: 2}},
	{"member storm", shape{teams: 6, opsPerTeam: 300, writers: 1, deciders: 2, writeRatio: 0.2,
		memberRatio: 0.5, unknownRatio: 0.02, groups: 3, replicas: 2}},
}

// TestGeneratedHistoriesAreOK checks histories linearizable by
// construction: any flag is a false positive.
func TestGeneratedHistoriesAreOK(t *testing.T) {
	for _, sh := range testShapes {
		for seed := int64(1); seed <= 5; seed++ {
			h := generate(seed, sh.s)
			for _, mode := range []Mode{Strict, Bounded(3 * time.Millisecond)} {
				res := Check(h, Options{Consistency: mode})
				if res.Verdict != VerdictOK || res.Disagreements != 0 || res.Invalid != 0 {
					t.Errorf("%s seed %d %v: verdict %s (%s), %d disagreements, %d invalid; first: %+v",
						sh.name, seed, mode, res.Verdict, describeCounts(res), res.Disagreements, res.Invalid, first(res))
				}
				if mode == Strict && (res.Lagging != 0 || res.MaxLag != 0) {
					t.Errorf("%s seed %d: lagging %d, max lag %v on a linearizable history", sh.name, seed, res.Lagging, res.MaxLag)
				}
				if res.TeamsChecked != sh.s.teams || res.Ops == 0 {
					t.Errorf("%s seed %d: %d teams, %d ops checked", sh.name, seed, res.TeamsChecked, res.Ops)
				}
			}
		}
	}
}

// TestLaggingHistories checks histories whose decisions read a cache up
// to lag old: bounded:<lag> accepts them, strict and bounded:<lag/2> flag
// only stale decisions, and the staleness reported never exceeds lag.
func TestLaggingHistories(t *testing.T) {
	const lag = 5 * time.Millisecond
	s := testShapes[1].s // blocks and unknowns
	s.memberRatio, s.lag = 0.2, lag
	for seed := int64(1); seed <= 3; seed++ {
		h := generate(seed, s)
		for _, mode := range []Mode{Strict, Bounded(lag / 2), Bounded(lag)} {
			res := Check(h, Options{Consistency: mode, MaxViolations: -1})
			if res.Disagreements != 0 || res.MaxLag > lag || res.MaxLag == 0 {
				t.Errorf("seed %d %v: %d disagreements, max lag %v", seed, mode, res.Disagreements, res.MaxLag)
			}
			switch mode.Bound {
			case lag:
				if res.Verdict != VerdictOK || res.Lagging == 0 {
					t.Errorf("seed %d %v: verdict %s (%s), %d lagging; want ok with lag", seed, mode, res.Verdict, describeCounts(res), res.Lagging)
				}
			default:
				if res.Verdict != VerdictViolation {
					t.Errorf("seed %d %v: verdict %s, want violation", seed, mode, res.Verdict)
				}
				for _, v := range res.Violations {
					if !stale(v.Kind) || v.Staleness <= mode.Bound || v.Missed == nil {
						t.Errorf("seed %d %v: %s with staleness %v: %s", seed, mode, v.Kind, v.Staleness, v.Reason)
						break
					}
				}
			}
		}
	}
}

func first(r Result) any {
	if len(r.Violations) == 0 {
		return nil
	}
	return r.Violations[0]
}

// TestCorruptionsAreCaught rewrites one operation of a linearizable history
// so it must be flagged, and checks that exactly that operation is, with
// the right kind.
func TestCorruptionsAreCaught(t *testing.T) {
	for _, sh := range testShapes {
		for _, c := range corruptions {
			tried := 0
			for seed := int64(1); seed <= 4; seed++ {
				h := clone(generate(seed, sh.s))
				rng := rand.New(rand.NewPCG(uint64(seed), 7))
				i := c.apply(h, rng)
				if i < 0 {
					continue
				}
				tried++
				op := h.Ops[i]
				res := Check(h, Options{})
				if res.Verdict != VerdictViolation || res.Counts[c.kind] != 1 || len(res.Violations) != 1 {
					t.Errorf("%s / %s seed %d: verdict %s (%s), want one %s on op %d", sh.name, c.name, seed,
						res.Verdict, describeCounts(res), c.kind, op.ID)
					continue
				}
				v := res.Violations[0]
				if v.Decision.ID != op.ID || v.Team != op.Team {
					t.Errorf("%s / %s seed %d: flagged op %d, corrupted op %d", sh.name, c.name, seed, v.Decision.ID, op.ID)
				}
				if stale(c.kind) && (v.Missed == nil || v.Staleness <= 0 || res.MaxLag < v.Staleness) {
					t.Errorf("%s / %s seed %d: stale violation without evidence: %+v", sh.name, c.name, seed, v)
				}
				for _, tr := range res.Teams {
					if tr.Team == op.Team && tr.Verdict == VerdictViolation && tr.Porcupine != VerdictViolation {
						t.Errorf("%s / %s seed %d: porcupine says %s for the corrupted team", sh.name, c.name, seed, tr.Porcupine)
					}
				}
				if res.Disagreements != 0 {
					t.Errorf("%s / %s seed %d: %d disagreements", sh.name, c.name, seed, res.Disagreements)
				}
			}
			// Each corruption must find a place in the shapes meant for it.
			t.Logf("%s / %s: %d corrupted histories", sh.name, c.name, tried)
			relevant := (c.kind == LostUpdate) == (sh.s.memberRatio > 0) && (c.name != "blocked grant" || sh.s.blockRatio > 0)
			if relevant && tried == 0 {
				t.Errorf("%s / %s: no history offered a place for the corruption", sh.name, c.name)
			}
		}
	}
}

// arbitrary returns a small random history with arbitrary outcomes: most
// are not linearizable, some are.
func arbitrary(rng *rand.Rand) history.History {
	const T = "team-1"
	pool := [][]string{{"G1"}, {"G1", "G2"}, {"G2"}, {}}
	init := pool[rng.IntN(len(pool))]
	h := history.History{Header: history.Header{Format: history.FormatV1, Initial: map[string][]string{T: init}}}
	if rng.IntN(4) == 0 {
		h.Header.InitialBlocked = []string{T}
	}
	n := 3 + rng.IntN(7)
	for i := range n {
		call := int64(rng.IntN(20))
		op := history.Op{ID: uint64(i + 1), Team: T, Call: call, Return: call + int64(rng.IntN(6)), Outcome: history.OK}
		switch x := rng.IntN(10); {
		case x < 3:
			op.Kind, op.Groups = history.Write, pool[rng.IntN(len(pool))]
		case x < 4:
			op.Kind = []history.Kind{history.Block, history.Unblock}[rng.IntN(2)]
		case x < 5:
			op.Kind, op.Member = history.MemberAdd, []string{"a", "b"}[rng.IntN(2)]
		case x < 6:
			op.Kind = history.ReadMembers
			for _, m := range []string{"a", "b", "admin"} {
				if rng.IntN(2) == 0 {
					op.Members = append(op.Members, m)
				}
			}
		default:
			op.Kind, op.Ask = history.Decide, []string{"G1", "G2", ""}[rng.IntN(3)]
			switch rng.IntN(4) {
			case 0, 1:
				op.Outcome = history.Allowed
			case 2:
				op.Outcome, op.Observed = history.Denied, pool[rng.IntN(len(pool))]
			default:
				op.Outcome, op.Blocked = history.Denied, true
			}
		}
		if op.Kind != history.Decide && op.Kind != history.ReadMembers && rng.IntN(6) == 0 {
			op.Outcome, op.Return = history.Unknown, -1
		}
		h.Ops = append(h.Ops, op)
	}
	return h
}

// arbitraryOutcome rewrites a decision or member read with a random
// outcome (other ops are returned as they are).
func arbitraryOutcome(rng *rand.Rand, op history.Op) history.Op {
	switch op.Kind {
	case history.Decide:
		op.Observed, op.Blocked = nil, false
		switch rng.IntN(3) {
		case 0:
			op.Outcome = history.Allowed
		case 1:
			op.Outcome, op.Observed = history.Denied, [][]string{{"G1"}, {"G2"}, {"G1", "G2"}, nil}[rng.IntN(4)]
		default:
			op.Outcome, op.Blocked = history.Denied, true
		}
	case history.ReadMembers:
		if len(op.Members) > 0 {
			op.Members = slices.Delete(slices.Clone(op.Members), 0, 1)
		}
	}
	return op
}

// TestClassifierIsSound checks, on thousands of arbitrary small histories,
// that the classifier flags exactly the decisions the quadratic reference
// finds inconsistent on their own, that it never flags a history porcupine
// accepts (strict or bounded), and that every history porcupine rejects
// gets a violation.
func TestClassifierIsSound(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 42))
	illegal := 0
	tiny := shape{teams: 1, opsPerTeam: 10, writers: 2, deciders: 3, writeRatio: 0.35, blockRatio: 0.2,
		unknownRatio: 0.15, memberRatio: 0.3, groups: 2, replicas: 2}
	for iter := range 5000 {
		h := arbitrary(rng)
		if iter%2 == 1 {
			// Near the boundary: linearizable by construction, then
			// maybe one outcome rewritten at random.
			h = generate(int64(iter), tiny)
			if rng.IntN(3) > 0 {
				j := rng.IntN(len(h.Ops))
				h.Ops[j] = arbitraryOutcome(rng, h.Ops[j])
			}
		}
		var want []uint64
		for i := range h.Ops {
			d := &h.Ops[i]
			if d.Kind == history.Decide && refViolates(h, d) {
				want = append(want, d.ID)
			}
		}
		in := split(h)
		var got []uint64
		var sc scratch
		for _, p := range in.parts {
			if p.reg != Permissions {
				continue
			}
			ops := build(&in, p, &sc)
			for _, v := range classify(p, ops, Strict).violations {
				got = append(got, v.Decision.ID)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("iter %d: classifier flags %v, reference %v\nhistory: %+v", iter, got, want, h)
		}
		bound := Bounded(time.Duration(1 + rng.IntN(8)))
		for _, opts := range []Options{{}, {Consistency: bound}, {Consistency: bound, JointBounded: true}} {
			res := Check(h, opts)
			if res.Disagreements != 0 {
				t.Fatalf("iter %d %+v: classifier flagged a history porcupine accepts: %+v\nhistory: %+v", iter, opts, res, h)
			}
			for _, tr := range res.Teams {
				perDecision := opts.Consistency.Bound > 0 && !opts.JointBounded
				if tr.Porcupine == VerdictViolation && tr.Violations == 0 && !perDecision {
					t.Fatalf("iter %d %+v: porcupine rejected %s/%s but no violation was reported", iter, opts, tr.Team, tr.Register)
				}
				if tr.Porcupine == VerdictUnknown {
					t.Fatalf("iter %d: porcupine timed out on a tiny history", iter)
				}
			}
			if opts.Consistency == Strict && res.Verdict == VerdictViolation {
				illegal++
			}
		}
	}
	t.Logf("%d of 5000 arbitrary histories violate strict", illegal)
	// The generator must produce both kinds, or the test proves little.
	if illegal < 1000 || illegal > 4000 {
		t.Errorf("%d of 5000 arbitrary histories were violations; the generator is off balance", illegal)
	}
}

// TestPendingModelAgrees checks the pending encoding of unknown writes
// against the textbook one (Return = end of history) on thousands of
// small histories, linearizable or not: both must give the same answer.
func TestPendingModelAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	tiny := shape{teams: 1, opsPerTeam: 12, writers: 2, deciders: 3, writeRatio: 0.4, blockRatio: 0.3,
		unknownRatio: 0.4, memberRatio: 0.3, groups: 2, replicas: 2}
	var sc scratch
	counts := map[bool]int{}
	withUnknown := 0
	for iter := range 4000 {
		h := arbitrary(rng)
		if iter%2 == 1 {
			h = generate(int64(iter), tiny)
			if rng.IntN(2) == 0 {
				j := rng.IntN(len(h.Ops))
				h.Ops[j] = arbitraryOutcome(rng, h.Ops[j])
			}
		}
		for _, mode := range []Mode{Strict, Bounded(time.Duration(rng.IntN(3)) * time.Millisecond)} {
			in := split(h)
			for _, p := range in.parts {
				ops := build(&in, p, &sc)
				pending := porcupine.CheckOperations(checkModel, modelOps(ops, nil, mode.Bound, false))
				ops[0].home.noPending = true
				end := porcupine.CheckOperations(checkModel, modelOps(ops, nil, mode.Bound, false))
				if pending != end {
					t.Fatalf("iter %d %v %s/%s: pending encoding says %v, Return = end says %v\nhistory: %+v",
						iter, mode, p.team, p.reg, pending, end, h)
				}
				counts[pending]++
				for i := range ops {
					if ops[i].unknown {
						withUnknown++
						break
					}
				}
			}
		}
	}
	t.Logf("linearizable partitions: %d, not: %d; with unknown writes: %d", counts[true], counts[false], withUnknown)
	if counts[true] < 1000 || counts[false] < 1000 || withUnknown < 3000 {
		t.Errorf("unbalanced: %v", counts)
	}
}

// hard is a history porcupine cannot finish in a millisecond: one team,
// many concurrent deciders and overlapping writers.
func hard() history.History {
	return generate(3, shape{teams: 1, opsPerTeam: 6000, writers: 3, deciders: 16, writeRatio: 0.2,
		unknownRatio: 0.01, groups: 3, replicas: 2})
}

func TestCheckTimeoutIsUnknown(t *testing.T) {
	res := Check(hard(), Options{Timeout: time.Millisecond})
	if res.Verdict != VerdictUnknown || res.TeamsUnknown != 1 || len(res.Violations) != 0 {
		t.Fatalf("verdict %s, %d unknown teams, %d violations; want unknown, 1, 0", res.Verdict, res.TeamsUnknown, len(res.Violations))
	}
	if res.Teams[0].Porcupine != VerdictUnknown {
		t.Errorf("porcupine verdict %s, want unknown", res.Teams[0].Porcupine)
	}
}

// TestTimeoutWithProofIsViolation: when porcupine times out but the
// classifier proved a violation, the proof stands.
func TestTimeoutWithProofIsViolation(t *testing.T) {
	h := clone(hard())
	i := corruptions[3].apply(h, rand.New(rand.NewPCG(1, 1))) // contract
	res := Check(h, Options{Timeout: time.Millisecond})
	if res.Verdict != VerdictViolation || res.Counts[Contract] != 1 || res.Teams[0].Porcupine != VerdictUnknown {
		t.Fatalf("verdict %s (%s), porcupine %s; want a contract violation with porcupine unknown",
			res.Verdict, describeCounts(res), res.Teams[0].Porcupine)
	}
	if res.Violations[0].Decision.ID != h.Ops[i].ID {
		t.Errorf("flagged op %d, corrupted %d", res.Violations[0].Decision.ID, h.Ops[i].ID)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := generate(9, testShapes[1].s), generate(9, testShapes[1].s)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed, different histories")
	}
}
