package check

import (
	"time"

	"github.com/keyrace/keyrace/scenarios/history"
)

// Verdict is the outcome of a check, for the whole history or one team.
type Verdict string

// Verdicts.
const (
	// VerdictOK: consistent under the checked mode.
	VerdictOK Verdict = "ok"
	// VerdictViolation: at least one violation, proven by porcupine or by
	// the classifier.
	VerdictViolation Verdict = "violation"
	// VerdictUnknown: porcupine ran out of time where it decides and the
	// classifier found nothing; neither pass nor fail.
	VerdictUnknown Verdict = "unknown"
)

// Kind is the class of a violation.
type Kind string

// Violation kinds.
const (
	// StaleDeny: a refusal printed a state that an acknowledged write had
	// already replaced before the decision was called (or a blocked refusal
	// after an acknowledged unblock).
	StaleDeny Kind = "stale-deny"
	// StaleAllow: a grant of an item every legal state excludes but an
	// older, superseded state allowed, or a grant on a team whose block was
	// acknowledged before the call. A privilege leak.
	StaleAllow Kind = "stale-allow"
	// Contract: a refusal printing a list the team never had (or one that
	// contains the item it refuses), or a grant no state ever allowed.
	Contract Kind = "contract"
	// LostUpdate: a member add acknowledged before a member read was called
	// is missing from what the read saw.
	LostUpdate Kind = "lost-update"
	// NonLinearizable: porcupine proved the team's history non-linearizable
	// but no single decision is wrong on its own (for example two decisions
	// that see the writes in opposite orders), or a decision saw a state
	// that only a later write set.
	NonLinearizable Kind = "non-linearizable"
)

// Kinds lists every violation kind, in report order.
var Kinds = []Kind{StaleDeny, StaleAllow, Contract, LostUpdate, NonLinearizable}

// Register names which of a team's objects a result is about.
type Register string

// Registers.
const (
	// Permissions is the team's allow-list and blocked flag (writes,
	// block/unblock, decisions).
	Permissions Register = "permissions"
	// Members is the team's member set (member adds and reads).
	Members Register = "members"
)

// State is one state of a team's register, as evidence.
type State struct {
	// Groups is the allow-list (sorted; [] when empty, absent for member
	// states).
	Groups []string `json:"groups,omitzero"`
	// Blocked is the team's blocked flag.
	Blocked bool `json:"blocked,omitempty"`
	// Members is, for member reads, the members the read had to see
	// (expected) or saw (observed).
	Members []string `json:"members,omitempty"`
}

// Violation is one decision (or member read) that broke the checked mode,
// with its evidence.
type Violation struct {
	// Kind is what went wrong.
	Kind Kind `json:"kind"`
	// Team and Register locate it.
	Team     string   `json:"team"`
	Register Register `json:"register"`
	// Decision is the offending decision or member read, as recorded. For a
	// non-linearizable team it is the first operation porcupine could not
	// place (zero when it could not tell).
	Decision history.Op `json:"decision"`
	// Missed is the acknowledged write the decision missed: the earliest
	// acknowledged write that superseded the observed state (for stale
	// kinds and lost updates); nil otherwise.
	Missed *history.Op `json:"missed,omitempty"`
	// Expected lists the states legal for the decision (strict mode).
	Expected []State `json:"expected"`
	// Observed is the state the decision showed: the printed allow-list of
	// a refusal, the blocked flag of a blocked refusal, the members a read
	// saw; nil for grants (the granted item is Decision.Ask).
	Observed *State `json:"observed,omitempty"`
	// Staleness is how long before the decision's call the missed write
	// was acknowledged, in nanoseconds (0 when not stale).
	Staleness time.Duration `json:"staleness_ns"`
	// Replica is the replica that served the decision.
	Replica int `json:"replica"`
	// Reason says it in one line.
	Reason string `json:"reason"`
}

// TeamResult is the check of one register of one team.
type TeamResult struct {
	// Team and Register identify the partition.
	Team     string   `json:"team"`
	Register Register `json:"register"`
	// Ops is the number of operations checked (after drops).
	Ops int `json:"ops"`
	// Porcupine is porcupine's answer on the strict history (with
	// Options.JointBounded, on the history with calls moved back by the
	// bound): ok, violation (Illegal) or unknown (timed out, or not run
	// because the time budget was spent).
	Porcupine Verdict `json:"porcupine"`
	// Verdict is the partition's verdict: violation when the classifier or
	// (strict and joint modes) porcupine proved one; unknown when
	// porcupine timed out in those modes and the classifier found nothing;
	// else ok.
	Verdict Verdict `json:"verdict"`
	// Violations counts the partition's violations.
	Violations int `json:"violations"`
	// Lagging counts decisions that lagged within the bounded mode's bound.
	Lagging int `json:"lagging,omitempty"`
	// Duration is the time porcupine took on this partition, in
	// nanoseconds.
	Duration time.Duration `json:"duration_ns"`
}

// Result is the outcome of Check; it lands in a run's summary.json.
type Result struct {
	// Verdict: violation if any partition has one, else unknown if any is
	// unknown, else ok.
	Verdict Verdict `json:"verdict"`
	// Consistency is the mode checked ("strict", "bounded:50ms"), and
	// JointBounded whether Options.JointBounded was set.
	Consistency  Mode `json:"consistency"`
	JointBounded bool `json:"joint_bounded,omitempty"`
	// Counts gives the number of violations by kind (every kind present).
	Counts map[Kind]int `json:"counts"`
	// Violations, sorted by decision call time: the first
	// Options.MaxViolations of them.
	Violations []Violation `json:"violations"`
	// ViolationsDropped counts violations left out of Violations by
	// Options.MaxViolations (they are in Counts).
	ViolationsDropped int `json:"violations_dropped,omitempty"`
	// MaxLag is the largest staleness among stale decisions and reads,
	// including those a bounded mode tolerated, in nanoseconds (0 if none).
	MaxLag time.Duration `json:"max_lag_ns"`
	// Lagging counts stale decisions tolerated by the bounded mode (always
	// 0 in strict mode).
	Lagging int `json:"lagging"`
	// Ops is the number of operations checked; Dropped those left out on
	// purpose (failed decisions and reads, rejected writes); Invalid those
	// left out because their outcome does not fit their kind or their
	// times are inverted (a recorder bug).
	Ops     int `json:"ops"`
	Dropped int `json:"dropped"`
	Invalid int `json:"invalid"`
	// WritesAcked counts the writes acknowledged with a success and
	// DecisionsJudged the decisions and reads checked against them.
	WritesAcked     int `json:"writes_acked"`
	DecisionsJudged int `json:"decisions_judged"`
	// Inconclusive says why a history without violations still proves
	// nothing (no write acknowledged, no decision judged, most operations
	// failed): the verdict is then unknown, never ok.
	Inconclusive string `json:"inconclusive,omitempty"`
	// TeamsChecked is the number of teams; TeamsUnknown those with an
	// unknown verdict on some register.
	TeamsChecked int `json:"teams_checked"`
	TeamsUnknown int `json:"teams_unknown"`
	// Disagreements counts partitions porcupine accepted although the
	// classifier flagged a decision; their flags are dropped. Always 0
	// unless the checker has a bug.
	Disagreements int `json:"disagreements,omitempty"`
	// CheckDuration is the wall time of Check, in nanoseconds.
	CheckDuration time.Duration `json:"check_duration_ns"`
	// Teams holds one result per team and register, sorted by team.
	Teams []TeamResult `json:"teams"`
}
