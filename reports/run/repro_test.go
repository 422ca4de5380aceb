package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyrace/keyrace/client"
	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// TestReproSyntax generates repro.sh for every violation of every golden
// run (not only the first) and has bash parse it.
func TestReproSyntax(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	dir := t.TempDir()
	n := 0
	for name, h := range goldenRuns(t) {
		res := check.Check(h, headerOptions(t, h))
		for i, v := range res.Violations {
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.sh", name, i))
			if err := os.WriteFile(path, Repro(h, v), 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
				t.Errorf("%s violation %d (%s): bash -n: %v\n%s", name, i, v.Kind, err, out)
			}
			n++
		}
	}
	if n < 10 {
		t.Errorf("only %d scripts checked; the golden runs lost their violations?", n)
	}
}

// TestReproNoViolationPlan: a non-linearizable violation without a decision
// gets a script that explains and exits 125.
func TestReproNoViolationPlan(t *testing.T) {
	h := history.History{Header: history.Header{Format: history.FormatV1, Scenario: "x", Target: []string{"http://127.0.0.1:1"}}}
	script := Repro(h, check.Violation{Kind: check.NonLinearizable, Team: "t", Register: check.Permissions})
	out, code := runScript(t, script, "http://127.0.0.1:1")
	if code != 125 || !strings.Contains(out, "cannot reproduce") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

// liveCase is a violation replayed against the reference service.
type liveCase struct {
	name  string
	fault refimpl.FaultName
	// history gives the run whose first stale violation is replayed.
	history func(t *testing.T) history.History
	kind    check.Kind
}

var liveCases = []liveCase{
	{"seed stale deny", refimpl.FaultStaleObjectPermission, fixture("stale-deny"), check.StaleDeny},
	{"seed stale allow on revoke", refimpl.FaultStaleObjectPermission, built(revokeHistory), check.StaleAllow},
	{"team models on /v1/models", refimpl.FaultStaleTeamCache, built(modelsHistory), check.StaleDeny},
	{"team models on a chat call", refimpl.FaultStaleTeamCache, built(chatRevokeHistory), check.StaleAllow},
	{"block on a chat call", refimpl.FaultStaleTeamCache, built(blockHistory), check.StaleAllow},
	{"unblock on /v1/models", refimpl.FaultStaleTeamCache, built(unblockHistory), check.StaleDeny},
	{"lost member adds", refimpl.FaultLostUpdate, fixture("lost-update"), check.LostUpdate},
}

// TestReproLive runs each generated script against an in-process
// reference service started with the matching fault, where it must print
// REPRODUCED, and against the correct build, where it must not; either
// way it must delete the team it created.
func TestReproLive(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	for _, c := range liveCases {
		t.Run(c.name, func(t *testing.T) {
			h := c.history(t)
			res := check.Check(h, headerOptions(t, h))
			v := featured(res.Violations)
			if v == nil || v.Kind != c.kind {
				t.Fatalf("history's first stale violation is %+v, want %s", v, c.kind)
			}
			script := Repro(h, *v)
			for _, faulty := range []bool{true, false} {
				faults := refimpl.FaultSet{}
				if faulty {
					faults[c.fault] = true
				}
				url := startService(t, faults)
				out, code := runScript(t, script, url)
				switch {
				case faulty && (code != 1 || !strings.Contains(out, "REPRODUCED")):
					t.Errorf("with fault %s: exit %d, want 1 and REPRODUCED; output:\n%s", c.fault, code, out)
				case !faulty && (code != 0 || !strings.Contains(out, "not reproduced")):
					t.Errorf("correct build: exit %d, want 0 and not reproduced; output:\n%s", code, out)
				}
				assertCleanedUp(t, url)
			}
		})
	}
}

const masterKey = "sk-keyrace-test-master"

func startService(t *testing.T, faults refimpl.FaultSet) string {
	t.Helper()
	r, err := refimpl.Start(refimpl.Config{MasterKey: masterKey, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stop reference service: %v", err)
		}
	})
	return r.URL
}

// runScript runs a repro script against target and returns its combined
// output and exit status.
func runScript(t *testing.T, script []byte, target string) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), ReproFile)
	if err := os.WriteFile(path, script, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", path)
	cmd.Env = append(os.Environ(), "KEYRACE_TARGET="+target, "KEYRACE_MASTER_KEY="+masterKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	}
	t.Fatalf("run %s: %v\n%s", path, err, out.String())
	return "", -1
}

// assertCleanedUp checks that no keyrace-repro team is left behind.
func assertCleanedUp(t *testing.T, url string) {
	t.Helper()
	c, err := client.New(url, masterKey)
	if err != nil {
		t.Fatal(err)
	}
	teams, _, err := c.ListTeams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range teams {
		if strings.HasPrefix(tm.TeamID, "keyrace-repro-") {
			t.Errorf("team %s left behind", tm.TeamID)
		}
	}
}

