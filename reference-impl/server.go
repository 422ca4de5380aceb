// Package refimpl is keyrace's reference team/key service: a correct, fast
// implementation of the LiteLLM management subset that keyrace tests, with
// switchable faults that reproduce known upstream bugs. It is the
// conformance baseline and the harness's own test target.
package refimpl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Version is reported by /health/readiness as litellm_version.
const Version = "keyrace-reference/0.1.0"

// DefaultAddr is where `keyrace serve` listens, like LiteLLM.
const DefaultAddr = "127.0.0.1:4000"

// DefaultCacheTTL is LiteLLM's DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL.
const DefaultCacheTTL = 60 * time.Second

// DefaultMaxBody is the largest request body accepted (1 MiB); larger
// bodies get a 413 and change nothing.
const DefaultMaxBody = 1 << 20

// DefaultModels are the models the service serves when Config.Models is
// empty: what /v1/models lists and /v1/chat/completions accepts.
var DefaultModels = []string{"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"}

// Config configures a Server. The zero value of each field means its default.
type Config struct {
	// MasterKey authenticates as proxy admin (LITELLM_MASTER_KEY). Required.
	MasterKey string
	// CacheTTL is the management-object cache lifetime; 0 disables caching.
	// Default 60 s (DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL).
	CacheTTL *time.Duration
	// Faults are the bugs to reproduce; empty for the correct build.
	Faults FaultSet
	// InvalidationLag is the delay of FaultInvalidationLag (required > 0
	// when that fault is on).
	InvalidationLag time.Duration
	// MaxBody caps request bodies in bytes; default DefaultMaxBody.
	MaxBody int64
	// Store is the authoritative state; default a fresh MemStore.
	Store Store
	// Peers, when set, is the group of replicas sharing Store whose caches
	// every eviction reaches (see StartReplicas).
	Peers *Peers
	// Coherence, when set, is the tier that keeps replicas in separate
	// processes from serving cached entries older than an acknowledged
	// write (redistier, when REDIS_HOST or REDIS_URL is set).
	Coherence Coherence
	// Models are the model names the service serves (KEYRACE_MODELS);
	// default DefaultModels.
	Models []string
	// MockCallCost is the spend in USD that each successful mock chat
	// completion adds to the calling key and its team. Default 0: spend then
	// only changes through the management API, so budget decisions depend on
	// max_budget alone (spend >= max_budget, so max_budget 0 blocks) and
	// consistency checks stay deterministic. Must be >= 0.
	MockCallCost float64
}

// ConfigFromEnv reads LITELLM_MASTER_KEY, KEYRACE_FAULTS,
// DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL (seconds) and
// KEYRACE_MODELS (comma-separated model names) into a Config.
func ConfigFromEnv() (Config, error) {
	cfg := Config{MasterKey: os.Getenv("LITELLM_MASTER_KEY")}
	if v := os.Getenv("DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL"); v != "" {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs < 0 {
			return cfg, fmt.Errorf("DEFAULT_MANAGEMENT_OBJECT_IN_MEMORY_CACHE_TTL=%q: want seconds >= 0", v)
		}
		ttl := time.Duration(secs * float64(time.Second))
		cfg.CacheTTL = &ttl
	}
	faults, params, err := ParseFaultSpec(os.Getenv("KEYRACE_FAULTS"))
	if err != nil {
		return cfg, fmt.Errorf("KEYRACE_FAULTS: %w", err)
	}
	cfg.Faults, cfg.InvalidationLag = faults, params.InvalidationLag
	if v := os.Getenv("KEYRACE_MODELS"); v != "" {
		if cfg.Models = ParseModels(v); len(cfg.Models) == 0 {
			return cfg, fmt.Errorf("KEYRACE_MODELS=%q: want a comma-separated list of model names", v)
		}
	}
	return cfg, nil
}

