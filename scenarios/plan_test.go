package scenarios

import (
	"reflect"
	"slices"
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/scenarios/history"
)

// TestPlanDeterministic: one seed, one plan, for every built-in scenario;
// another seed, another plan.
func TestPlanDeterministic(t *testing.T) {
	all, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		a := NewPlan(s, 42, 5, 50, 50)
		b := NewPlan(s, 42, 5, 50, 50)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two plans of seed 42 differ", s.Name)
		}
		if s.Writes == WriteMemberAdd {
			continue // member adds are the same for every seed: u0, u1, ...
		}
		if c := NewPlan(s, 43, 5, 50, 50); reflect.DeepEqual(a, c) {
			t.Errorf("%s: seeds 42 and 43 give the same plan", s.Name)
		}
		// More teams do not change what the first teams do: each team's
		// streams are split off the root in team order.
		if d := NewPlan(s, 42, 7, 50, 50); !reflect.DeepEqual(a.Teams, d.Teams[:5]) {
			t.Errorf("%s: adding teams changed the first teams' plans", s.Name)
		}
	}
}

// TestPlanWrites: writes follow their pattern: each list write changes
// exactly its item, a models list never goes empty, alternate flaps one
// initial item, block alternates with unblock, member adds are fresh.
func TestPlanWrites(t *testing.T) {
	for _, name := range []string{"warm-update", "flap", "litellm-34266-team-models", "litellm-35565-team-block", "member-storm"} {
		s, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for ti, tp := range NewPlan(s, 7, 4, 200, 20).Teams {
			prev := history.Canon(s.Initial)
			seen := map[string]bool{}
			for i, w := range tp.Writes {
				switch s.Writes {
				case WriteAccessGroups, WriteModels:
					want := slices.DeleteFunc(slices.Clone(prev), func(x string) bool { return x == w.Item })
					if w.Grant {
						want = history.Canon(append(want, w.Item))
					}
					if w.Kind != history.Write || !slices.Equal(w.Groups, want) || w.Grant == slices.Contains(prev, w.Item) {
						t.Fatalf("%s team %d write %d: %+v after %v", name, ti, i, w, prev)
					}
					if s.Writes == WriteModels && len(w.Groups) == 0 {
						t.Fatalf("%s team %d write %d empties the models list", name, ti, i)
					}
					if s.Pattern == PatternAlternate && (w.Item != tp.Writes[0].Item || w.Grant != (i%2 == 1)) {
						t.Fatalf("%s team %d write %d does not flap: %+v", name, ti, i, w)
					}
					prev = w.Groups
				case WriteBlock:
					if want := []history.Kind{history.Block, history.Unblock}[i%2]; w.Kind != want || !slices.Contains(s.Initial, w.Item) {
						t.Fatalf("%s team %d write %d: %+v", name, ti, i, w)
					}
				case WriteMemberAdd:
					if w.Kind != history.MemberAdd || seen[w.Item] {
						t.Fatalf("%s team %d write %d: %+v", name, ti, i, w)
					}
					seen[w.Item] = true
				}
			}
			for _, a := range tp.Asks {
				if !slices.Contains(s.asks(), a) {
					t.Fatalf("%s: ask %q outside %v", name, a, s.asks())
				}
			}
		}
	}
}

// TestRunFollowsPlan: two runs with one seed send every team the same
// writes and (paced and warm) asks, in id order, as the plan says, though
// their timing differs.
func TestRunFollowsPlan(t *testing.T) {
	urls := startTarget(t, 2, "", refimpl.Config{})
	for _, name := range []string{"warm-update", "flap"} {
		s, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		o := short(name, urls, 20260417)
		o.Teams = 4
		var runs [2]*Outcome
		for i := range runs {
			runs[i] = mustRun(t, name, o)
		}
		plan := NewPlan(s, 20260417, 4, 1000, 1000)
		for ti := range 4 {
			var writes [2][]Write
			var asks [2][]string
			for r, out := range runs {
				team := out.Teams[ti]
				for _, op := range opsOf(out.History, team, "") {
					switch Stream(op.Stream) {
					case StreamWrite:
						writes[r] = append(writes[r], Write{Kind: op.Kind, Groups: op.Groups})
					case StreamDecide, StreamWarm:
						asks[r] = append(asks[r], op.Ask)
					}
				}
				if len(writes[r]) < 3 {
					t.Fatalf("%s run %d team %d: only %d writes", name, r, ti, len(writes[r]))
				}
				for i, w := range writes[r] {
					if p := plan.Teams[ti].Writes[i]; w.Kind != p.Kind || !slices.Equal(w.Groups, p.Groups) {
						t.Fatalf("%s run %d team %d write %d: %+v, plan %+v", name, r, ti, i, w, p)
					}
				}
				if !slices.Equal(asks[r], plan.Teams[ti].Asks[:len(asks[r])]) {
					t.Fatalf("%s run %d team %d: asks %v, plan %v", name, r, ti, asks[r], plan.Teams[ti].Asks[:len(asks[r])])
				}
			}
		}
		if runs[0].Header.Seed != 20260417 || runs[1].Header.Seed != 20260417 {
			t.Errorf("seed not recorded: %d, %d", runs[0].Header.Seed, runs[1].Header.Seed)
		}
	}
}
