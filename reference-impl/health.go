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
	body := map[string]any{
		"status":          health,
		"db":              db,
		"store":           s.store.Kind(),
		"cache":           "in-memory",
		"cache_ttl_s":     s.cache.TTL().Seconds(),
		"faults":          s.FaultSpec(),
		"litellm_version": Version,
	}
	if coh := s.cfg.Coherence; coh != nil {
		body["cache"] = "in-memory per replica + " + coh.Kind() + " coherence"
		body["coherence"] = "connected"
		if err := coh.Ready(r.Context()); err != nil {
			// Still serving, and still correct: cached entries are not served
			// and writes are refused until the tier is back.
			body["coherence"] = "unreachable: " + err.Error() + " (decisions read the store; writes are refused)"
			body["status"] = "degraded"
		} else if recent := s.coh.recent(); recent != "" {
			body["coherence"] = "connected (recent failure: " + recent + ")"
		}
	}
	writeJSON(w, status, body)
}
