package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

// setupWorkers is how many setup requests run at once.
const setupWorkers = 8

// setup checks every replica, creates the teams with their initial lists
// (and a key per team when decisions are made with one), and warms every
// cache: one decision of each kind per team and replica. None of it is in
// the history; Header.Initial records the state it leaves.
func (e *engine) setup(ctx context.Context) error {
	st := e.st
	for _, u := range st.Targets {
		c, err := client.New(u, st.MasterKey, client.WithHTTPClient(e.hc), client.WithTimeout(st.Timeouts.Setup))
		if err != nil {
			return err
		}
		if err := c.Preflight(ctx); err != nil {
			return err
		}
		e.admin = append(e.admin, c)
	}
	needKey := slices.ContainsFunc(st.sc.Decisions, func(d DecisionKind) bool {
		return d == DecideModels || d == DecideMockChat
	})
	if needKey {
		if err := e.checkModels(ctx); err != nil {
			return err
		}
	}
	err := e.each(ctx, len(e.teams), func(ctx context.Context, i int) error {
		t := e.teams[i]
		req := wire.NewTeamRequest{TeamID: t.id, TeamAlias: t.id}
		switch st.sc.Writes {
		case WriteAccessGroups:
			// Always with a permission record, even an empty one: the
			// record's cache entry is what the seed bug keeps stale.
			req.ObjectPermission = &wire.PermissionUpdate{MCPAccessGroups: wire.List(st.sc.Initial...)}
		default:
			req.Models = st.sc.Initial
		}
		if _, _, err := e.admin[0].NewTeam(ctx, req); err != nil {
			return fmt.Errorf("create team %s: %w", t.id, err)
		}
		e.createdMu.Lock()
		e.created = append(e.created, t.id)
		e.createdMu.Unlock()
		if needKey {
			k, _, err := e.admin[0].GenerateKey(ctx, wire.GenerateKeyRequest{TeamID: t.id})
			if err != nil {
				return fmt.Errorf("generate a key of team %s: %w", t.id, err)
			}
			t.key = k.Key
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := e.sameDeployment(ctx); err != nil {
		return err
	}
	return e.warm(ctx)
}

// sameDeployment checks that every replica sees a team created through
// the first: URLs of separate deployments would otherwise pass as
// replicas with every cross-replica operation failing. A replica gets a
// couple of seconds to see it.
func (e *engine) sameDeployment(ctx context.Context) error {
	if len(e.teams) == 0 {
		return nil
	}
	team := e.teams[0].id
	for i, c := range e.admin[1:] {
		deadline := time.Now().Add(2 * time.Second)
		for {
			_, _, err := c.TeamInfo(ctx, team)
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("replica %d (%s) does not see team %s created through replica 0 (%s): are they replicas of one deployment? %w",
					i+1, c.BaseURL(), team, e.admin[0].BaseURL(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// checkModels makes sure the target serves every model the scenario
// writes or asks for: a refusal for an unserved model would look like a
// stale decision.
func (e *engine) checkModels(ctx context.Context) error {
	l, _, err := e.admin[0].Models(ctx)
	if err != nil {
		return fmt.Errorf("list the served models: %w", err)
	}
	served := l.IDs()
	var missing []string
	for _, m := range append(slices.Clone(e.st.sc.Universe), e.st.sc.Initial...) {
		if !slices.Contains(served, m) && !slices.Contains(missing, m) {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("scenario %s uses models %s that the target does not serve (it serves %s)",
			e.st.sc.Name, wire.PyList(missing), wire.PyList(served))
	}
	return nil
}

// warm sends one decision of each kind per team and replica, so that the
// traffic starts on hot caches. Refusals are expected; a request that
// gets no answer at all means the target cannot run the scenario.
func (e *engine) warm(ctx context.Context) error {
	sc := e.st.sc
	nrep, nk := len(e.st.Targets), len(sc.Decisions)
	return e.each(ctx, len(e.teams)*nrep*nk, func(ctx context.Context, i int) error {
		t := e.teams[i%len(e.teams)]
		replica := (i / len(e.teams)) % nrep
		kind := sc.Decisions[i/(len(e.teams)*nrep)]
		ask := ""
		if asks := sc.asks(); len(asks) > 0 {
			ask = asks[0] // not from the team's stream: setup must not change the plan
		}
		p := &pending{team: t, decide: kind}
		p.op.Replica, p.op.Ask, p.op.Endpoint = replica, ask, endpointOf(Write{}, kind, false)
		var tgt vegeta.Target
		e.fill(&tgt, p)
		req, err := tgt.Request()
		if err != nil {
			return err
		}
		resp, err := e.hc.Do(req.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("warm %s %s: %w", req.Method, req.URL.Path, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			return fmt.Errorf("warm %s %s: HTTP %d", req.Method, req.URL.Path, resp.StatusCode)
		}
		return nil
	})
}

// each runs f for 0..n-1 on setupWorkers goroutines and returns the first
// error (the rest are skipped).
func (e *engine) each(ctx context.Context, n int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		next  int
		wg    sync.WaitGroup
	)
	for range min(setupWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if stop || i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// cleanup deletes the teams the run created (and with them their keys),
// even when ctx is already cancelled.
func (e *engine) cleanup(ctx context.Context) error {
	e.createdMu.Lock()
	ids := slices.Clone(e.created)
	e.created = nil
	e.createdMu.Unlock()
	if len(ids) == 0 || len(e.admin) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for batch := range slices.Chunk(ids, 100) {
		if _, err := e.admin[0].DeleteTeams(ctx, batch...); err != nil {
			errs = append(errs, fmt.Errorf("delete teams: %w", err))
		}
	}
	return errors.Join(errs...)
}
