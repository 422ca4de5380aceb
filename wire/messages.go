package wire

import (
	"fmt"
	"strings"
)

// Error types (ProxyErrorTypes) that land in the envelope's "type" field.
const (
	TypeAuth           = "auth_error"
	TypeBadRequest     = "bad_request_error"
	TypeNotFound       = "not_found_error"
	TypeTokenNotFound  = "token_not_found_in_db"
	TypeInternal       = "internal_server_error"
	TypeTeamModel      = "team_model_access_denied"
	TypeKeyModel       = "key_model_access_denied"
	TypeBudgetExceeded = "budget_exceeded"
	TypeMemberPerm     = "team_member_permission_error"
	TypeAlreadyInTeam  = "team_member_already_in_team"
)

// LiteLLM's message texts, exactly. Lists are Python list repr (PyList).
// MsgKeyNotFound is the 404 of /key/info, and of /key/update in the
// reference service (LiteLLM 1.83 answers /key/update for an unknown key
// with "Team not found, passed team_id=<team_id or None>").
const (
	MsgNoAPIKey        = "Authentication Error, No api key passed in."
	MsgKeyNotFound     = "Key not found in database"
	MsgNoKeysFound     = "No keys found"
	MsgKeyBlocked      = "Authentication Error, Key is blocked. Update via `/key/unblock` if you're admin."
	MsgNoTeamID        = "No team id passed in"
	MsgTeamInfoNoID    = "Malformed request. No team id passed in."
	MsgKeysOrAliases   = "At least one of 'keys' or 'key_aliases' must be provided."
	KindMCPServers     = "MCP servers"
	KindMCPAccessGroup = "MCP access groups"
)

// MsgMalformedKey is the 401 text for an Authorization header without a
// recognised prefix.
func MsgMalformedKey(raw string) string {
	return "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix. Passed in: " + raw
}

// MsgInvalidToken is the 401 text for a key the proxy does not know.
func MsgInvalidToken(key, hash string) string {
	return fmt.Sprintf("Authentication Error, Invalid proxy server token passed. Received API Key = %s, Key Hash (Token) =%s. Unable to find token in cache or `LiteLLM_VerificationTokenTable`", AbbreviateKey(key), hash)
}

// MsgAdminOnly is the 401 text for a non-admin key on an admin-only route.
func MsgAdminOnly(route, role, userID string) string {
	return fmt.Sprintf("Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=%s. Your role=%s. Your user_id=%s", route, role, userID)
}

// MsgTeamBlocked is the 401 text for a key of a blocked team (v1.83 wording).
func MsgTeamBlocked(teamID string) string {
	return fmt.Sprintf("Authentication Error, Team=%s is blocked. Update via `/team/unblock` if your admin.", teamID)
}

// MsgTeamNotFound is the 404 text of /team/update, /team/delete and
// /team/member_add for an unknown team.
func MsgTeamNotFound(teamID string) string {
	return "Team not found, passed team_id=" + teamID
}

// MsgTeamInfoNotFound is the 404 text of /team/info for an unknown team.
func MsgTeamInfoNotFound(teamID string) string {
	return fmt.Sprintf("Team not found, passed team id: %s.", teamID)
}

// MsgTeamExists is the 400 text of /team/new for a duplicate id.
func MsgTeamExists(teamID string) string {
	return fmt.Sprintf("Team id = %s already exists. Please use a different team id.", teamID)
}

// MsgTeamNotInDB is the 400 text of /key/generate for a team_id that does
// not exist (LiteLLM's key_generation_check wording).
func MsgTeamNotInDB(teamID string) string {
	return "Unable to find team object in database. Team ID: " + teamID
}

// MsgGroupsNotAllowed is the 403 text for MCP access groups a team does not
// allow.
func MsgGroupsNotAllowed(teamID string, disallowed, allowed []string) string {
	return fmt.Sprintf("Key requests MCP access groups not allowed by team %s: %s. Team allows: %s.", PyStr(teamID), PyList(disallowed), PyList(allowed))
}

