package run

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/keyrace/keyrace/scenarios/check"
)

// writeMarkdown writes summary.md: short enough for a CI step summary
// ($GITHUB_STEP_SUMMARY), complete enough to act on without opening
// anything else.
func writeMarkdown(w io.Writer, in Input, s Summary, feat *check.Violation, hasRepro bool, noRepro string) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }

	p("## keyrace race `%s`: %s — %s\n\n", s.Scenario, verdictWord(s.Verdict), countText(s.Violations))
	if s.Description != "" {
		p("> %s\n\n", mdLine(s.Description))
	}
	p("| run | |\n|---|---|\n")
	p("| verdict | **%s** (%s) |\n", s.Verdict, countText(s.Violations))
	p("| seed | `%d` |\n", s.Seed)
	for i, t := range s.Target {
		p("| target replica %d | `%s` |\n", i, mdCell(t))
	}
	if s.JointBounded {
		p("| consistency | `%s` (joint) |\n", s.Consistency)
	} else {
		p("| consistency | `%s` |\n", s.Consistency)
	}
	if s.Faults != "" {
		p("| faults | `%s` |\n", mdCell(s.Faults))
	}
	if s.TargetRatePerS > 0 || s.Pacer != "" || s.DurationMs > 0 {
		p("| load | %s |\n", mdCell(loadText(s)))
	}
	p("| operations | %d recorded (%d checked, %d dropped, %d invalid), %.1f ops/s over %s |\n",
		s.Ops, s.OpsChecked, s.OpsDropped, s.OpsInvalid, s.OpsPerS, fmtMs(s.SpanMs))
	p("| teams | %d checked: %d ok, %d violating, %d unknown |\n", s.TeamsChecked,
		s.TeamsByVerdict[check.VerdictOK], s.TeamsByVerdict[check.VerdictViolation], s.TeamsByVerdict[check.VerdictUnknown])
	p("| max lag | %s (%d lagging within the bound) |\n", fmtMs(s.MaxLagMs), s.Lagging)
	p("| checker | %s |\n", fmtMs(s.CheckDurationMs))
	if s.KeyraceVersion != "" {
		p("| keyrace | `%s` |\n", mdCell(s.KeyraceVersion))
	}
	if s.Rechecked {
		p("| re-checked | from `history.jsonl` by `keyrace report` |\n")
	}
	if s.Disagreements > 0 {
		p("| checker disagreements | **%d** (a checker bug: please report it) |\n", s.Disagreements)
	}
	switch {
	case s.Verdict == check.VerdictUnknown && s.Inconclusive != "":
		p("\nInconclusive, neither pass nor fail: %s.\n", mdLine(s.Inconclusive))
	case s.Verdict == check.VerdictUnknown:
		p("\nThe checker ran out of time on %d teams: neither pass nor fail. Re-check with a larger timeout (`keyrace report`) or run a smaller scenario.\n", s.TeamsUnknown)
	}

	p("\n### Violations by kind\n\n| kind | count | meaning |\n|---|---:|---|\n")
	for _, k := range check.Kinds {
		p("| %s | %d | %s |\n", k, s.ViolationsByKind[k], kindMeaning(k))
	}

	p("\n### Latency\n\n| endpoint / replica | ops | errors | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, l Latency) {
		p("| %s | %d | %d | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n", name, l.Count, l.Errors, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs)
	}
	for _, l := range s.Latency.ByEndpoint {
		row("`"+mdCell(l.Endpoint)+"`", l)
	}
	for _, l := range s.Latency.ByReplica {
		row(fmt.Sprintf("replica %d", *l.Replica), l)
	}
	row("**all**", s.Latency.Overall)

	if s.Violations > s.ViolationsKept {
		p("\nThe checker kept the first %d violations with evidence; the counts cover all %d.\n", s.ViolationsKept, s.Violations)
	}

	if st := s.Staleness; st.Count > 0 {
		of := ""
		if st.Partial {
			of = fmt.Sprintf(" (among the first %d violations)", s.ViolationsKept)
		}
		p("\n### Staleness\n\n%d stale violations%s: min %s, p50 %s, p90 %s, max %s.\n",
			st.Count, of, fmtMs(st.MinMs), fmtMs(st.P50Ms), fmtMs(st.P90Ms), fmtMs(st.MaxMs))
	}

	if feat != nil {
		e := evidence(in.History, dimensions(in.History), feat)
		writeMarkdownViolation(p, e, feat == &in.Result.Violations[0])
	}

	if noRepro != "" {
		p("\n### Reproduce\n\nNo `repro.sh`: %s.\n", mdLine(noRepro))
	}
	if hasRepro {
		p("\n### Reproduce\n\n`repro.sh` in this folder replays the violation above with fresh ids (it creates and deletes its own team):\n\n")
		if sv := s.Serve; sv != nil {
			p("The run's target was a reference service keyrace started, gone since the run ended; start an equivalent one first:\n\n")
			p("```sh\n%s\nKEYRACE_TARGET=%s KEYRACE_MASTER_KEY=%s bash repro.sh\n```\n\n", sv.Command, shellWord(strings.Join(sv.Targets, ",")), shellWord(sv.MasterKey))
		} else {
			p("```sh\nKEYRACE_TARGET=%s KEYRACE_MASTER_KEY=<master key> bash repro.sh\n```\n\n", shellWord(strings.Join(s.Target, ",")))
		}
		p("It prints both responses and `REPRODUCED` (exit 1) or `not reproduced` (exit 0); 125 when it could not run, so it works with `git bisect run`.\n")
	}

	p("\n### Files\n\n")
	p("- `report.html`: latency and violation timelines, staleness per team, every violation with its evidence, porcupine's view of the first failing team\n")
	p("- `summary.json`: this summary for machines (first %d violations with evidence)\n", EvidenceLimit)
	p("- `history.jsonl`: every operation; `keyrace report <this folder>` re-checks it and rewrites these files\n")
	p("- `results.bin`: vegeta's raw results: `vegeta report results.bin`, `vegeta plot results.bin > plot.html` (without the vegeta CLI: `go run github.com/tsenart/vegeta/v12@v12.13.0 report results.bin`)\n")
	return b.Flush()
}

