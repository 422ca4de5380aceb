// Package scenarios is keyrace's race engine: Vegeta-paced traffic over many
// teams of a LiteLLM-compatible proxy, every request recorded as an
// operation of a history (package history) and the history checked per
// team (package check).
//
// A scenario is data: a YAML file under defs/ (embedded, listed by List,
// read by Load) or any file a user writes (LoadFile). It names the writes
// (team access groups, team models, block/unblock, member adds), the
// decisions that must see them (/key/generate validation, /v1/models, a
// mock_response chat call, a member read), a shape (flows or independent
// streams), a Vegeta pacer, and warm traffic that keeps every cache of
// every replica hot. Run drives one scenario against a target and returns
// its Outcome: the header, the history and the check result.
//
// Every random choice comes from one PCG seeded with the run's seed, split
// into one stream per team, so the same seed replays the same per-team
// operations whatever the timing (NewPlan shows them without running).
package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Shape is how a scenario's decisions relate to its writes.
type Shape string

// Shapes.
const (
	// ShapeFlows fires decisions the moment each write is acknowledged,
	// asking for exactly what the write granted or revoked, on another
	// replica when there is one (the seed bug's sequence, at rate).
	ShapeFlows Shape = "flows"
	// ShapeIndependent runs writes and decisions as independent paced
	// streams, plus warm traffic.
	ShapeIndependent Shape = "independent"
)

// WriteKind is what a scenario's writes change.
type WriteKind string

// Write kinds.
const (
	// WriteAccessGroups sets the team's object_permission.mcp_access_groups
	// with POST /team/update (the seed bug's register).
	WriteAccessGroups WriteKind = "access-groups"
	// WriteModels sets the team's models with POST /team/update.
	WriteModels WriteKind = "models"
	// WriteBlock alternates POST /team/block and /team/unblock.
	WriteBlock WriteKind = "block"
	// WriteMemberAdd adds a new member with POST /team/member_add.
	WriteMemberAdd WriteKind = "member-add"
)

// DecisionKind is a request whose answer shows which state of the team the
// proxy decided on.
type DecisionKind string

// Decision kinds.
const (
	// DecideKeyGenerate is POST /key/generate (master key) asking for
	// object_permission.mcp_access_groups [Ask]; a refusal prints the
	// team's allow-list.
	DecideKeyGenerate DecisionKind = "key-generate"
	// DecideModels is GET /v1/models with a key of the team; Ask is allowed
	// when listed, and a listing without it shows the team's models.
	DecideModels DecisionKind = "models"
	// DecideMockChat is POST /v1/chat/completions with mock_response and a
	// key of the team, for model Ask: served, refused with the team's
	// models, or refused because the team is blocked.
	DecideMockChat DecisionKind = "mock-chat"
	// DecideReadMembers is GET /team/info (master key): the members seen.
	DecideReadMembers DecisionKind = "read-members"
)

// Pattern is how successive writes change a team's list.
type Pattern string

// Patterns of list writes.
const (
	// PatternToggle adds or removes one random item of the universe per
	// write (never emptying a models list, which would mean "all models").
	PatternToggle Pattern = "toggle"
	// PatternAlternate revokes one item of the initial list, grants it
	// back, revokes it again, and so on: the flap that exposes stale allows.
	PatternAlternate Pattern = "alternate"
)

// PacerType names a Vegeta pacer.
type PacerType string

// Pacer types.
const (
	// PacerConstant is vegeta.ConstantPacer at Rate.
	PacerConstant PacerType = "constant"
	// PacerLinear is vegeta.LinearPacer starting at Rate, changing by Slope
	// requests/s every second.
	PacerLinear PacerType = "linear"
	// PacerSine is vegeta.SinePacer with mean Rate, amplitude Amp and
	// period Period.
	PacerSine PacerType = "sine"
	// PacerTTLSweep times writes around the target's cache TTL: one write
	// per team at k×TTL + Offsets[k mod len], so that writes land just
	// before and just after the moment the entries cached at the start of
	// the run expire. Only for the flows shape with write_share 1.
	PacerTTLSweep PacerType = "ttl-sweep"
)

