package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	runfolder "github.com/keyrace/keyrace/reports/run"
	"github.com/keyrace/keyrace/topology"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// embeddedTarget is the --target value that starts the reference service
// in-process (with --fault and --replicas) instead of naming a proxy.
const embeddedTarget = "embedded"

// embeddedKey is the master key of embedded services.
const embeddedKey = "sk-keyrace-embedded"

// target is where a command sends its traffic.
type target struct {
	URLs      []string
	MasterKey string
	// Describe says what the target is, for banners and reports.
	Describe string
	// Serve is set for an embedded target: how to start an equivalent
	// service by hand once this one is gone (for reproduction hints).
	Serve *runfolder.Serve
	// topo is set when the target is a container topology keyrace started
	// (and may therefore disrupt).
	topo  *topology.Topology
	close func()
}

// recipeKey is the master key reproduction hints give keyrace serve.
const recipeKey = "sk-1234"

// serveRecipe is the keyrace serve command that stands up, by hand, the
// equivalent of a reference service keyrace started (same replicas, faults
// and cache TTL, in one process on keyrace serve's default address), and
// the URLs it listens on.
func serveRecipe(replicas int, faults string, ttl *time.Duration) *runfolder.Serve {
	cmd := selfName() + " serve --master-key " + recipeKey
	if replicas > 1 {
		cmd += fmt.Sprintf(" --replicas %d", replicas)
	}
	if ttl != nil {
		cmd += " --cache-ttl " + ttl.String()
	}
	if faults != "" {
		cmd += " --fault " + faults
	}
	cmd += " &"
	host, port, _ := net.SplitHostPort(refimpl.DefaultAddr)
	p, _ := strconv.Atoi(port)
	urls := make([]string, max(replicas, 1))
	for i := range urls {
		urls[i] = "http://" + net.JoinHostPort(host, strconv.Itoa(p+i))
	}
	return &runfolder.Serve{Command: cmd, Targets: urls, MasterKey: recipeKey}
}

// plural is "1 replica", "3 replicas".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// selfName is how the user ran keyrace ("bin/keyrace", "keyrace"), so that
// printed commands can be pasted as they are.
func selfName() string {
	if a := os.Args[0]; filepath.Base(a) == "keyrace" {
		return a
	}
	return "keyrace"
}

// targetFlags are the flags every traffic command (check, race) shares to
// say where its traffic goes.
type targetFlags struct {
	spec, topo, masterKey, faults string
	replicas                      int
	cacheTTL                      *time.Duration
}

// addTargetFlags registers the target flags on fs.
func addTargetFlags(fs *flag.FlagSet) *targetFlags {
	f := &targetFlags{}
	fs.StringVar(&f.spec, "target", envOr("KEYRACE_TARGET", ""), "proxy base URL, or several replicas of one deployment comma-separated (env KEYRACE_TARGET); 'embedded' starts the reference service in-process")
	fs.StringVar(&f.masterKey, "master-key", envOr("KEYRACE_MASTER_KEY", ""), "the proxy's master key (env KEYRACE_MASTER_KEY)")
	fs.StringVar(&f.topo, "topology", "", "start a Docker topology instead of --target: reference?replicas=3[&ttl=60s][&fault=F] (reference service on PostgreSQL + Redis) or litellm?image=IMAGE[&replicas=2][&ttl=60s][&redis=false]")
	fs.StringVar(&f.faults, "fault", "", "with --target embedded or --topology reference: faults of the reference service, e.g. stale-object-permission or invalidation-lag=5ms")
	fs.IntVar(&f.replicas, "replicas", 1, "with --target embedded: how many in-process replicas (one store, a cache each)")
	fs.Func("cache-ttl", "with --target embedded or --topology reference: the reference service's cache TTL, e.g. 2s; 0 disables caching (default 60s; race --scenario ttl-sweep sets its own)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration >= 0 such as 60s or 0")
		}
		f.cacheTTL = &d
		return nil
	})
	return f
}

// embedded reports whether the flags ask for the in-process service.
func (f *targetFlags) embedded() bool {
	return f.topo == "" && strings.TrimSpace(f.spec) == embeddedTarget
}

