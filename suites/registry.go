// Package suites holds keyrace's Ginkgo specs: contract conformance,
// read-your-writes consistency, concurrency and multi-replica sequences,
// runnable against any LiteLLM-compatible proxy.
//
// Specs are values in a registry (Spec), each declaring its tier, profile
// and the features it needs; thin Describes turn them into labelled Ginkgo
// specs. Run runs them in-process (keyrace check does this, so the binary
// alone is enough); `go test ./suites` runs them against an embedded
// reference service.
package suites

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Tier is the kind of property a spec checks; tiers are Ginkgo labels.
type Tier string

// Tiers.
const (
	Conformance Tier = "conformance"
	Consistency Tier = "consistency"
	Concurrency Tier = "concurrency"
	Replicas    Tier = "replicas"
)

// Tiers lists the tiers in the order specs run.
var Tiers = []Tier{Conformance, Consistency, Concurrency, Replicas}

// Profile groups specs in the conformance report.
type Profile string

// Profiles: core is what every LiteLLM-compatible proxy must pass; extended
// covers endpoints and behaviours a proxy may declare it supports.
const (
	Core     Profile = "core"
	Extended Profile = "extended"
)

// FeatureName is a capability a target declares with --features; specs
// needing a feature the target does not declare are skipped and reported
// as unsupported, never failed.
type FeatureName string

// Features.
const (
	FeatureTeams          FeatureName = "teams"             // /team/new, update, info, list, delete
	FeatureKeys           FeatureName = "keys"              // /key/generate, info, delete
	FeatureMCPPermissions FeatureName = "mcp-permissions"   // object_permission and key-vs-team MCP validation
	FeatureKeyUpdate      FeatureName = "key-update"        // /key/update
	FeatureKeyList        FeatureName = "key-list"          // /key/list
	FeatureMemberAdd      FeatureName = "member-add"        // /team/member_add
	FeatureTeamBlock      FeatureName = "team-block"        // /team/block, /team/unblock
	FeatureModels         FeatureName = "models-endpoint"   // GET /v1/models honouring key and team models
	FeatureMockResponse   FeatureName = "mock-response"     // /v1/chat/completions with mock_response
	FeatureBudgets        FeatureName = "budgets"           // team max_budget enforced at request time
	FeatureMultiReplica   FeatureName = "multiple-replicas" // implied by two or more target URLs
	FeatureDisruptions    FeatureName = "disruptions"       // implied when keyrace started the target's containers and can pause, cut off and kill them
)

// CoreFeatures are declared by default.
var CoreFeatures = []FeatureName{FeatureTeams, FeatureKeys, FeatureMCPPermissions}

// AllFeatures is what --features all declares (the reference service).
var AllFeatures = []FeatureName{FeatureTeams, FeatureKeys, FeatureMCPPermissions, FeatureKeyUpdate, FeatureKeyList,
	FeatureMemberAdd, FeatureTeamBlock, FeatureModels, FeatureMockResponse, FeatureBudgets}

// Spec is one registered conformance test.
type Spec struct {
	// Name is unique and stable; reports and the fault matrix use it.
	Name string
	// Description says what the spec proves, as a sentence.
	Description string
	Tier        Tier
	Profile     Profile
	// Features the target must declare for the spec to run.
	Features []FeatureName
	// Slow marks specs that take seconds rather than milliseconds.
	Slow bool
	// Run is the spec body; it asserts with Gomega and gets a ready Env.
	Run func(ctx context.Context, env *Env)
}

var registry []Spec

// Register adds a spec; it panics on a duplicate name (a programming error).
func Register(s Spec) {
	for _, r := range registry {
		if r.Name == s.Name {
			panic("suites: duplicate spec " + s.Name)
		}
	}
	if s.Tier == "" || s.Profile == "" || s.Run == nil {
		panic("suites: spec " + s.Name + " needs a tier, a profile and a body")
	}
	registry = append(registry, s)
}

// Specs returns the registered specs sorted by tier order, then name.
func Specs() []Spec {
	out := append([]Spec(nil), registry...)
	rank := map[Tier]int{}
	for i, t := range Tiers {
		rank[t] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Tier != out[j].Tier {
			return rank[out[i].Tier] < rank[out[j].Tier]
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// SpecByName finds a registered spec.
func SpecByName(name string) (Spec, bool) {
	for _, s := range registry {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// FeatureSet is a set of declared features.
type FeatureSet map[FeatureName]bool

// ParseFeatures reads "all", "core", or a comma list of feature names (core
// features are always included).
func ParseFeatures(spec string) (FeatureSet, error) {
	set := FeatureSet{}
	for _, f := range CoreFeatures {
		set[f] = true
	}
	known := map[FeatureName]bool{}
	for _, f := range AllFeatures {
		known[f] = true
	}
	for _, part := range strings.Split(spec, ",") {
		p := strings.TrimSpace(part)
		switch p {
		case "", "core":
		case "all":
			for _, f := range AllFeatures {
				set[f] = true
			}
		default:
			if !known[FeatureName(p)] {
				return nil, fmt.Errorf("unknown feature %q (known: all, core, %s)", p, joinFeatures(AllFeatures))
			}
			set[FeatureName(p)] = true
		}
	}
	return set, nil
}

// Has reports whether every feature in fs is declared.
func (s FeatureSet) Has(fs ...FeatureName) bool {
	for _, f := range fs {
		if !s[f] {
			return false
		}
	}
	return true
}

// Names returns the declared features, sorted.
func (s FeatureSet) Names() []string {
	var out []string
	for f, on := range s {
		if on {
			out = append(out, string(f))
		}
	}
	sort.Strings(out)
	return out
}

func joinFeatures(fs []FeatureName) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// tierNames lists the tiers, for messages.
func tierNames() string {
	names := make([]string, len(Tiers))
	for i, t := range Tiers {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
