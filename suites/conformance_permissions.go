package suites

import (
	"context"
	"net/http"

	. "github.com/onsi/gomega"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

var permFeatures = []FeatureName{FeatureTeams, FeatureKeys, FeatureMCPPermissions}

func init() {
	Register(Spec{
		Name: "ConformancePermissionMerge", Tier: Conformance, Profile: Core, Features: permFeatures,
		Description: "an object_permission update replaces each sent field whole, keeps unsent fields, and keeps the record id; /team/info shows it at once",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{ObjectPermission: &wire.PermissionUpdate{
				MCPAccessGroups: wire.List("A"), MCPServers: wire.List("s1"), VectorStores: wire.List("v1")}})
			opID := t.ObjectPermissionID
			update := func(p *wire.PermissionUpdate) *wire.ObjectPermission {
				_, ex, err := env.Writer().UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: t.TeamID, ObjectPermission: wire.Some(p)})
				Must(err, ex, "team/update")
				info, ex, err := env.Decider().TeamInfo(ctx, t.TeamID)
				Must(err, ex, "team/info")
				Expect(info.TeamInfo.ObjectPermission).NotTo(BeNil(), Evidence(ex))
				Expect(info.TeamInfo.ObjectPermissionID).To(Equal(opID), "the object permission id must be stable")
				return info.TeamInfo.ObjectPermission
			}
			p := update(&wire.PermissionUpdate{MCPAccessGroups: wire.List("B")})
			Expect(p.MCPAccessGroups).To(ConsistOf("B"), "lists are replaced, not unioned")
			Expect(p.MCPServers).To(ConsistOf("s1"), "unsent fields survive")
			Expect(p.VectorStores).To(ConsistOf("v1"), "unsent fields survive")
			p = update(&wire.PermissionUpdate{VectorStores: wire.List()})
			Expect(p.VectorStores).To(BeEmpty(), "[] empties the field")
			Expect(p.MCPAccessGroups).To(ConsistOf("B"))
		},
	})
	Register(Spec{
		Name: "ConformancePermissionMergeNull", Tier: Conformance, Profile: Extended, Features: permFeatures,
		Description: "an explicit null in object_permission clears that field and leaves the others (LiteLLM leaves null undefined; the reference service defines it)",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{ObjectPermission: &wire.PermissionUpdate{MCPAccessGroups: wire.List("A"), MCPServers: wire.List("s1")}})
			_, ex, err := env.Writer().UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: t.TeamID, ObjectPermission: wire.Some(&wire.PermissionUpdate{MCPServers: wire.Null[[]string]()})})
			Must(err, ex, "team/update")
			info, ex, err := env.Decider().TeamInfo(ctx, t.TeamID)
			Must(err, ex, "team/info")
			Expect(info.TeamInfo.ObjectPermission.MCPServers).To(BeEmpty())
			Expect(info.TeamInfo.ObjectPermission.MCPAccessGroups).To(ConsistOf("A"))
		},
	})
	Register(Spec{
		Name: "ConformanceForbiddenTemplates", Tier: Conformance, Profile: Core, Features: permFeatures,
		Description: "key requests outside the team's MCP allow-lists get 403 with LiteLLM's exact templates and Python list repr",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{ObjectPermission: &wire.PermissionUpdate{
				MCPAccessGroups: wire.List("G1", "o'x"), MCPServers: wire.List("srv-1")}})
			_, ex, err := env.Decider().GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: t.TeamID, ObjectPermission: accessGroups("G2")})
			ae := expectStatus(err, ex, http.StatusForbidden)
			Expect(ae.Message).To(Equal(wire.MsgGroupsNotAllowed(t.TeamID, []string{"G2"}, []string{"G1", "o'x"})))
			Expect(ae.Message).To(ContainSubstring(`Team allows: ['G1', "o'x"].`))
			if ae.Variant == client.VariantEnvelope || ae.Variant == client.VariantEnvelopeDictRepr {
				Expect(ae.Code).To(Equal("403"), "the error envelope's code must be the status as a string: %s", ex.ResponseBody)
			}
			_, ex, err = env.Decider().GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: t.TeamID, ObjectPermission: &wire.PermissionUpdate{MCPServers: wire.List("srv-2")}})
			ae = expectStatus(err, ex, http.StatusForbidden)
			Expect(ae.Message).To(HavePrefix("Key requests MCP servers not allowed by team '%s': ['srv-2']. Team allows: ['srv-1'].", t.TeamID))
			Expect(ae.NotAllowed).NotTo(BeNil())
			Expect(ae.NotAllowed.Allowed).To(Equal([]string{"srv-1"}))
			_, ex, err = env.Decider().GenerateKey(ctx, wire.GenerateKeyRequest{ObjectPermission: accessGroups("G1")})
			ae = expectStatus(err, ex, http.StatusForbidden)
			Expect(ae.Message).To(ContainSubstring("Key is not in a team. MCP access groups cannot be assigned to keys outside of a team. Disallowed groups: ['G1']."))
			info, ex, err := env.Writer().TeamInfo(ctx, t.TeamID)
			Must(err, ex, "team/info")
			Expect(info.Keys).To(BeEmpty(), "a refused /key/generate created a key")
		},
	})
}
