package topology

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Disruption names what a topology did to itself; the values are the wire
// strings that land in run histories.
type Disruption string

// Disruptions a Topology can apply.
const (
	// RedisPaused: the Redis container frozen (docker pause); connections
	// stay open and stall, new ones are not accepted.
	RedisPaused Disruption = "redis-paused"
	// ReplicaDisconnected: one replica cut off the private network, so it
	// loses PostgreSQL and Redis (their aliases stop resolving and its open
	// connections die) while clients still reach it on its published port.
	ReplicaDisconnected Disruption = "replica-disconnected"
	// ReplicaKilled: one replica stopped with SIGKILL, then started again.
	ReplicaKilled Disruption = "replica-killed"
)

// NotAReplica is the Replica of a Window whose disruption hits no replica
// in particular (RedisPaused).
const NotAReplica = -1

// Window is the interval during which a disruption was in force, for run
// histories to annotate. Start is taken just before the disrupting call is
// made; End just after the healing call returned (for ReplicaKilled: once
// the restarted replica answers /health/liveliness again). A window still
// open has a zero End; Close ends the open ones.
type Window struct {
	// Fault names the disruption.
	Fault Disruption `json:"fault"`
	// Replica is the index of the replica hit, NotAReplica for Redis.
	Replica int `json:"replica"`
	// Start and End bound the disruption (wall clock with a monotonic
	// reading, comparable with the times of client.Exchange).
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
}

// Open reports whether the disruption is still in force.
func (w Window) Open() bool { return w.End.IsZero() }

// Contains reports whether tm falls inside the window (an open window has
// no end).
func (w Window) Contains(tm time.Time) bool {
	return !tm.Before(w.Start) && (w.End.IsZero() || !tm.After(w.End))
}

// Windows returns every disruption applied so far, in the order applied.
func (t *Topology) Windows() []Window {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Window, len(t.windows))
	for i, w := range t.windows {
		out[i] = *w
	}
	return out
}

// open records the start of a disruption; it refuses one already in force.
func (t *Topology) open(f Disruption, replica int) (*Window, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("topology closed")
	}
	for _, w := range t.windows {
		if w.Fault == f && w.Replica == replica && w.Open() {
			return nil, fmt.Errorf("%s already in force (replica %d) since %s", f, replica, w.Start.Format(time.RFC3339Nano))
		}
	}
	w := &Window{Fault: f, Replica: replica, Start: time.Now()}
	t.windows = append(t.windows, w)
	return w, nil
}

// abandon forgets a window whose disrupting call failed (nothing happened).
func (t *Topology) abandon(w *Window) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, x := range t.windows {
		if x == w {
			t.windows = append(t.windows[:i], t.windows[i+1:]...)
			return
		}
	}
}

// openWindow returns the open window for f and replica.
func (t *Topology) openWindow(f Disruption, replica int) (*Window, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("topology closed")
	}
	for _, w := range t.windows {
		if w.Fault == f && w.Replica == replica && w.Open() {
			return w, nil
		}
	}
	return nil, fmt.Errorf("%s is not in force (replica %d)", f, replica)
}

// end closes w now and returns a copy.
func (t *Topology) end(w *Window) Window {
	t.mu.Lock()
	defer t.mu.Unlock()
	w.End = time.Now()
	return *w
}

func (t *Topology) snapshot(w *Window) Window {
	t.mu.Lock()
	defer t.mu.Unlock()
	return *w
}

// PauseRedis freezes Redis (docker pause) and returns the open window.
func (t *Topology) PauseRedis(ctx context.Context) (Window, error) {
	t.mu.Lock()
	rd := t.redis
	t.mu.Unlock()
	if rd == nil {
		return Window{}, errors.New("pause redis: this topology has no Redis")
	}
	w, err := t.open(RedisPaused, NotAReplica)
	if err != nil {
		return Window{}, fmt.Errorf("pause redis: %w", err)
	}
	if _, err := t.e.cli.ContainerPause(ctx, rd.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		t.abandon(w)
		return Window{}, fmt.Errorf("pause redis: %w", err)
	}
	return t.snapshot(w), nil
}

