package reports

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestBuildProfiles(t *testing.T) {
	outs := []SpecOutcome{
		{Name: "B", Profile: "core", Features: []string{"teams"}, State: StatePassed},
		{Name: "A", Profile: "core", Features: []string{"keys"}, State: StateFailed},
		{Name: "C", Profile: "extended", Features: []string{"member-add"}, State: StateUnsupported},
		{Name: "D", Profile: "extended", Features: []string{"teams"}, State: StatePassed},
		{Name: "F", Profile: "extended", Features: []string{"teams"}, State: StateSkipped},
		{Name: "E", Profile: "extended", Features: []string{"teams"}, State: StateSkipped},
	}
	ps := BuildProfiles(outs, []string{"extended", "core"}, map[string]bool{"teams": true, "keys": true})
	if len(ps) != 2 || ps[0].Name != "core" || ps[1].Name != "extended" {
		t.Fatalf("profiles not sorted: %+v", ps)
	}
	core, ext := ps[0], ps[1]
	if core.Result != Failure || !slices.Equal(core.FailedSpecs, []string{"A"}) || core.Statistics != (Statistics{Passed: 1, Failed: 1}) ||
		!slices.Equal(core.SupportedFeatures, []string{"keys", "teams"}) {
		t.Errorf("core: %+v", core)
	}
	if ext.Result != Partial || !slices.Equal(ext.SkippedSpecs, []string{"E", "F"}) || ext.Statistics != (Statistics{Passed: 1, Skipped: 2, Unsupported: 1}) ||
		!slices.Equal(ext.UnsupportedFeatures, []string{"member-add"}) {
		t.Errorf("extended: %+v", ext)
	}
	only := BuildProfiles(outs[3:4], []string{"extended"}, map[string]bool{"teams": true})
	if only[0].Result != Success {
		t.Errorf("all passed must be success: %+v", only[0])
	}
	if s := Summarize(ps); !strings.Contains(s, "core: failure (1 passed, 1 failed: A)") || !strings.Contains(s, "unsupported: member-add") {
		t.Errorf("summary %q", s)
	}
}

// TestReferenceReportValidates checks the checked-in report of the
// reference service against the schema, and that it claims success.
func TestReferenceReportValidates(t *testing.T) {
	y, err := os.ReadFile("reference/conformance-report.yaml")
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateConformance(j); err != nil {
		t.Fatal(err)
	}
	var r ConformanceReport
	if err := json.Unmarshal(j, &r); err != nil {
		t.Fatal(err)
	}
	if r.Overall() != Success || len(r.Profiles) != 2 {
		t.Fatalf("the reference service's report is %s: %s", r.Overall(), r.Summary)
	}
}

func TestSchemaRejectsBadReports(t *testing.T) {
	good := ConformanceReport{APIVersion: APIVersion, Kind: Kind, Date: "2026-12-03T10:00:00Z",
		Implementation: Implementation{Organization: "o", Project: "p", Version: "1", Contact: []string{}},
		SuiteVersion:   "0.2.0", Seed: 1, ConsistencyMode: "strict", Replicas: 1, Summary: "x",
		Profiles: BuildProfiles([]SpecOutcome{{Name: "A", Profile: "core", State: StatePassed}}, []string{"core"}, nil)}
	b, _ := json.Marshal(good)
	if err := ValidateConformance(b); err != nil {
		t.Fatalf("a good report was refused: %v", err)
	}
	// Every mode keyrace check accepts (Go durations) is a valid report.
	for _, mode := range []string{"bounded:500ms", "bounded:1.5s", "bounded:1m30s", "bounded:1h2m3.5s", "bounded:250µs"} {
		r := good
		r.ConsistencyMode = mode
		b, _ := json.Marshal(r)
		if err := ValidateConformance(b); err != nil {
			t.Errorf("mode %s refused: %v", mode, err)
		}
	}
	for name, mutate := range map[string]func(*ConformanceReport){
		"wrong apiVersion":  func(r *ConformanceReport) { r.APIVersion = "v0" },
		"bad result":        func(r *ConformanceReport) { r.Profiles[0].Result = "maybe" },
		"bad mode":          func(r *ConformanceReport) { r.ConsistencyMode = "eventual" },
		"mode without unit": func(r *ConformanceReport) { r.ConsistencyMode = "bounded:5" },
		"no replicas":       func(r *ConformanceReport) { r.Replicas = 0 },
		"empty project":     func(r *ConformanceReport) { r.Implementation.Project = "" },
	} {
		r := good
		r.Profiles = append([]ProfileReport(nil), good.Profiles...)
		mutate(&r)
		b, _ := json.Marshal(r)
		if err := ValidateConformance(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
