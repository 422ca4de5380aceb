package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keyrace/keyrace/scenarios/history"
	"github.com/keyrace/keyrace/topology"
)

// startDisruption breaks a topology during the middle third of a race
// (from duration/3 to 2·duration/3) in the background. stop waits for the
// disruption to be undone; windows converts what happened to history
// windows on the run's clock (base = the run's start).
func startDisruption(ctx context.Context, r raceRun) (stop func(), windows func(base time.Time) []history.Disruption, err error) {
	none := func(time.Time) []history.Disruption { return nil }
	if r.disrupt == "" {
		return func() {}, none, nil
	}
	topo := r.target.topo
	if topo == nil {
		return nil, nil, fmt.Errorf("--disrupt needs --topology (keyrace can only break containers it started)")
	}
	last := topo.Replicas() - 1
	var on, off func(context.Context) (topology.Window, error)
	switch r.disrupt {
	case "redis":
		on, off = topo.PauseRedis, topo.UnpauseRedis
	case "disconnect":
		on = func(ctx context.Context) (topology.Window, error) { return topo.Disconnect(ctx, last) }
		off = func(ctx context.Context) (topology.Window, error) { return topo.Reconnect(ctx, last) }
	case "kill":
		on = func(ctx context.Context) (topology.Window, error) { return topo.Kill(ctx, last) }
		off = func(ctx context.Context) (topology.Window, error) { return topo.Restart(ctx, last) }
	default:
		return nil, nil, fmt.Errorf("--disrupt %q: want redis, disconnect or kill", r.disrupt)
	}
	d := r.duration
	if d <= 0 {
		d = r.sc.Duration.Std()
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		closed []topology.Window
		errs   []error
	)
	cctx, cancel := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-time.After(d / 3):
		case <-cctx.Done():
			return
		}
		if _, err := on(context.WithoutCancel(cctx)); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			return
		}
		select {
		case <-time.After(d / 3):
		case <-cctx.Done():
		}
		w, err := off(context.WithoutCancel(cctx))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
		closed = append(closed, w)
	}()
	stop = func() { cancel(); wg.Wait() }
	windows = func(base time.Time) []history.Disruption {
		mu.Lock()
		defer mu.Unlock()
		var out []history.Disruption
		for _, w := range closed {
			out = append(out, history.Disruption{Kind: string(w.Fault), Replica: w.Replica,
				Start: w.Start.Sub(base).Nanoseconds(), End: w.End.Sub(base).Nanoseconds()})
		}
		return out
	}
	return stop, windows, nil
}
