// Package pgtest runs PostgreSQL in Docker for tests, with
// testcontainers-go's postgres module, and hands out one fresh database
// per test.
//
// Image: KEYRACE_POSTGRES_IMAGE when set; else the official postgres:16
// when it is present locally; else keyrace/postgres:15 (built from Debian
// packages by `make images`, see fixtures/images) when present; else
// postgres:16, pulled. Tests skip with the reason when Docker is
// unreachable or no image can be had, and fail instead when CI=true.
//
// Ryuk is disabled (TESTCONTAINERS_RYUK_DISABLED=true): its image cannot
// be pulled without a registry. Every container is removed when its test
// (or, for Shared, the test binary) ends, pass or fail, and carries the
// label org.keyrace.managed=true, so what a killed test binary leaves
// behind can be removed with
//
//	docker rm -f $(docker ps -aq --filter label=org.keyrace.managed=true)
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Images and names.
const (
	// DefaultImage is used when present locally or pullable.
	DefaultImage = "postgres:16"
	// LocalImage is the registry-free image of fixtures/images.
	LocalImage = "keyrace/postgres:15"
	// ImageEnv names the image to use instead.
	ImageEnv = "KEYRACE_POSTGRES_IMAGE"
	// Label marks every container this package starts.
	Label = "org.keyrace.managed"
	// ReadyLog is what PostgreSQL logs when it accepts connections: twice
	// on a first start (the init server, then the real one).
	ReadyLog = "database system is ready to accept connections"

	user     = "keyrace"
	password = "keyrace"
	database = "keyrace"
)

// Timeouts of this package; container work on a 2-core CI machine.
type Timeouts struct {
	// Pull bounds pulling a missing image (default 3 min).
	Pull time.Duration
	// Start bounds creating a container until it accepts connections
	// (default 2 min; a first start runs initdb).
	Start time.Duration
	// Terminate bounds stopping and removing it (default 30 s).
	Terminate time.Duration
}

// DefaultTimeouts are the Timeouts used unless a test sets its own.
var DefaultTimeouts = Timeouts{Pull: 3 * time.Minute, Start: 2 * time.Minute, Terminate: 30 * time.Second}

// disableRyuk sets TESTCONTAINERS_RYUK_DISABLED=true before the first
// testcontainers call reads its configuration (once per process). Any
// other value, even "TRUE" or "1", would leave Ryuk on.
func disableRyuk() { _ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true") }

// CI reports whether CI=true (or another true value): missing Docker or
// images are then failures, not skips.
func CI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Preflight checks that Docker answers and picks the image (pulling it
// when it is missing). The error says what is missing and how to get it.
func Preflight(ctx context.Context) (image string, err error) {
	disableRyuk()
	p, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		return "", fmt.Errorf("docker unreachable: %w", err)
	}
	defer p.Close()
	if err := p.Health(ctx); err != nil {
		return "", fmt.Errorf("docker unreachable: %w", err)
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return "", fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	present := func(img string) bool {
		_, err := cli.ImageInspect(ctx, img)
		return err == nil
	}
	image = os.Getenv(ImageEnv)
	switch {
	case image != "":
	case present(DefaultImage):
		return DefaultImage, nil
	case present(LocalImage):
		return LocalImage, nil
	default:
		image = DefaultImage
	}
	if present(image) {
		return image, nil
	}
	pctx, cancel := context.WithTimeout(ctx, DefaultTimeouts.Pull)
	defer cancel()
	resp, err := cli.ImagePull(pctx, image, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(pctx)
	}
	if err != nil {
		return "", fmt.Errorf("PostgreSQL image %s is not present and cannot be pulled (%v); "+
			"build %s with `make images` (fixtures/images) or set %s to a local image", image, err, LocalImage, ImageEnv)
	}
	return image, nil
}

// Server is a running PostgreSQL container.
type Server struct {
	// Container is the testcontainers handle.
	Container *postgres.PostgresContainer
	// Image is the image it runs.
	Image string
	// URL reaches its admin database (postgres://keyrace:keyrace@host:port/keyrace).
	URL string
	// Startup is how long Start took, from create until ready.
	Startup time.Duration
	host    string
	port    string
}

// Option configures Start.
type Option func(*options)

type options struct{ fsync bool }

// WithFsync keeps PostgreSQL's fsync on. By default the postgres module
// starts the server with fsync=off, which is faster and loses nothing
// unless the container's host crashes; benchmarks of write latency want it
// on.
func WithFsync() Option { return func(o *options) { o.fsync = true } }

// Start creates and starts a PostgreSQL container from image and waits
// until it accepts connections. When it returns a Server, with or without
// an error, the caller must Terminate it.
func Start(ctx context.Context, image string, opts ...Option) (*Server, error) {
	disableRyuk()
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeouts.Start)
	defer cancel()
	custom := []testcontainers.ContainerCustomizer{
		postgres.WithDatabase(database), postgres.WithUsername(user), postgres.WithPassword(password),
		testcontainers.WithLabels(map[string]string{Label: "true"}),
		// Explicit: the module sets no wait strategy. The log line comes
		// twice on a first start (init server, then the real one); the
		// port check looks inside the container that the real server
		// listens. Its external half dials the host testcontainers infers,
		// which can be unroutable from here: resolve dials instead.
		testcontainers.WithWaitStrategy(wait.ForAll(
			wait.ForLog(ReadyLog).WithOccurrence(2),
			wait.ForListeningPort("5432/tcp").SkipExternalCheck(),
		).WithDeadline(DefaultTimeouts.Start)),
	}
	if o.fsync {
		custom = append(custom, testcontainers.WithCmd("postgres"))
	}
	began := time.Now()
	c, err := postgres.Run(ctx, image, custom...)
	var s *Server
	if c != nil {
		s = &Server{Container: c, Image: image}
	}
	if err != nil {
		return s, fmt.Errorf("start %s: %w", image, err)
	}
	if err := s.resolve(ctx); err != nil {
		return s, err
	}
	s.Startup = time.Since(began)
	return s, nil
}

// resolve finds the address the test process reaches the published port
// at. testcontainers infers the daemon host, which inside a container is
// the bridge gateway and not always routable; with a local daemon the
// port is published on loopback too, so the first candidate that accepts
// a connection wins.
func (s *Server) resolve(ctx context.Context) error {
	port, err := s.Container.MappedPort(ctx, "5432/tcp")
	if err != nil {
		return fmt.Errorf("mapped port: %w", err)
	}
	candidates := []string{"127.0.0.1"}
	if h, err := s.Container.Host(ctx); err == nil && h != "localhost" && h != "127.0.0.1" {
		candidates = append([]string{h}, candidates...)
	}
	var last error
	for _, h := range candidates {
		addr := net.JoinHostPort(h, port.Port())
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			last = err
			continue
		}
		_ = conn.Close()
		s.host, s.port = h, port.Port()
		s.URL = s.urlFor(database)
		return nil
	}
	return fmt.Errorf("reach published port %s: %w", port.Port(), last)
}

func (s *Server) urlFor(db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, password, net.JoinHostPort(s.host, s.port), db)
}

// Terminate stops and removes the container (nil-safe).
func (s *Server) Terminate(ctx context.Context) error {
	if s == nil || s.Container == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeouts.Terminate)
	defer cancel()
	if err := s.Container.Terminate(ctx); err != nil {
		return fmt.Errorf("terminate container %s: %w", s.Container.GetContainerID(), err)
	}
	return nil
}
