package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// This file is the server's one argument validator. Every tool call's
// arguments are checked against the tool's own input schema here, before
// handle's strict decode, and each violation is said in one sentence that
// names the argument (mcp-go's WithInputSchemaValidation is not used: its
// messages are Go value dumps such as "&{Missing:[title]}").

// maxEcho is how much of a value given by the client a message repeats.
const maxEcho = 60

// argSchema is one tool's compiled input schema, with the decoded document
// kept to name what each object accepts and what each property expects.
type argSchema struct {
	compiled *jsonschema.Schema
	doc      map[string]any
}

// validated returns t with a handler that first validates the arguments
// against t's input schema. The schema is compiled on the tool's first call,
// not at start-up: compiling every tool's schema was a fifth of the server's
// start-up, and most sessions call a few tools. Every schema is compiled by
// TestEveryInputSchemaCompiles; one that did not would answer each call of
// its tool with an internal error, never let arguments through unchecked.
func validated(t server.ServerTool) server.ServerTool {
	schema := sync.OnceValues(func() (*argSchema, error) { return compileArgSchema(t.Tool) })
	next := t.Handler
	name := t.Tool.Name
	t.Handler = func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		s, err := schema()
		if err != nil {
			return mcp.NewToolResultError("internal error: the input schema of " + name + " does not compile; please report it"), nil
		}
		if msg := s.check(req.GetRawArguments()); msg != "" {
			return mcp.NewToolResultError(msg), nil
		}
		return next(ctx, req)
	}
	return t
}

func compileArgSchema(tool mcp.Tool) (*argSchema, error) {
	raw := []byte(tool.RawInputSchema)
	if len(raw) == 0 {
		b, err := json.Marshal(tool.InputSchema)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	url := "mem:///tools/" + tool.Name + ".json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return nil, err
	}
	m, _ := doc.(map[string]any)
	return &argSchema{compiled: compiled, doc: m}, nil
}

// check returns "" when raw satisfies the schema, else one sentence about the
// first violation (in a stable order: by argument path, then by kind).
// Arguments that are not a JSON object are left to decodeArgs, which says so.
func (s *argSchema) check(raw any) (msg string) {
	defer func() {
		if recover() != nil {
			msg = "" // never fail a call for the validator's sake: handle's strict decode still runs
		}
	}()
	data, err := argumentBytes(raw)
	if err != nil {
		return "" // decodeArgs says so
	}
	if len(data) > maxArgumentBytes {
		return "" // decodeArgs refuses it with the sizes
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return ""
	}
	if _, ok := inst.(map[string]any); !ok {
		return ""
	}
	return s.checkValue(inst)
}

func (s *argSchema) checkValue(inst any) string {
	dropNulls(inst, s.doc)
	err := s.compiled.Validate(inst)
	if err == nil {
		return ""
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return "the arguments could not be checked; send them as a JSON object"
	}
	leaves := leafErrors(verr, nil)
	slices.SortStableFunc(leaves, func(a, b *jsonschema.ValidationError) int {
		if c := strings.Compare(strings.Join(a.InstanceLocation, "\x00"), strings.Join(b.InstanceLocation, "\x00")); c != 0 {
			return c
		}
		return kindRank(a.ErrorKind) - kindRank(b.ErrorKind)
	})
	return capMessage(s.sentence(leaves[0], inst))
}

// dropNulls removes from inst every field that schema declares and that is
// given as null, in nested objects too: a null argument is an absent one
// (the schemas say "string", not ["null", "string"]: see plainInputSchema),
// so an optional one is simply left unset and a required one is answered
// "is required". handle's decode agrees: null leaves a Go field at its zero
// value. Unknown fields are kept, to be named as unknown.
func dropNulls(inst any, schema map[string]any) {
	switch v := inst.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for k, x := range v {
			p, declared := props[k].(map[string]any)
			if !declared {
				continue
			}
			if x == nil {
				delete(v, k)
				continue
			}
			dropNulls(x, p)
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for _, x := range v {
				dropNulls(x, items)
			}
		}
	}
}

