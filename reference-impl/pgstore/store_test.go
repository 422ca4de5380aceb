package pgstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/reference-impl/pgstore"
	"github.com/keyrace/keyrace/reference-impl/pgstore/pgtest"
)

func TestMigrationsEmbedded(t *testing.T) {
	ms, err := pgstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "0001_init.sql" {
		t.Fatalf("embedded migrations: %+v", ms)
	}
}

// TestOpenConcurrently: replicas starting at once on an empty database
// all open; the advisory lock lets exactly one apply each migration.
func TestOpenConcurrently(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			s, err := pgstore.Open(ctxT(t), url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Open: %v", err)
	}
	ms, _ := pgstore.Migrations()
	conn, err := pgx.Connect(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n, distinct int
	if err := conn.QueryRow(ctxT(t), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || distinct != len(ms) {
		t.Fatalf("schema_migrations holds %d rows (%d versions), want %d", n, distinct, len(ms))
	}
	openDB(t, url) // and once more on the migrated database
}

// TestUnstorable: input PostgreSQL cannot hold is ErrUnstorable, not a
// driver error, and changes nothing.
func TestUnstorable(t *testing.T) {
	ctx := ctxT(t)
	s, _ := freshStore(t)
	for name, tm := range map[string]refimpl.Team{
		"NUL in id":       team("bad\x00id"),
		"NUL in metadata": withMeta(team("t1"), map[string]any{"k": "a\x00b"}),
		"huge id":         team(noise(1 << 14)),
		"NaN metadata":    withMeta(team("t2"), map[string]any{"k": nan()}),
	} {
		_, err := s.CreateTeam(ctx, tm)
		if !errors.Is(err, pgstore.ErrUnstorable) {
			t.Errorf("%s: want ErrUnstorable, got %v", name, err)
		}
	}
	if _, err := s.CreateTeam(ctx, team("t1")); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateKey(ctx, refimpl.Key{KeyRow: refimpl.KeyRow{Token: "tok", TeamID: "t1", Alias: noise(1 << 14)}})
	if !errors.Is(err, pgstore.ErrUnstorable) {
		t.Errorf("huge alias: want ErrUnstorable, got %v", err)
	}
	teams, err := s.ListTeams(ctx)
	if err != nil || len(teams) != 1 {
		t.Fatalf("refused teams were stored: %d teams, %v", len(teams), err)
	}
}

// noise is n characters that do not compress (an index entry is
// compressed before its size is checked).
func noise(n int) string {
	var b strings.Builder
	sum := sha256.Sum256(nil)
	for b.Len() < n {
		sum = sha256.Sum256(sum[:])
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()[:n]
}

func withMeta(t refimpl.Team, m map[string]any) refimpl.Team { t.Metadata = m; return t }

func nan() float64 { var z float64; return z / z }

// TestContextCancelled: a merge waiting for a row lock gives up when its
// context ends, with the context's error, and writes nothing.
func TestContextCancelled(t *testing.T) {
	s, url := freshStore(t)
	if _, err := s.CreateTeam(ctxT(t), team("t1")); err != nil {
		t.Fatal(err)
	}
	// Another replica holds the team's row lock.
	holder, err := pgxpool.New(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctxT(t), `SELECT 1 FROM teams WHERE team_id = 't1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	called := false
	_, err = s.UpdateTeam(ctx, "t1", func(tm *refimpl.Team) error { called = true; tm.Alias = "late"; return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UpdateTeam behind a held lock: want DeadlineExceeded, got %v", err)
	}
	if called {
		t.Fatal("fn ran without the lock")
	}
	if err := tx.Rollback(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTeam(ctxT(t), "t1")
	if err != nil || got.Alias != "alias-t1" {
		t.Fatalf("after the cancelled update: alias %q, %v", got.Alias, err)
	}
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	if _, err := s.GetTeam(cancelled, "t1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetTeam with a cancelled context: %v", err)
	}
}

// TestOpenErrors: bad options and URLs fail Open with a readable error;
// an unreachable database fails after the connect wait, not before.
func TestOpenErrors(t *testing.T) {
	ctx := ctxT(t)
	if _, err := pgstore.Open(ctx, "postgres://x@127.0.0.1:1/db", pgstore.WithMaxConns(0)); err == nil {
		t.Error("WithMaxConns(0) accepted")
	}
	if _, err := pgstore.Open(ctx, "::not a url::"); err == nil {
		t.Error("a malformed URL accepted")
	}
	began := time.Now()
	_, err := pgstore.Open(ctx, "postgres://x:secret@127.0.0.1:1/db?connect_timeout=1", pgstore.WithConnectWait(600*time.Millisecond))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Open of a closed port: %v", err)
	}
	if waited := time.Since(began); waited < 500*time.Millisecond {
		t.Fatalf("gave up after %v, before the connect wait", waited)
	}
}

// TestReadyAndClose: Ready pings; after Close it fails.
func TestReadyAndClose(t *testing.T) {
	url := pgtest.Shared(t).NewSchema(t)
	s, err := pgstore.Open(ctxT(t), url, pgstore.WithMaxConns(2), pgstore.WithMinConns(1))
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != "postgres" {
		t.Fatalf("Kind %q", s.Kind())
	}
	if err := s.Ready(ctxT(t)); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	s.Close()
	if err := s.Ready(ctxT(t)); err == nil {
		t.Fatal("Ready after Close")
	}
}
