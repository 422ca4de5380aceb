package topology

import (
	"context"
	"fmt"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// StartLiteLLM starts a LiteLLM topology: a private network with PostgreSQL
// (and Redis when o.WithRedis), and o.Replicas replicas of the LiteLLM image
// the user named, each given LITELLM_MASTER_KEY, DATABASE_URL,
// REDIS_HOST/REDIS_PORT (with Redis), STORE_MODEL_IN_DB=True,
// DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL (when o.CacheTTL is set) and
// LITELLM_LOCAL_MODEL_COST_MAP=True, serving on port 4000 published on
// loopback, and ready when GET /health/liveliness answers (LiteLLM's startup
// runs Prisma migrations: Timeouts.Replica defaults to 5 min). Replica 0
// starts alone so that the migrations run once; the others follow side by
// side. The image must be present or pullable: keyrace cannot build it.
func StartLiteLLM(ctx context.Context, o LiteLLMOptions) (*Topology, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("litellm topology: %w", err)
	}
	t0 := time.Now()
	t := &Topology{
		runID:      orDefault(o.RunID, newRunID()),
		kind:       kindLiteLLM,
		masterKey:  orDefault(o.MasterKey, DefaultMasterKey),
		log:        o.Log,
		networkIDs: map[string]string{},
		picker:     newPortPicker(),
	}
	t.p = plan{kind: t.kind, runID: t.runID, timeouts: o.Timeouts.withDefaults(5 * time.Minute)}
	e, err := connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("litellm topology: %w", err)
	}
	t.e, t.p.host, t.p.bindIP = e, e.host, e.bindIP
	if t.images, err = e.preflightLiteLLM(ctx, o, t.p.timeouts, t.logf); err != nil {
		_ = e.close()
		return nil, fmt.Errorf("litellm topology: %w", err)
	}
	t.timings.Preflight = time.Since(t0)
	for _, n := range t.images.Notes {
		t.logf("image %s", n)
	}
	t.p.images = t.images
	if err := t.startLiteLLM(ctx, o, t0); err != nil {
		cerr := t.Close(context.WithoutCancel(ctx))
		if cerr != nil {
			return nil, fmt.Errorf("litellm topology %s: %w (and cleaning up: %v)", t.runID, err, cerr)
		}
		return nil, fmt.Errorf("litellm topology %s: %w", t.runID, err)
	}
	t.logf("ready: %d LiteLLM replicas at %v; %s", len(t.replicas), t.URLs(), t.timings)
	return t, nil
}

func (t *Topology) startLiteLLM(ctx context.Context, o LiteLLMOptions, t0 time.Time) error {
	start := time.Now()
	err := t.createNetworks(ctx)
	if err == nil {
		err = t.startServices(ctx, servicesOf(liteLLMRequests(o, t.p)))
	}
	t.timings.Services = time.Since(start)
	if err != nil {
		return err
	}
	t.replicaReq = func(i int, hostPort string) testcontainers.ContainerRequest {
		return liteLLMReplicaRequest(o, t.p.withHostPort(i, hostPort), i)
	}
	start = time.Now()
	err = t.startReplicas(ctx, orDefault(o.Replicas, DefaultReplicas))
	t.timings.Replicas = time.Since(start)
	t.timings.Total = time.Since(t0)
	return err
}
