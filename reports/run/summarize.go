package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// Summarize computes the summary of a run.
func Summarize(in Input) Summary {
	h, res, f := in.History, in.Result, in.Facts
	s := Summary{
		Format:           SummaryFormatV1,
		Scenario:         h.Header.Scenario,
		Description:      f.Description,
		Seed:             h.Header.Seed,
		Target:           append([]string{}, h.Header.Target...),
		Consistency:      res.Consistency.String(),
		JointBounded:     res.JointBounded,
		Faults:           f.Faults,
		KeyraceVersion:   f.Version,
		Serve:            f.Serve,
		ElapsedMs:        ms(f.Elapsed),
		DurationMs:       ms(f.Duration),
		TargetRatePerS:   round3(f.Rate),
		Pacer:            f.Pacer,
		Teams:            f.Teams,
		Verdict:          res.Verdict,
		Inconclusive:     res.Inconclusive,
		ViolationsByKind: map[check.Kind]int{},
		ViolationsKept:   len(res.Violations),
		TeamsByVerdict:   map[check.Verdict]int{check.VerdictOK: 0, check.VerdictViolation: 0, check.VerdictUnknown: 0},
		TeamsChecked:     res.TeamsChecked,
		TeamsUnknown:     res.TeamsUnknown,
		Lagging:          res.Lagging,
		MaxLagMs:         ms(res.MaxLag),
		CheckDurationMs:  ms(res.CheckDuration),
		Disagreements:    res.Disagreements,
		Ops:              len(h.Ops),
		OpsChecked:       res.Ops,
		OpsDropped:       res.Dropped,
		OpsInvalid:       res.Invalid,
		Outcomes:         map[history.Outcome]int{},
		StatusCodes:      map[string]int{},
		FirstViolations:  []Evidence{},
	}
	if !f.Start.IsZero() {
		t := f.Start.UTC()
		s.Start = &t
	}
	if s.Target == nil {
		s.Target = []string{}
	}
	for _, k := range check.Kinds {
		s.ViolationsByKind[k] = 0
	}
	for k, n := range res.Counts {
		s.ViolationsByKind[k] = n
	}
	for _, n := range s.ViolationsByKind {
		s.Violations += n
	}
	if s.Violations < len(res.Violations) { // a result without counts
		s.Violations = len(res.Violations)
	}
	s.TeamsByVerdict = teamsByVerdict(res.Teams)
	if s.Teams == 0 {
		s.Teams = countTeams(h)
	}
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range h.Ops {
		op := &h.Ops[i]
		s.Outcomes[op.Outcome]++
		s.StatusCodes[strconv.Itoa(op.Status)]++
		first = min(first, op.Call)
		last = max(last, op.Call)
		if returned(op) {
			last = max(last, op.Return)
		}
	}
	if len(h.Ops) > 0 && last > first {
		s.SpanMs = ms(time.Duration(last - first))
		s.OpsPerS = round3(float64(len(h.Ops)) / (float64(last-first) / 1e9))
	}
	s.Latency = latencies(h)
	s.Staleness = staleness(res.Violations)
	s.Staleness.Partial = s.Violations > len(res.Violations)
	d := dimensions(h)
	for i := range res.Violations[:min(len(res.Violations), EvidenceLimit)] {
		s.FirstViolations = append(s.FirstViolations, evidence(h, d, &res.Violations[i]))
	}
	return s
}

// facts recovers what Write was given from a summary it wrote.
func (s Summary) facts() Facts {
	f := Facts{
		Description: s.Description,
		Elapsed:     fromMs(s.ElapsedMs),
		Rate:        s.TargetRatePerS,
		Pacer:       s.Pacer,
		Duration:    fromMs(s.DurationMs),
		Teams:       s.Teams,
		Faults:      s.Faults,
		Version:     s.KeyraceVersion,
		Serve:       s.Serve,
	}
	if s.Start != nil {
		f.Start = *s.Start
	}
	return f
}