// MsgServersNotAllowed is the 403 text for MCP servers a team does not allow.
func MsgServersNotAllowed(teamID string, disallowed, allowed, global []string) string {
	return fmt.Sprintf("Key requests MCP servers not allowed by team %s: %s. Team allows: %s. Global (allow_all_keys) servers: %s.", PyStr(teamID), PyList(disallowed), PyList(allowed), PyList(global))
}

// MsgTeamlessGroups is the 403 text for access groups on a key without team.
func MsgTeamlessGroups(disallowed []string) string {
	return "Key is not in a team. MCP access groups cannot be assigned to keys outside of a team. Disallowed groups: " + PyList(disallowed) + "."
}

// MsgTeamlessServers is the 403 text for servers on a key without team.
func MsgTeamlessServers(global, disallowed []string) string {
	return fmt.Sprintf("Key is not in a team. Only globally available (allow_all_keys) MCP servers can be assigned: %s. Disallowed servers: %s.", PyList(global), PyList(disallowed))
}

// AbbreviateKey renders a secret the way LiteLLM prints it: "sk-..." plus
// its last four characters.
func AbbreviateKey(key string) string {
	if len(key) <= 4 {
		return "sk-..." + key
	}
	return "sk-..." + key[len(key)-4:]
}

// NotAllowed is what a "not allowed by team" message says: which kind of
// permission, the team, the requested items the team refused, and the
// team's allow-list as the deciding process saw it.
type NotAllowed struct {
	Kind      string   `json:"kind"`
	TeamID    string   `json:"team_id"`
	Requested []string `json:"requested"`
	Allowed   []string `json:"allowed"`
	// Global lists allow_all_keys servers (server messages only).
	Global []string `json:"global,omitempty"`
}

const (
	keyRequestsPrefix = "Key requests "
	notAllowedByTeam  = " not allowed by team "
	teamAllows        = ". Team allows: "
)

// ParseNotAllowed finds a "Key requests <kind> not allowed by team '<id>':
// [...]. Team allows: [...]." sentence anywhere in msg and returns what it
// says. It accepts both quote styles of Python's repr.
func ParseNotAllowed(msg string) (NotAllowed, bool) {
	for off := 0; off < len(msg); {
		i := strings.Index(msg[off:], keyRequestsPrefix)
		if i < 0 {
			return NotAllowed{}, false
		}
		start := off + i
		if na, ok := parseNotAllowedAt(msg[start+len(keyRequestsPrefix):]); ok {
			return na, true
		}
		off = start + len(keyRequestsPrefix)
	}
	return NotAllowed{}, false
}

func parseNotAllowedAt(s string) (NotAllowed, bool) {
	k := strings.Index(s, notAllowedByTeam)
	if k <= 0 || k > 64 {
		return NotAllowed{}, false
	}
	na := NotAllowed{Kind: s[:k]}
	s = s[k+len(notAllowedByTeam):]
	team, n, err := ParsePyStr(s)
	if err != nil || !strings.HasPrefix(s[n:], ": ") {
		return NotAllowed{}, false
	}
	na.TeamID = team
	s = s[n+2:]
	req, n, err := ParsePyList(s)
	if err != nil || !strings.HasPrefix(s[n:], teamAllows) {
		return NotAllowed{}, false
	}
	na.Requested = req
	s = s[n+len(teamAllows):]
	allowed, n, err := ParsePyList(s)
	if err != nil {
		return NotAllowed{}, false
	}
	na.Allowed = allowed
	s = s[n:]
	const globalPrefix = ". Global (allow_all_keys) servers: "
	if strings.HasPrefix(s, globalPrefix) {
		if g, _, err := ParsePyList(s[len(globalPrefix):]); err == nil {
			na.Global = g
		}
	}
	return na, true
}

