package wire

import (
	"slices"
	"testing"
)

func TestPyStr(t *testing.T) {
	cases := []struct{ in, want string }{
		{"G1", `'G1'`},
		{"", `''`},
		{"o'brien", `"o'brien"`},
		{`say "hi"`, `'say "hi"'`},
		{`it's "x"`, `'it\'s "x"'`},
		{`back\slash`, `'back\\slash'`},
		{"line\nbreak\ttab", `'line\nbreak\ttab'`},
		{"bell\x07", `'bell\x07'`},
		{"naïve", `'naïve'`},
		// Python escapes what str.isprintable() refuses (values from
		// CPython 3.11's repr).
		{"a\u00a0b", `'a\xa0b'`},
		{"c\u2028d", `'c\u2028d'`},
		{"e\u200bf", `'e\u200bf'`},
		{"g\u0085h", `'g\x85h'`},
		{"i\u00adj", `'i\xadj'`},
		{"k\ufffdl", "'k\ufffdl'"},
		{"\x00\x7f", `'\x00\x7f'`},
		{"emoji\U0001F600", "'emoji\U0001F600'"},
		{"priv\ue000", `'priv\ue000'`},
		{"\U000e0001tag", `'\U000e0001tag'`},
		{"ZW\u200djoin", `'ZW\u200djoin'`},
	}
	for _, c := range cases {
		if got := PyStr(c.in); got != c.want {
			t.Errorf("PyStr(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestPyList(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{nil, "[]"},
		{[]string{"b", "a", "b"}, "['a', 'b']"},
		{[]string{"G2", "G1"}, "['G1', 'G2']"},
		{[]string{"o'brien", "a"}, `['a', "o'brien"]`},
		{[]string{"B", "a"}, "['B', 'a']"}, // Python sorts by code point
	}
	for _, c := range cases {
		if got := PyList(c.in); got != c.want {
			t.Errorf("PyList(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestParsePyList(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		n    int
	}{
		{"[]", []string{}, 2},
		{"['G1'].", []string{"G1"}, 6},
		{`['a', "o'brien"]`, []string{"a", "o'brien"}, 16},
		{`['x\'y', 'z\\']`, []string{"x'y", `z\`}, 15},
		{`['a',]`, []string{"a"}, 6},
		{`['\u00e9\x41']`, []string{"éA"}, 14},
	}
	for _, c := range cases {
		got, n, err := ParsePyList(c.in)
		if err != nil || !slices.Equal(got, c.want) || n != c.n {
			t.Errorf("ParsePyList(%s) = %q, %d, %v; want %q, %d", c.in, got, n, err, c.want, c.n)
		}
	}
	for _, bad := range []string{"", "[", "['a'", "['a' 'b']", "[a]", `['\q']`, `['\x4']`, "('a')"} {
		if _, _, err := ParsePyList(bad); err == nil {
			t.Errorf("ParsePyList(%q) accepted malformed input", bad)
		}
	}
}

func TestParseNotAllowed(t *testing.T) {
	cases := []struct {
		name string
		msg  string
		want NotAllowed
	}{
		{"groups", MsgGroupsNotAllowed("team-1", []string{"G2"}, []string{"G1"}),
			NotAllowed{Kind: KindMCPAccessGroup, TeamID: "team-1", Requested: []string{"G2"}, Allowed: []string{"G1"}}},
		{"servers", MsgServersNotAllowed("t", []string{"s3"}, []string{"s1", "s2"}, nil),
			NotAllowed{Kind: KindMCPServers, TeamID: "t", Requested: []string{"s3"}, Allowed: []string{"s1", "s2"}, Global: []string{}}},
		{"double-quoted items", MsgGroupsNotAllowed("t", []string{"o'x"}, []string{"it's", "b"}),
			NotAllowed{Kind: KindMCPAccessGroup, TeamID: "t", Requested: []string{"o'x"}, Allowed: []string{"b", "it's"}}},
		{"empty allow-list", MsgGroupsNotAllowed("t", []string{"G1"}, nil),
			NotAllowed{Kind: KindMCPAccessGroup, TeamID: "t", Requested: []string{"G1"}, Allowed: []string{}}},
		{"embedded in other text", "{'error': \"" + MsgGroupsNotAllowed("t", []string{"a"}, []string{"b"}) + "\"}",
			NotAllowed{Kind: KindMCPAccessGroup, TeamID: "t", Requested: []string{"a"}, Allowed: []string{"b"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseNotAllowed(c.msg)
			if !ok {
				t.Fatalf("not parsed: %s", c.msg)
			}
			if got.Kind != c.want.Kind || got.TeamID != c.want.TeamID || !slices.Equal(got.Requested, c.want.Requested) ||
				!slices.Equal(got.Allowed, c.want.Allowed) || !slices.Equal(got.Global, c.want.Global) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	for _, msg := range []string{"", "No keys found", MsgTeamlessGroups([]string{"a"}), "Key requests MCP access groups not allowed by team 't': ['a']"} {
		if na, ok := ParseNotAllowed(msg); ok {
			t.Errorf("ParseNotAllowed(%q) = %+v, want no match", msg, na)
		}
	}
}

// FuzzPyListRoundTrip checks that whatever PyList prints, ParsePyList reads
// back as the same sorted set, and that ParsePyList never panics.
func FuzzPyListRoundTrip(f *testing.F) {
	f.Add("G1", "G2", "o'brien")
	f.Add("", "\\", "\"'")
	f.Add("\x00\n", "é", "]', '")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c}
		s := PyList(in)
		got, n, err := ParsePyList(s)
		if err != nil || n != len(s) {
			t.Fatalf("ParsePyList(%s) = %q, %d, %v", s, got, n, err)
		}
		want := slices.Compact(slices.Sorted(slices.Values(in)))
		if !slices.Equal(got, want) {
			// Invalid UTF-8 is rendered as U+FFFD, like Python's decode with
			// replacement; compare only valid input exactly.
			for _, x := range in {
				if !validUTF8(x) {
					return
				}
			}
			t.Fatalf("round trip %q -> %s -> %q", in, s, got)
		}
		_, _, _ = ParsePyList(a + b + c)
	})
}

// FuzzParseNotAllowed checks that a rendered refusal is always parsed back.
func FuzzParseNotAllowed(f *testing.F) {
	f.Add("team-1", "G2", "G1")
	f.Add("it's", "o'x", "a\"b")
	f.Fuzz(func(t *testing.T, team, asked, allowed string) {
		for _, x := range []string{team, asked, allowed} {
			if !validUTF8(x) {
				return
			}
		}
		msg := MsgGroupsNotAllowed(team, []string{asked}, []string{allowed})
		na, ok := ParseNotAllowed(msg)
		if !ok || na.TeamID != team || !slices.Equal(na.Requested, []string{asked}) || !slices.Equal(na.Allowed, []string{allowed}) {
			t.Fatalf("ParseNotAllowed(%s) = %+v, %v", msg, na, ok)
		}
	})
}
