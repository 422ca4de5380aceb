package refimpl

import (
	"fmt"
	"sort"
	"strings"
	"time"
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
	// FaultStaleTeamCache reproduces LiteLLM PR 34266 / issue 35565: the
	// team that request-time decisions read (models, blocked, max_budget)
	// comes from a per-process copy that team writes (update, block,
	// unblock, member_add) never evict; it lives for the TTL counted from
	// first caching.
	FaultStaleTeamCache FaultName = "stale-team-cache"
	// FaultLostUpdate reproduces LiteLLM issue 25951: /team/update merges
	// and /team/member_add read the team, pause for a simulated database
	// round-trip, and write the whole team back without a lock, so
	// concurrent writers overwrite each other.
	FaultLostUpdate FaultName = "lost-update"
	// FaultNullRelationAllows reproduces the LiteLLM PR 28683/28752 class:
	// a team write re-caches the team without its permission relation, key
	// validation (/key/generate, /key/update) reads the team through that
	// cache and takes the missing relation for "no restriction".
	FaultNullRelationAllows FaultName = "null-relation-allows"
	// FaultInvalidationLag (written invalidation-lag=<duration>) reproduces
	// asynchronous invalidation (a pub/sub delay, LiteLLM PR 36028's known
	// limitation): decisions read the team through the cache, and each
	// eviction is applied Config.InvalidationLag after the write was
	// acknowledged instead of before.
	FaultInvalidationLag FaultName = "invalidation-lag"
	// FaultLocalInvalidationOnly reproduces LiteLLM issue 9820: a write
	// evicts only the cache of the replica that served it and tells no
	// other replica.
	FaultLocalInvalidationOnly FaultName = "local-invalidation-only"
	// FaultStaleRepublish reproduces LiteLLM PR 33565: a replica writes the
	// objects it has cached back to the shared tier as current on every
	// read, with a fresh lifetime, so an old copy keeps coming back.
	FaultStaleRepublish FaultName = "stale-republish"
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
	{FaultStaleTeamCache, "team models/blocked/max_budget cached per process, not evicted by team writes (LiteLLM PR 34266, issue 35565)", "stale request-time decisions: new team models denied, removed ones served, block/unblock and budget changes ignored until the TTL"},
	{FaultLostUpdate, "unlocked read-modify-write in /team/update merges and /team/member_add (LiteLLM issue 25951)", "lost members and lost object_permission fields under concurrent writes, all acknowledged 200"},
	{FaultInvalidationLag, "invalidation applied a delay after the write is acknowledged (asynchronous pub/sub); written invalidation-lag=5ms", "stale decisions inside a window of the given length after each write"},
	{FaultLocalInvalidationOnly, "a write evicts only the serving replica's cache (LiteLLM issue 9820); needs replicas", "cross-replica stale decisions until the TTL"},
	{FaultStaleRepublish, "replicas write cached objects back to the shared tier as current on read (LiteLLM PR 33565); needs Redis", "stale decisions that never converge while traffic continues"},
	{FaultNullRelationAllows, "team re-cached without its permission relation after a write, read as unrestricted by key validation (LiteLLM PR 28683/28752)", "stale allow (privilege leak): revoked MCP servers/access groups still granted by /key/generate and /key/update until the TTL"},
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

// CheckReplicas reports a fault that cannot show on n replicas: a write
// that evicts only its own replica's cache leaves nothing stale when there
// is no other replica.
func (s FaultSet) CheckReplicas(n int) error {
	if s.Has(FaultLocalInvalidationOnly) && n < 2 {
		return fmt.Errorf("fault %s needs 2 or more replicas (it has no effect on %d)", FaultLocalInvalidationOnly, n)
	}
	return nil
}

// FaultParams are the values of faults that take one.
type FaultParams struct {
	// InvalidationLag is the delay of FaultInvalidationLag.
	InvalidationLag time.Duration
}

// ParseFaults reads "a,b" (spaces allowed, empty for none) and rejects
// unknown names with the list of known ones. Faults that take a value are
// refused here; use ParseFaultSpec.
func ParseFaults(spec string) (FaultSet, error) {
	set, p, err := ParseFaultSpec(spec)
	if err == nil && p != (FaultParams{}) {
		err = fmt.Errorf("fault %s takes a value that this setting cannot carry", FaultInvalidationLag)
	}
	return set, err
}

// ParseFaultSpec reads "a,b,invalidation-lag=5ms" into the set and the
// parameters.
func ParseFaultSpec(spec string) (FaultSet, FaultParams, error) {
	set, params := FaultSet{}, FaultParams{}
	for _, part := range strings.Split(spec, ",") {
		nameS, value, hasValue := strings.Cut(strings.TrimSpace(part), "=")
		name := FaultName(strings.TrimSpace(nameS))
		if name == "" {
			continue
		}
		if !knownFault(name) {
			return nil, params, fmt.Errorf("unknown fault %q (known: %s)", name, knownFaultNames())
		}
		switch {
		case name == FaultInvalidationLag:
			d, err := time.ParseDuration(strings.TrimSpace(value))
			if !hasValue || err != nil || d <= 0 {
				return nil, params, fmt.Errorf("fault %s needs a positive duration: %s=5ms", name, name)
			}
			params.InvalidationLag = d
		case hasValue:
			return nil, params, fmt.Errorf("fault %s takes no value", name)
		}
		set[name] = true
	}
	return set, params, nil
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

// Spec renders the faults with their parameters, sorted and
// comma-separated, the way ParseFaultSpec reads them ("" for none).
func (s FaultSet) Spec(p FaultParams) string {
	names := strings.Split(s.String(), ",")
	for i, n := range names {
		if FaultName(n) == FaultInvalidationLag {
			names[i] = n + "=" + p.InvalidationLag.String()
		}
	}
	return strings.Join(names, ",")
}
