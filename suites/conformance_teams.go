package suites

import (
	"context"
	"net/http"

	. "github.com/onsi/gomega"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

var teamFeatures = []FeatureName{FeatureTeams}

func init() {
	Register(Spec{
		Name: "ConformanceHealth", Tier: Conformance, Profile: Core, Features: teamFeatures,
		Description: "/health/liveliness answers without a key and /health/readiness answers a JSON object",
		Run: func(ctx context.Context, env *Env) {
			anon := env.Writer().WithKey("")
			ex, err := anon.Liveliness(ctx)
			Must(err, ex, "liveliness")
			r, ex, err := anon.Readiness(ctx)
			Must(err, ex, "readiness")
			Expect(r).To(HaveKey("status"))
		},
	})
	Register(Spec{
		Name: "ConformanceTeamLifecycle", Tier: Conformance, Profile: Core, Features: teamFeatures,
		Description: "a created team is listed and readable with its object permission; after /team/delete it is 404",
		Run: func(ctx context.Context, env *Env) {
			id := env.ID("team")
			t, ex, err := env.Writer().NewTeam(ctx, wire.NewTeamRequest{TeamID: id, TeamAlias: id, ObjectPermission: accessGroups("G1")})
			Must(err, ex, "team/new")
			Expect(t.TeamID).To(Equal(id))
			Expect(t.ObjectPermissionID).NotTo(BeNil(), "object_permission_id")
			info, ex, err := env.Decider().TeamInfo(ctx, id)
			Must(err, ex, "team/info")
			Expect(info.TeamInfo.ObjectPermission).NotTo(BeNil(), Evidence(ex))
			Expect(info.TeamInfo.ObjectPermission.MCPAccessGroups).To(ConsistOf("G1"))
			list, ex, err := env.Writer().ListTeams(ctx)
			Must(err, ex, "team/list")
			Expect(list).To(ContainElement(HaveField("TeamID", id)))
			ex, err = env.Writer().DeleteTeams(ctx, id)
			Must(err, ex, "team/delete")
			_, ex, err = env.Decider().TeamInfo(ctx, id)
			expectStatus(err, ex, http.StatusNotFound)
		},
	})
	Register(Spec{
		Name: "ConformanceDeleteTeamDeletesKeys", Tier: Conformance, Profile: Core, Features: keyFeatures,
		Description: "deleting a team deletes its keys: /key/info is 404 and the key no longer authenticates",
		Run: func(ctx context.Context, env *Env) {
			t := env.CreateTeam(ctx, wire.NewTeamRequest{})
			k := env.GenerateKey(ctx, env.Writer(), wire.GenerateKeyRequest{TeamID: t.TeamID})
			ex, err := env.Writer().DeleteTeams(ctx, t.TeamID)
			Must(err, ex, "team/delete")
			_, ex, err = env.Decider().KeyInfo(ctx, k.Key)
			expectStatus(err, ex, http.StatusNotFound)
			_, ex, err = env.Decider().WithKey(k.Key).KeyInfo(ctx, "")
			expectStatus(err, ex, http.StatusUnauthorized)
		},
	})
	Register(Spec{
		Name: "ConformanceErrorEnvelopes", Tier: Conformance, Profile: Core, Features: teamFeatures,
		Description: "unknown ids get 404, malformed JSON and missing team_id get 422, all in a known envelope, and change nothing",
		Run: func(ctx context.Context, env *Env) {
			w := env.Writer()
			_, ex, err := w.UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: env.ID("missing"), TeamAlias: wire.Some("x")})
			expectStatus(err, ex, http.StatusNotFound)
			_, ex, err = w.TeamInfo(ctx, env.ID("missing"))
			expectStatus(err, ex, http.StatusNotFound)
			t := env.CreateTeam(ctx, wire.NewTeamRequest{Models: []string{"m1"}})
			ex, err = w.DoRaw(ctx, http.MethodPost, "/team/update", nil, []byte(`{"team_id": "`+t.TeamID+`", "models": [`), nil)
			ae := expectStatus(err, ex, http.StatusUnprocessableEntity)
			Expect(ae.Variant).To(Equal(client.VariantDetailList))
			ex, err = w.DoRaw(ctx, http.MethodPost, "/team/update", nil, []byte(`{"models": ["m2"]}`), nil)
			Expect(err).To(HaveOccurred(), "an update without team_id was accepted\n%s", Evidence(ex))
			ae, _ = client.AsAPIError(err)
			Expect(ae.Status).To(BeElementOf(400, 422), Evidence(ex))
			info, ex, err := w.TeamInfo(ctx, t.TeamID)
			Must(err, ex, "team/info")
			Expect(info.TeamInfo.Models).To(ConsistOf("m1"), "a refused update changed the team")
		},
	})
}

func accessGroups(items ...string) *wire.PermissionUpdate {
	return &wire.PermissionUpdate{MCPAccessGroups: wire.List(items...)}
}
