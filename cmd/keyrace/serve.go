package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", refimpl.DefaultAddr, "listen address HOST:PORT")
	masterKey := fs.String("master-key", "", "master key (default $LITELLM_MASTER_KEY)")
	faults := fs.String("fault", "", "comma-separated faults to reproduce (default $KEYRACE_FAULTS); see below")
	ttl := fs.Duration("cache-ttl", -1, "management-object cache TTL, e.g. 60s; 0 disables caching (default $DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL seconds, else 60s)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: keyrace serve [flags]\n\nRuns the reference team/key service on an in-memory store.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nFaults:\n")
		for _, f := range refimpl.Faults {
			fmt.Fprintf(stderr, "  %-26s %s\n  %-26s expect: %s\n", f.Name, f.Reproduces, "", f.Expectation)
		}
	}
	if done, code := parseFlags(fs, args, stderr); done {
		return code
	}
	cfg, err := refimpl.ConfigFromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "keyrace serve: %v\n", err)
		return exitCannotRun
	}
	if *masterKey != "" {
		cfg.MasterKey = *masterKey
	}
	if *faults != "" {
		if cfg.Faults, err = refimpl.ParseFaults(*faults); err != nil {
			fmt.Fprintf(stderr, "keyrace serve: --fault: %v\n", err)
			return exitCannotRun
		}
	}
	if *ttl >= 0 {
		d := *ttl
		cfg.CacheTTL = &d
	}
	s, err := refimpl.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "keyrace serve: %v\n", err)
		return exitCannotRun
	}
	err = s.Serve(ctx, *addr, func(a net.Addr) {
		build := "correct build"
		if f := s.Faults().String(); f != "" {
			build = "FAULTS: " + strings.ReplaceAll(f, ",", ", ")
		}
		ttlDesc := "60s"
		if cfg.CacheTTL != nil {
			ttlDesc = cfg.CacheTTL.String()
		}
		fmt.Fprintf(stdout, "keyrace reference service on http://%s (%s, cache TTL %s, store in-memory)\n", a, build, ttlDesc)
	})
	if err != nil {
		fmt.Fprintf(stderr, "keyrace serve: %v\n", err)
		return exitCannotRun
	}
	return exitClean
}
