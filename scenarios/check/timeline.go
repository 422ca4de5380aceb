package check

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// tw is one write on a timeline.
type tw struct {
	call, ret int64
	val       int32
	m         *mop
}

// timeline is one component of a register — the allow-list, or the
// blocked flag — as the writes that set it, indexed for the two questions
// the classifier asks about a decision [c, r]:
//
//   - which values are legal: the value of every acknowledged write that
//     returned before c and is not superseded (no other acknowledged write
//     both started after it returned and returned before c), the initial
//     value if no write returned before c, the value of every acknowledged
//     write concurrent with the decision (call <= r, ret >= c), and the
//     value of every unknown-outcome write called by r. This is exactly the
//     set of values some linearization of the writes alone lets the
//     decision see, so a value outside it proves a violation.
//   - when a past value was superseded: the earliest acknowledged write
//     that started after the value's latest source returned.
//
// Intervals are closed, as in porcupine: touching operations are
// concurrent.
type timeline struct {
	init  int32
	nvals int
	// acked are the acknowledged writes by return time (then call).
	acked []tw
	// prefMaxCall[i] is the largest call among acked[:i+1].
	prefMaxCall []int64
	rets        []int64 // acked return times, for searches
	tree        segTree // calls of acked, in acked order
	// unknownFirst[v] is the earliest call of an unknown-outcome write of
	// value v (MaxInt64: none).
	unknownFirst []int64
	unknown      []tw
	// byVal[v] lists the indices into acked of writes of value v; built on
	// first use (only violations need it).
	byVal [][]int32
}

func newTimeline(init int32, nvals int) *timeline {
	return &timeline{init: init, nvals: nvals}
}

func (t *timeline) add(m *mop, val int32) {
	w := tw{call: m.op.Call, ret: m.ret, val: val, m: m}
	if m.unknown {
		t.unknown = append(t.unknown, w)
		return
	}
	t.acked = append(t.acked, w)
}

// finish sorts and indexes the timeline; call it after the last add.
func (t *timeline) finish() {
	slices.SortFunc(t.acked, func(a, b tw) int { return cmp.Or(cmp.Compare(a.ret, b.ret), cmp.Compare(a.call, b.call)) })
	slices.SortFunc(t.unknown, func(a, b tw) int { return cmp.Compare(a.call, b.call) })
	t.prefMaxCall = make([]int64, len(t.acked))
	t.rets = make([]int64, len(t.acked))
	calls := make([]int64, len(t.acked))
	m := int64(math.MinInt64)
	for i, w := range t.acked {
		m = max(m, w.call)
		t.prefMaxCall[i] = m
		t.rets[i] = w.ret
		calls[i] = w.call
	}
	t.tree = newSegTree(calls)
	t.unknownFirst = make([]int64, t.nvals)
	for i := range t.unknownFirst {
		t.unknownFirst[i] = math.MaxInt64
	}
	for _, w := range t.unknown {
		t.unknownFirst[w.val] = min(t.unknownFirst[w.val], w.call)
	}
}

