package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

const (
	insertKey = `INSERT INTO keys (token, key_name, key_alias, team_id, user_id, models, max_budget, spend, blocked,
	expires, metadata, object_permission_id, created_by, created_at, updated_at, created_rev, rev)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
	currval('revision_seq'), currval('revision_seq'))
ON CONFLICT (token) DO NOTHING`
	updateKey = `UPDATE keys SET key_name = $2, key_alias = $3, team_id = $4, user_id = $5, models = $6,
	max_budget = $7, spend = $8, blocked = $9, expires = $10, metadata = $11, object_permission_id = $12,
	created_by = $13, created_at = $14, updated_at = $15, rev = currval('revision_seq')
WHERE token = $1`
	lockKey = `SELECT team_id FROM keys WHERE token = $1 FOR NO KEY UPDATE`
)

// CreateKey implements refimpl.Store, in one round trip plus the commit.
// The key's team is checked by its foreign key, which share-locks the
// team row: a concurrent DeleteTeams either waits for this key (and
// deletes it) or has already removed the team (and this insert fails with
// TeamNotFoundError).
func (s *Store) CreateKey(ctx context.Context, k refimpl.Key) (refimpl.Key, error) {
	var out refimpl.Key
	var inserted bool
	var bad error
	err := s.inTx(ctx, func(b *pgx.Batch) {
		in := k.Clone()
		var perm, args []any
		if perm, bad = permWrite(in.Perm); bad != nil {
			return
		}
		if in.Perm != nil {
			in.PermID = in.Perm.ID
		}
		if args, bad = keyArgs(&in); bad != nil {
			return
		}
		b.Queue(nextRev)
		if perm != nil {
			b.Queue(upsertPerm, perm...)
		}
		b.Queue(insertKey, append([]any{in.Token}, args...)...).Exec(func(ct pgconn.CommandTag) error {
			inserted = ct.RowsAffected() == 1
			return nil
		})
		queueReadKey(b, in.Token, &out, nil)
	}, func(pgx.Tx) error {
		switch {
		case bad != nil:
			return bad
		case !inserted:
			return refimpl.ErrExists
		}
		return nil
	})
	return out, fail(ctx, "create key", violation(err, k.TeamID))
}

func queueReadKey(b *pgx.Batch, token string, out *refimpl.Key, found *bool) {
	b.Queue(keySelect+` WHERE k.token = $1`, token).QueryRow(func(row pgx.Row) error {
		k, ok, err := scanKey(row)
		*out = k
		if found != nil {
			*found = ok
		}
		return err
	})
}

// GetKey implements refimpl.Store.
func (s *Store) GetKey(ctx context.Context, token string) (refimpl.Key, error) {
	k, found, err := scanKey(s.pool.QueryRow(ctx, keySelect+` WHERE k.token = $1`, token))
	if err == nil && !found {
		err = refimpl.ErrNotFound
	}
	return k, fail(ctx, "get key", err)
}

// GetKeyByAlias implements refimpl.Store.
func (s *Store) GetKeyByAlias(ctx context.Context, alias string) (refimpl.Key, error) {
	k, found, err := scanKey(s.pool.QueryRow(ctx, keySelect+` WHERE k.key_alias = $1`, alias))
	if err == nil && !found {
		err = refimpl.ErrNotFound
	}
	return k, fail(ctx, "get key by alias", err)
}

// UpdateKey implements refimpl.Store, like UpdateTeam: lock the key row,
// read it with its record, merge, write both back.
func (s *Store) UpdateKey(ctx context.Context, token string, fn func(*refimpl.Key) error) (refimpl.Key, error) {
	var cur, out refimpl.Key
	var locked, found bool
	teamID := ""
	err := s.inTx(ctx, func(b *pgx.Batch) {
		queueLock(b, lockKey, token, &locked)
		queueReadKey(b, token, &cur, &found)
	}, func(tx pgx.Tx) error {
		if !locked || !found { // see UpdateTeam
			return refimpl.ErrNotFound
		}
		k := cur.Clone()
		if err := fn(&k); err != nil {
			return fnError{err}
		}
		k.Token, teamID = token, k.TeamID
		perm, err := permWrite(k.Perm)
		if err != nil {
			return err
		}
		if k.Perm != nil {
			k.PermID = k.Perm.ID
		}
		args, err := keyArgs(&k)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(nextRev)
		if perm != nil {
			b.Queue(upsertPerm, perm...)
		}
		b.Queue(updateKey, append([]any{token}, args...)...)
		if cur.PermID != "" && cur.PermID != k.PermID {
			b.Queue(deleteOrphanPerm, []string{cur.PermID})
		}
		queueReadKey(b, token, &out, nil)
		return tx.SendBatch(ctx, b).Close()
	})
	return out, fail(ctx, "update key", violation(err, teamID))
}

