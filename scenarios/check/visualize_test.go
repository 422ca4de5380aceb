package check

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/keyrace/keyrace/scenarios/history"
)

func TestVisualize(t *testing.T) {
	f, err := os.Open(fixtureDir + "/stale-allow.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := history.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Visualize(h, teamA, &buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{"<html", "write ['G1']", "decide 'G2' → allowed", "stale-allow", "granted 'G2', which write op 2"} {
		if !strings.Contains(html, want) {
			t.Errorf("visualisation lacks %q", want)
		}
	}
	if strings.Contains(html, teamB) {
		t.Error("visualisation of one team shows another")
	}
	if err := Visualize(h, "no-such-team", &buf); err == nil || !strings.Contains(err.Error(), "no operations") {
		t.Errorf("unknown team: error %v", err)
	}
	h.Header.Consistency = "eventually"
	if err := Visualize(h, teamA, &buf); err == nil {
		t.Error("bad consistency in header: no error")
	}
}

func TestVisualizePendingAndMembers(t *testing.T) {
	b := newHB("viz")
	b.initial(teamA, "G1")
	b.writeUnknown(teamA, 0, 1, "G1", "G2")
	b.allow(teamA, "G2", 1, 5, 6)
	b.memberAdd(teamA, "alice", 0, 0, 2)
	b.readMembers(teamA, 1, 3, 4, "alice")
	var buf bytes.Buffer
	if err := Visualize(b.h, teamA, &buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"→ unknown outcome", "read members → ['alice']", "members ['alice']"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("visualisation lacks %q", want)
		}
	}
}
