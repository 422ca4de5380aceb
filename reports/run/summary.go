package run

import (
	"time"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// EvidenceLimit is how many violations summary.json and summary.md carry
// with their evidence (the HTML report shows up to TableLimit).
const EvidenceLimit = 20

// Summary is summary.json: the run at a glance, for machines. Field names
// are stable; durations carry their unit in the name (_ms as float
// milliseconds rounded to the microsecond, _ns as integer nanoseconds).
type Summary struct {
	// Format is SummaryFormatV1.
	Format string `json:"format"`
	// Scenario, Description, Seed, Target and Consistency identify the run
	// (from the history header; Target lists the replicas' base URLs).
	Scenario    string   `json:"scenario"`
	Description string   `json:"description,omitempty"`
	Seed        int64    `json:"seed"`
	Target      []string `json:"target"`
	Consistency string   `json:"consistency"`
	// JointBounded is set when a bounded mode was checked jointly
	// (check.Options.JointBounded).
	JointBounded bool `json:"joint_bounded,omitempty"`
	// Faults is the target's fault spec ("none": correct build; absent: unknown).
	Faults string `json:"faults,omitempty"`
	// KeyraceVersion is the keyrace version that ran.
	KeyraceVersion string `json:"keyrace_version,omitempty"`
	// Serve is set for a run against an in-process reference service: how
	// to start an equivalent one to aim repro.sh at.
	Serve *Serve `json:"serve,omitempty"`
	// Start is the wall-clock time of op time 0 (RFC 3339), absent when unknown.
	Start *time.Time `json:"start,omitempty"`
	// ElapsedMs is the run's wall time; DurationMs the attack duration
	// asked for; TargetRatePerS the rate asked for; Pacer vegeta's pacer.
	ElapsedMs      float64 `json:"elapsed_ms,omitempty"`
	DurationMs     float64 `json:"duration_ms,omitempty"`
	TargetRatePerS float64 `json:"target_rate_per_s,omitempty"`
	Pacer          string  `json:"pacer,omitempty"`
	// Teams is the number of teams driven.
	Teams int `json:"teams"`
	// Rechecked is true when the summary was rewritten from history.jsonl
	// by `keyrace report` rather than written by the run itself.
	Rechecked bool `json:"rechecked,omitempty"`

	// Verdict is the checker's: ok, violation or unknown.
	Verdict check.Verdict `json:"verdict"`
	// Inconclusive says why a run without violations proves nothing
	// (check.Result.Inconclusive); the verdict is then unknown.
	Inconclusive string `json:"inconclusive,omitempty"`
	// Violations is the number of violations; ViolationsByKind splits it
	// (every kind present, zeros included).
	Violations       int                `json:"violations"`
	ViolationsByKind map[check.Kind]int `json:"violations_by_kind"`
	// ViolationsKept is how many of them the checker kept with evidence
	// (check.Options.MaxViolations, the earliest by decision call); the
	// staleness distribution and the reports' lists cover those.
	ViolationsKept int `json:"violations_kept"`
	// TeamsByVerdict counts teams by their verdict (a team's verdict is
	// the worst over its registers).
	TeamsByVerdict map[check.Verdict]int `json:"teams_by_verdict"`
	// TeamsChecked and TeamsUnknown are the checker's.
	TeamsChecked int `json:"teams_checked"`
	TeamsUnknown int `json:"teams_unknown"`
	// Lagging counts stale decisions a bounded mode tolerated.
	Lagging int `json:"lagging"`
	// MaxLagMs is the largest staleness seen, tolerated or not.
	MaxLagMs float64 `json:"max_lag_ms"`
	// CheckDurationMs is the checker's wall time.
	CheckDurationMs float64 `json:"check_duration_ms"`
	// Disagreements counts checker-internal disagreements (0 unless the
	// checker has a bug).
	Disagreements int `json:"disagreements,omitempty"`

	// Ops is the number of recorded operations; OpsChecked, OpsDropped and
	// OpsInvalid are the checker's split of them.
	Ops        int `json:"ops"`
	OpsChecked int `json:"ops_checked"`
	OpsDropped int `json:"ops_dropped"`
	OpsInvalid int `json:"ops_invalid"`
	// SpanMs is the time from the first call to the last return; OpsPerS
	// is Ops over SpanMs.
	SpanMs  float64 `json:"span_ms"`
	OpsPerS float64 `json:"ops_per_s"`
	// Outcomes counts operations by outcome (ok, allowed, denied, ...).
	Outcomes map[history.Outcome]int `json:"outcomes"`
	// StatusCodes counts operations by HTTP status ("0": transport error).
	StatusCodes map[string]int `json:"status_codes"`
	// Latency is call-to-return time of every operation that returned.
	Latency LatencyReport `json:"latency"`
	// Staleness is the distribution of the violations' staleness (stale
	// decisions and lost updates only).
	Staleness Staleness `json:"staleness"`

	// FirstViolations are the first EvidenceLimit violations by decision
	// call, with their evidence.
	FirstViolations []Evidence `json:"first_violations"`
}

// LatencyReport holds latency percentiles overall, per endpoint and per
// replica.
type LatencyReport struct {
	Overall    Latency   `json:"overall"`
	ByEndpoint []Latency `json:"by_endpoint"`
	ByReplica  []Latency `json:"by_replica"`
}

// Latency is the distribution of one group of operations' latencies
// (nearest-rank percentiles, exact).
type Latency struct {
	// Endpoint or Replica (with its URL) name the group; both empty for
	// the overall row.
	Endpoint string `json:"endpoint,omitempty"`
	Replica  *int   `json:"replica,omitempty"`
	URL      string `json:"url,omitempty"`
	Count    int    `json:"count"`
	// Errors counts operations of the group that failed or had an
	// unknown outcome (not in the percentiles when they never returned).
	Errors int     `json:"errors"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Staleness is how far behind acknowledged writes the violating decisions
// were.
type Staleness struct {
	// Count is the number of stale violations measured; Partial is true
	// when the checker kept only the earliest violations, so the
	// distribution covers those (max_lag_ms covers all).
	Count   int     `json:"count"`
	Partial bool    `json:"partial,omitempty"`
	MinMs   float64 `json:"min_ms"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	MaxMs   float64 `json:"max_ms"`
	// Histogram has fixed buckets [FromMs, ToMs); the last has no ToMs.
	Histogram []Bucket `json:"histogram"`
}

// Bucket is one histogram bucket.
type Bucket struct {
	FromMs float64  `json:"from_ms"`
	ToMs   *float64 `json:"to_ms,omitempty"`
	Count  int      `json:"count"`
}

// stalenessBounds are the histogram's bucket edges in milliseconds.
var stalenessBounds = []float64{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 60000}

// Evidence is one violation as the reports print it.
type Evidence struct {
	Kind     check.Kind     `json:"kind"`
	Team     string         `json:"team"`
	Register check.Register `json:"register"`
	Reason   string         `json:"reason"`
	// Decision is the offending decision (or member read); Write the
	// acknowledged write it missed, when there is one.
	Decision OpEvidence  `json:"decision"`
	Write    *OpEvidence `json:"write,omitempty"`
	// Expected are the states legal for the decision; Observed the state
	// it showed (absent for grants).
	Expected []check.State `json:"expected"`
	Observed *check.State  `json:"observed,omitempty"`
	// StalenessMs/Ns: how long before the decision's call the missed
	// write was acknowledged.
	StalenessMs float64 `json:"staleness_ms"`
	StalenessNs int64   `json:"staleness_ns"`
}

// OpEvidence is one operation as evidence. The history keeps no request
// bodies, so Request is rebuilt from the operation (the run sent the same
// fields).
type OpEvidence struct {
	ID       uint64          `json:"id"`
	Kind     history.Kind    `json:"kind"`
	Replica  int             `json:"replica"`
	URL      string          `json:"url,omitempty"`
	CallMs   float64         `json:"call_ms"`
	ReturnMs *float64        `json:"return_ms,omitempty"`
	Request  string          `json:"request"`
	Status   int             `json:"status"`
	Outcome  history.Outcome `json:"outcome"`
	Ask      string          `json:"ask,omitempty"`
	Groups   []string        `json:"groups,omitempty"`
	Observed []string        `json:"observed,omitempty"`
	Members  []string        `json:"members,omitempty"`
	Body     string          `json:"body,omitempty"`
	Error    string          `json:"error,omitempty"`
}
