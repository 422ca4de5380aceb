package topology_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyrace/keyrace/topology"
	"github.com/keyrace/keyrace/topology/topotest"
)

// TestPreflightNamesMissingImage: an image that cannot be had is named,
// with the way to get one, before anything is created.
func TestPreflightNamesMissingImage(t *testing.T) {
	topotest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("KEYRACE_POSTGRES_IMAGE", "keyrace/no-such-postgres:0")
	err := topology.Preflight(ctx)
	t.Logf("preflight: %v", err)
	if !errors.Is(err, topology.ErrImageUnavailable) {
		t.Fatalf("preflight with a missing image: %v, want ErrImageUnavailable", err)
	}
	for _, want := range []string{"keyrace/no-such-postgres:0", "make images", "KEYRACE_POSTGRES_IMAGE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q: %v", want, err)
		}
	}
}

// TestLiteLLMMissingImage: StartLiteLLM refuses a LiteLLM image it cannot
// have, says so, and leaves nothing behind.
func TestLiteLLMMissingImage(t *testing.T) {
	topotest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runID := "test-litellm-absent"
	img := "ghcr.io/berriai/litellm:keyrace-no-such-tag"
	topo, err := topology.StartLiteLLM(ctx, topology.LiteLLMOptions{Image: img, RunID: runID, WithRedis: true})
	t.Logf("start: %v", err)
	if err == nil {
		topo.Close(ctx)
		t.Fatalf("started a LiteLLM image that does not exist: %s", img)
	}
	if !errors.Is(err, topology.ErrImageUnavailable) || !strings.Contains(err.Error(), img) || !strings.Contains(err.Error(), "docker load") {
		t.Errorf("error %v: want ErrImageUnavailable naming %s and how to carry it here", err, img)
	}
	left, lerr := topology.Leftovers(ctx, topology.LabelRun+"="+runID)
	if lerr != nil || len(left) != 0 {
		t.Errorf("left behind: %v %v", left, lerr)
	}
}
