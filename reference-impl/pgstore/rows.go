package pgstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/wire"
)

// How rows map to records: an empty string is NULL in nullable text
// columns (aliases, team_id and user_id of keys, relation ids), nil lists
// and maps are stored empty, and member budgets keep nil (NULL) apart
// from empty. Reads return Clone()d values, as MemStore does.

// permCols are the object_permissions columns, as p.
const permCols = `p.object_permission_id, p.mcp_servers, p.mcp_access_groups, p.mcp_tool_permissions,
	p.vector_stores, p.agents, p.agent_access_groups, p.models, p.blocked_tools, p.rev`

// teamCols are a team row (as t) and its relation (as p).
const teamCols = `t.team_id, t.team_alias, t.models, t.max_budget, t.spend, t.blocked, t.metadata,
	t.members_with_roles, t.member_budgets, t.object_permission_id, t.created_at, t.updated_at, t.rev, ` + permCols

// keyCols are a key row (as k) and its own relation (as p).
const keyCols = `k.token, k.key_name, k.key_alias, k.team_id, k.user_id, k.models, k.max_budget, k.spend,
	k.blocked, k.expires, k.metadata, k.object_permission_id, k.created_by, k.created_at, k.updated_at, k.rev, ` + permCols

// teamSelect and keySelect read records with their relation; append a
// WHERE clause.
const (
	teamSelect = `SELECT ` + teamCols + ` FROM teams t
	LEFT JOIN object_permissions p ON p.object_permission_id = t.object_permission_id`
	keySelect = `SELECT ` + keyCols + ` FROM keys k
	LEFT JOIN object_permissions p ON p.object_permission_id = k.object_permission_id`
)

// permRow receives permCols; every column may be NULL (no relation).
type permRow struct {
	id                                                   *string
	servers, groups, stores, agents, agentGroups, models []string
	blockedTools                                         []string
	tools                                                []byte
	rev                                                  *int64
}

func (p *permRow) dest() []any {
	return []any{&p.id, &p.servers, &p.groups, &p.tools, &p.stores, &p.agents, &p.agentGroups, &p.models,
		&p.blockedTools, &p.rev}
}

func (p *permRow) perm() (*refimpl.Perm, error) {
	if p.id == nil {
		return nil, nil
	}
	out := &refimpl.Perm{
		ID: *p.id, MCPServers: p.servers, MCPAccessGroups: p.groups, VectorStores: p.stores, Agents: p.agents,
		AgentAccessGroups: p.agentGroups, Models: p.models, BlockedTools: p.blockedTools, Rev: revOf(p.rev),
	}
	if err := json.Unmarshal(p.tools, &out.MCPToolPermissions); err != nil {
		return nil, fmt.Errorf("object permission %s: mcp_tool_permissions: %w", *p.id, err)
	}
	return out.Clone(), nil
}

type teamRow struct {
	id                         string
	alias, permID              *string
	models                     []string
	maxBudget                  *float64
	spend                      float64
	blocked                    bool
	metadata, members, budgets []byte
	created, updated           time.Time
	rev                        int64
	p                          permRow
}

func (r *teamRow) dest() []any {
	return append([]any{&r.id, &r.alias, &r.models, &r.maxBudget, &r.spend, &r.blocked, &r.metadata,
		&r.members, &r.budgets, &r.permID, &r.created, &r.updated, &r.rev}, r.p.dest()...)
}

func (r *teamRow) team() (refimpl.Team, error) {
	t := refimpl.Team{TeamRow: refimpl.TeamRow{
		ID: r.id, Alias: deref(r.alias), Models: r.models, MaxBudget: r.maxBudget, Spend: r.spend,
		Blocked: r.blocked, PermID: deref(r.permID), CreatedAt: r.created.UTC(), UpdatedAt: r.updated.UTC(),
		Rev: uint64(r.rev),
	}}
	if err := unmarshal(r.metadata, &t.Metadata); err != nil {
		return t, fmt.Errorf("team %s: metadata: %w", r.id, err)
	}
	if err := unmarshal(r.members, &t.Members); err != nil {
		return t, fmt.Errorf("team %s: members_with_roles: %w", r.id, err)
	}
	if err := unmarshal(r.budgets, &t.MemberBudgets); err != nil {
		return t, fmt.Errorf("team %s: member_budgets: %w", r.id, err)
	}
	p, err := r.p.perm()
	if err != nil {
		return t, err
	}
	t.Perm = p
	return t.Clone(), nil
}

// scanTeam reads one team from row; found is false for no row.
func scanTeam(row pgx.Row) (t refimpl.Team, found bool, err error) {
	var r teamRow
	if err := row.Scan(r.dest()...); err != nil {
		if err == pgx.ErrNoRows {
			return t, false, nil
		}
		return t, false, err
	}
	t, err = r.team()
	return t, err == nil, err
}

