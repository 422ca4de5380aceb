package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

// TestMain lets the test binary stand in for keyrace: with
// KEYRACE_TEST_MAIN=1 it runs the CLI on its arguments. Each CLI run is a
// process of its own, as for users (Ginkgo runs suites once per process).
func TestMain(m *testing.M) {
	if os.Getenv("KEYRACE_TEST_MAIN") == "1" {
		os.Exit(runMain())
	}
	os.Exit(m.Run())
}

// runCLI runs keyrace with args in a child process.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KEYRACE_TEST_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func startRef(t *testing.T, faults refimpl.FaultSet) string {
	t.Helper()
	svc, err := refimpl.Start(refimpl.Config{MasterKey: "sk-cli", Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc.URL
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestCheckExitCodes(t *testing.T) {
	correct := startRef(t, nil)
	faulty := startRef(t, refimpl.FaultSet{refimpl.FaultStaleObjectPermission: true})
	two, err := refimpl.StartReplicas(2, refimpl.Config{MasterKey: "sk-cli"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = two.Close() })
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>hello</html>"))
	}))
	t.Cleanup(garbage.Close)
	// A proxy that never answers one endpoint: the run must end (exit 2)
	// within the request timeout, not wait forever.
	hangSvc, err := refimpl.New(refimpl.Config{MasterKey: "sk-cli"})
	if err != nil {
		t.Fatal(err)
	}
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/key/info" {
			<-r.Context().Done()
			return
		}
		hangSvc.ServeHTTP(w, r)
	}))
	t.Cleanup(hanging.Close)
	failSvc, err := refimpl.New(refimpl.Config{MasterKey: "sk-cli"})
	if err != nil {
		t.Fatal(err)
	}
	failingWrites := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/team/update" {
			http.Error(w, `{"error":{"message":"boom","type":"internal_server_error","param":"None","code":"500"}}`, http.StatusInternalServerError)
			return
		}
		failSvc.ServeHTTP(w, r)
	}))
	t.Cleanup(failingWrites.Close)
	other := startRef(t, nil) // a second deployment: not a replica of correct
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"correct build", []string{"check", "--target", correct, "--master-key", "sk-cli"}, exitClean, "ok   consistency  ConsistencySeedRevoke"},
		{"faulty build", []string{"check", "--target", faulty, "--master-key", "sk-cli"}, exitViolation, "403 refused, Team allows: ['G1'] (the state before the write)"},
		{"two replicas of the correct build", []string{"check", "--target", strings.Join(two.URLs(), ","), "--master-key", "sk-cli"}, exitClean, "ok   replicas     ReplicasSeedGrant"},
		{"one URL twice", []string{"check", "--target", correct + "," + correct + "/", "--master-key", "sk-cli"}, exitCannotRun, "twice"},
		{"closed port", []string{"check", "--target", closedPort(t), "--master-key", "sk-cli"}, exitCannotRun, "is not reachable"},
		{"garbage target", []string{"check", "--target", garbage.URL, "--master-key", "sk-cli"}, exitCannotRun, "does not answer GET /health/liveliness like a LiteLLM proxy"},
		{"wrong master key", []string{"check", "--target", correct, "--master-key", "sk-wrong"}, exitCannotRun, "refused the master key"},
		{"no target", []string{"check", "--master-key", "sk-cli"}, exitCannotRun, "no target"},
		{"bad URL", []string{"check", "--target", "localhost:4000", "--master-key", "sk-cli"}, exitCannotRun, "want an http(s)://host:port URL"},
		{"unknown flag", []string{"check", "--nope"}, exitCannotRun, "flag provided but not defined"},
		{"a target that stops answering", []string{"check", "--target", hanging.URL, "--master-key", "sk-cli", "--timeout", "1s"}, exitCannotRun, "Client.Timeout exceeded"},
		{"management writes fail with 500", []string{"check", "--target", failingWrites.URL, "--master-key", "sk-cli"}, exitCannotRun, "cannot judge the target"},
		{"two deployments posing as replicas", []string{"check", "--target", correct + "," + other, "--master-key", "sk-cli", "--label-filter", "replicas"}, exitCannotRun, "cannot judge the target"},
		{"bad label filter", []string{"check", "--target", correct, "--master-key", "sk-cli", "--label-filter", "((("}, exitCannotRun, "Mismatched '('"},
		{"label filter selecting nothing", []string{"check", "--target", correct, "--master-key", "sk-cli", "--label-filter", "no-such-label"}, exitCannotRun, "selects none"},
		{"reports cannot be written", []string{"check", "--target", correct, "--master-key", "sk-cli", "--out", file}, exitCannotRun, "--out"},
		{"negative repeat", []string{"check", "--target", correct, "--master-key", "sk-cli", "--repeat", "-1"}, exitCannotRun, "want 0 or more"},
		{"replicas of a running proxy", []string{"check", "--target", correct, "--master-key", "sk-cli", "--replicas", "2"}, exitCannotRun, "--replicas applies to --target embedded only"},
		{"unknown command", []string{"frobnicate"}, exitCannotRun, "unknown command"},
		{"help", []string{"--help"}, exitClean, "Exit codes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KEYRACE_TARGET", "")
			t.Setenv("KEYRACE_MASTER_KEY", "")
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.contains) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.contains, out, errs)
			}
		})
	}
}

