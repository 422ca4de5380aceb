package refimpl

import (
	"context"
	"time"

	"github.com/keyrace/keyrace/wire"
)

// The read and write paths that several handlers share, and the points
// where faults hook into them. Each fault is one branch taken only when the
// fault is on; the correct build's path is the other branch, unchanged.

// lostUpdatePause is the simulated database round-trip between the read
// and the write of FaultLostUpdate's read-modify-write. An in-memory read
// and write take microseconds, so without a pause concurrent requests
// would rarely interleave inside the window and the fault would show up
// only by luck. 2 ms is about one PostgreSQL round-trip on a LAN (what
// LiteLLM spends between its find_unique and its update), wide enough that
// a handful of requests started together reliably overlap, and short
// enough not to slow a scenario down.
const lostUpdatePause = 2 * time.Millisecond

// mergeTeam is the write path of /team/update and /team/member_add: fn
// merges a change into the current team. The correct build runs fn under
// the store's lock (UpdateTeam), so concurrent merges of different fields
// or members all persist. With FaultLostUpdate it is LiteLLM's unlocked
// read-modify-write: read, pause, write the whole team back, overwriting
// whatever was written in between.
func (s *Server) mergeTeam(ctx context.Context, id string, fn func(*Team) error) (Team, error) {
	if !s.cfg.Faults.Has(FaultLostUpdate) {
		return s.store.UpdateTeam(ctx, id, fn)
	}
	t, err := s.store.GetTeam(ctx, id)
	if err != nil {
		return Team{}, err
	}
	if err := fn(&t); err != nil {
		return Team{}, err
	}
	pause := time.NewTimer(lostUpdatePause)
	defer pause.Stop()
	select {
	case <-pause.C:
	case <-ctx.Done():
		return Team{}, ctx.Err()
	}
	return s.store.PutTeam(ctx, t)
}

// staleTeamKey is where FaultStaleTeamCache keeps its per-process team
// copy, named after LiteLLM's internal_usage_cache copy that shadowed the
// refreshed "team_id:<id>" entry. Nothing ever invalidates it.
func staleTeamKey(id string) string { return "internal_usage_cache:team_id:" + id }

// staleTeamForAuth is teamForAuth under FaultStaleTeamCache: the first
// read caches the team for the TTL (not extended by later puts), and team
// writes never evict it.
func (s *Server) staleTeamForAuth(ctx context.Context, id string) (Team, error) {
	ck := staleTeamKey(id)
	if v, ok := s.cache.Get(ck); ok {
		return v.(Team), nil
	}
	t, err := s.store.GetTeam(ctx, id)
	if err != nil {
		return Team{}, err
	}
	s.cache.PutKeepDeadline(ck, t)
	return t, nil
}

// recacheWithoutRelation is invalidateTeam under FaultNullRelationAllows:
// like LiteLLM 1.83's _cache_team_object after /team/update, it writes the
// fresh team row into "team_id:<id>" but without its permission relation
// (the update did not include it). The entry carries the write's revision,
// so no older read can replace it; it lives for a full TTL.
func (s *Server) recacheWithoutRelation(t Team) {
	t = t.Clone()
	t.Perm = nil
	s.cache.Put("team_id:"+t.ID, t, t.Rev)
}

// teamForKeyValidation reads the team a key being generated or updated is
// validated against. The correct build reads the authoritative store (a
// write-path validation must never decide on a cached copy). With
// FaultNullRelationAllows it reads through the request-time team cache,
// which that fault fills without the permission relation after a write;
// with the cache-coherence faults through the same cache, whose evictions
// those faults delay or keep local.
func (s *Server) teamForKeyValidation(ctx context.Context, id string) (Team, error) {
	if s.readsValidationThroughCache() {
		return s.teamForAuth(ctx, id)
	}
	return s.store.GetTeam(ctx, id)
}

// readsValidationThroughCache is true for the faults that model a proxy
// whose key validation decides on its cached team: null-relation-allows
// and the cache-coherence faults (invalidation-lag,
// local-invalidation-only, stale-republish). The correct build reads the
// store.
func (s *Server) readsValidationThroughCache() bool {
	for _, f := range []FaultName{FaultNullRelationAllows, FaultInvalidationLag, FaultLocalInvalidationOnly, FaultStaleRepublish} {
		if s.cfg.Faults.Has(f) {
			return true
		}
	}
	return false
}

// checkKeyPerms validates the object_permission a key asks for (on
// /key/generate or /key/update) against its team as teamForKeyValidation
// read it (nil for a key without team). Both endpoints call it, so every
// fault on this path affects them alike.
func (s *Server) checkKeyPerms(ctx context.Context, teamID string, team *Team, req *wire.PermissionUpdate) *apiError {
	if team == nil {
		return validateKeyPerms(teamID, false, nil, req)
	}
	if s.cfg.Faults.Has(FaultNullRelationAllows) && team.PermID != "" && team.Perm == nil {
		// The fault: a relation that was not loaded reads as "the team
		// imposes no restriction" instead of being loaded.
		return nil
	}
	return validateKeyPerms(teamID, true, s.teamPermForValidation(ctx, *team), req)
}
