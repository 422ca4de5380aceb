package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// ObjectPermission is the stored permission record of a team or a key
// (LiteLLM_ObjectPermissionTable). Its id is stable across updates.
type ObjectPermission struct {
	ObjectPermissionID string          `json:"object_permission_id"`
	MCPServers         []string        `json:"mcp_servers"`
	MCPAccessGroups    []string        `json:"mcp_access_groups"`
	MCPToolPermissions ToolPermissions `json:"mcp_tool_permissions"`
	VectorStores       []string        `json:"vector_stores"`
	Agents             []string        `json:"agents"`
	AgentAccessGroups  []string        `json:"agent_access_groups"`
	Models             []string        `json:"models"`
	BlockedTools       []string        `json:"blocked_tools"`
}

// ToolPermissions maps an MCP server id to the tools a holder may call on it.
// LiteLLM stores it as a JSON string, so decoding accepts an object or a
// string holding one.
type ToolPermissions map[string][]string

// UnmarshalJSON accepts {"server": ["tool"]}, a JSON string holding that
// object, or null.
func (t *ToolPermissions) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "" {
			*t = nil
			return nil
		}
		b = []byte(s)
	}
	var m map[string][]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("mcp_tool_permissions: %w", err)
	}
	*t = m
	return nil
}

// Servers returns the server ids that carry tool permissions, sorted.
func (t ToolPermissions) Servers() []string {
	out := make([]string, 0, len(t))
	for k := range t {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// PermissionUpdate is the object_permission part of a create or update
// request. Each field is omitted, null, or a value (see Opt).
type PermissionUpdate struct {
	MCPServers         Opt[[]string]            `json:"mcp_servers,omitzero"`
	MCPAccessGroups    Opt[[]string]            `json:"mcp_access_groups,omitzero"`
	MCPToolPermissions Opt[map[string][]string] `json:"mcp_tool_permissions,omitzero"`
	VectorStores       Opt[[]string]            `json:"vector_stores,omitzero"`
	Agents             Opt[[]string]            `json:"agents,omitzero"`
	AgentAccessGroups  Opt[[]string]            `json:"agent_access_groups,omitzero"`
	Models             Opt[[]string]            `json:"models,omitzero"`
	BlockedTools       Opt[[]string]            `json:"blocked_tools,omitzero"`
}

// Member is one entry of a team's members_with_roles.
type Member struct {
	UserID    string `json:"user_id,omitempty"`
	UserEmail string `json:"user_email,omitempty"`
	Role      string `json:"role"`
}

// Team is a team row as the management endpoints return it.
type Team struct {
	TeamID             string            `json:"team_id"`
	TeamAlias          *string           `json:"team_alias"`
	Models             []string          `json:"models"`
	MaxBudget          *float64          `json:"max_budget"`
	Spend              float64           `json:"spend"`
	Blocked            bool              `json:"blocked"`
	Metadata           map[string]any    `json:"metadata"`
	MembersWithRoles   []Member          `json:"members_with_roles"`
	ObjectPermissionID *string           `json:"object_permission_id"`
	ObjectPermission   *ObjectPermission `json:"object_permission"`
	CreatedAt          string            `json:"created_at,omitempty"`
	UpdatedAt          string            `json:"updated_at,omitempty"`
}

// Key is a virtual key row. Key (the secret) is only present in the
// /key/generate response; Token is the SHA-256 hex of it.
type Key struct {
	Key                string            `json:"key,omitempty"`
	KeyName            string            `json:"key_name,omitempty"`
	Token              string            `json:"token,omitempty"`
	TokenID            string            `json:"token_id,omitempty"`
	Expires            *string           `json:"expires"`
	TeamID             *string           `json:"team_id"`
	UserID             *string           `json:"user_id"`
	KeyAlias           *string           `json:"key_alias"`
	Models             []string          `json:"models"`
	MaxBudget          *float64          `json:"max_budget"`
	Spend              float64           `json:"spend"`
	Blocked            *bool             `json:"blocked"`
	Metadata           map[string]any    `json:"metadata"`
	ObjectPermissionID *string           `json:"object_permission_id"`
	ObjectPermission   *ObjectPermission `json:"object_permission,omitempty"`
	CreatedBy          string            `json:"created_by,omitempty"`
	UpdatedBy          string            `json:"updated_by,omitempty"`
	CreatedAt          string            `json:"created_at,omitempty"`
	UpdatedAt          string            `json:"updated_at,omitempty"`
}

// NewTeamRequest is the body of POST /team/new.
type NewTeamRequest struct {
	TeamID           string            `json:"team_id,omitempty"`
	TeamAlias        string            `json:"team_alias,omitempty"`
	Models           []string          `json:"models,omitempty"`
	MaxBudget        *float64          `json:"max_budget,omitempty"`
	Blocked          bool              `json:"blocked,omitempty"`
	Metadata         map[string]any    `json:"metadata,omitempty"`
	MembersWithRoles []Member          `json:"members_with_roles,omitempty"`
	ObjectPermission *PermissionUpdate `json:"object_permission,omitempty"`
}

// UpdateTeamRequest is the body of POST /team/update; only fields that are
// sent take part in the update.
type UpdateTeamRequest struct {
	TeamID           string                 `json:"team_id"`
	TeamAlias        Opt[string]            `json:"team_alias,omitzero"`
	Models           Opt[[]string]          `json:"models,omitzero"`
	MaxBudget        Opt[float64]           `json:"max_budget,omitzero"`
	Blocked          Opt[bool]              `json:"blocked,omitzero"`
	Metadata         Opt[map[string]any]    `json:"metadata,omitzero"`
	ObjectPermission Opt[*PermissionUpdate] `json:"object_permission,omitzero"`
}

// GenerateKeyRequest is the body of POST /key/generate.
type GenerateKeyRequest struct {
	TeamID           string            `json:"team_id,omitempty"`
	UserID           string            `json:"user_id,omitempty"`
	KeyAlias         string            `json:"key_alias,omitempty"`
	Key              string            `json:"key,omitempty"`
	Duration         string            `json:"duration,omitempty"`
	Models           []string          `json:"models,omitempty"`
	MaxBudget        *float64          `json:"max_budget,omitempty"`
	Metadata         map[string]any    `json:"metadata,omitempty"`
	ObjectPermission *PermissionUpdate `json:"object_permission,omitempty"`
}

// DeleteTeamsRequest is the body of POST /team/delete.
type DeleteTeamsRequest struct {
	TeamIDs []string `json:"team_ids"`
}

// DeleteKeysRequest is the body of POST /key/delete.
type DeleteKeysRequest struct {
	Keys       []string `json:"keys,omitempty"`
	KeyAliases []string `json:"key_aliases,omitempty"`
}

// UpdateTeamResponse is the body /team/update answers with.
type UpdateTeamResponse struct {
	TeamID string `json:"team_id"`
	Data   Team   `json:"data"`
}

// TeamInfoResponse is the body of GET /team/info.
type TeamInfoResponse struct {
	TeamID          string `json:"team_id"`
	TeamInfo        Team   `json:"team_info"`
	Keys            []Key  `json:"keys"`
	TeamMemberships []any  `json:"team_memberships"`
}

// KeyInfoResponse is the body of GET /key/info.
type KeyInfoResponse struct {
	Key  string `json:"key"`
	Info Key    `json:"info"`
}

// DeleteKeysResponse is the body of POST /key/delete.
type DeleteKeysResponse struct {
	DeletedKeys []string `json:"deleted_keys"`
}

// DeleteTeamsResponse is the body of POST /team/delete in the reference
// service (LiteLLM's shape varies by version; clients assert only 200).
type DeleteTeamsResponse struct {
	DeletedTeams []string `json:"deleted_teams"`
}

// MemberField is the "member" of /team/member_add: LiteLLM accepts one
// Member or a list of them, and answers duplicates differently for each
// (User already in team vs All users are already in team), so the form
// that was sent is kept.
type MemberField struct {
	Members []Member
	// List is true when the field is a JSON list.
	List bool
}

// OneMember is a member field holding a single object.
func OneMember(m Member) MemberField { return MemberField{Members: []Member{m}} }

// MemberList is a member field holding a list.
func MemberList(ms ...Member) MemberField { return MemberField{Members: ms, List: true} }

// MarshalJSON writes an object for a single member, else a list.
func (f MemberField) MarshalJSON() ([]byte, error) {
	if !f.List && len(f.Members) == 1 {
		return json.Marshal(f.Members[0])
	}
	if f.Members == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(f.Members)
}

// UnmarshalJSON accepts an object, a list of objects, or null.
func (f *MemberField) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = MemberField{}
		return nil
	case len(b) > 0 && b[0] == '[':
		var ms []Member
		if err := json.Unmarshal(b, &ms); err != nil {
			return err
		}
		*f = MemberField{Members: ms, List: true}
		return nil
	case len(b) > 0 && b[0] == '{':
		var m Member
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		*f = MemberField{Members: []Member{m}}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[MemberField]()}
}

