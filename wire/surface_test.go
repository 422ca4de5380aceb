package wire

import (
	"encoding/json"
	"math"
	"testing"
)

func TestPyFloat(t *testing.T) {
	tenth := 0.1 // a variable, so that 0.1+0.2 is computed in float64, not as an exact constant
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {1, "1.0"}, {-1, "-1.0"}, {0.5, "0.5"}, {tenth + 0.2, "0.30000000000000004"},
		{1e-4, "0.0001"}, {1e-5, "1e-05"}, {2.5e-7, "2.5e-07"}, {1e15, "1000000000000000.0"},
		{1e16, "1e+16"}, {123456.75, "123456.75"}, {math.Inf(1), "inf"}, {math.NaN(), "nan"},
	} {
		if got := PyFloat(tc.in); got != tc.want {
			t.Errorf("PyFloat(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPyMembers(t *testing.T) {
	got := PyMembers([]Member{{UserID: "u1", Role: "admin"}, {UserEmail: "o'b@x", Role: "user"}})
	want := `[Member(user_id='u1', user_email=None, role='admin'), Member(user_id=None, user_email="o'b@x", role='user')]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := PyMembers(nil); got != "[]" {
		t.Fatalf("empty: %s", got)
	}
}

func TestMemberAddMessages(t *testing.T) {
	existing := []Member{{UserID: "u1", Role: "user"}}
	if got, want := MsgAlreadyInTeam("u1", "", existing),
		"User already in team. Member: user_id=u1, user_email=None. Existing members=[Member(user_id='u1', user_email=None, role='user')]"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, want := MsgTeamBudgetExceeded("t1", 0, 0), "Budget has been exceeded! Team=t1 Current cost: 0.0, Max budget: 0.0"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, want := MsgKeyModelDenied([]string{"b", "a"}, "c"), "key not allowed to access model. This key can only access models=['a', 'b']. Tried to access c"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestMemberFieldJSON: the member field keeps whether a single object or a
// list was sent, both ways, and rejects other JSON kinds as a type error.
func TestMemberFieldJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		list bool
		n    int
	}{
		{`{"member": {"user_id": "u", "role": "user"}}`, false, 1},
		{`{"member": [{"user_id": "u", "role": "user"}, {"user_email": "e", "role": "admin"}]}`, true, 2},
		{`{"member": []}`, true, 0},
	} {
		var req TeamMemberAddRequest
		if err := json.Unmarshal([]byte(tc.in), &req); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if req.Member.List != tc.list || len(req.Member.Members) != tc.n {
			t.Fatalf("%s: got %+v", tc.in, req.Member)
		}
		out, err := json.Marshal(req.Member)
		if err != nil {
			t.Fatal(err)
		}
		var back MemberField
		if err := json.Unmarshal(out, &back); err != nil || back.List != tc.list || len(back.Members) != tc.n {
			t.Fatalf("%s: round trip %s -> %+v, %v", tc.in, out, back, err)
		}
	}
	var req TeamMemberAddRequest
	err := json.Unmarshal([]byte(`{"member": "u"}`), &req)
	te, ok := err.(*json.UnmarshalTypeError)
	if !ok || te.Field != "member" {
		t.Fatalf("string member: want a type error on member, got %v", err)
	}
}

func TestKeyListEntryJSON(t *testing.T) {
	var resp KeyListResponse
	body := `{"keys": ["abc", {"token": "def", "key_alias": "a"}], "total_count": 2, "current_page": 1, "total_pages": 1}`
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Keys[0].Token != "abc" || resp.Keys[0].Key != nil || resp.Keys[1].Token != "def" || resp.Keys[1].Key == nil {
		t.Fatalf("got %+v", resp.Keys)
	}
	out, err := json.Marshal(resp.Keys[0])
	if err != nil || string(out) != `"abc"` {
		t.Fatalf("token entry marshals as %s, %v", out, err)
	}
}
