package run

import (
	"fmt"
	"strings"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
	"github.com/keyrace/keyrace/wire"
)

// Words shared by summary.md and report.html.

// fmtMs renders float milliseconds with microsecond precision.
func fmtMs(x float64) string { return fmt.Sprintf("%.3f ms", x) }

// stateText renders a register state: "allows ['G1', 'G2']" (", blocked"),
// or "members ['a', 'b']".
func stateText(s check.State, reg check.Register) string {
	if reg == check.Members {
		return "members " + wire.PyList(s.Members)
	}
	t := "allows " + wire.PyList(s.Groups)
	if s.Blocked {
		t += ", blocked"
	}
	return t
}

// expectedText joins the legal states with "or".
func expectedText(e Evidence) string {
	if len(e.Expected) == 0 {
		return "(no single state: see the reason)"
	}
	parts := make([]string, len(e.Expected))
	for i, s := range e.Expected {
		parts[i] = stateText(s, e.Register)
	}
	return strings.Join(parts, " or ")
}

// observedText says what the decision showed.
func observedText(e Evidence) string {
	d := e.Decision
	switch {
	case e.Observed != nil && e.Observed.Blocked && e.Register == check.Permissions:
		return "refused as blocked"
	case e.Observed != nil:
		return stateText(*e.Observed, e.Register)
	case d.Outcome == history.Allowed && d.Ask != "":
		return "granted " + wire.PyStr(d.Ask)
	case d.Outcome == history.Allowed:
		return "served"
	}
	return string(d.Outcome)
}

// opLine is "op 12 on replica 0 (http://...)".
func opLine(o OpEvidence) string {
	s := fmt.Sprintf("op %d on replica %d", o.ID, o.Replica)
	if o.URL != "" {
		s += " (" + o.URL + ")"
	}
	return s
}

// responseText is the decision's status and body (or transport error).
func responseText(o OpEvidence) string {
	s := fmt.Sprintf("%d %s", o.Status, o.Outcome)
	if o.Error != "" {
		s += " (" + o.Error + ")"
	}
	if o.Body != "" {
		s += "\n" + clip(o.Body, 1500)
	}
	return s
}

// verdictWord is the one-word headline of a verdict.
func verdictWord(v check.Verdict) string {
	switch v {
	case check.VerdictOK:
		return "PASS"
	case check.VerdictViolation:
		return "FAIL"
	}
	return "UNKNOWN"
}

// countText is "1 violation" / "3 violations".
func countText(n int) string {
	if n == 1 {
		return "1 violation"
	}
	return fmt.Sprintf("%d violations", n)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// kindMeaning explains a violation kind in one line.
func kindMeaning(k check.Kind) string {
	switch k {
	case check.StaleDeny:
		return "refused on a state an acknowledged write had already replaced"
	case check.StaleAllow:
		return "granted what an acknowledged write had already revoked (privilege leak)"
	case check.Contract:
		return "an answer no state of the team explains"
	case check.LostUpdate:
		return "an acknowledged member add missing from a later read"
	case check.NonLinearizable:
		return "decisions that no order of the writes explains together"
	}
	return ""
}
