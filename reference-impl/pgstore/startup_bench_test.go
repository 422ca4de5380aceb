package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyrace/keyrace/reference-impl/pgstore/pgtest"
)

// BenchmarkContainerStart creates, starts (initdb, init server, real
// server: the log line twice, then the port) and removes a PostgreSQL
// container per iteration. first-start-ms is the first start in this
// process (Docker client and image metadata cold), later-start-ms the mean
// of the others. Run it with a fixed count:
//
//	go test -run xxx -bench ContainerStart -benchtime 5x ./reference-impl/pgstore/
func BenchmarkContainerStart(b *testing.B) {
	image := pgtest.Require(b)
	var first, later time.Duration
	i := 0
	for b.Loop() {
		s, err := pgtest.Start(context.Background(), image)
		if err != nil {
			_ = s.Terminate(context.Background())
			b.Fatal(err)
		}
		if i == 0 {
			first = s.Startup
		} else {
			later += s.Startup
		}
		i++
		b.StopTimer()
		if err := s.Terminate(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(first.Milliseconds()), "first-start-ms")
	if i > 1 {
		b.ReportMetric(float64(later.Milliseconds())/float64(i-1), "later-start-ms")
	}
}

// BenchmarkContainerRestart stops and starts one existing container (the
// data directory is initialised: no initdb, one ready line) until it
// answers a query again.
func BenchmarkContainerRestart(b *testing.B) {
	srv := pgtest.StartT(b)
	ctx := context.Background()
	for b.Loop() {
		stop := 10 * time.Second
		if err := srv.Container.Stop(ctx, &stop); err != nil {
			b.Fatal(err)
		}
		if err := srv.Container.Start(ctx); err != nil {
			b.Fatal(err)
		}
		// The published port may change on start.
		port, err := srv.Container.MappedPort(ctx, "5432/tcp")
		if err != nil {
			b.Fatal(err)
		}
		url := "postgres://keyrace:keyrace@127.0.0.1:" + port.Port() + "/keyrace?sslmode=disable&connect_timeout=2"
		deadline := time.Now().Add(time.Minute)
		for {
			conn, err := pgx.Connect(ctx, url)
			if err == nil {
				err = conn.Ping(ctx)
				_ = conn.Close(ctx)
			}
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no answer after restart: %v", err)
			}
			time.Sleep(20 * time.Millisecond) // polling a restarting server, bounded by the deadline
		}
	}
}
