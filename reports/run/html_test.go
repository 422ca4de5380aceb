package run

import (
	"bytes"
	"context"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyrace/keyrace/scenarios/check"
)

// chromium finds a headless Chromium: $KEYRACE_CHROMIUM, else Debian's
// chromium (apt-get install -y chromium) or a Chrome on PATH. Without one
// the test skips, except under CI=true, where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KEYRACE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "headless Chromium not found: install Debian's chromium (apt-get install -y chromium) or set KEYRACE_CHROMIUM"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: required)")
	}
	t.Skip(msg)
	return ""
}

// dumpDOM loads a file in headless Chromium and returns the DOM after its
// scripts ran (porcupine's, inside the iframe) and the console messages
// Chromium logged.
func dumpDOM(t *testing.T, bin, path string) (dom string, console []string) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--dump-dom", "file://"+abs)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", path, err, stderr.String())
	}
	t.Logf("chromium rendered %s in %v", path, time.Since(start).Round(time.Millisecond))
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") {
			console = append(console, line)
		}
	}
	return stdout.String(), console
}

var (
	countTag   = regexp.MustCompile(`<[a-z]+ [^>]*id="violation-count"[^>]*>`)
	dataViol   = regexp.MustCompile(`data-violations="(\d+)"`)
	countShown = regexp.MustCompile(`id="violation-count"[^>]*><span class="n">(\d+)</span>`)
	srcdocAttr = regexp.MustCompile(`(?s)<iframe [^>]*srcdoc="([^"]*)"`)
)

// TestReportInChromium renders report.html of runs with and without
// violations in headless Chromium and reads the verdict back from the DOM.
func TestReportInChromium(t *testing.T) {
	bin := chromium(t)
	runs := goldenRuns(t)
	cases := []struct {
		name string
		in   Input
	}{
		{"stale-deny", inputFor(t, runs["stale-deny"])},
		{"lost-update", inputFor(t, runs["lost-update"])},
		{"mixed", inputFor(t, runs["mixed"])},
		{"clean", inputFor(t, runs["clean"])},
	}
	if !testing.Short() {
		h := genRun(3, genShape{teams: 120, decides: 280, lagMs: 2.5, members: true})
		cases = append(cases, struct {
			name string
			in   Input
		}{"100k-ops", Input{History: h, Result: check.Check(h, check.Options{}), Facts: fixedFacts}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Write(dir, c.in); err != nil {
				t.Fatal(err)
			}
			sum := Summarize(c.in)
			want := sum.Violations
			if c.name == "clean" && want != 0 {
				t.Fatalf("clean fixture has %d violations", want)
			}
			report := filepath.Join(dir, ReportFile)
			if st, err := os.Stat(report); err != nil || st.Size() > 4<<20 {
				t.Errorf("report.html: %v, %d bytes (want under 4 MiB)", err, st.Size())
			}
			dom, console := dumpDOM(t, bin, report)
			for _, line := range console {
				if strings.Contains(line, "Uncaught") || strings.Contains(line, "Error") {
					t.Errorf("console error: %s", line)
				}
			}
			tag := countTag.FindString(dom)
			m := dataViol.FindStringSubmatch(tag)
			if m == nil {
				t.Fatalf("no element with id violation-count and data-violations in the DOM (tag %q)", tag)
			}
			if got, _ := strconv.Atoi(m[1]); got != want {
				t.Errorf("data-violations = %d, want %d", got, want)
			}
			if m := countShown.FindStringSubmatch(dom); m == nil || m[1] != strconv.Itoa(want) {
				t.Errorf("violation count shown as %v, want %d", m, want)
			}
			if strings.Contains(dom, "ZgotmplZ") {
				t.Error("html/template refused a value (ZgotmplZ in the page)")
			}
			if n := strings.Count(dom, "<svg"); n < 2 {
				t.Errorf("%d SVG charts, want at least the latency chart and the timeline", n)
			}
			if want == 0 {
				if !strings.Contains(dom, "No violations") || strings.Contains(dom, "<iframe") || strings.Contains(dom, `class="violations"`) {
					t.Error("clean run: want the no-violation text, no table and no porcupine frame")
				}
				return
			}
			if !strings.Contains(dom, `class="violations"`) {
				t.Error("no violation table")
			}
			if ops := teamOps(c.in, c.in.Result.Violations[0].Team); ops > porcupineMaxOps {
				return
			}
			m = srcdocAttr.FindStringSubmatch(dom)
			if m == nil {
				t.Fatal("no porcupine iframe with srcdoc")
			}
			var viz bytes.Buffer
			h := c.in.History
			h.Header.Consistency = c.in.Result.Consistency.String()
			if err := check.Visualize(h, c.in.Result.Violations[0].Team, &viz); err != nil {
				t.Fatal(err)
			}
			if got := html.UnescapeString(m[1]); got != viz.String() {
				t.Errorf("srcdoc does not round-trip porcupine's page (%d bytes, want %d)", len(got), viz.Len())
			}
		})
	}
}

func teamOps(in Input, team string) int {
	n := 0
	for i := range in.History.Ops {
		if in.History.Ops[i].Team == team {
			n++
		}
	}
	return n
}

// TestReportSelfContained checks without a browser that report.html
// loads nothing from elsewhere and runs no script of its own (the only
// scripts are porcupine's, escaped inside the iframe's srcdoc).
func TestReportSelfContained(t *testing.T) {
	for name, h := range goldenRuns(t) {
		var b bytes.Buffer
		in := inputFor(t, h)
		if err := writeHTML(&b, in, Summarize(in), nil); err != nil {
			t.Fatal(err)
		}
		page := srcdocAttr.ReplaceAllString(b.String(), `<iframe srcdoc="">`)
		for _, bad := range []string{"<script", "<link", `src="http`, `href="http`, "@import", "url(", "ZgotmplZ"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s: report.html contains %q", name, bad)
			}
		}
		if !strings.Contains(page, `id="violation-count" data-violations="`+strconv.Itoa(Summarize(in).Violations)+`"`) {
			t.Errorf("%s: no violation count element", name)
		}
	}
}
