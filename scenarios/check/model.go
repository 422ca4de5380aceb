package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/keyrace/keyrace/scenarios/history"
)

// model is the porcupine model of both registers. Init returns nil, and a
// nil state stands for the partition's initial state, which Step takes
// from the operation (each *mop knows its partition): so one model serves
// every partition, including a Visualize of several at once.
//
// Permission states are interned *regState (allow-list × blocked flag),
// or, in a partition with unknown-outcome writes, interned *pstate (sets
// of possible states, see pending.go); member states are memState values
// (bitset strings over the members added in the partition). Step never
// allocates for *regState, the common case.
var model = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		idx := map[*built]int{}
		var parts [][]porcupine.Operation
		for _, o := range h {
			b := o.Input.(*mop).home
			i, ok := idx[b]
			if !ok {
				i = len(parts)
				idx[b] = i
				parts = append(parts, nil)
			}
			parts[i] = append(parts[i], o)
		}
		return parts
	},
	Init: func() any { return nil },
	Step: step,
	Hash: func(st any) uint64 {
		switch s := st.(type) {
		case *regState:
			return s.hash
		case *pstate:
			return s.hash
		case memState:
			return hashString(s.bits) ^ mix64(hashString(s.pend))
		}
		return 0
	},
	DescribeOperation: func(in, _ any) string { return describeOp(in.(*mop)) },
	DescribeState: func(st any) string {
		switch s := st.(type) {
		case *regState:
			return describeRegState(s)
		case *pstate:
			return describePState(s)
		case memState:
			d := "members " + pyList(s.home.memberList(s.bits))
			if p := s.home.memberList(s.pend); len(p) > 0 {
				d += " pending " + pyList(p)
			}
			return d
		}
		return "initial"
	},
	DescribeOperationMetadata: func(info any) string {
		op, ok := info.(*history.Op)
		if !ok || op == nil {
			return ""
		}
		s := fmt.Sprintf("op %d %s replica %d status %d", op.ID, op.Endpoint, op.Replica, op.Status)
		if op.Body != "" {
			s += "\n" + op.Body
		}
		return s
	},
}

// step is the sequential specification.
//   - A write sets the allow-list and keeps the blocked flag; block and
//     unblock set the flag and keep the list.
//   - A grant needs the team unblocked and the item in the list (an empty
//     Ask asks for nothing but access).
//   - A refusal printing a list needs that exact list and the item not in
//     it. The blocked flag is not consulted: a service may check the list
//     before the flag, and the refusal proves which list it read.
//   - A blocked refusal needs the team blocked.
//   - A member add adds its member; a read must see exactly the tracked
//     members added so far (plus any whose unknown-outcome add is still
//     pending, which are then in).
func step(st, in, _ any) (bool, any) {
	m := in.(*mop)
	if st == nil {
		st = m.home.initState()
	}
	switch s := st.(type) {
	case *regState:
		return regStep(s, m)
	case *pstate:
		return pstep(s, m)
	case memState:
		return memStep(s, m)
	}
	return false, st
}

func regStep(s *regState, m *mop) (bool, any) {
	switch m.kind {
	case kList:
		return true, &m.home.states[2*int(m.val)+boolInt(s.blocked)]
	case kBlock:
		if s.blocked {
			return true, s
		}
		return true, s.flip
	case kUnblock:
		if !s.blocked {
			return true, s
		}
		return true, s.flip
	case kAllow:
		return !s.blocked && listHas(s.groups, m.op.Ask), s
	case kDenyList:
		return m.val == s.list && !m.askIn, s
	case kDenyBlocked:
		return s.blocked, s
	}
	return false, s
}

// memStep: an acknowledged add adds its member; an unknown-outcome add
// arrives as pending (it may take effect at any later time, or never);
// a read must see every member in and may see pending ones, which are
// then in.
func memStep(s memState, m *mop) (bool, any) {
	i := m.val
	switch m.kind {
	case kAdd:
		arrival := m.unknown && !s.home.noPending
		field := s.bits
		if arrival {
			field = s.pend
		}
		if field[i/8]&(1<<(i%8)) != 0 {
			return true, s
		}
		b := []byte(field)
		b[i/8] |= 1 << (i % 8)
		if arrival {
			s.pend = string(b)
		} else {
			s.bits = string(b)
		}
		return true, s
	case kRead:
		for j := 0; j < len(s.bits); j++ {
			in, pend, obs := s.bits[j], s.pend[j], m.obs[j]
			if obs&in != in || obs&^(in|pend) != 0 {
				return false, s
			}
		}
		if s.bits == m.obs {
			return true, s
		}
		pend := []byte(s.pend)
		for j := range pend {
			pend[j] &^= m.obs[j]
		}
		return true, memState{bits: m.obs, pend: string(pend), home: s.home}
	}
	return false, s
}

