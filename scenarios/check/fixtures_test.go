package check

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyrace/keyrace/scenarios/history"
)

var update = flag.Bool("update", false, "rewrite fixtures/histories from the builders in fixtures_test.go")

// fixtureDir holds saved histories with known verdicts.
const fixtureDir = "../../fixtures/histories"

// expectation is a fixture's <name>.expect.json: what checking it must
// give. It is written from the builder's declared intent, never from a
// checker run.
type expectation struct {
	// Note says what the history shows.
	Note    string       `json:"note"`
	Verdict Verdict      `json:"verdict"`
	Counts  map[Kind]int `json:"counts"`
	// Lagging and MaxLag are Result.Lagging and Result.MaxLag.
	Lagging int           `json:"lagging"`
	MaxLag  time.Duration `json:"max_lag_ns"`
}

type fixture struct {
	name   string
	expect expectation
	build  func(b *hb)
}

// Team ids shaped like the seed report's.
const (
	teamA = "00000000-0000-4000-8000-000000000001"
	teamB = "00000000-0000-4000-8000-000000000002"
)

func counts(kv ...any) map[Kind]int {
	m := map[Kind]int{}
	for _, k := range Kinds {
		m[k] = 0
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(Kind)] = kv[i+1].(int)
	}
	return m
}

var fixtures = []fixture{
	{
		name: "clean",
		expect: expectation{Verdict: VerdictOK, Counts: counts(),
			Note: "two teams on two replicas: grants, refusals printing the current list, a refusal concurrent with the write that changed it, a failed decision (dropped) and a timed-out write that a later refusal shows took effect"},
		build: func(b *hb) {
			b.initial(teamA, "test1").initial(teamB, "G1", "G2")
			b.allow(teamA, "test1", 0, 0, 1.2)           // 1
			b.deny(teamA, "test2", 1, 0.4, 1.5, "test1") // 2
			b.write(teamA, 0, 2, 4.1, "test1", "test2")  // 3
			b.deny(teamA, "test2", 1, 3.2, 4.4, "test1") // 4: concurrent with 3
			b.allow(teamA, "test2", 0, 4.6, 5.5)         // 5
			b.allow(teamA, "test2", 1, 4.9, 6.0)         // 6
			b.failDecide(teamA, "test2", 1, 5.2)         // 7: 502, dropped
			b.deny(teamB, "G3", 0, 1, 2, "G1", "G2")     // 8
			b.write(teamB, 1, 3, 5, "G1")                // 9: revoke G2
			b.deny(teamB, "G2", 0, 5.5, 6.5, "G1")       // 10
			b.writeUnknown(teamB, 1, 7, "G1", "G3")      // 11: timed out
			b.deny(teamB, "G2", 0, 9, 10, "G1")          // 12: not yet applied
			b.deny(teamB, "G2", 1, 40, 41, "G1", "G3")   // 13: applied
			b.allow(teamB, "G3", 0, 42, 43)              // 14
			b.allow(teamA, "test1", 1, 50, 51)           // 15
		},
	},
	{
		name: "stale-deny",
		expect: expectation{Verdict: VerdictViolation, Counts: counts(StaleDeny, 2), MaxLag: time.Duration(ms(2.1)),
			Note: "the seed bug (LiteLLM 1.82-1.83): /team/update adds test2, then /key/generate for test2 is refused on both replicas printing the list before the update; it succeeds later"},
		build: func(b *hb) {
			b.initial(teamA, "test1")
			b.allow(teamA, "test1", 0, 0, 3.1)             // 1
			b.write(teamA, 0, 4, 9.8, "test1", "test2")    // 2
			b.deny(teamA, "test2", 0, 10.1, 12.6, "test1") // 3: 0.3ms stale
			b.deny(teamA, "test2", 1, 11.9, 13.9, "test1") // 4: 2.1ms stale
			b.allow(teamA, "test1", 1, 14, 15.5)           // 5
			b.allow(teamA, "test2", 0, 60000, 60002.4)     // 6: a minute later
			b.allow(teamA, "test2", 1, 60003, 60004.9)     // 7
		},
	},
	{
		name: "stale-allow",
		expect: expectation{Verdict: VerdictViolation, Counts: counts(StaleAllow, 2), MaxLag: time.Duration(ms(3)),
			Note: "privilege leaks: a key for G2 granted 3ms after an acknowledged /team/update revoked G2, and a /v1/models call of a blocked team granted 1.5ms after /team/block was acknowledged"},
		build: func(b *hb) {
			b.initial(teamA, "G1", "G2").initial(teamB, "G1")
			b.allow(teamA, "G2", 0, 0, 1)             // 1
			b.write(teamA, 0, 2, 5, "G1")             // 2: revoke G2
			b.allow(teamA, "G2", 1, 8, 9)             // 3: leak
			b.deny(teamA, "G2", 0, 10, 11, "G1")      // 4
			b.allow(teamB, "G1", 1, 0, 1)             // 5
			b.block(teamB, history.Block, 0, 2, 3.5)  // 6
			b.allow(teamB, "G1", 1, 5, 6)             // 7: leak
			b.denyBlocked(teamB, "G1", 0, 7, 8)       // 8
			b.block(teamB, history.Unblock, 0, 9, 10) // 9
			b.allow(teamB, "G1", 1, 11, 12)           // 10
		},
	},
	{
		name: "contract",
		expect: expectation{Verdict: VerdictViolation, Counts: counts(Contract, 3),
			Note: "refusals that break the contract: one prints a list the team never had, one refuses an item its own printed list contains, and a grant of a group no state ever allowed"},
		build: func(b *hb) {
			b.initial(teamA, "G1")
			b.write(teamA, 0, 0, 2, "G1", "G2")      // 1
			b.deny(teamA, "G3", 1, 3, 4, "G1", "G9") // 2: never had G9
			b.deny(teamA, "G2", 0, 5, 6, "G1", "G2") // 3: refuses what it prints
			b.allow(teamA, "G7", 1, 7, 8)            // 4: never allowed
			b.allow(teamA, "G2", 0, 9, 10)           // 5
		},
	},
	{
		name: "lost-update",
		expect: expectation{Verdict: VerdictViolation, Counts: counts(LostUpdate, 2), MaxLag: time.Duration(ms(4)),
			Note: "member storm (issue 25951): three concurrent /team/member_add acknowledged, /team/info misses bob twice; a timed-out add of dave that nobody sees is fine"},
		build: func(b *hb) {
			b.memberAdd(teamA, "alice", 0, 0, 2)   // 1
			b.memberAdd(teamA, "bob", 1, 0.5, 2.5) // 2
			b.memberAdd(teamA, "carol", 0, 1, 3)   // 3
			b.add(history.Op{Team: teamA, Kind: history.MemberAdd, Endpoint: "/team/member_add", Replica: 1,
				Call: ms(1.5), Return: -1, Member: "dave", Outcome: history.Unknown, Status: 504,
				Body: `{"error":{"message":"Gateway Timeout","type":"None","param":"None","code":"504"}}`}) // 4
			b.readMembers(teamA, 0, 4, 5, "admin", "alice", "carol")     // 5: bob lost, 1.5ms
			b.readMembers(teamA, 1, 6.5, 7.5, "admin", "alice", "carol") // 6: bob lost, 4ms
		},
	},
	{
		name: "non-linearizable",
		expect: expectation{Verdict: VerdictViolation, Counts: counts(NonLinearizable, 1),
			Note: "a slow /team/update still in flight: replica 0 grants the new group, then replica 1 refuses it printing the old list. Each decision alone is fine; together they see the write in opposite orders"},
		build: func(b *hb) {
			b.initial(teamA, "G1")
			b.write(teamA, 0, 0, 20, "G1", "G2") // 1
			b.allow(teamA, "G2", 0, 2, 3)        // 2
			b.deny(teamA, "G2", 1, 5, 6, "G1")   // 3
		},
	},
	{
		name: "bounded-lag",
		expect: expectation{Verdict: VerdictOK, Counts: counts(), Lagging: 2, MaxLag: time.Duration(ms(6)),
			Note: "checked with bounded:10ms: refusals lag the update by 2 and 6ms (tolerated, reported as lag); strict mode would flag both as stale-deny"},
		build: func(b *hb) {
			b.h.Header.Consistency = "bounded:10ms"
			b.initial(teamA, "G1")
			b.write(teamA, 0, 0, 4, "G1", "G2")  // 1
			b.deny(teamA, "G2", 1, 6, 7, "G1")   // 2: 2ms
			b.deny(teamA, "G2", 1, 10, 11, "G1") // 3: 6ms
			b.allow(teamA, "G2", 0, 12, 13)      // 4
		},
	},
}

