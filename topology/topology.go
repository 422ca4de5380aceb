package topology

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Images says which images a topology runs and why each was chosen.
type Images struct {
	// Postgres is the PostgreSQL image ("postgres:16", "keyrace/postgres:15").
	Postgres string `json:"postgres"`
	// Redis is the Redis image, "" when the topology has none.
	Redis string `json:"redis,omitempty"`
	// Service is the image of the replicas: keyrace/reference:<hash> for
	// the reference topology, the user's image for LiteLLM.
	Service string `json:"service"`
	// Notes say why each image was chosen ("postgres: keyrace/postgres:15
	// (postgres:16 is not present locally; ...)").
	Notes []string `json:"notes,omitempty"`
}

// Timings measures one start. Stages that run side by side overlap.
type Timings struct {
	// Preflight: engine reached, images resolved and present (pulls included).
	Preflight time.Duration `json:"preflight_ns"`
	// Image: keyrace compiled and its image built or found (0 for LiteLLM
	// and for ReferenceOptions.Image). Runs alongside Services.
	Image time.Duration `json:"image_ns"`
	// ImageBuilt: a keyrace image was built (false: one with the same
	// binary hash was reused).
	ImageBuilt bool `json:"image_built"`
	// Services: networks created and PostgreSQL (and Redis) ready.
	Services time.Duration `json:"services_ns"`
	// Replicas: from the services (and image) being ready to every replica
	// answering /health/liveliness.
	Replicas time.Duration `json:"replicas_ns"`
	// Total: from the start of the preflight to every replica ready.
	Total time.Duration `json:"total_ns"`
}

// String renders the timings on one line, rounded to milliseconds.
func (t Timings) String() string {
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	built := "reused"
	if t.ImageBuilt {
		built = "built"
	}
	return fmt.Sprintf("total %s (preflight %s, image %s %s, services %s, replicas %s)",
		ms(t.Total), ms(t.Preflight), ms(t.Image), built, ms(t.Services), ms(t.Replicas))
}

// Topology is a running deployment: PostgreSQL, maybe Redis, N replicas,
// two networks. Its methods are safe for concurrent use; Close removes it.
type Topology struct {
	runID     string
	kind      string
	masterKey string
	images    Images
	timings   Timings
	e         *engine
	p         plan
	log       io.Writer
	// replicaReq builds replica i's request for host port hostPort; kept to
	// retry a start whose chosen port was taken meanwhile.
	replicaReq func(i int, hostPort string) testcontainers.ContainerRequest
	picker     *portPicker

	mu         sync.Mutex
	networkIDs map[string]string // name -> id
	containers []testcontainers.Container
	postgres   testcontainers.Container
	redis      testcontainers.Container
	replicas   []*replica
	windows    []*Window
	closed     bool
}

type replica struct {
	ctr testcontainers.Container
	url string
}

// RunID is the id in this topology's container names and org.keyrace.run
// labels.
func (t *Topology) RunID() string { return t.runID }

// Kind is "reference" or "litellm".
func (t *Topology) Kind() string { return t.kind }

// MasterKey is the LITELLM_MASTER_KEY every replica was given.
func (t *Topology) MasterKey() string { return t.masterKey }

// Images says which images run and why.
func (t *Topology) Images() Images { return t.images }

// Timings measures the start.
func (t *Topology) Timings() Timings { return t.timings }

// URLs returns the replicas' base URLs ("http://127.0.0.1:23817"), in
// replica order. With a local engine a replica keeps its URL across
// Kill/Restart (its host port is chosen once and pinned); with a remote one
// the port may change on Restart and URLs returns the new one.
func (t *Topology) URLs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, len(t.replicas))
	for i, r := range t.replicas {
		out[i] = r.url
	}
	return out
}

// Replicas returns the number of replicas.
func (t *Topology) Replicas() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.replicas)
}

// ReplicaLogs returns replica i's container log (stdout and stderr), for
// reading failures.
func (t *Topology) ReplicaLogs(ctx context.Context, i int) (string, error) {
	r, err := t.replica(i)
	if err != nil {
		return "", err
	}
	return containerLogs(ctx, r.ctr, 0)
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (t *Topology) logf(format string, args ...any) {
	if t.log != nil {
		fmt.Fprintf(t.log, "topology %s: "+format+"\n", append([]any{t.runID}, args...)...)
	}
}

// createNetworks creates the private (internal: no gateway, no published
// ports, no way out) and the public network of the run.
func (t *Topology) createNetworks(ctx context.Context) error {
	t.p.backend, t.p.frontend = "keyrace-"+t.runID+"-private", "keyrace-"+t.runID+"-public"
	labels := map[string]string{LabelManaged: "true", LabelRun: t.runID, LabelTopology: t.kind}
	for _, n := range []struct {
		name     string
		internal bool
	}{{t.p.backend, true}, {t.p.frontend, false}} {
		res, err := t.e.cli.NetworkCreate(ctx, n.name, client.NetworkCreateOptions{Driver: "bridge", Internal: n.internal, Labels: labels})
		if err != nil {
			return fmt.Errorf("create network %s: %w", n.name, err)
		}
		t.mu.Lock()
		t.networkIDs[n.name] = res.ID
		t.mu.Unlock()
	}
	return nil
}

// run creates and starts one container and waits for it; a container that
// exists is tracked for Close even when starting it failed, and a failure
// carries the end of its log.
func (t *Topology) run(ctx context.Context, req testcontainers.ContainerRequest) (testcontainers.Container, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          true,
		Logger:           logger(t.log),
	})
	if c != nil {
		t.mu.Lock()
		t.containers = append(t.containers, c)
		t.mu.Unlock()
	}
	if err != nil {
		return c, fmt.Errorf("start %s (%s): %w%s", req.Name, req.Image, err, logTail(context.WithoutCancel(ctx), c))
	}
	return c, nil
}

