package check

import (
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/keyrace/keyrace/scenarios/history"
)

var (
	benchOnce sync.Once
	benchHist history.History
)

// benchHistory is 1,000,000 operations over 1,000 teams in the realistic
// shape (one sequential writer and four deciders per team, ~20% writes).
func benchHistory() history.History {
	benchOnce.Do(func() { benchHist = generate(1, realistic) })
	return benchHist
}

// opBytes estimates the heap an Op holds: the struct plus the bytes its
// strings and slices point to (team names and kinds are shared constants
// or interned by the recorder, so they are not counted).
func opBytes(op *history.Op) int {
	n := int(unsafe.Sizeof(*op)) + len(op.Ask) + len(op.Member) + len(op.Error) + len(op.Body)
	for _, l := range [][]string{op.Groups, op.Members, op.Observed} {
		n += cap(l) * int(unsafe.Sizeof(""))
		for _, s := range l {
			n += len(s)
		}
	}
	return n
}

// BenchmarkCheck1M checks the 1M-op history in strict mode. Reported:
// ns/op is one whole check; histops/s the operations checked per second;
// B/histop the bytes allocated by the check per recorded operation (about
// 1 KB: ~950 B are porcupine's entries, linked lists and cache, ~75 B the
// classifier's indexes and the partitioning); recB/histop the memory one
// recorded Op holds in this history.
//
// Measured on the 2-core reference machine: 0.65-0.97 s per 1M-op check
// (1.0-1.5M ops/s), 1.06 GB and 4.6M allocations per check.
//
// Memory per recorded Op: unsafe.Sizeof(history.Op{}) is 248 bytes; with
// its slices and strings a grant holds ~250 B, a write ~290 B (Groups), a
// refusal ~330 B here and ~450-550 B with a real LiteLLM error body
// (Observed plus 200-300 B of Body). Checking adds, transiently, 56 B per
// op for the model operation (reused across partitions) and the
// allocations above.
func BenchmarkCheck1M(b *testing.B) {
	h := benchHistory()
	rec := 0
	for i := range h.Ops {
		rec += opBytes(&h.Ops[i])
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		res := Check(h, Options{Timeout: time.Minute})
		if res.Verdict != VerdictOK {
			b.Fatalf("verdict %s (%s), %d unknown teams", res.Verdict, describeCounts(res), res.TeamsUnknown)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(len(h.Ops) * b.N)
	b.ReportMetric(total/elapsed.Seconds(), "histops/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/histop")
	b.ReportMetric(float64(rec)/float64(len(h.Ops)), "recB/histop")
}