func teamsByVerdict(trs []check.TeamResult) map[check.Verdict]int {
	worst := map[string]check.Verdict{}
	rank := map[check.Verdict]int{check.VerdictOK: 0, check.VerdictUnknown: 1, check.VerdictViolation: 2}
	for _, tr := range trs {
		if cur, ok := worst[tr.Team]; !ok || rank[tr.Verdict] > rank[cur] {
			worst[tr.Team] = tr.Verdict
		}
	}
	out := map[check.Verdict]int{check.VerdictOK: 0, check.VerdictViolation: 0, check.VerdictUnknown: 0}
	for _, v := range worst {
		out[v]++
	}
	return out
}

func countTeams(h history.History) int {
	seen := map[string]bool{}
	for t := range h.Header.Initial {
		seen[t] = true
	}
	for i := range h.Ops {
		seen[h.Ops[i].Team] = true
	}
	return len(seen)
}

// returned reports whether an operation has a meaningful return time.
func returned(op *history.Op) bool {
	return op.Outcome != history.Unknown && op.Return >= op.Call
}

func staleness(vs []check.Violation) Staleness {
	var d []int64
	for _, v := range vs {
		if v.Staleness > 0 || v.Missed != nil {
			d = append(d, int64(v.Staleness))
		}
	}
	st := Staleness{Count: len(d), Histogram: make([]Bucket, len(stalenessBounds))}
	for i, lo := range stalenessBounds {
		st.Histogram[i].FromMs = lo
		if i+1 < len(stalenessBounds) {
			hi := stalenessBounds[i+1]
			st.Histogram[i].ToMs = &hi
		}
	}
	if len(d) == 0 {
		return st
	}
	slices.Sort(d)
	st.MinMs = nsMs(d[0])
	st.P50Ms = nsMs(quantile(d, 0.50))
	st.P90Ms = nsMs(quantile(d, 0.90))
	st.MaxMs = nsMs(d[len(d)-1])
	for _, x := range d {
		st.Histogram[bucketOf(float64(x)/1e6)].Count++
	}
	return st
}

func bucketOf(msv float64) int {
	i, _ := slices.BinarySearch(stalenessBounds, msv)
	if i < len(stalenessBounds) && stalenessBounds[i] == msv {
		return i
	}
	return max(i-1, 0)
}

func evidence(h history.History, d dimFunc, v *check.Violation) Evidence {
	e := Evidence{
		Kind: v.Kind, Team: v.Team, Register: v.Register, Reason: v.Reason,
		Decision:    opEvidence(h, &v.Decision, d),
		Expected:    v.Expected,
		Observed:    v.Observed,
		StalenessMs: ms(v.Staleness),
		StalenessNs: int64(v.Staleness),
	}
	if e.Expected == nil {
		e.Expected = []check.State{}
	}
	if v.Missed != nil {
		w := opEvidence(h, v.Missed, d)
		e.Write = &w
	}
	return e
}

func opEvidence(h history.History, op *history.Op, d dimFunc) OpEvidence {
	e := OpEvidence{
		ID: op.ID, Kind: op.Kind, Replica: op.Replica, URL: replicaURL(h, op.Replica),
		CallMs: nsMs(op.Call), Request: requestOf(*op, d(op.Team)).String(),
		Status: op.Status, Outcome: op.Outcome, Ask: op.Ask, Groups: op.Groups,
		Observed: op.Observed, Members: op.Members, Body: op.Body, Error: op.Error,
	}
	if returned(op) {
		r := nsMs(op.Return)
		e.ReturnMs = &r
	}
	return e
}

func replicaURL(h history.History, r int) string {
	if r >= 0 && r < len(h.Header.Target) {
		return h.Header.Target[r]
	}
	return ""
}

func writeSummaryJSON(w io.Writer, s Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(s)
}

func unmarshalSummary(b []byte, s *Summary) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(s); err != nil {
		return err
	}
	if s.Format != SummaryFormatV1 {
		return fmt.Errorf("format %q, want %q", s.Format, SummaryFormatV1)
	}
	return nil
}

// ms renders a duration as float milliseconds rounded to the microsecond.
func ms(d time.Duration) float64 { return nsMs(int64(d)) }

func nsMs(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }

func fromMs(x float64) time.Duration { return time.Duration(math.Round(x * 1e6)) }

func round3(x float64) float64 { return math.Round(x*1e3) / 1e3 }
