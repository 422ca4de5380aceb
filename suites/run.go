package suites

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/reports"
	"github.com/keyrace/keyrace/suites/seq"
)

// Version is the suite version stamped into conformance reports.
const Version = "0.2.0"

// unsupportedPrefix starts the skip message of specs whose features the
// target did not declare; reports count those as unsupported.
const unsupportedPrefix = "unsupported feature: "

// Config is one run of the suites.
type Config struct {
	// Targets are the base URLs of the target's replicas.
	Targets []string
	// MasterKey is the proxy's master key.
	MasterKey string
	// Features the target declares (ParseFeatures); core when nil.
	Features FeatureSet
	// Consistency is "strict" (default) or "bounded:<duration>".
	Consistency string
	// OutDir receives junit.xml, ginkgo-report.json and the conformance
	// report; "" writes nothing.
	OutDir string
	// Implementation is stamped into the conformance report.
	Implementation reports.Implementation
	// LabelFilter selects specs (Ginkgo's label language, e.g. "consistency").
	LabelFilter string
	// Seed orders nothing today but names every run; 0 picks one.
	Seed int64
	// Repeat runs every spec this many times, failing on the first failure.
	Repeat int
	// Timeout bounds the whole run (default 10 minutes).
	Timeout time.Duration
	// RequestTimeout bounds one request (default client.DefaultTimeout).
	RequestTimeout time.Duration
	// Progress, when set, receives one line per finished spec (and the
	// evidence of failures) instead of Ginkgo's own console output.
	Progress io.Writer
	// NoColor turns off ANSI colours.
	NoColor bool
	// Disruptor, when set, lets the resilience specs pause Redis and cut
	// off, kill and restart replicas (a topology keyrace started).
	Disruptor Disruptor
}

// Disruptor breaks the target on purpose. Replica indexes follow Targets.
type Disruptor interface {
	PauseRedis(ctx context.Context) error
	UnpauseRedis(ctx context.Context) error
	Disconnect(ctx context.Context, replica int) error
	Reconnect(ctx context.Context, replica int) error
	Kill(ctx context.Context, replica int) error
	Restart(ctx context.Context, replica int) error
}

// Outcome is what a run found.
type Outcome struct {
	// Report is the conformance report of the run.
	Report reports.ConformanceReport
	// Failed lists failed specs, sorted.
	Failed []string
	// CannotRun is set when the target could not be judged (down, refused
	// the master key, garbage answers).
	CannotRun error
}

// active is the configuration of the running suite. Ginkgo builds its spec
// tree from package-level declarations, so the run's settings reach the
// specs through this variable, set once before RunSpecs.
var (
	active  Config
	env     *Env
	outcome Outcome
)

// parseBound reads a consistency mode.
func parseBound(mode string) (time.Duration, error) {
	switch {
	case mode == "" || mode == "strict":
		return 0, nil
	case strings.HasPrefix(mode, "bounded:"):
		d, err := time.ParseDuration(strings.TrimPrefix(mode, "bounded:"))
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("consistency %q: want bounded:<positive duration>, e.g. bounded:500ms", mode)
		}
		return d, nil
	}
	return 0, fmt.Errorf("consistency %q: want strict or bounded:<duration>", mode)
}

// prepare validates cfg and fills defaults.
func prepare(cfg Config) (Config, *Env, error) {
	bound, err := parseBound(cfg.Consistency)
	if err != nil {
		return cfg, nil, err
	}
	if cfg.Consistency == "" {
		cfg.Consistency = "strict"
	}
	if cfg.LabelFilter != "" {
		if _, err := types.ParseLabelFilter(cfg.LabelFilter); err != nil {
			return cfg, nil, fmt.Errorf("label filter %q: %s", cfg.LabelFilter, labelFilterError(err))
		}
	}
	if cfg.Repeat < 0 {
		return cfg, nil, fmt.Errorf("repeat %d: want 0 or more", cfg.Repeat)
	}
	if cfg.Features == nil {
		cfg.Features, _ = ParseFeatures("core")
	}
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano() % 1_000_000_007
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	var opts []client.Option
	if cfg.RequestTimeout > 0 {
		opts = append(opts, client.WithTimeout(cfg.RequestTimeout))
	}
	t, err := seq.NewTarget(cfg.Targets, cfg.MasterKey, opts...)
	if err != nil {
		return cfg, nil, err
	}
	e := &Env{RunID: t.RunID, Features: FeatureSet{}, Bound: bound}
	for f, on := range cfg.Features {
		e.Features[f] = on
	}
	for _, u := range cfg.Targets {
		if u = strings.TrimSpace(u); u != "" {
			c, _ := client.New(u, cfg.MasterKey, opts...)
			e.Replicas = append(e.Replicas, c)
		}
	}
	if len(e.Replicas) >= 2 {
		e.Features[FeatureMultiReplica] = true
	}
	if cfg.Disruptor != nil && len(e.Replicas) >= 2 {
		e.Disruptor = cfg.Disruptor
		e.Features[FeatureDisruptions] = true
	}
	if cfg.Implementation.Project == "" {
		cfg.Implementation = reports.Implementation{Organization: "unknown", Project: "unknown", Version: "unknown", Contact: []string{}}
	}
	if cfg.Implementation.Contact == nil {
		cfg.Implementation.Contact = []string{}
	}
	return cfg, e, nil
}