// Request-time (LLM API) texts of the reference service and LiteLLM.
const (
	// MsgMockResponseRequired is the reference service's 400 for a chat
	// completion without mock_response: it never calls a provider.
	MsgMockResponseRequired = "The keyrace reference service does not call model providers: send mock_response with the request. Every check a real call gets (auth, blocked key or team, model access, budget) has already passed."
	// MsgStreamUnsupported is the reference service's 400 for stream=true.
	MsgStreamUnsupported = "The keyrace reference service does not stream mock responses: send stream=false."
	// MsgKeyListOtherUser is /key/list's 403 for a non-admin naming
	// another user.
	MsgKeyListOtherUser = "You are not authorized to check another user's keys"
	// MsgKeyListOtherTeam is /key/list's 403 for a non-admin naming a team
	// they are not in.
	MsgKeyListOtherTeam = "You are not authorized to check this team's keys"
	// MsgKeyUpdateNotAllowed is /key/update's 403 for a non-admin who is
	// neither the key's owner nor an admin of its team.
	MsgKeyUpdateNotAllowed = "You are not authorized to update this key"
	// MsgKeyTeamChange is the reference service's 400 when /key/update
	// names a team other than the key's: moving keys between teams is not
	// part of the modelled surface.
	MsgKeyTeamChange = "Changing a key's team_id is not supported by the keyrace reference service; generate a new key in the other team."
)

// MsgMemberAddNotAllowed is /team/member_add's 403 for a caller who is
// neither proxy admin nor an admin of the team.
func MsgMemberAddNotAllowed(teamID string) string {
	return "Call not allowed. User not proxy admin OR team admin. route=/team/member_add, team_id=" + teamID
}

// MsgAlreadyInTeam is /team/member_add's 400 (team_member_already_in_team)
// when the single member sent is already in the team. existing is the
// team's members_with_roles before the call.
func MsgAlreadyInTeam(userID, userEmail string, existing []Member) string {
	return fmt.Sprintf("User already in team. Member: user_id=%s, user_email=%s. Existing members=%s", PyOptStr(userID), PyOptStr(userEmail), PyMembers(existing))
}

// MsgAllAlreadyInTeam is /team/member_add's 400 when every member of a
// list is already in the team.
func MsgAllAlreadyInTeam(existing []Member) string {
	return "All users are already in team. Existing members=" + PyMembers(existing)
}

// MsgKeyModelDenied is the 403 (key_model_access_denied) for a model the
// key may not use. LiteLLM prints the key's list as stored; keyrace sorts
// it like every other list (DESIGN.md §7).
func MsgKeyModelDenied(allowed []string, model string) string {
	return fmt.Sprintf("key not allowed to access model. This key can only access models=%s. Tried to access %s", PyList(allowed), model)
}

// MsgTeamModelDenied is the 403 (team_model_access_denied) for a model the
// key's team may not use.
func MsgTeamModelDenied(allowed []string, model string) string {
	return fmt.Sprintf("team not allowed to access model. This team can only access models=%s. Tried to access %s", PyList(allowed), model)
}

// MsgTeamBudgetExceeded is the 429 (budget_exceeded) when the team's spend
// has reached its max_budget.
func MsgTeamBudgetExceeded(teamID string, spend, maxBudget float64) string {
	return fmt.Sprintf("Budget has been exceeded! Team=%s Current cost: %s, Max budget: %s", teamID, PyFloat(spend), PyFloat(maxBudget))
}

// MsgKeyBudgetExceeded is the 429 (budget_exceeded) when the key's spend
// has reached its max_budget (LiteLLM's BudgetExceededError default text).
func MsgKeyBudgetExceeded(spend, maxBudget float64) string {
	return fmt.Sprintf("Budget has been exceeded! Current cost: %s, Max budget: %s", PyFloat(spend), PyFloat(maxBudget))
}

// MsgInvalidModel is the 400 for a model the proxy does not serve.
func MsgInvalidModel(model string) string {
	return "/chat/completions: Invalid model name passed in model=" + model + ". Call `/v1/models` to view available models for your key."
}
