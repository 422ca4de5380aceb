package refimpl_test

import (
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/reference-impl/storetest"
)

// TestMemStoreContract runs the Store contract against the in-memory store.
func TestMemStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) refimpl.Store { return refimpl.NewMemStore() })
}
