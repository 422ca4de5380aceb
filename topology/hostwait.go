package topology

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// hostWait runs a wait strategy against host instead of the host
// testcontainers infers (see engine.host: the inferred one can be
// unroutable). Only Host is replaced; mapped ports, logs and state come from
// the container.
type hostWait struct {
	host  string
	inner wait.Strategy
}

// WaitUntilReady implements wait.Strategy.
func (w hostWait) WaitUntilReady(ctx context.Context, t wait.StrategyTarget) error {
	return w.inner.WaitUntilReady(ctx, hostTarget{StrategyTarget: t, host: w.host})
}

// Timeout implements wait.StrategyTimeout, so wait.ForAll sees the inner
// strategy's timeout.
func (w hostWait) Timeout() *time.Duration {
	if st, ok := w.inner.(wait.StrategyTimeout); ok {
		return st.Timeout()
	}
	return nil
}

// String describes the strategy in testcontainers' log.
func (w hostWait) String() string {
	if s, ok := w.inner.(fmt.Stringer); ok {
		return s.String() + " via " + w.host
	}
	return fmt.Sprintf("%T via %s", w.inner, w.host)
}

type hostTarget struct {
	wait.StrategyTarget
	host string
}

func (t hostTarget) Host(context.Context) (string, error) { return t.host, nil }

// portPicker chooses host ports for published service ports, so that a
// replica keeps its URL across Kill/Restart (Docker allocates an ephemeral
// port anew on every start). Ports come from below the kernel's ephemeral
// range, where neither outgoing connections nor Docker's own allocator take
// them, and are checked free by binding them once.
type portPicker struct {
	low, high int
	used      map[int]bool
}

func newPortPicker() *portPicker {
	high := 32767
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo > 21024 {
				high = lo - 1
			}
		}
	}
	return &portPicker{low: 20000, high: high, used: map[int]bool{}}
}

// pick returns a free port on bindIP, or "" (let Docker choose) when none
// was found in 200 tries.
func (p *portPicker) pick(bindIP string) string {
	for range 200 {
		port := p.low + rand.IntN(p.high-p.low+1)
		if p.used[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(bindIP, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		_ = l.Close()
		p.used[port] = true
		return strconv.Itoa(port)
	}
	return ""
}

// isPortClash reports whether a container start failed because its chosen
// host port was taken meanwhile.
func isPortClash(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

// logger adapts w for testcontainers' messages.
func logger(w io.Writer) tclog.Logger {
	if w == nil {
		return tclog.NewNoopLogger()
	}
	return writerLogger{w}
}

type writerLogger struct{ w io.Writer }

func (l writerLogger) Printf(format string, v ...any) {
	s := fmt.Sprintf(format, v...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, _ = io.WriteString(l.w, s)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
