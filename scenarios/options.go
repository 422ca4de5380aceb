package scenarios

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// Hard limits of a run unless Options.Unsafe is set: keyrace is a test
// harness, not a load-testing service, and must not flood a target by a
// typo.
const (
	// MaxRate bounds the planned peak request rate of all streams
	// together (writes, decisions, flows, warm), in requests/s.
	MaxRate = 2000
	// MaxDuration bounds the attack duration.
	MaxDuration = 5 * time.Minute
	// MaxTeams bounds the number of teams a run creates.
	MaxTeams = 10000
)

// Timeouts are every duration a run waits for, in one place.
type Timeouts struct {
	// HTTP bounds one traffic request, body included (default 5s). A
	// write that runs out of it has an unknown outcome, a decision fails.
	HTTP time.Duration
	// Setup bounds each setup and cleanup request: creating and deleting
	// teams and keys, the warm pass (default 10s).
	Setup time.Duration
	// Check is porcupine's time budget for the final check (default
	// check.DefaultTimeout); teams it cannot finish are unknown, never ok.
	Check time.Duration
}

// Default timeouts.
const (
	DefaultHTTPTimeout  = 5 * time.Second
	DefaultSetupTimeout = 10 * time.Second
)

// Options configure Run.
type Options struct {
	// Scenario is what to run (required; Load or LoadFile it, or build one
	// and Validate it).
	Scenario *Scenario
	// Targets are the base URLs of the target's replicas; the replica
	// index of an operation is its position here. Traffic goes only to
	// these URLs: there is no discovery.
	Targets []string
	// MasterKey authenticates as proxy admin (required).
	MasterKey string
	// Rate overrides the pacer's base rate in requests/s (the constant
	// rate, the linear start, the sine mean), scaling slope and amplitude
	// with it; 0 keeps the scenario's. Not for ttl-sweep.
	Rate float64
	// Duration overrides the scenario's attack duration; 0 keeps it.
	Duration time.Duration
	// Teams overrides the scenario's number of teams; 0 keeps it.
	Teams int
	// Seed seeds every random choice of the run; 0 picks one at random.
	// It is recorded in the history header: the same seed replays the
	// same per-team operations.
	Seed int64
	// RunID makes the run's team ids unique (keyrace-<run>-t<N>); ""
	// picks a random one.
	RunID string
	// Consistency is the mode the history is checked with: "strict"
	// (default) or "bounded:<duration>".
	Consistency string
	// Results, when set, receives every request's vegeta.Result (gob, as
	// `vegeta attack` writes it; `vegeta report` and `vegeta plot` read
	// it), flow decisions included. Successful results carry no body and
	// no headers, to keep the file small. Written from several goroutines
	// under one lock; it need not be safe for concurrent use.
	Results io.Writer
	// Progress, when set, is called about once a second during the
	// attack, and once at its end.
	Progress func(Progress)
	// Timeouts bound the waits of the run.
	Timeouts Timeouts
	// Unsafe lifts MaxRate and MaxDuration.
	Unsafe bool
}

// Progress is a live view of a running attack.
type Progress struct {
	// Elapsed is the scenario time since the traffic started.
	Elapsed time.Duration
	// Ops is the number of operations finished so far; InFlight those sent
	// and not finished.
	Ops      int
	InFlight int
	// Rate is the number of operations finished per second over the last
	// interval.
	Rate float64
	// Errors counts failed decisions, unknown-outcome and rejected writes.
	Errors int
	// Violations is the number found by the last snapshot check, which
	// covered the first Checked operations (see progress.go for when
	// snapshots are checked).
	Violations int
	Checked    int
	// Done is true for the last call, after the traffic ended.
	Done bool
}

// Stream says which traffic stream sent an operation; it lands in the
// history as history.Op.Stream.
type Stream string

// Streams.
const (
	// StreamWrite is the paced writes.
	StreamWrite Stream = "write"
	// StreamDecide is the paced independent decisions.
	StreamDecide Stream = "decide"
	// StreamWarm is the warm traffic cycling over teams and replicas.
	StreamWarm Stream = "warm"
	// StreamFlow is decisions fired when a write was acknowledged.
	StreamFlow Stream = "flow"
)

