// Package run writes and re-reads a race run's folder: the recorded
// history, a machine-readable summary, a Markdown summary for CI step
// summaries, a self-contained HTML report, and a curl script that
// reproduces the first violation.
//
// A run folder holds:
//
//	history.jsonl  the recorded operations (package history), the input of every other file
//	summary.json   verdict, counts, latencies, staleness, the first violations with evidence (Summary)
//	summary.md     the same for a CI step summary ($GITHUB_STEP_SUMMARY)
//	report.html    one self-contained page: charts, violations, porcupine's view of the first failing team
//	repro.sh       curl sequence reproducing the first violation (only when there is one)
//	results.bin    vegeta's results, streamed by the race engine itself (never written here)
//
// Write creates a folder from a run; Recheck and Rewrite re-evaluate a
// saved folder after a checker or model fix (`keyrace report DIR`).
package run

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// File names inside a run folder.
const (
	HistoryFile     = "history.jsonl"
	SummaryFile     = "summary.json"
	MarkdownFile    = "summary.md"
	ReportFile      = "report.html"
	ReproFile       = "repro.sh"
	ResultsFile     = "results.bin" // written by the race engine, not by this package
	SummaryFormatV1 = "keyrace-run/v1"
)

// Input is everything Write needs: the history, its check, and the facts
// of the run that the history does not record.
type Input struct {
	// History is the recorded run; its header names the scenario, seed,
	// targets, initial states and consistency mode.
	History history.History
	// Result is check.Check of History.
	Result check.Result
	// Facts describe how the run was driven.
	Facts Facts
}

// Facts are what the race engine knows about a run beyond its history.
// Zero values mean "not known" and are left out of the reports.
type Facts struct {
	// Description is the scenario's one-line description.
	Description string
	// Start is the wall-clock time of the history's base time (op time 0).
	Start time.Time
	// Elapsed is how long the whole run took (attack, drain and check).
	Elapsed time.Duration
	// Rate is the target request rate, in requests per second.
	Rate float64
	// Pacer describes vegeta's pacer, e.g. "constant 500/s".
	Pacer string
	// Duration is the attack duration asked for.
	Duration time.Duration
	// Teams is the number of teams the scenario drove; 0 counts the teams
	// present in the history.
	Teams int
	// Faults is the fault spec the target ran with ("stale-object-permission",
	// "invalidation-lag=5ms"); "none" for a correct build, "" when unknown
	// (an external target).
	Faults string
	// Version is the keyrace version that ran.
	Version string
	// Serve is set for a run against a reference service keyrace started
	// (in-process or in Docker, gone once the run ended): the reproduction
	// hints aim repro.sh at an equivalent one started by hand.
	Serve *Serve
}

// Serve is how to start by hand the equivalent of the reference service a
// run's target was.
type Serve struct {
	// Command is the shell command that starts it (in the background).
	Command string `json:"command"`
	// Targets are the base URLs it listens on.
	Targets []string `json:"targets"`
	// MasterKey is the master key Command gives the service.
	MasterKey string `json:"master_key"`
}

// Write creates dir if needed and writes history.jsonl, summary.json,
// summary.md, report.html and repro.sh (removing a stale repro.sh when the
// run has no violation a request sequence can reproduce). It never writes results.bin. Files
// are replaced atomically, so a reader never sees a half-written one.
func Write(dir string, in Input) error {
	return write(dir, in, true, false)
}

// Recheck loads dir's history.jsonl and checks it again with opts (used as
// given: to re-check in the mode the run was recorded with, pass
// check.ParseMode(h.Header.Consistency), see LoadHistory).
func Recheck(dir string, opts check.Options) (check.Result, history.History, error) {
	h, err := LoadHistory(dir)
	if err != nil {
		return check.Result{}, h, fmt.Errorf("recheck: %w", err)
	}
	return check.Check(h, opts), h, nil
}

// Rewrite re-checks dir's history with opts and rewrites summary.json,
// summary.md, report.html and repro.sh from the fresh result, keeping the
// run's facts from the existing summary.json (a folder holding only
// history.jsonl is fine: the facts are then unknown). history.jsonl is left
// untouched. It backs `keyrace report DIR`.
func Rewrite(dir string, opts check.Options) (check.Result, error) {
	return RewriteTo(dir, dir, opts)
}