// collectTeams reads every team of rows.
func collectTeams(rows pgx.Rows) ([]refimpl.Team, error) {
	defer rows.Close()
	out := []refimpl.Team{}
	for rows.Next() {
		var r teamRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		t, err := r.team()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

type keyRow struct {
	token, name, createdBy        string
	alias, teamID, userID, permID *string
	models                        []string
	maxBudget                     *float64
	spend                         float64
	blocked                       bool
	expires                       *time.Time
	metadata                      []byte
	created, updated              time.Time
	rev                           int64
	p                             permRow
}

func (r *keyRow) dest() []any {
	return append([]any{&r.token, &r.name, &r.alias, &r.teamID, &r.userID, &r.models, &r.maxBudget, &r.spend,
		&r.blocked, &r.expires, &r.metadata, &r.permID, &r.createdBy, &r.created, &r.updated, &r.rev}, r.p.dest()...)
}

func (r *keyRow) key() (refimpl.Key, error) {
	k := refimpl.Key{KeyRow: refimpl.KeyRow{
		Token: r.token, KeyName: r.name, Alias: deref(r.alias), TeamID: deref(r.teamID), UserID: deref(r.userID),
		Models: r.models, MaxBudget: r.maxBudget, Spend: r.spend, Blocked: r.blocked, PermID: deref(r.permID),
		CreatedBy: r.createdBy, CreatedAt: r.created.UTC(), UpdatedAt: r.updated.UTC(), Rev: uint64(r.rev),
	}}
	if r.expires != nil {
		e := r.expires.UTC()
		k.Expires = &e
	}
	if err := unmarshal(r.metadata, &k.Metadata); err != nil {
		return k, fmt.Errorf("key %s: metadata: %w", r.token, err)
	}
	p, err := r.p.perm()
	if err != nil {
		return k, err
	}
	k.Perm = p
	return k.Clone(), nil
}

func scanKey(row pgx.Row) (k refimpl.Key, found bool, err error) {
	var r keyRow
	if err := row.Scan(r.dest()...); err != nil {
		if err == pgx.ErrNoRows {
			return k, false, nil
		}
		return k, false, err
	}
	k, err = r.key()
	return k, err == nil, err
}

func collectKeys(rows pgx.Rows) ([]refimpl.Key, error) {
	defer rows.Close()
	out := []refimpl.Key{}
	for rows.Next() {
		var r keyRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		k, err := r.key()
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// permArgs are the arguments of upsertPerm for p, stamped with the
// revision of the current write (currval of revision_seq).
func permArgs(p *refimpl.Perm) ([]any, error) {
	tools, err := marshal(nonNilMap(p.MCPToolPermissions))
	if err != nil {
		return nil, fmt.Errorf("mcp_tool_permissions: %w", err)
	}
	return []any{p.ID, strs(p.MCPServers), strs(p.MCPAccessGroups), tools, strs(p.VectorStores), strs(p.Agents),
		strs(p.AgentAccessGroups), strs(p.Models), strs(p.BlockedTools)}, nil
}

// upsertPerm writes a permission record in place under its id.
const upsertPerm = `INSERT INTO object_permissions (object_permission_id, mcp_servers, mcp_access_groups,
	mcp_tool_permissions, vector_stores, agents, agent_access_groups, models, blocked_tools, rev)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, currval('revision_seq'))
ON CONFLICT (object_permission_id) DO UPDATE SET mcp_servers = EXCLUDED.mcp_servers,
	mcp_access_groups = EXCLUDED.mcp_access_groups, mcp_tool_permissions = EXCLUDED.mcp_tool_permissions,
	vector_stores = EXCLUDED.vector_stores, agents = EXCLUDED.agents,
	agent_access_groups = EXCLUDED.agent_access_groups, models = EXCLUDED.models,
	blocked_tools = EXCLUDED.blocked_tools, rev = EXCLUDED.rev`

// permWrite gives p an id when it has none and returns the arguments of
// upsertPerm for it; nil arguments for a nil p.
func permWrite(p *refimpl.Perm) ([]any, error) {
	if p == nil {
		return nil, nil
	}
	if p.ID == "" {
		p.ID = uuid.NewString()
	}
	return permArgs(p)
}

// teamArgs are $2.. of the team writes, after team_id.
func teamArgs(t *refimpl.Team) ([]any, error) {
	meta, err := marshal(nonNilMap(t.Metadata))
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	members := t.Members
	if members == nil {
		members = []wire.Member{}
	}
	mem, err := marshal(members)
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	var budgets []byte // nil: NULL
	if t.MemberBudgets != nil {
		if budgets, err = marshal(t.MemberBudgets); err != nil {
			return nil, fmt.Errorf("member budgets: %w", err)
		}
	}
	return []any{nullable(t.Alias), strs(t.Models), t.MaxBudget, t.Spend, t.Blocked, meta, mem, budgets,
		nullable(t.PermID), t.CreatedAt, t.UpdatedAt}, nil
}

// keyArgs are $2.. of the key writes, after token.
func keyArgs(k *refimpl.Key) ([]any, error) {
	meta, err := marshal(nonNilMap(k.Metadata))
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return []any{k.KeyName, nullable(k.Alias), nullable(k.TeamID), nullable(k.UserID), strs(k.Models), k.MaxBudget,
		k.Spend, k.Blocked, k.Expires, meta, nullable(k.PermID), k.CreatedBy, k.CreatedAt, k.UpdatedAt}, nil
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnstorable, err)
	}
	return b, nil
}

// unmarshal decodes a JSON column; NULL leaves v as it is.
func unmarshal(b []byte, v any) error {
	if b == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}

func nonNilMap[M ~map[K]V, K comparable, V any](m M) M {
	if m == nil {
		return M{}
	}
	return m
}

// strs never passes nil: pgx would send NULL to a NOT NULL array column.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func revOf(r *int64) uint64 {
	if r == nil {
		return 0
	}
	return uint64(*r)
}
