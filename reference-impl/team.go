package refimpl

import (
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/keyrace/keyrace/wire"
)

// revGone is the invalidation floor for deleted objects: nothing read
// before or after may be cached under their keys again.
const revGone = math.MaxUint64

func (s *Server) handleTeamNew(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	if aerr == nil && !c.admin {
		aerr = adminOnly(r, c)
	}
	var req wire.NewTeamRequest
	if aerr == nil {
		aerr = s.decode(w, r, &req)
	}
	if aerr == nil {
		aerr = firstError(checkBudget(req.MaxBudget), checkMembers(req.MembersWithRoles))
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	now := time.Now().UTC()
	t := Team{TeamRow: TeamRow{
		ID: req.TeamID, Alias: req.TeamAlias, Models: req.Models, MaxBudget: req.MaxBudget,
		Blocked: req.Blocked, Metadata: req.Metadata, Members: req.MembersWithRoles,
		CreatedAt: now, UpdatedAt: now,
	}}
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	if req.ObjectPermission != nil {
		t.Perm = newPerm(req.ObjectPermission)
	}
	var created Team
	err := s.announced(r.Context(), []string{"team_id:" + t.ID}, func() (uint64, error) {
		var err error
		created, err = s.store.CreateTeam(r.Context(), t)
		return created.Rev, err
	})
	var refused *apiError
	switch {
	case errors.As(err, &refused):
		writeError(w, refused)
		return
	case errors.Is(err, ErrExists):
		writeError(w, badRequest(wire.MsgTeamExists(t.ID)))
		return
	case err != nil:
		writeError(w, internal(err))
		return
	}
	writeJSON(w, http.StatusOK, wireTeam(created))
}

func (s *Server) handleTeamUpdate(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	if aerr == nil && !c.admin {
		aerr = adminOnly(r, c)
	}
	var req wire.UpdateTeamRequest
	if aerr == nil {
		aerr = s.decode(w, r, &req)
	}
	if aerr == nil && req.TeamID == "" {
		aerr = missingField("team_id")
	}
	if aerr == nil {
		if b, ok := req.MaxBudget.Value(); ok {
			aerr = checkBudget(&b)
		}
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	updated, err := s.writeTeam(r.Context(), req.TeamID, true, func(t *Team) error {
		applyTeamUpdate(t, &req)
		return nil
	})
	if err != nil {
		writeError(w, teamWriteError(err, req.TeamID))
		return
	}
	writeJSON(w, http.StatusOK, wire.UpdateTeamResponse{TeamID: updated.ID, Data: wireTeam(updated)})
}

// teamWriteError maps a failed team write to its answer: a refusal the
// write path made itself (coherence tier down, a member_add rule), 404 for
// an unknown team, else a store failure.
func teamWriteError(err error, teamID string) *apiError {
	var refused *apiError
	switch {
	case errors.As(err, &refused):
		return refused
	case errors.Is(err, ErrNotFound):
		return notFound(wire.MsgTeamNotFound(teamID))
	}
	return internal(err)
}

// applyTeamUpdate merges the sent fields of req into t: a sent value
// replaces, an explicit null clears, an omitted field is kept.
func applyTeamUpdate(t *Team, req *wire.UpdateTeamRequest) {
	if !req.TeamAlias.IsZero() {
		t.Alias, _ = req.TeamAlias.Value()
	}
	if !req.Models.IsZero() {
		v, _ := req.Models.Value()
		t.Models = cloneStrings(v)
	}
	if !req.MaxBudget.IsZero() {
		t.MaxBudget = nil
		if v, ok := req.MaxBudget.Value(); ok {
			t.MaxBudget = &v
		}
	}
	if !req.Blocked.IsZero() {
		t.Blocked, _ = req.Blocked.Value()
	}
	if !req.Metadata.IsZero() {
		t.Metadata, _ = req.Metadata.Value()
	}
	// object_permission: null or omitted changes nothing (LiteLLM); an object
	// merges field by field into the team's record, creating it if needed.
	if u, ok := req.ObjectPermission.Value(); ok && u != nil {
		if t.Perm == nil {
			t.Perm = &Perm{}
		}
		applyPermUpdate(t.Perm, u)
		normalisePerm(t.Perm)
	}
	t.UpdatedAt = time.Now().UTC()
}

func (s *Server) handleTeamInfo(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	id := r.URL.Query().Get("team_id")
	if id == "" {
		writeError(w, &apiError{status: 422, typ: wire.TypeBadRequest, param: "team_id", msg: wire.MsgTeamInfoNoID})
		return
	}
	t, err := s.store.GetTeam(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		writeError(w, &apiError{status: 404, typ: wire.TypeAuth, param: paramNone, msg: wire.MsgTeamInfoNotFound(id)})
		return
	}
	if err != nil {
		writeError(w, internal(err))
		return
	}
	if !c.admin && c.key.TeamID != id && !isMember(t, c.userID()) {
		writeError(w, forbidden(wire.TypeAuth, "User="+c.userID()+" not authorized to access this team="+id))
		return
	}
	keys, err := s.store.KeysOfTeam(r.Context(), id)
	if err != nil {
		writeError(w, internal(err))
		return
	}
	writeJSON(w, http.StatusOK, wire.TeamInfoResponse{
		TeamID: id, TeamInfo: wireTeam(t), Keys: wireKeys(keys), TeamMemberships: []any{},
	})
}

// teamListItem is one entry of /team/list.
type teamListItem struct {
	wire.Team
	TeamMemberships []any      `json:"team_memberships"`
	Keys            []wire.Key `json:"keys"`
}

func (s *Server) handleTeamList(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	userID := r.URL.Query().Get("user_id")
	if !c.admin && (userID == "" || userID != c.userID()) {
		writeError(w, unauthorized(wire.TypeAuth, paramNone, "Only admin users can query all teams/other teams. Your user role="+c.role))
		return
	}
	teams, err := s.store.ListTeams(r.Context())
	if err != nil {
		writeError(w, internal(err))
		return
	}
	out := make([]teamListItem, 0, len(teams))
	for _, t := range teams {
		if userID != "" && !isMember(t, userID) {
			continue
		}
		keys, err := s.store.KeysOfTeam(r.Context(), t.ID)
		if err != nil {
			writeError(w, internal(err))
			return
		}
		out = append(out, teamListItem{Team: wireTeam(t), TeamMemberships: []any{}, Keys: wireKeys(keys)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleTeamDelete(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	if aerr == nil && !c.admin {
		aerr = adminOnly(r, c)
	}
	var req wire.DeleteTeamsRequest
	if aerr == nil {
		aerr = s.decode(w, r, &req)
	}
	if aerr == nil && len(req.TeamIDs) == 0 {
		aerr = missingField("team_ids")
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	// Announce the teams and the keys they hold now; a key created between
	// this read and the delete is evicted by endWrite below all the same.
	cacheKeys := make([]string, 0, len(req.TeamIDs))
	for _, id := range req.TeamIDs {
		cacheKeys = append(cacheKeys, "team_id:"+id)
		ks, err := s.store.KeysOfTeam(r.Context(), id)
		if err != nil {
			writeError(w, internal(err))
			return
		}
		for _, k := range ks {
			cacheKeys = append(cacheKeys, "token:"+k.Token)
		}
	}
	if aerr := s.beginWrite(r.Context(), cacheKeys...); aerr != nil {
		writeError(w, aerr)
		return
	}
	teams, keys, err := s.store.DeleteTeams(r.Context(), req.TeamIDs)
	for _, k := range keys {
		cacheKeys = append(cacheKeys, "token:"+k.Token)
	}
	rev := uint64(revGone)
	if err != nil {
		rev = 0
	}
	s.endWrite(r.Context(), rev, cacheKeys...)
	var nf *TeamNotFoundError
	if errors.As(err, &nf) {
		writeError(w, notFound(wire.MsgTeamNotFound(nf.ID)))
		return
	}
	if err != nil {
		writeError(w, internal(err))
		return
	}
	ids := make([]string, 0, len(teams))
	for _, t := range teams {
		ids = append(ids, t.ID)
	}
	writeJSON(w, http.StatusOK, wire.DeleteTeamsResponse{DeletedTeams: ids})
}

func isMember(t Team, userID string) bool {
	if userID == "" {
		return false
	}
	for _, m := range t.Members {
		if m.UserID == userID {
			return true
		}
	}
	return false
}

func memberRole(t Team, userID string) string {
	for _, m := range t.Members {
		if userID != "" && m.UserID == userID {
			return m.Role
		}
	}
	return ""
}

func checkBudget(b *float64) *apiError {
	if b != nil && *b < 0 {
		return badRequest("max_budget cannot be negative. Received: " + wire.PyFloat(*b))
	}
	return nil
}

func checkMembers(ms []wire.Member) *apiError { return checkMemberList("members_with_roles", ms) }

// checkMemberList validates the members sent in field (pydantic's Member).
func checkMemberList(field string, ms []wire.Member) *apiError {
	for i, m := range ms {
		if m.Role != "admin" && m.Role != "user" {
			return unprocessable(validationIssue{Type: "literal_error", Loc: []any{"body", field, i, "role"},
				Msg: "Input should be 'admin' or 'user'", Input: m.Role})
		}
		if m.UserID == "" && m.UserEmail == "" {
			return unprocessable(validationIssue{Type: "value_error", Loc: []any{"body", field, i},
				Msg: "Value error, Either user id or user email must be provided", Input: m})
		}
	}
	return nil
}

func firstError(errs ...*apiError) *apiError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// pyFloat renders a float as Python's str() does for common values (-1.0).
func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// wireTeam renders a stored team with its relation.
func wireTeam(t Team) wire.Team {
	t = t.Clone()
	return wire.Team{
		TeamID: t.ID, TeamAlias: strPtr(t.Alias), Models: t.Models, MaxBudget: t.MaxBudget, Spend: t.Spend,
		Blocked: t.Blocked, Metadata: t.Metadata, MembersWithRoles: t.Members,
		ObjectPermissionID: strPtr(t.PermID), ObjectPermission: wirePerm(t.Perm),
		CreatedAt: stamp(t.CreatedAt), UpdatedAt: stamp(t.UpdatedAt),
	}
}
