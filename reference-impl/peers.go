package refimpl

import (
	"errors"
	"sync"
	"time"
)

// Peers joins the caches of replicas that share one store. An eviction on
// any replica is applied to every member's cache before the write that
// caused it is acknowledged, which is what keeps request-time decisions on
// other replicas from serving a copy older than the write. (Across
// processes, the Redis tier plays this part.)
type Peers struct {
	mu     sync.RWMutex
	caches []*Cache
}

// NewPeers returns an empty group.
func NewPeers() *Peers { return &Peers{} }

func (p *Peers) join(c *Cache) {
	p.mu.Lock()
	p.caches = append(p.caches, c)
	p.mu.Unlock()
}

func (p *Peers) evict(key string, rev uint64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, c := range p.caches {
		c.Invalidate(key, rev)
	}
}

// evict invalidates key at revision rev in this replica's cache and, when
// the replica has peers, in theirs, before returning.
func (s *Server) evict(key string, rev uint64) {
	if s.cfg.Faults.Has(FaultInvalidationLag) {
		// The fault: the eviction travels asynchronously and lands after
		// the write has been acknowledged.
		time.AfterFunc(s.cfg.InvalidationLag, func() { s.evictNow(key, rev) })
		return
	}
	s.evictNow(key, rev)
}

func (s *Server) evictNow(key string, rev uint64) {
	if s.cfg.Peers == nil || s.cfg.Faults.Has(FaultLocalInvalidationOnly) {
		s.cache.Invalidate(key, rev)
		return
	}
	s.cfg.Peers.evict(key, rev)
}

// Replicas are reference services started in-process that share one store
// and evict through one Peers group: a multi-replica deployment in one
// process, each replica with a cache of its own.
type Replicas struct {
	// Running are the replicas, in start order.
	Running []*Running
}

// StartReplicas starts n replicas of cfg on free loopback ports. cfg.Store
// is shared (a fresh MemStore when nil), as is cfg.Peers (a fresh group
// when nil).
func StartReplicas(n int, cfg Config) (*Replicas, error) {
	if n < 1 {
		return nil, errors.New("start replicas: need at least one")
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	if cfg.Peers == nil {
		cfg.Peers = NewPeers()
	}
	rs := &Replicas{}
	for i := 0; i < n; i++ {
		r, err := Start(cfg)
		if err != nil {
			rs.Close()
			return nil, err
		}
		rs.Running = append(rs.Running, r)
	}
	return rs, nil
}

// URLs returns the replicas' base URLs.
func (rs *Replicas) URLs() []string {
	out := make([]string, len(rs.Running))
	for i, r := range rs.Running {
		out[i] = r.URL
	}
	return out
}

// Close stops every replica.
func (rs *Replicas) Close() error {
	var errs []error
	for _, r := range rs.Running {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}