// Duration is a time.Duration written as a Go duration string ("2s",
// "150ms") in scenario files.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String renders d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string; bare numbers are refused, since
// their unit would be a guess.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string like \"2s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string like \"2s\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// PacerSpec is a scenario's pacer: the rate of the paced streams.
type PacerSpec struct {
	// Type is the pacer (default constant).
	Type PacerType `json:"type"`
	// Rate is the request rate in requests/s of writes and decisions
	// together (write_share of it are writes): the constant rate, the
	// linear pacer's start, the sine pacer's mean. Unused by ttl-sweep.
	Rate float64 `json:"rate,omitempty"`
	// Slope is the linear pacer's change of rate, in requests/s per second.
	Slope float64 `json:"slope,omitempty"`
	// Burst makes the constant pacer send Burst requests back to back
	// every Burst/Rate seconds instead of one every 1/Rate (default 1):
	// a storm of overlapping writes at the same mean rate.
	Burst int `json:"burst,omitempty"`
	// Period and Amp (requests/s, below Rate) shape the sine pacer.
	Period Duration `json:"period,omitempty"`
	Amp    float64  `json:"amp,omitempty"`
	// TTL is the ttl-sweep pacer's cache TTL (default 2s): run the target
	// with the same TTL (keyrace serve --cache-ttl 2s, LiteLLM
	// DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL=2).
	TTL Duration `json:"ttl,omitempty"`
	// Offsets are the ttl-sweep write times relative to each TTL boundary,
	// each strictly between -TTL/2 and TTL/2 (default -200ms, -50ms,
	// -10ms, 10ms, 50ms, 200ms).
	Offsets []Duration `json:"offsets,omitempty"`
}

// Scenario is one race scenario, as read from its YAML file. Load and
// LoadFile return it validated with defaults filled in; a scenario built in
// Go should go through Validate before Run.
type Scenario struct {
	// Name is the scenario's name, the file's stem ("flap").
	Name string `json:"name"`
	// Description says what the scenario provokes, in one sentence.
	Description string `json:"description"`
	// Upstream is the upstream report the scenario reproduces (a URL or
	// "LiteLLM issue 35565"); empty for generic scenarios.
	Upstream string `json:"upstream,omitempty"`
	// Shape is flows or independent.
	Shape Shape `json:"shape"`
	// Pacer paces writes and independent decisions.
	Pacer PacerSpec `json:"pacer"`
	// Duration is the default attack duration.
	Duration Duration `json:"duration"`
	// Teams is the default number of teams.
	Teams int `json:"teams"`
	// WriteShare is the fraction of the paced requests that are writes,
	// in (0, 1]; the rest are independent decisions.
	WriteShare float64 `json:"write_share"`
	// Writes is what writes change.
	Writes WriteKind `json:"writes"`
	// Pattern is how list writes (access-groups, models) change the list
	// (default toggle).
	Pattern Pattern `json:"pattern,omitempty"`
	// Decisions are the decision kinds used, in rotation.
	Decisions []DecisionKind `json:"decisions"`
	// FlowDecisions is how many decisions each acknowledged write fires in
	// the flows shape (spread over Decisions and over the replicas other
	// than the writer's); 0 in the independent shape.
	FlowDecisions int `json:"flow_decisions,omitempty"`
	// WarmRate is the rate, in requests/s, of warm decisions cycling over
	// every team × replica × decision kind, so that every cache holds the
	// current state when a write lands (a cold cache hides the bug).
	WarmRate float64 `json:"warm_rate"`
	// Universe is the set of items list writes draw from and decisions ask
	// for (access groups or model names).
	Universe []string `json:"universe,omitempty"`
	// Initial is every team's list at creation (its access groups, or its
	// models for models, block and member-add teams).
	Initial []string `json:"initial,omitempty"`
	// WriteConcurrency is how many writes one team may have in flight
	// (default 1). Only member-add may exceed 1: overlapping writes to one
	// permission register make the linearizability check exponential.
	WriteConcurrency int `json:"write_concurrency,omitempty"`
	// DecisionConcurrency is how many decisions one team may have in
	// flight, flows excepted (default 6).
	DecisionConcurrency int `json:"decision_concurrency,omitempty"`
	// Finds lists the reference-service faults the scenario is expected
	// to catch (documentation; tests hold it to its word).
	Finds []string `json:"finds,omitempty"`
}

// Defaults filled in by Validate.
const (
	DefaultWriteConcurrency    = 1
	DefaultDecisionConcurrency = 6
	DefaultSweepTTL            = 2 * time.Second
)

