package topology

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// ErrDockerUnavailable wraps every failure to reach a Docker engine.
var ErrDockerUnavailable = errors.New("docker engine unavailable")

// ErrImageUnavailable wraps every failure to have an image locally.
var ErrImageUnavailable = errors.New("image unavailable")

// engine is a connection to the Docker engine plus where its published
// ports are reached from this process.
type engine struct {
	cli *testcontainers.DockerClient
	// host is where mapped ports are reached: 127.0.0.1 with a local
	// engine. testcontainers' own inference is not used, because inside a
	// container it picks the default gateway, which can be unroutable
	// (192.0.2.1 on keyrace's machines).
	host string
	// bindIP is the host address ports are published on: 127.0.0.1 with a
	// local engine (nothing is exposed to the network), "" (all) otherwise.
	bindIP string
	// local: the engine runs on this machine, so host ports can be chosen
	// here and kept across restarts.
	local bool
	// goarch is the engine's architecture in GOARCH terms.
	goarch string
}

func connect(ctx context.Context) (*engine, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (start the Docker engine, or set DOCKER_HOST to one you can reach)", ErrDockerUnavailable, err)
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("%w at %s: %w", ErrDockerUnavailable, cli.DaemonHost(), err)
	}
	e := &engine{cli: cli, goarch: goarchOf(info.Info.Architecture)}
	e.host, e.bindIP, e.local = hostFor(cli.DaemonHost(), os.Getenv("TESTCONTAINERS_HOST_OVERRIDE"))
	return e, nil
}

func (e *engine) close() error {
	if e == nil || e.cli == nil {
		return nil
	}
	return e.cli.Close()
}

// hostFor returns where published ports are reached and bound, from the
// engine's address and TESTCONTAINERS_HOST_OVERRIDE (which wins when set).
func hostFor(daemonHost, override string) (host, bindIP string, local bool) {
	if override != "" {
		if isLoopback(override) {
			return "127.0.0.1", "127.0.0.1", true
		}
		return override, "", false
	}
	u, err := url.Parse(daemonHost)
	if err != nil {
		return "127.0.0.1", "127.0.0.1", true
	}
	switch u.Scheme {
	case "tcp", "http", "https":
		if h := u.Hostname(); h != "" && !isLoopback(h) {
			return h, "", false
		}
	}
	// unix://, npipe:// or a loopback TCP address: the engine is here.
	return "127.0.0.1", "127.0.0.1", true
}

func isLoopback(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func goarchOf(dockerArch string) string {
	switch dockerArch {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "armv7l", "arm":
		return "arm"
	case "s390x", "ppc64le", "riscv64":
		return dockerArch
	}
	return runtime.GOARCH
}

// hasImage reports whether img is present in the engine.
func (e *engine) hasImage(ctx context.Context, img string) (bool, error) {
	_, err := e.cli.ImageInspect(ctx, img)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("inspect image %s: %w", img, err)
}

// ensureImage makes img present: a local image is used as is (never
// pulled); a missing one is pulled once, bounded by the context.
func (e *engine) ensureImage(ctx context.Context, img, hint string, logf func(string, ...any)) error {
	ok, err := e.hasImage(ctx, img)
	if err != nil || ok {
		return err
	}
	logf("image %s is not present locally: pulling it", img)
	resp, err := e.cli.ImagePull(ctx, img, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(ctx)
		_ = resp.Close()
	}
	if err != nil {
		return fmt.Errorf("%w: %s is not present locally and could not be pulled (%v)%s", ErrImageUnavailable, img, oneLine(err), hint)
	}
	return nil
}

// pickImage chooses an image: the explicit one, else the default when it is
// present locally, else the fallback when that is present, else the
// default (to be pulled). note says why, for Topology.Images.
func pickImage(explicit, envName, def, fallback string, has func(string) bool) (img, note string) {
	switch {
	case explicit != "":
		return explicit, explicit + " (given)"
	case os.Getenv(envName) != "":
		v := os.Getenv(envName)
		return v, v + " (from " + envName + ")"
	case has(def):
		return def, def + " (default, present locally)"
	case fallback != "" && has(fallback):
		return fallback, fallback + " (" + def + " is not present locally; using the air-gapped image `make images` builds)"
	}
	return def, def + " (default, to be pulled)"
}

const imagesHint = " — build the air-gapped keyrace/postgres:15 and keyrace/redis:7 with `make images` " +
	"(used automatically when postgres:16 / redis:7 are absent), or name images you have with KEYRACE_POSTGRES_IMAGE / KEYRACE_REDIS_IMAGE"

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
