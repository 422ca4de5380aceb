package seq

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

// Request-time sequences: a team write must change the very next decision
// a key of the team gets when it is used (/v1/models, a mock_response
// chat call), not only the next management validation.

// outcome is how a decision came out, before judging it against what the
// write requires.
type outcome struct {
	allowed  bool   // the request was served
	denied   bool   // refused for the reason under test
	observed string // what the answer said, in words
}

// recorder builds a Result step by step.
type recorder struct {
	ctx context.Context
	t   Target
	res Result
}

func (r *recorder) setup(name string, c *client.Client, ex *client.Exchange, err error) error {
	if err != nil {
		return cannotRun(name, err)
	}
	r.res.Steps = append(r.res.Steps, Step{Name: name, Expected: "2xx", Observed: fmt.Sprint(ex.Status), Verdict: Setup, Exchange: ex, Replica: c.BaseURL()})
	return nil
}

// write records the acknowledged write decisions are judged against.
func (r *recorder) write(name string, ex *client.Exchange, err error) error {
	if err := r.setup("write: "+name, r.t.Writer, ex, err); err != nil {
		return err
	}
	r.res.Steps[len(r.res.Steps)-1].Write = true
	r.res.Write = ex
	return nil
}

// decide makes a decision right after the last write and judges it: want
// says whether the write requires the request to be served. classify reads
// the answer; an answer it cannot place is a contract violation, a
// transport failure means the sequence cannot run.
func (r *recorder) decide(name string, want bool, expected string, do func() (*client.Exchange, error), classify func(*client.Exchange, error) (outcome, bool)) error {
	write := r.res.Write
	st := withinBound(r.t.Bound, write, func() Step {
		ex, err := do()
		st := Step{Name: "decide: " + name, Expected: expected, Exchange: ex, Replica: r.t.Decider.BaseURL()}
		if _, isAPI := client.AsAPIError(err); err != nil && !isAPI {
			st.err = err
			return st
		}
		o, ok := classify(ex, err)
		st.Observed = o.observed
		switch {
		case !ok:
			st.Verdict = Contract
		case want && o.allowed, !want && o.denied:
			st.Verdict = Pass
		case want && o.denied:
			st.Verdict = StaleDeny
		case !want && o.allowed:
			st.Verdict = StaleAllow
		default:
			st.Verdict = Contract
		}
		return st
	})
	if st.Verdict == "" {
		return cannotRun(st.Name, st.err)
	}
	if st.Exchange != nil && write != nil {
		st.SinceAck = st.Exchange.Start.Sub(write.End)
	}
	r.res.Steps = append(r.res.Steps, st)
	return nil
}

// newTeamWithKey creates the sequence's team and a key of it, and removes
// both when the sequence ends (the returned func).
func (r *recorder) newTeamWithKey(req wire.NewTeamRequest) (*client.Client, func(), error) {
	req.TeamID, req.TeamAlias = r.res.Team, r.res.Team
	_, ex, err := r.t.Writer.NewTeam(r.ctx, req)
	if err := r.setup("create team", r.t.Writer, ex, err); err != nil {
		return nil, func() {}, err
	}
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 10*time.Second)
		defer cancel()
		_, _ = r.t.Writer.DeleteTeams(cctx, r.res.Team)
	}
	k, ex, err := r.t.Writer.GenerateKey(r.ctx, wire.GenerateKeyRequest{TeamID: r.res.Team})
	if err := r.setup("generate a key of the team", r.t.Writer, ex, err); err != nil {
		return nil, cleanup, err
	}
	return r.t.Decider.WithKey(k.Key), cleanup, nil
}

func (r *recorder) warm(name string, n int, c *client.Client, do func() (*client.Exchange, error)) error {
	for i := 0; i < n; i++ {
		ex, err := do()
		if err := r.setup("warm: "+name, c, ex, err); err != nil {
			return err
		}
	}
	return nil
}

