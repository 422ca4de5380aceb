package scenarios

import (
	"fmt"
	"math"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// scaled returns the pacer spec with every rate multiplied by f (the Rate
// override, or a stream's share of the paced traffic).
func (p PacerSpec) scaled(f float64) PacerSpec {
	p.Rate *= f
	p.Slope *= f
	p.Amp *= f
	return p
}

// peak is the highest rate, in requests/s, the pacer reaches within d.
// For ttl-sweep, which sends one write per team per TTL in bursts, it is
// the mean write rate of teams teams.
func (p PacerSpec) peak(d time.Duration, teams int) float64 {
	switch p.Type {
	case PacerLinear:
		return max(p.Rate, p.Rate+p.Slope*d.Seconds())
	case PacerSine:
		return p.Rate + p.Amp
	case PacerTTLSweep:
		return float64(teams) / p.TTL.Std().Seconds()
	}
	return p.Rate
}

// String describes the pacer for reports ("constant 200/s").
func (p PacerSpec) String() string {
	switch p.Type {
	case PacerLinear:
		return fmt.Sprintf("linear %.4g/s %+.4g/s²", p.Rate, p.Slope)
	case PacerSine:
		return fmt.Sprintf("sine %.4g±%.4g/s period %v", p.Rate, p.Amp, p.Period)
	case PacerTTLSweep:
		return fmt.Sprintf("ttl-sweep ttl %v offsets %v", p.TTL, p.Offsets)
	}
	if p.Burst > 1 {
		return fmt.Sprintf("constant %.4g/s in bursts of %d", p.Rate, p.Burst)
	}
	return fmt.Sprintf("constant %.4g/s", p.Rate)
}

// vegeta returns the Vegeta pacer; teams sizes the ttl-sweep bursts. It
// returns nil when the rate rounds to nothing.
func (p PacerSpec) vegeta(teams int) vegeta.Pacer {
	switch p.Type {
	case PacerLinear:
		return vegeta.LinearPacer{StartAt: fine(p.Rate), Slope: p.Slope}
	case PacerSine:
		return vegeta.SinePacer{Period: p.Period.Std(), Mean: fine(p.Rate), Amp: fine(p.Amp), StartAt: vegeta.MeanUp}
	case PacerTTLSweep:
		offs := make([]time.Duration, len(p.Offsets))
		for i, o := range p.Offsets {
			offs[i] = o.Std()
		}
		return sweepPacer{ttl: p.TTL.Std(), offsets: offs, burst: uint64(teams)}
	}
	if p.Rate <= 0 {
		return nil
	}
	if p.Burst > 1 {
		return burstPacer{rate: p.Rate, burst: uint64(p.Burst)}
	}
	return rate(p.Rate)
}

// rate is a vegeta.Rate of f requests/s. Vegeta counts whole hits per
// period, so rates below 1/s get a longer period.
func rate(f float64) vegeta.Rate {
	switch {
	case f <= 0:
		return vegeta.Rate{Freq: 0, Per: time.Second}
	case f >= 1:
		return vegeta.Rate{Freq: int(math.Round(f)), Per: time.Second}
	}
	return vegeta.Rate{Freq: 1, Per: time.Duration(float64(time.Second) / f)}
}

// fine is a vegeta.Rate of f requests/s to a thousandth, for the linear
// and sine pacers, which only use the ratio Freq/Per (rounding the mean
// and amplitude separately could make amp >= mean, which the sine pacer
// answers with no hits at all).
func fine(f float64) vegeta.Rate {
	return vegeta.Rate{Freq: int(math.Round(f * 1000)), Per: 1000 * time.Second}
}

// sweepPacer sends burst hits back to back at (k+1)·ttl + offsets[k mod
// len] for k = 0, 1, …: with one write per team per burst, every team is
// written just before or just after the k-th TTL boundary.
type sweepPacer struct {
	ttl     time.Duration
	offsets []time.Duration
	burst   uint64
}

// Pace implements vegeta.Pacer.
func (p sweepPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	k := hits / max(p.burst, 1)
	at := time.Duration(k+1)*p.ttl + p.offsets[k%uint64(len(p.offsets))]
	if at <= elapsed {
		return 0, false
	}
	return at - elapsed, false
}

// Rate implements vegeta.Pacer: the mean rate.
func (p sweepPacer) Rate(time.Duration) float64 {
	return float64(p.burst) / p.ttl.Seconds()
}

// burstPacer sends burst hits back to back every burst/rate seconds: the
// mean rate of a constant pacer, delivered as storms of overlapping
// requests.
type burstPacer struct {
	rate  float64
	burst uint64
}

// Pace implements vegeta.Pacer.
func (p burstPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	at := time.Duration(float64(hits/p.burst*p.burst) / p.rate * float64(time.Second))
	if at <= elapsed {
		return 0, false
	}
	return at - elapsed, false
}

// Rate implements vegeta.Pacer: the mean rate.
func (p burstPacer) Rate(time.Duration) float64 { return p.rate }

// boundedPacer keeps a slow pacer inside the run. Vegeta sleeps the wait a
// pacer returns and Stop cannot cut that sleep short, so at a low rate an
// attack would outlive its duration and ignore an interrupt. boundedPacer
// stops the attack when the next hit would fall after du, and waits out
// a long pause itself, giving up when stop is closed.
type boundedPacer struct {
	p    vegeta.Pacer
	du   time.Duration
	stop <-chan struct{}
}

// longWait is the longest pause left to Vegeta's uninterruptible sleep.
const longWait = 50 * time.Millisecond

// Pace implements vegeta.Pacer.
func (b boundedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	wait, stop := b.p.Pace(elapsed, hits)
	if stop || (b.du > 0 && elapsed+wait > b.du) {
		return 0, true
	}
	if wait <= longWait {
		return wait, false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return 0, false
	case <-b.stop:
		return 0, true
	}
}

// Rate implements vegeta.Pacer.
func (b boundedPacer) Rate(elapsed time.Duration) float64 { return b.p.Rate(elapsed) }
