// Command keyrace is a conformance test harness and load simulator for the
// team/key management API of LiteLLM-compatible proxies. It is a thin layer
// over the Go packages of this module.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes shared by every command.
const (
	exitClean     = 0 // nothing wrong found
	exitViolation = 1 // the target broke a property
	exitCannotRun = 2 // the target or the arguments did not let keyrace judge
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the reference team/key service (optionally with faults)", runServe},
		{"check", "run the read-your-writes sequences against a proxy", runCheck},
		{"race", "drive a race scenario, check the history, write a run folder", runRace},
		{"report", "re-check a saved run folder and rewrite its reports", runReport},
		{"demo", "reproduce the seed bug on two embedded services, correct and faulty", runDemo},
		{"version", "print the version", runVersion},
	}
}

const version = "keyrace 0.1.0"

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintf(fs.Output(), "Usage: keyrace version\n\nPrints keyrace's version.\n") }
	if done, code := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	fmt.Fprintln(stdout, version)
	return exitClean
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "keyrace: after a management write is acknowledged, does every later decision see it?\n\n")
	fmt.Fprintf(w, "Usage: keyrace <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'keyrace <command> --help' for the flags of a command.\n")
	fmt.Fprintf(w, "Exit codes: 0 clean, 1 violation found, 2 cannot run.\n")
}

func main() { os.Exit(runMain()) }

// runMain runs the command line with Ctrl-C and SIGTERM cancelling the
// context: commands stop their traffic, clean up and exit 2.
func runMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitCannotRun
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return exitClean
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "keyrace: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitCannotRun
}

// parseFlags parses a command's flags; it returns done=true with the exit
// code when the command should stop (help asked, bad flags). Help goes to
// stdout (it was asked for), a bad flag and the usage to stderr.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (done bool, code int) {
	pos, done, code := parseInterspersed(fs, args, stdout, stderr)
	if !done && len(pos) > 0 {
		fmt.Fprintf(stderr, "keyrace %s: unexpected arguments: %s\n", fs.Name(), strings.Join(pos, " "))
		return true, exitCannotRun
	}
	return done, code
}

// parseInterspersed parses flags that may come before or after positional
// arguments ("report DIR --out X") and returns the positional ones, like
// parseFlags otherwise.
func parseInterspersed(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (pos []string, done bool, code int) {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	defer fs.SetOutput(stderr)
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			_, _ = stdout.Write(buf.Bytes())
			return nil, true, exitClean
		case err != nil:
			_, _ = stderr.Write(buf.Bytes())
			return nil, true, exitCannotRun
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, false, 0
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), false, 0
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// envOr returns the value of the environment variable name, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
