package scenarios

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// Engine limits.
const (
	// maxBody is how much of a response body is read (vegeta.MaxBody and
	// flow decisions alike): enough for a /team/info with thousands of
	// members, small enough that in-flight bodies stay bounded.
	maxBody = 256 << 10
	// maxWorkers bounds each attack's Vegeta workers. Vegeta stays
	// coordinated-omission safe below it; at loopback latencies a few
	// dozen workers carry 2,000 requests/s.
	maxWorkers = 512
)

// errStopped ends a targeter that waits for a team when the attack is
// over; Vegeta then stops the attack, and the result (which has no URL) is
// not recorded.
var errStopped = errors.New("attack over")

// team is one team of the run and its traffic state.
type team struct {
	id string
	// key is a virtual key of the team, for request-time decisions.
	key string

	mu  sync.Mutex
	gen *teamGen
	// writes and decisions are in flight now; sentW and sentD were sent
	// (they rotate replicas and decision kinds).
	writes, decisions int
	sentW, sentD      int
}

// engine is one run.
type engine struct {
	st      *settings
	hc      *http.Client
	admin   []*client.Client // setup and cleanup, one per replica
	teams   []*team
	initial map[string][]string

	pickMu sync.Mutex
	picker *rand.Rand

	base     time.Time
	deadline time.Time // when the attacks end; blocked targeters give up then
	nextID   atomic.Uint64
	warmNext atomic.Uint64
	flowSeq  atomic.Uint64
	rec      *recorder
	freed    signal
	stop     chan struct{}
	halt     sync.Once
	flows    sync.WaitGroup

	createdMu sync.Mutex
	created   []string
}

// Run drives o.Scenario against o.Targets: it creates the teams (and a key
// per team for request-time decisions), warms every cache, runs the paced
// streams and flows for the duration, records every operation, deletes
// the teams, and checks the history.
//
// Per-request failures are data in the history, not errors. Run returns
// an error without an Outcome when the options are invalid or the setup
// fails (the target is down, refuses the master key, lacks the scenario's
// models); once traffic has started it always returns an Outcome, with
// the context's error if ctx was cancelled (the traffic stops, what was
// recorded is checked) and the Results writer's error if writing failed.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	st, err := resolve(o)
	if err != nil {
		return nil, fmt.Errorf("race: %w", err)
	}
	e := newEngine(st)
	defer e.hc.CloseIdleConnections()
	if err := e.setup(ctx); err != nil {
		cerr := e.cleanup(ctx)
		return nil, errors.Join(fmt.Errorf("race %s: setup: %w", st.sc.Name, err), cerr)
	}
	e.traffic(ctx)
	elapsed := time.Since(e.base)
	out := e.outcome(elapsed)
	if err := e.cleanup(ctx); err != nil {
		out.CleanupError = err.Error()
	}
	out.Check = check.Check(out.History, check.Options{Consistency: st.mode, Timeout: st.Timeouts.Check})
	if st.Progress != nil {
		st.Progress(Progress{Elapsed: elapsed, Ops: out.Sent, Errors: out.Errors, Rate: out.Throughput,
			Violations: out.Violations(), Checked: out.Sent, Done: true})
	}
	var errs []error
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("race %s: stopped: %w", st.sc.Name, context.Cause(ctx)))
	}
	if e.rec.encErr != nil {
		errs = append(errs, e.rec.encErr)
	}
	return out, errors.Join(errs...)
}

