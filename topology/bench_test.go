package topology_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keyrace/keyrace/client"
	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/topology"
	"github.com/keyrace/keyrace/topology/topotest"
	"github.com/keyrace/keyrace/wire"
)

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// attackKeyGenerate sends /key/generate (with MCP validation against a
// team) round-robin over urls at a fixed rate and returns vegeta's metrics.
func attackKeyGenerate(b *testing.B, urls []string, key string, rate int, d time.Duration) vegeta.Metrics {
	b.Helper()
	team := fmt.Sprintf("keyrace-bench-%d", time.Now().UnixNano())
	c, err := client.New(urls[0], key)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := c.NewTeam(context.Background(), wire.NewTeamRequest{TeamID: team, ObjectPermission: &wire.PermissionUpdate{MCPAccessGroups: wire.List("G1", "G2")}}); err != nil {
		b.Fatal(err)
	}
	body := fmt.Appendf(nil, `{"team_id":%q,"object_permission":{"mcp_access_groups":["G2"]}}`, team)
	hdr := http.Header{"Authorization": {"Bearer " + key}, "Content-Type": {"application/json"}}
	var targets []vegeta.Target
	for _, u := range urls {
		targets = append(targets, vegeta.Target{Method: http.MethodPost, URL: u + "/key/generate", Body: body, Header: hdr})
	}
	atk := vegeta.NewAttacker(vegeta.MaxBody(0), vegeta.Timeout(5*time.Second))
	var m vegeta.Metrics
	for res := range atk.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: rate, Per: time.Second}, d, "bench") {
		m.Add(res)
	}
	m.Close()
	return m
}

func report(b *testing.B, m vegeta.Metrics) {
	b.ReportMetric(m.Throughput, "ok_req/s")
	b.ReportMetric(float64(m.Latencies.P50.Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(m.Latencies.P99.Microseconds())/1000, "p99_ms")
	b.ReportMetric(m.Success*100, "success_%")
}

// BenchmarkKeyGenerateAtRate compares /key/generate at a fixed rate
// (KEYRACE_BENCH_RATE, default 500/s, for KEYRACE_BENCH_SECONDS, default 5)
// on the in-memory single process and on three replicas in Docker over
// PostgreSQL and Redis, requests spread round-robin over the replicas.
func BenchmarkKeyGenerateAtRate(b *testing.B) {
	rate := benchEnvInt("KEYRACE_BENCH_RATE", 500)
	d := time.Duration(benchEnvInt("KEYRACE_BENCH_SECONDS", 5)) * time.Second
	b.Run("in-memory-1-process", func(b *testing.B) {
		svc, err := refimpl.Start(refimpl.Config{MasterKey: "sk-bench"})
		if err != nil {
			b.Fatal(err)
		}
		defer svc.Close()
		for range b.N {
			report(b, attackKeyGenerate(b, []string{svc.URL}, "sk-bench", rate, d))
		}
	})
	b.Run("topology-3-replicas-postgres-redis", func(b *testing.B) {
		topotest.Require(b)
		ctx := context.Background()
		start := time.Now()
		topo := topotest.StartReference(b, ctx, topology.ReferenceOptions{Replicas: 3})
		ready := time.Since(start)
		for range b.N {
			report(b, attackKeyGenerate(b, topo.URLs(), topo.MasterKey(), rate, d))
		}
		b.ReportMetric(ready.Seconds(), "ready_s")
	})
}
