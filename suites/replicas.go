package suites

import (
	"context"

	"github.com/keyrace/keyrace/suites/seq"
)

// Replica specs write through one replica and decide through another, for
// every ordered pair of replicas. They need two or more target URLs.
func init() {
	for _, s := range []struct {
		name string
		seq  seq.Sequence
	}{
		{"ReplicasSeedGrant", seq.Grant(seq.AccessGroups)},
		{"ReplicasSeedRevoke", seq.Revoke(seq.AccessGroups)},
		{"ReplicasMCPServersGrant", seq.Grant(seq.Servers)},
		{"ReplicasMCPServersRevoke", seq.Revoke(seq.Servers)},
	} {
		sq := s.seq
		Register(Spec{
			Name: s.name, Description: sq.Description + ", when the write and the decision go to different replicas",
			Tier: Replicas, Profile: Extended, Features: permFeatures,
			Run: func(ctx context.Context, env *Env) {
				for _, t := range env.ReplicaPairs() {
					ExpectSequence(ctx, sq, t)
				}
			},
		})
	}
	for _, s := range requestTimeSpecs() {
		sq := s.seq
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
