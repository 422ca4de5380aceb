package refimpl

import (
	"regexp"
	"slices"
	"testing"

	"github.com/keyrace/keyrace/wire"
)

func listKeys(f *famSvc, key, query string) wire.KeyListResponse {
	f.t.Helper()
	var out wire.KeyListResponse
	f.ok(key, "GET", "/key/list"+query, nil, &out)
	return out
}

func tokensOf(r wire.KeyListResponse) []string {
	out := make([]string, 0, len(r.Keys))
	for _, e := range r.Keys {
		out = append(out, e.Token)
	}
	return out
}

// TestKeyListAdmin: pagination, filters and the two entry forms.
func TestKeyListAdmin(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1"})
	var all []string
	for _, body := range []map[string]any{
		{"team_id": "t1", "user_id": "u1", "key_alias": "a"}, {"team_id": "t1", "user_id": "u2"}, {"user_id": "u1"},
	} {
		all = append(all, hashKey(f.newKey(body)))
	}

	r := listKeys(f, famMaster, "")
	if !slices.Equal(tokensOf(r), all) || r.TotalCount != 3 || r.CurrentPage != 1 || r.TotalPages != 1 {
		t.Fatalf("default page: %+v", r)
	}
	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, e := range r.Keys {
		if e.Key != nil || !hex.MatchString(e.Token) {
			t.Fatalf("entries must be token hashes by default: %+v", e)
		}
	}
	r = listKeys(f, famMaster, "?size=2&page=2")
	if !slices.Equal(tokensOf(r), all[2:]) || r.TotalCount != 3 || r.CurrentPage != 2 || r.TotalPages != 2 {
		t.Fatalf("page 2 of 2: %+v", r)
	}
	if r := listKeys(f, famMaster, "?size=2&page=9"); len(r.Keys) != 0 || r.TotalCount != 3 || r.TotalPages != 2 {
		t.Fatalf("past the end: %+v", r)
	}
	if r := listKeys(f, famMaster, "?page=9223372036854775807&size=100"); len(r.Keys) != 0 {
		t.Fatalf("huge page: %+v", r)
	}
	for q, want := range map[string][]string{
		"?team_id=t1":             all[:2],
		"?user_id=u1":             {all[0], all[2]},
		"?key_alias=a":            all[:1],
		"?team_id=t1&user_id=u2":  all[1:2],
		"?team_id=none":           {},
		"?team_id=t1&key_alias=b": {},
	} {
		if got := tokensOf(listKeys(f, famMaster, q)); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", q, got, want)
		}
	}
	r = listKeys(f, famMaster, "?return_full_object=true&key_alias=a")
	if len(r.Keys) != 1 || r.Keys[0].Key == nil || r.Keys[0].Token != all[0] || *r.Keys[0].Key.KeyAlias != "a" || *r.Keys[0].Key.TeamID != "t1" {
		t.Fatalf("full object: %+v", r.Keys)
	}
	if r := listKeys(f, famMaster, "?team_id=none"); r.TotalPages != 0 || r.Keys == nil {
		t.Fatalf("empty result: %+v", r)
	}
}

// TestKeyListScoping: a non-admin sees only their own keys; naming another
// user or a team they are not in is 403.
func TestKeyListScoping(t *testing.T) {
	f := newFam(t, Config{})
	f.newTeam(map[string]any{"team_id": "t1", "members_with_roles": []any{map[string]any{"user_id": "u1", "role": "user"}}})
	f.newTeam(map[string]any{"team_id": "t2"})
	mine1 := f.newKey(map[string]any{"user_id": "u1"})
	mine2 := f.newKey(map[string]any{"user_id": "u1", "team_id": "t1"})
	f.newKey(map[string]any{"user_id": "u2", "team_id": "t1"})
	f.newKey(map[string]any{"user_id": "u2"})
	anon := f.newKey(map[string]any{})

	if got := tokensOf(listKeys(f, mine1, "")); !slices.Equal(got, []string{hashKey(mine1), hashKey(mine2)}) {
		t.Fatalf("own keys: %v", got)
	}
	if got := tokensOf(listKeys(f, mine1, "?user_id=u1&team_id=t1")); !slices.Equal(got, []string{hashKey(mine2)}) {
		t.Fatalf("own team keys: %v", got)
	}
	if got := tokensOf(listKeys(f, anon, "")); !slices.Equal(got, []string{hashKey(anon)}) {
		t.Fatalf("a key without user sees only itself: %v", got)
	}
	f.call(mine1, "GET", "/key/list?user_id=u2", nil).want(t, 403, "", "You are not authorized to check another user's keys")
	f.call(mine1, "GET", "/key/list?team_id=t2", nil).want(t, 403, "", "You are not authorized to check this team's keys")
	f.call(mine1, "GET", "/key/list?team_id=nope", nil).want(t, 403, "", "this team's keys")
	f.call(anon, "GET", "/key/list?user_id=u1", nil).want(t, 403, "", "another user's keys")
	f.call("", "GET", "/key/list", nil).want(t, 401, "", "No api key passed in")
}

// TestKeyListBadQuery: FastAPI's 422 for out-of-range or unparsable query
// values.
func TestKeyListBadQuery(t *testing.T) {
	f := newFam(t, Config{})
	for q, loc := range map[string][]any{
		"?page=0":                     {"query", "page"},
		"?page=-3":                    {"query", "page"},
		"?page=two":                   {"query", "page"},
		"?size=0":                     {"query", "size"},
		"?size=101":                   {"query", "size"},
		"?size=1e3":                   {"query", "size"},
		"?page=99999999999999999999":  {"query", "page"},
		"?return_full_object=perhaps": {"query", "return_full_object"},
	} {
		t.Run(q, func(t *testing.T) { f.call(famMaster, "GET", "/key/list"+q, nil).wantDetail(t, loc...) })
	}
	f.call(famMaster, "POST", "/key/list", nil).want(t, 405, "", "")
}