func writeMarkdownViolation(p func(string, ...any), e Evidence, first bool) {
	title := "First violation"
	if !first {
		title = "First stale violation"
	}
	p("\n### %s: %s on team `%s`\n\n%s\n\n", title, e.Kind, mdCell(e.Team), mdLine(e.Reason))
	if w := e.Write; w != nil {
		p("**Acknowledged write**: %s, called at %s, acknowledged at %s:\n\n", opLine(*w), fmtMs(w.CallMs), fmtMs(deref(w.ReturnMs)))
		p("%s\n", fence(w.Request+"\n→ "+responseText(*w)))
	}
	d := e.Decision
	p("**Decision**: %s, called at %s", opLine(d), fmtMs(d.CallMs))
	if e.Write != nil && e.Write.ReturnMs != nil {
		p(" (%s after the acknowledgement)", fmtMs(d.CallMs-*e.Write.ReturnMs))
	}
	if d.ReturnMs != nil {
		p(", returned at %s", fmtMs(*d.ReturnMs))
	}
	p(":\n\n%s\n", fence(d.Request+"\n→ "+responseText(d)))
	p("| expected | observed | staleness |\n|---|---|---:|\n| %s | %s | %s |\n",
		mdCell(expectedText(e)), mdCell(observedText(e)), fmtMs(e.StalenessMs))
	p("\nRequests are rebuilt from the history (it records what each operation meant, not its bytes).\n")
}

func loadText(s Summary) string {
	var parts []string
	if s.TargetRatePerS > 0 {
		parts = append(parts, fmt.Sprintf("%g req/s paced (flow decisions and warm traffic come on top)", s.TargetRatePerS))
	}
	if s.Pacer != "" {
		parts = append(parts, "pacer "+s.Pacer)
	}
	if s.DurationMs > 0 {
		parts = append(parts, "for "+fromMs(s.DurationMs).String())
	}
	if s.ElapsedMs > 0 {
		parts = append(parts, "run took "+fromMs(s.ElapsedMs).String())
	}
	return strings.Join(parts, ", ")
}

// fence wraps text in a code fence longer than any backtick run inside.
func fence(text string) string {
	f := "```"
	for strings.Contains(text, f) {
		f += "`"
	}
	return f + "\n" + text + "\n" + f + "\n"
}

// mdCell makes text safe inside a table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

// mdLine makes text safe as one Markdown line.
func mdLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,=@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
