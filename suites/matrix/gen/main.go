// Command gen rewrites the fault-matrix table in suites/README.md from
// matrix.Expectations (`make docs`).
package main

import (
	"fmt"
	"os"

	"github.com/keyrace/keyrace/suites/matrix"
)

func main() {
	path := "suites/README.md"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	out, err := matrix.Splice(string(b))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
