package seq

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyrace/keyrace/client"
)

// NewTarget builds a Target from base URLs (replicas of one deployment) and
// the master key: writes go to the first URL, decisions to the second when
// there is one.
func NewTarget(urls []string, masterKey string, opts ...client.Option) (Target, error) {
	var clients []*client.Client
	for _, u := range urls {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		c, err := client.New(u, masterKey, opts...)
		if err != nil {
			return Target{}, err
		}
		clients = append(clients, c)
	}
	if len(clients) == 0 {
		return Target{}, errors.New("no target: give --target URL[,URL...] or set KEYRACE_TARGET")
	}
	if masterKey == "" {
		return Target{}, errors.New("no master key: give --master-key or set KEYRACE_MASTER_KEY")
	}
	return Target{Writer: clients[0], Decider: clients[len(clients)-1], RunID: NewRunID()}, nil
}

// Preflight checks that c is a LiteLLM-compatible proxy that accepts the
// master key, so that a down, foreign or locked target is reported as
// "cannot run" rather than as a finding.
func Preflight(ctx context.Context, c *client.Client) error {
	if err := c.Preflight(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	return nil
}

// Run preflights every replica of t and runs the sequences in order. It
// stops at the first sequence that cannot run and returns the results so far.
func Run(ctx context.Context, t Target, seqs []Sequence, each func(Result)) ([]Result, error) {
	for _, c := range []*client.Client{t.Writer, t.Decider} {
		if err := Preflight(ctx, c); err != nil {
			return nil, err
		}
	}
	var out []Result
	for _, s := range seqs {
		r, err := s.Run(ctx, t)
		if err != nil {
			return out, fmt.Errorf("%s: %w", s.Name, err)
		}
		out = append(out, r)
		if each != nil {
			each(r)
		}
	}
	return out, nil
}
