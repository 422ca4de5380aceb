package matrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/reports"
	"github.com/keyrace/keyrace/suites"
)

// keyraceBin is built once by TestMain: the matrix drives the real CLI,
// one process per run (Ginkgo runs a suite once per process).
var keyraceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyrace-matrix")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	keyraceBin = filepath.Join(dir, "keyrace")
	build := exec.Command("go", "build", "-o", keyraceBin, "github.com/keyrace/keyrace/cmd/keyrace")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build keyrace:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const matrixKey = "sk-matrix"

// replicasPerRun is how many in-process replicas (one store, a cache each)
// every matrix run targets, so the replica specs run too.
const replicasPerRun = 2

// check runs `keyrace check` against fresh reference replicas with the given
// faults and returns the exit code, the failed specs and the output.
func check(t *testing.T, faults refimpl.FaultSet, extra ...string) (int, []string, string) {
	code, failed, out, _ := checkIn(t, faults, extra...)
	return code, failed, out
}

// checkIn is check that also returns the report folder.
func checkIn(t *testing.T, faults refimpl.FaultSet, extra ...string) (int, []string, string, string) {
	return checkCfg(t, refimpl.Config{MasterKey: matrixKey, Faults: faults}, extra...)
}

// checkCfg is checkIn against replicas started with cfg.
func checkCfg(t *testing.T, cfg refimpl.Config, extra ...string) (int, []string, string, string) {
	t.Helper()
	svcs, err := refimpl.StartReplicas(replicasPerRun, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svcs.Close()
	out := t.TempDir()
	args := append([]string{"check", "--target", strings.Join(svcs.URLs(), ","), "--master-key", matrixKey,
		"--features", "all", "--out", out}, extra...)
	cmd := exec.Command(keyraceBin, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	b, err := os.ReadFile(filepath.Join(out, "conformance-report.json"))
	if err != nil {
		t.Fatalf("no conformance report (exit %d): %v\n%s", code, err, buf.String())
	}
	if err := reports.ValidateConformance(b); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	var rep reports.ConformanceReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, p := range rep.Profiles {
		failed = append(failed, p.FailedSpecs...)
	}
	sort.Strings(failed)
	return code, failed, buf.String(), out
}

// TestFaultMatrix: every fault is caught by exactly the specs named for it,
// and the run exits 1 naming them.
func TestFaultMatrix(t *testing.T) {
	for _, e := range Expectations {
		t.Run(string(e.Fault), func(t *testing.T) {
			code, failed, out := check(t, refimpl.FaultSet{e.Fault: true})
			want := slices.Sorted(slices.Values(e.Specs))
			if code != 1 || !slices.Equal(failed, want) {
				t.Fatalf("exit %d, failed specs:\n  %s\nwant exit 1 and exactly:\n  %s\n\n%s", code, strings.Join(failed, "\n  "), strings.Join(want, "\n  "), out)
			}
			for _, s := range want {
				if !strings.Contains(out, s) {
					t.Errorf("the output does not name %s", s)
				}
			}
		})
	}
}

// TestCorrectBuildPasses: the correct build passes every spec, and the
// consistency and concurrency specs 20 times in a row (no flakes).
func TestCorrectBuildPasses(t *testing.T) {
	code, failed, out, dir := checkIn(t, nil)
	if code != 0 || len(failed) != 0 {
		t.Fatalf("exit %d, failed %v\n%s", code, failed, out)
	}
	xmllintJUnit(t, filepath.Join(dir, "junit.xml"))
	referenceReportIsCurrent(t, filepath.Join(dir, "conformance-report.json"))
	if !strings.Contains(out, "conformance: success") {
		t.Fatalf("the conformance report is not success:\n%s", out)
	}
	code, failed, out = check(t, nil, "--label-filter", "consistency || concurrency || replicas", "--repeat", "20")
	if code != 0 || len(failed) != 0 {
		t.Fatalf("repeated run: exit %d, failed %v\n%s", code, failed, out)
	}
}

// TestBoundedConsistency: a lag inside the bound passes every spec under
// --consistency bounded:<d>, the same lag fails strict mode, and a lag
// longer than the bound fails bounded mode too.
func TestBoundedConsistency(t *testing.T) {
	lagged := func(lag time.Duration) refimpl.Config {
		return refimpl.Config{MasterKey: matrixKey, Faults: refimpl.FaultSet{refimpl.FaultInvalidationLag: true}, InvalidationLag: lag}
	}
	if code, failed, out, _ := checkCfg(t, lagged(30*time.Millisecond), "--consistency", "bounded:1s"); code != 0 {
		t.Errorf("lag 30ms under bounded:1s: exit %d, failed %v, want 0\n%s", code, failed, out)
	}
	if code, failed, out, _ := checkCfg(t, lagged(30*time.Millisecond)); code != 1 || len(failed) == 0 {
		t.Errorf("lag 30ms under strict: exit %d, failed %v, want 1 (the lag must show)\n%s", code, failed, out)
	}
	code, failed, out, _ := checkCfg(t, lagged(400*time.Millisecond), "--consistency", "bounded:50ms", "--label-filter", "consistency")
	if code != 1 || !slices.Contains(failed, "ConsistencySeedGrant") {
		t.Errorf("lag 400ms under bounded:50ms: exit %d, failed %v, want 1 with ConsistencySeedGrant\n%s", code, failed, out)
	}
}

// referenceReportIsCurrent: the checked-in reports/reference report has the
// results the suites give the reference service now (the same two replicas
// and features as `make reference-report`); only the run's date and seed
// may differ.
func referenceReportIsCurrent(t *testing.T, fresh string) {
	t.Helper()
	read := func(path string) reports.ConformanceReport {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var r reports.ConformanceReport
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return r
	}
	got, ref := read(fresh), read("../../reports/reference/conformance-report.json")
	if got.Summary != ref.Summary || got.SuiteVersion != ref.SuiteVersion || fmt.Sprint(got.Profiles) != fmt.Sprint(ref.Profiles) {
		t.Errorf("reports/reference is out of date (run `make reference-report`):\nchecked in: %s\nnow:        %s", ref.Summary, got.Summary)
	}
}

// TestREADMEIsGenerated: suites/README.md carries the current matrix.
func TestREADMEIsGenerated(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Splice(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatal("suites/README.md is out of date with matrix.Expectations: run `make docs`")
	}
}

// xmllintJUnit checks that the JUnit file parses with xmllint and has one
// testcase per spec. Without xmllint the check is skipped, except in CI
// (make test installs it there).
func xmllintJUnit(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("xmllint is not installed (make deps installs it)")
		}
		t.Log("xmllint not installed: JUnit well-formedness not checked")
		return
	}
	if out, err := exec.Command("xmllint", "--noout", path).CombinedOutput(); err != nil {
		t.Fatalf("xmllint %s: %v\n%s", path, err, out)
	}
	n, err := exec.Command("xmllint", "--xpath", "count(//testcase)", path).Output()
	if want := fmt.Sprint(len(suites.Specs())); err != nil || strings.TrimSpace(string(n)) != want {
		t.Fatalf("junit.xml has %s test cases, want one per spec (%s): %v", strings.TrimSpace(string(n)), want, err)
	}
}
