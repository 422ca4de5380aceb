package topology

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

func testPlan(kind string) plan {
	return plan{
		kind:      kind,
		runID:     "r1",
		backend:   "keyrace-r1-private",
		frontend:  "keyrace-r1-public",
		host:      "127.0.0.1",
		bindIP:    "127.0.0.1",
		images:    Images{Postgres: "pg:x", Redis: "rd:x", Service: "svc:x"},
		hostPorts: []string{"23001", "23002"},
		timeouts:  Timeouts{Replica: 42 * time.Second}.withDefaults(time.Minute),
	}
}

// bindingOf applies a request's host-config modifier to an empty config
// and returns the published bindings of the service port.
func bindingOf(t *testing.T, r testcontainers.ContainerRequest) []network.PortBinding {
	t.Helper()
	if r.HostConfigModifier == nil {
		t.Fatalf("%s: no host-config modifier", r.Name)
	}
	hc := &container.HostConfig{}
	r.HostConfigModifier(hc)
	return hc.PortBindings[network.MustParsePort(ServicePort)]
}

func checkLogWait(t *testing.T, r testcontainers.ContainerRequest, line string, occurrence int, timeout time.Duration) {
	t.Helper()
	ls, ok := r.WaitingFor.(*wait.LogStrategy)
	if !ok {
		t.Fatalf("%s: wait %T, want a log strategy", r.Name, r.WaitingFor)
	}
	if ls.Log != line || ls.Occurrence != occurrence || ls.Timeout() == nil || *ls.Timeout() != timeout {
		t.Errorf("%s: waits for %q x%d within %v, want %q x%d within %v", r.Name, ls.Log, ls.Occurrence, ls.Timeout(), line, occurrence, timeout)
	}
}

// checkReplicaWait: GET /health/liveliness on the service port, dialled at
// the plan's host (not testcontainers' inferred one).
func checkReplicaWait(t *testing.T, r testcontainers.ContainerRequest, host string, timeout, poll time.Duration) {
	t.Helper()
	hw, ok := r.WaitingFor.(hostWait)
	if !ok {
		t.Fatalf("%s: wait %T, want hostWait", r.Name, r.WaitingFor)
	}
	if hw.host != host {
		t.Errorf("%s: waits via host %q, want %q", r.Name, hw.host, host)
	}
	hs, ok := hw.inner.(*wait.HTTPStrategy)
	if !ok {
		t.Fatalf("%s: inner wait %T, want HTTP", r.Name, hw.inner)
	}
	if hs.Path != "/health/liveliness" || hs.Port != network.MustParsePort(ServicePort) || hs.PollInterval != poll {
		t.Errorf("%s: waits on %s %s every %v", r.Name, hs.Port, hs.Path, hs.PollInterval)
	}
	if got := hw.Timeout(); got == nil || *got != timeout {
		t.Errorf("%s: replica wait timeout %v, want %v", r.Name, got, timeout)
	}
}

func checkLabels(t *testing.T, r testcontainers.ContainerRequest, kind, role string) {
	t.Helper()
	want := map[string]string{LabelManaged: "true", LabelRun: "r1", LabelTopology: kind, LabelRole: role}
	for k, v := range want {
		if r.Labels[k] != v {
			t.Errorf("%s: label %s=%q, want %q", r.Name, k, r.Labels[k], v)
		}
	}
}