func newRecorder(ctx context.Context, t Target, name string) *recorder {
	return &recorder{ctx: ctx, t: t, res: Result{Sequence: name, Team: t.TeamID(name)}}
}

// classifyModelCall reads a mock chat call: served, or refused because
// the team (or key) may not use the model.
func classifyModelCall(ex *client.Exchange, err error) (outcome, bool) {
	if err == nil {
		return outcome{allowed: true, observed: "200 served"}, true
	}
	ae, _ := client.AsAPIError(err)
	o := outcome{observed: fmt.Sprintf("%d %s", ae.Status, ae.Message)}
	if (ae.Status == 401 || ae.Status == 403) && (ae.Type == wire.TypeTeamModel || ae.Type == wire.TypeKeyModel || containsAny(ae.Message, "not allowed to access model")) {
		o.denied = true
		return o, true
	}
	return o, false
}

// classifyModelList reads /v1/models for one model: listed or not.
func classifyModelList(model string) func(*client.Exchange, error) (outcome, bool) {
	return func(ex *client.Exchange, err error) (outcome, bool) {
		if err != nil {
			ae, _ := client.AsAPIError(err)
			return outcome{observed: fmt.Sprintf("%d %s", ae.Status, ae.Message)}, false
		}
		var l wire.ModelList
		if e := jsonDecode(ex.ResponseBody, &l); e != nil {
			return outcome{observed: "unreadable model list"}, false
		}
		ids := l.IDs()
		listed := slices.Contains(ids, model)
		return outcome{allowed: listed, denied: !listed, observed: "models " + wire.PyList(ids)}, true
	}
}

// TeamModels returns the grant and revoke sequences for team models, each
// decided through /v1/models and through a mock_response chat call.
func TeamModels() []Sequence {
	const m1, m2 = "gpt-4o", "gpt-4o-mini"
	run := func(name string, before, after []string) func(context.Context, Target) (Result, error) {
		return func(ctx context.Context, t Target) (Result, error) {
			r := newRecorder(ctx, t, name)
			key, cleanup, err := r.newTeamWithKey(wire.NewTeamRequest{Models: before})
			defer cleanup()
			if err != nil {
				return r.res, err
			}
			if err := r.warm("list models and call "+m1, 2, t.Decider, func() (*client.Exchange, error) {
				if _, ex, err := key.Models(ctx); err != nil {
					return ex, err
				}
				_, ex, err := key.ChatMock(ctx, m1, "warm")
				return ex, err
			}); err != nil {
				return r.res, err
			}
			_, ex, err := t.Writer.UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: r.res.Team, Models: wire.List(after...)})
			if err := r.write("team models "+wire.PyList(after), ex, err); err != nil {
				return r.res, err
			}
			want := slices.Contains(after, m2)
			exp := map[bool]string{true: m2 + " listed", false: m2 + " not listed"}[want]
			if err := r.decide("GET /v1/models lists "+m2+"?", want, exp, func() (*client.Exchange, error) {
				_, ex, err := key.Models(ctx)
				return ex, err
			}, classifyModelList(m2)); err != nil {
				return r.res, err
			}
			exp = map[bool]string{true: "200 served", false: "403 team_model_access_denied"}[want]
			err = r.decide("mock call to "+m2, want, exp, func() (*client.Exchange, error) {
				_, ex, err := key.ChatMock(ctx, m2, "decide")
				return ex, err
			}, classifyModelCall)
			return r.res, err
		}
	}
	return []Sequence{
		{Name: "grant-team-models", Description: "after /team/update adds a model to the team, the team's key lists it in /v1/models and may call it at once", Run: run("grant-team-models", []string{m1}, []string{m1, m2})},
		{Name: "revoke-team-models", Description: "after /team/update removes a model from the team, the team's key no longer lists it and is refused calling it at once", Run: run("revoke-team-models", []string{m1, m2}, []string{m1})},
	}
}