// Outcome is what Run returns: the recorded history, its check, and the
// facts of the run a report needs.
type Outcome struct {
	// Header is History.Header: scenario, seed, targets, every team's
	// initial list, consistency mode.
	Header history.Header
	// History is every operation of the traffic, sorted by call time.
	History history.History
	// Check is check.Check of History under the run's consistency mode.
	Check check.Result
	// Scenario is the scenario that ran, with the overrides applied.
	Scenario *Scenario
	// RunID is the run's id; Teams the team ids, by team index.
	RunID string
	Teams []string
	// Started is the wall-clock time of the history's base time (op
	// time 0), when the traffic started; Elapsed the time from then until
	// the last operation finished.
	Started time.Time
	Elapsed time.Duration
	// Duration is the attack duration asked for; Rate the pacer's base
	// rate in requests/s (0 for ttl-sweep); Pacer describes the pacer.
	Duration time.Duration
	Rate     float64
	Pacer    string
	// Sent is the number of operations sent (len(History.Ops)); Errors
	// counts failed decisions, unknown-outcome and rejected writes.
	Sent   int
	Errors int
	// Outcomes counts operations by outcome; Streams by stream.
	Outcomes map[history.Outcome]int
	Streams  map[Stream]int
	// Throughput is Sent per second of Elapsed.
	Throughput float64
	// CleanupError is why deleting the run's teams failed ("" if it did
	// not); the verdict stands either way.
	CleanupError string
}

// Violations is the number of violations the check found.
func (o *Outcome) Violations() int {
	n := 0
	for _, c := range o.Check.Counts {
		n += c
	}
	return n
}

// settings are Options resolved: defaults filled in, overrides applied,
// limits checked.
type settings struct {
	Options
	sc       *Scenario
	mode     check.Mode
	duration time.Duration
	teams    int
	pacer    PacerSpec // with the Rate override applied
}

func resolve(o Options) (*settings, error) {
	if o.Scenario == nil {
		return nil, errors.New("no scenario")
	}
	sc := *o.Scenario
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	st := &settings{Options: o, sc: &sc, duration: sc.Duration.Std(), teams: sc.Teams, pacer: sc.Pacer}
	if len(o.Targets) == 0 {
		return nil, errors.New("no target: give the base URLs of the target's replicas")
	}
	for _, t := range o.Targets {
		u, err := url.Parse(strings.TrimSpace(t))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("target %q: want an http(s)://host:port URL", t)
		}
	}
	if o.MasterKey == "" {
		return nil, errors.New("no master key")
	}
	var err error
	if st.mode, err = check.ParseMode(o.Consistency); err != nil {
		return nil, err
	}
	if o.Duration < 0 || o.Teams < 0 || o.Rate < 0 {
		return nil, errors.New("rate, duration and teams overrides must not be negative")
	}
	if o.Duration > 0 {
		st.duration = o.Duration
		sc.Duration = Duration(o.Duration)
	}
	if o.Teams > 0 {
		st.teams = o.Teams
		sc.Teams = o.Teams
	}
	if o.Rate > 0 {
		if sc.Pacer.Type == PacerTTLSweep {
			return nil, fmt.Errorf("scenario %s: its writes follow the TTL sweep; a rate override does not apply", sc.Name)
		}
		st.pacer = sc.Pacer.scaled(o.Rate / sc.Pacer.Rate)
		sc.Pacer = st.pacer
	}
	if err := sc.Validate(); err != nil { // the overrides must still make sense
		return nil, err
	}
	if st.teams > MaxTeams {
		return nil, fmt.Errorf("teams %d: at most %d", st.teams, MaxTeams)
	}
	if !o.Unsafe {
		if st.duration > MaxDuration {
			return nil, fmt.Errorf("duration %v: at most %v (Unsafe lifts the limit)", st.duration, MaxDuration)
		}
		if r := st.peakRate(); r > MaxRate {
			return nil, fmt.Errorf("scenario %s would peak at %.0f requests/s (paced %.0f, flows, warm %.0f): at most %d (Unsafe lifts the limit)",
				sc.Name, r, st.pacer.peak(st.duration, st.teams), sc.WarmRate, MaxRate)
		}
	}
	if st.Timeouts.HTTP <= 0 {
		st.Timeouts.HTTP = DefaultHTTPTimeout
	}
	if st.Timeouts.Setup <= 0 {
		st.Timeouts.Setup = DefaultSetupTimeout
	}
	if st.Timeouts.Check <= 0 {
		st.Timeouts.Check = check.DefaultTimeout
	}
	if st.Seed == 0 {
		st.Seed = randomSeed()
	}
	if st.RunID == "" {
		st.RunID = randomRunID()
	}
	return st, nil
}

// peakRate is the planned peak of all streams together: the paced writes
// and decisions, the flow decisions each write fires, and warm traffic.
func (st *settings) peakRate() float64 {
	paced := st.pacer.peak(st.duration, st.teams)
	return paced*(1+st.sc.WriteShare*float64(st.sc.FlowDecisions)) + st.sc.WarmRate
}

func randomSeed() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	s := int64(binary.LittleEndian.Uint64(b[:]) >> 1)
	if s == 0 {
		s = 1
	}
	return s
}

func randomRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
