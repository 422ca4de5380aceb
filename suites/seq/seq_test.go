package seq

import (
	"testing"
	"time"
)

// TestUntilBoundJudgesOnlyAfterTheBound: under bounded consistency the
// decision that is judged must have started at least bound after the
// acknowledgement, even when each decision takes long (a decision that
// started inside the bound may still lag).
func TestUntilBoundJudgesOnlyAfterTheBound(t *testing.T) {
	const bound = 50 * time.Millisecond
	ack := time.Now()
	var starts []time.Duration
	ok := UntilBound(bound, ack, func() bool {
		starts = append(starts, time.Since(ack))
		time.Sleep(30 * time.Millisecond) // a slow decision that always misses the write
		return false
	})
	if ok {
		t.Fatal("decide never saw the write, UntilBound says it did")
	}
	if last := starts[len(starts)-1]; last < bound {
		t.Fatalf("judged a decision that started %v after the acknowledgement, inside the %v bound (starts %v)", last, bound, starts)
	}

	calls := 0
	if UntilBound(0, time.Now(), func() bool { calls++; return false }) || calls != 1 {
		t.Fatalf("strict mode decides once, got %d calls", calls)
	}
	calls = 0
	if !UntilBound(bound, time.Now(), func() bool { calls++; return calls == 2 }) || calls != 2 {
		t.Fatalf("a decision that sees the write ends the wait: %d calls", calls)
	}
}
