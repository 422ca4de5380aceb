package check

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyrace/keyrace/scenarios/history"
)

// want describes the violation a table case expects first (by call time).
type want struct {
	decision  uint64 // op ID
	missed    uint64 // op ID; 0: none
	staleness float64
	expected  [][]string // legal allow-lists (nil: don't check)
}

func TestCheck(t *testing.T) {
	const T = "team-1"
	tests := []struct {
		name    string
		mode    string
		joint   bool
		build   func(b *hb)
		verdict Verdict
		kinds   map[Kind]int
		first   *want
		maxLag  float64
		lagging int
	}{
		{
			name: "grant then immediate stale deny",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G1", "G2") // 1
				b.deny(T, "G2", 1, 6, 7, "G1")  // 2
			},
			verdict: VerdictViolation, kinds: map[Kind]int{StaleDeny: 1},
			first:  &want{decision: 2, missed: 1, staleness: 1, expected: [][]string{{"G1", "G2"}}},
			maxLag: 1,
		},
		{
			name: "grant then fresh allow is ok",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G1", "G2")
				b.allow(T, "G2", 1, 6, 7)
				b.deny(T, "G3", 0, 8, 9, "G1", "G2")
			},
			verdict: VerdictOK,
		},
		{
			name: "revoke then stale allow",
			build: func(b *hb) {
				b.initial(T, "G1", "G2")
				b.allow(T, "G2", 0, 0, 1)        // 1: fine
				b.write(T, 0, 2, 5, "G1")        // 2: revoke G2
				b.allow(T, "G2", 1, 8, 9)        // 3: leak
				b.deny(T, "G2", 0, 10, 11, "G1") // 4: fine
			},
			verdict: VerdictViolation, kinds: map[Kind]int{StaleAllow: 1},
			first:  &want{decision: 3, missed: 2, staleness: 3, expected: [][]string{{"G1"}}},
			maxLag: 3,
		},
		{
			name: "observed list never seen is a contract violation",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G1", "G2")
				b.deny(T, "G3", 1, 6, 7, "G9") // 3... ID 2
			},
			verdict: VerdictViolation, kinds: map[Kind]int{Contract: 1},
			first: &want{decision: 2, expected: [][]string{{"G1", "G2"}}},
		},
		{
			name: "refusal printing the refused item is a contract violation",
			build: func(b *hb) {
				b.initial(T, "G1", "G2")
				b.deny(T, "G2", 1, 6, 7, "G1", "G2")
			},
			verdict: VerdictViolation, kinds: map[Kind]int{Contract: 1},
			first: &want{decision: 1},
		},
		{
			name: "grant no state ever allowed is a contract violation",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G2")
				b.allow(T, "G7", 1, 6, 7)
			},
			verdict: VerdictViolation, kinds: map[Kind]int{Contract: 1},
			first: &want{decision: 2},
		},
		{
			name: "lost member add",
			build: func(b *hb) {
				b.memberAdd(T, "alice", 0, 0, 2)            // 1
				b.memberAdd(T, "bob", 1, 1, 3)              // 2
				b.readMembers(T, 0, 5, 6, "alice", "admin") // 3: admin is pre-existing, ignored
				b.readMembers(T, 1, 7, 8, "admin", "alice", "bob")
			},
			verdict: VerdictViolation, kinds: map[Kind]int{LostUpdate: 1},
			first:  &want{decision: 3, missed: 2, staleness: 2},
			maxLag: 2,
		},
		{
			name: "member adds all seen",
			build: func(b *hb) {
				b.memberAdd(T, "alice", 0, 0, 2)
				b.memberAdd(T, "bob", 1, 1, 3)
				b.readMembers(T, 0, 2.5, 4, "alice") // concurrent with nothing pending but bob: bob acked at 3 > call 2.5
				b.readMembers(T, 1, 5, 6, "alice", "bob")
			},
			verdict: VerdictOK,
		},
		{
			name: "member seen before its add was called",
			build: func(b *hb) {
				b.readMembers(T, 0, 0, 1, "carol")
				b.memberAdd(T, "carol", 0, 5, 6)
			},
			verdict: VerdictViolation, kinds: map[Kind]int{NonLinearizable: 1},
			first: &want{decision: 1},
		},
		{
			name: "unknown write makes a stale-looking refusal legal",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G1", "G2")
				b.writeUnknown(T, 0, 6, "G1")
				b.deny(T, "G2", 1, 10, 11, "G1")
				b.deny(T, "G2", 1, 12, 13, "G1")
			},
			verdict: VerdictOK,
		},
		{
			name: "unknown write called after the refusal does not excuse it",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G1", "G2")  // 1
				b.deny(T, "G2", 1, 10, 11, "G1") // 2
				b.writeUnknown(T, 0, 12, "G1")   // 3
			},
			verdict: VerdictViolation, kinds: map[Kind]int{StaleDeny: 1},
			first:  &want{decision: 2, missed: 1, staleness: 5},
			maxLag: 5,
		},
		{
			name: "refusal concurrent with the write may see the old list",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 10, "G1", "G2")
				b.deny(T, "G2", 1, 5, 6, "G1")
			},
			verdict: VerdictOK,
		},
		{
			name: "grant concurrent with the write may see the new list",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 10, "G1", "G2")
				b.allow(T, "G2", 1, 5, 6)
			},
			verdict: VerdictOK,
		},
		{
			name: "touching intervals are concurrent",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G1", "G2")
				b.deny(T, "G2", 1, 5, 6, "G1")
			},
			verdict: VerdictOK,
		},
		{
			name: "overlapping acknowledged writes may linearise either way",
			build: func(b *hb) {
				b.initial(T, "G0")
				b.write(T, 0, 0, 10, "A")
				b.write(T, 1, 2, 8, "B")
				b.deny(T, "G0", 0, 12, 13, "A")
				b.write(T, 0, 20, 22, "C")
				b.deny(T, "G0", 0, 25, 26, "B") // 5: both A and B superseded by C
			},
			verdict: VerdictViolation, kinds: map[Kind]int{StaleDeny: 1},
			first:  &want{decision: 5, missed: 4, staleness: 3, expected: [][]string{{"C"}}},
			maxLag: 3,
		},
		{
			name: "decisions seeing the write in opposite orders",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 20, "G1", "G2") // 1: slow write
				b.allow(T, "G2", 1, 2, 3)        // 2: sees the new list
				b.deny(T, "G2", 0, 5, 6, "G1")   // 3: then the old one
			},
			verdict: VerdictViolation, kinds: map[Kind]int{NonLinearizable: 1},
		},
		{
			name: "refusal printing a list only a later write sets",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.deny(T, "G2", 1, 0, 1, "G3")
				b.write(T, 0, 5, 6, "G3")
			},
			verdict: VerdictViolation, kinds: map[Kind]int{NonLinearizable: 1},
			first: &want{decision: 1},
		},
		{
			name: "blocked team granted after acknowledged block",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.allow(T, "G1", 0, 0, 1)          // 1
				b.block(T, history.Block, 0, 2, 4) // 2
				b.allow(T, "G1", 1, 6, 7)          // 3: leak
				b.denyBlocked(T, "G1", 0, 8, 9)    // 4
			},
			verdict: VerdictViolation, kinds: map[Kind]int{StaleAllow: 1},
			first:  &want{decision: 3, missed: 2, staleness: 2},
			maxLag: 2,
		},
		{
			name: "blocked refusal after acknowledged unblock",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.h.Header.InitialBlocked = []string{T}
				b.denyBlocked(T, "G1", 0, 0, 1)
				b.block(T, history.Unblock, 0, 2, 4) // 2
				b.denyBlocked(T, "G1", 1, 6, 7)      // 3
				b.allow(T, "G1", 0, 8, 9)
			},
			verdict: VerdictViolation, kinds: map[Kind]int{StaleDeny: 1},
			first:  &want{decision: 3, missed: 2, staleness: 2},
			maxLag: 2,
		},
		{
			name: "blocked refusal on a team never blocked",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.denyBlocked(T, "G1", 0, 0, 1)
			},
			verdict: VerdictViolation, kinds: map[Kind]int{Contract: 1},
		},
		{
			name: "list refusal of a blocked team is legal",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.block(T, history.Block, 0, 0, 1)
				b.deny(T, "G2", 0, 2, 3, "G1")
			},
			verdict: VerdictOK,
		},
		{
			name: "bounded mode tolerates lag under the bound",
			mode: "bounded:5ms",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G1", "G2")
				b.deny(T, "G2", 1, 6, 7, "G1") // 1ms stale
				b.allow(T, "G2", 1, 12, 13)
			},
			verdict: VerdictOK, maxLag: 1, lagging: 1,
		},
		{
			name: "bounded mode flags lag over the bound",
			mode: "bounded:5ms",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G1", "G2")  // 1
				b.deny(T, "G2", 1, 6, 7, "G1")   // 2: 1ms, tolerated
				b.deny(T, "G2", 1, 15, 16, "G1") // 3: 10ms, flagged
			},
			verdict: VerdictViolation, kinds: map[Kind]int{StaleDeny: 1},
			first:  &want{decision: 3, missed: 1, staleness: 10},
			maxLag: 10, lagging: 1,
		},
		{
			name: "bounded mode tolerates decisions disagreeing within the bound",
			mode: "bounded:5ms",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 5, "G1", "G2")
				b.allow(T, "G2", 0, 6, 7)      // fresh replica
				b.deny(T, "G2", 1, 8, 9, "G1") // stale replica, 3ms
			},
			verdict: VerdictOK, maxLag: 3, lagging: 1,
		},
		{
			name: "per-decision bounded mode accepts a slow write seen out of order",
			mode: "bounded:5ms",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 100, "G1", "G2") // still in flight: never stale
				b.allow(T, "G2", 0, 10, 11)
				b.deny(T, "G2", 1, 70, 71, "G1")
			},
			verdict: VerdictOK,
		},
		{
			name:  "joint bounded mode rejects a slow write seen out of order beyond the bound",
			mode:  "bounded:5ms",
			joint: true,
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 100, "G1", "G2")
				b.allow(T, "G2", 0, 10, 11)
				b.deny(T, "G2", 1, 70, 71, "G1") // 3
			},
			verdict: VerdictViolation, kinds: map[Kind]int{NonLinearizable: 1},
			first: &want{decision: 3},
		},
		{
			name:  "joint bounded mode accepts disagreement within the bound",
			mode:  "bounded:5ms",
			joint: true,
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 100, "G1", "G2")
				b.allow(T, "G2", 0, 10, 11)
				b.deny(T, "G2", 1, 14, 15, "G1")
			},
			verdict: VerdictOK,
		},
		{
			name: "bounded mode applies to member reads",
			mode: "bounded:5ms",
			build: func(b *hb) {
				b.memberAdd(T, "alice", 0, 0, 2)
				b.readMembers(T, 1, 4, 5)
				b.readMembers(T, 1, 9, 10, "alice")
			},
			verdict: VerdictOK, maxLag: 2, lagging: 1,
		},
		{
			name: "failed decisions and rejected writes are dropped",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.failDecide(T, "G2", 0, 0)
				b.add(history.Op{Team: T, Kind: history.Write, Endpoint: "/team/update", Call: ms(1), Return: ms(2),
					Groups: []string{"G9"}, Outcome: history.Rejected, Status: 400})
				b.deny(T, "G2", 0, 3, 4, "G1")
				b.write(T, 0, 5, 6, "G1") // an acknowledged write, so the history can pass
				b.deny(T, "G2", 0, 7, 8, "G1")
			},
			verdict: VerdictOK,
		},
		{
			// Nothing was acknowledged: the run proves nothing either way.
			name: "no acknowledged write is inconclusive",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.add(history.Op{Team: T, Kind: history.Write, Endpoint: "/team/update", Call: ms(1), Return: ms(2),
					Groups: []string{"G9"}, Outcome: history.Rejected, Status: 400})
				b.deny(T, "G2", 0, 3, 4, "G1")
			},
			verdict: VerdictUnknown,
		},
		{
			name: "mostly failed decisions are inconclusive",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 1, "G1", "G2")
				b.allow(T, "G2", 0, 2, 3)
				for i := range 3 {
					b.failDecide(T, "G2", 0, float64(4+i))
				}
			},
			verdict: VerdictUnknown,
		},
		{
			name: "failed writes count as lost",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 1, "G1", "G2")
				b.allow(T, "G2", 0, 2, 3)
				for i := range 3 {
					b.writeUnknown(T, 0, float64(4+i), "G1")
				}
			},
			verdict: VerdictUnknown,
		},
		{
			name: "a target that stopped answering is inconclusive",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 1, "G1", "G2")
				b.allow(T, "G2", 0, 2, 3)
				b.allow(T, "G2", 0, 4, 5)
				b.failDecide(T, "G2", 0, 30) // the last answers came at 5 ms of a 30 ms run
			},
			verdict: VerdictUnknown,
		},
		{
			name: "a replica with nothing usable is inconclusive",
			build: func(b *hb) {
				b.initial(T, "G1")
				b.write(T, 0, 0, 1, "G1", "G2")
				b.allow(T, "G2", 0, 2, 3)
				b.allow(T, "G2", 0, 4, 5)
				b.allow(T, "G2", 0, 6, 7)
				b.failDecide(T, "G2", 1, 6)
			},
			verdict: VerdictUnknown,
		},
		{
			name: "teams are independent",
			build: func(b *hb) {
				b.initial(T, "G1").initial("team-2", "G1")
				b.write(T, 0, 0, 5, "G1", "G2")
				b.deny("team-2", "G2", 1, 6, 7, "G1") // team-2 never changed: fine
				b.deny(T, "G2", 1, 6, 7, "G1")        // 3: stale
			},
			verdict: VerdictViolation, kinds: map[Kind]int{StaleDeny: 1},
			first:  &want{decision: 3, missed: 1, staleness: 1},
			maxLag: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newHB("table")
			tc.build(b)
			mode, err := ParseMode(tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			res := Check(b.h, Options{Consistency: mode, JointBounded: tc.joint})
			defer func() {
				if t.Failed() {
					js, _ := json.MarshalIndent(res, "", "  ")
					t.Logf("result: %s", js)
				}
			}()
			if res.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s", res.Verdict, tc.verdict)
			}
			for _, k := range Kinds {
				if res.Counts[k] != tc.kinds[k] {
					t.Errorf("%s count %d, want %d", k, res.Counts[k], tc.kinds[k])
				}
			}
			if res.MaxLag != time.Duration(ms(tc.maxLag)) {
				t.Errorf("max lag %v, want %v", res.MaxLag, time.Duration(ms(tc.maxLag)))
			}
			if res.Lagging != tc.lagging {
				t.Errorf("lagging %d, want %d", res.Lagging, tc.lagging)
			}
			if res.Disagreements != 0 {
				t.Errorf("%d disagreements between porcupine and the classifier", res.Disagreements)
			}
			if tc.first == nil {
				return
			}
			if len(res.Violations) == 0 {
				t.Fatal("no violations")
			}
			v := res.Violations[0]
			if v.Decision.ID != tc.first.decision {
				t.Errorf("decision op %d, want %d", v.Decision.ID, tc.first.decision)
			}
			var missed uint64
			if v.Missed != nil {
				missed = v.Missed.ID
			}
			if missed != tc.first.missed {
				t.Errorf("missed op %d, want %d", missed, tc.first.missed)
			}
			if v.Staleness != time.Duration(ms(tc.first.staleness)) {
				t.Errorf("staleness %v, want %v", v.Staleness, time.Duration(ms(tc.first.staleness)))
			}
			if v.Replica != v.Decision.Replica || v.Reason == "" {
				t.Errorf("replica %d / reason %q not filled in", v.Replica, v.Reason)
			}
			if tc.first.expected != nil {
				var got [][]string
				for _, s := range v.Expected {
					got = append(got, s.Groups)
				}
				if !reflect.DeepEqual(got, tc.first.expected) {
					t.Errorf("expected states %v, want %v", got, tc.first.expected)
				}
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in      string
		want    Mode
		wantErr string
	}{
		{in: "strict", want: Strict},
		{in: "", want: Strict},
		{in: "bounded:50ms", want: Bounded(50 * time.Millisecond)},
		{in: " bounded:1s ", want: Bounded(time.Second)},
		{in: "bounded", wantErr: "needs a duration"},
		{in: "bounded:", wantErr: "needs a duration"},
		{in: "bounded:abc", wantErr: "needs a duration"},
		{in: "bounded:0s", wantErr: "positive"},
		{in: "bounded:-5ms", wantErr: "positive"},
		{in: "linearizable", wantErr: "want strict or bounded"},
	}
	for _, tc := range tests {
		got, err := ParseMode(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseMode(%q) error %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, _ := ParseMode(got.String()); back != got {
			t.Errorf("ParseMode(%q).String() = %q does not round-trip", tc.in, got.String())
		}
	}
}

func TestResultJSON(t *testing.T) {
	b := newHB("json")
	b.initial("team-1", "G1")
	b.write("team-1", 0, 0, 5, "G1", "G2")
	b.deny("team-1", "G2", 1, 6, 7, "G1")
	res := Check(b.h, Options{Consistency: Bounded(time.Millisecond / 2)})
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"verdict":"violation"`, `"consistency":"bounded:500µs"`, `"stale-deny":1`,
		`"lost-update":0`, `"staleness_ns":1000000`, `"porcupine":"violation"`, `"register":"permissions"`} {
		if !strings.Contains(string(js), frag) {
			t.Errorf("summary JSON lacks %s:\n%s", frag, js)
		}
	}
	var back Result
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("summary JSON does not read back: %v", err)
	}
	if back.Consistency != res.Consistency || back.Counts[StaleDeny] != 1 {
		t.Errorf("read back %+v", back)
	}
}

func TestInvalidOpsAreCounted(t *testing.T) {
	b := newHB("invalid")
	b.initial("team-1", "G1")
	b.add(history.Op{Team: "team-1", Kind: history.Decide, Call: ms(1), Return: ms(2), Outcome: history.OK})
	b.add(history.Op{Team: "team-1", Kind: "rename", Call: ms(1), Return: ms(2), Outcome: history.OK})
	b.add(history.Op{Team: "team-1", Kind: history.Write, Call: ms(5), Return: ms(2), Outcome: history.OK})
	b.deny("team-1", "G2", 0, 3, 4, "G1")
	res := Check(b.h, Options{})
	if res.Invalid != 3 || res.Ops != 1 || res.Verdict != VerdictUnknown || res.Inconclusive == "" {
		t.Errorf("invalid %d ops %d verdict %s (%q); want 3, 1, unknown: most operations were unusable", res.Invalid, res.Ops, res.Verdict, res.Inconclusive)
	}
}

func TestMaxViolations(t *testing.T) {
	b := newHB("many")
	b.initial("team-1", "G1").initial("team-2", "G1")
	b.write("team-1", 0, 0, 1, "G1", "G2")
	b.write("team-2", 0, 0, 1, "G1", "G2")
	for i := range 10 {
		b.deny("team-1", "G2", 1, float64(20-i), float64(21-i), "G1")
		b.deny("team-2", "G2", 1, float64(30+i), float64(31+i), "G1")
	}
	for _, tc := range []struct{ max, kept int }{{0, 20}, {-1, 20}, {3, 3}, {15, 15}} {
		res := Check(b.h, Options{MaxViolations: tc.max})
		if len(res.Violations) != tc.kept || res.ViolationsDropped != 20-tc.kept || res.Counts[StaleDeny] != 20 {
			t.Errorf("max %d: kept %d dropped %d counted %d; want %d, %d, 20", tc.max, len(res.Violations),
				res.ViolationsDropped, res.Counts[StaleDeny], tc.kept, 20-tc.kept)
			continue
		}
		for i := 1; i < len(res.Violations); i++ {
			if res.Violations[i].Decision.Call < res.Violations[i-1].Decision.Call {
				t.Errorf("max %d: violations out of order at %d", tc.max, i)
			}
		}
		if res.Violations[0].Decision.Call != ms(11) {
			t.Errorf("max %d: first kept violation called at %d, want the earliest", tc.max, res.Violations[0].Decision.Call)
		}
	}
}

func TestEmptyHistory(t *testing.T) {
	res := Check(history.History{Header: history.Header{Format: history.FormatV1}}, Options{})
	if res.Verdict != VerdictUnknown || res.Inconclusive == "" || res.TeamsChecked != 0 || res.Violations == nil {
		t.Errorf("empty history: want unknown (it proves nothing), got %+v", res)
	}
}
