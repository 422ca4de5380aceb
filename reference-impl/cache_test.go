package refimpl

import (
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time      { return f.t }
func (f *fakeClock) add(d time.Duration) { f.t = f.t.Add(d) }
func newTestCache(ttl time.Duration) (*Cache, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c := NewCache(ttl)
	c.now = clk.now
	return c, clk
}

func TestCacheVersioning(t *testing.T) {
	c, _ := newTestCache(time.Minute)
	c.Put("k", "v5", 5)
	if v, ok := c.Get("k"); !ok || v != "v5" {
		t.Fatalf("Get after Put = %v, %v", v, ok)
	}
	// A write at rev 6 invalidates; a reader that read rev 5 before the
	// write and stores it after must not bring it back.
	c.Invalidate("k", 6)
	c.Put("k", "v5-late", 5)
	if v, ok := c.Get("k"); ok {
		t.Fatalf("a value read before the invalidating write came back: %v", v)
	}
	c.Put("k", "v6", 6)
	if v, ok := c.Get("k"); !ok || v != "v6" {
		t.Fatalf("the value of the write itself must be cacheable: %v, %v", v, ok)
	}
	c.Put("k", "v4", 4)
	if v, _ := c.Get("k"); v != "v6" {
		t.Fatalf("an older revision replaced a newer one: %v", v)
	}
	// An invalidation older than the entry keeps the floor at the entry's rev.
	c.Invalidate("k", 3)
	c.Put("k", "v5", 5)
	if _, ok := c.Get("k"); ok {
		t.Fatal("the floor dropped below the newest revision seen")
	}
}

func TestCacheTTL(t *testing.T) {
	c, clk := newTestCache(10 * time.Second)
	c.Put("k", "v", 1)
	clk.add(10 * time.Second)
	if _, ok := c.Get("k"); !ok {
		t.Fatal("expired at exactly the TTL; LiteLLM expires only after it")
	}
	clk.add(time.Millisecond)
	if _, ok := c.Get("k"); ok {
		t.Fatal("entry outlived its TTL")
	}
	z, _ := newTestCache(0)
	z.Put("k", "v", 1)
	z.PutKeepDeadline("k", "v")
	if _, ok := z.Get("k"); ok {
		t.Fatal("TTL 0 must disable caching")
	}
}

func TestCachePutKeepDeadline(t *testing.T) {
	c, clk := newTestCache(10 * time.Second)
	c.PutKeepDeadline("k", "old")
	clk.add(8 * time.Second)
	c.PutKeepDeadline("k", "new")
	if v, _ := c.Get("k"); v != "new" {
		t.Fatalf("value not replaced: %v", v)
	}
	clk.add(2*time.Second + time.Millisecond)
	if _, ok := c.Get("k"); ok {
		t.Fatal("a rewrite extended the deadline set at first caching")
	}
	c.PutKeepDeadline("k", "again")
	clk.add(9 * time.Second)
	if v, ok := c.Get("k"); !ok || v != "again" {
		t.Fatal("after expiry a new entry gets a full TTL")
	}
}
