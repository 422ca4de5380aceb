package topology

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// StartReference starts the reference topology: a private network with
// PostgreSQL and Redis, and o.Replicas replicas of keyrace's reference
// service (`keyrace serve --addr 0.0.0.0:4000` in a FROM scratch image built
// from this module, or o.Binary / o.Image), each given DATABASE_URL,
// REDIS_HOST/REDIS_PORT, LITELLM_MASTER_KEY, KEYRACE_FAULTS and
// DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL, published on loopback, and
// ready when GET /health/liveliness answers. It preflights first; on any
// failure it removes what it created and returns the error (with the end of
// the failing container's log).
func StartReference(ctx context.Context, o ReferenceOptions) (*Topology, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("reference topology: %w", err)
	}
	t0 := time.Now()
	t := &Topology{
		runID:      orDefault(o.RunID, newRunID()),
		kind:       kindReference,
		masterKey:  orDefault(o.MasterKey, DefaultMasterKey),
		log:        o.Log,
		networkIDs: map[string]string{},
		picker:     newPortPicker(),
	}
	t.p = plan{kind: t.kind, runID: t.runID, timeouts: o.Timeouts.withDefaults(time.Minute)}
	e, err := connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("reference topology: %w", err)
	}
	t.e, t.p.host, t.p.bindIP = e, e.host, e.bindIP
	if t.images, err = e.preflightReference(ctx, o, t.p.timeouts, t.logf); err != nil {
		_ = e.close()
		return nil, fmt.Errorf("reference topology: %w", err)
	}
	t.timings.Preflight = time.Since(t0)
	for _, n := range t.images.Notes {
		t.logf("image %s", n)
	}
	if err := t.startReference(ctx, o, t0); err != nil {
		cerr := t.Close(context.WithoutCancel(ctx))
		if cerr != nil {
			return nil, fmt.Errorf("reference topology %s: %w (and cleaning up: %v)", t.runID, err, cerr)
		}
		return nil, fmt.Errorf("reference topology %s: %w", t.runID, err)
	}
	t.logf("ready: %d replicas at %v; %s", len(t.replicas), t.URLs(), t.timings)
	return t, nil
}

func (t *Topology) startReference(ctx context.Context, o ReferenceOptions, t0 time.Time) error {
	// The keyrace image is built (or found) while the services start.
	var (
		wg     sync.WaitGroup
		img    string
		built  bool
		imgErr error
		imgDur time.Duration
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		bctx, cancel := context.WithTimeout(ctx, t.p.timeouts.Build)
		defer cancel()
		img, built, imgErr = t.e.referenceImage(bctx, o, t.logf, t.log)
		imgDur = time.Since(start)
	}()
	start := time.Now()
	t.p.images = t.images // without Service, which the service requests do not use
	svcErr := t.createNetworks(ctx)
	if svcErr == nil {
		svcErr = t.startServices(ctx, servicesOf(referenceRequests(o, t.p)))
	}
	t.timings.Services = time.Since(start)
	wg.Wait()
	t.images.Service, t.timings.ImageBuilt, t.timings.Image = img, built, imgDur
	if err := errors.Join(svcErr, imgErr); err != nil {
		return err
	}
	t.p.images = t.images
	t.replicaReq = func(i int, hostPort string) testcontainers.ContainerRequest {
		return referenceReplicaRequest(o, t.p.withHostPort(i, hostPort), i)
	}
	start = time.Now()
	err := t.startReplicas(ctx, orDefault(o.Replicas, DefaultReplicas))
	t.timings.Replicas = time.Since(start)
	t.timings.Total = time.Since(t0)
	return err
}

// servicesOf returns the requests that are not replicas.
func servicesOf(reqs []testcontainers.ContainerRequest) []testcontainers.ContainerRequest {
	var out []testcontainers.ContainerRequest
	for _, r := range reqs {
		if r.Labels[LabelRole] != "replica" {
			out = append(out, r)
		}
	}
	return out
}
