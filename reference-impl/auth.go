package refimpl

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyrace/keyrace/wire"
)

// Roles a caller can have.
const (
	roleProxyAdmin   = "proxy_admin"
	roleInternalUser = "internal_user"
)

// caller is who sent a request.
type caller struct {
	admin bool
	role  string
	// key is the calling virtual key (nil for the master key).
	key *Key
	// team is the key's team as authentication read it through teamForAuth
	// (nil for the master key, a key without team, or a team not found).
	// Request-time decisions use this one read, so the blocked check and
	// the model and budget checks of a request all see the same state.
	team *Team
}

func (c caller) userID() string {
	if c.key == nil {
		return ""
	}
	return c.key.UserID
}

// hashKey returns the stored form of a secret: SHA-256 hex.
func hashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// credential extracts the API key from the request the way LiteLLM does:
// x-litellm-api-key first (with or without "Bearer "), then Authorization
// with a Bearer/Basic prefix. present is false when no key header was sent.
func credential(r *http.Request) (key string, present bool, malformed string) {
	if v := r.Header.Get("x-litellm-api-key"); v != "" {
		return strings.TrimSpace(stripPrefix(v, "Bearer ", "bearer ")), true, ""
	}
	v := r.Header.Get("Authorization")
	if v == "" {
		return "", false, ""
	}
	for _, p := range []string{"Bearer ", "bearer ", "Basic "} {
		if strings.HasPrefix(v, p) {
			return strings.TrimSpace(v[len(p):]), true, ""
		}
	}
	return "", true, v
}

func stripPrefix(v string, prefixes ...string) string {
	for _, p := range prefixes {
		if strings.HasPrefix(v, p) {
			return v[len(p):]
		}
	}
	return v
}

// authenticate identifies the caller or returns LiteLLM's 401.
func (s *Server) authenticate(r *http.Request) (caller, *apiError) {
	key, present, malformed := credential(r)
	switch {
	case malformed != "":
		return caller{}, unauthorized(wire.TypeAuth, paramNone, wire.MsgMalformedKey(malformed))
	case !present || key == "":
		return caller{}, unauthorized(wire.TypeAuth, paramNone, wire.MsgNoAPIKey)
	}
	// Compare fixed-length digests so that neither content nor length of the
	// master key leaks through timing.
	want := sha256.Sum256([]byte(s.cfg.MasterKey))
	got := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(want[:], got[:]) == 1 {
		return caller{admin: true, role: roleProxyAdmin}, nil
	}
	token := hex.EncodeToString(got[:])
	k, err := s.keyByToken(r.Context(), token)
	if errors.Is(err, ErrNotFound) {
		return caller{}, unauthorized(wire.TypeTokenNotFound, "key", wire.MsgInvalidToken(key, token))
	}
	if err != nil {
		return caller{}, internal(err)
	}
	if k.Blocked {
		return caller{}, unauthorized(wire.TypeAuth, paramNone, wire.MsgKeyBlocked)
	}
	if k.Expires != nil && time.Now().After(*k.Expires) {
		return caller{}, unauthorized(wire.TypeAuth, paramNone,
			"Authentication Error - Expired Key. Key Expiry time "+k.Expires.UTC().Format(time.RFC3339)+" and current time "+time.Now().UTC().Format(time.RFC3339))
	}
	var team *Team
	if k.TeamID != "" {
		t, err := s.teamForAuth(r.Context(), k.TeamID)
		if err == nil && t.Blocked {
			return caller{}, unauthorized(wire.TypeAuth, paramNone, wire.MsgTeamBlocked(k.TeamID))
		}
		if err == nil {
			team = &t
		}
	}
	return caller{role: roleInternalUser, key: &k, team: team}, nil
}

func unauthorized(typ, param, msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, typ: typ, param: param, msg: msg}
}

// adminOnly is the 401 a non-admin gets on an admin-only route.
func adminOnly(r *http.Request, c caller) *apiError {
	return unauthorized(wire.TypeAuth, paramNone, wire.MsgAdminOnly(r.URL.Path, c.role, c.userID()))
}

// keyByToken reads a key through the cache ("token:<hash>").
func (s *Server) keyByToken(ctx context.Context, token string) (Key, error) {
	ck := "token:" + token
	if v, ok := s.cacheGet(ctx, ck); ok {
		return v.(Key), nil
	}
	k, err := s.store.GetKey(ctx, token)
	if err != nil {
		return Key{}, err
	}
	s.cache.Put(ck, k, k.Rev)
	return k, nil
}

// teamForAuth reads a team for request-time decisions through the cache
// ("team_id:<id>"), which every team write invalidates before acknowledging.
func (s *Server) teamForAuth(ctx context.Context, id string) (Team, error) {
	if s.cfg.Faults.Has(FaultStaleTeamCache) {
		return s.staleTeamForAuth(ctx, id)
	}
	ck := "team_id:" + id
	if v, ok := s.cacheGet(ctx, ck); ok {
		return v.(Team), nil
	}
	t, err := s.store.GetTeam(ctx, id)
	if err != nil {
		return Team{}, err
	}
	s.cache.Put(ck, t, t.Rev)
	return t, nil
}
