package run

import (
	"cmp"
	"slices"

	"github.com/keyrace/keyrace/scenarios/history"
)

// quantile returns the nearest-rank q-quantile of sorted (not empty).
func quantile(sorted []int64, q float64) int64 {
	i := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// latencyGroup collects the latencies of one group of operations.
type latencyGroup struct {
	lat    []int64
	count  int
	errors int
}

func (g *latencyGroup) add(op *history.Op) {
	g.count++
	switch op.Outcome {
	case history.Failed, history.Unknown, history.Rejected:
		// As the race's live line counts them: no usable answer.
		g.errors++
	}
	if returned(op) {
		g.lat = append(g.lat, op.Return-op.Call)
	}
}

func (g *latencyGroup) row() Latency {
	l := Latency{Count: g.count, Errors: g.errors}
	if len(g.lat) == 0 {
		return l
	}
	slices.Sort(g.lat)
	l.P50Ms = nsMs(quantile(g.lat, 0.50))
	l.P90Ms = nsMs(quantile(g.lat, 0.90))
	l.P99Ms = nsMs(quantile(g.lat, 0.99))
	l.MaxMs = nsMs(g.lat[len(g.lat)-1])
	return l
}

// latencies computes the latency report of a history: overall, per
// endpoint (sorted by name) and per replica (by index).
func latencies(h history.History) LatencyReport {
	var all latencyGroup
	byEP := map[string]*latencyGroup{}
	byRep := map[int]*latencyGroup{}
	for i := range h.Ops {
		op := &h.Ops[i]
		all.add(op)
		g := byEP[op.Endpoint]
		if g == nil {
			g = &latencyGroup{}
			byEP[op.Endpoint] = g
		}
		g.add(op)
		r := byRep[op.Replica]
		if r == nil {
			r = &latencyGroup{}
			byRep[op.Replica] = r
		}
		r.add(op)
	}
	rep := LatencyReport{Overall: all.row(), ByEndpoint: []Latency{}, ByReplica: []Latency{}}
	for _, ep := range sortedKeys(byEP) {
		row := byEP[ep].row()
		row.Endpoint = ep
		rep.ByEndpoint = append(rep.ByEndpoint, row)
	}
	for _, r := range sortedKeys(byRep) {
		row := byRep[r].row()
		row.Replica = &r
		row.URL = replicaURL(h, r)
		rep.ByReplica = append(rep.ByReplica, row)
	}
	return rep
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
