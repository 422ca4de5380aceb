package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/reference-impl/pgstore"
	"github.com/keyrace/keyrace/reference-impl/pgstore/pgtest"
)

// Store latency against the shared container (fsync=off, the postgres
// module's default; BenchmarkUpdateTeamFsync keeps fsync on).
//
//	go test -run xxx -bench . -benchtime 2000x ./reference-impl/pgstore/

// BenchmarkNewDatabase is the per-test cost of a fresh database.
func BenchmarkNewDatabase(b *testing.B) {
	srv := pgtest.Shared(b)
	for b.Loop() {
		srv.NewDatabase(b)
	}
}

// BenchmarkOpen opens a store on a fresh database (migrations included)
// and on an already migrated one.
func BenchmarkOpen(b *testing.B) {
	srv := pgtest.Shared(b)
	b.Run("fresh", func(b *testing.B) {
		urls := make([]string, b.N)
		for i := range urls {
			urls[i] = srv.NewDatabase(b)
		}
		b.ResetTimer()
		for i := range b.N {
			s, err := pgstore.Open(context.Background(), urls[i])
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("migrated", func(b *testing.B) {
		url := srv.NewDatabase(b)
		openDB(b, url)
		for b.Loop() {
			s, err := pgstore.Open(context.Background(), url)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
}

func BenchmarkGetTeam(b *testing.B) {
	s, _ := freshStore(b)
	ctx := context.Background()
	if _, err := s.CreateTeam(ctx, team("t1")); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		var lat latencies
		for b.Loop() {
			began := time.Now()
			if _, err := s.GetTeam(ctx, "t1"); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(began))
		}
		lat.report(b)
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetTeam(ctx, "t1"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkUpdateTeam(b *testing.B) {
	s, _ := freshStore(b)
	benchUpdateTeam(b, s)
}

// BenchmarkUpdateTeamFsync is UpdateTeam on a container with fsync on: the
// commit waits for the WAL flush, as in production.
func BenchmarkUpdateTeamFsync(b *testing.B) {
	srv := pgtest.StartT(b, pgtest.WithFsync())
	benchUpdateTeam(b, openDB(b, srv.NewDatabase(b)))
}

func benchUpdateTeam(b *testing.B, s *pgstore.Store) {
	ctx := context.Background()
	for i := range 8 {
		if _, err := s.CreateTeam(ctx, team(fmt.Sprint("t", i))); err != nil {
			b.Fatal(err)
		}
	}
	merge := func(t *refimpl.Team) error {
		t.Perm.MCPAccessGroups = append(t.Perm.MCPAccessGroups[:0], "G1", "G2")
		t.Blocked = !t.Blocked
		return nil
	}
	b.Run("serial", func(b *testing.B) {
		var lat latencies
		for b.Loop() {
			began := time.Now()
			if _, err := s.UpdateTeam(ctx, "t0", merge); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(began))
		}
		lat.report(b)
	})
	// One hot team: every update waits for the row lock.
	b.Run("parallel-one-team", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.UpdateTeam(ctx, "t0", merge); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("parallel-8-teams", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.UpdateTeam(ctx, fmt.Sprint("t", n.Add(1)%8), merge); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// latencies reports the median and 99th percentile of serial calls.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	at := func(q float64) float64 { return float64(l[int(q*float64(len(l)-1))].Microseconds()) }
	b.ReportMetric(at(0.5), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
