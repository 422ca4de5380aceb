// Package topotest holds the helpers tests use to get a Docker topology:
// skip with the reason on a machine without Docker or images, fail instead
// under CI=true, and always clean up. They take a testing.TB, so Ginkgo specs
// use them through GinkgoTB().
package topotest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/keyrace/keyrace/topology"
)

// PreflightTimeout bounds Require's preflight (which may pull images when a
// registry is reachable).
const PreflightTimeout = 6 * time.Minute

// InCI reports whether the tests run under CI=true, where a missing Docker
// engine or image is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips tb with the reason, or fails it under CI=true.
func SkipOrFail(tb testing.TB, reason string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("%s (CI=true: a Docker topology is required)", reason)
	}
	tb.Skip(reason)
}

// Require runs topology.Preflight and skips tb (fails it under CI=true) when
// Docker or an image is missing, naming what and how to get it. It disables
// Ryuk when TESTCONTAINERS_RYUK_DISABLED is unset: it cannot be pulled on
// keyrace's machines and topologies remove themselves by label.
func Require(tb testing.TB) {
	tb.Helper()
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	ctx, cancel := context.WithTimeout(context.Background(), PreflightTimeout)
	defer cancel()
	if err := topology.Preflight(ctx); err != nil {
		SkipOrFail(tb, "no Docker topology here: "+err.Error())
	}
}

// KeepEnv, set to "true", makes StartReference leave the topology running
// after the test, for inspection (docker ps --filter label=org.keyrace.run=ID).
const KeepEnv = "KEYRACE_KEEP_TOPOLOGY"

// StartReference starts a reference topology for tb and closes it when tb
// ends (failing tb if Close fails), unless KEYRACE_KEEP_TOPOLOGY=true. Docker or images missing: skip (fail
// under CI=true); any other start failure fails tb. Progress goes to tb's
// log unless o.Log is set.
func StartReference(tb testing.TB, ctx context.Context, o topology.ReferenceOptions) *topology.Topology {
	tb.Helper()
	Require(tb)
	if o.Log == nil {
		o.Log = LogWriter(tb)
	}
	topo, err := topology.StartReference(ctx, o)
	if err != nil {
		if errors.Is(err, topology.ErrDockerUnavailable) || errors.Is(err, topology.ErrImageUnavailable) {
			SkipOrFail(tb, err.Error())
		}
		tb.Fatalf("start reference topology: %v", err)
	}
	tb.Cleanup(func() {
		if os.Getenv(KeepEnv) == "true" {
			tb.Logf("%s=true: keeping topology %s (replicas %v); remove it with: docker rm -f $(docker ps -aq --filter label=%s=%s) && docker network rm $(docker network ls -q --filter label=%s=%s)",
				KeepEnv, topo.RunID(), topo.URLs(), topology.LabelRun, topo.RunID(), topology.LabelRun, topo.RunID())
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := topo.Close(ctx); err != nil {
			tb.Errorf("close topology: %v", err)
		}
	})
	return topo
}

// LogWriter returns a writer that sends each complete line to tb.Log. Lines
// written after tb ended are dropped.
func LogWriter(tb testing.TB) io.Writer {
	w := &lineLogger{tb: tb}
	tb.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return w
}

type lineLogger struct {
	tb   testing.TB
	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil
	}
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line) // incomplete: keep for the next write
			return len(p), nil
		}
		l.tb.Log(line[:len(line)-1])
	}
}