// ParseModels reads "a,b" (spaces allowed, empty items dropped, duplicates
// kept once) into model names.
func ParseModels(spec string) []string {
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		if m := strings.TrimSpace(part); m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// Server is the reference service. Create it with New; it is an
// http.Handler.
type Server struct {
	cfg    Config
	store  Store
	cache  *Cache
	coh    coherenceState
	routes map[string]map[string]http.HandlerFunc
	start  time.Time
}

// New validates cfg and returns a ready Server.
func New(cfg Config) (*Server, error) {
	if cfg.MasterKey == "" {
		return nil, errors.New("a master key is required (LITELLM_MASTER_KEY or --master-key)")
	}
	ttl := DefaultCacheTTL
	if cfg.CacheTTL != nil {
		if *cfg.CacheTTL < 0 {
			return nil, fmt.Errorf("cache TTL %v is negative", *cfg.CacheTTL)
		}
		ttl = *cfg.CacheTTL
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	if cfg.Faults == nil {
		cfg.Faults = FaultSet{}
	}
	if cfg.Faults.Has(FaultStaleRepublish) && cfg.Coherence == nil {
		return nil, fmt.Errorf("fault %s needs the shared Redis tier (REDIS_HOST or REDIS_URL)", FaultStaleRepublish)
	}
	if cfg.Faults.Has(FaultLocalInvalidationOnly) && cfg.Peers == nil && cfg.Coherence == nil {
		// One process without peers has no other replica to leave stale:
		// the fault would silently be the correct build.
		return nil, fmt.Errorf("fault %s needs replicas: several in one process (--replicas 2 or more) or in separate processes over Redis (REDIS_HOST or REDIS_URL)", FaultLocalInvalidationOnly)
	}
	if cfg.Faults.Has(FaultInvalidationLag) && cfg.InvalidationLag <= 0 {
		return nil, fmt.Errorf("fault %s needs a positive lag", FaultInvalidationLag)
	}
	if len(cfg.Models) == 0 {
		cfg.Models = DefaultModels
	}
	cfg.Models = slices.Clone(cfg.Models)
	if cfg.MockCallCost < 0 || math.IsNaN(cfg.MockCallCost) || math.IsInf(cfg.MockCallCost, 0) {
		return nil, fmt.Errorf("mock call cost %v: want a finite amount >= 0", cfg.MockCallCost)
	}
	s := &Server{cfg: cfg, store: cfg.Store, cache: NewCache(ttl), start: time.Now()}
	if cfg.Peers != nil {
		cfg.Peers.join(s.cache)
	}
	s.routes = map[string]map[string]http.HandlerFunc{
		"/team/new":          {http.MethodPost: s.handleTeamNew},
		"/team/update":       {http.MethodPost: s.handleTeamUpdate},
		"/team/info":         {http.MethodGet: s.handleTeamInfo},
		"/team/list":         {http.MethodGet: s.handleTeamList},
		"/team/delete":       {http.MethodPost: s.handleTeamDelete},
		"/key/generate":      {http.MethodPost: s.handleKeyGenerate},
		"/key/info":          {http.MethodGet: s.handleKeyInfo},
		"/key/delete":        {http.MethodPost: s.handleKeyDelete},
		"/key/update":        {http.MethodPost: s.handleKeyUpdate},
		"/key/list":          {http.MethodGet: s.handleKeyList},
		"/team/member_add":   {http.MethodPost: s.handleTeamMemberAdd},
		"/team/block":        {http.MethodPost: s.handleTeamBlock},
		"/team/unblock":      {http.MethodPost: s.handleTeamUnblock},
		"/health/liveliness": {http.MethodGet: s.handleLiveliness},
		"/health/liveness":   {http.MethodGet: s.handleLiveliness},
		"/health/readiness":  {http.MethodGet: s.handleReadiness},
	}
	// The LLM API routes a key is used on, with and without /v1 like LiteLLM.
	for _, prefix := range []string{"", "/v1"} {
		s.routes[prefix+"/models"] = map[string]http.HandlerFunc{http.MethodGet: s.handleModels}
		s.routes[prefix+"/chat/completions"] = map[string]http.HandlerFunc{http.MethodPost: s.handleChatCompletions}
	}
	return s, nil
}

// Faults returns the faults the server runs with.
func (s *Server) Faults() FaultSet { return s.cfg.Faults }

// FaultSpec returns the faults with their parameters, as --fault takes them.
func (s *Server) FaultSpec() string {
	return s.cfg.Faults.Spec(FaultParams{InvalidationLag: s.cfg.InvalidationLag})
}

// ServeHTTP routes a request. Unknown paths and methods get FastAPI's
// answers; a panic in a handler becomes a 500 in the LiteLLM envelope
// rather than a dropped connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			writeError(w, &apiError{status: 500, typ: "internal_server_error", msg: "Internal server error"})
		}
	}()
	methods, ok := s.routes[r.URL.Path]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
		return
	}
	h, ok := methods[r.Method]
	if !ok {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": "Method Not Allowed"})
		return
	}
	h(w, r)
}