func newEngine(st *settings) *engine {
	tr := &http.Transport{
		// No proxy: traffic goes to the given targets and nowhere else.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: st.Timeouts.HTTP, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	gens, picker := newGenerators(st.sc, st.Seed, st.teams)
	e := &engine{
		st:      st,
		hc:      &http.Client{Timeout: st.Timeouts.HTTP, Transport: tr},
		picker:  picker,
		rec:     newRecorder(st.Results),
		stop:    make(chan struct{}),
		initial: map[string][]string{},
	}
	e.freed.ch = make(chan struct{})
	for i, g := range gens {
		id := fmt.Sprintf("keyrace-%s-t%d", st.RunID, i)
		e.teams = append(e.teams, &team{id: id, gen: g})
		e.initial[id] = history.Canon(st.sc.Initial)
	}
	return e
}

// now is the current time in ns since the base time (monotonic).
func (e *engine) now() int64 { return time.Since(e.base).Nanoseconds() }

// traffic runs the attacks until their duration ends or ctx is done, and
// waits for every request, flows included, to finish.
func (e *engine) traffic(ctx context.Context) {
	sc := e.st.sc
	e.base = time.Now()
	e.deadline = e.base.Add(e.st.duration)
	var atks []*vegeta.Attacker
	var loops sync.WaitGroup
	attack := func(s Stream, p vegeta.Pacer) {
		if p == nil {
			return
		}
		atk := vegeta.NewAttacker(vegeta.Client(e.hc), vegeta.MaxBody(maxBody),
			vegeta.Workers(4), vegeta.MaxWorkers(maxWorkers))
		atks = append(atks, atk)
		p = boundedPacer{p: p, du: e.st.duration, stop: e.stop}
		results := atk.Attack(e.targeter(s), p, e.st.duration, string(s))
		loops.Add(1)
		go func() {
			defer loops.Done()
			// Drain promptly: a worker blocks until its result is taken.
			for r := range results {
				e.handle(r)
			}
		}()
	}
	attack(StreamWrite, e.st.pacer.scaled(sc.WriteShare).vegeta(e.st.teams))
	if sc.WriteShare < 1 {
		attack(StreamDecide, e.st.pacer.scaled(1-sc.WriteShare).vegeta(e.st.teams))
	}
	if sc.WarmRate > 0 {
		attack(StreamWarm, rate(sc.WarmRate))
	}

	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			e.halt.Do(func() { close(e.stop) })
			for _, a := range atks {
				a.Stop()
			}
		case <-done:
		}
	}()
	var prog sync.WaitGroup
	if e.st.Progress != nil {
		prog.Add(1)
		go func() { defer prog.Done(); e.progress(done) }()
	}
	loops.Wait()
	e.flows.Wait()
	close(done)
	prog.Wait()
}

// targeter returns the Vegeta targeter of a stream: each hit takes the
// stream's next operation, waiting while every team is at its limit of
// operations in flight.
func (e *engine) targeter(s Stream) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		p, err := e.next(s)
		if err != nil {
			return err
		}
		e.fill(t, p)
		return nil
	}
}

func (e *engine) next(s Stream) (*pending, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		// Take the channel before looking, so a team freed meanwhile
		// cannot be missed.
		freed := e.freed.wait()
		if p := e.pick(s); p != nil {
			e.rec.start(p)
			return p, nil
		}
		if timer == nil {
			timer = time.NewTimer(time.Until(e.deadline))
		}
		select {
		case <-freed:
		case <-e.stop:
			return nil, errStopped
		case <-timer.C:
			return nil, errStopped
		}
	}
}

// pick takes the next operation of stream s from a team that has room
// for it, or returns nil.
func (e *engine) pick(s Stream) *pending {
	n := len(e.teams)
	if s == StreamWarm {
		// Warm traffic cycles over team × replica × decision kind, so that
		// every cache of every replica is refilled in turn.
		pairs := uint64(n * len(e.st.Targets) * len(e.st.sc.Decisions))
		for range n {
			c := (e.warmNext.Add(1) - 1) % pairs
			t := e.teams[c%uint64(n)]
			replica := int(c/uint64(n)) % len(e.st.Targets)
			kind := e.st.sc.Decisions[int(c/uint64(n*len(e.st.Targets)))%len(e.st.sc.Decisions)]
			if p := e.takeDecision(t, s, replica, kind); p != nil {
				return p
			}
		}
		return nil
	}
	e.pickMu.Lock()
	start := e.picker.IntN(n)
	e.pickMu.Unlock()
	for i := range n {
		t := e.teams[(start+i)%n]
		var p *pending
		if s == StreamWrite {
			p = e.takeWrite(t)
		} else {
			p = e.takeDecision(t, s, -1, "")
		}
		if p != nil {
			return p
		}
	}
	return nil
}

// takeWrite plans t's next write if t has room for one. Ids are taken
// under the team's lock, so a team's operations in id order follow its
// plan.
func (e *engine) takeWrite(t *team) *pending {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.writes >= e.st.sc.WriteConcurrency {
		return nil
	}
	w := t.gen.nextWrite()
	t.writes++
	replica := t.sentW % len(e.st.Targets)
	t.sentW++
	p := &pending{team: t, write: w, op: history.Op{
		ID: e.nextID.Add(1), Team: t.id, Kind: w.Kind, Endpoint: endpointOf(w, "", true),
		Replica: replica, Groups: w.Groups, Stream: string(StreamWrite),
	}}
	if w.Kind == history.MemberAdd {
		p.op.Member = t.id + "-" + w.Item
	}
	p.op.Call = e.now()
	return p
}

