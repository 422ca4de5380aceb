package refimpl

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyrace/keyrace/wire"
)

// handleKeyUpdate is POST /key/update: a partial update of one key. Sent
// fields replace, null clears, omitted fields are kept; 0, false and [] are
// values. A refused update changes nothing: every check runs before the
// single store write, and the write itself (UpdateKey) is all or nothing.
//
// Who may: the proxy admin, the key itself, the key's owner (same user_id),
// or an admin of the key's team. An unknown key is 404 "Key not found in
// database" (type not_found_error, param key), as /key/info answers;
// LiteLLM 1.83 answers the same 404 with the misleading
// "Team not found, passed team_id=<team_id or None>".
func (s *Server) handleKeyUpdate(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	var req wire.UpdateKeyRequest
	if aerr == nil {
		aerr = s.decode(w, r, &req)
	}
	if aerr == nil && req.Key == "" {
		aerr = missingField("key")
	}
	if aerr == nil {
		if b, ok := req.MaxBudget.Value(); ok {
			aerr = checkBudget(&b)
		}
	}
	var expires *time.Time
	if d, ok := req.Duration.Value(); aerr == nil && ok && d != "-1" {
		expires, aerr = expiry(d)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	ctx := r.Context()
	token := tokenOf(req.Key)
	current, err := s.store.GetKey(ctx, token)
	if errors.Is(err, ErrNotFound) {
		writeError(w, &apiError{status: 404, typ: wire.TypeNotFound, param: "key", msg: wire.MsgKeyNotFound})
		return
	}
	if err != nil {
		writeError(w, internal(err))
		return
	}
	if aerr := s.checkKeyUpdater(r, c, current); aerr != nil {
		writeError(w, aerr)
		return
	}
	if id, ok := req.TeamID.Value(); (ok && id != current.TeamID) || (req.TeamID.IsNull() && current.TeamID != "") {
		writeError(w, badRequest(wire.MsgKeyTeamChange))
		return
	}
	// The same read path and validation as /key/generate, so every fault on
	// that path affects both endpoints alike.
	perm, _ := req.ObjectPermission.Value()
	if perm != nil {
		var team *Team
		if current.TeamID != "" {
			t, err := s.teamForKeyValidation(ctx, current.TeamID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				writeError(w, internal(err))
				return
			}
			if err == nil {
				team = &t
			}
		}
		if aerr := s.checkKeyPerms(ctx, current.TeamID, team, perm); aerr != nil {
			writeError(w, aerr)
			return
		}
	}
	var updated Key
	err = s.announced(ctx, []string{"token:" + token}, func() (uint64, error) {
		var err error
		updated, err = s.store.UpdateKey(ctx, token, func(k *Key) error {
			applyKeyUpdate(k, &req, expires)
			return nil
		})
		return updated.Rev, err
	})
	var refused *apiError
	switch {
	case errors.As(err, &refused):
		writeError(w, refused)
		return
	case errors.Is(err, ErrAliasTaken):
		alias, _ := req.KeyAlias.Value()
		writeError(w, &apiError{status: 400, typ: wire.TypeBadRequest, param: "key_alias",
			msg: fmt.Sprintf("Key with alias '%s' already exists. Unique key aliases across all keys are required.", alias)})
		return
	case errors.Is(err, ErrNotFound): // deleted meanwhile
		writeError(w, &apiError{status: 404, typ: wire.TypeNotFound, param: "key", msg: wire.MsgKeyNotFound})
		return
	case err != nil:
		writeError(w, internal(err))
		return
	}
	out := wireKey(updated)
	out.Key = req.Key
	out.Token = updated.Token
	writeJSON(w, http.StatusOK, out)
}

// checkKeyUpdater refuses a non-admin who is neither the key itself, its
// owner, nor an admin of its team (read from the store).
func (s *Server) checkKeyUpdater(r *http.Request, c caller, k Key) *apiError {
	if c.admin || c.key.Token == k.Token || (k.UserID != "" && k.UserID == c.userID()) {
		return nil
	}
	if k.TeamID != "" {
		t, err := s.store.GetTeam(r.Context(), k.TeamID)
		if err == nil && memberRole(t, c.userID()) == "admin" {
			return nil
		}
	}
	return forbidden(wire.TypeAuth, wire.MsgKeyUpdateNotAllowed)
}

// applyKeyUpdate merges the sent fields of req into k (see
// wire.UpdateKeyRequest for what null means per field). expires is the
// parsed duration (nil: never).
func applyKeyUpdate(k *Key, req *wire.UpdateKeyRequest, expires *time.Time) {
	if !req.KeyAlias.IsZero() {
		k.Alias, _ = req.KeyAlias.Value()
	}
	if !req.Models.IsZero() {
		v, _ := req.Models.Value()
		k.Models = cloneStrings(v)
	}
	if !req.MaxBudget.IsZero() {
		k.MaxBudget = nil
		if v, ok := req.MaxBudget.Value(); ok {
			k.MaxBudget = &v
		}
	}
	if !req.Blocked.IsZero() {
		k.Blocked, _ = req.Blocked.Value()
	}
	if !req.Metadata.IsZero() {
		k.Metadata, _ = req.Metadata.Value()
	}
	if !req.Duration.IsZero() {
		k.Expires = expires
	}
	if u, ok := req.ObjectPermission.Value(); ok && u != nil {
		if k.Perm == nil {
			k.Perm = &Perm{}
		}
		applyPermUpdate(k.Perm, u)
		normalisePerm(k.Perm)
	}
	k.UpdatedAt = time.Now().UTC()
}
