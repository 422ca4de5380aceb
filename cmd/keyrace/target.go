package main

import (
	"context"
	"fmt"
	"strings"

	refimpl "github.com/keyrace/keyrace/reference-impl"
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
	close    func()
}

// Close releases what resolveTarget started.
func (t target) Close() {
	if t.close != nil {
		t.close()
	}
}

// resolveTarget turns --target (URLs or "embedded") and --fault into a
// target. Faults only apply to the embedded service.
func resolveTarget(_ context.Context, spec, masterKey, faults string, replicas int) (target, error) {
	if strings.TrimSpace(spec) != embeddedTarget {
		if faults != "" {
			return target{}, fmt.Errorf("--fault applies to --target %s only (a running proxy has the faults it has)", embeddedTarget)
		}
		urls := splitTargets(spec)
		if len(urls) == 0 {
			return target{}, fmt.Errorf("no target: give --target URL[,URL...] (or %s), or set KEYRACE_TARGET", embeddedTarget)
		}
		return target{URLs: urls, MasterKey: masterKey, Describe: strings.Join(urls, ", ")}, nil
	}
	set, params, err := refimpl.ParseFaultSpec(faults)
	if err != nil {
		return target{}, fmt.Errorf("--fault: %w", err)
	}
	if replicas < 1 {
		replicas = 1
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
