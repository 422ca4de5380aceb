package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	runfolder "github.com/keyrace/keyrace/reports/run"
	"github.com/keyrace/keyrace/scenarios"
	"github.com/keyrace/keyrace/scenarios/check"
)

func runRace(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("race", flag.ContinueOnError)
	name := fs.String("scenario", "", "built-in scenario to run (see --list)")
	file := fs.String("scenario-file", "", "run a scenario from this YAML file instead")
	list := fs.Bool("list", false, "list the built-in scenarios and exit")
	tf := addTargetFlags(fs)
	rate := fs.Float64("rate", 0, fmt.Sprintf("override the scenario's request rate, req/s (at most %d unless --unsafe; 0 keeps the scenario's)", scenarios.MaxRate))
	duration := fs.Duration("duration", 0, fmt.Sprintf("override the scenario's duration (at most %s unless --unsafe; 0 keeps the scenario's)", scenarios.MaxDuration))
	teams := fs.Int("teams", 0, "override the scenario's number of teams (0 keeps the scenario's)")
	seed := fs.Int64("seed", 0, "random seed (0 picks one; it is printed and recorded, and replays the same operations)")
	consistency := fs.String("consistency", "strict", "strict or bounded:<duration>")
	out := fs.String("out", "", "run folder (default runs/<scenario>-<time>)")
	unsafe := fs.Bool("unsafe", false, "lift the rate and duration limits")
	disrupt := fs.String("disrupt", "", "with --topology: break the deployment during the middle third of the run: redis (pause Redis), disconnect (cut the last replica off), kill (kill and restart the last replica); the window is recorded in the history")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: keyrace race --scenario NAME --target URL[,URL...] --master-key KEY [flags]\n       keyrace race --scenario NAME --target embedded [--fault NAME]\n       keyrace race --list\n\n")
		fmt.Fprintf(fs.Output(), "Drives a race scenario with Vegeta, records every operation, checks the history\nper team for linearizability (porcupine) and classifies each violation, then\nwrites a run folder: summary.json, summary.md, report.html, history.jsonl,\nresults.bin (for vegeta report/plot) and repro.sh.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nExit codes: 0 clean, 1 violations found, 2 cannot run or inconclusive (the checker timed out, or the run\njudged nothing: no write acknowledged, no decision judged, most operations failed, the target\nstopped answering). Ctrl-C stops the traffic and writes what was recorded: exit 1 if a violation\nwas already found, else 2.\n")
	}
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if *list {
		return listScenarios(stdout, stderr)
	}
	sc, err := loadScenario(*name, *file)
	if err == nil {
		_, err = check.ParseMode(*consistency)
	}
	if err == nil && (math.IsNaN(*rate) || math.IsInf(*rate, 0) || *rate < 0) {
		err = fmt.Errorf("--rate %v: want a rate in requests/s (0 keeps the scenario's)", *rate)
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyrace race: %v\n", err)
		return exitCannotRun
	}
	if tf.cacheTTL == nil && sc.Pacer.Type == scenarios.PacerTTLSweep && (tf.embedded() || strings.HasPrefix(tf.topo, "reference")) {
		// The sweep times its writes by the TTL: a service keyrace starts
		// gets the scenario's.
		ttl := sc.Pacer.TTL.Std()
		tf.cacheTTL = &ttl
	}
	tg, ok := tf.resolve(ctx, "race", stderr)
	if !ok {
		return exitCannotRun
	}
	defer tg.Close()
	dir := *out
	if dir == "" {
		dir = filepath.Join("runs", fmt.Sprintf("%s-%s", sc.Name, time.Now().Format("20060102-150405")))
	}
	res, code := race(ctx, raceRun{sc: sc, target: tg, faults: tf.faults, rate: *rate, duration: *duration, teams: *teams,
		seed: *seed, consistency: *consistency, unsafe: *unsafe, dir: dir, disrupt: *disrupt}, stdout, stderr)
	_ = res
	return code
}

// raceRun is one race to run and report.
type raceRun struct {
	sc          *scenarios.Scenario
	target      target
	faults      string
	rate        float64
	duration    time.Duration
	teams       int
	seed        int64
	consistency string
	unsafe      bool
	dir         string
	quiet       bool   // no progress lines (demo)
	disrupt     string // redis, disconnect or kill (topologies only)
}

