package suites

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

// Resilience specs break a topology keyrace started (Redis paused, a
// replica cut off or killed) and check that no acknowledged write is
// missed or lost while it is broken and after it heals. They need the
// disruptions feature, which only `--topology` targets have.
var resilienceFeatures = []FeatureName{FeatureTeams, FeatureKeys, FeatureMCPPermissions, FeatureDisruptions}

func init() {
	Register(Spec{
		Name: "ResilienceRedisPausedNoStaleAllow", Tier: Replicas, Profile: Extended, Features: resilienceFeatures, Slow: true,
		Description: "while Redis is paused, a revocation is either refused or, once acknowledged, refused by every replica at once; after Redis returns, the same holds",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{ObjectPermission: accessGroups("G1", "G2")})
			warmEveryReplica(ctx, env, t.TeamID, "G2")
			Must(env.Disruptor.PauseRedis(ctx), nil, "pause Redis")
			DeferCleanup(func(ctx SpecContext) { _ = env.Disruptor.UnpauseRedis(ctx) })
			revoked := revokeAndDecide(ctx, env, t.TeamID)
			Must(env.Disruptor.UnpauseRedis(ctx), nil, "unpause Redis")
			if !revoked {
				Eventually(ctx, func() error { return tryRevoke(ctx, env, t.TeamID) }).WithTimeout(20*time.Second).WithPolling(200*time.Millisecond).Should(Succeed(), "writes did not recover after Redis came back")
			}
			expectEveryReplicaDenies(ctx, env, t.TeamID, "G2")
		},
	})
	Register(Spec{
		Name: "ResilienceReplicaCutOffAndHealed", Tier: Replicas, Profile: Extended, Features: resilienceFeatures, Slow: true,
		Description: "a replica cut off from PostgreSQL and Redis never grants what a write through another replica revoked, and sees the write once it is reconnected",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{ObjectPermission: accessGroups("G1", "G2")})
			warmEveryReplica(ctx, env, t.TeamID, "G2")
			cut := len(env.Replicas) - 1
			Must(env.Disruptor.Disconnect(ctx, cut), nil, "disconnect replica %d", cut)
			DeferCleanup(func(ctx SpecContext) { _ = env.Disruptor.Reconnect(ctx, cut) })
			_, wex, err := env.Writer().UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: t.TeamID, ObjectPermission: wire.Some(accessGroups("G1"))})
			Must(err, wex, "revoke G2 through replica 0")
			_, ex, err := env.Replicas[cut].GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: t.TeamID, ObjectPermission: accessGroups("G2")})
			Expect(err).To(HaveOccurred(), "the cut-off replica granted a revoked group (stale allow)\nwrite:\n%s\ndecision:\n%s", Evidence(wex), Evidence(ex))
			Must(env.Disruptor.Reconnect(ctx, cut), nil, "reconnect replica %d", cut)
			Eventually(ctx, func() error {
				_, ex, err := env.Replicas[cut].GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: t.TeamID, ObjectPermission: accessGroups("G1")})
				if err != nil {
					return fmt.Errorf("%v\n%s", err, Evidence(ex))
				}
				return nil
			}).WithTimeout(20*time.Second).WithPolling(200*time.Millisecond).Should(Succeed(), "the replica did not serve again after reconnecting")
			expectEveryReplicaDenies(ctx, env, t.TeamID, "G2")
		},
	})
	Register(Spec{
		Name: "ResilienceReplicaKilledMidLoadLosesNothing", Tier: Replicas, Profile: Extended, Features: append(resilienceFeatures, FeatureMemberAdd), Slow: true,
		Description: "member adds spread over every replica keep going while one replica is killed and restarted; every acknowledged add is in the store afterwards",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{})
			victim := len(env.Replicas) - 1
			var (
				mu    sync.Mutex
				acked []string
			)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := 0; w < len(env.Replicas); w++ {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						user := fmt.Sprintf("u-%d-%d", w, i)
						_, _, err := env.Replicas[w].MemberAdd(ctx, wire.TeamMemberAddRequest{TeamID: t.TeamID, Member: wire.OneMember(wire.Member{UserID: user, Role: "user"})})
						if err == nil {
							mu.Lock()
							acked = append(acked, user)
							mu.Unlock()
						}
						time.Sleep(5 * time.Millisecond)
					}
				}()
			}
			time.Sleep(300 * time.Millisecond)
			Must(env.Disruptor.Kill(ctx, victim), nil, "kill replica %d", victim)
			time.Sleep(300 * time.Millisecond)
			Must(env.Disruptor.Restart(ctx, victim), nil, "restart replica %d", victim)
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			Expect(len(acked)).To(BeNumerically(">", 10), "too few acknowledged adds to judge")
			for _, c := range env.Replicas {
				info, ex, err := c.TeamInfo(ctx, t.TeamID)
				Must(err, ex, "team/info via %s", c.BaseURL())
				var got []string
				for _, m := range info.TeamInfo.MembersWithRoles {
					got = append(got, m.UserID)
				}
				var lost []string
				for _, u := range acked {
					if !slices.Contains(got, u) {
						lost = append(lost, u)
					}
				}
				Expect(lost).To(BeEmpty(), "%d of %d acknowledged member adds are missing via %s", len(lost), len(acked), c.BaseURL())
			}
		},
	})
}

// warmEveryReplica makes every replica decide on the team once, so each has
// it cached.
func warmEveryReplica(ctx context.Context, env *Env, team, group string) {
	GinkgoHelper()
	for _, c := range env.Replicas {
		_, ex, err := c.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: team, ObjectPermission: accessGroups(group)})
		Must(err, ex, "warm %s", c.BaseURL())
	}
}

// tryRevoke shrinks the team to G1 through the writer.
func tryRevoke(ctx context.Context, env *Env, team string) error {
	_, ex, err := env.Writer().UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: team, ObjectPermission: wire.Some(accessGroups("G1"))})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, Evidence(ex))
	}
	return nil
}

// revokeAndDecide revokes G2 and, if the write was acknowledged, checks
// every replica refuses G2 at once. A refused write (the tier could not
// announce it) must have changed nothing.
func revokeAndDecide(ctx context.Context, env *Env, team string) bool {
	GinkgoHelper()
	err := tryRevoke(ctx, env, team)
	if ae, ok := client.AsAPIError(err); ok && ae.Status >= 500 {
		return false
	}
	Expect(err).NotTo(HaveOccurred())
	expectEveryReplicaDenies(ctx, env, team, "G2")
	return true
}

// expectEveryReplicaDenies asks every replica for group and requires a
// refusal listing ['G1'], or a 5xx (a replica that cannot know refuses).
func expectEveryReplicaDenies(ctx context.Context, env *Env, team, group string) {
	GinkgoHelper()
	for _, c := range env.Replicas {
		_, ex, err := c.GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: team, ObjectPermission: accessGroups(group)})
		Expect(err).To(HaveOccurred(), "replica %s granted %s after its revocation was acknowledged (stale allow)\n%s", c.BaseURL(), group, Evidence(ex))
		ae, _ := client.AsAPIError(err)
		if ae != nil && ae.Status == http.StatusForbidden {
			Expect(ae.NotAllowed).NotTo(BeNil(), Evidence(ex))
			Expect(ae.NotAllowed.Allowed).To(Equal([]string{"G1"}), "stale allow-list\n%s", Evidence(ex))
		}
	}
}
