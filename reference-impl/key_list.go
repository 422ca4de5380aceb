package refimpl

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keyrace/keyrace/wire"
)

// Page sizes of /key/list (LiteLLM's Query bounds).
const (
	keyListDefaultSize = 10
	keyListMaxSize     = 100
)

// handleKeyList is GET /key/list: keys in creation order, paginated, with
// exact-match filters team_id, user_id and key_alias. Entries are token
// hashes, or whole rows with return_full_object=true.
//
// A non-admin only ever sees their own keys: the user_id filter is forced
// to theirs (a key without user_id sees only itself), naming another user
// is 403, and naming a team they are not in (nor their key's team) is 403.
func (s *Server) handleKeyList(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	q := r.URL.Query()
	var page, size int
	var full bool
	if aerr == nil {
		page, aerr = queryInt(q, "page", 1, 1, math.MaxInt)
	}
	if aerr == nil {
		size, aerr = queryInt(q, "size", keyListDefaultSize, 1, keyListMaxSize)
	}
	if aerr == nil {
		full, aerr = queryBool(q, "return_full_object")
	}
	f := KeyFilter{TeamID: q.Get("team_id"), UserID: q.Get("user_id"), Alias: q.Get("key_alias")}
	if aerr == nil && !c.admin {
		aerr = s.scopeKeyList(r, c, &f)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	offset := math.MaxInt
	if page-1 <= math.MaxInt/size {
		offset = (page - 1) * size
	}
	keys, total, err := s.store.ListKeys(r.Context(), f, offset, size)
	if err != nil {
		writeError(w, internal(err))
		return
	}
	out := wire.KeyListResponse{
		Keys: make([]wire.KeyListEntry, 0, len(keys)), TotalCount: total, CurrentPage: page,
		TotalPages: (total + size - 1) / size,
	}
	for _, k := range keys {
		e := wire.KeyListEntry{Token: k.Token}
		if full {
			wk := wireKey(k)
			wk.Token = k.Token
			e.Key = &wk
		}
		out.Keys = append(out.Keys, e)
	}
	writeJSON(w, http.StatusOK, out)
}

// scopeKeyList restricts a non-admin's filter to their own keys.
func (s *Server) scopeKeyList(r *http.Request, c caller, f *KeyFilter) *apiError {
	own := c.userID()
	if f.UserID != "" && f.UserID != own {
		return forbidden(wire.TypeInternal, wire.MsgKeyListOtherUser)
	}
	if f.TeamID != "" && f.TeamID != c.key.TeamID {
		t, err := s.store.GetTeam(r.Context(), f.TeamID)
		if errors.Is(err, ErrNotFound) || (err == nil && !isMember(t, own)) {
			return forbidden(wire.TypeInternal, wire.MsgKeyListOtherTeam)
		}
		if err != nil {
			return internal(err)
		}
	}
	if own != "" {
		f.UserID = own
	} else {
		f.Token = c.key.Token
	}
	return nil
}

// queryInt reads an integer query parameter in [lo, hi], def when absent,
// with FastAPI's 422 for anything else.
func queryInt(q url.Values, name string, def, lo, hi int) (int, *apiError) {
	raw, ok := q[name]
	if !ok || len(raw) == 0 {
		return def, nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(raw[0]))
	loc := []any{"query", name}
	switch {
	case err != nil:
		return 0, unprocessable(validationIssue{Type: "int_parsing", Loc: loc,
			Msg: "Input should be a valid integer, unable to parse string as an integer", Input: raw[0]})
	case v < lo:
		return 0, unprocessable(validationIssue{Type: "greater_than_equal", Loc: loc,
			Msg: "Input should be greater than or equal to " + strconv.Itoa(lo), Input: raw[0]})
	case v > hi:
		return 0, unprocessable(validationIssue{Type: "less_than_equal", Loc: loc,
			Msg: "Input should be less than or equal to " + strconv.Itoa(hi), Input: raw[0]})
	}
	return v, nil
}

// queryBool reads a boolean query parameter the way pydantic does (false
// when absent).
func queryBool(q url.Values, name string) (bool, *apiError) {
	raw, ok := q[name]
	if !ok || len(raw) == 0 {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(raw[0])) {
	case "1", "true", "t", "yes", "y", "on":
		return true, nil
	case "0", "false", "f", "no", "n", "off":
		return false, nil
	}
	return false, unprocessable(validationIssue{Type: "bool_parsing", Loc: []any{"query", name},
		Msg: "Input should be a valid boolean, unable to interpret input", Input: raw[0]})
}