// startServices starts every non-replica request side by side.
func (t *Topology) startServices(ctx context.Context, reqs []testcontainers.ContainerRequest) error {
	var wg sync.WaitGroup
	errs := make([]error, len(reqs))
	for i, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := t.run(ctx, req)
			errs[i] = err
			t.mu.Lock()
			switch req.Labels[LabelRole] {
			case "postgres":
				t.postgres = c
			case "redis":
				t.redis = c
			}
			t.mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startReplicas starts replica 0 alone (a service that migrates its schema
// at startup does so once, unraced), then the others side by side.
func (t *Topology) startReplicas(ctx context.Context, n int) error {
	t.replicas = make([]*replica, n)
	if err := t.startReplica(ctx, 0); err != nil || n == 1 {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.startReplica(ctx, i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (t *Topology) startReplica(ctx context.Context, i int) error {
	hostPort := ""
	if t.e.local {
		t.mu.Lock()
		hostPort = t.picker.pick(t.p.bindIP)
		t.mu.Unlock()
	}
	for attempt := 1; ; attempt++ {
		c, err := t.run(ctx, t.replicaReq(i, hostPort))
		if err != nil && isPortClash(err) && hostPort != "" && attempt < 3 {
			// Another process took the port between our check and Docker's
			// bind: drop this container and try another port.
			t.logf("replica %d: host port %s taken meanwhile, trying another", i, hostPort)
			t.remove(context.WithoutCancel(ctx), c)
			t.mu.Lock()
			hostPort = t.picker.pick(t.p.bindIP)
			t.mu.Unlock()
			continue
		}
		if err != nil {
			return fmt.Errorf("replica %d: %w", i, err)
		}
		url, err := t.urlOf(ctx, c)
		if err != nil {
			return fmt.Errorf("replica %d: %w", i, err)
		}
		t.mu.Lock()
		t.replicas[i] = &replica{ctr: c, url: url}
		t.mu.Unlock()
		return nil
	}
}

func (t *Topology) urlOf(ctx context.Context, c testcontainers.Container) (string, error) {
	port, err := c.MappedPort(ctx, ServicePort)
	if err != nil {
		return "", fmt.Errorf("published port: %w", err)
	}
	return "http://" + t.p.host + ":" + port.Port(), nil
}

func (t *Topology) replica(i int) (*replica, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("topology closed")
	}
	if i < 0 || i >= len(t.replicas) || t.replicas[i] == nil {
		return nil, fmt.Errorf("no replica %d (the topology has %d)", i, len(t.replicas))
	}
	return t.replicas[i], nil
}

// Close removes every container and network of the topology, also after a
// start that failed half-way, and ends the windows still open. It is
// idempotent. Removal kills containers at once: their data is not kept.
func (t *Topology) Close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	now := time.Now()
	for _, w := range t.windows {
		if w.Open() {
			w.End = now
		}
	}
	ctrs := t.containers
	nets := t.networkIDs
	t.mu.Unlock()

	var errs []error
	var wg sync.WaitGroup
	rmErrs := make([]error, len(ctrs))
	for i, c := range ctrs {
		wg.Add(1)
		go func() { defer wg.Done(); rmErrs[i] = t.remove(ctx, c) }()
	}
	wg.Wait()
	errs = append(errs, rmErrs...)
	// Sweep by label too: a container created by a request whose start
	// failed before testcontainers handed it back is found this way.
	_, err := removeLabelled(ctx, t.e.cli, LabelRun+"="+t.runID)
	errs = append(errs, err)
	for name, id := range nets {
		if _, err := t.e.cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", name, err))
		}
	}
	errs = append(errs, t.e.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close topology %s: %w", t.runID, err)
	}
	return nil
}

// remove force-removes a container (SIGKILL) with its anonymous volumes.
func (t *Topology) remove(ctx context.Context, c testcontainers.Container) error {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.p.timeouts.Stop)
	defer cancel()
	_, err := t.e.cli.ContainerRemove(ctx, c.GetContainerID(), client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", c.GetContainerID()[:12], err)
	}
	return nil
}

// containerLogs returns a container's log, only the last tail lines when
// tail > 0.
func containerLogs(ctx context.Context, c testcontainers.Container, tail int) (string, error) {
	rc, err := c.Logs(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if tail > 0 && len(lines) > tail {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n"), sc.Err()
}

// logTail renders the end of a failed container's log for an error.
func logTail(ctx context.Context, c testcontainers.Container) string {
	if c == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := containerLogs(ctx, c, 20)
	if err != nil || strings.TrimSpace(s) == "" {
		return ""
	}
	return "\n--- last lines of its log ---\n" + s
}
