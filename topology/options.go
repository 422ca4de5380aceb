package topology

import (
	"fmt"
	"io"
	"strconv"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

// Labels set on every container and network a topology creates.
const (
	// LabelManaged marks everything keyrace created ("true"); CleanupLeftovers
	// removes containers and networks carrying it.
	LabelManaged = "org.keyrace.managed"
	// LabelRun holds the run id of one topology; Close removes what carries it.
	LabelRun = "org.keyrace.run"
	// LabelTopology holds the topology kind ("reference" or "litellm").
	LabelTopology = "org.keyrace.topology"
	// LabelRole holds a container's role ("postgres", "redis", "replica").
	LabelRole = "org.keyrace.role"
	// LabelReplica holds a replica's index ("0", "1", ...).
	LabelReplica = "org.keyrace.replica"
	// LabelBinarySHA256 is set on keyrace/reference images: the SHA-256 of
	// the keyrace binary inside, so an unchanged binary is not rebuilt.
	LabelBinarySHA256 = "org.keyrace.binary-sha256"
)

// Defaults for the options.
const (
	// DefaultReplicas is how many replicas a topology starts when
	// Replicas is 0.
	DefaultReplicas = 2
	// DefaultMasterKey is the master key when none is given; it starts with
	// "sk-" because LiteLLM requires that.
	DefaultMasterKey = "sk-keyrace-topology"
	// ServicePort is the port every replica listens on inside its container.
	ServicePort = "4000/tcp"
	// NoCache as a CacheTTL turns the management-object cache off
	// (DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL=0).
	NoCache time.Duration = -1
)

// Image names and the environment variables that override them.
const (
	// DefaultPostgresImage is used when KEYRACE_POSTGRES_IMAGE is unset and
	// the image is present locally (or can be pulled).
	DefaultPostgresImage = "postgres:16"
	// FallbackPostgresImage is used when DefaultPostgresImage is absent
	// locally but this one is present (built by `make images`).
	FallbackPostgresImage = "keyrace/postgres:15"
	// DefaultRedisImage is used when KEYRACE_REDIS_IMAGE is unset and the
	// image is present locally (or can be pulled).
	DefaultRedisImage = "redis:7"
	// FallbackRedisImage is used when DefaultRedisImage is absent locally
	// but this one is present (built by `make images`).
	FallbackRedisImage = "keyrace/redis:7"
	// ReferenceRepo is the repository of the reference service's image;
	// builds are tagged ReferenceRepo:dev and ReferenceRepo:<hash prefix>.
	ReferenceRepo = "keyrace/reference"

	envPostgresImage = "KEYRACE_POSTGRES_IMAGE"
	envRedisImage    = "KEYRACE_REDIS_IMAGE"
	envBinary        = "KEYRACE_BINARY"
)

// Timeouts bounds each stage of a start. The zero value of a field means
// its default.
type Timeouts struct {
	// Pull bounds pulling one missing image in Preflight (default 5 min).
	// It only matters with a registry; without one a pull fails at once.
	Pull time.Duration
	// Build bounds compiling keyrace and building its image (default 5 min;
	// a cold `go build` of keyrace takes well under a minute here).
	Build time.Duration
	// Service bounds PostgreSQL and Redis becoming ready (default 2 min).
	Service time.Duration
	// Replica bounds one replica answering GET /health/liveliness after its
	// container started, also on Restart (default 1 min for the reference
	// service, 5 min for LiteLLM, whose startup runs Prisma migrations).
	Replica time.Duration
	// Stop bounds waiting for a killed replica to be reported stopped, and
	// each removal in Close (default 30 s).
	Stop time.Duration
}

func (t Timeouts) withDefaults(replica time.Duration) Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Pull, 5*time.Minute)
	def(&t.Build, 5*time.Minute)
	def(&t.Service, 2*time.Minute)
	def(&t.Replica, replica)
	def(&t.Stop, 30*time.Second)
	return t
}