func leafErrors(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = leafErrors(c, out)
	}
	return out
}

// kindRank orders violations at the same place: an unknown argument first
// (it is often a misspelt required one), then a missing one, then the rest.
func kindRank(k jsonschema.ErrorKind) int {
	switch k.(type) {
	case *kind.AdditionalProperties:
		return 0
	case *kind.Required:
		return 1
	case *kind.Type:
		return 2
	}
	return 3
}

// sentence says what e is about, what was expected, what was given and how to fix it.
func (s *argSchema) sentence(e *jsonschema.ValidationError, inst any) string {
	loc := e.InstanceLocation
	name := argPath(loc)
	got := valueAt(inst, loc)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		accepts := strings.Join(s.propertyNames(loc), ", ")
		unknown := quoteList(k.Properties)
		if len(loc) == 0 {
			if len(k.Properties) == 1 {
				return fmt.Sprintf("unknown argument %s; this tool accepts: %s", unknown, accepts)
			}
			return fmt.Sprintf("unknown arguments %s; this tool accepts: %s", unknown, accepts)
		}
		return fmt.Sprintf("argument %q has unknown field %s; it accepts: %s", name, unknown, accepts)
	case *kind.Required:
		missing := k.Missing[0]
		full := argPath(append(slices.Clone(loc), missing))
		if want := s.typeOf(append(slices.Clone(loc), missing)); want != "" {
			return fmt.Sprintf("argument %q is required: pass it as %s", full, want)
		}
		return fmt.Sprintf("argument %q is required: pass it", full)
	case *kind.Type:
		return fmt.Sprintf("argument %q must be %s, not %s", name, wantTypes(k.Want), describeValue(got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = plain(w)
		}
		return fmt.Sprintf("argument %q must be one of %s, not %s; pass one of those", name, orList(want), describeValue(got))
	case *kind.Const:
		return fmt.Sprintf("argument %q must be %s, not %s", name, plain(k.Want), describeValue(got))
	case *kind.Minimum:
		if lo, hi, ok := s.rangeOf(loc); ok {
			return fmt.Sprintf("argument %q must be between %s and %s, not %s", name, lo, hi, ratText(k.Got))
		}
		return fmt.Sprintf("argument %q must be at least %s, not %s", name, ratText(k.Want), ratText(k.Got))
	case *kind.Maximum:
		if lo, hi, ok := s.rangeOf(loc); ok {
			return fmt.Sprintf("argument %q must be between %s and %s, not %s", name, lo, hi, ratText(k.Got))
		}
		return fmt.Sprintf("argument %q must be at most %s, not %s", name, ratText(k.Want), ratText(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("argument %q must be more than %s, not %s", name, ratText(k.Want), ratText(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("argument %q must be less than %s, not %s", name, ratText(k.Want), ratText(k.Got))
	case *kind.MultipleOf:
		return fmt.Sprintf("argument %q must be a multiple of %s, not %s", name, ratText(k.Want), ratText(k.Got))
	case *kind.MinLength:
		return fmt.Sprintf("argument %q must be at least %d characters long, not %d", name, k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("argument %q is %d characters long; the limit is %d, so shorten it", name, k.Got, k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("argument %q must list at least %d items, not %d", name, k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("argument %q lists %d items; the limit is %d, so send fewer", name, k.Got, k.Want)
	case *kind.MinProperties:
		return fmt.Sprintf("argument %q must have at least %d fields, not %d", name, k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("argument %q has %d fields; the limit is %d, so send fewer", name, k.Got, k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("argument %q must match the pattern %s, not %s", name, k.Want, describeValue(got))
	case *kind.Format:
		return fmt.Sprintf("argument %q must be a valid %s, not %s", name, k.Want, describeValue(got))
	case *kind.UniqueItems:
		return fmt.Sprintf("argument %q lists the same value twice (items %d and %d); remove the repeat", name, k.Duplicates[0]+1, k.Duplicates[1]+1)
	}
	if len(loc) == 0 {
		return "the arguments do not match this tool's input schema; see its description in tools/list"
	}
	return fmt.Sprintf("argument %q is not valid (%s); see the tool's input schema in tools/list", name, describeValue(got))
}

// argPath names a place in the arguments: title, artifact.name, depends_on[2].
func argPath(loc []string) string {
	var b strings.Builder
	for i, seg := range loc {
		if _, err := strconv.Atoi(seg); err == nil && i > 0 {
			b.WriteString("[" + seg + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return echo(b.String())
}

// schemaAt is the schema document of the value at loc (following properties
// and items), or nil.
func (s *argSchema) schemaAt(loc []string) map[string]any {
	node := s.doc
	for _, seg := range loc {
		if node == nil {
			return nil
		}
		if props, ok := node["properties"].(map[string]any); ok {
			if p, ok := props[seg].(map[string]any); ok {
				node = p
				continue
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			if _, err := strconv.Atoi(seg); err == nil {
				node = items
				continue
			}
		}
		return nil
	}
	return node
}

func (s *argSchema) propertyNames(loc []string) []string {
	node := s.schemaAt(loc)
	props, _ := node["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// rangeOf returns the schema's minimum and maximum at loc when it has both,
// so that a value out of range is told the whole range at once.
func (s *argSchema) rangeOf(loc []string) (lo, hi string, ok bool) {
	node := s.schemaAt(loc)
	if node == nil {
		return "", "", false
	}
	min, okMin := node["minimum"]
	max, okMax := node["maximum"]
	if !okMin || !okMax {
		return "", "", false
	}
	return fmt.Sprint(min), fmt.Sprint(max), true
}

func (s *argSchema) typeOf(loc []string) string {
	node := s.schemaAt(loc)
	if node == nil {
		return ""
	}
	if enum, ok := node["enum"].([]any); ok {
		want := make([]string, len(enum))
		for i, w := range enum {
			want[i] = plain(w)
		}
		return "one of " + orList(want)
	}
	switch t := node["type"].(type) {
	case string:
		return wantTypes([]string{t})
	case []any:
		var ts []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				ts = append(ts, s)
			}
		}
		return wantTypes(ts)
	}
	return ""
}

// wantTypes says which JSON types are expected, leaving out null (the input
// schemas no longer list it, and it is never what to pass to fix a call).
func wantTypes(want []string) string {
	var out []string
	for _, w := range want {
		if w == "null" && len(want) > 1 {
			continue
		}
		out = append(out, article(w))
	}
	return orList(out)
}

func article(t string) string {
	switch t {
	case "integer", "object", "array":
		return "an " + t
	case "null":
		return "null"
	}
	return "a " + t
}

// describeValue says what value the client gave: the string "urgent", the number 42, an array.
func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "the string " + quote(x)
	case bool:
		return "the boolean " + strconv.FormatBool(x)
	case json.Number:
		return "the number " + echo(x.String())
	case float64, int, int64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return fmt.Sprintf("an array of %d items", len(x))
	case map[string]any:
		return "an object"
	}
	return "a value of another type"
}

// plain renders a schema value (an enum member, a const) without quotes when it is a string.
func plain(v any) string {
	if s, ok := v.(string); ok {
		return echo(s)
	}
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	b, _ := json.Marshal(v)
	return echo(string(b))
}

func ratText(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}

func valueAt(v any, loc []string) any {
	for _, seg := range loc {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// echo cuts s to maxEcho characters, so that a huge or hostile value
// given by the client does not flood the message.
func echo(s string) string {
	if utf8.RuneCountInString(s) <= maxEcho {
		return s
	}
	r := []rune(s)
	return string(r[:maxEcho]) + "…"
}

func quote(s string) string { return strconv.Quote(echo(s)) }

func quoteList(xs []string) string {
	q := make([]string, 0, len(xs))
	for i, x := range xs {
		if i == 5 {
			q = append(q, fmt.Sprintf("and %d more", len(xs)-5))
			break
		}
		q = append(q, quote(x))
	}
	return strings.Join(q, ", ")
}

// orList joins a, b or c.
func orList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}
