package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyrace/keyrace/suites/seq"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	target := fs.String("target", envOr("KEYRACE_TARGET", ""), "proxy base URL, or several replicas comma-separated (env KEYRACE_TARGET); writes go to the first, decisions to the last")
	masterKey := fs.String("master-key", envOr("KEYRACE_MASTER_KEY", ""), "the proxy's master key (env KEYRACE_MASTER_KEY)")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request timeout")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: keyrace check --target URL[,URL...] --master-key KEY\n\n")
		fmt.Fprintf(stderr, "Runs the seed sequence (grant, then generate at once) and its inverse (revoke,\nthen generate at once) against a LiteLLM-compatible proxy and judges each step.\nIt creates teams named keyrace-<run>-* and deletes them afterwards.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExit codes: 0 clean, 1 violation found, 2 cannot run (target down, key refused, garbage answers).\n")
	}
	if done, code := parseFlags(fs, args, stderr); done {
		return code
	}
	results, err := check(ctx, splitTargets(*target), *masterKey, *timeout, stdout)
	return verdictExit(results, err, stderr)
}

func splitTargets(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// check runs the seed sequences and prints every result as it completes.
func check(ctx context.Context, urls []string, masterKey string, timeout time.Duration, w io.Writer) ([]seq.Result, error) {
	t, err := seq.NewTarget(urls, masterKey, clientTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", seq.ErrCannotRun, err)
	}
	fmt.Fprintf(w, "keyrace check · writes via %s · decisions via %s · run %s\n", t.Writer.BaseURL(), t.Decider.BaseURL(), t.RunID)
	return seq.Run(ctx, t, seq.Seed(), func(r seq.Result) { printResult(w, r) })
}

// verdictExit prints the closing line and maps the outcome to an exit code.
func verdictExit(results []seq.Result, err error, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintf(stderr, "keyrace: %v\n", err)
		if !errors.Is(err, seq.ErrCannotRun) {
			fmt.Fprintf(stderr, "keyrace: (unexpected error)\n")
		}
		return exitCannotRun
	}
	violations := 0
	for _, r := range results {
		if r.Verdict().Violation() {
			violations++
		}
	}
	if violations > 0 {
		fmt.Fprintf(stderr, "keyrace: %d of %d sequences found a violation\n", violations, len(results))
		return exitViolation
	}
	return exitClean
}

func printResult(w io.Writer, r seq.Result) {
	fmt.Fprintf(w, "\n%s  (team %s)\n", r.Sequence, r.Team)
	for _, s := range r.Steps {
		mark := "  ok "
		if s.Verdict.Violation() {
			mark = "  FAIL"
		}
		status := 0
		if s.Exchange != nil {
			status = s.Exchange.Status
		}
		fmt.Fprintf(w, "%-6s %-44s %d", mark, s.Name, status)
		if s.SinceAck > 0 {
			fmt.Fprintf(w, "  started %s after the write was acknowledged", ms(s.SinceAck))
		}
		fmt.Fprintln(w)
		if s.Verdict == seq.Setup {
			continue
		}
		fmt.Fprintf(w, "         expected: %s\n         observed: %s\n         verdict:  %s\n", s.Expected, s.Observed, s.Verdict)
		if s.Verdict.Violation() && s.Exchange != nil {
			fmt.Fprintf(w, "         request:  %s %s %s\n         response: %s\n", s.Exchange.Method, s.Exchange.URL, s.Exchange.RequestBody, s.Exchange.ResponseBody)
		}
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