// listHas reports whether a sorted list holds item; the empty item asks
// for nothing and is always held.
func listHas(sorted []string, item string) bool {
	if item == "" {
		return true
	}
	for _, g := range sorted { // lists are short: a scan beats a search
		if g == item {
			return true
		}
	}
	return false
}

// modelOps converts a partition's operations into porcupine operations,
// appending to dst. Decisions and member reads get their call moved back
// by shift (the bounded mode). Unknown writes use the pending encoding (an
// arrival at the call) when they fit, else Return = end. With lanes,
// ClientId is a visualisation lane such that operations on one lane never
// overlap.
func modelOps(ops []mop, dst []porcupine.Operation, shift time.Duration, lanes bool) []porcupine.Operation {
	dst = dst[:0]
	if len(ops) == 0 {
		return dst
	}
	b := ops[0].home
	b.pending = false
	if b.p.reg == Permissions && !b.noPending {
		var unk []*mop
		for i := range ops {
			if m := &ops[i]; m.unknown {
				unk = append(unk, m)
			}
		}
		if len(unk) > 0 {
			b.usePending(unk)
		}
	}
	var laneEnd []int64
	for i := range ops {
		m := &ops[i]
		o := porcupine.Operation{Input: m, Call: m.call, Return: m.ret}
		switch {
		case m.unknown && (b.pending || m.kind == kAdd && !b.noPending):
			o.Return = m.call // an arrival
		case m.kind >= kAllow && m.kind <= kDenyBlocked || m.kind == kRead:
			o.Call -= int64(shift)
		}
		if lanes {
			o.Metadata = m.op
			o.ClientId = -1
			for l, end := range laneEnd {
				if end < o.Call {
					o.ClientId, laneEnd[l] = l, o.Return
					break
				}
			}
			if o.ClientId < 0 {
				o.ClientId = len(laneEnd)
				laneEnd = append(laneEnd, o.Return)
			}
		}
		dst = append(dst, o)
	}
	return dst
}

// memState is a state of a member register: which tracked members are
// in, and which have an unknown-outcome add pending. It is a comparable
// value; home only names the bits.
type memState struct {
	bits string
	pend string
	home *built
}

// memberList names the members set in bits, sorted.
func (b *built) memberList(bits string) []string {
	var out []string
	for i, name := range b.names {
		if bits[i/8]&(1<<(i%8)) != 0 {
			out = append(out, name)
		}
	}
	return history.Canon(out)
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// pyList renders a list the way LiteLLM prints it: ['a', 'b'].
func pyList(items []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		if strings.Contains(s, "'") {
			fmt.Fprintf(&b, "%q", s)
		} else {
			b.WriteString("'" + s + "'")
		}
	}
	b.WriteByte(']')
	return b.String()
}

func describeRegState(s *regState) string {
	d := pyList(s.groups)
	if s.blocked {
		d += " blocked"
	}
	return d
}

// describeOp renders one operation for the visualisation.
func describeOp(m *mop) string {
	op := m.op
	suffix := ""
	if m.unknown {
		suffix = " → unknown outcome"
	}
	switch m.kind {
	case kList:
		return "write " + pyList(op.Groups) + suffix
	case kBlock:
		return "block" + suffix
	case kUnblock:
		return "unblock" + suffix
	case kAllow:
		return fmt.Sprintf("decide %s → allowed", askText(op.Ask))
	case kDenyList:
		return fmt.Sprintf("decide %s → denied, team allows %s", askText(op.Ask), pyList(op.Observed))
	case kDenyBlocked:
		return fmt.Sprintf("decide %s → denied: team blocked", askText(op.Ask))
	case kAdd:
		return "add member " + op.Member + suffix
	case kRead:
		return "read members → " + pyList(history.Canon(op.Members))
	}
	return string(op.Kind)
}

func askText(ask string) string {
	if ask == "" {
		return "(access)"
	}
	return "'" + ask + "'"
}