// race runs one scenario, writes its folder and returns the outcome and the
// exit code.
func race(ctx context.Context, r raceRun, stdout, stderr io.Writer) (*scenarios.Outcome, int) {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "keyrace race: %v\n", err)
		return nil, exitCannotRun
	}
	results, err := os.Create(filepath.Join(r.dir, runfolder.ResultsFile))
	if err != nil {
		fmt.Fprintf(stderr, "keyrace race: %v\n", err)
		return nil, exitCannotRun
	}
	defer results.Close()
	opts := scenarios.Options{
		Scenario: r.sc, Targets: r.target.URLs, MasterKey: r.target.MasterKey, Rate: r.rate, Duration: r.duration,
		Teams: r.teams, Seed: r.seed, Consistency: r.consistency, Results: results, Unsafe: r.unsafe,
	}
	if !r.quiet {
		fmt.Fprintf(stdout, "keyrace race · scenario %s · %s · consistency %s\n", r.sc.Name, r.target.Describe, r.consistency)
		opts.Progress = func(p scenarios.Progress) {
			if p.Done {
				return
			}
			fmt.Fprintf(stdout, "  %5.1fs  %6.0f ops/s  %7d ops  %3d in flight  %d errors  violations so far: %d (in the first %d ops checked)\n",
				p.Elapsed.Seconds(), p.Rate, p.Ops, p.InFlight, p.Errors, p.Violations, p.Checked)
		}
	}
	stopDisrupt, windows, err := startDisruption(ctx, r)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace race: %v\n", err)
		return nil, exitCannotRun
	}
	o, err := scenarios.Run(ctx, opts)
	stopDisrupt()
	if err == nil {
		o.History.Header.Disruptions = windows(o.Started)
		o.Header.Disruptions = o.History.Header.Disruptions
	}
	interrupted := err != nil && o != nil && ctx.Err() != nil
	if interrupted {
		// Stopped from outside after traffic began: keep what was recorded
		// (the history of a long run is worth keeping), but it judges nothing.
		fmt.Fprintf(stderr, "keyrace race: interrupted after %.1fs: writing the partial run folder\n", o.Elapsed.Seconds())
		err = nil
	}
	if err != nil {
		// Nothing ran: leave no half-made run folder behind.
		results.Close()
		os.Remove(results.Name())
		os.Remove(r.dir) // only if empty
		msg := strings.Replace(err.Error(), "(Unsafe lifts the limit)", "(--unsafe lifts the limit)", 1)
		fmt.Fprintf(stderr, "keyrace: %s\n", msg)
		return nil, exitCannotRun
	}
	if err := results.Close(); err != nil {
		fmt.Fprintf(stderr, "keyrace race: results.bin: %v\n", err)
		return o, exitCannotRun
	}
	faults := r.faults
	if r.target.close != nil && faults == "" {
		faults = "none"
	}
	in := runfolder.Input{History: o.History, Result: o.Check, Facts: runfolder.Facts{
		Description: o.Scenario.Description, Start: o.Started, Elapsed: o.Elapsed, Rate: o.Rate, Pacer: o.Pacer,
		Duration: o.Duration, Teams: len(o.Teams), Faults: faults, Version: version, Serve: r.target.Serve,
	}}
	if err := runfolder.Write(r.dir, in); err != nil {
		fmt.Fprintf(stderr, "keyrace race: %v\n", err)
		return o, exitCannotRun
	}
	if !r.quiet {
		printVerdict(stdout, o.Check, r.dir)
		printRepro(stdout, o.Check, r.dir, r.target.Serve)
		fmt.Fprintf(stdout, "seed %d · %d ops in %.1fs (%.0f ops/s) · checked in %s\n", o.Header.Seed, o.Sent, o.Elapsed.Seconds(), o.Throughput, o.Check.CheckDuration.Round(time.Millisecond))
		if o.CleanupError != "" {
			fmt.Fprintf(stderr, "keyrace race: cleanup: %s\n", o.CleanupError)
		}
	}
	if interrupted && o.Check.Verdict != check.VerdictViolation {
		// A violation found before the interrupt stands; "ok" does not.
		fmt.Fprintf(stderr, "keyrace race: interrupted: no violation in what ran, but the run did not finish\n")
		return o, exitCannotRun
	}
	return o, verdictCode(o.Check, stderr)
}

// verdictCode maps a check verdict to the exit code.
func verdictCode(res check.Result, stderr io.Writer) int {
	switch res.Verdict {
	case check.VerdictOK:
		return exitClean
	case check.VerdictViolation:
		return exitViolation
	}
	if res.Inconclusive != "" {
		fmt.Fprintf(stderr, "keyrace: inconclusive: %s\n", res.Inconclusive)
		return exitCannotRun
	}
	fmt.Fprintf(stderr, "keyrace: the checker could not decide every team within its time limit (%d unknown): inconclusive\n", res.TeamsUnknown)
	return exitCannotRun
}

