package refimpl

import (
	"net/http"
	"slices"
	"time"

	"github.com/keyrace/keyrace/wire"
)

// handleTeamMemberAdd is POST /team/member_add. The whole decision — team
// lookup, permission, duplicate check, append — runs inside one mergeTeam
// call, i.e. under the store's lock in the correct build, so N concurrent
// adds of N different users leave N members, and two concurrent adds of the
// same user leave one member and one 400.
//
// Order of refusals: 401 (auth), 422 (schema), 400 (negative budget),
// 404 (team), 403 (permission), 400 (duplicate). LiteLLM checks duplicates
// before the permission, which tells a caller without rights who is in the
// team; the reference service checks the permission first.
func (s *Server) handleTeamMemberAdd(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	var req wire.TeamMemberAddRequest
	if aerr == nil {
		aerr = s.decode(w, r, &req)
	}
	if aerr == nil {
		aerr = checkMemberAddRequest(&req)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var added []wire.Member
	updated, err := s.writeTeam(r.Context(), req.TeamID, true, func(t *Team) error {
		if !c.admin && memberRole(*t, c.userID()) != "admin" {
			return forbidden(wire.TypeAuth, wire.MsgMemberAddNotAllowed(t.ID))
		}
		added = newMembers(t.Members, req.Member.Members)
		if len(added) == 0 {
			return alreadyInTeam(t.Members, req.Member)
		}
		t.Members = append(t.Members, added...)
		if req.MaxBudgetInTeam != nil {
			if t.MemberBudgets == nil {
				t.MemberBudgets = map[string]float64{}
			}
			for _, m := range added {
				t.MemberBudgets[memberKey(m)] = *req.MaxBudgetInTeam
			}
		}
		t.UpdatedAt = time.Now().UTC()
		return nil
	})
	if err != nil {
		writeError(w, teamWriteError(err, req.TeamID))
		return
	}
	writeJSON(w, http.StatusOK, memberAddResponse(updated, added, req.MaxBudgetInTeam))
}

// checkMemberAddRequest is TeamMemberAddRequest's schema validation.
func checkMemberAddRequest(req *wire.TeamMemberAddRequest) *apiError {
	switch {
	case req.TeamID == "":
		return missingField("team_id")
	case req.Member.Members == nil:
		return missingField("member")
	case len(req.Member.Members) == 0:
		return unprocessable(validationIssue{Type: "value_error", Loc: []any{"body", "member"},
			Msg: "Value error, member must name at least one member", Input: []any{}})
	}
	if aerr := checkMemberList("member", req.Member.Members); aerr != nil {
		if !req.Member.List { // a single object has no list index in its location
			aerr.detail[0].Loc = slices.Delete(aerr.detail[0].Loc, 2, 3)
		}
		return aerr
	}
	if b := req.MaxBudgetInTeam; b != nil && *b < 0 {
		return badRequest("max_budget_in_team cannot be negative. Received: " + wire.PyFloat(*b))
	}
	return nil
}

// sameMember is LiteLLM's duplicate rule: the same user_id, or the same
// user_email.
func sameMember(a, b wire.Member) bool {
	return (a.UserID != "" && a.UserID == b.UserID) || (a.UserEmail != "" && a.UserEmail == b.UserEmail)
}

// newMembers returns the members of sent that are neither in existing nor
// repeated earlier in sent.
func newMembers(existing, sent []wire.Member) []wire.Member {
	var out []wire.Member
	for _, m := range sent {
		dup := slices.ContainsFunc(existing, func(e wire.Member) bool { return sameMember(e, m) }) ||
			slices.ContainsFunc(out, func(e wire.Member) bool { return sameMember(e, m) })
		if !dup {
			out = append(out, m)
		}
	}
	return out
}

// alreadyInTeam is the 400 when nothing in the request is new: LiteLLM
// words it per member for a single object, for all for a list.
func alreadyInTeam(existing []wire.Member, sent wire.MemberField) *apiError {
	msg := wire.MsgAllAlreadyInTeam(existing)
	if !sent.List {
		m := sent.Members[0]
		msg = wire.MsgAlreadyInTeam(m.UserID, m.UserEmail, existing)
	}
	return &apiError{status: 400, typ: wire.TypeAlreadyInTeam, param: "member", msg: msg}
}

// memberKey identifies a member in MemberBudgets.
func memberKey(m wire.Member) string {
	if m.UserID != "" {
		return m.UserID
	}
	return m.UserEmail
}

func memberAddResponse(t Team, added []wire.Member, budget *float64) wire.TeamMemberAddResponse {
	out := wire.TeamMemberAddResponse{
		Team:                   wireTeam(t),
		UpdatedUsers:           make([]wire.TeamUser, 0, len(added)),
		UpdatedTeamMemberships: make([]wire.TeamMembership, 0, len(added)),
	}
	for _, m := range added {
		out.UpdatedUsers = append(out.UpdatedUsers, wire.TeamUser{
			UserID: strPtr(m.UserID), UserEmail: strPtr(m.UserEmail), UserRole: roleInternalUser, Teams: []string{t.ID},
		})
		tm := wire.TeamMembership{TeamID: t.ID, UserID: strPtr(m.UserID), UserEmail: strPtr(m.UserEmail)}
		if budget != nil {
			tm.BudgetTable = &wire.BudgetTable{MaxBudget: cloneFloat(budget)}
		}
		out.UpdatedTeamMemberships = append(out.UpdatedTeamMemberships, tm)
	}
	return out
}

// handleTeamBlock is POST /team/block (admin only).
func (s *Server) handleTeamBlock(w http.ResponseWriter, r *http.Request) {
	s.setTeamBlocked(w, r, true)
}

// handleTeamUnblock is POST /team/unblock (admin only).
func (s *Server) handleTeamUnblock(w http.ResponseWriter, r *http.Request) {
	s.setTeamBlocked(w, r, false)
}

// setTeamBlocked writes the team's blocked flag, then evicts the team's
// cache entries before acknowledging, so the next request of any key of the
// team sees it (401 "Team=<id> is blocked" after block).
func (s *Server) setTeamBlocked(w http.ResponseWriter, r *http.Request, blocked bool) {
	c, aerr := s.authenticate(r)
	if aerr == nil && !c.admin {
		aerr = adminOnly(r, c)
	}
	var req wire.BlockTeamRequest
	if aerr == nil {
		aerr = s.decode(w, r, &req)
	}
	if aerr == nil && req.TeamID == "" {
		aerr = missingField("team_id")
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	updated, err := s.writeTeam(r.Context(), req.TeamID, false, func(t *Team) error {
		t.Blocked = blocked
		t.UpdatedAt = time.Now().UTC()
		return nil
	})
	if err != nil {
		writeError(w, teamWriteError(err, req.TeamID))
		return
	}
	writeJSON(w, http.StatusOK, wireTeam(updated))
}
