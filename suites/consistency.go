package suites

import (
	"context"

	"github.com/keyrace/keyrace/suites/seq"
)

// sequenceSpec is a read-your-writes sequence, the profile it belongs to
// and the features it needs. Each registers twice: in the consistency tier
// (write and decide on one replica) and in the replicas tier (write through
// each replica, decide through every other).
type sequenceSpec struct {
	name     string
	seq      seq.Sequence
	profile  Profile
	features []FeatureName
}

// sequenceSpecs lists them: the seed pair and its MCP-server twin (key
// validation), then the request-time ones (models, block, budget).
func sequenceSpecs() []sequenceSpec {
	mcp := []FeatureName{FeatureTeams, FeatureKeys, FeatureMCPPermissions}
	models := seq.TeamModels()
	return []sequenceSpec{
		{"SeedGrant", seq.Grant(seq.AccessGroups), Core, mcp},
		{"SeedRevoke", seq.Revoke(seq.AccessGroups), Core, mcp},
		{"MCPServersGrant", seq.Grant(seq.Servers), Core, mcp},
		{"MCPServersRevoke", seq.Revoke(seq.Servers), Core, mcp},
		{"TeamModelsGrant", models[0], Extended, []FeatureName{FeatureTeams, FeatureKeys, FeatureModels, FeatureMockResponse}},
		{"TeamModelsRevoke", models[1], Extended, []FeatureName{FeatureTeams, FeatureKeys, FeatureModels, FeatureMockResponse}},
		{"TeamBlockUnblock", seq.TeamBlock(), Extended, []FeatureName{FeatureTeams, FeatureKeys, FeatureTeamBlock, FeatureMockResponse}},
		{"TeamBudget", seq.TeamBudget(), Extended, []FeatureName{FeatureTeams, FeatureKeys, FeatureBudgets, FeatureMockResponse}},
	}
}

func init() {
	for _, s := range sequenceSpecs() {
		sq := s.seq
		Register(Spec{
			Name: "Consistency" + s.name, Description: sq.Description, Tier: Consistency, Profile: s.profile, Features: s.features,
			Run: func(ctx context.Context, env *Env) { ExpectSequence(ctx, sq, env.SeqTarget()) },
		})
		// Across replicas every sequence is extended: a single-process proxy
		// has no replicas to cross.
		Register(Spec{
			Name: "Replicas" + s.name, Description: sq.Description + ", when the write and the decision go to different replicas",
			Tier: Replicas, Profile: Extended, Features: s.features,
			Run: func(ctx context.Context, env *Env) {
				for _, t := range env.ReplicaPairs() {
					ExpectSequence(ctx, sq, t)
				}
			},
		})
	}
}