func TestReferenceRequests(t *testing.T) {
	o := ReferenceOptions{Replicas: 2, Faults: "local-invalidation-only,invalidation-lag=5ms", CacheTTL: 1500 * time.Millisecond, MasterKey: "sk-x"}
	p := testPlan(kindReference)
	reqs := referenceRequests(o, p)
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want postgres, redis and 2 replicas", len(reqs))
	}
	pg, rd := reqs[0], reqs[1]

	checkLabels(t, pg, kindReference, "postgres")
	if pg.Image != "pg:x" || pg.Name != "keyrace-r1-postgres" {
		t.Errorf("postgres: %s as %s", pg.Image, pg.Name)
	}
	if want := map[string]string{"POSTGRES_USER": "keyrace", "POSTGRES_PASSWORD": "keyrace", "POSTGRES_DB": "keyrace", "POSTGRES_INITDB_ARGS": "--no-sync"}; !maps.Equal(pg.Env, want) {
		t.Errorf("postgres env %v, want %v", pg.Env, want)
	}
	if !slices.Equal(pg.Cmd, []string{"postgres", "-c", "fsync=off"}) || pg.Tmpfs["/var/lib/postgresql/data"] != "rw" {
		t.Errorf("postgres cmd %v tmpfs %v: want throw-away data, unsynced", pg.Cmd, pg.Tmpfs)
	}
	if !slices.Equal(pg.Networks, []string{p.backend}) || !slices.Equal(pg.NetworkAliases[p.backend], []string{"postgres"}) {
		t.Errorf("postgres networks %v aliases %v: want only the private network as \"postgres\"", pg.Networks, pg.NetworkAliases)
	}
	if len(pg.ExposedPorts) != 0 {
		t.Errorf("postgres publishes %v; it must stay on the private network", pg.ExposedPorts)
	}
	checkLogWait(t, pg, pgReadyLine, 2, p.timeouts.Service)

	checkLabels(t, rd, kindReference, "redis")
	if rd.Image != "rd:x" || !slices.Equal(rd.Networks, []string{p.backend}) || !slices.Equal(rd.NetworkAliases[p.backend], []string{"redis"}) {
		t.Errorf("redis: %s on %v as %v", rd.Image, rd.Networks, rd.NetworkAliases)
	}
	checkLogWait(t, rd, redisReadyLine, 1, p.timeouts.Service)

	for i, r := range reqs[2:] {
		checkLabels(t, r, kindReference, "replica")
		if r.Labels[LabelReplica] != []string{"0", "1"}[i] {
			t.Errorf("replica %d labelled %q", i, r.Labels[LabelReplica])
		}
		wantEnv := map[string]string{
			"LITELLM_MASTER_KEY": "sk-x",
			"DATABASE_URL":       "postgres://keyrace:keyrace@postgres:5432/keyrace?sslmode=disable",
			"REDIS_HOST":         "redis",
			"REDIS_PORT":         "6379",
			"KEYRACE_FAULTS":     "local-invalidation-only,invalidation-lag=5ms",
			"DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL": "1.5",
		}
		if !maps.Equal(r.Env, wantEnv) {
			t.Errorf("replica %d env\n got %v\nwant %v", i, r.Env, wantEnv)
		}
		if r.Image != "svc:x" || !slices.Equal(r.Cmd, []string{"serve", "--addr", "0.0.0.0:4000"}) {
			t.Errorf("replica %d runs %s %v", i, r.Image, r.Cmd)
		}
		if !slices.Equal(r.ExposedPorts, []string{"4000/tcp"}) {
			t.Errorf("replica %d exposes %v", i, r.ExposedPorts)
		}
		// The public network first: the published port lives there and
		// survives Disconnect from the private one.
		if !slices.Equal(r.Networks, []string{p.frontend, p.backend}) {
			t.Errorf("replica %d networks %v", i, r.Networks)
		}
		if !slices.Equal(r.NetworkAliases[p.backend], []string{replicaAlias(i)}) {
			t.Errorf("replica %d private alias %v", i, r.NetworkAliases[p.backend])
		}
		b := bindingOf(t, r)
		if len(b) != 1 || b[0].HostIP != netip.MustParseAddr("127.0.0.1") || b[0].HostPort != p.hostPorts[i] {
			t.Errorf("replica %d published as %+v, want 127.0.0.1:%s", i, b, p.hostPorts[i])
		}
		checkReplicaWait(t, r, "127.0.0.1", 42*time.Second, 100*time.Millisecond)
	}
}

func TestReferenceDefaults(t *testing.T) {
	p := testPlan(kindReference)
	p.hostPorts, p.bindIP = nil, ""
	reqs := referenceRequests(ReferenceOptions{}, p)
	if len(reqs) != 2+DefaultReplicas {
		t.Fatalf("%d requests, want %d replicas by default", len(reqs), DefaultReplicas)
	}
	r := reqs[2]
	if r.Env["LITELLM_MASTER_KEY"] != DefaultMasterKey || r.Env["KEYRACE_FAULTS"] != "" {
		t.Errorf("default env %v", r.Env)
	}
	if _, ok := r.Env["DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL"]; ok {
		t.Errorf("CacheTTL 0 must leave the service's default, got %v", r.Env)
	}
	// Remote engine: all interfaces, port chosen by Docker.
	if b := bindingOf(t, r); len(b) != 1 || b[0].HostIP.IsValid() || b[0].HostPort != "" {
		t.Errorf("binding %+v, want any address and an ephemeral port", b)
	}
}

