package pgstore_test

import (
	"context"
	"os"
	"testing"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/reference-impl/pgstore"
	"github.com/keyrace/keyrace/reference-impl/pgstore/pgtest"
)

// TestMain shares one PostgreSQL container among the package's tests;
// each test gets a database of its own.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openDB opens a store on url, closed when t ends.
func openDB(t testing.TB, url string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(ctxT(t), url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// freshStore opens a store on a new schema of the shared container.
func freshStore(t testing.TB) (*pgstore.Store, string) {
	t.Helper()
	url := pgtest.Shared(t).NewSchema(t)
	return openDB(t, url), url
}

func team(id string) refimpl.Team {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return refimpl.Team{
		TeamRow: refimpl.TeamRow{ID: id, Alias: "alias-" + id, CreatedAt: now, UpdatedAt: now},
		Perm:    &refimpl.Perm{MCPAccessGroups: []string{"G1"}},
	}
}
