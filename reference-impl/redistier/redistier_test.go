package redistier

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/keyrace/keyrace/client"
	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/suites/seq"
)

// redisImage is the image the tests run: KEYRACE_REDIS_IMAGE, else the
// air-gapped keyrace/redis:7 (make images), else the official redis:7.
func redisImage() string {
	if img := os.Getenv("KEYRACE_REDIS_IMAGE"); img != "" {
		return img
	}
	if exec.Command("docker", "image", "inspect", "keyrace/redis:7").Run() == nil {
		return "keyrace/redis:7"
	}
	return "redis:7"
}

// startRedis starts a Redis container for one test, or skips when Docker
// or the image cannot be had (fails instead under CI=true).
func startRedis(t *testing.T) (testcontainers.Container, *redis.Options) {
	t.Helper()
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        redisImage(),
			ExposedPorts: []string{"6379/tcp"},
			Labels:       map[string]string{"org.keyrace.managed": "true"},
			WaitingFor:   wait.ForLog("Ready to accept connections").WithStartupTimeout(time.Minute),
		},
		Started: true,
	})
	if c != nil {
		t.Cleanup(func() { _ = testcontainers.TerminateContainer(c) })
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("start redis (%s): %v", redisImage(), err)
		}
		t.Skipf("no Redis container (%s): %v", redisImage(), err)
	}
	// With a local Docker engine the mapped port is on loopback; the host
	// testcontainers infers from the bridge can be unroutable here.
	port, err := c.MappedPort(ctx, "6379/tcp")
	if err != nil {
		t.Fatal(err)
	}
	return c, &redis.Options{Addr: "127.0.0.1:" + port.Port()}
}

const key = "sk-redistier-test"

// replicas starts n in-process replicas that share one store but not their
// caches: each has its own cache and its own tier client, exactly like
// separate processes behind one Redis.
func replicas(t *testing.T, ro *redis.Options, n int, faults string) []*client.Client {
	t.Helper()
	set, params, err := refimpl.ParseFaultSpec(faults)
	if err != nil {
		t.Fatal(err)
	}
	store := refimpl.NewMemStore()
	var out []*client.Client
	for i := 0; i < n; i++ {
		tier := New(ro, Options{CacheTTL: refimpl.DefaultCacheTTL})
		t.Cleanup(func() { tier.Close() })
		s, err := refimpl.New(refimpl.Config{MasterKey: key, Store: store, Coherence: tier, Faults: set, InvalidationLag: params.InvalidationLag})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(s)
		t.Cleanup(hs.Close)
		c, _ := client.New(hs.URL, key)
		out = append(out, c)
	}
	return out
}

func requestTimeSeqs() []seq.Sequence {
	return append(seq.TeamModels(), seq.TeamBlock(), seq.TeamBudget())
}

// runAcross runs every request-time sequence writing through a and deciding
// through b, and returns the verdicts.
func runAcross(t *testing.T, a, b *client.Client) []seq.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []seq.Verdict
	for _, s := range requestTimeSeqs() {
		r, err := s.Run(ctx, seq.Target{Writer: a, Decider: b, RunID: seq.NewRunID()})
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		out = append(out, r.Verdict())
	}
	return out
}

func allPass(vs []seq.Verdict) bool {
	for _, v := range vs {
		if v != seq.Pass {
			return false
		}
	}
	return true
}

func TestTierAcrossReplicas(t *testing.T) {
	redisC, ro := startRedis(t)
	t.Run("correct", func(t *testing.T) {
		cs := replicas(t, ro, 2, "")
		if vs := runAcross(t, cs[0], cs[1]); !allPass(vs) {
			t.Fatalf("correct build across replicas: %v", vs)
		}
	})
	t.Run("local-invalidation-only", func(t *testing.T) {
		cs := replicas(t, ro, 2, "local-invalidation-only")
		if vs := runAcross(t, cs[0], cs[1]); allPass(vs) {
			t.Fatalf("the fault went unnoticed: %v", vs)
		}
		if vs := runAcross(t, cs[0], cs[0]); !allPass(vs) {
			t.Fatalf("on the replica that took the write the fault must not show: %v", vs)
		}
	})
	t.Run("invalidation-lag", func(t *testing.T) {
		cs := replicas(t, ro, 2, "invalidation-lag=300ms")
		if vs := runAcross(t, cs[0], cs[1]); allPass(vs) {
			t.Fatalf("the fault went unnoticed: %v", vs)
		}
	})
	t.Run("stale-republish", func(t *testing.T) {
		cs := replicas(t, ro, 2, "stale-republish")
		if vs := runAcross(t, cs[0], cs[1]); allPass(vs) {
			t.Fatalf("the fault went unnoticed: %v", vs)
		}
	})
	t.Run("redis paused", func(t *testing.T) {
		cs := replicas(t, ro, 2, "")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// Warm both replicas with a team's key, then pause Redis.
		grant := seq.TeamModels()[0]
		if r, err := grant.Run(ctx, seq.Target{Writer: cs[0], Decider: cs[1], RunID: seq.NewRunID()}); err != nil || r.Verdict() != seq.Pass {
			t.Fatalf("before the pause: %v %v", r.Verdict(), err)
		}
		if out, err := exec.Command("docker", "pause", redisC.GetContainerID()).CombinedOutput(); err != nil {
			t.Fatalf("docker pause: %v %s", err, out)
		}
		unpaused := false
		unpause := func() {
			if !unpaused {
				unpaused = true
				_ = exec.Command("docker", "unpause", redisC.GetContainerID()).Run()
			}
		}
		defer unpause()
		// Writes are refused (503, nothing written), never half-applied.
		_, _, err := cs[0].NewTeam(ctx, wireTeam("paused"))
		if ae, ok := client.AsAPIError(err); !ok || ae.Status != 503 || !strings.Contains(ae.Message, "nothing changed") {
			t.Fatalf("a write while Redis is paused: %v", err)
		}
		r, _, err := cs[1].WithKey("").Readiness(ctx)
		if err != nil || r["status"] != "degraded" {
			t.Fatalf("readiness while Redis is paused: %v %v", r, err)
		}
		unpause()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, _, err := cs[0].NewTeam(ctx, wireTeam("after")); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("writes did not recover after unpause: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if vs := runAcross(t, cs[0], cs[1]); !allPass(vs) {
			t.Fatalf("after the pause: %v", vs)
		}
	})
}
