package refimpl

import (
	"sync"
	"time"
)

// Cache is the service's management-object cache: entries keyed like
// LiteLLM's ("team_id:<id>", "token:<hash>", "object_permission_id:<id>"),
// each with a TTL and the store revision it was read at.
//
// It is correct under races because it is versioned: Invalidate leaves a
// marker holding the revision of the write, and Put refuses a value read at
// an older revision. So a reader that loaded the store just before a write
// and stores its copy just after the write's invalidation cannot bring the
// old state back. Writes invalidate before they are acknowledged.
type Cache struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	val     any
	rev     uint64
	expires time.Time
	// gone marks an invalidation marker: no value, only a revision floor.
	gone bool
}

// NewCache returns a cache whose entries live for ttl; ttl <= 0 disables
// caching (every Get misses), like LiteLLM with a TTL of 0.
func NewCache(ttl time.Duration) *Cache {
	return &Cache{ttl: ttl, now: time.Now, m: map[string]cacheEntry{}}
}

// TTL returns the entry lifetime.
func (c *Cache) TTL() time.Duration { return c.ttl }

// Get returns the live value under key.
func (c *Cache) Get(key string) (any, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || e.gone || c.now().After(e.expires) {
		return nil, false
	}
	return e.val, true
}

// GetRev is Get that also returns the revision the value was read at.
func (c *Cache) GetRev(key string) (any, uint64, bool) {
	if c.ttl <= 0 {
		return nil, 0, false
	}
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || e.gone || c.now().After(e.expires) {
		return nil, 0, false
	}
	return e.val, e.rev, true
}

// Drop removes the entry under key if it still holds revision rev (an
// entry found out of date), without raising the key's revision floor.
func (c *Cache) Drop(key string, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && !e.gone && e.rev == rev {
		delete(c.m, key)
	}
}

// Touch gives a live entry a fresh lifetime (only the stale-republish fault
// does this).
func (c *Cache) Touch(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && !e.gone {
		e.expires = c.now().Add(c.ttl)
		c.m[key] = e
	}
}

// Put stores val read at store revision rev, unless the entry already holds
// a newer revision or a newer invalidation. The TTL counts from now.
func (c *Cache) Put(key string, val any, rev uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.rev > rev {
		return
	}
	c.m[key] = cacheEntry{val: val, rev: rev, expires: c.now().Add(c.ttl)}
}

// PutKeepDeadline stores val without any revision check, and keeps the
// deadline of a live entry instead of extending it. This is LiteLLM's
// InMemoryCache behaviour (no TTL override before expiry); only faults use it.
func (c *Cache) PutKeepDeadline(key string, val any) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	deadline := now.Add(c.ttl)
	if e, ok := c.m[key]; ok && !e.gone && !now.After(e.expires) {
		deadline = e.expires
	}
	c.m[key] = cacheEntry{val: val, expires: deadline}
}

// Invalidate drops key and records rev as the oldest revision a later Put
// may store under it.
func (c *Cache) Invalidate(key string, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.rev > rev {
		rev = e.rev
	}
	c.m[key] = cacheEntry{rev: rev, gone: true}
}

// Len returns the number of entries, markers included (for tests).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