// RewriteTo is Rewrite that leaves src as it is and writes the re-checked
// run folder to dst, history.jsonl and results.bin included, so that a run
// can be judged again (in another consistency mode, say) without losing its
// original verdict. dst == src is Rewrite. It backs `keyrace report --out`.
func RewriteTo(src, dst string, opts check.Options) (check.Result, error) {
	res, h, err := Recheck(src, opts)
	if err != nil {
		return res, err
	}
	facts, err := loadFacts(src)
	if err != nil {
		return res, fmt.Errorf("rewrite: %w", err)
	}
	same := filepath.Clean(src) == filepath.Clean(dst)
	in := Input{History: h, Result: res, Facts: facts}
	if err := write(dst, in, !same, true); err != nil {
		return res, fmt.Errorf("rewrite: %w", err)
	}
	if !same {
		if err := copyFile(src, dst, ResultsFile); err != nil {
			return res, fmt.Errorf("rewrite: %w", err)
		}
	}
	return res, nil
}

// copyFile copies src/name to dst/name when src has it.
func copyFile(src, dst, name string) error {
	in, err := os.Open(filepath.Join(src, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(dst, name, 0o644, func(w io.Writer) error { _, err := io.Copy(w, in); return err })
}

// LoadHistory reads dir's history.jsonl, with errors that say which folder
// and file is missing or corrupt.
func LoadHistory(dir string) (history.History, error) {
	if err := isDir(dir); err != nil {
		return history.History{}, err
	}
	path := filepath.Join(dir, HistoryFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return history.History{}, fmt.Errorf("run folder %s has no %s (not a keyrace run folder?)", dir, HistoryFile)
	}
	if err != nil {
		return history.History{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	h, err := history.Load(f)
	if err != nil {
		return h, fmt.Errorf("%s is corrupt: %w", path, err)
	}
	return h, nil
}

// LoadSummary reads dir's summary.json.
func LoadSummary(dir string) (Summary, error) {
	var s Summary
	if err := isDir(dir); err != nil {
		return s, err
	}
	path := filepath.Join(dir, SummaryFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read summary: %w", err)
	}
	if err := unmarshalSummary(b, &s); err != nil {
		return s, fmt.Errorf("%s is corrupt: %w", path, err)
	}
	return s, nil
}

func isDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("run folder %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("run folder %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("run folder %s is not a directory", dir)
	}
	return nil
}

// loadFacts recovers the facts of a previous Write from summary.json; a
// missing summary means unknown facts, a corrupt one is an error.
func loadFacts(dir string) (Facts, error) {
	s, err := LoadSummary(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Facts{}, nil
	}
	if err != nil {
		return Facts{}, err
	}
	return s.facts(), nil
}

// write writes the run folder's reports, and history.jsonl when
// withHistory; rechecked marks the summary as rewritten by keyrace report.
func write(dir string, in Input, withHistory, rechecked bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write run folder: %w", err)
	}
	// The report explains violations in the mode they were checked in,
	// whatever the recorder put in the header.
	in.History.Header.Consistency = in.Result.Consistency.String()
	if withHistory {
		if err := writeFile(dir, HistoryFile, 0o644, func(w io.Writer) error { return history.Save(w, in.History) }); err != nil {
			return err
		}
	}
	sum := Summarize(in)
	sum.Rechecked = rechecked
	if err := writeFile(dir, SummaryFile, 0o644, func(w io.Writer) error { return writeSummaryJSON(w, sum) }); err != nil {
		return err
	}
	feat := featured(in.Result.Violations)
	var script []byte
	noRepro := "" // why a violating run has no repro.sh
	if feat != nil {
		if noRepro = newPlan(in.History, *feat).why; noRepro == "" {
			script = Repro(in.History, *feat)
		}
	}
	if err := writeFile(dir, MarkdownFile, 0o644, func(w io.Writer) error { return writeMarkdown(w, in, sum, feat, script != nil, noRepro) }); err != nil {
		return err
	}
	if err := writeFile(dir, ReportFile, 0o644, func(w io.Writer) error { return writeHTML(w, in, sum, reproOf(feat, script != nil)) }); err != nil {
		return err
	}
	if script == nil {
		if err := os.Remove(filepath.Join(dir, ReproFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", ReproFile, err)
		}
		return nil
	}
	return writeFile(dir, ReproFile, 0o755, func(w io.Writer) error { _, err := w.Write(script); return err })
}

// reproOf names the violation repro.sh reproduces (nil: no repro.sh).
func reproOf(feat *check.Violation, has bool) *check.Violation {
	if !has {
		return nil
	}
	return feat
}

// writeFile writes name in dir through a temporary file renamed into place.
func writeFile(dir, name string, mode os.FileMode, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// featured picks the violation the Markdown summary writes out and
// repro.sh reproduces: the first (by decision call) that has a missed
// acknowledged write — a stale decision or a lost update, which a short
// curl sequence can provoke — else the first violation. Nil when there is
// none.
func featured(vs []check.Violation) *check.Violation {
	for i := range vs {
		if vs[i].Missed != nil {
			return &vs[i]
		}
	}
	if len(vs) > 0 {
		return &vs[0]
	}
	return nil
}