// DefaultSweepOffsets are the ttl-sweep offsets when a file gives none.
var DefaultSweepOffsets = []time.Duration{-200 * time.Millisecond, -50 * time.Millisecond,
	-10 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// compatible lists the decision kinds that observe each write kind's
// register.
var compatible = map[WriteKind][]DecisionKind{
	WriteAccessGroups: {DecideKeyGenerate},
	WriteModels:       {DecideModels, DecideMockChat},
	WriteBlock:        {DecideMockChat, DecideModels},
	WriteMemberAdd:    {DecideReadMembers},
}

// Validate fills in defaults and checks the scenario, naming the field of
// every problem ("pacer.rate: must be > 0").
func (s *Scenario) Validate() error {
	s.defaults()
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	if !nameRE.MatchString(s.Name) {
		bad("name", "want lower-case letters, digits and dashes, got %q", s.Name)
	}
	if strings.TrimSpace(s.Description) == "" {
		bad("description", "required")
	}
	switch s.Shape {
	case ShapeFlows:
		if s.FlowDecisions < 1 {
			bad("flow_decisions", "the flows shape needs at least 1, got %d", s.FlowDecisions)
		}
	case ShapeIndependent:
		if s.FlowDecisions != 0 {
			bad("flow_decisions", "only the flows shape fires flow decisions, got %d", s.FlowDecisions)
		}
		if s.WriteShare >= 1 {
			bad("write_share", "the independent shape needs decisions: want < 1, got %v", s.WriteShare)
		}
	default:
		bad("shape", "want %s or %s, got %q", ShapeFlows, ShapeIndependent, s.Shape)
	}
	s.validatePacer(bad)
	if s.Duration <= 0 {
		bad("duration", "must be > 0, got %v", s.Duration)
	}
	if s.Teams < 1 {
		bad("teams", "must be >= 1, got %d", s.Teams)
	}
	if !(s.WriteShare > 0 && s.WriteShare <= 1) {
		bad("write_share", "want a fraction in (0, 1], got %v", s.WriteShare)
	}
	if s.WarmRate < 0 {
		bad("warm_rate", "must be >= 0, got %v", s.WarmRate)
	}
	if s.FlowDecisions < 0 || s.FlowDecisions > 16 {
		bad("flow_decisions", "want 0..16, got %d", s.FlowDecisions)
	}
	if s.DecisionConcurrency < 1 || s.DecisionConcurrency > 16 {
		bad("decision_concurrency", "want 1..16, got %d", s.DecisionConcurrency)
	}
	switch {
	case s.WriteConcurrency < 1 || s.WriteConcurrency > 8:
		bad("write_concurrency", "want 1..8, got %d", s.WriteConcurrency)
	case s.WriteConcurrency > 1 && s.Writes != WriteMemberAdd:
		bad("write_concurrency", "only member-add writes may overlap on one team (the permission check would explode), got %d", s.WriteConcurrency)
	}
	s.validateRegister(bad)
	if len(errs) > 0 {
		return fmt.Errorf("scenario %q: %s", s.Name, strings.Join(errs, "; "))
	}
	return nil
}

func (s *Scenario) defaults() {
	if s.Pacer.Type == "" {
		s.Pacer.Type = PacerConstant
	}
	if s.Pacer.Type == PacerTTLSweep {
		if s.Pacer.TTL == 0 {
			s.Pacer.TTL = Duration(DefaultSweepTTL)
		}
		if len(s.Pacer.Offsets) == 0 {
			for _, o := range DefaultSweepOffsets {
				s.Pacer.Offsets = append(s.Pacer.Offsets, Duration(o))
			}
		}
	}
	if s.WriteConcurrency == 0 {
		s.WriteConcurrency = DefaultWriteConcurrency
	}
	if s.DecisionConcurrency == 0 {
		s.DecisionConcurrency = DefaultDecisionConcurrency
	}
	if s.Pattern == "" && (s.Writes == WriteAccessGroups || s.Writes == WriteModels) {
		s.Pattern = PatternToggle
	}
}

func (s *Scenario) validatePacer(bad func(field, format string, args ...any)) {
	p := s.Pacer
	if p.Type != PacerTTLSweep && p.Rate <= 0 {
		bad("pacer.rate", "must be > 0, got %v", p.Rate)
	}
	switch p.Type {
	case PacerConstant:
	case PacerLinear:
		if end := p.Rate + p.Slope*s.Duration.Std().Seconds(); s.Duration > 0 && end < 1 {
			bad("pacer.slope", "the rate falls to %.3g/s before the duration ends", end)
		}
	case PacerSine:
		if p.Period <= 0 {
			bad("pacer.period", "the sine pacer needs a period > 0")
		}
		if p.Amp < 0 || p.Amp >= p.Rate {
			bad("pacer.amp", "want 0 <= amp < rate, got %v", p.Amp)
		}
	case PacerTTLSweep:
		if p.Rate != 0 {
			bad("pacer.rate", "the ttl-sweep pacer times writes by the TTL; leave rate out")
		}
		if p.TTL <= 0 {
			bad("pacer.ttl", "must be > 0, got %v", p.TTL)
		}
		for i, o := range p.Offsets {
			if 2*o.Std() <= -p.TTL.Std() || 2*o.Std() >= p.TTL.Std() {
				bad(fmt.Sprintf("pacer.offsets[%d]", i), "want strictly between -ttl/2 and ttl/2, got %v", o)
			}
		}
		if s.Shape != ShapeFlows || s.WriteShare != 1 {
			bad("pacer.type", "ttl-sweep needs shape flows and write_share 1")
		}
	default:
		bad("pacer.type", "want constant, linear, sine or ttl-sweep, got %q", p.Type)
	}
	if p.Burst < 0 || p.Burst > 64 {
		bad("pacer.burst", "want 1..64, got %d", p.Burst)
	}
	if p.Type != PacerConstant && p.Burst > 1 {
		bad("pacer.burst", "only the constant pacer sends bursts")
	}
	if p.Type != PacerLinear && p.Slope != 0 {
		bad("pacer.slope", "only the linear pacer has a slope")
	}
	if p.Type != PacerSine && (p.Period != 0 || p.Amp != 0) {
		bad("pacer.period", "only the sine pacer has a period and an amplitude")
	}
	if p.Type != PacerTTLSweep && (p.TTL != 0 || len(p.Offsets) > 0) {
		bad("pacer.ttl", "only the ttl-sweep pacer has a ttl and offsets")
	}
}

func (s *Scenario) validateRegister(bad func(field, format string, args ...any)) {
	kinds, ok := compatible[s.Writes]
	if !ok {
		bad("writes", "want access-groups, models, block or member-add, got %q", s.Writes)
		return
	}
	if len(s.Decisions) == 0 {
		bad("decisions", "need at least one decision kind")
	}
	for i, d := range s.Decisions {
		if !slices.Contains(kinds, d) {
			bad(fmt.Sprintf("decisions[%d]", i), "%q does not observe %s writes (want one of %v)", d, s.Writes, kinds)
		}
	}
	checkItems := func(field string, items []string) {
		seen := map[string]bool{}
		for i, it := range items {
			switch {
			case strings.TrimSpace(it) == "":
				bad(fmt.Sprintf("%s[%d]", field, i), "empty item")
			case seen[it]:
				bad(fmt.Sprintf("%s[%d]", field, i), "duplicate item %q", it)
			}
			seen[it] = true
		}
	}
	checkItems("universe", s.Universe)
	checkItems("initial", s.Initial)
	for i, it := range s.Initial {
		if len(s.Universe) > 0 && !slices.Contains(s.Universe, it) {
			bad(fmt.Sprintf("initial[%d]", i), "%q is not in the universe", it)
		}
	}
	list := s.Writes == WriteAccessGroups || s.Writes == WriteModels
	switch {
	case list && s.Pattern != PatternToggle && s.Pattern != PatternAlternate:
		bad("pattern", "want toggle or alternate, got %q", s.Pattern)
	case !list && s.Pattern != "":
		bad("pattern", "%s writes take no pattern", s.Writes)
	}
	switch s.Writes {
	case WriteAccessGroups, WriteModels:
		if len(s.Universe) == 0 {
			bad("universe", "%s writes need a universe of items", s.Writes)
		}
		// An empty models list means "all models", not "none": a models
		// register never goes empty, so toggling needs two items.
		if s.Writes == WriteModels && len(s.Initial) == 0 {
			bad("initial", "a team's models must not be empty (empty means all models)")
		}
		if s.Writes == WriteModels && s.Pattern == PatternToggle && len(s.Universe) < 2 {
			bad("universe", "toggling models needs at least two")
		}
		if s.Pattern == PatternAlternate {
			need := 1
			if s.Writes == WriteModels {
				need = 2
			}
			if len(s.Initial) < need {
				bad("initial", "the alternate pattern revokes an initial item and needs at least %d", need)
			}
		}
	case WriteBlock:
		if len(s.Initial) == 0 {
			bad("initial", "block scenarios need the team's models (decisions ask for them)")
		}
	case WriteMemberAdd:
		if len(s.Universe) > 0 {
			bad("universe", "member-add writes take no universe (each adds a new member)")
		}
	}
}

// asks is what decisions ask for: the universe for list writes, the
// team's models for block writes, nothing for member reads.
func (s *Scenario) asks() []string {
	switch s.Writes {
	case WriteBlock:
		return s.Initial
	case WriteMemberAdd:
		return nil
	}
	return s.Universe
}

// errNoScenario is wrapped by Load for unknown names.
var errNoScenario = errors.New("no such scenario")