func fixture(name string) func(t *testing.T) history.History {
	return func(t *testing.T) history.History {
		return loadHistory(t, filepath.Join(historyFixtures, name+".jsonl"))
	}
}

func built(f func(b *hb)) func(t *testing.T) history.History {
	return func(*testing.T) history.History {
		b := newHB()
		f(b)
		return b.h
	}
}

// Hand-made runs of request-time decisions, in the shapes the race engine
// records.
const teamT = "team-rt"

func revokeHistory(b *hb) {
	b.h.Header.Initial[teamT] = []string{"G1", "G2"}
	b.decide(teamT, "/key/generate", "G2", 1, 0, 1, history.Allowed, nil)
	b.decide(teamT, "/key/generate", "G1", 1, 1, 2, history.Allowed, nil)
	b.write(teamT, 0, 2, 3, "G1")
	b.decide(teamT, "/key/generate", "G2", 1, 4, 5, history.Allowed, nil)
}

func modelsHistory(b *hb) {
	b.h.Header.Initial[teamT] = []string{"gpt-4o"}
	b.decide(teamT, "/v1/models", "gpt-4o", 1, 0, 1, history.Allowed, nil)
	b.write(teamT, 0, 2, 3, "gpt-4o", "gpt-4o-mini")
	b.decide(teamT, "/v1/models", "gpt-4o-mini", 1, 4, 5, history.Denied, []string{"gpt-4o"})
}

func chatRevokeHistory(b *hb) {
	b.h.Header.Initial[teamT] = []string{"gpt-4o", "gpt-4o-mini"}
	b.decide(teamT, "/v1/chat/completions", "gpt-4o-mini", 1, 0, 1, history.Allowed, nil)
	b.write(teamT, 0, 2, 3, "gpt-4o")
	b.decide(teamT, "/v1/chat/completions", "gpt-4o-mini", 1, 4, 5, history.Allowed, nil)
}

func blockHistory(b *hb) {
	b.h.Header.Initial[teamT] = []string{"gpt-4o"}
	b.decide(teamT, "/v1/chat/completions", "gpt-4o", 1, 0, 1, history.Allowed, nil)
	b.block(teamT, history.Block, 2, 3)
	b.decide(teamT, "/v1/chat/completions", "gpt-4o", 1, 4, 5, history.Allowed, nil)
}

func unblockHistory(b *hb) {
	b.h.Header.Initial[teamT] = []string{"gpt-4o"}
	b.h.Header.InitialBlocked = []string{teamT}
	b.decideBlocked(teamT, "/v1/models", 1, 0, 1)
	b.block(teamT, history.Unblock, 2, 3)
	b.decideBlocked(teamT, "/v1/models", 1, 4, 5)
}

// hb builds small histories by hand (times in milliseconds).
type hb struct{ h history.History }

func newHB() *hb {
	return &hb{h: history.History{Header: history.Header{Format: history.FormatV1, Scenario: "hand-made", Seed: 1,
		Target: []string{"http://127.0.0.1:4000", "http://127.0.0.1:4001"}, Initial: map[string][]string{}, Consistency: "strict"}}}
}

func (b *hb) add(op history.Op) {
	op.ID = uint64(len(b.h.Ops) + 1)
	b.h.Ops = append(b.h.Ops, op)
}

func msNs(x float64) int64 { return int64(x * 1e6) }

func (b *hb) write(team string, replica int, call, ret float64, groups ...string) {
	b.add(history.Op{Team: team, Kind: history.Write, Endpoint: "/team/update", Replica: replica, Call: msNs(call), Return: msNs(ret),
		Groups: history.Canon(groups), Outcome: history.OK, Status: 200})
}

func (b *hb) block(team string, k history.Kind, call, ret float64) {
	b.add(history.Op{Team: team, Kind: k, Endpoint: "/team/" + string(k), Call: msNs(call), Return: msNs(ret), Outcome: history.OK, Status: 200})
}

func (b *hb) decide(team, ep, ask string, replica int, call, ret float64, out history.Outcome, observed []string) {
	status := 200
	if out == history.Denied && ep != "/v1/models" {
		status = 403
	}
	b.add(history.Op{Team: team, Kind: history.Decide, Endpoint: ep, Replica: replica, Call: msNs(call), Return: msNs(ret),
		Ask: ask, Outcome: out, Observed: observed, Status: status})
}

func (b *hb) decideBlocked(team, ep string, replica int, call, ret float64) {
	b.add(history.Op{Team: team, Kind: history.Decide, Endpoint: ep, Replica: replica, Call: msNs(call), Return: msNs(ret),
		Outcome: history.Denied, Blocked: true, Status: 401})
}