func TestCacheTTLEnv(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want string
	}{{0, ""}, {NoCache, "0"}, {60 * time.Second, "60"}, {1500 * time.Millisecond, "1.5"}, {5 * time.Millisecond, "0.005"}} {
		if got := cacheTTLEnv(c.in); got != c.want {
			t.Errorf("cacheTTLEnv(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLiteLLMRequests(t *testing.T) {
	for _, withRedis := range []bool{false, true} {
		o := LiteLLMOptions{
			Image: "ghcr.io/berriai/litellm:main-v1.83.0-stable", Replicas: 2, MasterKey: "sk-lite",
			CacheTTL: NoCache, WithRedis: withRedis,
			Env: map[string]string{"LITELLM_LOG": "DEBUG", "LITELLM_LOCAL_MODEL_COST_MAP": "False"},
		}
		p := testPlan(kindLiteLLM)
		p.images.Service = o.Image
		p.timeouts = o.Timeouts.withDefaults(5 * time.Minute)
		reqs := liteLLMRequests(o, p)
		var roles []string
		for _, r := range reqs {
			roles = append(roles, r.Labels[LabelRole])
			checkLabels(t, r, kindLiteLLM, r.Labels[LabelRole])
		}
		wantRoles := []string{"postgres", "replica", "replica"}
		if withRedis {
			wantRoles = []string{"postgres", "redis", "replica", "replica"}
		}
		if !slices.Equal(roles, wantRoles) {
			t.Fatalf("WithRedis=%v: roles %v, want %v", withRedis, roles, wantRoles)
		}
		checkLogWait(t, reqs[0], pgReadyLine, 2, 2*time.Minute)
		for i, r := range reqs[len(reqs)-2:] {
			want := map[string]string{
				"LITELLM_MASTER_KEY":           "sk-lite",
				"DATABASE_URL":                 "postgresql://keyrace:keyrace@postgres:5432/keyrace?sslmode=disable",
				"STORE_MODEL_IN_DB":            "True",
				"LITELLM_LOCAL_MODEL_COST_MAP": "False", // Env overrides the default
				"LITELLM_LOG":                  "DEBUG",
				"DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL": "0",
			}
			if withRedis {
				want["REDIS_HOST"], want["REDIS_PORT"] = "redis", "6379"
			}
			if !maps.Equal(r.Env, want) {
				t.Errorf("WithRedis=%v replica %d env\n got %v\nwant %v", withRedis, i, r.Env, want)
			}
			if r.Image != o.Image || r.Cmd != nil {
				t.Errorf("replica %d runs %s %v; want the image's own command", i, r.Image, r.Cmd)
			}
			if !slices.Equal(r.ExposedPorts, []string{"4000/tcp"}) || !slices.Equal(r.Networks, []string{p.frontend, p.backend}) {
				t.Errorf("replica %d: ports %v networks %v", i, r.ExposedPorts, r.Networks)
			}
			if b := bindingOf(t, r); len(b) != 1 || b[0].HostPort != p.hostPorts[i] {
				t.Errorf("replica %d published as %+v", i, b)
			}
			// LiteLLM's startup (Prisma migrations) is slow: 5 min, polled
			// every second.
			checkReplicaWait(t, r, "127.0.0.1", 5*time.Minute, time.Second)
		}
	}
}

func TestLiteLLMCmdAndTimeout(t *testing.T) {
	o := LiteLLMOptions{Image: "img", Replicas: 1, Cmd: []string{"--port", "4000", "--num_workers", "4"}, Timeouts: Timeouts{Replica: 10 * time.Minute}}
	p := testPlan(kindLiteLLM)
	p.timeouts = o.Timeouts.withDefaults(5 * time.Minute)
	reqs := liteLLMRequests(o, p)
	r := reqs[len(reqs)-1]
	if !slices.Equal(r.Cmd, o.Cmd) {
		t.Errorf("cmd %v, want %v", r.Cmd, o.Cmd)
	}
	checkReplicaWait(t, r, "127.0.0.1", 10*time.Minute, time.Second)
}

func TestOptionsValidate(t *testing.T) {
	bad := []struct {
		name string
		err  error
		want string
	}{
		{"litellm without image", LiteLLMOptions{}.validate(), "no LiteLLM image"},
		{"unknown fault", ReferenceOptions{Faults: "no-such-fault"}.validate(), "no-such-fault"},
		{"negative replicas", ReferenceOptions{Replicas: -1}.validate(), "replicas"},
		{"negative ttl", ReferenceOptions{CacheTTL: -2 * time.Second}.validate(), "cache TTL"},
		{"run id", ReferenceOptions{RunID: "Bad_ID"}.validate(), "run id"},
	}
	for _, b := range bad {
		if b.err == nil || !strings.Contains(b.err.Error(), b.want) {
			t.Errorf("%s: %v, want an error about %q", b.name, b.err, b.want)
		}
	}
	good := []error{
		ReferenceOptions{}.validate(),
		ReferenceOptions{Faults: "local-invalidation-only,invalidation-lag=5ms", CacheTTL: NoCache, RunID: "ci-42"}.validate(),
		LiteLLMOptions{Image: "x"}.validate(),
	}
	for i, err := range good {
		if err != nil {
			t.Errorf("good options %d refused: %v", i, err)
		}
	}
}

func TestWithHostPort(t *testing.T) {
	p := plan{hostPorts: []string{"1"}}
	q := p.withHostPort(2, "3")
	if !slices.Equal(q.hostPorts, []string{"1", "", "3"}) || !slices.Equal(p.hostPorts, []string{"1"}) {
		t.Errorf("withHostPort: %v (original %v)", q.hostPorts, p.hostPorts)
	}
}
