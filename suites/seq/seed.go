package seq

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

// Dimension is one kind of team allow-list a key request is checked against.
type Dimension struct {
	// Name is used in sequence names ("mcp-access-groups").
	Name string
	// Kind is how the proxy's message names it (wire.KindMCPAccessGroup).
	Kind string
	// Items are the two values the sequences grant and revoke ("G1", "G2").
	First, Second string
	// Perm builds an object_permission that sets this dimension to items.
	Perm func(items ...string) *wire.PermissionUpdate
}

// AccessGroups is the seed bug's dimension: MCP access groups.
var AccessGroups = Dimension{
	Name: "mcp-access-groups", Kind: wire.KindMCPAccessGroup, First: "G1", Second: "G2",
	Perm: func(items ...string) *wire.PermissionUpdate {
		return &wire.PermissionUpdate{MCPAccessGroups: wire.List(items...)}
	},
}

// Servers is the same check on MCP servers.
var Servers = Dimension{
	Name: "mcp-servers", Kind: wire.KindMCPServers, First: "srv-1", Second: "srv-2",
	Perm: func(items ...string) *wire.PermissionUpdate {
		return &wire.PermissionUpdate{MCPServers: wire.List(items...)}
	},
}

// warmReads is how many decisions run before the write: a cold cache hides
// the bug, so the sequence first makes every cache hold the old state.
const warmReads = 2

// Grant is the seed sequence: the team allows First; keys for First are
// generated (warming caches); the team is updated to allow First and
// Second; a key for Second, requested the moment the update is
// acknowledged, must be granted.
func Grant(d Dimension) Sequence {
	name := "grant-" + d.Name
	if d.Name == AccessGroups.Name {
		name = "seed-grant"
	}
	return Sequence{
		Name:        name,
		Description: fmt.Sprintf("after /team/update adds %s to the team's %s, the next /key/generate asking for it is granted", d.Second, d.Kind),
		Run: func(ctx context.Context, t Target) (Result, error) {
			return runPermSequence(ctx, t, name, d, []string{d.First}, []string{d.First, d.Second}, d.Second)
		},
	}
}

// Revoke is the inverse: the team allows First and Second; keys for
// Second are generated; the team is shrunk to First; a key for Second,
// requested the moment the update is acknowledged, must be refused with the
// new allow-list. Granting it would be a privilege leak.
func Revoke(d Dimension) Sequence {
	name := "revoke-" + d.Name
	if d.Name == AccessGroups.Name {
		name = "seed-revoke"
	}
	return Sequence{
		Name:        name,
		Description: fmt.Sprintf("after /team/update removes %s from the team's %s, the next /key/generate asking for it is refused listing the new allow-list", d.Second, d.Kind),
		Run: func(ctx context.Context, t Target) (Result, error) {
			return runPermSequence(ctx, t, name, d, []string{d.First, d.Second}, []string{d.First}, d.Second)
		},
	}
}

// Seed returns the two sequences of the seed bug, in order.
func Seed() []Sequence { return []Sequence{Grant(AccessGroups), Revoke(AccessGroups)} }

func runPermSequence(ctx context.Context, t Target, name string, d Dimension, before, after []string, ask string) (Result, error) {
	res := Result{Sequence: name, Team: t.TeamID(name)}
	_, ex, err := t.Writer.NewTeam(ctx, wire.NewTeamRequest{TeamID: res.Team, TeamAlias: res.Team, ObjectPermission: d.Perm(before...)})
	if err != nil {
		return res, cannotRun("create team", err)
	}
	res.Steps = append(res.Steps, Step{Name: "create team allowing " + wire.PyList(before), Expected: "200", Observed: "200",
		Verdict: Setup, Exchange: ex, Replica: t.Writer.BaseURL()})
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = t.Writer.DeleteTeams(cctx, res.Team)
	}()

	warm := before[len(before)-1]
	for i := 0; i < warmReads; i++ {
		_, ex, err := t.Decider.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: res.Team, ObjectPermission: d.Perm(warm)})
		if err != nil {
			return res, cannotRun(fmt.Sprintf("warm: generate key for %s", warm), err)
		}
		res.Steps = append(res.Steps, Step{Name: "warm: generate key for " + warm, Expected: "200", Observed: "200",
			Verdict: Setup, Exchange: ex, Replica: t.Decider.BaseURL()})
	}

	_, wex, err := t.Writer.UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: res.Team, ObjectPermission: wire.Some(d.Perm(after...))})
	if err != nil {
		return res, cannotRun("update team", err)
	}
	res.Write = wex
	res.Steps = append(res.Steps, Step{Name: "write: team allows " + wire.PyList(after), Expected: "200", Observed: "200 (acknowledged)",
		Verdict: Setup, Exchange: wex, Replica: t.Writer.BaseURL(), Write: true})

	decide := func() Step {
		_, dex, err := t.Decider.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: res.Team, ObjectPermission: d.Perm(ask)})
		st := judge(d, res.Team, ask, before, after, dex, err)
		if st.Verdict == "" {
			st.err = err
		}
		return st
	}
	step := withinBound(t.Bound, wex, decide)
	step.Name = "decide: generate key for " + ask
	step.Replica = t.Decider.BaseURL()
	if step.Exchange != nil {
		step.SinceAck = step.Exchange.Start.Sub(wex.End)
	}
	if step.Verdict == "" {
		return res, cannotRun(step.Name, step.err)
	}
	res.Steps = append(res.Steps, step)
	return res, nil
}

// judge decides a key request made right after the write. An empty verdict
// means the answer says nothing about the target (transport failure).
func judge(d Dimension, team, ask string, before, after []string, ex *client.Exchange, err error) Step {
	want := slices.Contains(after, ask)
	st := Step{Exchange: ex}
	if want {
		st.Expected = "200 granted (team allows " + wire.PyList(after) + ")"
	} else {
		st.Expected = "403 refused, Team allows: " + wire.PyList(after)
	}
	if err == nil {
		st.Observed = "200 granted"
		if want {
			st.Verdict = Pass
		} else {
			st.Verdict = StaleAllow
			st.Observed += " (privilege leak: the write revoked it)"
		}
		return st
	}
	ae, ok := client.AsAPIError(err)
	if !ok {
		return st
	}
	st.Observed = fmt.Sprintf("%d %s", ae.Status, ae.Message)
	na := ae.NotAllowed
	if ae.Status != 403 || na == nil {
		st.Verdict = Contract
		return st
	}
	st.Observed = fmt.Sprintf("403 refused, Team allows: %s", wire.PyList(na.Allowed))
	switch {
	case na.TeamID != team || na.Kind != d.Kind || !slices.Contains(na.Requested, ask):
		st.Verdict = Contract
		st.Observed += fmt.Sprintf(" (message names %s %s of team %q)", na.Kind, wire.PyList(na.Requested), na.TeamID)
	case want && sameSet(na.Allowed, before):
		st.Verdict = StaleDeny
		st.Observed += " (the state before the write)"
	case !want && sameSet(na.Allowed, after):
		st.Verdict = Pass
	case sameSet(na.Allowed, before) || sameSet(na.Allowed, after):
		st.Verdict = Contract
		st.Observed += fmt.Sprintf(" (a refusal for %s although that list allows it)", ask)
	default:
		st.Verdict = Contract
		st.Observed += " (a list the team never had)"
	}
	return st
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