// failer satisfies GinkgoTestingT outside `go test`.
type failer struct{ failed bool }

func (f *failer) Fail() { f.failed = true }

// Run runs the registered specs against cfg's target in this process and
// writes the reports. Ginkgo allows one run per process. The error is for
// a configuration that cannot start; a target that cannot be judged comes
// back as Outcome.CannotRun.
func Run(cfg Config) (Outcome, error) {
	cfg, e, err := prepare(cfg)
	if err != nil {
		return Outcome{}, err
	}
	active, env = cfg, e
	sc, rc := GinkgoConfiguration()
	sc.RandomSeed = cfg.Seed
	sc.LabelFilter = cfg.LabelFilter
	sc.Timeout = cfg.Timeout
	sc.MustPassRepeatedly = cfg.Repeat
	rc.NoColor = cfg.NoColor
	if cfg.Progress != nil {
		formatter.ColorableStdOut = io.Discard
	}
	rc.SilenceSkips = false
	RegisterFailHandler(Fail)
	RunSpecs(&failer{}, "keyrace suites", sc, rc)
	return outcome, nil
}

// RunFromTest runs the suites from a `go test` binary (t is its *testing.T).
func RunFromTest(t GinkgoTestingT, cfg Config) error {
	cfg, e, err := prepare(cfg)
	if err != nil {
		return err
	}
	active, env = cfg, e
	sc, rc := GinkgoConfiguration()
	if sc.RandomSeed == 0 {
		sc.RandomSeed = cfg.Seed
	}
	if sc.LabelFilter == "" {
		sc.LabelFilter = cfg.LabelFilter
	}
	if cfg.Repeat > 0 {
		sc.MustPassRepeatedly = cfg.Repeat
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "keyrace suites", sc, rc)
	return nil
}

var _ = BeforeSuite(func(ctx SpecContext) {
	for _, c := range env.Replicas {
		if err := seq.Preflight(ctx, c); err != nil {
			markCannotRun(err)
			Fail(err.Error())
		}
	}
	SetDefaultEventuallyTimeout(5 * time.Second)
})

var _ = Describe("keyrace", func() {
	for _, tier := range Tiers {
		Describe(string(tier), Label(string(tier)), func() {
			for _, s := range Specs() {
				if s.Tier != tier {
					continue
				}
				labels := []string{string(s.Profile)}
				if s.Slow {
					labels = append(labels, "slow")
				}
				It(s.Name, Label(labels...), func(ctx SpecContext) {
					if missing := missingFeatures(s); len(missing) > 0 {
						Skip(unsupportedPrefix + strings.Join(missing, ", "))
					}
					if err := cannotRunErr(); err != nil {
						// The run cannot be judged any more (exit 2): waiting
						// out every request timeout would only delay saying so.
						Skip("not run: an earlier spec found the target cannot be judged: " + err.Error())
					}
					s.Run(ctx, env)
				})
			}
		})
	}
})

func missingFeatures(s Spec) []string {
	need := append([]FeatureName(nil), s.Features...)
	if s.Tier == Replicas {
		need = append(need, FeatureMultiReplica)
	}
	var out []string
	for _, f := range need {
		if !env.Features[f] {
			out = append(out, string(f))
		}
	}
	return out
}

var _ = ReportAfterEach(func(sr SpecReport) {
	w := active.Progress
	if w == nil || sr.LeafNodeType != types.NodeTypeIt {
		return
	}
	mark := map[types.SpecState]string{types.SpecStatePassed: "ok  ", types.SpecStateSkipped: "skip"}[sr.State]
	if mark == "" {
		mark = "FAIL"
	}
	tier := ""
	if len(sr.ContainerHierarchyTexts) > 1 {
		tier = sr.ContainerHierarchyTexts[1]
	}
	if sr.State == types.SpecStateSkipped && sr.Failure.Message == "" {
		return // filtered out by --label-filter: not worth a line
	}
	fmt.Fprintf(w, "  %s %-12s %-44s %6.0f ms", mark, tier, sr.LeafNodeText, ms(sr.RunTime))
	switch {
	case sr.State == types.SpecStateSkipped:
		fmt.Fprintf(w, "  (%s)\n", sr.Failure.Message)
	case mark == "FAIL":
		fmt.Fprintf(w, "\n      %s\n      at %s\n", strings.ReplaceAll(strings.TrimSpace(sr.Failure.Message), "\n", "\n      "), sr.Failure.Location)
	default:
		fmt.Fprintln(w)
	}
})

