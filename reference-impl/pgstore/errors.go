package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

// ErrUnstorable is a value PostgreSQL cannot hold although MemStore
// would: a NUL character in text or JSON, text longer than an index entry
// allows (about 2.7 kB for an id or alias), a value JSON cannot encode.
// It is the caller's input, not a database failure, and nothing changed.
var ErrUnstorable = refimpl.ErrUnstorable

// Constraint names from migrations/0001_init.sql.
const (
	teamsPkey      = "teams_pkey"
	keysPkey       = "keys_pkey"
	keysAliasUniq  = "keys_alias_unique"
	keysTeamFkey   = "keys_team_fkey"
	teamsPermFkey  = "teams_object_permission_fkey"
	keysPermFkey   = "keys_object_permission_fkey"
	uniqueViolated = "23505"
	fkeyViolated   = "23503"
)

// violation maps a constraint violation to the Store error a caller can
// act on; teamID is the team the write referenced. It returns err
// unchanged when it is no violation it knows.
func violation(err error, teamID string) error {
	var fe fnError
	var pe *pgconn.PgError
	if errors.As(err, &fe) || !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == uniqueViolated && (pe.ConstraintName == teamsPkey || pe.ConstraintName == keysPkey):
		return refimpl.ErrExists
	case pe.Code == uniqueViolated && pe.ConstraintName == keysAliasUniq:
		return refimpl.ErrAliasTaken
	case pe.Code == fkeyViolated && pe.ConstraintName == keysTeamFkey:
		return &refimpl.TeamNotFoundError{ID: teamID}
	case pe.Code == fkeyViolated && (pe.ConstraintName == teamsPermFkey || pe.ConstraintName == keysPermFkey):
		return fmt.Errorf("object permission: %w", refimpl.ErrNotFound)
	}
	return err
}

// fail shapes what a method returns: the caller's own merge error as it
// was, Store errors as they are, values PostgreSQL refuses as
// ErrUnstorable, a cancelled context as the context's error, and anything
// else (the database failed) wrapped with the operation.
func fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	var nf *refimpl.TeamNotFoundError
	if errors.As(err, &nf) || errors.Is(err, refimpl.ErrNotFound) || errors.Is(err, refimpl.ErrExists) ||
		errors.Is(err, refimpl.ErrAliasTaken) {
		return err
	}
	if errors.Is(err, ErrUnstorable) {
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "22021", // character_not_in_repertoire: NUL or invalid UTF-8 in text
			"22P05", // untranslatable_character: \u0000 in jsonb
			"54000": // program_limit_exceeded: index row too large
			return fmt.Errorf("pgstore: %s: %w: %s", op, ErrUnstorable, pe.Message)
		}
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("pgstore: %s: %w (%v)", op, cerr, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}
