package check

import (
	"math"
	"slices"
	"time"

	"github.com/keyrace/keyrace/scenarios/history"
)

// input is a history split into partitions: one per team and register.
type input struct {
	parts []*part
	// end is the Return given to unknown-outcome operations: one second
	// after the last time in the history, so they may linearise after
	// everything else ("applied very late" covers "never applied").
	end            int64
	initial        map[string][]string
	initialBlocked map[string]bool
	ops            int
	dropped        int
	invalid        int
	// acked counts writes acknowledged with a success; judged the
	// decisions and reads kept (they are what the check judges); lostWrites
	// the writes whose outcome is unknown (no answer, 5xx).
	acked, judged, lostWrites int
	// perReplica counts, per replica, the operations sent to it and those
	// that came back usable (an acknowledged write or a judged decision).
	perReplica map[int]*replicaCount
	// lastCall is the latest call and lastGood the latest return of a usable
	// operation: a target that stopped answering leaves a gap between them.
	lastCall, lastGood int64
}

// replicaCount is one replica's share of the history.
type replicaCount struct{ sent, usable int }

// part is one partition: the kept operations on one register of one team,
// in recorded order.
type part struct {
	team string
	reg  Register
	ops  []*history.Op
	n    int
}

// split drops what carries no information, sets aside malformed operations
// and partitions the rest by team and register. Linearizability is local,
// so checking each partition alone is exact; the allow-list and the member
// set are separate objects, so they are separate partitions too.
func split(h history.History) input {
	in := input{
		initial:        h.Header.Initial,
		initialBlocked: make(map[string]bool, len(h.Header.InitialBlocked)),
	}
	for _, t := range h.Header.InitialBlocked {
		in.initialBlocked[t] = true
	}
	type pair struct{ perm, mem *part }
	byTeam := map[string]*pair{}
	last := int64(math.MinInt64)
	in.perReplica = map[int]*replicaCount{}
	for i := range h.Ops {
		op := &h.Ops[i]
		keep, unknown, reg := classifyOutcome(op)
		rc := in.perReplica[op.Replica]
		if rc == nil {
			rc = &replicaCount{}
			in.perReplica[op.Replica] = rc
		}
		rc.sent++
		in.lastCall = max(in.lastCall, op.Call)
		switch keep {
		case dropOp:
			in.dropped++
			continue
		case invalidOp:
			in.invalid++
			continue
		}
		if !unknown && op.Return < op.Call {
			in.invalid++
			continue
		}
		last = max(last, op.Call)
		if !unknown {
			last = max(last, op.Return)
		}
		pr := byTeam[op.Team]
		if pr == nil {
			pr = &pair{}
			byTeam[op.Team] = pr
		}
		dst := &pr.perm
		if reg == Members {
			dst = &pr.mem
		}
		if *dst == nil {
			*dst = &part{team: op.Team, reg: reg}
		}
		(*dst).ops = append((*dst).ops, op)
		in.ops++
		switch {
		case op.Kind == history.Decide || op.Kind == history.ReadMembers:
			in.judged++
		case unknown:
			in.lostWrites++
			continue
		default:
			in.acked++
		}
		rc.usable++
		in.lastGood = max(in.lastGood, op.Return)
	}
	if last == math.MinInt64 {
		last = 0
	}
	in.end = last + int64(time.Second)
	for _, pr := range byTeam {
		for _, p := range []*part{pr.perm, pr.mem} {
			if p != nil {
				p.n = len(p.ops)
				in.parts = append(in.parts, p)
			}
		}
	}
	slices.SortFunc(in.parts, func(a, b *part) int {
		if a.team != b.team {
			if a.team < b.team {
				return -1
			}
			return 1
		}
		if a.reg == b.reg {
			return 0
		}
		if a.reg == Permissions {
			return -1
		}
		return 1
	})
	return in
}

type keepKind uint8

const (
	keepOp keepKind = iota
	dropOp
	invalidOp
)

// classifyOutcome says whether an operation is kept, whether its outcome is
// unknown, and which register it belongs to. A write that "failed" is
// treated as unknown: it may have taken effect.
func classifyOutcome(op *history.Op) (keepKind, bool, Register) {
	switch op.Kind {
	case history.Write, history.Block, history.Unblock, history.MemberAdd:
		reg := Permissions
		if op.Kind == history.MemberAdd {
			reg = Members
		}
		switch op.Outcome {
		case history.OK:
			return keepOp, false, reg
		case history.Unknown, history.Failed:
			return keepOp, true, reg
		case history.Rejected:
			return dropOp, false, reg
		}
	case history.Decide:
		switch op.Outcome {
		case history.Allowed, history.Denied:
			return keepOp, false, Permissions
		case history.Failed, history.Unknown:
			return dropOp, false, Permissions
		}
	case history.ReadMembers:
		switch op.Outcome {
		case history.OK:
			return keepOp, false, Members
		case history.Failed, history.Unknown:
			return dropOp, false, Members
		}
	}
	return invalidOp, false, ""
}
