package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

func TestRaceCommand(t *testing.T) {
	correct, faulty, replicated := t.TempDir(), t.TempDir(), t.TempDir()
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
		// The hint to reproduce an embedded run starts an equivalent service:
		// same replicas, same faults.
		{"embedded replicas hint", []string{"race", "--scenario", "warm-update", "--target", "embedded", "--replicas", "2", "--fault", "local-invalidation-only", "--duration", "2s", "--out", replicated},
			exitViolation, "serve --master-key sk-1234 --replicas 2 --fault local-invalidation-only &\n  KEYRACE_TARGET=http://127.0.0.1:4000,http://127.0.0.1:4001 "},
		// ttl-sweep times its writes by the TTL: the embedded service gets it.
		{"ttl-sweep sets the embedded TTL", []string{"race", "--scenario", "ttl-sweep", "--target", "embedded", "--duration", "3s", "--out", t.TempDir()}, exitClean, "cache TTL 2s"},
		{"cache TTL for a running proxy", []string{"race", "--scenario", "warm-update", "--target", closedPort(t), "--master-key", "k", "--cache-ttl", "2s"}, exitCannotRun, "--cache-ttl apply to --target embedded"},
		{"help goes to stdout", []string{"race", "--help"}, exitClean, "Usage: keyrace race"},
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
	md, err := os.ReadFile(filepath.Join(replicated, "summary.md"))
	if err != nil || !strings.Contains(string(md), "--replicas 2 --fault local-invalidation-only &") ||
		!strings.Contains(string(md), "KEYRACE_TARGET=http://127.0.0.1:4000,http://127.0.0.1:4001 KEYRACE_MASTER_KEY=sk-1234 bash repro.sh") {
		t.Errorf("summary.md of an embedded run does not say how to start an equivalent service (%v):\n%s", err, md)
	}

	// Re-judging into another folder (flags after the folder) leaves the
	// original verdict alone.
	rejudged := filepath.Join(t.TempDir(), "bounded")
	if code, out, errs := runCLI(t, "report", faulty, "--consistency", "bounded:1h", "--out", rejudged); code != exitClean || !strings.Contains(out, "verdict: ok") {
		t.Fatalf("report --out in bounded:1h: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "report", faulty); code != exitViolation {
		t.Fatalf("the original run lost its verdict after report --out: exit %d\n%s\n%s", code, out, errs)
	}
	for _, f := range []string{"summary.json", "history.jsonl", "results.bin"} {
		if _, err := os.Stat(filepath.Join(rejudged, f)); err != nil {
			t.Errorf("report --out folder lacks %s: %v", f, err)
		}
	}
	if code, _, errs := runCLI(t, "report", faulty, correct); code != exitCannotRun || !strings.Contains(errs, "want one run folder, got 2") {
		t.Fatalf("report with two folders: exit %d %s", code, errs)
	}
}

// TestVegetaReadsResults runs the vegeta CLI, built from the module keyrace
// pins, on a run folder's results.bin: `vegeta report` must count every
// request the run sent.
func TestVegetaReadsResults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the vegeta CLI")
	}
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "vegeta")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tsenart/vegeta/v12").CombinedOutput(); err != nil {
		t.Fatalf("build the vegeta CLI: %v\n%s", err, out)
	}
	if code, out, errs := runCLI(t, "race", "--scenario", "warm-update", "--target", "embedded", "--duration", "1s", "--out", dir); code != exitClean {
		t.Fatalf("race: exit %d\n%s\n%s", code, out, errs)
	}
	var sum struct {
		Ops int `json:"ops"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary.json: %v", err)
	}
	out, err := exec.Command(bin, "report", "-type=json", filepath.Join(dir, "results.bin")).Output()
	if err != nil {
		t.Fatalf("vegeta report: %v", err)
	}
	var rep struct {
		Requests uint64 `json:"requests"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("vegeta report -type=json: %v\n%s", err, out)
	}
	if rep.Requests == 0 || int(rep.Requests) != sum.Ops {
		t.Fatalf("vegeta report counts %d requests, the run recorded %d operations", rep.Requests, sum.Ops)
	}
}

// TestRaceCannotJudge: a race against a target that gives it nothing to
// judge, or answers that are not a proxy's, exits 2 — never 0 (clean) nor
// 1 (a violation the target did not commit).
func TestRaceCannotJudge(t *testing.T) {
	// wrap serves the reference service except where bad answers for it.
	wrap := func(bad func(w http.ResponseWriter, r *http.Request) bool) string {
		svc, err := refimpl.New(refimpl.Config{MasterKey: "sk-cli"})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !bad(w, r) {
				svc.ServeHTTP(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	always200 := wrap(func(w http.ResponseWriter, r *http.Request) bool { _, _ = w.Write([]byte(`{}`)); return true })
	emptyGrants := wrap(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/key/generate" {
			return false
		}
		_, _ = w.Write([]byte(`{}`))
		return true
	})
	failedWrites := wrap(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/team/update" {
			return false
		}
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	var served atomic.Int64
	stopsAnswering := wrap(func(w http.ResponseWriter, r *http.Request) bool {
		if served.Add(1) <= 150 {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	cases := []struct{ name, target, contains string }{
		{"every answer 200 {}", always200, "answered GET /team/info unlike a LiteLLM proxy"},
		{"two deployments posing as replicas", startRef(t, nil) + "," + startRef(t, nil), "are they replicas of one deployment?"},
		{"a target that stops answering", stopsAnswering, "inconclusive"},
		{"grants without a key", emptyGrants, "inconclusive: no decision could be judged"},
		{"no write acknowledged", failedWrites, "inconclusive: no write was acknowledged"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KEYRACE_TARGET", "")
			code, out, errs := runCLI(t, "race", "--scenario", "warm-update", "--target", tc.target, "--master-key", "sk-cli", "--duration", "1s", "--out", t.TempDir())
			if code != exitCannotRun || !strings.Contains(errs, tc.contains) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s\n%s", code, exitCannotRun, tc.contains, out, errs)
			}
		})
	}
	// A saved history with nothing in it proves nothing either.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "history.jsonl"), []byte(`{"format":"keyrace-history/v1"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI(t, "report", dir); code != exitCannotRun || !strings.Contains(errs, "inconclusive") {
		t.Fatalf("report of an empty history: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestRaceInterrupted: Ctrl-C during the traffic stops the race at once,
// keeps what was recorded in the run folder, and exits 2 (it judged a run
// that did not finish).
func TestRaceInterrupted(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "race", "--scenario", "warm-update", "--target", "embedded", "--duration", "60s", "--out", dir)
	cmd.Env = append(os.Environ(), "KEYRACE_TEST_MAIN=1", "KEYRACE_TARGET=")
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	_ = cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitCannotRun {
		t.Fatalf("interrupted race: %v, want exit %d\n%s", err, exitCannotRun, errb.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the race took %v to stop after the interrupt", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "history.jsonl")); err != nil {
		t.Errorf("the interrupted run left no history: %v\n%s", err, errb.String())
	}
}
