package run

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// mixedShape is the golden generated run: a few teams of every kind on a
// replica whose cache lags 4 ms, plus a member storm.
var mixedShape = genShape{teams: 2, decides: 24, lagMs: 4, members: true}

// goldenRuns are the histories whose run folders are pinned under
// fixtures/runs/<name>: every saved history fixture, and the generated
// mixed run (its history is kept there too).
func goldenRuns(t *testing.T) map[string]history.History {
	t.Helper()
	runs := map[string]history.History{}
	for _, f := range loadHistoryFixtures(t) {
		runs[f.name] = loadHistory(t, f.path)
	}
	mixed := filepath.Join(runFixtures, "mixed", HistoryFile)
	if *update {
		if err := os.MkdirAll(filepath.Dir(mixed), 0o755); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := history.Save(&b, genRun(7, mixedShape)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(mixed, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runs["mixed"] = loadHistory(t, mixed)
	return runs
}

// TestGolden writes the run folder of every golden run and compares
// summary.json, summary.md and repro.sh with fixtures/runs/<name>/
// (rewrite them with go test ./reports/run -run TestGolden -update).
func TestGolden(t *testing.T) {
	for name, h := range goldenRuns(t) {
		t.Run(name, func(t *testing.T) {
			in := inputFor(t, h)
			dir := t.TempDir()
			if err := Write(dir, in); err != nil {
				t.Fatal(err)
			}
			want := []string{HistoryFile, MarkdownFile, ReportFile, SummaryFile}
			if wantsRepro(in.History, in.Result) {
				want = append(want, ReproFile)
			}
			slices.Sort(want)
			if got := listDir(t, dir); !slices.Equal(got, want) {
				t.Errorf("run folder holds %v, want %v", got, want)
			}
			golden := filepath.Join(runFixtures, name)
			for _, f := range []string{SummaryFile, MarkdownFile, ReproFile} {
				got, err := os.ReadFile(filepath.Join(dir, f))
				if os.IsNotExist(err) {
					if _, err := os.Stat(filepath.Join(golden, f)); err == nil && !*update {
						t.Errorf("%s not written but %s has one", f, golden)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				compareGolden(t, filepath.Join(golden, f), got)
			}
		})
	}
}

// wantsRepro: a run gets repro.sh when it has a violation a request
// sequence can reproduce (not a non-linearizable one alone).
func wantsRepro(h history.History, res check.Result) bool {
	v := featured(res.Violations)
	return v != nil && v.Kind != check.NonLinearizable
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports/run -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./reports/run -run TestGolden -update and review the diff):\n%s",
			path, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first differing line.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return "(same lines, different bytes)"
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

// TestSummaryMatchesResult checks the summary's numbers against the check
// result and the history they come from, for every golden run.
func TestSummaryMatchesResult(t *testing.T) {
	for name, h := range goldenRuns(t) {
		in := inputFor(t, h)
		s := Summarize(in)
		if s.Verdict != in.Result.Verdict || s.Violations != len(in.Result.Violations) {
			t.Errorf("%s: summary says %s/%d, result %s/%d", name, s.Verdict, s.Violations, in.Result.Verdict, len(in.Result.Violations))
		}
		for _, k := range check.Kinds {
			if s.ViolationsByKind[k] != in.Result.Counts[k] {
				t.Errorf("%s: %s: summary %d, result %d", name, k, s.ViolationsByKind[k], in.Result.Counts[k])
			}
		}
		total := 0
		for _, n := range s.StatusCodes {
			total += n
		}
		if total != len(h.Ops) || s.Ops != len(h.Ops) {
			t.Errorf("%s: status codes count %d ops, history has %d", name, total, len(h.Ops))
		}
		if n := min(len(in.Result.Violations), EvidenceLimit); len(s.FirstViolations) != n {
			t.Errorf("%s: %d violations with evidence, want %d", name, len(s.FirstViolations), n)
		}
		for _, l := range append(s.Latency.ByEndpoint, s.Latency.Overall) {
			if !(l.P50Ms <= l.P90Ms && l.P90Ms <= l.P99Ms && l.P99Ms <= l.MaxMs) {
				t.Errorf("%s: latency percentiles out of order: %+v", name, l)
			}
		}
		if st := s.Staleness; st.Count > 0 && !(st.MinMs <= st.P50Ms && st.P50Ms <= st.P90Ms && st.P90Ms <= st.MaxMs) {
			t.Errorf("%s: staleness out of order: %+v", name, st)
		}
		if s.MaxLagMs != ms(in.Result.MaxLag) {
			t.Errorf("%s: max lag %v ms, result %v", name, s.MaxLagMs, in.Result.MaxLag)
		}
	}
}

func TestQuantile(t *testing.T) {
	xs := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {0.1, 1}, {0, 1}, {1, 10}} {
		if got := quantile(xs, c.q); got != c.want {
			t.Errorf("quantile(%v) = %d, want %d", c.q, got, c.want)
		}
	}
	if got := quantile([]int64{42}, 0.99); got != 42 {
		t.Errorf("one value: %d", got)
	}
}

func TestStalenessBuckets(t *testing.T) {
	for _, c := range []struct {
		ms   float64
		want int
	}{{0, 0}, {0.5, 0}, {1, 1}, {1.9, 1}, {2, 2}, {59999, 11}, {60000, 12}, {1e9, 12}} {
		if got := bucketOf(c.ms); got != c.want {
			t.Errorf("bucketOf(%v) = %d, want %d", c.ms, got, c.want)
		}
	}
}
