package refimpl

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// checkShape checks a request body, decoded generically (json.Decoder with
// UseNumber), against the Go type it will be unmarshalled into, the way
// pydantic checks LiteLLM's request models, before encoding/json sees it:
//
//   - a value of the wrong JSON type is a 422 naming its location (list
//     indices included) and carrying the input itself;
//   - null is refused inside lists and as a map value of a typed map
//     (List[str] holds strings; encoding/json would store "");
//   - an object key that names a struct field only case-insensitively
//     ("TEAM_ID") is removed: encoding/json would take it for the field,
//     pydantic ignores it. changed reports a removal, so the caller
//     re-encodes v.
//
// Null is accepted for every struct field (LiteLLM's request fields are
// Optional). Types with their own UnmarshalJSON are opaque, except Opt,
// which is checked as the type it holds.
func checkShape(v any, t reflect.Type, loc []any) (issue *validationIssue, changed bool) {
	if v == nil {
		return nil, false
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		if e, ok := reflect.Zero(t).Interface().(interface{ ElemType() reflect.Type }); ok {
			return checkShape(v, e.ElemType(), loc)
		}
		return nil, false
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkShape(v, t.Elem(), loc)
	case reflect.Interface:
		return nil, false
	case reflect.String:
		if _, ok := v.(string); !ok {
			return shapeIssue("string_type", "Input should be a valid string", loc, v), false
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return shapeIssue("bool_type", "Input should be a valid boolean", loc, v), false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return shapeIssue("int_type", "Input should be a valid integer", loc, v), false
		}
		if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
			if f, ferr := strconv.ParseFloat(string(n), 64); ferr == nil && f != float64(int64(f)) {
				return shapeIssue("int_from_float", "Input should be a valid integer, got a number with a fractional part", loc, v), false
			}
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return shapeIssue("float_type", "Input should be a valid number", loc, v), false
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return shapeIssue("finite_number", "Input should be a finite number", loc, v), false
		}
	case reflect.Slice, reflect.Array:
		items, ok := v.([]any)
		if !ok {
			return shapeIssue("list_type", "Input should be a valid list", loc, v), false
		}
		for i, item := range items {
			iss, ch := checkElem(item, t.Elem(), loc, i)
			if iss != nil {
				return iss, false
			}
			changed = changed || ch
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return shapeIssue("dict_type", "Input should be a valid dictionary", loc, v), false
		}
		for _, k := range slices.Sorted(maps.Keys(m)) { // the same error every time
			iss, ch := checkElem(m[k], t.Elem(), loc, k)
			if iss != nil {
				return iss, false
			}
			changed = changed || ch
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return shapeIssue("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", loc, v), false
		}
		fields := fieldsOf(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			item := m[k]
			f, exact := fields.exact[k]
			if !exact {
				if fields.folds(k) {
					delete(m, k) // a near-miss name: ignored, as pydantic does
					changed = true
				}
				continue
			}
			iss, ch := checkShape(item, f, append(loc[:len(loc):len(loc)], k))
			if iss != nil {
				return iss, false
			}
			changed = changed || ch
		}
	}
	return nil, changed
}

// checkElem checks a list item or map value of type t at loc + key; null
// is refused unless t can hold it.
func checkElem(item any, t reflect.Type, loc []any, key any) (*validationIssue, bool) {
	at := append(loc[:len(loc):len(loc)], key)
	if item == nil && !nullable(t) {
		return nullIssue(t, at), false
	}
	return checkShape(item, t, at)
}

// nullable reports whether null is a valid element of a list or map of t.
func nullable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		return true
	}
	_, isOpt := reflect.Zero(t).Interface().(interface{ ElemType() reflect.Type })
	return isOpt
}

// nullIssue is the error pydantic gives a null where a t is required.
func nullIssue(t reflect.Type, loc []any) *validationIssue {
	switch t.Kind() {
	case reflect.String:
		return shapeIssue("string_type", "Input should be a valid string", loc, nil)
	case reflect.Bool:
		return shapeIssue("bool_type", "Input should be a valid boolean", loc, nil)
	case reflect.Float32, reflect.Float64:
		return shapeIssue("float_type", "Input should be a valid number", loc, nil)
	case reflect.Slice, reflect.Array:
		return shapeIssue("list_type", "Input should be a valid list", loc, nil)
	case reflect.Map:
		return shapeIssue("dict_type", "Input should be a valid dictionary", loc, nil)
	case reflect.Struct:
		return shapeIssue("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", loc, nil)
	}
	return shapeIssue("int_type", "Input should be a valid integer", loc, nil)
}

func shapeIssue(typ, msg string, loc []any, input any) *validationIssue {
	return &validationIssue{Type: typ, Loc: loc, Msg: msg, Input: input}
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// structFields are a struct type's JSON field names and their types.
type structFields struct {
	exact map[string]reflect.Type
}

// folds reports whether encoding/json would take key for one of the
// fields although it is not spelled exactly like it (it matches names
// with Unicode case folding, as strings.EqualFold does).
func (fs *structFields) folds(key string) bool {
	for name := range fs.exact {
		if strings.EqualFold(name, key) {
			return true
		}
	}
	return false
}

var fieldCache sync.Map // reflect.Type -> *structFields

// fieldsOf returns t's JSON fields, embedded structs' fields included.
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	fs := &structFields{exact: map[string]reflect.Type{}}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				add(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fs.exact[name] = f.Type
		}
	}
	add(t)
	fieldCache.Store(t, fs)
	return fs
}
