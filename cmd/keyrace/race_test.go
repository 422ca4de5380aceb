package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestRaceCommand(t *testing.T) {
	correct, faulty := t.TempDir(), t.TempDir()
	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"list", []string{"race", "--list"}, exitClean, "litellm-34266-team-models"},
		{"correct build", []string{"race", "--scenario", "warm-update", "--target", "embedded", "--duration", "2s", "--out", correct}, exitClean, "verdict: ok"},
		{"faulty build", []string{"race", "--scenario", "warm-update", "--target", "embedded", "--fault", "stale-object-permission", "--duration", "2s", "--out", faulty}, exitViolation, "stale-deny"},
		{"flap finds stale allows", []string{"race", "--scenario", "flap", "--target", "embedded", "--fault", "stale-object-permission", "--duration", "2s", "--out", t.TempDir()}, exitViolation, "stale-allow"},
		{"unknown scenario", []string{"race", "--scenario", "nope", "--target", "embedded"}, exitCannotRun, "no such scenario (known: flap"},
		{"no scenario", []string{"race", "--target", "embedded"}, exitCannotRun, "no scenario"},
		{"over the rate limit", []string{"race", "--scenario", "warm-update", "--target", "embedded", "--rate", "100000", "--out", t.TempDir()}, exitCannotRun, "at most 2000"},
		{"bad consistency", []string{"race", "--scenario", "warm-update", "--target", "embedded", "--consistency", "eventual"}, exitCannotRun, "consistency"},
		{"closed port", []string{"race", "--scenario", "warm-update", "--target", closedPort(t), "--master-key", "k", "--duration", "1s", "--out", t.TempDir()}, exitCannotRun, "target unreachable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KEYRACE_TARGET", "")
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.contains) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.contains, out, errs)
			}
		})
	}

	// The run folder holds every artefact, results.bin decodes as vegeta
	// results, and `keyrace report` reaches the same verdict again.
	for _, f := range []string{"summary.json", "summary.md", "report.html", "history.jsonl", "results.bin", "repro.sh"} {
		if _, err := os.Stat(filepath.Join(faulty, f)); err != nil {
			t.Errorf("run folder lacks %s: %v", f, err)
		}
	}
	fh, err := os.Open(filepath.Join(faulty, "results.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	dec := vegeta.NewDecoder(fh)
	n := 0
	for {
		var r vegeta.Result
		if dec.Decode(&r) != nil {
			break
		}
		n++
	}
	if n == 0 {
		t.Fatal("results.bin holds no vegeta results")
	}
	if code, out, errs := runCLI(t, "report", faulty); code != exitViolation || !strings.Contains(out, "stale-deny") {
		t.Fatalf("report of the faulty run: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "report", correct); code != exitClean || !strings.Contains(out, "verdict: ok") {
		t.Fatalf("report of the correct run: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "report", t.TempDir()); code != exitCannotRun || !strings.Contains(errs, "history.jsonl") {
		t.Fatalf("report of an empty folder: exit %d %s", code, errs)
	}
}
