package seq

import (
	"encoding/json"
	"strings"
)

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }
