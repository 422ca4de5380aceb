package run

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/runs")

const (
	// historyFixtures are saved histories with known verdicts (made with
	// the checker's tests): <name>.jsonl and <name>.expect.json.
	historyFixtures = "../../fixtures/histories"
	// runFixtures holds this package's golden run folders.
	runFixtures = "../../fixtures/runs"
)

// expectation is a history fixture's <name>.expect.json.
type expectation struct {
	Verdict check.Verdict      `json:"verdict"`
	Counts  map[check.Kind]int `json:"counts"`
	Lagging int                `json:"lagging"`
	MaxLag  time.Duration      `json:"max_lag_ns"`
}

// historyFixture is one saved history and what checking it must give.
type historyFixture struct {
	name   string
	path   string
	expect expectation
}

// loadHistoryFixtures lists fixtures/histories; it fails when there are
// none, so a moved folder cannot make the tests pass vacuously.
func loadHistoryFixtures(t *testing.T) []historyFixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(historyFixtures, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no history fixtures in %s", historyFixtures)
	}
	var out []historyFixture
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".jsonl")
		b, err := os.ReadFile(filepath.Join(historyFixtures, name+".expect.json"))
		if err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
		var e expectation
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("fixture %s: expect file: %v", name, err)
		}
		out = append(out, historyFixture{name: name, path: p, expect: e})
	}
	return out
}

// loadHistory reads a history file.
func loadHistory(t *testing.T, path string) history.History {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := history.Load(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return h
}

// headerOptions are the options that check h as it was recorded.
func headerOptions(t *testing.T, h history.History) check.Options {
	t.Helper()
	mode, err := check.ParseMode(h.Header.Consistency)
	if err != nil {
		t.Fatal(err)
	}
	return check.Options{Consistency: mode}
}

// stable zeroes the wall-clock parts of a result, so reports of it can
// be compared byte for byte.
func stable(r check.Result) check.Result {
	r.CheckDuration = 1500 * time.Microsecond
	for i := range r.Teams {
		r.Teams[i].Duration = 0
	}
	return r
}

// fixedFacts are the facts of every golden run.
var fixedFacts = Facts{
	Description: "golden run: fixed seed, fixed facts",
	Start:       time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	Elapsed:     2500 * time.Millisecond,
	Rate:        200,
	Pacer:       "constant 200/s",
	Duration:    2 * time.Second,
	Faults:      "stale-object-permission",
	Version:     "v0.0.0-golden",
}

// inputFor checks h with its header's mode and wraps it as Write's input.
func inputFor(t *testing.T, h history.History) Input {
	t.Helper()
	return Input{History: h, Result: stable(check.Check(h, headerOptions(t, h))), Facts: fixedFacts}
}
