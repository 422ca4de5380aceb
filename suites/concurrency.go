package suites

import (
	"context"
	"fmt"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

// Concurrency sizes: big enough to interleave on any proxy, small enough to
// stay well under a second against a local one.
const (
	flowTeams   = 8  // teams updated in parallel
	flowRounds  = 5  // update→decide rounds per team
	parallelOps = 16 // concurrent requests in the fan-out specs
)

func init() {
	Register(Spec{
		Name: "ConcurrencyUpdateThenGenerateFlows", Tier: Concurrency, Profile: Core, Features: permFeatures,
		Description: fmt.Sprintf("%d teams in parallel, %d rounds each: set the team's groups to [Gi], then at once a key for Gi is granted and one for the previous group is refused with Team allows: ['Gi']", flowTeams, flowRounds),
		Run: func(ctx context.Context, env *Env) {
			var wg sync.WaitGroup
			errs := make(chan string, flowTeams*flowRounds)
			for i := 0; i < flowTeams; i++ {
				t := env.CreateTeam(ctx, wire.NewTeamRequest{ObjectPermission: accessGroups("G0")})
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					for r := 1; r <= flowRounds; r++ {
						if msg := flowRound(ctx, env, t.TeamID, r); msg != "" {
							errs <- msg
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			var all []string
			for e := range errs {
				all = append(all, e)
			}
			switch {
			case len(all) > 0 && cannotRunErr() != nil:
				Fail(fmt.Sprintf("the update→generate flows could not be judged (%d of %d stopped):\n\n%s", len(all), flowTeams, strings.Join(all, "\n\n")))
			case len(all) > 0:
				Fail(fmt.Sprintf("%d of %d update→generate flows saw a stale decision:\n\n%s", len(all), flowTeams, strings.Join(all, "\n\n")))
			}
		},
	})
	Register(Spec{
		Name: "ConcurrencyPermissionFieldsAllPersist", Tier: Concurrency, Profile: Core, Features: permFeatures,
		Description: "concurrent /team/update calls that each set a different object_permission field all persist",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{ObjectPermission: accessGroups("G0")})
			updates := []*wire.PermissionUpdate{
				{MCPAccessGroups: wire.List("G1")}, {MCPServers: wire.List("s1")}, {VectorStores: wire.List("v1")},
				{Agents: wire.List("a1")}, {AgentAccessGroups: wire.List("ag1")}, {BlockedTools: wire.List("b1")},
			}
			fanOut(len(updates), func(i int) (*client.Exchange, error) {
				_, ex, err := env.Writer().UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: t.TeamID, ObjectPermission: wire.Some(updates[i])})
				return ex, err
			})
			info, ex, err := env.Decider().TeamInfo(ctx, t.TeamID)
			Must(err, ex, "team/info")
			p := info.TeamInfo.ObjectPermission
			Expect(p).NotTo(BeNil())
			Expect([][]string{p.MCPAccessGroups, p.MCPServers, p.VectorStores, p.Agents, p.AgentAccessGroups, p.BlockedTools}).To(Equal(
				[][]string{{"G1"}, {"s1"}, {"v1"}, {"a1"}, {"ag1"}, {"b1"}}), "a concurrent update was lost\n%s", Evidence(ex))
		},
	})
	Register(Spec{
		Name: "ConcurrencyParallelKeyGenerate", Tier: Concurrency, Profile: Core, Features: keyFeatures,
		Description: fmt.Sprintf("%d parallel /key/generate calls give %d distinct keys, all listed by /team/info", parallelOps, parallelOps),
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{})
			keys := make([]string, parallelOps)
			fanOut(parallelOps, func(i int) (*client.Exchange, error) {
				k, ex, err := env.Decider().GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: t.TeamID})
				keys[i] = k.Key
				return ex, err
			})
			set := map[string]bool{}
			for _, k := range keys {
				set[k] = true
			}
			Expect(set).To(HaveLen(parallelOps), "keys were not distinct")
			info, ex, err := env.Writer().TeamInfo(ctx, t.TeamID)
			Must(err, ex, "team/info")
			Expect(info.Keys).To(HaveLen(parallelOps), "team/info lists every key")
		},
	})
}

// flowRound sets the team's groups to [Gr] and decides at once: Gr must be
// granted and G(r-1) refused listing exactly ['Gr']. It returns "" or a
// description of what went wrong with the evidence; a failure that is no
// decision at all (the write failed, no answer, a 5xx) also marks the run
// as one that cannot be judged.
func flowRound(ctx context.Context, env *Env, team string, r int) string {
	now, prev := fmt.Sprintf("G%d", r), fmt.Sprintf("G%d", r-1)
	_, wex, err := env.Writer().UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: team, ObjectPermission: wire.Some(accessGroups(now))})
	if err != nil {
		markCannotRun(fmt.Errorf("team %s round %d: update: %w", team, r, err))
		return fmt.Sprintf("team %s round %d: the update failed, so nothing was decided: %v\n%s", team, r, err, Evidence(wex))
	}
	noDecision := func(ex *client.Exchange, err error) string {
		if ae, ok := client.AsAPIError(err); ok && ae.Status < 500 {
			return ""
		}
		markCannotRun(fmt.Errorf("team %s round %d: decision: %w", team, r, err))
		return fmt.Sprintf("team %s round %d: the decision got no answer: %v\n%s", team, r, err, Evidence(ex))
	}
	var ex *client.Exchange
	env.WithinBound(wex.End, func() bool {
		_, ex, err = env.Decider().GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: team, ObjectPermission: accessGroups(now)})
		return err == nil
	})
	if err != nil {
		if msg := noDecision(ex, err); msg != "" {
			return msg
		}
		return fmt.Sprintf("team %s round %d: %s refused %.1f ms after the write granting it was acknowledged: %v\nwrite:\n%s\ndecision:\n%s",
			team, r, now, ms(ex.Start.Sub(wex.End)), err, Evidence(wex), Evidence(ex))
	}
	refusedWithNew := func() bool {
		ae, ok := client.AsAPIError(err)
		return ok && ae.Status == 403 && ae.NotAllowed != nil && fmt.Sprint(ae.NotAllowed.Allowed) == fmt.Sprint([]string{now})
	}
	if !env.WithinBound(wex.End, func() bool {
		_, ex, err = env.Decider().GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: team, ObjectPermission: accessGroups(prev)})
		return refusedWithNew()
	}) {
		if err != nil {
			if msg := noDecision(ex, err); msg != "" {
				return msg
			}
		}
		return fmt.Sprintf("team %s round %d: %s must be refused with Team allows: ['%s'] %.1f ms after the write revoking it was acknowledged, got %v\nwrite:\n%s\ndecision:\n%s",
			team, r, prev, now, ms(ex.Start.Sub(wex.End)), err, Evidence(wex), Evidence(ex))
	}
	return ""
}

// fanOut runs n calls at once and fails the spec if any failed.
func fanOut(n int, call func(i int) (*client.Exchange, error)) {
	GinkgoHelper()
	var wg sync.WaitGroup
	exs := make([]*client.Exchange, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exs[i], errs[i] = call(i)
		}()
	}
	wg.Wait()
	for i := range errs {
		Must(errs[i], exs[i], "concurrent call %d of %d", i+1, n)
	}
}
