package refimpl

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/keyrace/keyrace/wire"
)

// secretBytes is the entropy of a generated key (LiteLLM's default 16 bytes,
// 22 url-safe characters after "sk-").
const secretBytes = 16

func newSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "sk-" + base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) handleKeyGenerate(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	var req wire.GenerateKeyRequest
	if aerr == nil {
		aerr = s.decode(w, r, &req)
	}
	if aerr == nil {
		aerr = checkBudget(req.MaxBudget)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	userID := req.UserID
	if !c.admin {
		if userID != "" && userID != c.userID() {
			writeError(w, forbidden(wire.TypeInternal, fmt.Sprintf("User can only create keys for themselves. Got user_id=%s, Your ID=%s", userID, c.userID())))
			return
		}
		userID = c.userID()
	}
	var team *Team
	if req.TeamID != "" {
		t, err := s.teamForKeyValidation(r.Context(), req.TeamID)
		if errors.Is(err, ErrNotFound) {
			writeError(w, badRequest(wire.MsgTeamNotInDB(req.TeamID)))
			return
		}
		if err != nil {
			writeError(w, internal(err))
			return
		}
		if aerr := checkTeamKeyCreator(c, t, userID); aerr != nil {
			writeError(w, aerr)
			return
		}
		team = &t
	}
	if aerr := s.checkKeyPerms(r.Context(), req.TeamID, team, req.ObjectPermission); aerr != nil {
		writeError(w, aerr)
		return
	}
	secret := req.Key
	if secret == "" {
		secret = newSecret()
	} else if aerr := checkSecretFormat(secret); aerr != nil {
		writeError(w, aerr)
		return
	}
	expires, aerr := expiry(req.Duration)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	now := time.Now().UTC()
	k := Key{KeyRow: KeyRow{
		Token: hashKey(secret), KeyName: wire.AbbreviateKey(secret), Alias: req.KeyAlias, TeamID: req.TeamID,
		UserID: userID, Models: req.Models, MaxBudget: req.MaxBudget, Expires: expires, Metadata: req.Metadata,
		CreatedBy: creatorOf(c), CreatedAt: now, UpdatedAt: now,
	}}
	if req.ObjectPermission != nil {
		k.Perm = newPerm(req.ObjectPermission)
	}
	created, err := s.store.CreateKey(r.Context(), k)
	switch {
	case errors.Is(err, ErrAliasTaken):
		writeError(w, &apiError{status: 400, typ: wire.TypeBadRequest, param: "key_alias",
			msg: fmt.Sprintf("Key with alias '%s' already exists. Unique key aliases across all keys are required.", req.KeyAlias)})
		return
	case errors.Is(err, ErrNotFound): // the team was deleted meanwhile
		writeError(w, badRequest(wire.MsgTeamNotInDB(req.TeamID)))
		return
	case errors.Is(err, ErrExists):
		writeError(w, badRequest("A key with this value already exists. Choose another value for 'key'."))
		return
	case err != nil:
		writeError(w, internal(err))
		return
	}
	out := wireKey(created)
	out.Key = secret
	out.Token = created.Token
	writeJSON(w, http.StatusOK, out)
}

// teamPermForValidation returns the team's permission record as the
// /key/generate validation sees it. The correct build uses the record read
// from the store together with the team (write-path validations read the
// authoritative store). With FaultStaleObjectPermission it is filled from
// the "object_permission_id:<id>" cache entry, as LiteLLM 1.83 does: cached
// on first read with the TTL counted from then, never extended by re-puts,
// never evicted by /team/update.
func (s *Server) teamPermForValidation(ctx context.Context, t Team) *Perm {
	if !s.cfg.Faults.Has(FaultStaleObjectPermission) || t.PermID == "" {
		return t.Perm
	}
	ck := "object_permission_id:" + t.PermID
	if v, ok := s.cache.Get(ck); ok {
		return v.(*Perm)
	}
	p, err := s.store.GetPerm(ctx, t.PermID)
	if err != nil {
		return nil
	}
	s.cache.PutKeepDeadline(ck, p)
	return p
}

// checkTeamKeyCreator applies LiteLLM's rules for a non-admin creating a
// key in a team: team admins may, plain members lack the permission,
// outsiders are not assigned to the team.
func checkTeamKeyCreator(c caller, t Team, userID string) *apiError {
	if c.admin {
		return nil
	}
	switch memberRole(t, c.userID()) {
	case "admin":
		return nil
	case "user":
		return unauthorized(wire.TypeMemberPerm, paramNone, fmt.Sprintf("Team member does not have permissions for endpoint: /key/generate. You only have access to the following endpoints: ['/key/info', '/key/health'] for team %s. To create keys for this team, please ask your proxy admin to check the team member permission settings and update the settings to allow team member users to create keys.", t.ID))
	}
	return badRequest(fmt.Sprintf("User=%s not assigned to team=%s", userID, t.ID))
}

func creatorOf(c caller) string {
	if c.admin {
		return "default_user_id"
	}
	return c.userID()
}

func checkSecretFormat(secret string) *apiError {
	if len(secret) >= 3 && secret[:3] == "sk-" {
		return nil
	}
	shown := "****"
	if len(secret) > 8 {
		shown = secret[:4] + "****" + secret[len(secret)-4:]
	}
	return badRequest("Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: " + shown)
}

var durationRE = regexp.MustCompile(`^(\d+)(mo|[smhdw]?)$`)

// expiry turns a LiteLLM duration ("30s", "1h", "7d", "2w", "1mo"; a bare
// number is seconds) into an expiry time; "" never expires.
func expiry(d string) (*time.Time, *apiError) {
	if d == "" {
		return nil, nil
	}
	m := durationRE.FindStringSubmatch(d)
	if m == nil {
		return nil, badRequest("Invalid duration format: " + d + ". Use <number><unit> with unit s, m, h, d, w or mo")
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > 1_000_000 {
		return nil, badRequest("Invalid duration format: " + d + ". The number is too large")
	}
	now := time.Now().UTC()
	var t time.Time
	switch m[2] {
	case "", "s":
		t = now.Add(time.Duration(n) * time.Second)
	case "m":
		t = now.Add(time.Duration(n) * time.Minute)
	case "h":
		t = now.Add(time.Duration(n) * time.Hour)
	case "d":
		t = now.AddDate(0, 0, n)
	case "w":
		t = now.AddDate(0, 0, 7*n)
	case "mo":
		t = now.AddDate(0, n, 0)
	}
	return &t, nil
}

var tokenRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// tokenOf accepts a plaintext key or its SHA-256 hex and returns the hash.
func tokenOf(key string) string {
	if tokenRE.MatchString(key) {
		return key
	}
	return hashKey(key)
}

func (s *Server) handleKeyInfo(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	given := r.URL.Query().Get("key")
	var token string
	switch {
	case given != "":
		token = tokenOf(given)
	case c.key != nil:
		token, given = c.key.Token, c.key.Token
	default:
		writeError(w, &apiError{status: 404, typ: wire.TypeNotFound, param: "key", msg: wire.MsgKeyNotFound})
		return
	}
	k, err := s.store.GetKey(r.Context(), token)
	if errors.Is(err, ErrNotFound) {
		writeError(w, &apiError{status: 404, typ: wire.TypeNotFound, param: "key", msg: wire.MsgKeyNotFound})
		return
	}
	if err != nil {
		writeError(w, internal(err))
		return
	}
	if !c.admin && k.Token != c.key.Token && (k.UserID == "" || k.UserID != c.userID()) {
		writeError(w, forbidden(wire.TypeInternal, "You are not allowed to access this key's info. Your role="+c.role))
		return
	}
	writeJSON(w, http.StatusOK, wire.KeyInfoResponse{Key: given, Info: wireKey(k)})
}

func (s *Server) handleKeyDelete(w http.ResponseWriter, r *http.Request) {
	c, aerr := s.authenticate(r)
	var req wire.DeleteKeysRequest
	if aerr == nil {
		aerr = s.decode(w, r, &req)
	}
	if aerr == nil && len(req.Keys) == 0 && len(req.KeyAliases) == 0 {
		aerr = unprocessable(validationIssue{Type: "value_error", Loc: []any{"body"}, Msg: "Value error, " + wire.MsgKeysOrAliases})
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	tokens := make([]string, 0, len(req.Keys)+len(req.KeyAliases))
	sent := map[string]string{} // token -> the value the caller sent
	for _, k := range req.Keys {
		t := tokenOf(k)
		tokens, sent[t] = append(tokens, t), k
	}
	for _, a := range req.KeyAliases {
		if k, err := s.store.GetKeyByAlias(r.Context(), a); err == nil {
			tokens, sent[k.Token] = append(tokens, k.Token), a
		}
	}
	if !c.admin {
		for _, t := range tokens {
			k, err := s.store.GetKey(r.Context(), t)
			if err == nil && (k.UserID == "" || k.UserID != c.userID()) {
				writeError(w, forbidden(wire.TypeInternal, "You are not authorized to delete this key"))
				return
			}
		}
	}
	cacheKeys := make([]string, len(tokens))
	for i, t := range tokens {
		cacheKeys[i] = "token:" + t
	}
	var deleted []Key
	err := s.announced(r.Context(), cacheKeys, func() (uint64, error) {
		var err error
		deleted, err = s.store.DeleteKeys(r.Context(), tokens)
		return revGone, err
	})
	var refused *apiError
	if errors.As(err, &refused) {
		writeError(w, refused)
		return
	}
	if err != nil {
		writeError(w, internal(err))
		return
	}
	if len(deleted) == 0 {
		writeError(w, notFound(wire.MsgNoKeysFound))
		return
	}
	out := make([]string, 0, len(deleted))
	for _, k := range deleted {
		out = append(out, sent[k.Token])
	}
	writeJSON(w, http.StatusOK, wire.DeleteKeysResponse{DeletedKeys: out})
}

// wireKey renders a stored key without its token (info views).
func wireKey(k Key) wire.Key {
	k = k.Clone()
	out := wire.Key{
		KeyName: k.KeyName, TokenID: k.Token, TeamID: strPtr(k.TeamID), UserID: strPtr(k.UserID),
		KeyAlias: strPtr(k.Alias), Models: k.Models, MaxBudget: k.MaxBudget, Spend: k.Spend, Blocked: &k.Blocked,
		Metadata: k.Metadata, ObjectPermissionID: strPtr(k.PermID), ObjectPermission: wirePerm(k.Perm),
		CreatedBy: k.CreatedBy, UpdatedBy: k.CreatedBy, CreatedAt: stamp(k.CreatedAt), UpdatedAt: stamp(k.UpdatedAt),
	}
	if k.Expires != nil {
		e := stamp(*k.Expires)
		out.Expires = &e
	}
	return out
}

func wireKeys(ks []Key) []wire.Key {
	out := make([]wire.Key, 0, len(ks))
	for _, k := range ks {
		out = append(out, wireKey(k))
	}
	return out
}
