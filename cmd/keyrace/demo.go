package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	runfolder "github.com/keyrace/keyrace/reports/run"
	"github.com/keyrace/keyrace/scenarios"
	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/suites/seq"
)

// demoKey is the master key of the demo's embedded services.
const demoKey = "sk-keyrace-demo"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "print every step of both runs")
	raceFor := fs.Duration("race", 10*time.Second, "length of the warm-update race against each build (0 skips the races)")
	out := fs.String("out", filepath.Join("runs", "demo"), "where the races' run folders go")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: keyrace demo [-v] [--race DURATION] [--out DIR]\n\nStarts two reference services in-process on loopback, one correct and one with\nthe fault %s (LiteLLM 1.83's bug), runs the seed sequence\nand its inverse against both, and prints what each build answered; then races\nwarm-update against each build and writes their run folders under --out.\nExit 0 when the faulty build reproduces the bug, the race catches it, and the\ncorrect build is clean in both.\n\nFlags:\n", refimpl.FaultStaleObjectPermission)
		fs.PrintDefaults()
	}
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	start := time.Now()
	correct, err := runEmbeddedCheck(ctx, refimpl.FaultSet{}, *verbose, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace demo: correct build: %v\n", err)
		return exitCannotRun
	}
	faulty, err := runEmbeddedCheck(ctx, refimpl.FaultSet{refimpl.FaultStaleObjectPermission: true}, *verbose, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace demo: faulty build: %v\n", err)
		return exitCannotRun
	}
	printDemoTable(stdout, correct, faulty)
	racesOK := true
	if *raceFor > 0 {
		racesOK = demoRaces(ctx, *raceFor, *out, stdout, stderr)
	}

	correctClean := true
	for _, r := range correct {
		correctClean = correctClean && !r.Verdict().Violation()
	}
	reproduced := len(faulty) == 2 && faulty[0].Verdict() == seq.StaleDeny && faulty[1].Verdict() == seq.StaleAllow
	fmt.Fprintf(stdout, "\ncorrect build: %s\nfaulty build (%s): %s\n(%.1f s)\n",
		cleanWord(correctClean), refimpl.FaultStaleObjectPermission, reproducedWord(reproduced), time.Since(start).Seconds())
	if !correctClean || !reproduced || !racesOK {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "keyrace demo: interrupted\n")
			return exitCannotRun
		}
		fmt.Fprintf(stderr, "keyrace demo: the demo did not come out as expected (correct clean=%v, bug reproduced=%v, races as expected=%v)\n", correctClean, reproduced, racesOK)
		return exitViolation
	}
	return exitClean
}

func cleanWord(ok bool) string {
	if ok {
		return "clean: every decision saw the acknowledged write"
	}
	return "VIOLATIONS (unexpected)"
}

func reproducedWord(ok bool) string {
	if ok {
		return "bug reproduced: stale deny after the grant, stale allow after the revoke"
	}
	return "bug NOT reproduced (unexpected)"
}

// runEmbeddedCheck starts a reference service with the given faults, runs
// the seed sequences against it and stops it.
func runEmbeddedCheck(ctx context.Context, faults refimpl.FaultSet, verbose bool, w io.Writer) ([]seq.Result, error) {
	svc, err := refimpl.Start(refimpl.Config{MasterKey: demoKey, Faults: faults})
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	t, err := seq.NewTarget([]string{svc.URL}, demoKey)
	if err != nil {
		return nil, err
	}
	each := func(seq.Result) {}
	if verbose {
		fmt.Fprintf(w, "\n=== %s (%s)\n", svc.URL, buildName(faults))
		each = func(r seq.Result) { printResult(w, r) }
	}
	return seq.Run(ctx, t, seq.Seed(), each)
}

func buildName(f refimpl.FaultSet) string {
	if s := f.String(); s != "" {
		return "fault " + s
	}
	return "correct build"
}

func printDemoTable(w io.Writer, correct, faulty []seq.Result) {
	fmt.Fprintf(w, "\nThe seed bug: a team's MCP access groups change; a key is requested at once.\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "step\texpected\tcorrect build\tfaulty build (%s)\n", refimpl.FaultStaleObjectPermission)
	fmt.Fprintf(tw, "----\t--------\t-------------\t-------------\n")
	for i := range correct {
		c, f := correct[i].Decisive(), faulty[i].Decisive()
		fmt.Fprintf(tw, "%s: %s\t%s\t%s\t%s\n", correct[i].Sequence, c.Name, c.Expected, cell(c), cell(f))
	}
	tw.Flush()
	for _, r := range faulty {
		if d := r.Decisive(); d.Verdict == seq.StaleDeny && d.Exchange != nil {
			fmt.Fprintf(w, "\nThe faulty build's answer, %s after /team/update was acknowledged:\n  %s %s\n  %s\n  HTTP %d %s\n",
				ms(d.SinceAck), d.Exchange.Method, d.Exchange.URL, d.Exchange.RequestBody, d.Exchange.Status, d.Exchange.ResponseBody)
		}
	}
}

func cell(s seq.Step) string {
	v := strings.ToUpper(string(s.Verdict))
	if s.Verdict == seq.Pass {
		v = "ok"
	}
	return fmt.Sprintf("%s [%s]", s.Observed, v)
}

// demoRaces runs the warm-update race against a correct and a faulty
// embedded service and prints each verdict and its report. It returns
// whether the correct build was clean and the faulty one caught.
func demoRaces(ctx context.Context, d time.Duration, out string, stdout, stderr io.Writer) bool {
	sc, err := scenarios.Load("warm-update")
	if err != nil {
		fmt.Fprintf(stderr, "keyrace demo: %v\n", err)
		return false
	}
	fmt.Fprintf(stdout, "\nThe same bug under load: %s of the warm-update race (%s) against each build.\n\n", d, sc.Description)
	ok := true
	for _, b := range []struct {
		name, faults string
		want         int
	}{{"correct", "", exitClean}, {"faulty", string(refimpl.FaultStaleObjectPermission), exitViolation}} {
		tg, err := resolveTarget(ctx, targetFlags{spec: embeddedTarget, faults: b.faults, replicas: 1})
		if err != nil {
			fmt.Fprintf(stderr, "keyrace demo: %v\n", err)
			return false
		}
		dir := filepath.Join(out, "warm-update-"+b.name)
		o, code := race(ctx, raceRun{sc: sc, target: tg, faults: b.faults, duration: d, consistency: "strict", dir: dir, quiet: true}, io.Discard, stderr)
		tg.Close()
		if o == nil {
			return false
		}
		fmt.Fprintf(stdout, "  %-8s build: %d ops, verdict %s", b.name, o.Sent, o.Check.Verdict)
		if n := o.Violations(); n > 0 {
			fmt.Fprintf(stdout, " (%s), first found %.0f ms into the run", countsLine(o.Check), firstViolationMs(o))
		}
		fmt.Fprintf(stdout, "\n           report: %s\n", filepath.Join(dir, runfolder.ReportFile))
		ok = ok && code == b.want
	}
	return ok
}

func countsLine(res check.Result) string {
	var parts []string
	for _, k := range check.Kinds {
		if n := res.Counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(parts, ", ")
}

func firstViolationMs(o *scenarios.Outcome) float64 {
	if len(o.Check.Violations) == 0 {
		return 0
	}
	return float64(o.Check.Violations[0].Decision.Call) / float64(time.Millisecond)
}
