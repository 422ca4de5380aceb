package scenarios

import (
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestBoundedPacer: a pacer slower than the run stops the attack instead of
// sleeping past its end, and a long pause gives way to the stop channel.
func TestBoundedPacer(t *testing.T) {
	slow := vegeta.Rate{Freq: 1, Per: time.Hour}
	stop := make(chan struct{})
	p := boundedPacer{p: slow, du: time.Second, stop: stop}
	if _, done := p.Pace(0, 1); !done {
		t.Error("the next hit is an hour away, past a 1s run: want stop")
	}

	p.du = 2 * time.Hour
	close(stop)
	start := time.Now()
	if _, done := p.Pace(0, 1); !done {
		t.Error("a closed stop channel must end the pause with stop")
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("the pause took %v after stop was closed", waited)
	}

	fast := boundedPacer{p: vegeta.Rate{Freq: 100, Per: time.Second}, du: time.Second, stop: make(chan struct{})}
	if wait, done := fast.Pace(0, 1); done || wait <= 0 || wait > longWait {
		t.Errorf("a fast pacer passes through: wait %v done %v", wait, done)
	}
}