// resolve starts or names the target; it prints why it cannot and returns
// ok=false then.
func (f *targetFlags) resolve(ctx context.Context, cmd string, stderr io.Writer) (target, bool) {
	spec := f.spec
	if f.replicas != 1 && !f.embedded() {
		fmt.Fprintf(stderr, "keyrace %s: --replicas applies to --target embedded only (list the replicas of a running proxy in --target; give a topology's in its replicas= setting)\n", cmd)
		return target{}, false
	}
	if f.topo != "" {
		if strings.TrimSpace(spec) != "" && os.Getenv("KEYRACE_TARGET") != spec {
			fmt.Fprintf(stderr, "keyrace %s: give --target or --topology, not both\n", cmd)
			return target{}, false
		}
		spec = topologyFlag(f.topo)
	}
	g := *f
	g.spec = spec
	tg, err := resolveTarget(ctx, g)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace %s: %v\n", cmd, err)
		return target{}, false
	}
	return tg, true
}

// Close releases what resolveTarget started.
func (t target) Close() {
	if t.close != nil {
		t.close()
	}
}

// resolveTarget turns --target (URLs or "embedded") and --fault into a
// target. Faults and the cache TTL only apply to services keyrace starts
// itself.
func resolveTarget(ctx context.Context, f targetFlags) (target, error) {
	spec := strings.TrimSpace(f.spec)
	if strings.HasPrefix(spec, topologyPrefix) {
		return startTopology(ctx, strings.TrimPrefix(spec, topologyPrefix), f.faults, f.cacheTTL)
	}
	if spec != embeddedTarget {
		if f.faults != "" || f.cacheTTL != nil {
			return target{}, fmt.Errorf("--fault and --cache-ttl apply to --target %s or --topology only (a running proxy has the faults and TTL it has)", embeddedTarget)
		}
		urls := splitTargets(spec)
		if len(urls) == 0 {
			return target{}, fmt.Errorf("no target: give --target URL[,URL...] (or %s), or set KEYRACE_TARGET", embeddedTarget)
		}
		seen := map[string]bool{}
		for _, u := range urls {
			k := strings.ToLower(strings.TrimRight(u, "/")) // scheme and host are case-blind
			if seen[k] {
				return target{}, fmt.Errorf("--target lists %s twice: name each replica once (the replica specs would write and decide through one process)", u)
			}
			seen[k] = true
		}
		return target{URLs: urls, MasterKey: f.masterKey, Describe: strings.Join(urls, ", ")}, nil
	}
	set, params, err := refimpl.ParseFaultSpec(f.faults)
	if err != nil {
		return target{}, fmt.Errorf("--fault: %w", err)
	}
	if f.replicas < 1 {
		return target{}, fmt.Errorf("--replicas %d: want at least 1", f.replicas)
	}
	if err := set.CheckReplicas(f.replicas); err != nil {
		return target{}, fmt.Errorf("--fault: %w: add --replicas 2", err)
	}
	rs, err := refimpl.StartReplicas(f.replicas, refimpl.Config{MasterKey: embeddedKey, Faults: set, InvalidationLag: params.InvalidationLag, CacheTTL: f.cacheTTL})
	if err != nil {
		return target{}, err
	}
	build := buildName(set)
	if spec := set.Spec(params); spec != "" {
		build = "faults " + spec
	}
	desc := fmt.Sprintf("embedded reference service (%s, %s", plural(f.replicas, "replica"), build)
	if f.cacheTTL != nil {
		desc += ", cache TTL " + f.cacheTTL.String()
	}
	desc += ")"
	return target{URLs: rs.URLs(), MasterKey: embeddedKey, Describe: desc, close: func() { _ = rs.Close() },
		Serve: serveRecipe(f.replicas, set.Spec(params), f.cacheTTL)}, nil
}

// topologyPrefix marks a --target that --topology produced.
const topologyPrefix = "topology:"

// topologyFlag converts --topology into the --target form resolveTarget
// reads ("" when not given).
func topologyFlag(topo string) string {
	if topo == "" {
		return ""
	}
	return topologyPrefix + topo
}

