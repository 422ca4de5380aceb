package suites_test

import (
	"flag"
	"strings"
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/suites"
)

var (
	target    = flag.String("target", "", "proxy URL(s), comma-separated; empty starts an embedded reference service")
	masterKey = flag.String("master-key", "", "the target's master key")
	features  = flag.String("features", "", "declared features (all, core, or a list); all for the embedded service")
	fault     = flag.String("fault", "", "faults for the embedded reference service")
)

// TestSuites runs every spec. Without -target it starts the reference
// service in-process, correct unless -fault is given.
func TestSuites(t *testing.T) {
	cfg := suites.Config{Targets: strings.Split(*target, ","), MasterKey: *masterKey}
	feat := *features
	if *target == "" {
		faults, err := refimpl.ParseFaults(*fault)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := refimpl.Start(refimpl.Config{MasterKey: "sk-suites", Faults: faults})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		cfg.Targets, cfg.MasterKey = []string{svc.URL}, "sk-suites"
		if feat == "" {
			feat = "all"
		}
	}
	fs, err := suites.ParseFeatures(feat)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Features = fs
	if err := suites.RunFromTest(t, cfg); err != nil {
		t.Fatal(err)
	}
}