var _ = ReportAfterSuite("keyrace reports", func(r Report) {
	outcome = buildOutcome(r)
	if active.OutDir == "" {
		return
	}
	if err := writeReports(active.OutDir, r, outcome.Report); err != nil && outcome.CannotRun == nil {
		outcome.CannotRun = fmt.Errorf("write the reports to %s: %w", active.OutDir, err)
	}
})

// cannotRunErr is the first failure that says nothing about the target's
// correctness, or nil.
func cannotRunErr() error {
	cannotRun.Lock()
	defer cannotRun.Unlock()
	return cannotRun.err
}

// labelFilterError is the first line of Ginkgo's label-filter error, without
// its colour codes.
func labelFilterError(err error) string {
	msg := err.Error()
	if e, ok := err.(types.GinkgoError); ok {
		msg = e.Heading + ": " + e.Message
	}
	msg = regexp.MustCompile(`\x1b\[[0-9;]*m|\{\{[a-z/]*\}\}`).ReplaceAllString(msg, "")
	return strings.Join(strings.Fields(msg), " ")
}

// buildOutcome turns Ginkgo's report into keyrace's.
func buildOutcome(r Report) Outcome {
	var outs []reports.SpecOutcome
	var failed []string
	var interrupted error
	judged := 0 // specs that ran to a verdict or were found unsupported
	for _, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt {
			continue
		}
		s, ok := SpecByName(sr.LeafNodeText)
		if !ok {
			continue
		}
		o := reports.SpecOutcome{Name: s.Name, Profile: string(s.Profile)}
		for _, f := range s.Features {
			o.Features = append(o.Features, string(f))
		}
		if s.Tier == Replicas {
			o.Features = append(o.Features, string(FeatureMultiReplica))
		}
		switch {
		case sr.State.Is(types.SpecStateInterrupted | types.SpecStateAborted | types.SpecStateTimedout):
			// Stopped from outside (Ctrl-C, the suite's time limit): the
			// target was not judged, so this is not a failure of it.
			interrupted = fmt.Errorf("%s was %s before it could judge the target", s.Name, sr.State)
			o.State = reports.StateSkipped
		case sr.State == types.SpecStatePassed:
			o.State = reports.StatePassed
		case sr.State == types.SpecStateSkipped && strings.HasPrefix(sr.Failure.Message, unsupportedPrefix):
			o.State = reports.StateUnsupported
		case sr.State == types.SpecStateSkipped || sr.State == types.SpecStatePending:
			o.State = reports.StateSkipped
		default:
			o.State = reports.StateFailed
			failed = append(failed, s.Name)
		}
		if o.State != reports.StateSkipped {
			judged++
		}
		outs = append(outs, o)
	}
	declared := map[string]bool{}
	for f, on := range env.Features {
		declared[string(f)] = on
	}
	profiles := reports.BuildProfiles(outs, []string{string(Core), string(Extended)}, declared)
	rep := reports.ConformanceReport{
		APIVersion: reports.APIVersion, Kind: reports.Kind, Date: time.Now().UTC().Format(time.RFC3339),
		Implementation: active.Implementation, SuiteVersion: Version, Seed: active.Seed,
		ConsistencyMode: active.Consistency, Replicas: len(env.Replicas), Profiles: profiles,
		Summary: reports.Summarize(profiles),
	}
	why := cannotRunErr()
	switch {
	case why != nil:
	case interrupted != nil:
		why = interrupted
	case judged == 0:
		why = fmt.Errorf("no spec ran: the label filter %q selects none (tiers: %s; profiles: core, extended; slow)", active.LabelFilter, tierNames())
	}
	return Outcome{Report: rep, Failed: failed, CannotRun: why}
}

func writeReports(dir string, r Report, rep reports.ConformanceReport) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// One testcase per spec: the suite's setup and report nodes are not specs.
	cfg := reporters.JunitReportConfig{OmitTimelinesForSpecState: types.SpecStatePassed, OmitLeafNodeType: true, OmitSuiteSetupNodes: true}
	if err := reporters.GenerateJUnitReportWithConfig(r, filepath.Join(dir, "junit.xml"), cfg); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	if err := reporters.GenerateJSONReport(r, filepath.Join(dir, "ginkgo-report.json")); err != nil {
		return fmt.Errorf("ginkgo json report: %w", err)
	}
	return rep.WriteFiles(dir)
}