// startTopology starts a testcontainers topology from "KIND?key=value&...":
// reference?replicas=3&ttl=60s&fault=local-invalidation-only, or
// litellm?image=<image>&replicas=2&redis=true.
func startTopology(ctx context.Context, spec, faults string, cacheTTL *time.Duration) (target, error) {
	kind, query, _ := strings.Cut(spec, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return target{}, fmt.Errorf("--topology %q: %w", spec, err)
	}
	known := map[string][]string{"reference": {"replicas", "ttl", "fault"}, "litellm": {"image", "replicas", "ttl", "redis"}}
	keys, ok := known[kind]
	if !ok {
		return target{}, fmt.Errorf("--topology %q: kind must be reference or litellm", spec)
	}
	for k := range q {
		if !slices.Contains(keys, k) {
			return target{}, fmt.Errorf("--topology %q: unknown setting %q (%s takes %s)", spec, k, kind, strings.Join(keys, ", "))
		}
	}
	replicas := 2
	if v := q.Get("replicas"); v != "" {
		if replicas, err = strconv.Atoi(v); err != nil || replicas < 1 || replicas > 9 {
			return target{}, fmt.Errorf("--topology %q: replicas must be 1..9", spec)
		}
	}
	if v := q.Get("ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return target{}, fmt.Errorf("--topology %q: ttl must be a duration such as 60s", spec)
		}
		if cacheTTL != nil && *cacheTTL != d {
			return target{}, fmt.Errorf("--topology %q and --cache-ttl %s disagree: give the TTL once", spec, cacheTTL)
		}
		cacheTTL = &d
	}
	var ttl time.Duration // the topology's default
	if cacheTTL != nil {
		ttl = *cacheTTL
		if ttl == 0 {
			ttl = topology.NoCache
		}
	}
	if f := q.Get("fault"); f != "" {
		faults = strings.Trim(faults+","+f, ",")
	}
	// keyrace removes its containers by label itself, and Ryuk's image
	// cannot be had without a registry; the CLI keeps testcontainers quiet.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	tclog.SetDefault(tclog.NewNoopLogger())
	fmt.Fprintf(os.Stderr, "keyrace: starting the %s topology in Docker (images, PostgreSQL, Redis, replicas)...\n", kind)
	if err := topology.Preflight(ctx); err != nil {
		return target{}, fmt.Errorf("--topology: %w", err)
	}
	var topo *topology.Topology
	switch kind {
	case "reference":
		if _, _, err := refimpl.ParseFaultSpec(faults); err != nil {
			return target{}, fmt.Errorf("--fault: %w", err)
		}
		opts := topology.ReferenceOptions{Replicas: replicas, Faults: faults, CacheTTL: ttl}
		if self, err := os.Executable(); err == nil && topology.UsableBinary(self) == nil {
			opts.Binary = self // a static keyrace runs in the scratch image as it is
		}
		topo, err = topology.StartReference(ctx, opts)
	case "litellm":
		if faults != "" {
			return target{}, errors.New("--fault applies to the reference topology only")
		}
		topo, err = topology.StartLiteLLM(ctx, topology.LiteLLMOptions{Image: q.Get("image"), Replicas: replicas, CacheTTL: ttl, WithRedis: q.Get("redis") != "false"})
	default:
		return target{}, fmt.Errorf("--topology %q: kind must be reference or litellm", spec)
	}
	if err != nil {
		return target{}, fmt.Errorf("--topology %s: %w", kind, err)
	}
	var serve *runfolder.Serve
	if kind == "reference" {
		set, params, _ := refimpl.ParseFaultSpec(faults)
		if set.Has(refimpl.FaultStaleRepublish) {
			// This fault needs Redis: the compose file is the deployment by hand.
			serve = &runfolder.Serve{Command: "KEYRACE_FAULTS=" + set.Spec(params) + " docker compose up --build -d   # docker-compose.yml: 2 replicas on PostgreSQL + Redis",
				Targets: []string{"http://127.0.0.1:4000", "http://127.0.0.1:4001"}, MasterKey: "sk-keyrace-compose"}
		} else {
			serve = serveRecipe(topo.Replicas(), set.Spec(params), cacheTTL)
		}
	}
	desc := fmt.Sprintf("%s topology (%d replicas on PostgreSQL + Redis in Docker", kind, topo.Replicas())
	if faults != "" {
		desc += ", faults " + faults
	}
	desc += ")"
	return target{URLs: topo.URLs(), MasterKey: topo.MasterKey(), Describe: desc, topo: topo, Serve: serve, close: func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = topo.Close(cctx)
	}}, nil
}

// disruptor adapts a topology to the suites' Disruptor (the windows it
// records stay on the topology).
type disruptor struct{ t *topology.Topology }

func (d disruptor) PauseRedis(ctx context.Context) error { _, err := d.t.PauseRedis(ctx); return err }
func (d disruptor) UnpauseRedis(ctx context.Context) error {
	_, err := d.t.UnpauseRedis(ctx)
	return err
}
func (d disruptor) Disconnect(ctx context.Context, i int) error {
	_, err := d.t.Disconnect(ctx, i)
	return err
}
func (d disruptor) Reconnect(ctx context.Context, i int) error {
	_, err := d.t.Reconnect(ctx, i)
	return err
}
func (d disruptor) Kill(ctx context.Context, i int) error { _, err := d.t.Kill(ctx, i); return err }
func (d disruptor) Restart(ctx context.Context, i int) error {
	_, err := d.t.Restart(ctx, i)
	return err
}