func TestCheckReadsEnvironment(t *testing.T) {
	t.Setenv("KEYRACE_TARGET", startRef(t, nil))
	t.Setenv("KEYRACE_MASTER_KEY", "sk-cli")
	if code, out, errs := runCLI(t, "check"); code != exitClean {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errs)
	}
}

func TestDemo(t *testing.T) {
	code, out, errs := runCLI(t, "demo", "--race", "3s", "--out", t.TempDir())
	if code != exitClean || !strings.Contains(out, "bug reproduced") || !strings.Contains(out, "Team allows: ['G1']") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errs)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	t.Setenv("LITELLM_MASTER_KEY", "")
	if code, _, errs := runCLI(t, "serve", "--addr", "127.0.0.1:0"); code != exitCannotRun || !strings.Contains(errs, "master key is required") {
		t.Fatalf("serve without a master key: exit %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "serve", "--master-key", "k", "--fault", "nope"); code != exitCannotRun || !strings.Contains(errs, "unknown fault") {
		t.Fatalf("serve with an unknown fault: exit %d %s", code, errs)
	}
	// Without replicas the fault would be the correct build in disguise.
	if code, _, errs := runCLI(t, "serve", "--master-key", "k", "--addr", "127.0.0.1:0", "--fault", "local-invalidation-only"); code != exitCannotRun || !strings.Contains(errs, "needs replicas") {
		t.Fatalf("serve with local-invalidation-only on one replica: exit %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "race", "--scenario", "warm-update", "--target", "embedded", "--fault", "local-invalidation-only"); code != exitCannotRun || !strings.Contains(errs, "--replicas 2") {
		t.Fatalf("race on one embedded replica with local-invalidation-only: exit %d %s", code, errs)
	}
}

// TestHelpGoesToStdout: asked-for help is output (pipeable to less), a bad
// flag is an error on stderr.
func TestHelpGoesToStdout(t *testing.T) {
	for _, c := range []string{"serve", "check", "race", "report", "demo", "version"} {
		code, out, _ := runCLI(t, c, "--help")
		if code != exitClean || !strings.Contains(out, "Usage: keyrace "+c) {
			t.Errorf("%s --help: exit %d, stdout %q", c, code, out)
		}
		code, out, errs := runCLI(t, c, "--no-such-flag")
		if code != exitCannotRun || out != "" || !strings.Contains(errs, "flag provided but not defined") {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q", c, code, out, errs)
		}
	}
}
