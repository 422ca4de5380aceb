package refimpl

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyrace/keyrace/wire"
)

// benchHTTP drives POST path with body through real loopback HTTP from
// parallel clients and reports requests per second; the handler under test
// runs in the same process, so the figure is what one 2-core machine can do
// for client and server together.
func benchHTTP(b *testing.B, h http.Handler, path string, body []byte, key string) {
	hs := httptest.NewServer(h)
	defer hs.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, hs.URL+path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkKeyGenerate measures /key/generate on the in-memory service,
// with MCP validation against a team (the seed bug's path).
func BenchmarkKeyGenerate(b *testing.B) {
	s, err := New(Config{MasterKey: testMasterKey})
	if err != nil {
		b.Fatal(err)
	}
	mustTeam(b, mustClient(b, s), wire.NewTeamRequest{TeamID: "t", ObjectPermission: groups("G1", "G2")})
	benchHTTP(b, s, "/key/generate", []byte(`{"team_id":"t","object_permission":{"mcp_access_groups":["G2"]}}`), testMasterKey)
}

// BenchmarkTrivialHandler is the baseline DESIGN.md §8 compares against: a
// handler that reads the body and answers a constant JSON object.
func BenchmarkTrivialHandler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	benchHTTP(b, h, "/", []byte(`{"team_id":"t","object_permission":{"mcp_access_groups":["G2"]}}`), testMasterKey)
}
