package suites

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	. "github.com/onsi/gomega"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

func init() {
	Register(Spec{
		Name: "ConformanceMemberAdd", Tier: Conformance, Profile: Extended, Features: []FeatureName{FeatureTeams, FeatureMemberAdd},
		Description: "/team/member_add adds a member that /team/info shows at once; adding the same user again is a 400; an unknown team is a 404",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{})
			user := env.ID("user")
			_, ex, err := env.Writer().MemberAdd(ctx, wire.TeamMemberAddRequest{TeamID: t.TeamID, Member: wire.OneMember(wire.Member{UserID: user, Role: "user"})})
			Must(err, ex, "member_add")
			info, ex, err := env.Decider().TeamInfo(ctx, t.TeamID)
			Must(err, ex, "team/info")
			Expect(info.TeamInfo.MembersWithRoles).To(ContainElement(HaveField("UserID", user)))
			_, ex, err = env.Writer().MemberAdd(ctx, wire.TeamMemberAddRequest{TeamID: t.TeamID, Member: wire.OneMember(wire.Member{UserID: user, Role: "user"})})
			ae := expectStatus(err, ex, http.StatusBadRequest)
			Expect(ae.Message).To(ContainSubstring("already in team"))
			_, ex, err = env.Writer().MemberAdd(ctx, wire.TeamMemberAddRequest{TeamID: env.ID("missing"), Member: wire.OneMember(wire.Member{UserID: user, Role: "user"})})
			expectStatus(err, ex, http.StatusNotFound)
		},
	})
	Register(Spec{
		Name: "ConformanceKeyUpdate", Tier: Conformance, Profile: Extended, Features: []FeatureName{FeatureKeys, FeatureKeyUpdate, FeatureMCPPermissions},
		Description: "/key/update changes only the sent fields, validates object_permission against the team like /key/generate, and a refused update changes nothing",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{ObjectPermission: accessGroups("G1")})
			k := env.GenerateKey(ctx, env.Writer(), wire.GenerateKeyRequest{TeamID: t.TeamID, Models: []string{"gpt-4o"}, KeyAlias: env.ID("alias")})
			_, ex, err := env.Writer().UpdateKey(ctx, wire.UpdateKeyRequest{Key: k.Key, Metadata: wire.Some(map[string]any{"owner": "keyrace"})})
			Must(err, ex, "key/update metadata")
			info, ex, err := env.Decider().KeyInfo(ctx, k.Key)
			Must(err, ex, "key/info")
			Expect(info.Info.Models).To(ConsistOf("gpt-4o"), "an unsent field changed")
			Expect(info.Info.Metadata).To(HaveKeyWithValue("owner", "keyrace"))
			_, ex, err = env.Writer().UpdateKey(ctx, wire.UpdateKeyRequest{Key: k.Key, Models: wire.List("gpt-4o-mini"), ObjectPermission: wire.Some(accessGroups("G2"))})
			ae := expectStatus(err, ex, http.StatusForbidden)
			Expect(ae.Message).To(ContainSubstring("Team allows: ['G1']"))
			info, ex, err = env.Decider().KeyInfo(ctx, k.Key)
			Must(err, ex, "key/info")
			Expect(info.Info.Models).To(ConsistOf("gpt-4o"), "a refused update changed the key")
		},
	})
	Register(Spec{
		Name: "ConformanceKeyList", Tier: Conformance, Profile: Extended, Features: []FeatureName{FeatureKeys, FeatureKeyList},
		Description: "/key/list filtered by team returns exactly that team's keys with the paging fields",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{})
			for i := 0; i < 3; i++ {
				env.GenerateKey(ctx, env.Writer(), wire.GenerateKeyRequest{TeamID: t.TeamID})
			}
			l, ex, err := env.Decider().ListKeys(ctx, url.Values{"team_id": {t.TeamID}}, 1, 2)
			Must(err, ex, "key/list")
			Expect(l.TotalCount).To(Equal(3), Evidence(ex))
			Expect(l.Keys).To(HaveLen(2), Evidence(ex))
			Expect(l.TotalPages).To(Equal(2), Evidence(ex))
		},
	})
	Register(Spec{
		Name: "ConformanceModelsAndMockCalls", Tier: Conformance, Profile: Extended, Features: []FeatureName{FeatureKeys, FeatureModels, FeatureMockResponse},
		Description: "a key limited to some models lists only those in /v1/models, may call them with mock_response, and is refused others with 403",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{Models: []string{"gpt-4o", "gpt-4o-mini"}})
			k := env.GenerateKey(ctx, env.Writer(), wire.GenerateKeyRequest{TeamID: t.TeamID, Models: []string{"gpt-4o"}})
			kc := env.Decider().WithKey(k.Key)
			l, ex, err := kc.Models(ctx)
			Must(err, ex, "/v1/models")
			Expect(l.IDs()).To(ConsistOf("gpt-4o"), Evidence(ex))
			c, ex, err := kc.ChatMock(ctx, "gpt-4o", "hello from keyrace")
			Must(err, ex, "mock call")
			Expect(c.Choices).NotTo(BeEmpty())
			Expect(c.Choices[0].Message.Content).To(Equal("hello from keyrace"))
			_, ex, err = kc.ChatMock(ctx, "gpt-4o-mini", "x")
			ae := expectStatus(err, ex, http.StatusForbidden)
			Expect(ae.Message).To(ContainSubstring("not allowed to access model"))
		},
	})
	Register(Spec{
		Name: "ConformanceBlockedTeamKey", Tier: Conformance, Profile: Extended, Features: []FeatureName{FeatureKeys, FeatureTeamBlock, FeatureMockResponse},
		Description: "a key of a blocked team gets 401 naming the team on use",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{})
			k := env.GenerateKey(ctx, env.Writer(), wire.GenerateKeyRequest{TeamID: t.TeamID})
			ex, err := env.Writer().BlockTeam(ctx, t.TeamID)
			Must(err, ex, "team/block")
			ack := ex.End
			env.WithinBound(ack, func() bool {
				_, ex, err = env.Decider().WithKey(k.Key).ChatMock(ctx, "gpt-4o", "x")
				ae, ok := client.AsAPIError(err)
				return ok && ae.Status == http.StatusUnauthorized
			})
			ae := expectStatus(err, ex, http.StatusUnauthorized)
			Expect(ae.Message).To(ContainSubstring(fmt.Sprintf("Team=%s is blocked", t.TeamID)))
		},
	})
	Register(Spec{
		Name: "ConcurrencyMemberAdd", Tier: Concurrency, Profile: Extended, Features: []FeatureName{FeatureTeams, FeatureMemberAdd},
		Description: fmt.Sprintf("%d concurrent /team/member_add calls with different users leave %d members", parallelOps, parallelOps),
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{})
			users := make([]string, parallelOps)
			for i := range users {
				users[i] = env.ID("user")
			}
			fanOut(parallelOps, func(i int) (*client.Exchange, error) {
				_, ex, err := env.Writer().MemberAdd(ctx, wire.TeamMemberAddRequest{TeamID: t.TeamID, Member: wire.OneMember(wire.Member{UserID: users[i], Role: "user"})})
				return ex, err
			})
			info, ex, err := env.Decider().TeamInfo(ctx, t.TeamID)
			Must(err, ex, "team/info")
			var got []string
			for _, m := range info.TeamInfo.MembersWithRoles {
				got = append(got, m.UserID)
			}
			Expect(got).To(ConsistOf(users), "acknowledged member adds were lost")
		},
	})
}
