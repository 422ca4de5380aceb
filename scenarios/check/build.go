package check

import (
	"slices"

	"github.com/anishathalye/porcupine"

	"github.com/keyrace/keyrace/scenarios/history"
)

// opKind is an operation as the model sees it.
type opKind uint8

const (
	kList        opKind = iota // write of the allow-list
	kBlock                     // block the team
	kUnblock                   // unblock the team
	kAllow                     // decision granted
	kDenyList                  // decision refused, printing an allow-list
	kDenyBlocked               // decision refused because the team is blocked
	kAdd                       // member add
	kRead                      // member read
)

// mop is one operation of a partition as the model and the classifier see
// it. The porcupine Input is a *mop: a pointer, so boxing it costs nothing.
type mop struct {
	op   *history.Op
	home *built
	// call and ret are the recorded times; ret of an unknown-outcome write
	// is input.end.
	call, ret int64
	// val is the list id of a kList write and of a kDenyList's printed
	// list (-1: a list no write ever set); the member's bit for a kAdd.
	val     int32
	kind    opKind
	unknown bool
	// askIn marks a kDenyList whose printed list contains the refused item.
	askIn bool
	// bit is an unknown write's bit in the pending encoding.
	bit int8
	// obs is a kRead's tracked members as a bitset string.
	obs string
}

// regState is a state of a permission register. States are interned per
// partition (one per allow-list × blocked flag), so pointer equality is
// state equality and porcupine's default == works without boxing costs.
type regState struct {
	list    int32
	blocked bool
	groups  []string
	flip    *regState // same list, other blocked flag
	hash    uint64
}

// built is a partition ready for checking: its interned states and members.
type built struct {
	p *part
	// lists are the interned allow-lists; 0 is the initial list.
	lists  [][]string
	states []regState // 2*list + blocked
	// init is the partition's initial porcupine state.
	init any
	// initBlocked is the team's initial blocked flag.
	initBlocked bool
	// members maps a tracked member (one some add added) to its bit;
	// names lists them by bit.
	members map[string]int32
	names   []string
	// The pending encoding of unknown writes (see pending.go): whether it
	// is in use, its initial state, the writes by bit, interned states and
	// scratch.
	pending bool
	// noPending forces Return = end for every unknown write (tests).
	noPending bool
	pinit     *pstate
	pendOps   []*mop
	pintern   map[string]*pstate
	pkey      []byte
	pbuf      []conc
}

// initState is the partition's initial porcupine state.
func (b *built) initState() any {
	if b.pending {
		return b.pinit
	}
	return b.init
}

// scratch is per-worker reusable memory.
type scratch struct {
	key  []byte
	keys map[string]int32
	ops  []mop
	pops []porcupine.Operation
}

// build turns a partition into model operations, interning allow-lists
// and members. The operations live in sc until the next build.
func build(in *input, p *part, sc *scratch) []mop {
	b := &built{p: p}
	if cap(sc.ops) < len(p.ops) {
		sc.ops = make([]mop, len(p.ops))
	}
	ops := sc.ops[:len(p.ops)]
	clear(ops)
	for i, op := range p.ops {
		m := &ops[i]
		m.op, m.home, m.call, m.ret = op, b, op.Call, op.Return
		_, unknown, _ := classifyOutcome(op)
		if unknown {
			m.unknown, m.ret = true, in.end
		}
	}
	if p.reg == Members {
		buildMembers(b, ops)
		return ops
	}
	if sc.keys == nil {
		sc.keys = map[string]int32{}
	}
	clear(sc.keys)
	intern := func(items []string, add bool) int32 {
		sc.key = appendKey(sc.key[:0], items)
		if id, ok := sc.keys[string(sc.key)]; ok {
			return id
		}
		if !add {
			return -1
		}
		id := int32(len(b.lists))
		sc.keys[string(sc.key)] = id
		b.lists = append(b.lists, history.Canon(items))
		return id
	}
	intern(in.initial[p.team], true)
	b.initBlocked = in.initialBlocked[p.team]
	for i := range ops {
		m := &ops[i]
		switch m.op.Kind {
		case history.Write:
			m.kind, m.val = kList, intern(m.op.Groups, true)
		case history.Block:
			m.kind = kBlock
		case history.Unblock:
			m.kind = kUnblock
		}
	}
	for i := range ops {
		m := &ops[i]
		if m.op.Kind != history.Decide {
			continue
		}
		switch {
		case m.op.Outcome == history.Allowed:
			m.kind = kAllow
		case m.op.Blocked:
			m.kind = kDenyBlocked
		default:
			m.kind, m.val = kDenyList, intern(m.op.Observed, false)
			m.askIn = m.op.Ask != "" && slices.Contains(m.op.Observed, m.op.Ask)
		}
	}
	b.states = make([]regState, 2*len(b.lists))
	for id, l := range b.lists {
		for bl := 0; bl < 2; bl++ {
			s := &b.states[2*id+bl]
			s.list, s.blocked, s.groups = int32(id), bl == 1, l
			s.flip = &b.states[2*id+1-bl]
			s.hash = mix64(uint64(2*id + bl + 1))
		}
	}
	b.init = &b.states[boolInt(b.initBlocked)]
	return ops
}

// buildMembers tracks the members some add in the partition added; a read
// is compared on those only (members present before the run are not in the
// history and are ignored).
func buildMembers(b *built, ops []mop) {
	b.members = map[string]int32{}
	for i := range ops {
		m := &ops[i]
		if m.op.Kind != history.MemberAdd {
			continue
		}
		m.kind = kAdd
		id, ok := b.members[m.op.Member]
		if !ok {
			id = int32(len(b.names))
			b.members[m.op.Member] = id
			b.names = append(b.names, m.op.Member)
		}
		m.val = id
	}
	nbytes := (len(b.names) + 7) / 8
	empty := string(make([]byte, nbytes))
	b.init = memState{bits: empty, pend: empty, home: b}
	buf := make([]byte, nbytes)
	for i := range ops {
		m := &ops[i]
		if m.op.Kind != history.ReadMembers {
			continue
		}
		m.kind = kRead
		clear(buf)
		for _, name := range m.op.Members {
			if id, ok := b.members[name]; ok {
				buf[id/8] |= 1 << (id % 8)
			}
		}
		m.obs = string(buf)
	}
}

// appendKey appends the canonical key of a list (history.Key's form)
// without allocating when the list is already sorted and de-duplicated.
func appendKey(dst []byte, items []string) []byte {
	if !slices.IsSorted(items) || hasDup(items) {
		items = history.Canon(items)
	}
	for i, s := range items {
		if i > 0 {
			dst = append(dst, 0x1f)
		}
		dst = append(dst, s...)
	}
	return dst
}

func hasDup(sorted []string) bool {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return true
		}
	}
	return false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mix64 is the SplitMix64 finaliser: a cheap, well-spread state hash.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