func jsonKind(b []byte) string {
	switch {
	case len(b) == 0:
		return "empty"
	case b[0] == '"':
		return "string"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	}
	return "number"
}

// TeamMemberAddRequest is the body of POST /team/member_add.
type TeamMemberAddRequest struct {
	TeamID          string      `json:"team_id"`
	Member          MemberField `json:"member"`
	MaxBudgetInTeam *float64    `json:"max_budget_in_team,omitempty"`
}

// TeamUser is an entry of updated_users in the /team/member_add answer.
// The reference service keeps no user table, so it carries only the
// identity of the member and the team it was added to.
type TeamUser struct {
	UserID    *string  `json:"user_id"`
	UserEmail *string  `json:"user_email"`
	UserRole  string   `json:"user_role"`
	Teams     []string `json:"teams"`
}

// BudgetTable is a LiteLLM budget row; only max_budget is used.
type BudgetTable struct {
	MaxBudget *float64 `json:"max_budget"`
}

// TeamMembership is an entry of updated_team_memberships: the member's
// row in the team with its per-team budget (max_budget_in_team).
type TeamMembership struct {
	TeamID      string       `json:"team_id"`
	UserID      *string      `json:"user_id"`
	UserEmail   *string      `json:"user_email"`
	Spend       float64      `json:"spend"`
	BudgetID    *string      `json:"budget_id"`
	BudgetTable *BudgetTable `json:"litellm_budget_table"`
}

