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
}
