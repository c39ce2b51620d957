// Package argcases generates bad tool calls from a tool's own input schema,
// for the tests that check every bad argument is answered with one sentence:
// tools' in-process table and integration's table over the real binary use
// the same cases. It is test support; the server does not import it.
package argcases

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// Case is one generated bad call: the argument it is about and the start of
// the sentence the answer must begin with.
type Case struct {
	Tool, Name string
	Args       map[string]any
	Arg        string // the argument the message must name
	Prefix     string // what the message must start with
	Kind       string // missing, unknown, wrong, enum, below, above, too
}

// Leaks are what a message for the client must never contain: Go value
// dumps, Go type names, source paths, the validator's name or a schema URL.
var Leaks = regexp.MustCompile(`&\{|\bint64\b|\bfloat64\b|\[\]string|\[\]any|map\[|json\.Number|interface \{|\.go:|jsonschema|file://|mem:///|\*big\.Rat|goroutine |panic`)

// Problem says what is wrong with msg as a client's error sentence about
// arg ("" for none): a leak, more than one line, or arg not named in quotes.
func Problem(msg, arg string) string {
	if l := Leaks.FindString(msg); l != "" {
		return fmt.Sprintf("the message leaks %q: %s", l, msg)
	}
	if strings.Contains(msg, "\n") {
		return fmt.Sprintf("the message is not one sentence: %q", msg)
	}
	if arg != "" && !strings.Contains(msg, `"`+arg+`"`) {
		return fmt.Sprintf("the message does not name %q: %s", arg, msg)
	}
	return ""
}

// Check says what is wrong with the answer to c ("" for nothing): it
// succeeded, it does not start with c.Prefix, or it is no client sentence
// about c.Arg.
func (c Case) Check(msg string, isError bool) string {
	switch {
	case !isError:
		return fmt.Sprintf("%s(%v) succeeded: %s", c.Tool, c.Args, msg)
	case !strings.HasPrefix(msg, c.Prefix):
		return fmt.Sprintf("got  %q\nwant it to start with %q", msg, c.Prefix)
	}
	return Problem(msg, c.Arg)
}

// Schema is tool's input schema as a JSON object.
func Schema(tool mcp.Tool) (map[string]any, error) {
	raw := []byte(tool.RawInputSchema)
	if len(raw) == 0 {
		var err error
		if raw, err = json.Marshal(tool.InputSchema); err != nil {
			return nil, err
		}
	}
	var m map[string]any
	err := json.Unmarshal(raw, &m)
	return m, err
}

func types(p map[string]any) []string {
	switch v := p["type"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok && s != "null" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// valid is a value p accepts (nested required fields filled in).
func valid(p map[string]any) any {
	if enum, ok := p["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	ts := types(p)
	if len(ts) == 0 {
		return "x"
	}
	switch ts[0] {
	case "integer", "number":
		if m, ok := p["minimum"].(float64); ok {
			return m
		}
		return 1
	case "boolean":
		return true
	case "array":
		return []any{}
	case "object":
		obj := map[string]any{}
		props, _ := p["properties"].(map[string]any)
		for _, r := range required(p) {
			name := r.(string)
			sub, _ := props[name].(map[string]any)
			obj[name] = valid(sub)
		}
		return obj
	}
	return "x"
}

func required(p map[string]any) []any {
	r, _ := p["required"].([]any)
	return r
}

func with(base map[string]any, key string, v any) map[string]any {
	m := make(map[string]any, len(base)+1)
	for k, x := range base {
		m[k] = x
	}
	if v == nil {
		delete(m, key)
	} else {
		m[key] = v
	}
	return m
}

// For generates, from each tool's own input schema, a call for every kind of
// mistake the schema can say: a missing required argument, a wrong type, an
// out-of-range number, a too long string, too many items, a value outside an
// enum, and an unknown argument. project fills in "workspace".
func For(all []mcp.Tool, project string) ([]Case, error) {
	var cases []Case
	for _, tool := range all {
		schema, err := Schema(tool)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tool.Name, err)
		}
		props, _ := schema["properties"].(map[string]any)
		base := map[string]any{}
		if _, ok := props["workspace"]; ok {
			base["workspace"] = project
		}
		for _, r := range required(schema) {
			sub, _ := props[r.(string)].(map[string]any)
			base[r.(string)] = valid(sub)
		}
		add := func(kind, name string, args map[string]any, arg, prefix string) {
			cases = append(cases, Case{Tool: tool.Name, Name: tool.Name + "/" + name, Args: args, Arg: arg, Prefix: prefix, Kind: kind})
		}
		for _, r := range required(schema) {
			name := r.(string)
			add("missing", "missing "+name, with(base, name, nil), name, fmt.Sprintf("argument %q is required: pass it as ", name))
		}
		add("unknown", "unknown argument", with(base, "bogus_arg", "x"), "bogus_arg", `unknown argument "bogus_arg"; this tool accepts: `)
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			p, _ := props[name].(map[string]any)
			ts := types(p)
			if len(ts) == 0 {
				continue
			}
			wrong := any("oops")
			if slices.Contains(ts, "string") {
				wrong = 42
			}
			add("wrong", "wrong type "+name, with(base, name, wrong), name, fmt.Sprintf("argument %q must be ", name))
			if _, ok := p["enum"]; ok {
				add("enum", "enum "+name, with(base, name, "not-a-choice"), name, fmt.Sprintf("argument %q must be one of ", name))
			}
			lo, hasLo := p["minimum"].(float64)
			hi, hasHi := p["maximum"].(float64)
			switch {
			case hasLo && hasHi: // the whole range in one sentence
				want := fmt.Sprintf("argument %q must be between %v and %v, not ", name, lo, hi)
				add("below", "below minimum "+name, with(base, name, lo-1), name, want+fmt.Sprint(lo-1))
				add("above", "above maximum "+name, with(base, name, hi+1), name, want+fmt.Sprint(hi+1))
			case hasLo:
				add("below", "below minimum "+name, with(base, name, lo-1), name, fmt.Sprintf("argument %q must be at least ", name))
			case hasHi:
				add("above", "above maximum "+name, with(base, name, hi+1), name, fmt.Sprintf("argument %q must be at most ", name))
			}
			if m, ok := p["maxLength"].(float64); ok {
				add("too", "too long "+name, with(base, name, strings.Repeat("y", int(m)+1)), name, fmt.Sprintf("argument %q is ", name))
			}
			if m, ok := p["maxItems"].(float64); ok {
				itemSchema, _ := p["items"].(map[string]any)
				items := make([]any, int(m)+1)
				for i := range items {
					items[i] = valid(itemSchema)
				}
				add("too", "too many items "+name, with(base, name, items), name, fmt.Sprintf("argument %q lists ", name))
			}
		}
	}
	return cases, nil
}