// before returns how many acknowledged writes returned before c.
func (t *timeline) before(c int64) int {
	lo, hi := 0, len(t.rets)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if t.rets[h] < c {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// eachLegal calls fn with the value of every acknowledged write legal for
// a decision [c, r] (and the initial value when legal), until fn returns
// true; it reports whether fn did. Unknown-outcome writes are the
// caller's: see unknownFirst.
func (t *timeline) eachLegal(c, r int64, fn func(val int32, w *tw) bool) bool {
	j := t.before(c)
	if j == 0 {
		if fn(t.init, nil) {
			return true
		}
	} else {
		mc := t.prefMaxCall[j-1]
		lo := sort.Search(j, func(i int) bool { return t.rets[i] >= mc })
		for i := lo; i < j; i++ {
			if fn(t.acked[i].val, &t.acked[i]) {
				return true
			}
		}
	}
	hit := false
	t.tree.each(j, r, func(i int) bool {
		if fn(t.acked[i].val, &t.acked[i]) {
			hit = true
			return false
		}
		return true
	})
	return hit
}

// ackedLegal reports whether value v is legal for a decision [c, r] by
// the acknowledged writes alone (unknown-outcome writes: unknownFirst).
func (t *timeline) ackedLegal(v int32, c, r int64) bool {
	return t.eachLegal(c, r, func(val int32, _ *tw) bool { return val == v })
}

// legalVals lists the distinct values legal for a decision [c, r],
// ascending (evidence).
func (t *timeline) legalVals(c, r int64) []int32 {
	var out []int32
	t.eachLegal(c, r, func(val int32, _ *tw) bool {
		out = append(out, val)
		return false
	})
	for v, first := range t.unknownFirst {
		if first <= r {
			out = append(out, int32(v))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sources returns the indices into acked of writes of value v, ascending.
func (t *timeline) sources(v int32) []int32 {
	if t.byVal == nil {
		t.byVal = make([][]int32, t.nvals)
		for i, w := range t.acked {
			t.byVal[w.val] = append(t.byVal[w.val], int32(i))
		}
	}
	return t.byVal[v]
}

// superseder finds, for a decision called at c, the latest source (an
// index into acked from src, or the initial value when initMatches) that
// returned before c, and returns the earliest acknowledged write that
// superseded it — the write the decision missed. It returns nil when no
// source returned before c.
func (t *timeline) superseder(c int64, src []int32, initMatches bool) *tw {
	j := t.before(c)
	k := sort.Search(len(src), func(i int) bool { return int(src[i]) >= j })
	if k > 0 {
		s := src[k-1]
		if i := t.tree.first(int(s)+1, j, t.acked[s].ret); i >= 0 {
			return &t.acked[i]
		}
		return nil // not superseded: the caller found the value legal
	}
	if initMatches && j > 0 {
		return &t.acked[0]
	}
	return nil
}

// segTree answers range questions over an int64 array: enumerate the
// indices from lo on whose value is at most a bound, and find the first
// index in a range whose value exceeds a bound. Both in O((k+1) log n).
type segTree struct {
	size   int
	mn, mx []int64
}

func newSegTree(vals []int64) segTree {
	size := 1
	for size < len(vals) {
		size <<= 1
	}
	t := segTree{size: size, mn: make([]int64, 2*size), mx: make([]int64, 2*size)}
	for i := range size {
		t.mn[size+i], t.mx[size+i] = math.MaxInt64, math.MinInt64
		if i < len(vals) {
			t.mn[size+i], t.mx[size+i] = vals[i], vals[i]
		}
	}
	for i := size - 1; i >= 1; i-- {
		t.mn[i] = min(t.mn[2*i], t.mn[2*i+1])
		t.mx[i] = max(t.mx[2*i], t.mx[2*i+1])
	}
	return t
}

// each calls fn, in index order, for every index >= lo whose value is at
// most bound, until fn returns false.
func (t *segTree) each(lo int, bound int64, fn func(int) bool) {
	t.eachRec(1, 0, t.size, lo, bound, fn)
}

func (t *segTree) eachRec(node, nl, nr, lo int, bound int64, fn func(int) bool) bool {
	if nr <= lo || t.mn[node] > bound {
		return true
	}
	if nr-nl == 1 {
		return fn(nl)
	}
	mid := (nl + nr) / 2
	return t.eachRec(2*node, nl, mid, lo, bound, fn) && t.eachRec(2*node+1, mid, nr, lo, bound, fn)
}

// first returns the least index in [lo, hi) whose value exceeds x, or -1.
func (t *segTree) first(lo, hi int, x int64) int {
	return t.firstRec(1, 0, t.size, lo, hi, x)
}

func (t *segTree) firstRec(node, nl, nr, lo, hi int, x int64) int {
	if nr <= lo || nl >= hi || t.mx[node] <= x {
		return -1
	}
	if nr-nl == 1 {
		return nl
	}
	mid := (nl + nr) / 2
	if i := t.firstRec(2*node, nl, mid, lo, hi, x); i >= 0 {
		return i
	}
	return t.firstRec(2*node+1, mid, nr, lo, hi, x)
}
