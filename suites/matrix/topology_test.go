package matrix

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/keyrace/keyrace/reports"
	"github.com/keyrace/keyrace/topology/topotest"
)

// checkTopology runs `keyrace check --topology reference?replicas=3` with
// the given faults (the CLI starts and removes the containers).
func checkTopology(t *testing.T, faults string) (int, []string, string) {
	t.Helper()
	out := t.TempDir()
	args := []string{"check", "--topology", "reference?replicas=3", "--out", out}
	if faults != "" {
		args = append(args, "--fault", faults)
	}
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
	var rep reports.ConformanceReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, p := range rep.Profiles {
		failed = append(failed, p.FailedSpecs...)
	}
	sort.Strings(failed)
	return code, failed, buf.String()
}

// TestTopologyFaultMatrix runs the replica faults on three replicas in
// Docker over PostgreSQL and Redis: each is caught by exactly its specs,
// and the correct build passes everything, resilience specs included.
func TestTopologyFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("Docker topologies in -short mode")
	}
	topotest.Require(t)
	t.Run("correct build", func(t *testing.T) {
		code, failed, out := checkTopology(t, "")
		if code != 0 || len(failed) != 0 || !strings.Contains(out, "ok   replicas     ResilienceReplicaKilledMidLoadLosesNothing") {
			t.Fatalf("exit %d, failed %v\n%s", code, failed, out)
		}
	})
	for _, e := range TopologyExpectations {
		t.Run(string(e.Fault), func(t *testing.T) {
			code, failed, out := checkTopology(t, string(e.Fault))
			want := slices.Sorted(slices.Values(e.Specs))
			if code != 1 || !slices.Equal(failed, want) {
				t.Fatalf("exit %d, failed specs:\n  %s\nwant exit 1 and exactly:\n  %s\n\n%s", code, strings.Join(failed, "\n  "), strings.Join(want, "\n  "), out)
			}
		})
	}
}

// TestTopologyRaceWithDisruption: a race on three replicas with one replica
// killed and restarted in the middle stays clean on the correct build, and
// the window is recorded in the run's history.
func TestTopologyRaceWithDisruption(t *testing.T) {
	if testing.Short() {
		t.Skip("Docker topologies in -short mode")
	}
	topotest.Require(t)
	dir := t.TempDir()
	cmd := exec.Command(keyraceBin, "race", "--scenario", "warm-update", "--topology", "reference?replicas=3",
		"--duration", "6s", "--disrupt", "kill", "--out", dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("race with a killed replica: %v\n%s", err, out)
	}
	h, err := os.ReadFile(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(string(h), "\n")
	if !strings.Contains(header, `"disruptions":[{"kind":"replica-killed","replica":2`) {
		t.Fatalf("the kill window is not in the history header: %s", header)
	}
}
