// Package redistier is the Redis coherence tier of the reference service:
// it lets replicas in separate processes (sharing one PostgreSQL store)
// keep per-process caches without ever serving an entry older than an
// acknowledged write.
//
// For every cache key it keeps a Redis hash with two fields: floor, the
// newest revision written, and pending, the number of writes in progress.
// A write increments pending before it touches the store (Begin) and, once
// the store has it, raises floor to its revision and decrements pending
// (End). A replica serves a cached entry only when pending is 0 and the
// entry's revision is at least floor; otherwise it reads the store. When
// Redis cannot be reached, Begin fails (the write is refused before
// anything changes) and Current fails (the replica reads the store), so the
// service stays correct, only slower.
package redistier

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options tune the tier. Zero values mean the defaults.
type Options struct {
	// CacheTTL is the replicas' cache TTL; records live at least twice as
	// long (minimum 10 s) so no cached entry can outlive the record that
	// judges it.
	CacheTTL time.Duration
	// Timeout bounds one Redis call (default 300 ms): a paused Redis must
	// not stall decisions for long.
	Timeout time.Duration
	// Backoff is how long the tier fails fast after an error before trying
	// Redis again (default 500 ms).
	Backoff time.Duration
	// Prefix namespaces the keys (default "keyrace:coh:").
	Prefix string
}

// Tier implements refimpl.Coherence on Redis.
type Tier struct {
	rdb      *redis.Client
	opts     Options
	downTill atomic.Int64 // unix ns until which calls fail fast
}

// ErrDown is returned while the tier backs off after a Redis failure.
var ErrDown = errors.New("redis unreachable (backing off)")

// FromEnv reads REDIS_URL, or REDIS_HOST + REDIS_PORT (+ REDIS_PASSWORD),
// LiteLLM's names. ok is false when neither is set.
func FromEnv() (*redis.Options, bool, error) {
	if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, true, fmt.Errorf("REDIS_URL: %w", err)
		}
		return o, true, nil
	}
	host := os.Getenv("REDIS_HOST")
	if host == "" {
		return nil, false, nil
	}
	port := os.Getenv("REDIS_PORT")
	if port == "" {
		port = "6379"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return nil, true, fmt.Errorf("REDIS_PORT=%q: want a port number", port)
	}
	return &redis.Options{Addr: net.JoinHostPort(host, port), Password: os.Getenv("REDIS_PASSWORD")}, true, nil
}

// New connects lazily to Redis with ro and returns the tier.
func New(ro *redis.Options, opts Options) *Tier {
	if opts.Timeout <= 0 {
		opts.Timeout = 300 * time.Millisecond
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.Prefix == "" {
		opts.Prefix = "keyrace:coh:"
	}
	ro = cloneOptions(ro)
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	ro.MaxRetries = -1 // a retry would double the stall; the caller falls back instead
	return &Tier{rdb: redis.NewClient(ro), opts: opts}
}

func cloneOptions(o *redis.Options) *redis.Options {
	c := *o
	return &c
}

// Close closes the Redis client.
func (t *Tier) Close() error { return t.rdb.Close() }

// Kind names the tier for readiness.
func (t *Tier) Kind() string { return "redis" }

func (t *Tier) hold() int64 {
	h := 2 * t.opts.CacheTTL
	if h < 10*time.Second {
		h = 10 * time.Second
	}
	return h.Milliseconds()
}

func (t *Tier) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = t.opts.Prefix + k
	}
	return out
}

// call runs fn unless the tier is backing off, and starts a back-off when
// fn fails for a reason other than the caller's context.
func (t *Tier) call(ctx context.Context, fn func(ctx context.Context) error) error {
	if time.Now().UnixNano() < t.downTill.Load() {
		return ErrDown
	}
	cctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	err := fn(cctx)
	if err != nil && ctx.Err() == nil && !errors.Is(err, redis.Nil) {
		t.downTill.Store(time.Now().Add(t.opts.Backoff).UnixNano())
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

var beginScript = redis.NewScript(`
for _, k in ipairs(KEYS) do
  redis.call('HINCRBY', k, 'pending', 1)
  redis.call('PEXPIRE', k, ARGV[1])
end
return 1`)

// endScript raises floor to ARGV[1] (a decimal uint64, compared as text so
// that no precision is lost) and ends one pending write.
var endScript = redis.NewScript(`
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
for _, k in ipairs(KEYS) do
  local p = tonumber(redis.call('HGET', k, 'pending') or '0')
  if p > 0 then redis.call('HINCRBY', k, 'pending', -1) end
  local f = redis.call('HGET', k, 'floor')
  if ARGV[1] ~= '0' and ((not f) or greater(ARGV[1], f)) then
    redis.call('HSET', k, 'floor', ARGV[1])
  end
  redis.call('PEXPIRE', k, ARGV[2])
end
return 1`)

// Begin implements refimpl.Coherence.
func (t *Tier) Begin(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	return t.call(ctx, func(ctx context.Context) error {
		return beginScript.Run(ctx, t.rdb, t.keys(keys), t.hold()).Err()
	})
}

// End implements refimpl.Coherence.
func (t *Tier) End(ctx context.Context, rev uint64, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	return t.call(ctx, func(ctx context.Context) error {
		return endScript.Run(ctx, t.rdb, t.keys(keys), strconv.FormatUint(rev, 10), t.hold()).Err()
	})
}

// Current implements refimpl.Coherence.
func (t *Tier) Current(ctx context.Context, key string, rev uint64) (bool, error) {
	var vals []any
	err := t.call(ctx, func(ctx context.Context) error {
		var err error
		vals, err = t.rdb.HMGet(ctx, t.opts.Prefix+key, "floor", "pending").Result()
		return err
	})
	if err != nil {
		return false, err
	}
	if p, _ := vals[1].(string); p != "" && p != "0" {
		return false, nil
	}
	if f, _ := vals[0].(string); f != "" {
		floor, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return false, fmt.Errorf("redis: floor of %s: %w", key, err)
		}
		return rev >= floor, nil
	}
	return true, nil
}

// Republish implements refimpl.Coherence: it sets floor to rev whatever it
// was (the stale-republish fault's write-back).
func (t *Tier) Republish(ctx context.Context, key string, rev uint64) error {
	return t.call(ctx, func(ctx context.Context) error {
		k := t.opts.Prefix + key
		pipe := t.rdb.TxPipeline()
		pipe.HSet(ctx, k, "floor", strconv.FormatUint(rev, 10))
		pipe.PExpire(ctx, k, time.Duration(t.hold())*time.Millisecond)
		_, err := pipe.Exec(ctx)
		return err
	})
}

// Ready pings Redis (ignoring the back-off, so recovery is seen).
func (t *Tier) Ready(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	if err := t.rdb.Ping(cctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}
