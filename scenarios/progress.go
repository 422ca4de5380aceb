package scenarios

import (
	"time"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// Progress's "violations so far" comes from check.Check itself, run on a
// snapshot of the history in the background, not from a second, faster
// classifier that could disagree with the final verdict.
//
// A snapshot is the finished operations plus every write still in flight,
// as an unknown-outcome write (it may take effect at any time): without
// them, a decision that already saw a write whose response is still on its
// way would look like a violation. Finished operations are append-only,
// so only their slice header is taken under the lock; the snapshot copies
// them once, outside it (on the progress goroutine, which the engine waits
// for before it touches them again).
//
// Cost (one worker on the 2-core CI machine, BenchmarkSnapshotCheck):
// 15–30 ms for 10^4 operations and 0.15–0.24 s for 10^5, so a 5-minute run
// at the 2,000 requests/s limit (6·10^5) costs about a second per
// snapshot: too much to repeat every second. So the next snapshot starts no sooner
// than snapshotSpacing times the last one's cost after it: checking never
// takes more than about a tenth of one core, and on long runs the count is
// a few seconds old instead of the engine falling behind its pacer.
const (
	snapshotSpacing = 9
	// snapshotTimeout bounds porcupine on a snapshot; teams it cannot
	// finish count no violation in progress (the final check decides).
	snapshotTimeout = 2 * time.Second
)

// progress calls Options.Progress every second until done is closed.
func (e *engine) progress(done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	type snap struct {
		violations, checked int
		cost                time.Duration
	}
	results := make(chan snap, 1)
	var last snap
	running := false
	next := time.Now()
	prevOps, prevAt := 0, time.Now()
	for {
		select {
		case <-done:
			return
		case s := <-results:
			last, running = s, false
			next = time.Now().Add(max(time.Second, snapshotSpacing*s.cost))
			continue
		case <-tick.C:
		}
		now := time.Now()
		e.rec.mu.Lock()
		ops := len(e.rec.ops)
		inflight := len(e.rec.pending)
		errs := e.rec.errors
		e.rec.mu.Unlock()
		if !running && !now.Before(next) {
			running = true
			// The copy is made here, not in the checking goroutine: the
			// engine waits for this loop, not for that goroutine, before
			// it sorts the finished operations in place.
			t0 := time.Now()
			h := e.snapshot()
			go func() {
				res := check.Check(h, check.Options{Consistency: e.st.mode, Timeout: snapshotTimeout, Workers: 1, MaxViolations: 1})
				n := 0
				for _, c := range res.Counts {
					n += c
				}
				results <- snap{violations: n, checked: len(h.Ops), cost: time.Since(t0)}
			}()
		}
		p := Progress{Elapsed: now.Sub(e.base), Ops: ops, InFlight: inflight, Errors: errs,
			Violations: last.violations, Checked: last.checked}
		if dt := now.Sub(prevAt).Seconds(); dt > 0 {
			p.Rate = float64(ops-prevOps) / dt
		}
		prevOps, prevAt = ops, now
		e.st.Progress(p)
	}
}

// snapshot returns the history so far: finished operations and writes in
// flight as unknown-outcome writes.
func (e *engine) snapshot() history.History {
	e.rec.mu.Lock()
	done := e.rec.ops[:len(e.rec.ops):len(e.rec.ops)]
	var flying []history.Op
	for _, p := range e.rec.pending {
		if p.op.Kind != history.Decide && p.op.Kind != history.ReadMembers {
			op := p.op
			op.Outcome, op.Return = history.Unknown, -1
			flying = append(flying, op)
		}
	}
	e.rec.mu.Unlock()
	ops := make([]history.Op, 0, len(done)+len(flying))
	ops = append(append(ops, done...), flying...)
	return history.History{
		Header: history.Header{Format: history.FormatV1, Scenario: e.st.sc.Name, Seed: e.st.Seed,
			Initial: e.initial, Consistency: e.st.mode.String()},
		Ops: ops,
	}
}
