package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keyrace/keyrace/reports"
	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/suites"
	"github.com/keyrace/keyrace/suites/seq"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	tf := addTargetFlags(fs)
	features := fs.String("features", envOr("KEYRACE_FEATURES", ""), "features the target declares: core (default; all for --target embedded), all, or a comma list (env KEYRACE_FEATURES); specs needing others are skipped as unsupported")
	consistency := fs.String("consistency", "strict", "strict (read-your-writes) or bounded:<duration> (decisions may lag a write by up to that)")
	out := fs.String("out", "", "directory for junit.xml, ginkgo-report.json and conformance-report.{yaml,json} (default: write none)")
	labels := fs.String("label-filter", "", "run only specs matching this Ginkgo label filter, e.g. 'consistency' or 'core && !slow'")
	repeat := fs.Int("repeat", 0, "run every spec this many times, failing on the first failure")
	seed := fs.Int64("seed", 0, "random seed of the run (0 picks one; it is printed and reported)")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request timeout")
	var impl reports.Implementation
	fs.StringVar(&impl.Organization, "impl-organization", "", "conformance report: organisation of the implementation")
	fs.StringVar(&impl.Project, "impl-project", "", "conformance report: project name of the implementation")
	fs.StringVar(&impl.URL, "impl-url", "", "conformance report: project URL")
	fs.StringVar(&impl.Version, "impl-version", "", "conformance report: version tested")
	contact := fs.String("impl-contact", "", "conformance report: contacts, comma-separated")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: keyrace check --target URL[,URL...] --master-key KEY [flags]\n       keyrace check --target embedded [--fault NAME] [--replicas N]\n\n")
		fmt.Fprintf(fs.Output(), "Runs keyrace's conformance, consistency, concurrency and replica specs against a\nLiteLLM-compatible proxy. Every spec creates teams named keyrace-<run>-* and\ndeletes them afterwards, so a shared proxy can be checked.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nFeatures: %s (core: %s)\n", featureList(suites.AllFeatures), featureList(suites.CoreFeatures))
		fmt.Fprintf(fs.Output(), "\nExit codes: 0 clean, 1 a spec failed (a violation), 2 cannot run (target down or stopped answering, key\nrefused, garbage answers, interrupted, bad flags, a label filter selecting no spec, an --out that\ncannot be written).\n")
	}
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "keyrace check: --timeout %s: want a positive duration\n", *timeout)
		return exitCannotRun
	}
	if _, err := check.ParseMode(*consistency); err != nil {
		fmt.Fprintf(stderr, "keyrace check: --consistency: %v\n", err)
		return exitCannotRun
	}
	if *out != "" {
		if err := writableDir(*out); err != nil {
			fmt.Fprintf(stderr, "keyrace check: --out: %v\n", err)
			return exitCannotRun
		}
	}
	tg, ok := tf.resolve(ctx, "check", stderr)
	if !ok {
		return exitCannotRun
	}
	defer tg.Close()
	if tg.MasterKey == "" {
		fmt.Fprintf(stderr, "keyrace check: no master key: give --master-key or set KEYRACE_MASTER_KEY\n")
		return exitCannotRun
	}
	if *features == "" && (tf.embedded() || strings.HasPrefix(tf.topo, "reference")) {
		*features = "all"
	}
	fset, err := suites.ParseFeatures(*features)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace check: --features: %v\n", err)
		return exitCannotRun
	}
	if *contact != "" {
		impl.Contact = splitTargets(*contact)
	}
	cfg := suites.Config{
		Targets: tg.URLs, MasterKey: tg.MasterKey, Features: fset, Consistency: *consistency,
		OutDir: *out, Implementation: impl, LabelFilter: *labels, Seed: *seed, Repeat: *repeat,
		RequestTimeout: *timeout, Progress: stdout, NoColor: true,
	}
	fmt.Fprintf(stdout, "keyrace check · %s · features %s · consistency %s\n", tg.Describe, strings.Join(fset.Names(), ","), *consistency)
	if tg.topo != nil {
		cfg.Disruptor = disruptor{tg.topo}
	}
	res, err := suites.Run(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace check: %v\n", err)
		return exitCannotRun
	}
	return reportOutcome(res, *out, stdout, stderr)
}

// reportOutcome prints the closing lines and maps the outcome to an exit code.
func reportOutcome(res suites.Outcome, out string, stdout, stderr io.Writer) int {
	if res.CannotRun != nil {
		fmt.Fprintf(stderr, "keyrace check: cannot judge the target: %v\n", res.CannotRun)
		return exitCannotRun
	}
	fmt.Fprintf(stdout, "\nconformance: %s — %s\n", res.Report.Overall(), res.Report.Summary)
	fmt.Fprintf(stdout, "seed %d (--seed %d runs the specs in the same order)\n", res.Report.Seed, res.Report.Seed)
	if out != "" {
		fmt.Fprintf(stdout, "reports: %s/{junit.xml,ginkgo-report.json,conformance-report.yaml,conformance-report.json}\n", out)
	}
	switch {
	case len(res.Failed) > 0:
		fmt.Fprintf(stderr, "keyrace check: %d spec(s) failed: %s\n", len(res.Failed), strings.Join(res.Failed, ", "))
		return exitViolation
	}
	return exitClean
}

// writableDir makes dir if needed and checks that files can be created in
// it, so that a run does not end in reports it cannot write.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".keyrace-probe-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

func featureList(fs []suites.FeatureName) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
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

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// printResult prints one sequence result with the evidence of its decisive
// steps (used by demo).
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
