package refimpl

import (
	"sort"

	"github.com/keyrace/keyrace/wire"
)

// applyPermUpdate merges u into p the way LiteLLM merges object_permission
// on update: each field that was sent replaces the stored one as a whole
// (lists are not unioned, the tool map is replaced as a unit), an explicit
// null clears the field to empty, and fields that were not sent are kept.
func applyPermUpdate(p *Perm, u *wire.PermissionUpdate) {
	if u == nil {
		return
	}
	setList(&p.MCPServers, u.MCPServers)
	setList(&p.MCPAccessGroups, u.MCPAccessGroups)
	if !u.MCPToolPermissions.IsZero() {
		v, _ := u.MCPToolPermissions.Value()
		p.MCPToolPermissions = map[string][]string{}
		for k, tools := range v {
			p.MCPToolPermissions[k] = cloneStrings(tools)
		}
	}
	setList(&p.VectorStores, u.VectorStores)
	setList(&p.Agents, u.Agents)
	setList(&p.AgentAccessGroups, u.AgentAccessGroups)
	setList(&p.Models, u.Models)
	setList(&p.BlockedTools, u.BlockedTools)
}

func setList(dst *[]string, o wire.Opt[[]string]) {
	if o.IsZero() {
		return
	}
	v, _ := o.Value()
	*dst = cloneStrings(v)
}

// newPerm builds the permission record of a create request (LiteLLM's
// _set_object_permission: null fields are dropped, i.e. empty).
func newPerm(u *wire.PermissionUpdate) *Perm {
	p := &Perm{}
	applyPermUpdate(p, u)
	normalisePerm(p)
	return p
}

func normalisePerm(p *Perm) {
	for _, l := range []*[]string{&p.MCPServers, &p.MCPAccessGroups, &p.VectorStores, &p.Agents,
		&p.AgentAccessGroups, &p.Models, &p.BlockedTools} {
		if *l == nil {
			*l = []string{}
		}
	}
	if p.MCPToolPermissions == nil {
		p.MCPToolPermissions = map[string][]string{}
	}
}

// wirePerm renders a stored record.
func wirePerm(p *Perm) *wire.ObjectPermission {
	if p == nil {
		return nil
	}
	tp := wire.ToolPermissions{}
	for k, v := range p.MCPToolPermissions {
		tp[k] = cloneStrings(v)
	}
	return &wire.ObjectPermission{
		ObjectPermissionID: p.ID,
		MCPServers:         cloneStrings(p.MCPServers),
		MCPAccessGroups:    cloneStrings(p.MCPAccessGroups),
		MCPToolPermissions: tp,
		VectorStores:       cloneStrings(p.VectorStores),
		Agents:             cloneStrings(p.Agents),
		AgentAccessGroups:  cloneStrings(p.AgentAccessGroups),
		Models:             cloneStrings(p.Models),
		BlockedTools:       cloneStrings(p.BlockedTools),
	}
}

// globalMCPServers are the allow_all_keys servers. The reference service
// has no MCP server registry, so there are none; the messages still print
// the (empty) list, as LiteLLM does.
var globalMCPServers = []string{}

// validateKeyPerms is LiteLLM's validate_key_mcp_servers_against_team
// (v1.83): the MCP servers and access groups a key asks for must be allowed
// by its team. team is nil for a key without team; teamPerm is the team's
// permission record as the deciding path read it (nil: the team has none,
// which allows nothing).
func validateKeyPerms(teamID string, hasTeam bool, teamPerm *Perm, req *wire.PermissionUpdate) *apiError {
	if req == nil {
		return nil
	}
	servers, _ := req.MCPServers.Value()
	tools, _ := req.MCPToolPermissions.Value()
	requestedServers := union(servers, keysOf(tools))
	groups, _ := req.MCPAccessGroups.Value()
	if len(requestedServers) == 0 && len(groups) == 0 {
		return nil
	}
	if !hasTeam {
		if bad := minus(requestedServers, globalMCPServers); len(bad) > 0 {
			return forbidden(wire.TypeAuth, wire.MsgTeamlessServers(globalMCPServers, bad))
		}
		if len(groups) > 0 {
			return forbidden(wire.TypeAuth, wire.MsgTeamlessGroups(groups))
		}
		return nil
	}
	var teamServers, teamGroups []string
	if teamPerm != nil {
		teamServers = union(teamPerm.MCPServers, keysOf(teamPerm.MCPToolPermissions))
		teamGroups = teamPerm.MCPAccessGroups
	}
	if bad := minus(requestedServers, union(teamServers, globalMCPServers)); len(bad) > 0 {
		return forbidden(wire.TypeAuth, wire.MsgServersNotAllowed(teamID, bad, teamServers, globalMCPServers))
	}
	if bad := minus(groups, teamGroups); len(bad) > 0 {
		return forbidden(wire.TypeAuth, wire.MsgGroupsNotAllowed(teamID, bad, teamGroups))
	}
	return nil
}

func keysOf(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func minus(a, b []string) []string {
	drop := make(map[string]bool, len(b))
	for _, s := range b {
		drop[s] = true
	}
	var out []string
	for _, s := range a {
		if !drop[s] {
			out = append(out, s)
			drop[s] = true
		}
	}
	sort.Strings(out)
	return out
}
