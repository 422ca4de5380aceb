package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/keyrace/keyrace/wire"
)

// Variant names the envelope an error body came in.
type Variant string

// The envelopes LiteLLM-compatible proxies are known to send.
const (
	// VariantEnvelope is {"error": {"message", "type", "param", "code"}}.
	VariantEnvelope Variant = "error-envelope"
	// VariantEnvelopeDictRepr is the envelope whose message is a Python dict
	// repr wrapping the text, as LiteLLM 1.83 /key/generate sends it.
	VariantEnvelopeDictRepr Variant = "error-envelope-dict-repr"
	// VariantErrorString is {"error": "<text>"}.
	VariantErrorString Variant = "error-string"
	// VariantDetailString is FastAPI's {"detail": "<text>"}.
	VariantDetailString Variant = "detail-string"
	// VariantDetailObject is {"detail": {"error": "<text>"}} (an unconverted
	// HTTPException) or {"detail": {"message": "<text>"}}.
	VariantDetailObject Variant = "detail-object"
	// VariantDetailList is FastAPI's 422 {"detail": [{"loc", "msg", ...}]}.
	VariantDetailList Variant = "detail-list"
	// VariantUnparsed is a body that is none of the above (HTML, text, junk).
	VariantUnparsed Variant = "unparsed"
)

// APIError is a non-2xx answer from a proxy, parsed from whichever envelope
// it came in.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Variant is the envelope the body used.
	Variant Variant
	// Message is the human text, unwrapped from any dict repr.
	Message string
	// Type, Param and Code are the envelope fields when present ("" if not);
	// Code is kept as text whether the proxy sent a string or a number.
	Type, Param, Code string
	// NotAllowed is set when Message is a "not allowed by team" refusal.
	NotAllowed *wire.NotAllowed
	// Body is the raw response body (possibly truncated by the client).
	Body []byte
}

// Error renders the status and the message.
func (e *APIError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// AsAPIError returns the *APIError inside err, if any.
func AsAPIError(err error) (*APIError, bool) {
	var ae *APIError
	ok := errors.As(err, &ae)
	return ae, ok
}

// ParseError reads an error body in any known envelope. It never fails: a
// body it cannot read comes back as VariantUnparsed with a snippet of the
// body as the message.
func ParseError(status int, body []byte) *APIError {
	e := &APIError{Status: status, Body: body, Variant: VariantUnparsed}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		e.Message = snippet(body)
		return e
	}
	if raw, ok := top["error"]; ok {
		parseErrorField(e, raw)
	} else if raw, ok := top["detail"]; ok {
		parseDetailField(e, raw)
	}
	if e.Variant == VariantUnparsed {
		e.Message = snippet(body)
		return e
	}
	if na, ok := wire.ParseNotAllowed(e.Message); ok {
		e.NotAllowed = &na
	}
	return e
}

func parseErrorField(e *APIError, raw json.RawMessage) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		e.Variant, e.Message = VariantErrorString, s
		return
	}
	var env struct {
		Message json.RawMessage `json:"message"`
		Type    *string         `json:"type"`
		Param   json.RawMessage `json:"param"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Message == nil {
		return
	}
	e.Variant = VariantEnvelope
	e.Message = textOf(env.Message)
	if env.Type != nil {
		e.Type = *env.Type
	}
	e.Param = textOf(env.Param)
	e.Code = textOf(env.Code)
	if inner, ok := unwrapDictRepr(e.Message); ok {
		e.Variant, e.Message = VariantEnvelopeDictRepr, inner
	}
}

func parseDetailField(e *APIError, raw json.RawMessage) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		e.Variant, e.Message = VariantDetailString, s
		return
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		for _, k := range []string{"error", "message"} {
			if v, ok := obj[k]; ok {
				e.Variant, e.Message = VariantDetailObject, textOf(v)
				return
			}
		}
		return
	}
	var list []struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	}
	if json.Unmarshal(raw, &list) == nil {
		parts := make([]string, 0, len(list))
		for _, it := range list {
			loc := make([]string, 0, len(it.Loc))
			for _, l := range it.Loc {
				loc = append(loc, fmt.Sprint(l))
			}
			parts = append(parts, strings.Join(loc, ".")+": "+it.Msg)
		}
		e.Variant, e.Message = VariantDetailList, strings.Join(parts, "; ")
	}
}

// textOf renders a JSON scalar as text: strings unquoted, null as "",
// anything else as its JSON.
func textOf(raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// unwrapDictRepr turns "{'error': 'text'}" (any quote style) into "text".
func unwrapDictRepr(msg string) (string, bool) {
	s := strings.TrimSpace(msg)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return "", false
	}
	s = strings.TrimSpace(s[1:])
	_, n, err := wire.ParsePyStr(s)
	if err != nil {
		return "", false
	}
	s = strings.TrimSpace(s[n:])
	if !strings.HasPrefix(s, ":") {
		return "", false
	}
	s = strings.TrimSpace(s[1:])
	val, n, err := wire.ParsePyStr(s)
	if err != nil || strings.TrimSpace(s[n:]) != "}" {
		return "", false
	}
	return val, true
}

func snippet(b []byte) string {
	const max = 200
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
