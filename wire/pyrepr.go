// Package wire holds the LiteLLM management contract as keyrace understands it:
// request and response shapes, the error envelope, the exact message
// templates, and Python's list repr that those templates embed.
//
// Both the reference service (which writes these bodies) and the client
// (which reads bodies from any proxy) use it, so the two cannot drift apart.
package wire

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PyStr renders s the way Python's repr() renders a str: single quotes,
// unless s contains a single quote and no double quote, in which case double
// quotes; backslashes, the chosen quote and control characters are escaped.
func PyStr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsPrint(r) || r == utf8.RuneError:
			// Python prints what str.isprintable() accepts: every letter,
			// mark, number, punctuation and symbol, and the ASCII space
			// (unicode.IsPrint's set). U+FFFD is a symbol; invalid UTF-8,
			// which no JSON string decodes to, is shown as it.
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// PyList renders items as Python renders sorted(set(items)): deduplicated,
// sorted, "['a', 'b']", and "[]" when empty. LiteLLM's templates interpolate
// lists this way.
func PyList(items []string) string {
	set := make([]string, 0, len(items))
	set = append(set, items...)
	sort.Strings(set)
	set = dedupSorted(set)
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(PyStr(s))
	}
	b.WriteByte(']')
	return b.String()
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// ErrPyRepr reports text that is not a Python repr of the expected kind.
var ErrPyRepr = errors.New("not a python repr")

// ParsePyStr reads one Python string literal (single or double quoted) at the
// start of s and returns its value and the number of bytes consumed.
func ParsePyStr(s string) (string, int, error) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", 0, fmt.Errorf("%w: expected a quote", ErrPyRepr)
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("%w: dangling escape", ErrPyRepr)
			}
			i++
			n, err := unescape(&b, s[i:])
			if err != nil {
				return "", 0, err
			}
			i += n - 1
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("%w: unterminated string", ErrPyRepr)
}

// unescape writes the value of the escape sequence that starts at s (just
// after the backslash) and returns how many bytes of s it used.
func unescape(b *strings.Builder, s string) (int, error) {
	switch s[0] {
	case '\\', '\'', '"':
		b.WriteByte(s[0])
		return 1, nil
	case 'n':
		b.WriteByte('\n')
		return 1, nil
	case 'r':
		b.WriteByte('\r')
		return 1, nil
	case 't':
		b.WriteByte('\t')
		return 1, nil
	case 'x', 'u', 'U':
		width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[0]]
		if len(s) < 1+width {
			return 0, fmt.Errorf("%w: short \\%c escape", ErrPyRepr, s[0])
		}
		var r rune
		for _, h := range s[1 : 1+width] {
			v := hexVal(byte(h))
			if v < 0 {
				return 0, fmt.Errorf("%w: bad hex digit in escape", ErrPyRepr)
			}
			r = r<<4 | rune(v)
		}
		if r > utf8.MaxRune {
			return 0, fmt.Errorf("%w: escape out of range", ErrPyRepr)
		}
		b.WriteRune(r)
		return 1 + width, nil
	}
	return 0, fmt.Errorf("%w: unknown escape \\%c", ErrPyRepr, s[0])
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// ParsePyList reads a Python list of strings ("['a', \"b'c\"]", "[]") at the
// start of s and returns the items in order and the bytes consumed.
func ParsePyList(s string) ([]string, int, error) {
	if s == "" || s[0] != '[' {
		return nil, 0, fmt.Errorf("%w: expected '['", ErrPyRepr)
	}
	items := []string{}
	i := 1
	for {
		i += skipSpace(s[i:])
		if i >= len(s) {
			return nil, 0, fmt.Errorf("%w: unterminated list", ErrPyRepr)
		}
		if s[i] == ']' {
			return items, i + 1, nil
		}
		if len(items) > 0 {
			if s[i] != ',' {
				return nil, 0, fmt.Errorf("%w: expected ',' in list", ErrPyRepr)
			}
			i++
			i += skipSpace(s[i:])
			if i < len(s) && s[i] == ']' { // Python allows a trailing comma.
				return items, i + 1, nil
			}
		}
		v, n, err := ParsePyStr(s[i:])
		if err != nil {
			return nil, 0, err
		}
		items = append(items, v)
		i += n
	}
}

func skipSpace(s string) int {
	n := 0
	for n < len(s) && (s[n] == ' ' || s[n] == '\t' || s[n] == '\n') {
		n++
	}
	return n
}

// PyFloat renders f as Python's str() renders a float: "0.0", "1.5",
// "1e-05", "1e+16", "inf". LiteLLM's budget messages interpolate floats so.
func PyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	// Python uses scientific notation when the decimal exponent is below -4
	// or at least 16, with the shortest digits that round-trip; Go's 'e'
	// format writes the same digits and a two-digit minimum exponent.
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	if exp, err := strconv.Atoi(sci[strings.IndexByte(sci, 'e')+1:]); err == nil && f != 0 && (exp < -4 || exp >= 16) {
		return sci
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// PyOptStr renders an optional string the way an f-string does: the text
// itself, or None when it is empty.
func PyOptStr(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

// PyMembers renders members_with_roles as Python's repr of a list of
// LiteLLM Member models, in stored order:
// [Member(user_id='u1', user_email=None, role='admin')].
func PyMembers(ms []Member) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, m := range ms {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "Member(user_id=%s, user_email=%s, role=%s)", pyOptRepr(m.UserID), pyOptRepr(m.UserEmail), PyStr(m.Role))
	}
	b.WriteByte(']')
	return b.String()
}

func pyOptRepr(s string) string {
	if s == "" {
		return "None"
	}
	return PyStr(s)
}
