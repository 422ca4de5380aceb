package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// defs holds the built-in scenarios, one YAML file per scenario named
// after it.
//
//go:embed defs/*.yaml
var defs embed.FS

// List returns the built-in scenarios, validated, sorted by name.
func List() ([]*Scenario, error) {
	entries, err := fs.ReadDir(defs, "defs")
	if err != nil {
		return nil, fmt.Errorf("list scenarios: %w", err)
	}
	var out []*Scenario
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok {
			continue
		}
		s, err := Load(name)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Names returns the names of the built-in scenarios, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(defs, "defs") // embedded: cannot fail
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Load returns the built-in scenario called name, validated.
func Load(name string) (*Scenario, error) {
	b, err := defs.ReadFile(path.Join("defs", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("load scenario %q: %w (known: %s)", name, errNoScenario, strings.Join(Names(), ", "))
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load scenario %q: %w", name, err)
	}
	if s.Name != name {
		return nil, fmt.Errorf("load scenario %q: name: the file says %q", name, s.Name)
	}
	return s, nil
}

// LoadFile reads and validates a scenario file.
func LoadFile(file string) (*Scenario, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", file, err)
	}
	return s, nil
}

// Parse reads a scenario from YAML (or JSON), refusing unknown and
// duplicate fields, and validates it.
func Parse(b []byte) (*Scenario, error) {
	var s Scenario
	if err := yaml.UnmarshalStrict(b, &s); err != nil {
		// sigs.k8s.io/yaml converts to JSON first; its messages say so
		// ("error unmarshaling JSON: while decoding JSON: json: unknown
		// field"), which would puzzle the author of a YAML file.
		msg := err.Error()
		if i := strings.LastIndex(msg, "json: "); i >= 0 {
			msg = msg[i+len("json: "):]
		}
		return nil, fmt.Errorf("parse: %s", msg)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}