// UnpauseRedis thaws Redis and returns the closed window.
func (t *Topology) UnpauseRedis(ctx context.Context) (Window, error) {
	w, err := t.openWindow(RedisPaused, NotAReplica)
	if err != nil {
		return Window{}, fmt.Errorf("unpause redis: %w", err)
	}
	t.mu.Lock()
	rd := t.redis
	t.mu.Unlock()
	if _, err := t.e.cli.ContainerUnpause(ctx, rd.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		return Window{}, fmt.Errorf("unpause redis: %w", err)
	}
	return t.end(w), nil
}

// Disconnect cuts replica i off the private network: it loses PostgreSQL
// and Redis but keeps its published port, so requests still reach it.
// It returns the open window.
func (t *Topology) Disconnect(ctx context.Context, i int) (Window, error) {
	r, err := t.replica(i)
	if err != nil {
		return Window{}, fmt.Errorf("disconnect: %w", err)
	}
	w, err := t.open(ReplicaDisconnected, i)
	if err != nil {
		return Window{}, fmt.Errorf("disconnect: %w", err)
	}
	_, err = t.e.cli.NetworkDisconnect(ctx, t.networkID(t.p.backend), client.NetworkDisconnectOptions{Container: r.ctr.GetContainerID(), Force: true})
	if err != nil {
		t.abandon(w)
		return Window{}, fmt.Errorf("disconnect replica %d: %w", i, err)
	}
	return t.snapshot(w), nil
}

// Reconnect joins replica i to the private network again (under the same
// alias) and returns the closed window. The replica's clients reconnect on
// their own; how fast is the service's business (the reference service's
// Redis tier retries after 500 ms).
func (t *Topology) Reconnect(ctx context.Context, i int) (Window, error) {
	r, err := t.replica(i)
	if err != nil {
		return Window{}, fmt.Errorf("reconnect: %w", err)
	}
	w, err := t.openWindow(ReplicaDisconnected, i)
	if err != nil {
		return Window{}, fmt.Errorf("reconnect: %w", err)
	}
	_, err = t.e.cli.NetworkConnect(ctx, t.networkID(t.p.backend), client.NetworkConnectOptions{
		Container:      r.ctr.GetContainerID(),
		EndpointConfig: &network.EndpointSettings{Aliases: []string{replicaAlias(i)}},
	})
	if err != nil {
		return Window{}, fmt.Errorf("reconnect replica %d: %w", i, err)
	}
	return t.end(w), nil
}

// Kill stops replica i with SIGKILL (no graceful shutdown) and waits until
// the engine reports it stopped. It returns the open window.
func (t *Topology) Kill(ctx context.Context, i int) (Window, error) {
	r, err := t.replica(i)
	if err != nil {
		return Window{}, fmt.Errorf("kill: %w", err)
	}
	w, err := t.open(ReplicaKilled, i)
	if err != nil {
		return Window{}, fmt.Errorf("kill: %w", err)
	}
	id := r.ctr.GetContainerID()
	if _, err := t.e.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		t.abandon(w)
		return Window{}, fmt.Errorf("kill replica %d: %w", i, err)
	}
	wctx, cancel := context.WithTimeout(ctx, t.p.timeouts.Stop)
	defer cancel()
	res := t.e.cli.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-res.Result:
	case err := <-res.Error:
		return t.snapshot(w), fmt.Errorf("kill replica %d: waiting for it to stop: %w", i, err)
	}
	return t.snapshot(w), nil
}

// Restart starts killed replica i again and waits until it answers
// /health/liveliness; it returns the closed window. With a local engine the
// replica keeps its host port, so URLs() is unchanged; otherwise URLs()
// reflects the new port.
func (t *Topology) Restart(ctx context.Context, i int) (Window, error) {
	r, err := t.replica(i)
	if err != nil {
		return Window{}, fmt.Errorf("restart: %w", err)
	}
	w, err := t.openWindow(ReplicaKilled, i)
	if err != nil {
		return Window{}, fmt.Errorf("restart: %w", err)
	}
	// Start runs the request's wait strategy again (GET
	// /health/liveliness on the published port).
	if err := r.ctr.Start(ctx); err != nil {
		return Window{}, fmt.Errorf("restart replica %d: %w%s", i, err, logTail(context.WithoutCancel(ctx), r.ctr))
	}
	url, err := t.urlOf(ctx, r.ctr)
	if err != nil {
		return Window{}, fmt.Errorf("restart replica %d: %w", i, err)
	}
	t.mu.Lock()
	r.url = url
	t.mu.Unlock()
	return t.end(w), nil
}

func (t *Topology) networkID(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.networkIDs[name]
}
