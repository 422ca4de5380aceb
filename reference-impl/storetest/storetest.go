// Package storetest is the contract test of refimpl.Store: the cases below
// restate, one by one, what store.go promises, and every implementation
// (the in-memory MemStore, the PostgreSQL pgstore) must pass all of them.
//
//	func TestStoreContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) refimpl.Store { return refimpl.NewMemStore() })
//	}
//
// Each case gets a fresh, empty store from open, which registers its own
// cleanup on t. Values written by the cases survive a round trip through
// SQL and JSON unchanged: times are UTC at microsecond precision and
// metadata holds JSON-native values (string, float64, bool, nil,
// []any, map[string]any), because that is all the handlers ever store.
//
// A failing case names the contract clause it checks; read its doc comment
// in cases_*.go and the clause in store.go side by side.
package storetest

import (
	"slices"
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
)

// Case is one clause of the Store contract.
type Case struct {
	// Name is the subtest name.
	Name string
	// Run checks the clause against s, a fresh empty store. It reports
	// through t only from its own goroutine.
	Run func(t testing.TB, s refimpl.Store)
}

var registry []Case

// register adds cases to the registry; each cases_*.go file calls it from init.
func register(cs ...Case) { registry = append(registry, cs...) }

// Cases returns every contract case, in a stable order.
func Cases() []Case {
	out := slices.Clone(registry)
	slices.SortStableFunc(out, func(a, b Case) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// Run runs every contract case as a subtest of t, each on a fresh store
// from open.
func Run(t *testing.T, open func(t *testing.T) refimpl.Store) {
	t.Helper()
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, open(t)) })
	}
}
