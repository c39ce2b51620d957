package neo4j

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// identRe is the rule for labels, relationship types and property keys: they
// are written into Cypher (between backquotes), so only this shape passes.
var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// checkIdent validates a label, relationship type or property key given by a
// caller. Names starting with "_" are the store's own (_project, _pk).
func checkIdent(field, what, name string) error {
	if name == "" {
		return invalid(field, "%s is required: letters, digits and _, starting with a letter (e.g. File, DEPENDS_ON)", what)
	}
	if !identRe.MatchString(name) {
		return invalid(field, "%s %q is not valid: use 1-64 letters, digits and _, starting with a letter (e.g. File, DEPENDS_ON)",
			what, truncate(name, 80))
	}
	if strings.HasPrefix(name, "_") {
		return invalid(field, "%s %q starts with _, which is reserved for the graph store's own bookkeeping: start it with a letter",
			what, name)
	}
	return nil
}

// quote puts a validated identifier between backquotes.
func quote(ident string) string { return "`" + ident + "`" }

func checkRef(field string, ref NodeRef) error {
	if err := checkIdent(field+"label", "label", ref.Label); err != nil {
		return err
	}
	switch {
	case ref.Key == "":
		return invalid(field+"key", "key is required: the node's identity within its label, e.g. src/main.go")
	case len(ref.Key) > MaxKeyLength:
		return invalid(field+"key", "key is %d bytes; the limit is %d", len(ref.Key), MaxKeyLength)
	case !utf8.ValidString(ref.Key):
		return invalid(field+"key", "key is not valid UTF-8")
	}
	return nil
}

// internalKeys are the store's own properties, never shown and never settable.
var internalKeys = map[string]bool{"_project": true, "_pk": true}

// checkProps validates properties to set on a node (node true: "key" is the
// node's identity, not a property) or a relationship and returns them as Bolt
// values. A null value removes the property (SET n += {p: null}).
func checkProps(props map[string]any, node bool) (map[string]any, error) {
	out := make(map[string]any, len(props))
	if len(props) > MaxProperties {
		return nil, invalid("properties", "%d properties given; the limit is %d per call", len(props), MaxProperties)
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field := "properties." + k
		if !identRe.MatchString(k) || strings.HasPrefix(k, "_") {
			return nil, invalid(field, "property name %q is not valid: use 1-64 letters, digits and _, starting with a letter",
				truncate(k, 80))
		}
		if node && k == "key" {
			return nil, invalid(field, "\"key\" is the node's identity, not a property: pass it as the key argument")
		}
		v, err := propertyValue(field, props[k])
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// propertyValue checks one property value against Neo4j's rule: a string,
// number or boolean, or an array of one of those (all of the same kind).
// Whole JSON numbers become integers, so they stay integers in Cypher.
func propertyValue(field string, v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return propertyArray(field, x)
	case map[string]any:
		return nil, invalid(field, "property %s is an object: Neo4j stores only strings, numbers, booleans and arrays of one "+
			"of them; store nested data as separate nodes, or as a JSON string", strings.TrimPrefix(field, "properties."))
	}
	if s, ok := scalar(v); ok {
		return s, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return propertyArray(field, items)
	}
	return nil, invalid(field, "property %s has a value of type %T: use a string, number, boolean or an array of one of them",
		strings.TrimPrefix(field, "properties."), v)
}

func propertyArray(field string, items []any) (any, error) {
	if len(items) > MaxArrayLength {
		return nil, invalid(field, "array of %d items; the limit is %d", len(items), MaxArrayLength)
	}
	var kind string // string | bool | int | float
	out := make([]any, len(items))
	for i, it := range items {
		s, ok := scalar(it)
		if !ok || s == nil {
			return nil, invalid(fmt.Sprintf("%s[%d]", field, i), "array items must be strings, numbers or booleans (no null, "+
				"object or nested array): item %d is %s", i, describe(it))
		}
		k := kindOf(s)
		switch {
		case kind == "":
			kind = k
		case kind == k:
		case (kind == "int" || kind == "float") && (k == "int" || k == "float"):
			kind = "float"
		default:
			return nil, invalid(fmt.Sprintf("%s[%d]", field, i), "array items must all be of one kind (Neo4j's rule): "+
				"item %d is a %s after items of kind %s", i, k, kind)
		}
		out[i] = s
	}
	switch kind {
	case "":
		return []string{}, nil
	case "string":
		return typed[string](out), nil
	case "bool":
		return typed[bool](out), nil
	case "int":
		return typed[int64](out), nil
	default:
		f := make([]float64, len(out))
		for i, v := range out {
			switch n := v.(type) {
			case int64:
				f[i] = float64(n)
			case float64:
				f[i] = n
			}
		}
		return f, nil
	}
}

func typed[T any](in []any) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = v.(T)
	}
	return out
}

func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case int64:
		return "int"
	default:
		return "float"
	}
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

// maxExactInt is the largest integer a float64 (a JSON number) holds exactly.
const maxExactInt = 1 << 53

// scalar normalizes a string, number or boolean (nil passes as nil): numbers
// become int64 when whole and exactly representable, float64 otherwise.
func scalar(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string, bool, int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= maxExactInt {
			return int64(x), true
		}
		return x, true
	case float32:
		return scalar(float64(x))
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		if f, err := x.Float64(); err == nil {
			return f, true
		}
	}
	return nil, false
}

// normalizeParams prepares the parameters of a raw Cypher statement: JSON
// numbers that are whole become integers (so `LIMIT $n` works with n = 10),
// lists and maps are walked; anything else is passed on for the driver to judge.
func normalizeParams(params map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(params))
	for k, v := range params {
		if k == "" {
			return nil, invalid("params", "a parameter has an empty name")
		}
		out[k] = normalizeParam(v, 0)
	}
	return out, nil
}

func normalizeParam(v any, depth int) any {
	if depth > 32 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalizeParam(e, depth+1)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = normalizeParam(e, depth+1)
		}
		return l
	}
	if s, ok := scalar(v); ok {
		return s
	}
	return v
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
