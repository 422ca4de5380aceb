package pgstore_test

import (
	"testing"

	refimpl "github.com/keyrace/keyrace/reference-impl"
	"github.com/keyrace/keyrace/reference-impl/storetest"
)

// TestStoreContract runs the Store contract against PostgreSQL, each case
// on a database of its own.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) refimpl.Store {
		s, _ := freshStore(t)
		return s
	})
}
