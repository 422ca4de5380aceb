package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Opt is a request field whose presence matters: it is either omitted (the
// zero Opt), an explicit JSON null, or a value. Use it with the `omitzero`
// tag so that omitted fields are not sent at all.
//
// The reference service gives the three cases these meanings on updates:
// omitted keeps the stored value, null clears it (empty list, no budget),
// a value replaces the stored one.
type Opt[T any] struct {
	set  bool
	null bool
	v    T
}

// Some returns an Opt holding v.
func Some[T any](v T) Opt[T] { return Opt[T]{set: true, v: v} }

// Null returns an Opt that is sent as an explicit JSON null.
func Null[T any]() Opt[T] { return Opt[T]{set: true, null: true} }

// List returns an Opt holding the given strings; with no arguments it holds
// an empty list (sent as []), never null.
func List(items ...string) Opt[[]string] {
	if items == nil {
		items = []string{}
	}
	return Some(items)
}

// IsZero reports whether the field was omitted; `omitzero` relies on it.
func (o Opt[T]) IsZero() bool { return !o.set }

// IsNull reports whether the field was sent as an explicit null.
func (o Opt[T]) IsNull() bool { return o.set && o.null }

// Value returns the value and whether one was sent (false for omitted and null).
func (o Opt[T]) Value() (T, bool) { return o.v, o.set && !o.null }

// MarshalJSON writes null or the value.
func (o Opt[T]) MarshalJSON() ([]byte, error) {
	if !o.set || o.null {
		return []byte("null"), nil
	}
	return json.Marshal(o.v)
}

// UnmarshalJSON records that the field was present, and whether it was null.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.null = true
		var zero T
		o.v = zero
		return nil
	}
	o.null = false
	return json.Unmarshal(b, &o.v)
}

// ElemType returns T: request validation looks through an Opt at the type
// it holds.
func (Opt[T]) ElemType() reflect.Type { return reflect.TypeFor[T]() }
