package refimpl

import (
	"context"
	"errors"
)

// Store errors. Handlers map them to LiteLLM's 4xx answers.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already exists")
	ErrAliasTaken = errors.New("key alias taken")
	// ErrUnstorable is a value the store cannot hold (PostgreSQL refuses
	// NUL characters, NaN in JSON, index entries over ~2.7 kB); handlers
	// answer 400 and nothing is written.
	ErrUnstorable = errors.New("value cannot be stored")
)

// Store is the authoritative state of the service. Every method is atomic;
// a method that returns an error has changed nothing. Returned values are
// copies the caller may keep and modify.
type Store interface {
	// CreateTeam inserts t (and t.Perm when set). ErrExists if the id is taken.
	CreateTeam(ctx context.Context, t Team) (Team, error)
	// GetTeam reads a team with its permission relation.
	GetTeam(ctx context.Context, id string) (Team, error)
	// GetPerm reads one permission record by id.
	GetPerm(ctx context.Context, id string) (*Perm, error)
	// UpdateTeam applies fn to the current team under the team's lock and
	// writes the result (row and relation in one step), so that concurrent
	// updates of different fields never lose each other. fn may set or
	// replace t.Perm; a Perm without ID gets a new one. fn must not call
	// the store (it runs under the store's lock) and may run more than once
	// (a store may retry a transaction that lost a serialization race), so
	// it must depend only on its argument.
	UpdateTeam(ctx context.Context, id string, fn func(t *Team) error) (Team, error)
	// PutTeam writes t (row and relation) as a whole, unconditionally: no
	// lock is held between the caller's read and this write, so whatever
	// another writer stored meanwhile is overwritten. Only the lost-update
	// fault uses it. It never resurrects a deleted team (TeamNotFoundError).
	PutTeam(ctx context.Context, t Team) (Team, error)
	// ListTeams returns every team, ordered by alias then id.
	ListTeams(ctx context.Context) ([]Team, error)
	// DeleteTeams deletes the teams and their keys, all or nothing (ErrNotFound
	// names the first unknown id). It returns the deleted teams and keys.
	DeleteTeams(ctx context.Context, ids []string) ([]Team, []Key, error)

	// CreateKey inserts a key (and its own Perm when set). ErrAliasTaken when
	// the alias is used by another key, ErrNotFound when its team is gone.
	CreateKey(ctx context.Context, k Key) (Key, error)
	// GetKey reads a key by token (SHA-256 hex of the secret).
	GetKey(ctx context.Context, token string) (Key, error)
	// GetKeyByAlias reads a key by its alias.
	GetKeyByAlias(ctx context.Context, alias string) (Key, error)
	// UpdateKey applies fn to the current key under the store's lock and
	// writes the result (row and its own Perm in one step); a Perm without
	// ID gets a new one. ErrNotFound for an unknown token, ErrAliasTaken when
	// the new alias is used by another key; either way nothing changes. fn
	// follows UpdateTeam's rules: no store calls, safe to run again.
	UpdateKey(ctx context.Context, token string, fn func(k *Key) error) (Key, error)
	// ListKeys returns the keys matching f in creation order, skipping
	// offset and returning at most limit, plus the number of matching keys.
	ListKeys(ctx context.Context, f KeyFilter, offset, limit int) ([]Key, int, error)
	// AddSpend adds cost to the spend of the key and of its team (when it
	// has one) in one step and returns both after the write (team nil for a
	// key without team). ErrNotFound for an unknown token.
	AddSpend(ctx context.Context, token string, cost float64) (Key, *Team, error)
	// KeysOfTeam returns the keys of a team, ordered by creation.
	KeysOfTeam(ctx context.Context, teamID string) ([]Key, error)
	// DeleteKeys deletes the keys with these tokens that exist and returns them.
	DeleteKeys(ctx context.Context, tokens []string) ([]Key, error)

	// Ready reports whether the store can serve; Kind names it for readiness.
	Ready(ctx context.Context) error
	Kind() string
}

// TeamNotFoundError is ErrNotFound for a named team id.
type TeamNotFoundError struct{ ID string }

func (e *TeamNotFoundError) Error() string { return "team " + e.ID + " not found" }

// Unwrap makes errors.Is(err, ErrNotFound) hold.
func (e *TeamNotFoundError) Unwrap() error { return ErrNotFound }

// KeyFilter selects keys for ListKeys; each non-empty field must match
// exactly.
type KeyFilter struct {
	TeamID string
	UserID string
	Alias  string
	Token  string
}

func (f KeyFilter) match(k KeyRow) bool {
	return (f.TeamID == "" || k.TeamID == f.TeamID) && (f.UserID == "" || k.UserID == f.UserID) &&
		(f.Alias == "" || k.Alias == f.Alias) && (f.Token == "" || k.Token == f.Token)
}
