package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
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
	// topo is set when the target is a container topology keyrace started
	// (and may therefore disrupt).
	topo  *topology.Topology
	close func()
}

// Close releases what resolveTarget started.
func (t target) Close() {
	if t.close != nil {
		t.close()
	}
}

// resolveTarget turns --target (URLs or "embedded") and --fault into a
// target. Faults only apply to services keyrace starts itself.
func resolveTarget(ctx context.Context, spec, masterKey, faults string, replicas int) (target, error) {
	if strings.HasPrefix(strings.TrimSpace(spec), topologyPrefix) {
		return startTopology(ctx, strings.TrimPrefix(strings.TrimSpace(spec), topologyPrefix), faults)
	}
	if strings.TrimSpace(spec) != embeddedTarget {
		if faults != "" {
			return target{}, fmt.Errorf("--fault applies to --target %s or --topology only (a running proxy has the faults it has)", embeddedTarget)
		}
		urls := splitTargets(spec)
		if len(urls) == 0 {
			return target{}, fmt.Errorf("no target: give --target URL[,URL...] (or %s), or set KEYRACE_TARGET", embeddedTarget)
		}
		seen := map[string]bool{}
		for _, u := range urls {
			k := strings.TrimRight(u, "/")
			if seen[k] {
				return target{}, fmt.Errorf("--target lists %s twice: name each replica once (the replica specs would write and decide through one process)", u)
			}
			seen[k] = true
		}
		return target{URLs: urls, MasterKey: masterKey, Describe: strings.Join(urls, ", ")}, nil
	}
	set, params, err := refimpl.ParseFaultSpec(faults)
	if err != nil {
		return target{}, fmt.Errorf("--fault: %w", err)
	}
	if replicas < 1 {
		return target{}, fmt.Errorf("--replicas %d: want at least 1", replicas)
	}
	if err := set.CheckReplicas(replicas); err != nil {
		return target{}, fmt.Errorf("--fault: %w: add --replicas 2", err)
	}
	rs, err := refimpl.StartReplicas(replicas, refimpl.Config{MasterKey: embeddedKey, Faults: set, InvalidationLag: params.InvalidationLag})
	if err != nil {
		return target{}, err
	}
	desc := fmt.Sprintf("embedded reference service (%d replica(s), %s)", replicas, buildName(set))
	if spec := set.Spec(params); spec != "" {
		desc = fmt.Sprintf("embedded reference service (%d replica(s), faults %s)", replicas, spec)
	}
	return target{URLs: rs.URLs(), MasterKey: embeddedKey, Describe: desc, close: func() { _ = rs.Close() }}, nil
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
func startTopology(ctx context.Context, spec, faults string) (target, error) {
	kind, query, _ := strings.Cut(spec, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return target{}, fmt.Errorf("--topology %q: %w", spec, err)
	}
	replicas := 2
	if v := q.Get("replicas"); v != "" {
		if replicas, err = strconv.Atoi(v); err != nil || replicas < 1 || replicas > 9 {
			return target{}, fmt.Errorf("--topology %q: replicas must be 1..9", spec)
		}
	}
	var ttl time.Duration
	if v := q.Get("ttl"); v != "" {
		if ttl, err = time.ParseDuration(v); err != nil || ttl < 0 {
			return target{}, fmt.Errorf("--topology %q: ttl must be a duration such as 60s", spec)
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
	desc := fmt.Sprintf("%s topology (%d replicas on PostgreSQL + Redis in Docker", kind, topo.Replicas())
	if faults != "" {
		desc += ", faults " + faults
	}
	desc += ")"
	return target{URLs: topo.URLs(), MasterKey: topo.MasterKey(), Describe: desc, topo: topo, close: func() {
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

// targetFromFlags resolves the --target / --topology / --fault / --replicas
// flags every traffic command shares; it prints why it cannot and returns
// ok=false then.
func targetFromFlags(ctx context.Context, cmd, spec, topo, masterKey, faults string, replicas int, stderr io.Writer) (target, bool) {
	if topo != "" {
		if strings.TrimSpace(spec) != "" && os.Getenv("KEYRACE_TARGET") != spec {
			fmt.Fprintf(stderr, "keyrace %s: give --target or --topology, not both\n", cmd)
			return target{}, false
		}
		spec = topologyFlag(topo)
	}
	tg, err := resolveTarget(ctx, spec, masterKey, faults, replicas)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace %s: %v\n", cmd, err)
		return target{}, false
	}
	return tg, true
}