// TeamBlock is block then unblock: right after /team/block the team's key
// is refused with 401 "Team=<id> is blocked"; right after /team/unblock it
// is served again.
func TeamBlock() Sequence {
	const name, model = "team-block", "gpt-4o"
	classify := func(ex *client.Exchange, err error) (outcome, bool) {
		if err == nil {
			return outcome{allowed: true, observed: "200 served"}, true
		}
		ae, _ := client.AsAPIError(err)
		o := outcome{observed: fmt.Sprintf("%d %s", ae.Status, ae.Message)}
		o.denied = ae.Status == 401 && containsAny(ae.Message, "is blocked")
		return o, o.denied
	}
	return Sequence{Name: name, Description: "right after /team/block the team's key is refused (401 Team=<id> is blocked); right after /team/unblock it is served",
		Run: func(ctx context.Context, t Target) (Result, error) {
			r := newRecorder(ctx, t, name)
			key, cleanup, err := r.newTeamWithKey(wire.NewTeamRequest{})
			defer cleanup()
			if err != nil {
				return r.res, err
			}
			call := func() (*client.Exchange, error) { _, ex, err := key.ChatMock(ctx, model, "x"); return ex, err }
			if err := r.warm("mock call", 2, t.Decider, call); err != nil {
				return r.res, err
			}
			ex, err := t.Writer.BlockTeam(ctx, r.res.Team)
			if err := r.write("block team", ex, err); err != nil {
				return r.res, err
			}
			if err := r.decide("mock call after block", false, fmt.Sprintf("401 Team=%s is blocked", r.res.Team), call, classify); err != nil {
				return r.res, err
			}
			ex, err = t.Writer.UnblockTeam(ctx, r.res.Team)
			if err := r.write("unblock team", ex, err); err != nil {
				return r.res, err
			}
			err = r.decide("mock call after unblock", true, "200 served", call, classify)
			return r.res, err
		}}
}

// TeamBudget lowers the team's max_budget to 0 (every call is over it) and
// raises it again: the next call must be refused with budget_exceeded, then
// served.
func TeamBudget() Sequence {
	const name, model = "team-budget", "gpt-4o"
	classify := func(ex *client.Exchange, err error) (outcome, bool) {
		if err == nil {
			return outcome{allowed: true, observed: "200 served"}, true
		}
		ae, _ := client.AsAPIError(err)
		o := outcome{observed: fmt.Sprintf("%d %s", ae.Status, ae.Message)}
		o.denied = (ae.Status == 429 || ae.Status == 400) && (ae.Type == wire.TypeBudgetExceeded || containsAny(ae.Message, "Budget has been exceeded"))
		return o, o.denied
	}
	budget := func(v float64) wire.UpdateTeamRequest { return wire.UpdateTeamRequest{MaxBudget: wire.Some(v)} }
	return Sequence{Name: name, Description: "right after /team/update sets max_budget to 0 the team's key is refused with budget_exceeded; right after it is raised the key is served",
		Run: func(ctx context.Context, t Target) (Result, error) {
			r := newRecorder(ctx, t, name)
			hundred := 100.0
			key, cleanup, err := r.newTeamWithKey(wire.NewTeamRequest{MaxBudget: &hundred})
			defer cleanup()
			if err != nil {
				return r.res, err
			}
			call := func() (*client.Exchange, error) { _, ex, err := key.ChatMock(ctx, model, "x"); return ex, err }
			if err := r.warm("mock call", 2, t.Decider, call); err != nil {
				return r.res, err
			}
			for _, step := range []struct {
				budget float64
				want   bool
				exp    string
			}{{0, false, "429 budget_exceeded"}, {100, true, "200 served"}} {
				req := budget(step.budget)
				req.TeamID = r.res.Team
				_, ex, err := t.Writer.UpdateTeam(ctx, req)
				if err := r.write(fmt.Sprintf("team max_budget %v", step.budget), ex, err); err != nil {
					return r.res, err
				}
				if err := r.decide(fmt.Sprintf("mock call with max_budget %v", step.budget), step.want, step.exp, call, classify); err != nil {
					return r.res, err
				}
			}
			return r.res, nil
		}}
}
