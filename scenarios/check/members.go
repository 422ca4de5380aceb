package check

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/keyrace/keyrace/scenarios/history"
)

// classifyMembers flags member reads that miss a member whose add was
// acknowledged before the read was called (lost-update), and reads that
// see a tracked member before any add of it was called
// (non-linearizable). Members no add in the history added are ignored.
func classifyMembers(b *built, ops []mop) []Violation {
	n := len(b.names)
	ackFirst := make([]int64, n)  // earliest acknowledgement of an add, per member
	callFirst := make([]int64, n) // earliest call of an add, per member
	ackOp := make([]*history.Op, n)
	for i := range n {
		ackFirst[i], callFirst[i] = math.MaxInt64, math.MaxInt64
	}
	for i := range ops {
		m := &ops[i]
		if m.kind != kAdd {
			continue
		}
		callFirst[m.val] = min(callFirst[m.val], m.op.Call)
		if !m.unknown && m.ret < ackFirst[m.val] {
			ackFirst[m.val], ackOp[m.val] = m.ret, m.op
		}
	}
	sortedAck := slices.Clone(ackFirst)
	slices.Sort(sortedAck)

	var out []Violation
	for i := range ops {
		m := &ops[i]
		if m.kind != kRead {
			continue
		}
		call, ret := m.op.Call, m.op.Return
		required, _ := slices.BinarySearch(sortedAck, call) // acked strictly before call
		seen, future := 0, -1
		for byteIdx := 0; byteIdx < len(m.obs); byteIdx++ {
			for x := m.obs[byteIdx]; x != 0; x &= x - 1 {
				id := byteIdx*8 + bits.TrailingZeros8(x)
				if ackFirst[id] < call {
					seen++
				}
				if callFirst[id] > ret && future < 0 {
					future = id
				}
			}
		}
		if seen == required && future < 0 {
			continue
		}
		v := Violation{
			Kind: LostUpdate, Team: b.p.team, Register: Members,
			Decision: *m.op, Replica: m.op.Replica,
			Observed: &State{Members: history.Canon(m.op.Members)},
		}
		var must, missing []string
		oldest := -1
		for id := range n {
			if ackFirst[id] >= call {
				continue
			}
			must = append(must, b.names[id])
			if m.obs[id/8]&(1<<(id%8)) == 0 {
				missing = append(missing, b.names[id])
				if oldest < 0 || ackFirst[id] < ackFirst[oldest] {
					oldest = id
				}
			}
		}
		v.Expected = []State{{Members: history.Canon(must)}}
		if future >= 0 {
			v.Kind = NonLinearizable
			v.Reason = fmt.Sprintf("read saw member %s before any add of it was called", b.names[future])
		} else {
			op := *ackOp[oldest]
			v.Missed = &op
			v.Staleness = time.Duration(call - ackFirst[oldest])
			v.Reason = fmt.Sprintf("read missed %s; the add of %s (op %d) was acknowledged %v before the call",
				pyList(history.Canon(missing)), b.names[oldest], op.ID, v.Staleness)
		}
		out = append(out, v)
	}
	return out
}