// takeDecision plans a decision of t if t has room for one; replica -1
// and kind "" rotate them per team.
func (e *engine) takeDecision(t *team, s Stream, replica int, kind DecisionKind) *pending {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.decisions >= e.st.sc.DecisionConcurrency {
		return nil
	}
	kinds := e.st.sc.Decisions
	if kind == "" {
		kind = kinds[t.sentD%len(kinds)]
		replica = (t.sentD / len(kinds)) % len(e.st.Targets)
	}
	t.sentD++
	t.decisions++
	return e.decisionOp(t, s, replica, kind, t.gen.nextAsk())
}

// decisionOp builds a decision; the caller holds t.mu and counted it.
func (e *engine) decisionOp(t *team, s Stream, replica int, kind DecisionKind, ask string) *pending {
	k := history.Decide
	if kind == DecideReadMembers {
		k, ask = history.ReadMembers, ""
	}
	p := &pending{team: t, decide: kind, op: history.Op{
		ID: e.nextID.Add(1), Team: t.id, Kind: k, Endpoint: endpointOf(Write{}, kind, false),
		Replica: replica, Ask: ask, Stream: string(s),
	}}
	p.op.Call = e.now()
	return p
}

// handle records a Vegeta result.
func (e *engine) handle(r *vegeta.Result) {
	id := opID(r.URL)
	if id == 0 {
		return // a targeter that gave up when the attack ended
	}
	p := e.rec.get(id)
	if p == nil {
		return
	}
	e.complete(p, r)
}

// complete finishes p from its result: it fires the flow decisions of an
// acknowledged write first (they must leave at once), frees the team's
// slot, and records the operation.
func (e *engine) complete(p *pending, r *vegeta.Result) {
	ret := r.Timestamp.Add(r.Latency).Sub(e.base).Nanoseconds()
	transportErr := ""
	if r.Code == 0 {
		transportErr = r.Error
	}
	op := e.result(p, int(r.Code), r.Body, transportErr, ret)
	isWrite := op.Kind != history.Decide && op.Kind != history.ReadMembers
	if isWrite && op.Outcome == history.OK {
		e.fireFlows(p)
	}
	e.release(p.team, isWrite)
	e.rec.finish(op, r)
}

// release frees a slot of t, waking waiting targeters when t was full.
func (e *engine) release(t *team, isWrite bool) {
	t.mu.Lock()
	var full bool
	if isWrite {
		full = t.writes >= e.st.sc.WriteConcurrency
		t.writes--
	} else {
		full = t.decisions >= e.st.sc.DecisionConcurrency
		t.decisions--
	}
	t.mu.Unlock()
	if full {
		e.freed.notify()
	}
}

// signal is a broadcast: wait returns a channel that the next notify
// closes.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) notify() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// outcome assembles the Outcome of the traffic (without the check).
func (e *engine) outcome(elapsed time.Duration) *Outcome {
	e.rec.mu.Lock()
	ops := e.rec.ops
	e.rec.ops = nil
	e.rec.mu.Unlock()
	slices.SortFunc(ops, func(a, b history.Op) int {
		return cmp.Or(cmp.Compare(a.Call, b.Call), cmp.Compare(a.ID, b.ID))
	})
	hdr := history.Header{
		Format: history.FormatV1, Scenario: e.st.sc.Name, Seed: e.st.Seed, Target: slices.Clone(e.st.Targets),
		Initial: e.initial, Consistency: e.st.mode.String(),
	}
	out := &Outcome{
		Header: hdr, History: history.History{Header: hdr, Ops: ops}, Scenario: e.st.sc,
		RunID: e.st.RunID, Started: e.base, Elapsed: elapsed, Duration: e.st.duration,
		Pacer: e.st.pacer.String(), Sent: len(ops),
		Outcomes: map[history.Outcome]int{}, Streams: map[Stream]int{},
	}
	if e.st.pacer.Type != PacerTTLSweep {
		out.Rate = e.st.pacer.Rate
	}
	for _, t := range e.teams {
		out.Teams = append(out.Teams, t.id)
	}
	for i := range ops {
		out.Outcomes[ops[i].Outcome]++
		out.Streams[Stream(ops[i].Stream)]++
		switch ops[i].Outcome {
		case history.Failed, history.Unknown, history.Rejected:
			out.Errors++
		}
	}
	if elapsed > 0 {
		out.Throughput = float64(len(ops)) / elapsed.Seconds()
	}
	return out
}