// TeamMemberAddResponse is the body /team/member_add answers with: the
// team row after the write plus the users and memberships it added.
type TeamMemberAddResponse struct {
	Team
	UpdatedUsers           []TeamUser       `json:"updated_users"`
	UpdatedTeamMemberships []TeamMembership `json:"updated_team_memberships"`
}

// BlockTeamRequest is the body of POST /team/block and /team/unblock.
type BlockTeamRequest struct {
	TeamID string `json:"team_id"`
}

// UpdateKeyRequest is the body of POST /key/update. Key is the secret or
// its SHA-256 hex. Only fields that are sent take part: a value replaces,
// null clears (key_alias none, models [] = all, max_budget none, blocked
// false, metadata {}, duration never expires), an omitted field is kept.
// object_permission merges field by field like /team/update; null changes
// nothing.
type UpdateKeyRequest struct {
	Key              string                 `json:"key"`
	KeyAlias         Opt[string]            `json:"key_alias,omitzero"`
	TeamID           Opt[string]            `json:"team_id,omitzero"`
	Models           Opt[[]string]          `json:"models,omitzero"`
	MaxBudget        Opt[float64]           `json:"max_budget,omitzero"`
	Blocked          Opt[bool]              `json:"blocked,omitzero"`
	Metadata         Opt[map[string]any]    `json:"metadata,omitzero"`
	Duration         Opt[string]            `json:"duration,omitzero"`
	ObjectPermission Opt[*PermissionUpdate] `json:"object_permission,omitzero"`
}

// KeyListEntry is one entry of /key/list's keys: the key's token (hash)
// by default, the whole row with return_full_object=true.
type KeyListEntry struct {
	Token string
	// Key is set when the entry is a full object.
	Key *Key
}

// MarshalJSON writes the row when there is one, else the token string.
func (e KeyListEntry) MarshalJSON() ([]byte, error) {
	if e.Key != nil {
		return json.Marshal(e.Key)
	}
	return json.Marshal(e.Token)
}

// UnmarshalJSON accepts a token string or a key object.
func (e *KeyListEntry) UnmarshalJSON(b []byte) error {
	var tok string
	if err := json.Unmarshal(b, &tok); err == nil {
		*e = KeyListEntry{Token: tok}
		return nil
	}
	var k Key
	if err := json.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("key list entry: %w", err)
	}
	tok = k.Token
	if tok == "" {
		tok = k.TokenID
	}
	*e = KeyListEntry{Token: tok, Key: &k}
	return nil
}

// KeyListResponse is the body of GET /key/list.
type KeyListResponse struct {
	Keys        []KeyListEntry `json:"keys"`
	TotalCount  int            `json:"total_count"`
	CurrentPage int            `json:"current_page"`
	TotalPages  int            `json:"total_pages"`
}
