package run

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyrace/keyrace/scenarios/check"
)

// TestRecheckFixtures re-checks every saved history fixture from a run
// folder, both one Write made and one holding nothing but history.jsonl,
// and compares with the fixture's expected verdict.
func TestRecheckFixtures(t *testing.T) {
	for _, f := range loadHistoryFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			h := loadHistory(t, f.path)
			opts := headerOptions(t, h)
			written := t.TempDir()
			if err := Write(written, inputFor(t, h)); err != nil {
				t.Fatal(err)
			}
			res, h2, err := Recheck(written, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(h2.Ops) != len(h.Ops) || h2.Header.Scenario != h.Header.Scenario {
				t.Errorf("recheck loaded %d ops of %q, want %d of %q", len(h2.Ops), h2.Header.Scenario, len(h.Ops), h.Header.Scenario)
			}
			expectResult(t, res, f.expect)

			bare := t.TempDir()
			src, err := os.ReadFile(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bare, HistoryFile), src, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err = Rewrite(bare, opts)
			if err != nil {
				t.Fatal(err)
			}
			expectResult(t, res, f.expect)
			s, err := LoadSummary(bare)
			if err != nil {
				t.Fatal(err)
			}
			if s.Verdict != f.expect.Verdict || !s.Rechecked || s.Faults != "" || s.KeyraceVersion != "" {
				t.Errorf("summary of a bare folder: verdict %s rechecked %v faults %q version %q", s.Verdict, s.Rechecked, s.Faults, s.KeyraceVersion)
			}
			_, err = os.Stat(filepath.Join(bare, ReproFile))
			if hasRepro := err == nil; hasRepro != wantsRepro(h, res) {
				t.Errorf("repro.sh written: %v, verdict %s", hasRepro, f.expect.Verdict)
			}
			if got, _ := os.ReadFile(filepath.Join(bare, HistoryFile)); !bytes.Equal(got, src) {
				t.Error("Rewrite changed history.jsonl")
			}
		})
	}
}

func expectResult(t *testing.T, res check.Result, e expectation) {
	t.Helper()
	if res.Verdict != e.Verdict || res.Lagging != e.Lagging || res.MaxLag != e.MaxLag {
		t.Errorf("verdict %s lagging %d max lag %v, want %s %d %v", res.Verdict, res.Lagging, res.MaxLag, e.Verdict, e.Lagging, e.MaxLag)
	}
	for _, k := range check.Kinds {
		if res.Counts[k] != e.Counts[k] {
			t.Errorf("%s: %d, want %d", k, res.Counts[k], e.Counts[k])
		}
	}
}

// TestRewriteAfterFix is `keyrace report DIR` after a model change: the
// same folder re-evaluated under a mode that tolerates its lag passes,
// keeps the run's facts, and loses its repro.sh.
func TestRewriteAfterFix(t *testing.T) {
	h := loadHistory(t, filepath.Join(historyFixtures, "stale-deny.jsonl"))
	dir := t.TempDir()
	if err := Write(dir, inputFor(t, h)); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ReproFile)); err != nil {
		t.Fatalf("violating run without repro.sh: %v", err)
	}
	res, err := Rewrite(dir, check.Options{Consistency: check.Bounded(10 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != check.VerdictOK || res.Lagging != 2 {
		t.Fatalf("bounded:10ms: %s, %d lagging; want ok, 2", res.Verdict, res.Lagging)
	}
	s, err := LoadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Verdict != check.VerdictOK || s.Consistency != "bounded:10ms" || !s.Rechecked || s.Lagging != 2 {
		t.Errorf("summary after rewrite: %s %s rechecked=%v lagging=%d", s.Verdict, s.Consistency, s.Rechecked, s.Lagging)
	}
	if s.Description != fixedFacts.Description || s.Faults != fixedFacts.Faults || s.KeyraceVersion != fixedFacts.Version ||
		s.Start == nil || !s.Start.Equal(fixedFacts.Start) || s.TargetRatePerS != fixedFacts.Rate || s.Pacer != fixedFacts.Pacer {
		t.Errorf("facts not kept: %+v", s)
	}
	if _, err := os.Stat(filepath.Join(dir, ReproFile)); !os.IsNotExist(err) {
		t.Errorf("repro.sh still there after the run passed (%v)", err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if !strings.Contains(string(md), "PASS — 0 violations") || strings.Contains(string(md), "### Reproduce") {
		t.Errorf("summary.md after rewrite:\n%s", md)
	}
	after, _ := os.ReadFile(filepath.Join(dir, HistoryFile))
	if !bytes.Equal(before, after) {
		t.Error("Rewrite changed history.jsonl")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestRecheckErrors(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "a-file")
	empty := filepath.Join(root, "empty")
	corrupt := filepath.Join(root, "corrupt")
	wrongFormat := filepath.Join(root, "wrong-format")
	badSummary := filepath.Join(root, "bad-summary")
	for _, d := range []string{empty, corrupt, wrongFormat, badSummary} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.ReadFile(filepath.Join(historyFixtures, "stale-deny.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(src), "\n")
	mustWrite(t, file, "x")
	mustWrite(t, filepath.Join(corrupt, HistoryFile), lines[0]+lines[1]+"{not json\n")
	mustWrite(t, filepath.Join(wrongFormat, HistoryFile), `{"format":"keyrace-history/v0"}`+"\n")
	mustWrite(t, filepath.Join(badSummary, HistoryFile), string(src))
	mustWrite(t, filepath.Join(badSummary, SummaryFile), "{")

	for _, c := range []struct {
		dir     string
		rewrite bool
		want    []string
	}{
		{filepath.Join(root, "missing"), false, []string{"does not exist"}},
		{file, false, []string{"not a directory"}},
		{empty, false, []string{"has no history.jsonl"}},
		{corrupt, false, []string{"corrupt", "line 3"}},
		{wrongFormat, false, []string{"corrupt", "keyrace-history/v0"}},
		{badSummary, true, []string{"summary.json is corrupt"}},
	} {
		var err error
		if c.rewrite {
			_, err = Rewrite(c.dir, check.Options{})
		} else {
			_, _, err = Recheck(c.dir, check.Options{})
		}
		if err == nil {
			t.Errorf("%s: no error", c.dir)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) || !strings.Contains(err.Error(), c.dir) {
				t.Errorf("%s: error %q lacks %q or the folder", c.dir, err, w)
			}
		}
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