// TestFixturesUpToDate keeps fixtures/histories in step with the builders
// above; run with -update to rewrite them.
func TestFixturesUpToDate(t *testing.T) {
	for _, f := range fixtures {
		b := newHB(f.name)
		f.build(b)
		var hist bytes.Buffer
		if err := history.Save(&hist, b.h); err != nil {
			t.Fatal(err)
		}
		exp, err := json.MarshalIndent(f.expect, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		exp = append(exp, '\n')
		for path, want := range map[string][]byte{
			filepath.Join(fixtureDir, f.name+".jsonl"):       hist.Bytes(),
			filepath.Join(fixtureDir, f.name+".expect.json"): exp,
		} {
			if *update {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFixturesUpToDate -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is out of date with its builder (run go test -run TestFixturesUpToDate -update)", path)
			}
		}
	}
}

// TestSavedHistories re-checks every saved history under fixtures/histories
// (with its header's consistency) against its expect file.
func TestSavedHistories(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 5 {
		t.Fatalf("only %d saved histories in %s", len(paths), fixtureDir)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := history.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(strings.TrimSuffix(path, ".jsonl") + ".expect.json")
			if err != nil {
				t.Fatal(err)
			}
			var want expectation
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("expect file: %v", err)
			}
			mode, err := ParseMode(h.Header.Consistency)
			if err != nil {
				t.Fatal(err)
			}
			res := Check(h, Options{Consistency: mode})
			if res.Verdict != want.Verdict {
				t.Errorf("verdict %s, want %s", res.Verdict, want.Verdict)
			}
			for _, k := range Kinds {
				if res.Counts[k] != want.Counts[k] {
					t.Errorf("%s: %d, want %d", k, res.Counts[k], want.Counts[k])
				}
			}
			if res.Lagging != want.Lagging || res.MaxLag != want.MaxLag {
				t.Errorf("lagging %d max lag %v, want %d and %v", res.Lagging, res.MaxLag, want.Lagging, want.MaxLag)
			}
			if res.Disagreements != 0 || res.Invalid != 0 {
				t.Errorf("%d disagreements, %d invalid ops", res.Disagreements, res.Invalid)
			}
			if t.Failed() {
				js, _ := json.MarshalIndent(res.Violations, "", "  ")
				t.Logf("violations: %s", js)
			}
		})
	}
}
