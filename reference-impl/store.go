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
	// replace t.Perm; a Perm without ID gets a new one.
	UpdateTeam(ctx context.Context, id string, fn func(t *Team) error) (Team, error)
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
