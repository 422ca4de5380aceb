package refimpl

import (
	"maps"
	"slices"
	"time"

	"github.com/keyrace/keyrace/wire"
)

// Perm is a stored object-permission record. Its ID never changes once it
// is created; updates rewrite the record in place under the same ID, which is
// exactly what makes an ID-keyed cache go stale (the seed bug).
type Perm struct {
	ID                 string
	MCPServers         []string
	MCPAccessGroups    []string
	MCPToolPermissions map[string][]string
	VectorStores       []string
	Agents             []string
	AgentAccessGroups  []string
	Models             []string
	BlockedTools       []string
	// Rev is the store revision of the last write to this record.
	Rev uint64
}

// TeamRow is a stored team, without its permission relation.
type TeamRow struct {
	ID        string
	Alias     string
	Models    []string
	MaxBudget *float64
	Spend     float64
	Blocked   bool
	Metadata  map[string]any
	Members   []wire.Member
	PermID    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Rev is the store revision of the last write to the team or its Perm.
	Rev uint64
	// MemberBudgets holds max_budget_in_team per member (keyed by user_id,
	// else user_email) as /team/member_add set it; nothing enforces it.
	MemberBudgets map[string]float64
}

// Team is a team with its permission relation loaded (Perm nil when the
// team has none).
type Team struct {
	TeamRow
	Perm *Perm
}

// KeyRow is a stored virtual key. The secret itself is never stored: Token
// is its SHA-256 hex.
type KeyRow struct {
	Token     string
	KeyName   string
	Alias     string
	TeamID    string
	UserID    string
	Models    []string
	MaxBudget *float64
	Spend     float64
	Blocked   bool
	Expires   *time.Time
	Metadata  map[string]any
	PermID    string
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	Rev       uint64
}

// Key is a key with its own permission record loaded.
type Key struct {
	KeyRow
	Perm *Perm
}

func cloneStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func cloneFloat(f *float64) *float64 {
	if f == nil {
		return nil
	}
	v := *f
	return &v
}

// Clone returns a deep copy; stores hand out copies so that no two
// requests ever share mutable state.
func (p *Perm) Clone() *Perm {
	if p == nil {
		return nil
	}
	c := *p
	c.MCPServers = cloneStrings(p.MCPServers)
	c.MCPAccessGroups = cloneStrings(p.MCPAccessGroups)
	c.MCPToolPermissions = make(map[string][]string, len(p.MCPToolPermissions))
	for k, v := range p.MCPToolPermissions {
		c.MCPToolPermissions[k] = cloneStrings(v)
	}
	c.VectorStores = cloneStrings(p.VectorStores)
	c.Agents = cloneStrings(p.Agents)
	c.AgentAccessGroups = cloneStrings(p.AgentAccessGroups)
	c.Models = cloneStrings(p.Models)
	c.BlockedTools = cloneStrings(p.BlockedTools)
	return &c
}

// Clone returns a deep copy of the row.
func (t TeamRow) Clone() TeamRow {
	t.Models = cloneStrings(t.Models)
	t.MaxBudget = cloneFloat(t.MaxBudget)
	t.Metadata = maps.Clone(t.Metadata)
	if t.Metadata == nil {
		t.Metadata = map[string]any{}
	}
	t.Members = slices.Clone(t.Members)
	if t.Members == nil {
		t.Members = []wire.Member{}
	}
	t.MemberBudgets = maps.Clone(t.MemberBudgets)
	return t
}

// Clone returns a deep copy of the team and its permission record.
func (t Team) Clone() Team {
	return Team{TeamRow: t.TeamRow.Clone(), Perm: t.Perm.Clone()}
}

// Clone returns a deep copy of the row.
func (k KeyRow) Clone() KeyRow {
	k.Models = cloneStrings(k.Models)
	k.MaxBudget = cloneFloat(k.MaxBudget)
	k.Metadata = maps.Clone(k.Metadata)
	if k.Metadata == nil {
		k.Metadata = map[string]any{}
	}
	if k.Expires != nil {
		e := *k.Expires
		k.Expires = &e
	}
	return k
}

// Clone returns a deep copy of the key and its permission record.
func (k Key) Clone() Key {
	return Key{KeyRow: k.KeyRow.Clone(), Perm: k.Perm.Clone()}
}
