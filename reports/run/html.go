package run

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// Limits that keep report.html readable (and small) for large histories.
const (
	// TableLimit is how many violations the HTML table lists.
	TableLimit = 200
	// porcupineMaxOps: teams with more operations are not visualised
	// (porcupine's page grows with every operation and its search can
	// take long on a big failing partition).
	porcupineMaxOps = 5000
	// porcupineMaxBytes caps the embedded visualisation.
	porcupineMaxBytes = 8 << 20
)

//go:embed report.html.tmpl
var reportTmplText string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":         fmtMs,
	"kindColor":  func(k check.Kind) string { return kindColor(string(k)) },
	"expected":   expectedText,
	"observed":   observedText,
	"opLine":     opLine,
	"response":   responseText,
	"deref":      deref,
	"verdict":    verdictWord,
	"countText":  countText,
	"kindMeans":  kindMeaning,
	"hasReturn":  func(p *float64) bool { return p != nil },
	"sinceWrite": sinceWrite,
	"deref2": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
	"inc": func(i int) int { return i + 1 },
}).Parse(reportTmplText))

// page is what report.html.tmpl renders.
type page struct {
	S        Summary
	Kinds    []kindRow
	Facts    [][2]string
	Latency  template.HTML
	Timeline template.HTML
	ByTeam   template.HTML
	Hist     template.HTML
	Rows     []Evidence
	More     int
	// Porcupine is the visualisation page for the srcdoc attribute (a
	// plain string: html/template escapes it for the attribute).
	Porcupine     string
	PorcupineTeam string
	PorcupineNote string
	// Repro is the violation repro.sh reproduces (nil: no repro.sh);
	// Targets the run's targets for its command line.
	Repro   *check.Violation
	Targets string
}

type kindRow struct {
	Kind  check.Kind
	Count int
}

func writeHTML(w io.Writer, in Input, s Summary, repro *check.Violation) error {
	p := page{
		S:        s,
		Repro:    repro,
		Targets:  strings.Join(s.Target, ","),
		Latency:  latencyChart(in.History),
		Timeline: timelineChart(in.History, in.Result, s.Violations),
		ByTeam:   stalenessTeamChart(in.Result),
		Hist:     stalenessHistChart(s.Staleness),
	}
	for _, k := range check.Kinds {
		p.Kinds = append(p.Kinds, kindRow{k, s.ViolationsByKind[k]})
	}
	p.Facts = facts(s)
	d := dimensions(in.History)
	vs := in.Result.Violations
	for i := range vs[:min(len(vs), TableLimit)] {
		p.Rows = append(p.Rows, evidence(in.History, d, &vs[i]))
	}
	p.More = max(s.Violations-len(p.Rows), 0)
	if len(vs) > 0 {
		p.PorcupineTeam = vs[0].Team
		p.Porcupine, p.PorcupineNote = porcupinePage(in.History, vs[0].Team)
	}
	var b bytes.Buffer
	if err := reportTmpl.Execute(&b, p); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// porcupinePage renders porcupine's visualisation of one team, or says
// why it is not embedded.
func porcupinePage(h history.History, team string) (string, string) {
	n := 0
	for i := range h.Ops {
		if h.Ops[i].Team == team {
			n++
		}
	}
	if n > porcupineMaxOps {
		return "", fmt.Sprintf("team %s has %d operations, more than the %d this page embeds; the timeline above and the table below show its violations", team, n, porcupineMaxOps)
	}
	var b bytes.Buffer
	if err := check.Visualize(h, team, &b); err != nil {
		return "", "porcupine could not visualise this team: " + err.Error()
	}
	if b.Len() > porcupineMaxBytes {
		return "", fmt.Sprintf("porcupine's page for team %s is %d MiB, too large to embed", team, b.Len()>>20)
	}
	return b.String(), ""
}

func facts(s Summary) [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("scenario", s.Scenario)
	add("inconclusive", s.Inconclusive)
	add("seed", fmt.Sprint(s.Seed))
	for i, t := range s.Target {
		add(fmt.Sprintf("replica %d", i), t)
	}
	if s.JointBounded {
		add("consistency", s.Consistency+" (joint)")
	} else {
		add("consistency", s.Consistency)
	}
	add("faults", s.Faults)
	if s.Start != nil {
		add("started", s.Start.Format("2006-01-02 15:04:05.000 MST"))
	}
	add("load", loadText(s))
	add("operations", fmt.Sprintf("%d recorded, %d checked, %d dropped, %d invalid; %.1f ops/s over %s",
		s.Ops, s.OpsChecked, s.OpsDropped, s.OpsInvalid, s.OpsPerS, fmtMs(s.SpanMs)))
	add("teams", fmt.Sprintf("%d checked: %d ok, %d violating, %d unknown", s.TeamsChecked,
		s.TeamsByVerdict[check.VerdictOK], s.TeamsByVerdict[check.VerdictViolation], s.TeamsByVerdict[check.VerdictUnknown]))
	add("max lag", fmt.Sprintf("%s (%d decisions lagging within the bound)", fmtMs(s.MaxLagMs), s.Lagging))
	add("checker", fmtMs(s.CheckDurationMs))
	var codes []string
	for _, c := range sortedKeys(s.StatusCodes) {
		codes = append(codes, fmt.Sprintf("%s × %d", c, s.StatusCodes[c]))
	}
	add("status codes", strings.Join(codes, ", "))
	add("keyrace", s.KeyraceVersion)
	if s.Rechecked {
		add("re-checked", "this report was rewritten from history.jsonl by keyrace report")
	}
	return out
}

// sinceWrite is how long after the missed write's acknowledgement the
// decision was called.
func sinceWrite(e Evidence) string {
	if e.Write == nil || e.Write.ReturnMs == nil {
		return ""
	}
	return fmtMs(e.Decision.CallMs - *e.Write.ReturnMs)
}
