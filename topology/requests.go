package topology

import (
	"maps"
	"net/netip"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Network aliases and credentials inside the private network.
const (
	postgresAlias = "postgres"
	redisAlias    = "redis"
	pgUser        = "keyrace"
	pgPassword    = "keyrace"
	pgDatabase    = "keyrace"
	// pgReadyLine is logged twice on a first start by the official image and
	// by keyrace/postgres (init server, then the real one): waiting for the
	// second means the server on 0.0.0.0:5432 is up.
	pgReadyLine    = "database system is ready to accept connections"
	redisReadyLine = "Ready to accept connections"
)

// Kinds of topology (the value of LabelTopology).
const (
	kindReference = "reference"
	kindLiteLLM   = "litellm"
)

// plan is everything a topology's container requests depend on, fixed before
// any container starts, so the requests are pure functions of it.
type plan struct {
	kind  string
	runID string
	// backend is the private (internal) network holding PostgreSQL and
	// Redis; frontend carries the replicas' published ports.
	backend, frontend string
	// host is where published ports are reached, bindIP where they are
	// bound ("" for all interfaces).
	host, bindIP string
	images       Images
	// hostPorts[i] is replica i's host port, "" to let Docker choose.
	hostPorts []string
	timeouts  Timeouts
}

// databaseURL is the PostgreSQL URL replicas get (reachable only inside the
// private network).
func databaseURL(scheme string) string {
	return scheme + "://" + pgUser + ":" + pgPassword + "@" + postgresAlias + ":5432/" + pgDatabase + "?sslmode=disable"
}

func (p plan) labels(role string) map[string]string {
	return map[string]string{
		LabelManaged:  "true",
		LabelRun:      p.runID,
		LabelTopology: p.kind,
		LabelRole:     role,
	}
}

func (p plan) name(role string) string { return "keyrace-" + p.runID + "-" + role }

// pgData is where the official image (up to 17) and keyrace/postgres keep
// their data.
const pgData = "/var/lib/postgresql/data"

// postgresRequest: PostgreSQL on the private network only (no published
// port). The data is thrown away with the topology, so it lives in a tmpfs
// and nothing is synced: the first start takes about 2 s instead of 5 s on
// keyrace's machines, and no anonymous volume is left behind.
func postgresRequest(p plan) testcontainers.ContainerRequest {
	return testcontainers.ContainerRequest{
		Name:  p.name("postgres"),
		Image: p.images.Postgres,
		Env: map[string]string{
			"POSTGRES_USER":        pgUser,
			"POSTGRES_PASSWORD":    pgPassword,
			"POSTGRES_DB":          pgDatabase,
			"POSTGRES_INITDB_ARGS": "--no-sync",
		},
		Cmd:            []string{"postgres", "-c", "fsync=off"},
		Tmpfs:          map[string]string{pgData: "rw"},
		Labels:         p.labels("postgres"),
		Networks:       []string{p.backend},
		NetworkAliases: map[string][]string{p.backend: {postgresAlias}},
		WaitingFor:     wait.ForLog(pgReadyLine).WithOccurrence(2).WithStartupTimeout(p.timeouts.Service),
	}
}

// redisRequest: Redis on the private network only, the image's own command
// (official and keyrace/redis:7 images both listen on all interfaces with
// protected mode off).
func redisRequest(p plan) testcontainers.ContainerRequest {
	return testcontainers.ContainerRequest{
		Name:           p.name("redis"),
		Image:          p.images.Redis,
		Labels:         p.labels("redis"),
		Networks:       []string{p.backend},
		NetworkAliases: map[string][]string{p.backend: {redisAlias}},
		WaitingFor:     wait.ForLog(redisReadyLine).WithStartupTimeout(p.timeouts.Service),
	}
}

// replicaRequest is what both kinds share: two networks (frontend first, so
// the published port lives there and survives Disconnect), the port
// published on bindIP:hostPorts[i], readiness by GET /health/liveliness on
// the published port, which a restarted container passes again (unlike a log
// line, which stays in the log).
func replicaRequest(p plan, i int, env map[string]string, cmd []string) testcontainers.ContainerRequest {
	labels := p.labels("replica")
	labels[LabelReplica] = strconv.Itoa(i)
	hostPort := ""
	if i < len(p.hostPorts) {
		hostPort = p.hostPorts[i]
	}
	bindIP := p.bindIP
	return testcontainers.ContainerRequest{
		Name:         p.name("replica-" + strconv.Itoa(i)),
		Image:        p.images.Service,
		Env:          maps.Clone(env),
		Cmd:          cmd,
		Labels:       labels,
		ExposedPorts: []string{ServicePort},
		Networks:     []string{p.frontend, p.backend},
		NetworkAliases: map[string][]string{
			p.frontend: {replicaAlias(i)},
			p.backend:  {replicaAlias(i)},
		},
		HostConfigModifier: func(hc *container.HostConfig) {
			b := network.PortBinding{HostPort: hostPort}
			if bindIP != "" {
				b.HostIP = netip.MustParseAddr(bindIP)
			}
			hc.PortBindings = network.PortMap{network.MustParsePort(ServicePort): {b}}
		},
		WaitingFor: hostWait{host: p.host, inner: wait.ForHTTP("/health/liveliness").
			WithPort(ServicePort).
			WithStartupTimeout(p.timeouts.Replica).
			WithPollInterval(pollFor(p.timeouts.Replica))},
	}
}

func replicaAlias(i int) string { return "replica-" + strconv.Itoa(i) }

// pollFor polls readiness often for a fast service, calmly for a slow one.
func pollFor(timeout time.Duration) time.Duration {
	if timeout > 2*time.Minute {
		return time.Second
	}
	return 100 * time.Millisecond
}

// withHostPort returns p with replica i's host port set.
func (p plan) withHostPort(i int, hostPort string) plan {
	ports := make([]string, max(len(p.hostPorts), i+1))
	copy(ports, p.hostPorts)
	ports[i] = hostPort
	p.hostPorts = ports
	return p
}

// referenceRequests returns the reference topology's containers: PostgreSQL,
// Redis, then replicas 0..n-1 of the keyrace image.
func referenceRequests(o ReferenceOptions, p plan) []testcontainers.ContainerRequest {
	reqs := []testcontainers.ContainerRequest{postgresRequest(p), redisRequest(p)}
	for i := range orDefault(o.Replicas, DefaultReplicas) {
		reqs = append(reqs, referenceReplicaRequest(o, p, i))
	}
	return reqs
}

// referenceReplicaRequest is replica i of the reference topology:
// `keyrace serve` configured by LiteLLM's variable names.
func referenceReplicaRequest(o ReferenceOptions, p plan, i int) testcontainers.ContainerRequest {
	env := map[string]string{
		"LITELLM_MASTER_KEY": orDefault(o.MasterKey, DefaultMasterKey),
		"DATABASE_URL":       databaseURL("postgres"),
		"REDIS_HOST":         redisAlias,
		"REDIS_PORT":         "6379",
		"KEYRACE_FAULTS":     o.Faults,
	}
	if ttl := cacheTTLEnv(o.CacheTTL); ttl != "" {
		env["DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL"] = ttl
	}
	return replicaRequest(p, i, env, []string{"serve", "--addr", "0.0.0.0:4000"})
}

// liteLLMRequests returns the LiteLLM topology's containers: PostgreSQL,
// Redis when o.WithRedis, then replicas 0..n-1 of o.Image.
func liteLLMRequests(o LiteLLMOptions, p plan) []testcontainers.ContainerRequest {
	reqs := []testcontainers.ContainerRequest{postgresRequest(p)}
	if o.WithRedis {
		reqs = append(reqs, redisRequest(p))
	}
	for i := range orDefault(o.Replicas, DefaultReplicas) {
		reqs = append(reqs, liteLLMReplicaRequest(o, p, i))
	}
	return reqs
}

// liteLLMReplicaRequest is replica i of the LiteLLM topology.
func liteLLMReplicaRequest(o LiteLLMOptions, p plan, i int) testcontainers.ContainerRequest {
	env := map[string]string{
		"LITELLM_MASTER_KEY": orDefault(o.MasterKey, DefaultMasterKey),
		// Prisma wants postgresql://.
		"DATABASE_URL":      databaseURL("postgresql"),
		"STORE_MODEL_IN_DB": "True",
		// Use the model cost map shipped in the image instead of fetching it
		// from GitHub at startup (air-gapped machines; Env can undo it).
		"LITELLM_LOCAL_MODEL_COST_MAP": "True",
	}
	if ttl := cacheTTLEnv(o.CacheTTL); ttl != "" {
		env["DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL"] = ttl
	}
	if o.WithRedis {
		env["REDIS_HOST"], env["REDIS_PORT"] = redisAlias, "6379"
	}
	maps.Copy(env, o.Env)
	return replicaRequest(p, i, env, o.Cmd)
}