// Serve listens on addr and serves until ctx ends, then shuts down
// gracefully. ready (if not nil) receives the bound address once listening.
func (s *Server) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	// ReadTimeout bounds a whole request, body included: a client that
	// stops sending mid-body cannot hold a connection (or a write) open.
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shut)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = 500
		b = []byte(`{"error":{"message":"Internal server error","type":"internal_server_error","param":null,"code":"500"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// paramNone is LiteLLM's param for errors converted from HTTPException: the
// string "None".
const paramNone = "None"

// apiError is a handler's refusal, written in LiteLLM's envelope: either
// {"error": {message, type, param, code}} or, for schema errors, 422
// {"detail": [...]}.
type apiError struct {
	status int
	typ    string
	param  string // "" is written as null
	msg    string
	detail []validationIssue
}

// validationIssue is one entry of a FastAPI 422 detail list.
type validationIssue struct {
	Type  string `json:"type"`
	Loc   []any  `json:"loc"`
	Msg   string `json:"msg"`
	Input any    `json:"input"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }

func writeError(w http.ResponseWriter, e *apiError) {
	if e.detail != nil {
		writeJSON(w, e.status, map[string]any{"detail": e.detail})
		return
	}
	var param any
	if e.param != "" {
		param = e.param
	}
	writeJSON(w, e.status, map[string]any{"error": map[string]any{
		"message": e.msg, "type": e.typ, "param": param, "code": strconv.Itoa(e.status),
	}})
}

func badRequest(msg string) *apiError {
	return &apiError{status: 400, typ: "bad_request_error", param: paramNone, msg: msg}
}

func notFound(msg string) *apiError {
	return &apiError{status: 404, typ: "not_found_error", param: paramNone, msg: msg}
}

func forbidden(typ, msg string) *apiError {
	return &apiError{status: 403, typ: typ, param: paramNone, msg: msg}
}

func unprocessable(issues ...validationIssue) *apiError {
	return &apiError{status: 422, detail: issues, msg: issues[0].Msg}
}

func missingField(loc ...any) *apiError {
	return unprocessable(validationIssue{Type: "missing", Loc: append([]any{"body"}, loc...), Msg: "Field required"})
}

// internal maps a store failure that is not the caller's fault.
func internal(err error) *apiError {
	if errors.Is(err, ErrUnstorable) {
		return badRequest("Invalid value: " + err.Error())
	}
	return &apiError{status: 500, typ: "internal_server_error", msg: "Internal server error: " + err.Error()}
}

// decode reads a JSON object body into v. Bodies over the limit get 413
// and bodies that end early 400, before anything is decoded; malformed
// JSON, trailing data and wrong types get FastAPI's 422 detail list (see
// checkShape). Only a body read whole and valid reaches the handler.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) *apiError {
	tooLarge := &apiError{status: http.StatusRequestEntityTooLarge, typ: "bad_request_error", param: paramNone,
		msg: fmt.Sprintf("Request body too large: limit is %d bytes", s.cfg.MaxBody)}
	if r.ContentLength > s.cfg.MaxBody {
		return tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return tooLarge
		}
		return badRequest("Could not read the request body: " + err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		if errors.Is(err, io.EOF) {
			return missingField()
		}
		return jsonInvalid(err)
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return jsonInvalid(fmt.Errorf("extra data after the JSON value: %.20q", rest))
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		return unprocessable(validationIssue{Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: tree})
	}
	issue, changed := checkShape(obj, reflect.TypeOf(v).Elem(), []any{"body"})
	if issue != nil {
		return unprocessable(*issue)
	}
	if changed {
		if body, err = json.Marshal(obj); err != nil {
			return jsonInvalid(err)
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			loc := []any{"body"}
			for _, p := range strings.Split(te.Field, ".") {
				if p != "" {
					loc = append(loc, p)
				}
			}
			return unprocessable(validationIssue{Type: pyType(te.Type.Kind().String()) + "_type", Loc: loc,
				Msg: "Input should be a valid " + pyType(te.Type.Kind().String()), Input: te.Value})
		}
		return jsonInvalid(err)
	}
	return nil
}

func jsonInvalid(err error) *apiError {
	return unprocessable(validationIssue{Type: "json_invalid", Loc: []any{"body", 0}, Msg: "JSON decode error: " + err.Error(), Input: map[string]any{}})
}

// pyType names a Go kind the way pydantic names the expected type.
func pyType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "map", "struct", "ptr":
		return "dictionary"
	case "float64", "float32":
		return "number"
	default:
		if strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint") {
			return "integer"
		}
		return kind
	}
}
