package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/reference-impl/pgstore"
	"github.com/keyrace/keyrace/reference-impl/redistier"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", refimpl.DefaultAddr, "listen address HOST:PORT (port 0 picks a free one)")
	replicas := fs.Int("replicas", 1, "start this many replicas sharing one in-memory store, on consecutive ports from --addr")
	masterKey := fs.String("master-key", "", "master key (default $LITELLM_MASTER_KEY)")
	faults := fs.String("fault", "", "comma-separated faults to reproduce (default $KEYRACE_FAULTS); see below")
	var ttl *time.Duration
	fs.Func("cache-ttl", "management-object cache TTL, e.g. 60s; 0 disables caching (default: $DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL seconds, else 60s)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration >= 0 such as 60s or 0")
		}
		ttl = &d
		return nil
	})
	models := fs.String("models", "", "comma-separated models the service serves (default $KEYRACE_MODELS, else "+strings.Join(refimpl.DefaultModels, ",")+")")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: keyrace serve [flags]\n\nRuns the reference team/key service: on an in-memory store, or on PostgreSQL when\nDATABASE_URL is set; with REDIS_URL or REDIS_HOST/REDIS_PORT(/REDIS_PASSWORD) its\nreplicas in separate processes keep their caches coherent through Redis.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nFaults:\n")
		for _, f := range refimpl.Faults {
			fmt.Fprintf(fs.Output(), "  %-26s %s\n  %-26s expect: %s\n", f.Name, f.Reproduces, "", f.Expectation)
		}
	}
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	cfg, err := serveConfig(*masterKey, *faults, ttl, *models)
	if err == nil && *replicas < 1 {
		err = errors.New("--replicas must be at least 1")
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyrace serve: %v\n", err)
		return exitCannotRun
	}
	addrs, err := replicaAddrs(*addr, *replicas)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace serve: %v\n", err)
		return exitCannotRun
	}
	if *replicas > 1 {
		cfg.Store, cfg.Peers = refimpl.NewMemStore(), refimpl.NewPeers()
	}
	storeDesc := "in-memory"
	if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
		st, err := pgstore.Open(ctx, dsn, pgstore.WithConnectWait(30*time.Second))
		if err != nil {
			fmt.Fprintf(stderr, "keyrace serve: DATABASE_URL: %v\n", err)
			return exitCannotRun
		}
		defer st.Close()
		cfg.Store, storeDesc = st, "postgres"
	}
	tierDesc, err := attachRedis(&cfg)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace serve: %v\n", err)
		return exitCannotRun
	}
	servers := make([]*refimpl.Server, len(addrs))
	for i := range addrs {
		if servers[i], err = refimpl.New(cfg); err != nil {
			fmt.Fprintf(stderr, "keyrace serve: %v\n", err)
			return exitCannotRun
		}
	}
	build := "correct build"
	if f := servers[0].FaultSpec(); f != "" {
		build = "FAULTS: " + strings.ReplaceAll(f, ",", ", ")
	}
	ttlDesc := refimpl.DefaultCacheTTL.String()
	if cfg.CacheTTL != nil {
		ttlDesc = cfg.CacheTTL.String()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = servers[i].Serve(ctx, a, func(bound net.Addr) {
				fmt.Fprintf(stdout, "keyrace reference service on http://%s (%s, cache TTL %s, store %s%s%s)\n", reachable(bound), build, ttlDesc, storeDesc, tierDesc, replicaNote(i, len(addrs)))
			})
			if errs[i] != nil {
				cancel() // one replica failing stops them all
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "keyrace serve: %v\n", err)
		return exitCannotRun
	}
	return exitClean
}

func serveConfig(masterKey, faults string, ttl *time.Duration, models string) (refimpl.Config, error) {
	cfg, err := refimpl.ConfigFromEnv()
	if err != nil {
		return cfg, err
	}
	if masterKey != "" {
		cfg.MasterKey = masterKey
	}
	if faults != "" {
		var p refimpl.FaultParams
		if cfg.Faults, p, err = refimpl.ParseFaultSpec(faults); err != nil {
			return cfg, fmt.Errorf("--fault: %w", err)
		}
		cfg.InvalidationLag = p.InvalidationLag
	}
	if ttl != nil {
		cfg.CacheTTL = ttl
	}
	if models != "" {
		if cfg.Models = refimpl.ParseModels(models); len(cfg.Models) == 0 {
			return cfg, fmt.Errorf("--models %q: want a comma-separated list of model names", models)
		}
	}
	return cfg, nil
}

// replicaAddrs returns n listen addresses on consecutive ports from addr
// (all port 0 when addr's port is 0).
func replicaAddrs(addr string, n int) ([]string, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	switch {
	case err != nil || port < 0 || port > 65535:
		return nil, fmt.Errorf("--addr %q: bad port", addr)
	case port != 0 && port+n-1 > 65535:
		return nil, fmt.Errorf("--addr %q with --replicas %d: the last replica would need port %d, past 65535", addr, n, port+n-1)
	}
	out := make([]string, n)
	for i := range out {
		p := port
		if port != 0 {
			p = port + i
		}
		out[i] = net.JoinHostPort(host, strconv.Itoa(p))
	}
	return out, nil
}

// reachable is a listen address as a client on this machine dials it: an
// unspecified host (":0", "0.0.0.0", "::") is reached on loopback.
func reachable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func replicaNote(i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(", replica %d of %d", i+1, n)
}

// attachRedis gives cfg the Redis coherence tier when REDIS_URL or
// REDIS_HOST is set (LiteLLM's names), and describes it for the banner.
func attachRedis(cfg *refimpl.Config) (string, error) {
	ro, ok, err := redistier.FromEnv()
	if err != nil || !ok {
		return "", err
	}
	ttl := refimpl.DefaultCacheTTL
	if cfg.CacheTTL != nil {
		ttl = *cfg.CacheTTL
	}
	cfg.Coherence = redistier.New(ro, redistier.Options{CacheTTL: ttl})
	return ", coherence via Redis at " + ro.Addr, nil
}