// ReferenceOptions configures StartReference. The zero value of each field
// means its default.
type ReferenceOptions struct {
	// Replicas is the number of reference-service replicas (default 2).
	Replicas int
	// Faults are the faults every replica reproduces, as `keyrace serve
	// --fault` takes them ("local-invalidation-only,invalidation-lag=5ms");
	// empty for the correct build. Passed as KEYRACE_FAULTS.
	Faults string
	// CacheTTL is the management-object cache TTL, passed in whole or
	// fractional seconds as DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL.
	// 0 leaves the service's default (60 s); NoCache turns caching off.
	CacheTTL time.Duration
	// MasterKey is LITELLM_MASTER_KEY (default DefaultMasterKey).
	MasterKey string
	// Binary is a prebuilt static (CGO_ENABLED=0) linux keyrace binary to
	// put in the image (default $KEYRACE_BINARY; when both are empty the
	// binary is built from the module found by `go env GOMOD`).
	Binary string
	// Image is a ready keyrace image to run instead of building one (for
	// example the one docker-compose.yml builds). Binary is then ignored.
	Image string
	// PostgresImage and RedisImage override the image choice (default
	// $KEYRACE_POSTGRES_IMAGE / $KEYRACE_REDIS_IMAGE, else the official
	// image, else the local keyrace/... fallback; see ResolveImages).
	PostgresImage string
	RedisImage    string
	// RunID names this run in container names and labels (default random,
	// 8 hex digits). Lower-case letters, digits and '-' only.
	RunID string
	// Timeouts bounds each stage.
	Timeouts Timeouts
	// Log receives progress lines (image choice, build, timings) and
	// testcontainers' own messages; nil discards them.
	Log io.Writer
}

// LiteLLMOptions configures StartLiteLLM. The zero value of each field means
// its default.
type LiteLLMOptions struct {
	// Image is the LiteLLM image to run, named by the user (for example
	// ghcr.io/berriai/litellm:main-v1.83.0-stable). Required: keyrace never
	// picks a LiteLLM version for you.
	Image string
	// Replicas is the number of LiteLLM replicas (default 2).
	Replicas int
	// MasterKey is LITELLM_MASTER_KEY (default DefaultMasterKey; LiteLLM
	// wants it to start with "sk-").
	MasterKey string
	// CacheTTL is DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL, as in
	// ReferenceOptions: 0 leaves LiteLLM's default (60 s), NoCache sets 0.
	CacheTTL time.Duration
	// WithRedis adds Redis and passes REDIS_HOST/REDIS_PORT to the replicas.
	WithRedis bool
	// Env adds or overrides environment variables of every replica (for
	// example LITELLM_LOG=DEBUG).
	Env map[string]string
	// Cmd replaces the image's command (default: the image's, which for
	// the official images is `--port 4000`). It must keep port 4000.
	Cmd []string
	// PostgresImage, RedisImage, RunID, Timeouts and Log: as in
	// ReferenceOptions (Timeouts.Replica defaults to 5 min here).
	PostgresImage string
	RedisImage    string
	RunID         string
	Timeouts      Timeouts
	Log           io.Writer
}

// cacheTTLEnv renders a CacheTTL option for
// DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL: "" (leave the default),
// "0" (off) or seconds ("0.5", "60").
func cacheTTLEnv(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d < 0:
		return "0"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func (o ReferenceOptions) validate() error {
	if o.Replicas < 0 {
		return fmt.Errorf("replicas %d: want at least 1 (0 means %d)", o.Replicas, DefaultReplicas)
	}
	if o.CacheTTL < 0 && o.CacheTTL != NoCache {
		return fmt.Errorf("cache TTL %v: want >= 0 or NoCache", o.CacheTTL)
	}
	set, _, err := refimpl.ParseFaultSpec(o.Faults)
	if err != nil {
		return fmt.Errorf("faults %q: %w", o.Faults, err)
	}
	if err := set.CheckReplicas(orDefault(o.Replicas, DefaultReplicas)); err != nil {
		return err
	}
	return validRunID(o.RunID)
}

func (o LiteLLMOptions) validate() error {
	if o.Image == "" {
		return fmt.Errorf("no LiteLLM image: name one (for example ghcr.io/berriai/litellm:main-v1.83.0-stable); keyrace does not pick a version")
	}
	if o.Replicas < 0 {
		return fmt.Errorf("replicas %d: want at least 1 (0 means %d)", o.Replicas, DefaultReplicas)
	}
	if o.CacheTTL < 0 && o.CacheTTL != NoCache {
		return fmt.Errorf("cache TTL %v: want >= 0 or NoCache", o.CacheTTL)
	}
	return validRunID(o.RunID)
}

func validRunID(id string) error {
	if len(id) > 40 {
		return fmt.Errorf("run id %q: at most 40 characters", id)
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return fmt.Errorf("run id %q: lower-case letters, digits and '-' only", id)
		}
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
