package refimpl

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// Coherence keeps the caches of replicas in separate processes honest. A
// replica serves a cached entry only after Coherence says it is current,
// and a write announces itself before it touches the store (Begin) and
// records its revision after (End), so that from Begin until End every
// replica reads that key from the store. nil means one process (or
// in-process replicas joined by Peers), where evictions are enough.
//
// reference-impl/redistier implements it on Redis.
type Coherence interface {
	// Begin announces a write to keys. An error refuses the write: without
	// the announcement other replicas could serve the old state after the
	// write is acknowledged.
	Begin(ctx context.Context, keys ...string) error
	// End records rev as the newest revision of keys and ends the
	// announcement. If it fails, the announcement stays until it expires
	// and replicas keep reading those keys from the store (correct, slower).
	End(ctx context.Context, rev uint64, keys ...string) error
	// Current reports whether a cached entry of key read at rev may be served.
	Current(ctx context.Context, key string, rev uint64) (bool, error)
	// Republish is the stale-republish fault's write-back: it makes rev the
	// newest revision of key again, whatever was recorded since.
	Republish(ctx context.Context, key string, rev uint64) error
	// Ready reports whether the tier answers; Kind names it.
	Ready(ctx context.Context) error
	Kind() string
}

// coherenceState remembers the last Coherence failure for readiness.
type coherenceState struct {
	lastErr atomic.Pointer[string]
	lastAt  atomic.Int64
}

func (c *coherenceState) fail(err error) {
	msg := err.Error()
	c.lastErr.Store(&msg)
	c.lastAt.Store(time.Now().UnixNano())
}

// recent returns the failure of the last 5 s, if any.
func (c *coherenceState) recent() string {
	if p := c.lastErr.Load(); p != nil && time.Since(time.Unix(0, c.lastAt.Load())) < 5*time.Second {
		return *p
	}
	return ""
}

// errCoherence is the 503 a write gets when it cannot announce itself.
func errCoherence(err error) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, typ: "service_unavailable", param: paramNone,
		msg: "Cache coherence tier unavailable (" + err.Error() + "); the write was refused and nothing changed"}
}

// beginWrite announces a write to the cache keys it affects. It returns a
// 503 when replicas could not be told; nothing has been written then.
func (s *Server) beginWrite(ctx context.Context, keys ...string) *apiError {
	if s.cfg.Coherence == nil || s.skipsAnnouncement() || s.cfg.Faults.Has(FaultInvalidationLag) {
		return nil // these faults do not tell other replicas before the write
	}
	if err := s.cfg.Coherence.Begin(ctx, keys...); err != nil {
		s.coh.fail(err)
		return errCoherence(err)
	}
	return nil
}

// endWrite runs after the store accepted a write at rev: it records the
// revision with the other replicas and evicts the keys here (and in
// in-process peers), all before the write is acknowledged.
func (s *Server) endWrite(ctx context.Context, rev uint64, keys ...string) {
	if s.cfg.Coherence != nil && !s.skipsAnnouncement() {
		if s.cfg.Faults.Has(FaultInvalidationLag) {
			// The fault: the announcement travels asynchronously.
			time.AfterFunc(s.cfg.InvalidationLag, func() {
				if err := s.cfg.Coherence.End(context.Background(), rev, keys...); err != nil {
					s.coh.fail(err)
				}
			})
		} else if err := s.cfg.Coherence.End(context.WithoutCancel(ctx), rev, keys...); err != nil {
			s.coh.fail(err)
		}
	}
	for _, k := range keys {
		s.evict(k, rev)
	}
}

// skipsAnnouncement is true for the faults whose writes do not tell the
// other replicas before acknowledging: local-invalidation-only (never) and
// invalidation-lag (late, see endWrite).
func (s *Server) skipsAnnouncement() bool {
	return s.cfg.Faults.Has(FaultLocalInvalidationOnly)
}

// cacheGet reads key from this replica's cache, and with a coherence tier
// serves the entry only if the tier says it is current. When the tier
// cannot be asked, the entry is not served: the caller reads the store.
func (s *Server) cacheGet(ctx context.Context, key string) (any, bool) {
	v, rev, ok := s.cache.GetRev(key)
	if !ok || s.cfg.Coherence == nil {
		return v, ok
	}
	if s.cfg.Faults.Has(FaultStaleRepublish) {
		// The fault: the replica writes what it holds back to the shared
		// tier as current (with a fresh lifetime) before checking it.
		if err := s.cfg.Coherence.Republish(ctx, key, rev); err != nil {
			s.coh.fail(err)
		}
		s.cache.Touch(key)
	}
	cur, err := s.cfg.Coherence.Current(ctx, key, rev)
	if err != nil {
		s.coh.fail(err)
		return nil, false
	}
	if !cur {
		s.cache.Drop(key, rev)
		return nil, false
	}
	return v, true
}

// announced runs a store write between beginWrite and endWrite for keys.
// write returns the revision it produced. A refused announcement comes back
// as an *apiError (503) and write does not run.
func (s *Server) announced(ctx context.Context, keys []string, write func() (uint64, error)) error {
	if aerr := s.beginWrite(ctx, keys...); aerr != nil {
		return aerr
	}
	rev, err := write()
	if err != nil {
		rev = 0 // nothing was written: end the announcement, record nothing
	}
	s.endWrite(ctx, rev, keys...)
	return err
}

// writeTeam is the write path of every team change: announced to the other
// replicas, merged under the store's lock (or, with merge and the
// lost-update fault, as an unlocked read-modify-write), evicted everywhere
// before it returns.
func (s *Server) writeTeam(ctx context.Context, id string, merge bool, fn func(*Team) error) (Team, error) {
	var t Team
	err := s.announced(ctx, []string{"team_id:" + id}, func() (uint64, error) {
		var err error
		if merge {
			t, err = s.mergeTeam(ctx, id, fn)
		} else {
			t, err = s.store.UpdateTeam(ctx, id, fn)
		}
		return t.Rev, err
	})
	if err == nil && s.cfg.Faults.Has(FaultNullRelationAllows) {
		s.recacheWithoutRelation(t)
	}
	return t, err
}
