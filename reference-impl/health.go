package refimpl

import (
	"net/http"
)

func (s *Server) handleLiveliness(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, "I'm alive!")
}

// handleReadiness reports the store and cache; it is public like LiteLLM's.
func (s *Server) handleReadiness(w http.ResponseWriter, r *http.Request) {
	db := "Not connected"
	status := http.StatusOK
	health := "healthy"
	if s.store.Kind() != "in-memory" {
		db = "connected"
		if err := s.store.Ready(r.Context()); err != nil {
			db, health, status = "disconnected", "unhealthy", http.StatusServiceUnavailable
		}
	}
	writeJSON(w, status, map[string]any{
		"status":          health,
		"db":              db,
		"store":           s.store.Kind(),
		"cache":           "in-memory",
		"cache_ttl_s":     s.cache.TTL().Seconds(),
		"faults":          s.FaultSpec(),
		"litellm_version": Version,
	})
}