// ListKeys implements refimpl.Store. The page carries the total as a
// window count; a page past the end has no row to carry it, so then page
// and count are read again together in one REPEATABLE READ snapshot.
func (s *Store) ListKeys(ctx context.Context, f refimpl.KeyFilter, offset, limit int) ([]refimpl.Key, int, error) {
	where, args := keyFilter(f)
	count := `SELECT count(*) FROM keys k` + where
	if offset < 0 || limit <= 0 {
		var total int
		err := s.pool.QueryRow(ctx, count, args...).Scan(&total)
		return []refimpl.Key{}, total, fail(ctx, "list keys", err)
	}
	page := fmt.Sprintf(`SELECT count(*) OVER (), %s FROM keys k
	LEFT JOIN object_permissions p ON p.object_permission_id = k.object_permission_id%s
	ORDER BY k.created_rev OFFSET $%d LIMIT $%d`, keyCols, where, len(args)+1, len(args)+2)
	args = append(args, offset, limit)
	keys, total, err := readPage(ctx, s.pool, page, args)
	if err == nil && len(keys) == 0 {
		err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
			func(tx pgx.Tx) error {
				if keys, total, err = readPage(ctx, tx, page, args); err != nil || len(keys) > 0 {
					return err
				}
				return tx.QueryRow(ctx, count, args[:len(args)-2]...).Scan(&total)
			})
	}
	if err != nil {
		return nil, 0, fail(ctx, "list keys", err)
	}
	return keys, total, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func readPage(ctx context.Context, q querier, sql string, args []any) ([]refimpl.Key, int, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []refimpl.Key{}
	total := 0
	for rows.Next() {
		var r keyRow
		if err := rows.Scan(append([]any{&total}, r.dest()...)...); err != nil {
			return nil, 0, err
		}
		k, err := r.key()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, k)
	}
	return out, total, rows.Err()
}

// keyFilter builds the WHERE clause of f: only the set fields, so that
// each combination gets a plan that can use its index.
func keyFilter(f refimpl.KeyFilter) (string, []any) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"k.team_id", f.TeamID}, {"k.user_id", f.UserID}, {"k.key_alias", f.Alias}, {"k.token", f.Token},
	} {
		if c.val != "" {
			args = append(args, c.val)
			conds = append(conds, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// KeysOfTeam implements refimpl.Store.
func (s *Store) KeysOfTeam(ctx context.Context, teamID string) ([]refimpl.Key, error) {
	rows, err := s.pool.Query(ctx, keySelect+` WHERE k.team_id = $1 ORDER BY k.created_rev`, teamID)
	if err != nil {
		return nil, fail(ctx, "keys of team", err)
	}
	out, err := collectKeys(rows)
	return out, fail(ctx, "keys of team", err)
}

// errTeamMoved restarts AddSpend when the key changed team between the
// unlocked look-up and the lock.
var errTeamMoved = errors.New("key changed team")

// AddSpend implements refimpl.Store. It locks the team before the key,
// the order DeleteTeams uses, which takes one unlocked look-up of the
// key's team first.
func (s *Store) AddSpend(ctx context.Context, token string, cost float64) (refimpl.Key, *refimpl.Team, error) {
	for attempt := 1; ; attempt++ {
		k, t, err := s.addSpend(ctx, token, cost)
		if errors.Is(err, errTeamMoved) && attempt < maxAttempts {
			continue
		}
		return k, t, fail(ctx, "add spend", err)
	}
}

func (s *Store) addSpend(ctx context.Context, token string, cost float64) (refimpl.Key, *refimpl.Team, error) {
	var key refimpl.Key
	var team *refimpl.Team
	var teamID *string
	var known bool
	err := s.inTx(ctx, func(b *pgx.Batch) {
		known, teamID = false, nil
		b.Queue(`SELECT team_id FROM keys WHERE token = $1`, token).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&teamID)
			if err == pgx.ErrNoRows {
				return nil
			}
			known = err == nil
			return err
		})
	}, func(tx pgx.Tx) error {
		if !known {
			return refimpl.ErrNotFound
		}
		b := &pgx.Batch{}
		if teamID != nil {
			b.Queue(lockTeam, *teamID)
		}
		found := false
		var lockedTeam *string
		b.Queue(lockKey, token).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&lockedTeam)
			if err == pgx.ErrNoRows {
				return nil
			}
			found = err == nil
			return err
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		switch {
		case !found:
			return refimpl.ErrNotFound
		case deref(lockedTeam) != deref(teamID):
			return errTeamMoved
		}
		b = &pgx.Batch{}
		b.Queue(nextRev)
		b.Queue(`UPDATE keys SET spend = spend + $2, rev = currval('revision_seq') WHERE token = $1`, token, cost)
		queueReadKey(b, token, &key, nil)
		team = nil
		if teamID != nil {
			b.Queue(`UPDATE teams SET spend = spend + $2, rev = currval('revision_seq') WHERE team_id = $1`, *teamID, cost)
			team = &refimpl.Team{}
			queueReadTeam(b, *teamID, team, nil)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return refimpl.Key{}, nil, err
	}
	return key, team, nil
}

// DeleteKeys implements refimpl.Store.
func (s *Store) DeleteKeys(ctx context.Context, tokens []string) ([]refimpl.Key, error) {
	tokens = dedup(tokens)
	var keys []refimpl.Key
	err := s.inTx(ctx, func(b *pgx.Batch) {
		b.Queue(`WITH k AS (DELETE FROM keys WHERE token = ANY($1) RETURNING *)
			SELECT `+keyCols+` FROM k LEFT JOIN object_permissions p ON p.object_permission_id = k.object_permission_id`,
			tokens).Query(func(rows pgx.Rows) (err error) {
			keys, err = collectKeys(rows)
			return err
		})
	}, func(tx pgx.Tx) error {
		var perms []string
		for _, k := range keys {
			perms = appendID(perms, k.PermID)
		}
		if len(perms) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, deleteOrphanPerm, perms)
		return err
	})
	if err != nil {
		return nil, fail(ctx, "delete keys", err)
	}
	slices.SortFunc(keys, func(a, b refimpl.Key) int {
		return slices.Index(tokens, a.Token) - slices.Index(tokens, b.Token)
	})
	return keys, nil
}
