package suites

import (
	"context"

	"github.com/keyrace/keyrace/suites/seq"
)

// Read-your-writes sequences on one writer/decider pair (the first and last
// replica). Each warms the caches with decisions on the old state first.
func init() {
	for _, s := range []struct {
		name string
		seq  seq.Sequence
	}{
		{"ConsistencySeedGrant", seq.Grant(seq.AccessGroups)},
		{"ConsistencySeedRevoke", seq.Revoke(seq.AccessGroups)},
		{"ConsistencyMCPServersGrant", seq.Grant(seq.Servers)},
		{"ConsistencyMCPServersRevoke", seq.Revoke(seq.Servers)},
	} {
		sq := s.seq
		Register(Spec{
			Name: s.name, Description: sq.Description, Tier: Consistency, Profile: Core,
			Features: []FeatureName{FeatureTeams, FeatureKeys, FeatureMCPPermissions},
			Run: func(ctx context.Context, env *Env) {
				ExpectSequence(ctx, sq, env.SeqTarget())
			},
		})
	}
	for _, s := range requestTimeSpecs() {
		sq := s.seq
		Register(Spec{
			Name: "Consistency" + s.name, Description: sq.Description, Tier: Consistency, Profile: Extended, Features: s.features,
			Run: func(ctx context.Context, env *Env) { ExpectSequence(ctx, sq, env.SeqTarget()) },
		})
	}
}

// requestTimeSpec is a request-time sequence and the features it needs.
type requestTimeSpec struct {
	name     string
	seq      seq.Sequence
	features []FeatureName
}

// requestTimeSpecs are the sequences whose decisions happen when a key is
// used (models, block, budget), shared by the consistency and replica tiers.
func requestTimeSpecs() []requestTimeSpec {
	models := seq.TeamModels()
	return []requestTimeSpec{
		{"TeamModelsGrant", models[0], []FeatureName{FeatureTeams, FeatureKeys, FeatureModels, FeatureMockResponse}},
		{"TeamModelsRevoke", models[1], []FeatureName{FeatureTeams, FeatureKeys, FeatureModels, FeatureMockResponse}},
		{"TeamBlockUnblock", seq.TeamBlock(), []FeatureName{FeatureTeams, FeatureKeys, FeatureTeamBlock, FeatureMockResponse}},
		{"TeamBudget", seq.TeamBudget(), []FeatureName{FeatureTeams, FeatureKeys, FeatureBudgets, FeatureMockResponse}},
	}
}
