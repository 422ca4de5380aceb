package refimpl

import (
	"fmt"
	"sort"
	"strings"
)

// FaultName names a deliberate bug the reference service can be started
// with. The values are the wire strings of --fault and KEYRACE_FAULTS.
type FaultName string

// The faults. Each reproduces one upstream bug class (DESIGN.md §6).
const (
	// FaultStaleObjectPermission reproduces the seed bug of LiteLLM 1.83: key
	// validation reads the team's object permission through a per-process
	// cache entry keyed by the permission id, whose TTL counts from first
	// caching, is not extended by rewrites, and is never evicted by
	// /team/update.
	FaultStaleObjectPermission FaultName = "stale-object-permission"
)

// Fault describes one fault for --help and reports.
type Fault struct {
	Name        FaultName
	Reproduces  string
	Expectation string
}

// Faults is the catalogue, in the order --help lists it.
var Faults = []Fault{
	{FaultStaleObjectPermission, "object-permission cache entry not evicted by /team/update (LiteLLM 1.83)", "stale deny after a grant, stale allow after a revoke"},
}

// FaultSet is the set of faults a service runs with; the zero value is the
// correct build.
type FaultSet map[FaultName]bool

// Has reports whether f is on.
func (s FaultSet) Has(f FaultName) bool { return s[f] }

// String lists the faults, sorted, comma-separated ("" for none).
func (s FaultSet) String() string {
	names := make([]string, 0, len(s))
	for f, on := range s {
		if on {
			names = append(names, string(f))
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// ParseFaults reads "a,b" (spaces allowed, empty for none) and rejects
// unknown names with the list of known ones.
func ParseFaults(spec string) (FaultSet, error) {
	set := FaultSet{}
	for _, part := range strings.Split(spec, ",") {
		name := FaultName(strings.TrimSpace(part))
		if name == "" {
			continue
		}
		if !knownFault(name) {
			return nil, fmt.Errorf("unknown fault %q (known: %s)", name, knownFaultNames())
		}
		set[name] = true
	}
	return set, nil
}

func knownFault(n FaultName) bool {
	for _, f := range Faults {
		if f.Name == n {
			return true
		}
	}
	return false
}

func knownFaultNames() string {
	names := make([]string, len(Faults))
	for i, f := range Faults {
		names[i] = string(f.Name)
	}
	return strings.Join(names, ", ")
}