func printVerdict(w io.Writer, res check.Result, dir string) {
	fmt.Fprintf(w, "\nverdict: %s", res.Verdict)
	var parts []string
	for _, k := range check.Kinds {
		if n := res.Counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, " — %s", strings.Join(parts, ", "))
	}
	if res.MaxLag > 0 {
		fmt.Fprintf(w, " · max staleness %.1f ms", float64(res.MaxLag)/float64(time.Millisecond))
	}
	fmt.Fprintf(w, "\nreport: %s\n", filepath.Join(dir, runfolder.ReportFile))
}

// printRepro says how to replay the first violation with repro.sh. An
// embedded service is gone once the run ends, so the script then needs a
// keyrace serve with the same faults, replicas and TTL to aim at (serve).
func printRepro(w io.Writer, res check.Result, dir string, serve *runfolder.Serve) {
	script := filepath.Join(dir, runfolder.ReproFile)
	if res.Verdict != check.VerdictViolation {
		return
	}
	if _, err := os.Stat(script); err != nil {
		return
	}
	if serve == nil {
		fmt.Fprintf(w, "reproduce: KEYRACE_MASTER_KEY=... bash %s\n", script)
		return
	}
	fmt.Fprintf(w, "reproduce (the run's service is gone; start an equivalent one):\n"+
		"  %s\n"+
		"  KEYRACE_TARGET=%s KEYRACE_MASTER_KEY=%s bash %s\n", serve.Command, strings.Join(serve.Targets, ","), serve.MasterKey, script)
}

func loadScenario(name, file string) (*scenarios.Scenario, error) {
	switch {
	case name != "" && file != "":
		return nil, errors.New("give --scenario or --scenario-file, not both")
	case file != "":
		return scenarios.LoadFile(file)
	case name != "":
		return scenarios.Load(name)
	}
	return nil, fmt.Errorf("no scenario: give --scenario NAME (built-in: %s) or --scenario-file", strings.Join(scenarios.Names(), ", "))
}

func listScenarios(stdout, stderr io.Writer) int {
	all, err := scenarios.List()
	if err != nil {
		fmt.Fprintf(stderr, "keyrace race: %v\n", err)
		return exitCannotRun
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tduration\tteams\twhat it provokes\n")
	for _, s := range all {
		desc := s.Description
		if s.Upstream != "" {
			desc += " (" + s.Upstream + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", s.Name, s.Duration.Std(), s.Teams, desc)
	}
	return boolCode(tw.Flush() == nil)
}

func boolCode(ok bool) int {
	if ok {
		return exitClean
	}
	return exitCannotRun
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	consistency := fs.String("consistency", "", "re-check in this mode (default: the mode the run was recorded with)")
	out := fs.String("out", "", "write the re-checked run folder here and leave RUN_DIR as it is (default: rewrite RUN_DIR's reports in place)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: keyrace report [--consistency MODE] [--out DIR] RUN_DIR\n\nRe-checks the history.jsonl of a saved run folder and rewrites its summary,\nHTML report and repro.sh from the fresh verdict (e.g. after a checker fix);\nwith --out, writes a new run folder instead and keeps RUN_DIR's verdict.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nExit codes: 0 clean, 1 violations found, 2 cannot run or inconclusive.\n")
	}
	pos, done, code := parseInterspersed(fs, args, stdout, stderr)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "keyrace report: want one run folder, got %d argument(s)\n", len(pos))
		fs.Usage()
		return exitCannotRun
	}
	dir := pos[0]
	h, err := runfolder.LoadHistory(dir)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace report: %v\n", err)
		return exitCannotRun
	}
	mode := h.Header.Consistency
	if *consistency != "" {
		mode = *consistency
	}
	m, err := check.ParseMode(mode)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace report: %v\n", err)
		return exitCannotRun
	}
	dst := dir
	if *out != "" {
		dst = *out
	}
	res, err := runfolder.RewriteTo(dir, dst, check.Options{Consistency: m})
	if err != nil {
		fmt.Fprintf(stderr, "keyrace report: %v\n", err)
		return exitCannotRun
	}
	fmt.Fprintf(stdout, "%s: %s scenario %s, seed %d, %d ops, consistency %s\n", dir, h.Header.Format, h.Header.Scenario, h.Header.Seed, len(h.Ops), m)
	printVerdict(stdout, res, dst)
	var serve *runfolder.Serve
	if sum, err := runfolder.LoadSummary(dst); err == nil {
		serve = sum.Serve
	}
	printRepro(stdout, res, dst, serve)
	_ = ctx
	return verdictCode(res, stderr)
}
