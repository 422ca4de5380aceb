package scenarios

import (
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/keyrace/keyrace/scenarios/history"
)

// seedStream is the PCG stream constant of every run ("keyrace" in ASCII):
// the seed alone selects the run.
const seedStream = 0x6b657972616365

// Write is one planned write of a team.
type Write struct {
	// Kind is history.Write (a list), Block, Unblock or MemberAdd.
	Kind history.Kind `json:"kind"`
	// Groups is the team's whole list after a list write (sorted); list
	// writes always send the whole list, so an earlier write whose outcome
	// is unknown cannot leave the team in a state the plan does not know.
	Groups []string `json:"groups,omitempty"`
	// Item is what the write changed: the item a list write granted or
	// revoked, the member a member add added (without the team prefix),
	// the model flow decisions ask for after a block or unblock.
	Item string `json:"item,omitempty"`
	// Grant is true when a list write added Item, false when it removed it.
	Grant bool `json:"grant,omitempty"`
}

// TeamPlan is the planned operations of one team.
type TeamPlan struct {
	// Writes are the team's writes in the order they are sent.
	Writes []Write `json:"writes"`
	// Asks are what the team's paced and warm decisions ask for, in the
	// order they are sent (flow decisions ask for their write's Item).
	Asks []string `json:"asks"`
}

// Plan is the seeded, timing-independent part of a run: what every team
// writes and asks, in order. Which team and which replica the next
// request goes to depends on timing (a team with a write in flight is
// skipped); what each team does does not.
type Plan struct {
	Seed  int64      `json:"seed"`
	Teams []TeamPlan `json:"teams"`
}

// NewPlan returns the first writes writes and asks asks of every team of a
// run of s with the given seed and number of teams. Run draws from the
// same generators, so a run's per-team writes and (non-flow) asks, in
// operation-id order, are a prefix of its plan.
func NewPlan(s *Scenario, seed int64, teams, writes, asks int) Plan {
	gens, _ := newGenerators(s, seed, teams)
	p := Plan{Seed: seed, Teams: make([]TeamPlan, teams)}
	for i, g := range gens {
		for range writes {
			p.Teams[i].Writes = append(p.Teams[i].Writes, g.nextWrite())
		}
		if len(s.asks()) > 0 {
			for range asks {
				p.Teams[i].Asks = append(p.Teams[i].Asks, g.nextAsk())
			}
		}
	}
	return p
}

// newGenerators splits the run's one PCG into a generator per team and a
// picker stream (which team a paced request goes to). Each team draws
// writes and asks from streams of its own, so the order in which teams are
// served never changes what any team does.
func newGenerators(s *Scenario, seed int64, teams int) ([]*teamGen, *rand.Rand) {
	root := rand.New(rand.NewPCG(uint64(seed), seedStream))
	gens := make([]*teamGen, teams)
	for i := range gens {
		w := rand.New(rand.NewPCG(root.Uint64(), root.Uint64()))
		a := rand.New(rand.NewPCG(root.Uint64(), root.Uint64()))
		gens[i] = newTeamGen(s, w, a)
	}
	return gens, rand.New(rand.NewPCG(root.Uint64(), root.Uint64()))
}

// teamGen produces one team's writes and asks. Not safe for concurrent
// use; the engine calls it under the team's lock.
type teamGen struct {
	s     *Scenario
	w, a  *rand.Rand
	list  []string // the list after the last planned write
	alt   string   // the item the alternate pattern flaps
	n     int      // writes planned so far
	lists map[string][]string
}

func newTeamGen(s *Scenario, w, a *rand.Rand) *teamGen {
	g := &teamGen{s: s, w: w, a: a, list: history.Canon(s.Initial), lists: map[string][]string{}}
	if s.Pattern == PatternAlternate {
		g.alt = s.Initial[w.IntN(len(s.Initial))]
	}
	return g
}

// intern shares one slice per distinct list, so recorded writes do not
// each carry a copy.
func (g *teamGen) intern(list []string) []string {
	k := history.Key(list)
	if l, ok := g.lists[k]; ok {
		return l
	}
	g.lists[k] = list
	return list
}

func (g *teamGen) nextWrite() Write {
	defer func() { g.n++ }()
	s := g.s
	switch s.Writes {
	case WriteBlock:
		w := Write{Kind: history.Block, Item: s.Initial[g.w.IntN(len(s.Initial))]}
		if g.n%2 == 1 {
			w.Kind = history.Unblock
		}
		return w
	case WriteMemberAdd:
		return Write{Kind: history.MemberAdd, Item: "u" + strconv.Itoa(g.n)}
	}
	var item string
	var grant bool
	switch s.Pattern {
	case PatternAlternate:
		item, grant = g.alt, g.n%2 == 1
	default:
		for {
			item = s.Universe[g.w.IntN(len(s.Universe))]
			grant = !slices.Contains(g.list, item)
			// A models list never goes empty: empty means all models.
			if grant || len(g.list) > 1 || s.Writes != WriteModels {
				break
			}
		}
	}
	next := slices.DeleteFunc(slices.Clone(g.list), func(x string) bool { return x == item })
	if grant {
		next = history.Canon(append(next, item))
	}
	g.list = g.intern(next)
	return Write{Kind: history.Write, Groups: g.list, Item: item, Grant: grant}
}

func (g *teamGen) nextAsk() string {
	asks := g.s.asks()
	if len(asks) == 0 {
		return ""
	}
	return asks[g.a.IntN(len(asks))]
}
