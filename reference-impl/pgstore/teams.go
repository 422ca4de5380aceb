package pgstore

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

// nextRev draws the revision of the current write; the statements after
// it in the transaction stamp rows with currval('revision_seq'). Writers
// draw it only once their row locks are held, so one object's revisions
// grow in the order its writes commit.
const nextRev = `SELECT nextval('revision_seq')`

const (
	insertTeam = `INSERT INTO teams (team_id, team_alias, models, max_budget, spend, blocked, metadata,
	members_with_roles, member_budgets, object_permission_id, created_at, updated_at, rev)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, currval('revision_seq'))
ON CONFLICT (team_id) DO NOTHING`
	updateTeam = `UPDATE teams SET team_alias = $2, models = $3, max_budget = $4, spend = $5, blocked = $6,
	metadata = $7, members_with_roles = $8, member_budgets = $9, object_permission_id = $10, created_at = $11,
	updated_at = $12, rev = currval('revision_seq')
WHERE team_id = $1`
	// lockTeam serialises the writers of one team. NO KEY UPDATE, the
	// lock an UPDATE that keeps the key takes anyway, still lets
	// CreateKey's foreign-key check (KEY SHARE) through; only DeleteTeams
	// (FOR UPDATE) blocks new keys.
	lockTeam = `SELECT true FROM teams WHERE team_id = $1 FOR NO KEY UPDATE`
	// deleteOrphanPerm drops a record that a write stopped referencing
	// (fn replaced t.Perm by one without ID), unless something else still
	// points at it.
	deleteOrphanPerm = `DELETE FROM object_permissions p WHERE p.object_permission_id = ANY($1)
	AND NOT EXISTS (SELECT 1 FROM teams t WHERE t.object_permission_id = p.object_permission_id)
	AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.object_permission_id = p.object_permission_id)`
)

// CreateTeam implements refimpl.Store, in one round trip plus the commit.
func (s *Store) CreateTeam(ctx context.Context, t refimpl.Team) (refimpl.Team, error) {
	var out refimpl.Team
	var inserted bool
	var bad error // a value that cannot be encoded: nothing is sent
	err := s.inTx(ctx, func(b *pgx.Batch) {
		in := t.Clone()
		var perm, args []any
		if perm, bad = permWrite(in.Perm); bad != nil {
			return
		}
		if in.Perm != nil {
			in.PermID = in.Perm.ID
		}
		if args, bad = teamArgs(&in); bad != nil {
			return
		}
		b.Queue(nextRev)
		if perm != nil {
			b.Queue(upsertPerm, perm...)
		}
		b.Queue(insertTeam, append([]any{in.ID}, args...)...).Exec(func(ct pgconn.CommandTag) error {
			inserted = ct.RowsAffected() == 1
			return nil
		})
		queueReadTeam(b, in.ID, &out, nil)
	}, func(pgx.Tx) error {
		switch {
		case bad != nil:
			return bad
		case !inserted:
			return refimpl.ErrExists
		}
		return nil
	})
	return out, fail(ctx, "create team", violation(err, ""))
}

// queueReadTeam queues the read of team id into out; found (when not nil)
// tells whether it exists.
func queueReadTeam(b *pgx.Batch, id string, out *refimpl.Team, found *bool) {
	b.Queue(teamSelect+` WHERE t.team_id = $1`, id).QueryRow(func(row pgx.Row) error {
		t, ok, err := scanTeam(row)
		*out = t
		if found != nil {
			*found = ok
		}
		return err
	})
}

// queueLock queues a row lock statement (lockTeam, lockKey); locked tells
// whether it locked a row.
func queueLock(b *pgx.Batch, sql, id string, locked *bool) {
	b.Queue(sql, id).QueryRow(func(row pgx.Row) error {
		var ignored any
		err := row.Scan(&ignored)
		*locked = err == nil
		if err == pgx.ErrNoRows {
			return nil
		}
		return err
	})
}

// GetTeam implements refimpl.Store.
func (s *Store) GetTeam(ctx context.Context, id string) (refimpl.Team, error) {
	t, found, err := scanTeam(s.pool.QueryRow(ctx, teamSelect+` WHERE t.team_id = $1`, id))
	if err == nil && !found {
		err = &refimpl.TeamNotFoundError{ID: id}
	}
	return t, fail(ctx, "get team", err)
}

// GetPerm implements refimpl.Store.
func (s *Store) GetPerm(ctx context.Context, id string) (*refimpl.Perm, error) {
	var p permRow
	err := s.pool.QueryRow(ctx, `SELECT `+permCols+` FROM object_permissions p WHERE p.object_permission_id = $1`, id).
		Scan(p.dest()...)
	if err == pgx.ErrNoRows {
		return nil, refimpl.ErrNotFound
	}
	if err != nil {
		return nil, fail(ctx, "get permission", err)
	}
	out, err := p.perm()
	return out, fail(ctx, "get permission", err)
}

