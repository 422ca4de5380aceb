package check

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// Unknown-outcome writes, modelled without guessing.
//
// The textbook encoding (libraries.md §4.3) gives an unknown write
// Return = end of history, so porcupine may linearise it anywhere after its
// call. Porcupine's search then guesses where: it applies the write as
// soon as it can, and a wrong guess is refuted only when some decision
// cannot be placed — in bounded mode up to a whole bound later — after an
// exponential detour. The pending encoding removes the guess: an unknown
// write becomes an "arrival" at its call (a zero-width operation), after
// which it sits in a pending set that every later step may apply, once,
// or never. A porcupine state is then the set of concrete states
// (allow-list, blocked flag, pending writes) the register may be in.
//
// Both encodings accept exactly the same histories (TestPendingModelAgrees
// checks them against each other). Two facts keep the sets small:
//   - A state with more pending writes dominates one with fewer and the
//     same list and flag (it may leave them unapplied forever), so only
//     maximal pending sets are kept.
//   - Applying several pending writes before a step gives the same list
//     and flag as applying only the last list write and the last
//     block/unblock among them, with more left pending; so the closure
//     before a step applies at most one of each.

// maxPending is how many unknown writes one partition may hold for the
// pending encoding (a bitmask); beyond it Return = end is used.
const maxPending = 64

// conc is one concrete state: allow-list id, blocked flag, and the
// pending unknown writes (bits into built.pendOps).
type conc struct {
	list    int32
	blocked bool
	pend    uint64
}

// pstate is an interned, canonical set of concrete states.
type pstate struct {
	cs   []conc
	hash uint64
	home *built
}

// usePending switches a partition to the pending encoding for the given
// unknown writes, giving them bits; it reports false (and leaves the
// partition on Return = end) if they do not fit.
func (b *built) usePending(unk []*mop) bool {
	if len(unk) > maxPending {
		return false
	}
	b.pendOps = b.pendOps[:0]
	for i, m := range unk {
		m.bit = int8(i)
		b.pendOps = append(b.pendOps, m)
	}
	b.pintern = map[string]*pstate{}
	b.pinit = b.internP([]conc{{list: 0, blocked: b.initBlocked}})
	b.pending = true
	return true
}

// internP canonicalises cs (sorted, deduplicated, dominated states
// removed) and returns its interned set.
func (b *built) internP(cs []conc) *pstate {
	slices.SortFunc(cs, func(x, y conc) int {
		switch {
		case x.list != y.list:
			return int(x.list - y.list)
		case x.blocked != y.blocked:
			return boolInt(x.blocked) - boolInt(y.blocked)
		case x.pend != y.pend:
			if x.pend < y.pend {
				return -1
			}
			return 1
		}
		return 0
	})
	cs = slices.Compact(cs)
	out := cs[:0]
	for i, c := range cs {
		dominated := false
		for j, d := range cs {
			if j != i && d.list == c.list && d.blocked == c.blocked && d.pend != c.pend && d.pend&c.pend == c.pend {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, c)
		}
	}
	key := b.pkey[:0]
	for _, c := range out {
		key = binary.LittleEndian.AppendUint32(key, uint32(c.list))
		key = append(key, byte(boolInt(c.blocked)))
		key = binary.LittleEndian.AppendUint64(key, c.pend)
	}
	b.pkey = key
	if s, ok := b.pintern[string(key)]; ok {
		return s
	}
	s := &pstate{cs: slices.Clone(out), hash: hashString(string(key)), home: b}
	b.pintern[string(key)] = s
	return s
}

// pstep is the step of the pending encoding.
func pstep(s *pstate, m *mop) (bool, any) {
	b := s.home
	buf := b.pbuf[:0]
	if m.unknown { // arrival: the write becomes pending
		for _, c := range s.cs {
			c.pend |= 1 << uint(m.bit)
			buf = append(buf, c)
		}
		b.pbuf = buf
		return true, b.internP(buf)
	}
	try := func(c conc) {
		if concStep(b, &c, m) {
			buf = append(buf, c)
		}
	}
	for _, c := range s.cs {
		// Closure: apply nothing, or one pending list write, and/or one
		// pending block/unblock, then the operation.
		try(c)
		for p := c.pend; p != 0; p &= p - 1 {
			if i := bits.TrailingZeros64(p); b.pendOps[i].kind == kList {
				try(conc{list: b.pendOps[i].val, blocked: c.blocked, pend: c.pend &^ (1 << i)})
			}
		}
		for p := c.pend; p != 0; p &= p - 1 {
			i := bits.TrailingZeros64(p)
			u := b.pendOps[i]
			if u.kind == kList {
				continue
			}
			cb := conc{list: c.list, blocked: u.kind == kBlock, pend: c.pend &^ (1 << i)}
			try(cb)
			for q := cb.pend; q != 0; q &= q - 1 {
				if j := bits.TrailingZeros64(q); b.pendOps[j].kind == kList {
					try(conc{list: b.pendOps[j].val, blocked: cb.blocked, pend: cb.pend &^ (1 << j)})
				}
			}
		}
	}
	b.pbuf = buf
	if len(buf) == 0 {
		return false, s
	}
	return true, b.internP(buf)
}

// concStep applies an operation to one concrete state, reporting whether
// it is legal there.
func concStep(b *built, c *conc, m *mop) bool {
	switch m.kind {
	case kList:
		c.list = m.val
	case kBlock:
		c.blocked = true
	case kUnblock:
		c.blocked = false
	case kAllow:
		return !c.blocked && listHas(b.lists[c.list], m.op.Ask)
	case kDenyList:
		return m.val == c.list && !m.askIn
	case kDenyBlocked:
		return c.blocked
	}
	return true
}

func describePState(s *pstate) string {
	var alts []string
	for _, c := range s.cs {
		d := pyList(s.home.lists[c.list])
		if c.blocked {
			d += " blocked"
		}
		if n := bits.OnesCount64(c.pend); n > 0 {
			d += fmt.Sprintf(" (+%d pending)", n)
		}
		alts = append(alts, d)
	}
	return strings.Join(alts, " | ")
}
