package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

// TestBuiltins: every embedded scenario loads, validates, names the faults
// it is expected to find in the reference service's own spelling, and the
// regression scenarios carry their upstream reference.
func TestBuiltins(t *testing.T) {
	want := []string{"flap", "litellm-25951-member-add", "litellm-34266-team-models", "litellm-35565-team-block",
		"member-storm", "multi-team", "seed-burst", "ttl-sweep", "warm-update"}
	all, err := List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range all {
		got = append(got, s.Name)
		if len(s.Finds) == 0 {
			t.Errorf("%s: finds nothing", s.Name)
		}
		for _, f := range s.Finds {
			if _, _, err := refimpl.ParseFaultSpec(f); err != nil {
				t.Errorf("%s: finds %q: %v", s.Name, f, err)
			}
		}
		if strings.HasPrefix(s.Name, "litellm-") && !strings.Contains(s.Upstream, strings.Split(s.Name, "-")[1]) {
			t.Errorf("%s: upstream %q does not name the report", s.Name, s.Upstream)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("List = %v, want %v", got, want)
	}
	if strings.Join(Names(), " ") != strings.Join(want, " ") {
		t.Errorf("Names = %v", Names())
	}
	ttl, _ := Load("ttl-sweep")
	if ttl.Pacer.TTL.Std() != 2*time.Second {
		t.Errorf("ttl-sweep TTL = %v, want the documented 2s", ttl.Pacer.TTL)
	}
}

const goodScenario = `
name: custom
description: a scenario written by a user
shape: independent
pacer: {type: constant, rate: 100}
duration: 2s
teams: 4
write_share: 0.25
writes: access-groups
decisions: [key-generate]
warm_rate: 10
universe: [G1, G2]
initial: [G1]
`

// TestParseRejects: malformed scenario files are refused, and the error
// names the offending field.
func TestParseRejects(t *testing.T) {
	if s, err := Parse([]byte(goodScenario)); err != nil || s.Pattern != PatternToggle || s.DecisionConcurrency != DefaultDecisionConcurrency {
		t.Fatalf("the good scenario: %+v, %v", s, err)
	}
	for _, tc := range []struct{ name, edit, want string }{
		{"unknown field", "warm_rate: 10\nwarm_rat: 5", `unknown field "warm_rat"`},
		{"teams as text", "teams: many", "teams"},
		{"duration as number", "duration: 2", "duration"},
		{"bad duration", "duration: soon", "duration"},
		{"zero duration", "duration: 0s", "duration: must be > 0"},
		{"no rate", "pacer: {type: constant}", "pacer.rate: must be > 0"},
		{"bad pacer", "pacer: {type: poisson, rate: 5}", "pacer.type"},
		{"sine without period", "pacer: {type: sine, rate: 10, amp: 5}", "pacer.period"},
		{"sine amp too big", "pacer: {type: sine, rate: 10, amp: 10, period: 5s}", "pacer.amp"},
		{"slope on constant", "pacer: {type: constant, rate: 10, slope: 1}", "pacer.slope"},
		{"linear to zero", "pacer: {type: linear, rate: 10, slope: -10}", "pacer.slope"},
		{"bad shape", "shape: circular", "shape"},
		{"share above 1", "write_share: 1.5", "write_share"},
		{"independent needs decisions", "write_share: 1", "write_share"},
		{"flows without flow decisions", "shape: flows", "flow_decisions"},
		{"incompatible decision", "decisions: [models]", "decisions[0]"},
		{"bad writes", "writes: budgets", "writes"},
		{"initial outside universe", "initial: [G9]", "initial[0]"},
		{"duplicate item", "universe: [G1, G1]", "universe[1]"},
		{"write concurrency on a register", "write_concurrency: 2", "write_concurrency"},
		{"bad name", "name: Custom Scenario", "name"},
		{"sweep with rate", "pacer: {type: ttl-sweep, rate: 5}", "pacer.rate"},
		{"negative warm", "warm_rate: -1", "warm_rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := edit(goodScenario, tc.edit)
			_, err := Parse([]byte(y))
			if err == nil {
				t.Fatalf("accepted:\n%s", y)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
	bad := []struct{ yaml, want string }{
		{strings.NewReplacer("writes: access-groups", "writes: models", "decisions: [key-generate]", "decisions: [models]",
			"initial: [G1]", "initial: []").Replace(goodScenario), "initial: a team's models must not be empty"},
		{"name: x\nshape: flows\npacer: {type: ttl-sweep, offsets: [1500ms]}\nduration: 5s\nteams: 1\nwrite_share: 1\nwrites: access-groups\ndecisions: [key-generate]\nflow_decisions: 1\nwarm_rate: 1\nuniverse: [G1]\ndescription: d\n", "pacer.offsets[0]"},
		{"name: x\ndescription: d\nshape: flows\npacer: {rate: 5}\nduration: 5s\nteams: 1\nwrite_share: 1\nwrites: block\ndecisions: [mock-chat]\nflow_decisions: 1\nwarm_rate: 1\n", "initial"},
		{"name: x\ndescription: d\nshape: flows\npacer: {rate: 5}\nduration: 5s\nteams: 1\nwrite_share: 1\nwrites: access-groups\npattern: alternate\ndecisions: [key-generate]\nflow_decisions: 1\nwarm_rate: 1\nuniverse: [G1]\n", "initial"},
		{"- just\n- a list\n", "parse"},
	}
	for _, b := range bad {
		if _, err := Parse([]byte(b.yaml)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Parse(%q) = %v, want an error naming %q", b.yaml, err, b.want)
		}
	}
}

// edit replaces the line of goodScenario whose key the edit's first line
// sets (or appends the edit).
func edit(y, e string) string {
	key, _, _ := strings.Cut(e, ":")
	lines := strings.Split(y, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key+":") {
			lines[i] = e
			return strings.Join(lines, "\n")
		}
	}
	return y + e + "\n"
}

// TestLoadFile: a user's file loads; a malformed one is refused with its
// path and field; an unknown built-in name lists the known ones.
func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "custom.yaml")
	if err := os.WriteFile(good, []byte(goodScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := LoadFile(good); err != nil || s.Name != "custom" {
		t.Fatalf("LoadFile = %v, %v", s, err)
	}
	badFile := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badFile, []byte(strings.Replace(goodScenario, "rate: 100", "rate: -3", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(badFile)
	if err == nil || !strings.Contains(err.Error(), badFile) || !strings.Contains(err.Error(), "pacer.rate") {
		t.Fatalf("LoadFile(bad) = %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing file loaded")
	}
	_, err = Load("no-such-scenario")
	if !errors.Is(err, errNoScenario) || !strings.Contains(err.Error(), "warm-update") {
		t.Fatalf("Load(unknown) = %v", err)
	}
}

// TestPacers: the custom pacers' schedules.
func TestPacers(t *testing.T) {
	sw := sweepPacer{ttl: time.Second, offsets: []time.Duration{-100 * time.Millisecond, 100 * time.Millisecond}, burst: 3}
	for _, c := range []struct {
		hits uint64
		want time.Duration
	}{{0, 900 * time.Millisecond}, {2, 900 * time.Millisecond}, {3, 2100 * time.Millisecond}, {6, 2900 * time.Millisecond}} {
		if got, stop := sw.Pace(0, c.hits); got != c.want || stop {
			t.Errorf("sweep: hit %d at %v, want %v", c.hits, got, c.want)
		}
	}
	if got, _ := sw.Pace(950*time.Millisecond, 1); got != 0 {
		t.Errorf("sweep: a late hit waits %v", got)
	}
	bp := burstPacer{rate: 100, burst: 4}
	for _, c := range []struct {
		hits uint64
		want time.Duration
	}{{0, 0}, {3, 0}, {4, 40 * time.Millisecond}, {9, 80 * time.Millisecond}} {
		if got, _ := bp.Pace(0, c.hits); got != c.want {
			t.Errorf("burst: hit %d at %v, want %v", c.hits, got, c.want)
		}
	}
	if r := rate(0.5); r.Freq != 1 || r.Per != 2*time.Second {
		t.Errorf("rate(0.5) = %+v", r)
	}
	// Scaled to a stream's share, sine and linear pacers still send.
	for _, spec := range []PacerSpec{
		{Type: PacerSine, Rate: 10.4, Amp: 10.3, Period: Duration(time.Second)},
		{Type: PacerLinear, Rate: 3, Slope: 1},
		{Type: PacerConstant, Rate: 3},
	} {
		p := spec.scaled(0.2).vegeta(1)
		if wait, stop := p.Pace(time.Second, 0); stop || wait > 5*time.Second {
			t.Errorf("%v scaled by 0.2: first hit waits %v, stop %v", spec, wait, stop)
		}
	}
}
