package refimpl

import (
	"context"
	"fmt"
	"net"
)

// Running is a reference service started in-process on loopback.
type Running struct {
	// URL is the base URL, http://127.0.0.1:<port>.
	URL string
	// Server is the running service.
	Server *Server
	cancel context.CancelFunc
	done   chan error
}

// Start builds a Server from cfg and serves it on a free loopback port
// until Close.
func Start(cfg Config) (*Running, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		return &Running{URL: "http://" + a.String(), Server: s, cancel: cancel, done: done}, nil
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("start embedded service: %w", err)
	}
}

// Close stops the service and waits for it to finish.
func (r *Running) Close() error {
	r.cancel()
	return <-r.done
}
