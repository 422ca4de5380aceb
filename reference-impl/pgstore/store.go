// Package pgstore is the PostgreSQL implementation of refimpl.Store: the
// authoritative state that several reference-service replicas share.
//
// Every method is one transaction. Merges (UpdateTeam, UpdateKey,
// AddSpend) lock the rows they rewrite with SELECT ... FOR UPDATE before
// reading them, so concurrent merges queue instead of losing each other,
// on one replica or many. Every write takes its revision from one
// database sequence after its locks are held, so revisions grow with
// every write to an object, on every replica. A method returns only after
// its transaction has committed (synchronous_commit=on unless the URL says
// otherwise).
//
// The schema lives in migrations/*.sql, embedded, and is applied by Open
// under an advisory lock, so replicas may start together.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

// Kind is what Store.Kind reports (and /health/readiness shows as store).
const Kind = "postgres"

// maxAttempts bounds how often a transaction is run when PostgreSQL
// aborts it as a deadlock victim or for a serialization failure, or when
// it failed before anything reached the server.
const maxAttempts = 4

// Store is a refimpl.Store on PostgreSQL. It is safe for concurrent use;
// each Store owns one connection pool, so two Stores on one database
// behave like two replicas.
type Store struct {
	pool *pgxpool.Pool
}

var _ refimpl.Store = (*Store)(nil)

// config collects the options of Open.
type config struct {
	maxConns, minConns int32
	connectWait        time.Duration
	modify             []func(*pgxpool.Config)
}

// Option configures Open.
type Option func(*config) error

// WithMaxConns caps the pool at n connections (default: the URL's
// pool_max_conns, else pgx's default of max(4, CPUs)).
func WithMaxConns(n int32) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("max conns %d: want at least 1", n)
		}
		c.maxConns = n
		return nil
	}
}

// WithMinConns keeps at least n connections open (default 0).
func WithMinConns(n int32) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("min conns %d: want at least 0", n)
		}
		c.minConns = n
		return nil
	}
}

// WithConnectWait makes Open retry reaching the database for up to d
// (default 0: one attempt), for replicas started together with their
// database.
func WithConnectWait(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("connect wait %v: want at least 0", d)
		}
		c.connectWait = d
		return nil
	}
}

// WithPoolConfig lets fn adjust the pgx pool configuration after the URL
// and the other options have been applied.
func WithPoolConfig(fn func(*pgxpool.Config)) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("pool config: nil function")
		}
		c.modify = append(c.modify, fn)
		return nil
	}
}

// Open connects to databaseURL (a postgres:// URL or key=value DSN, as
// DATABASE_URL), applies the pending migrations and returns the store.
// The caller must Close it.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*Store, error) {
	var cfg config
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("pgstore: %w", err)
		}
	}
	pc, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("pgstore: database url: %w", err)
	}
	params := pc.ConnConfig.RuntimeParams
	if _, ok := params["synchronous_commit"]; !ok {
		// An acknowledged write must survive a crash of the database:
		// never let a server default of off make commits asynchronous.
		params["synchronous_commit"] = "on"
	}
	if _, ok := params["application_name"]; !ok {
		params["application_name"] = "keyrace-refimpl"
	}
	if cfg.maxConns > 0 {
		pc.MaxConns = cfg.maxConns
	}
	if cfg.minConns > 0 {
		pc.MinConns = cfg.minConns
	}
	if pc.MinConns > pc.MaxConns {
		return nil, fmt.Errorf("pgstore: min conns %d above max conns %d", pc.MinConns, pc.MaxConns)
	}
	for _, fn := range cfg.modify {
		fn(pc)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.waitReady(ctx, cfg.connectWait); err != nil {
		pool.Close()
		return nil, err
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// waitReady pings until the database answers or wait has passed.
func (s *Store) waitReady(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	const step = 250 * time.Millisecond
	for {
		err := s.pool.Ping(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().Add(step).After(deadline) {
			return fmt.Errorf("pgstore: connect: %w", err)
		}
		select {
		case <-time.After(step):
		case <-ctx.Done():
			return fmt.Errorf("pgstore: connect: %w", ctx.Err())
		}
	}
}

// Close closes every connection of the store. Calls in flight fail.
func (s *Store) Close() { s.pool.Close() }

// Kind implements refimpl.Store.
func (s *Store) Kind() string { return Kind }

// Ready implements refimpl.Store: the database answers a ping.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ready: %w", err)
	}
	return nil
}

// fnError carries the error of a caller's merge function through the
// transaction unchanged (no retry, no mapping).
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

// inTx runs one transaction: first (when not nil) queues the statements
// sent together with BEGIN, in one round trip; fn then continues on the
// transaction, which is committed when it returns nil and rolled back
// otherwise. A transaction PostgreSQL aborted as a deadlock victim or
// serialization failure, or one that failed before anything reached the
// server, runs again (first and fn included): nothing of it was
// committed, and the merge functions callers pass in are pure. The lock
// order that keeps deadlocks rare is: teams, then keys, then permission
// records.
func (s *Store) inTx(ctx context.Context, first func(*pgx.Batch), fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tx(ctx, first, fn)
		if err == nil || attempt == maxAttempts || ctx.Err() != nil || !retryable(err) {
			return err
		}
	}
}

func (s *Store) tx(ctx context.Context, first func(*pgx.Batch), fn func(pgx.Tx) error) (err error) {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	if first != nil {
		first(b)
	}
	br := s.pool.SendBatch(ctx, b)
	err = br.Close()
	tx := br.Tx()
	if tx == nil { // cannot happen for a batch that begins a transaction
		return errors.Join(err, errors.New("batch began no transaction"))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(ctx)
			panic(p) // a panicking merge function must not leave a connection in a transaction
		}
		if err != nil {
			_ = tx.Rollback(ctx) // returns the connection to the pool
		}
	}()
	if err != nil {
		return err
	}
	if fn != nil {
		if err = fn(tx); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func retryable(err error) bool {
	var fe fnError
	if errors.As(err, &fe) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40P01", "40001": // deadlock_detected, serialization_failure
			return true
		case "0A000": // a newer replica migrated a table under pgx's statement cache, which pgx has now dropped
			return strings.Contains(pe.Message, "cached plan must not change result type")
		}
		return false
	}
	return pgconn.SafeToRetry(err)
}
