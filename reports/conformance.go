// Package reports holds keyrace's report formats and their writers: the
// versioned conformance report vendors submit (YAML and JSON), and the
// files CI reads.
package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// APIVersion and Kind identify the conformance report format. A change that
// removes or renames a field bumps the version.
const (
	APIVersion = "keyrace.dev/v1alpha1"
	Kind       = "ConformanceReport"
)

// Result is the outcome of a profile: success (every spec ran and passed),
// partial (none failed, but some did not run for reasons other than an
// unsupported feature), failure (at least one failed).
type Result string

// Profile results.
const (
	Success Result = "success"
	Partial Result = "partial"
	Failure Result = "failure"
)

// ConformanceReport is what a run of the suites says about one
// implementation, in the spirit of Gateway API's ConformanceReport.
type ConformanceReport struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Date is when the run ended, RFC 3339.
	Date string `json:"date"`
	// Implementation is who and what was tested (given by flags).
	Implementation Implementation `json:"implementation"`
	// SuiteVersion is the keyrace version that ran the suites.
	SuiteVersion string `json:"suiteVersion"`
	// Seed is the random seed of the run (spec order, ids).
	Seed int64 `json:"seed"`
	// ConsistencyMode is "strict" or "bounded:<duration>".
	ConsistencyMode string `json:"consistencyMode"`
	// Replicas is how many base URLs the target had.
	Replicas int `json:"replicas"`
	// Profiles are the per-profile results, sorted by name.
	Profiles []ProfileReport `json:"profiles"`
	// Summary is one line a person can read.
	Summary string `json:"summary"`
}

// Implementation describes the tested product.
type Implementation struct {
	Organization string   `json:"organization"`
	Project      string   `json:"project"`
	URL          string   `json:"url"`
	Version      string   `json:"version"`
	Contact      []string `json:"contact"`
}

// ProfileReport is the result of one profile ("core" or "extended").
type ProfileReport struct {
	Name   string `json:"name"`
	Result Result `json:"result"`
	// Statistics count specs by outcome.
	Statistics Statistics `json:"statistics"`
	// FailedSpecs and SkippedSpecs name specs, sorted.
	FailedSpecs  []string `json:"failedSpecs"`
	SkippedSpecs []string `json:"skippedSpecs"`
	// SupportedFeatures were declared by the target and tested;
	// UnsupportedFeatures were not declared, and their specs were skipped
	// without counting against the result. Both sorted.
	SupportedFeatures   []string `json:"supportedFeatures"`
	UnsupportedFeatures []string `json:"unsupportedFeatures"`
}

// Statistics count specs by outcome.
type Statistics struct {
	Passed      int `json:"passed"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Unsupported int `json:"unsupported"`
}

// SpecOutcome is one spec's outcome as the suites report it.
type SpecOutcome struct {
	Name     string
	Profile  string
	Features []string
	// State is "passed", "failed", "skipped" or "unsupported".
	State string
}

// Spec states that SpecOutcome.State takes.
const (
	StatePassed      = "passed"
	StateFailed      = "failed"
	StateSkipped     = "skipped"
	StateUnsupported = "unsupported"
)

// BuildProfiles rolls spec outcomes up into sorted profile reports.
// declared is the set of features the target declared.
func BuildProfiles(outcomes []SpecOutcome, profiles []string, declared map[string]bool) []ProfileReport {
	var out []ProfileReport
	for _, name := range profiles {
		p := ProfileReport{Name: name, FailedSpecs: []string{}, SkippedSpecs: []string{}, SupportedFeatures: []string{}, UnsupportedFeatures: []string{}}
		sup, unsup := map[string]bool{}, map[string]bool{}
		for _, o := range outcomes {
			if o.Profile != name {
				continue
			}
			for _, f := range o.Features {
				if declared[f] {
					sup[f] = true
				} else {
					unsup[f] = true
				}
			}
			switch o.State {
			case StatePassed:
				p.Statistics.Passed++
			case StateFailed:
				p.Statistics.Failed++
				p.FailedSpecs = append(p.FailedSpecs, o.Name)
			case StateUnsupported:
				p.Statistics.Unsupported++
			default:
				p.Statistics.Skipped++
				p.SkippedSpecs = append(p.SkippedSpecs, o.Name)
			}
		}
		p.SupportedFeatures, p.UnsupportedFeatures = sortedKeys(sup), sortedKeys(unsup)
		sort.Strings(p.FailedSpecs)
		sort.Strings(p.SkippedSpecs)
		switch {
		case p.Statistics.Failed > 0:
			p.Result = Failure
		case p.Statistics.Skipped > 0 || p.Statistics.Passed == 0:
			p.Result = Partial
		default:
			p.Result = Success
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Summarize writes the one-line summary of a report's profiles.
func Summarize(ps []ProfileReport) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		s := fmt.Sprintf("%s: %s (%d passed", p.Name, p.Result, p.Statistics.Passed)
		if p.Statistics.Failed > 0 {
			s += fmt.Sprintf(", %d failed: %s", p.Statistics.Failed, strings.Join(p.FailedSpecs, ", "))
		}
		if p.Statistics.Skipped > 0 {
			s += fmt.Sprintf(", %d skipped", p.Statistics.Skipped)
		}
		if len(p.UnsupportedFeatures) > 0 {
			s += fmt.Sprintf(", unsupported: %s", strings.Join(p.UnsupportedFeatures, ", "))
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, "; ")
}

// Overall is the worst profile result (failure > partial > success).
func (r ConformanceReport) Overall() Result {
	res := Success
	for _, p := range r.Profiles {
		if p.Result == Failure {
			return Failure
		}
		if p.Result == Partial {
			res = Partial
		}
	}
	return res
}

// WriteFiles writes the report as <dir>/conformance-report.yaml and .json.
func (r ConformanceReport) WriteFiles(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("conformance report: %w", err)
	}
	ys, err := yaml.JSONToYAML(js)
	if err != nil {
		return fmt.Errorf("conformance report: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("conformance report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conformance-report.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("conformance report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conformance-report.yaml"), ys, 0o644); err != nil {
		return fmt.Errorf("conformance report: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
