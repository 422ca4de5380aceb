package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Require runs Preflight for t: it skips t with the reason when Docker or
// an image is missing, or fails it when CI=true. It returns the image.
func Require(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeouts.Pull+30*time.Second)
	defer cancel()
	image, err := Preflight(ctx)
	if err != nil {
		if CI() {
			t.Fatalf("PostgreSQL tests need Docker and an image under CI=true: %v", err)
		}
		t.Skipf("skipping PostgreSQL test: %v", err)
	}
	return image
}

// StartT starts a container for t alone (after Require) and removes it
// when t ends, pass or fail.
func StartT(t testing.TB, opts ...Option) *Server {
	t.Helper()
	image := Require(t)
	s, err := Start(context.Background(), image, opts...)
	t.Cleanup(func() {
		if err := s.Terminate(context.Background()); err != nil {
			t.Errorf("terminate PostgreSQL container: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("PostgreSQL container: %v", err)
	}
	return s
}

var shared struct {
	sync.Mutex
	main    bool // Main runs the tests and removes the container
	started bool
	server  *Server
	err     error // why there is none
	missing bool  // err is Preflight's: Docker or the image is missing
}

// Main runs the tests of a package that uses Shared and then removes the
// shared container:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	shared.Lock()
	shared.main = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if err := shared.server.Terminate(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: terminate shared PostgreSQL container: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Shared returns the test binary's one PostgreSQL container, starting it
// on first use; tests take their own database from it with NewDatabase.
// Without Main in TestMain it falls back to a container per test.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.main {
		return StartT(t)
	}
	if !shared.started {
		shared.started = true
		ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeouts.Pull+30*time.Second)
		image, err := Preflight(ctx)
		cancel()
		if err != nil {
			shared.err, shared.missing = err, true
		} else {
			shared.server, shared.err = Start(context.Background(), image)
		}
	}
	switch {
	case shared.err == nil:
	case shared.missing && CI():
		t.Fatalf("PostgreSQL tests need Docker and an image under CI=true: %v", shared.err)
	case shared.missing:
		t.Skipf("skipping PostgreSQL test: %v", shared.err)
	default:
		t.Fatalf("PostgreSQL container: %v", shared.err)
	}
	return shared.server
}

var dbSeq atomic.Int64

// NewDatabase creates an empty database on s for t and returns its URL;
// it is dropped (connections and all) when t ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := s.admin(fmt.Sprintf(`CREATE DATABASE %q`, name)); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if err := s.admin(fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name)); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return s.urlFor(name)
}

// NewSchema creates an empty schema in s's admin database for t and
// returns a URL whose connections use it (search_path); it is dropped with
// everything in it when t ends. A schema costs milliseconds where a
// database costs a few hundred (CREATE DATABASE copies template1), and
// isolates a store just as well: every name pgstore uses is unqualified.
func (s *Server) NewSchema(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := s.admin(fmt.Sprintf(`CREATE SCHEMA %q`, name)); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := s.admin(fmt.Sprintf(`DROP SCHEMA IF EXISTS %q CASCADE`, name)); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return s.URL + "&search_path=" + name
}

// admin runs one statement on the admin database.
func (s *Server) admin(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