// UpdateTeam implements refimpl.Store: the team row is locked first, then
// read with its relation in a fresh statement (which, under READ
// COMMITTED, sees whatever the previous lock holder committed), merged by
// fn, and written back with its relation in the same transaction.
func (s *Store) UpdateTeam(ctx context.Context, id string, fn func(*refimpl.Team) error) (refimpl.Team, error) {
	var cur, out refimpl.Team
	var locked, found bool
	err := s.inTx(ctx, func(b *pgx.Batch) {
		queueLock(b, lockTeam, id, &locked)
		queueReadTeam(b, id, &cur, &found)
	}, func(tx pgx.Tx) error {
		// Both: a team deleted and created again while this waited for
		// the lock is found by the read but not locked.
		if !locked || !found {
			return &refimpl.TeamNotFoundError{ID: id}
		}
		t := cur.Clone()
		if err := fn(&t); err != nil {
			return fnError{err}
		}
		t.ID = id
		b := &pgx.Batch{}
		if err := queueWriteTeam(b, t, cur.PermID, &out); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return out, fail(ctx, "update team", violation(err, ""))
}

// PutTeam implements refimpl.Store. It reads nothing: what it writes is
// what the caller computed from its own earlier, unlocked read, which is
// exactly the lost update it exists to reproduce. It takes the row lock
// up front (the UPDATE would take the same lock a moment later) only so
// that the team row is locked before its permission record, the order
// every writer follows. One round trip plus the commit.
func (s *Store) PutTeam(ctx context.Context, t refimpl.Team) (refimpl.Team, error) {
	var out refimpl.Team
	var locked bool
	var bad error
	err := s.inTx(ctx, func(b *pgx.Batch) {
		queueLock(b, lockTeam, t.ID, &locked)
		bad = queueWriteTeam(b, t.Clone(), "", &out)
	}, func(pgx.Tx) error {
		switch {
		case bad != nil:
			return bad
		case !locked: // the write touched nothing but a record, rolled back now
			return &refimpl.TeamNotFoundError{ID: t.ID}
		}
		return nil
	})
	return out, fail(ctx, "put team", violation(err, ""))
}

// queueWriteTeam queues the write of t and its relation under a new
// revision and the read of the result into out. The transaction holds (or
// takes first) the team's row lock. oldPermID is the relation t had
// before, dropped when t now points elsewhere. On an error nothing is
// queued that the caller may send.
func queueWriteTeam(b *pgx.Batch, t refimpl.Team, oldPermID string, out *refimpl.Team) error {
	perm, err := permWrite(t.Perm)
	if err != nil {
		return err
	}
	if t.Perm != nil {
		t.PermID = t.Perm.ID
	}
	args, err := teamArgs(&t)
	if err != nil {
		return err
	}
	b.Queue(nextRev)
	if perm != nil {
		b.Queue(upsertPerm, perm...)
	}
	b.Queue(updateTeam, append([]any{t.ID}, args...)...)
	if oldPermID != "" && oldPermID != t.PermID {
		b.Queue(deleteOrphanPerm, []string{oldPermID})
	}
	queueReadTeam(b, t.ID, out, nil)
	return nil
}

// ListTeams implements refimpl.Store. COLLATE "C" orders by bytes, as Go
// compares strings, whatever the database's collation.
func (s *Store) ListTeams(ctx context.Context) ([]refimpl.Team, error) {
	rows, err := s.pool.Query(ctx, teamSelect+` ORDER BY coalesce(t.team_alias, '') COLLATE "C", t.team_id COLLATE "C"`)
	if err != nil {
		return nil, fail(ctx, "list teams", err)
	}
	out, err := collectTeams(rows)
	return out, fail(ctx, "list teams", err)
}

// DeleteTeams implements refimpl.Store. The teams are locked first (in id
// order, so two deletes never deadlock), which also blocks new keys for
// them (their foreign key check waits on the lock and then fails); then
// keys, teams and records go in that order.
func (s *Store) DeleteTeams(ctx context.Context, ids []string) ([]refimpl.Team, []refimpl.Key, error) {
	ids = dedup(ids)
	var teams []refimpl.Team
	var keys []refimpl.Key
	var found []string
	err := s.inTx(ctx, func(b *pgx.Batch) {
		b.Queue(`SELECT team_id FROM teams WHERE team_id = ANY($1) ORDER BY team_id COLLATE "C" FOR UPDATE`, ids).
			Query(func(rows pgx.Rows) (err error) {
				found, err = pgx.CollectRows(rows, pgx.RowTo[string])
				return err
			})
	}, func(tx pgx.Tx) error {
		for _, id := range ids {
			if !slices.Contains(found, id) {
				return &refimpl.TeamNotFoundError{ID: id}
			}
		}
		b := &pgx.Batch{}
		b.Queue(`WITH k AS (DELETE FROM keys WHERE team_id = ANY($1) RETURNING *)
			SELECT `+keyCols+` FROM k LEFT JOIN object_permissions p ON p.object_permission_id = k.object_permission_id
			ORDER BY k.created_rev`, ids).Query(func(rows pgx.Rows) (err error) {
			keys, err = collectKeys(rows)
			return err
		})
		b.Queue(`WITH t AS (DELETE FROM teams WHERE team_id = ANY($1) RETURNING *)
			SELECT `+teamCols+` FROM t LEFT JOIN object_permissions p ON p.object_permission_id = t.object_permission_id`,
			ids).Query(func(rows pgx.Rows) (err error) {
			teams, err = collectTeams(rows)
			return err
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		var perms []string
		for _, t := range teams {
			perms = appendID(perms, t.PermID)
		}
		for _, k := range keys {
			perms = appendID(perms, k.PermID)
		}
		if len(perms) > 0 {
			if _, err := tx.Exec(ctx, deleteOrphanPerm, perms); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fail(ctx, "delete teams", err)
	}
	// In the order asked, each team's keys in creation order.
	rank := make(map[string]int, len(ids))
	for i, id := range ids {
		rank[id] = i
	}
	slices.SortFunc(teams, func(a, b refimpl.Team) int { return rank[a.ID] - rank[b.ID] })
	slices.SortStableFunc(keys, func(a, b refimpl.Key) int { return rank[a.TeamID] - rank[b.TeamID] })
	return teams, keys, nil
}

func dedup(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func appendID(ids []string, id string) []string {
	if id == "" || slices.Contains(ids, id) {
		return ids
	}
	return append(ids, id)
}
