package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// fixOutputSchema corrects what schema generation cannot know from Go types:
// metadata (json.RawMessage) is a JSON object, and times are RFC 3339 strings.
func fixOutputSchema(t mcp.Tool) mcp.Tool {
	if _, ok := builtFor(t.Name); ok {
		return t // the built schema is fixed already
	}
	for k, v := range t.OutputSchema.Properties {
		t.OutputSchema.Properties[k] = fixNode(k, v)
	}
	return t
}

func fixNode(name string, node any) any {
	m, ok := node.(map[string]any)
	if !ok {
		return node
	}
	if name == "metadata" {
		return map[string]any{"type": "object"}
	}
	for _, key := range []string{"properties", "$defs", "definitions"} {
		if props, ok := m[key].(map[string]any); ok {
			for k, v := range props {
				props[k] = fixNode(k, v)
			}
		}
	}
	if alts, ok := m["anyOf"].([]any); ok {
		for i, alt := range alts {
			alts[i] = fixNode(name, alt)
		}
	}
	if items, ok := m["items"]; ok {
		m["items"] = fixNode("", items)
	}
	return m
}

// leanOutputSchema says the same contract in fewer bytes, because every byte
// of tools/list is read by the agent's model on every session:
//   - an object shape that occurs more than once (task_get's task, subtasks
//     and dependents) is written once under $defs and referred to;
//   - a task's fields are listed by task_get alone; other tools say "a task"
//     (taskshape.go);
//   - "additionalProperties": false is left out: results are generated from
//     the same Go types as the schemas, so there is nothing it would catch,
//     and leaving it out lets a later version add a field without breaking a
//     client that validates.
func leanOutputSchema(t mcp.Tool) mcp.Tool {
	if len(t.OutputSchema.Properties) == 0 {
		return t
	}
	root := openOutputSchema(t)
	shareTaskShape(t.Name, root)
	summariseRecords(t.Name, root)

	// Count each object shape (by its canonical JSON) and remember the
	// shortest name it is found under, to name its definition.
	type shape struct {
		count int
		name  string
	}
	shapes := map[string]*shape{}
	var count func(name string, node any)
	count = func(name string, node any) {
		switch n := node.(type) {
		case map[string]any:
			if _, ok := n["properties"]; ok && name != "" {
				key := canonical(n)
				s := shapes[key]
				if s == nil {
					s = &shape{name: name}
					shapes[key] = s
				}
				s.count++
				if len(name) < len(s.name) || (len(name) == len(s.name) && name < s.name) {
					s.name = name
				}
			}
			for _, k := range sortedKeys(n) {
				child := n[k]
				switch k {
				case "properties", "$defs":
					if props, ok := child.(map[string]any); ok {
						for _, p := range sortedKeys(props) {
							count(p, props[p])
						}
					}
				case "items":
					count(strings.TrimSuffix(name, "s"), child)
				default:
					count("", child)
				}
			}
		case []any:
			for _, v := range n {
				count(name, v)
			}
		}
	}
	count("", root)

	defs := map[string]any{}
	names := map[string]string{} // canonical shape -> definition name
	used := map[string]bool{}
	var replace func(node any, top bool) any
	replace = func(node any, top bool) any {
		switch n := node.(type) {
		case map[string]any:
			if !top {
				if _, ok := n["properties"]; ok {
					key := canonical(n)
					if s := shapes[key]; s != nil && s.count > 1 {
						name, ok := names[key]
						if !ok {
							name = s.name
							for i := 2; used[name]; i++ {
								name = fmt.Sprintf("%s%d", s.name, i)
							}
							used[name] = true
							names[key] = name
							defs[name] = replace(copyMap(n), true)
						}
						return map[string]any{"$ref": "#/$defs/" + name}
					}
				}
			}
			for k, v := range n {
				n[k] = replace(v, false)
			}
			return n
		case []any:
			for i, v := range n {
				n[i] = replace(v, false)
			}
			return n
		}
		return node
	}
	replace(root, true)
	if len(defs) > 0 {
		root["$defs"] = defs
	}

	var out mcp.ToolOutputSchema
	b, err := json.Marshal(root)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		panic(fmt.Sprintf("tools: the lean output schema of %s: %v", t.Name, err))
	}
	t.OutputSchema = out
	return t
}

// openOutputSchema is t's output schema as a JSON tree, with its objects
// open and the null of omitted properties dropped: the first steps of the
// lean schema, and the form in which the task's shape is compared.
func openOutputSchema(t mcp.Tool) map[string]any {
	raw, err := json.Marshal(t.OutputSchema)
	if err != nil {
		panic(fmt.Sprintf("tools: the output schema of %s does not marshal: %v", t.Name, err))
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		panic(fmt.Sprintf("tools: the output schema of %s does not unmarshal: %v", t.Name, err))
	}
	dropClosedObjects(root)
	dropNullOfOmitted(root)
	return root
}

// dropClosedObjects removes "additionalProperties": false everywhere in node.
func dropClosedObjects(node any) {
	switch n := node.(type) {
	case map[string]any:
		if v, ok := n["additionalProperties"].(bool); ok && !v {
			delete(n, "additionalProperties")
		}
		for _, v := range n {
			dropClosedObjects(v)
		}
	case []any:
		for _, v := range n {
			dropClosedObjects(v)
		}
	}
}

// dropNullOfOmitted gives a plain type ("string", not ["null", "string"])
// to every output property that is not required: the generator lists a Go
// field without omitempty as required, so a property left out of "required"
// is one whose nil value is omitted from the answer, never sent as null.
// A required property keeps its null (a task's "assignee": null is the
// answer's real shape), as do array items (an element may be null).
func dropNullOfOmitted(node any) {
	n, ok := node.(map[string]any)
	if !ok {
		return
	}
	if props, ok := n["properties"].(map[string]any); ok {
		required := map[string]bool{}
		if r, ok := n["required"].([]any); ok {
			for _, name := range r {
				if s, ok := name.(string); ok {
					required[s] = true
				}
			}
		}
		for name, p := range props {
			if pm, ok := p.(map[string]any); ok && !required[name] {
				if t, ok := withoutNull(pm["type"]); ok {
					pm["type"] = t
				}
			}
			dropNullOfOmitted(p)
		}
	}
	for _, key := range []string{"$defs", "definitions"} {
		if defs, ok := n[key].(map[string]any); ok {
			for _, d := range defs {
				dropNullOfOmitted(d)
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		dropNullOfOmitted(n[key])
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf", "prefixItems"} {
		if alts, ok := n[key].([]any); ok {
			for _, a := range alts {
				dropNullOfOmitted(a)
			}
		}
	}
}

// withoutNull is a "type" value without "null": ["null", "string"] gives
// "string", ["null", "string", "integer"] gives ["string", "integer"]. It
// answers false when t names no null (or only null), to leave t alone.
func withoutNull(t any) (any, bool) {
	ts, ok := t.([]any)
	if !ok || !slices.Contains(ts, any("null")) {
		return t, false
	}
	var rest []any
	for _, x := range ts {
		if x != "null" {
			rest = append(rest, x)
		}
	}
	switch len(rest) {
	case 0:
		return t, false
	case 1:
		return rest[0], true
	}
	return rest, true
}

// plainInputSchema gives every argument of t a plain type: "string", never
// ["null", "string"]. The generator writes a union for each pointer and
// slice field, which several clients handle badly (the MCP Inspector warns
// about each one; some model APIs refuse a type list), and it says nothing
// an agent needs: an optional argument is simply left out. A null given
// anyway is still accepted and taken for an absent argument (validate.go's
// dropNulls), as it was when the schema allowed it.
func plainInputSchema(t mcp.Tool) mcp.Tool {
	if len(t.RawInputSchema) == 0 {
		return t
	}
	raw, err := plainTypes(t.RawInputSchema)
	if err != nil {
		panic(fmt.Sprintf("tools: the input schema of %s: %v", t.Name, err))
	}
	t.RawInputSchema = raw
	return t
}

// plainTypes rewrites one schema (keeping its keys' order) without "null"
// in any "type" list and without "additionalProperties": true, in it and in
// every schema under it.
func plainTypes(raw json.RawMessage) (json.RawMessage, error) {
	o, err := parseOrdered(raw)
	if err != nil {
		return nil, err
	}
	for _, k := range o.keys {
		v := o.vals[k]
		switch k {
		case "type":
			var t any
			if err := json.Unmarshal(v, &t); err != nil {
				return nil, err
			}
			if plain, ok := withoutNull(t); ok {
				if err := o.set(k, plain); err != nil {
					return nil, err
				}
			}
		case "properties", "$defs", "definitions":
			sub, err := parseOrdered(v)
			if err != nil {
				return nil, err
			}
			for _, name := range sub.keys {
				s, err := plainTypes(sub.vals[name])
				if err != nil {
					return nil, err
				}
				sub.vals[name] = s
			}
			if err := o.set(k, sub); err != nil {
				return nil, err
			}
		case "items", "additionalProperties":
			if bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) {
				s, err := plainTypes(v)
				if err != nil {
					return nil, err
				}
				o.vals[k] = s
			}
		case "anyOf", "oneOf", "allOf", "prefixItems":
			var alts []json.RawMessage
			if err := json.Unmarshal(v, &alts); err != nil {
				return nil, err
			}
			for i, a := range alts {
				if alts[i], err = plainTypes(a); err != nil {
					return nil, err
				}
			}
			if err := o.set(k, alts); err != nil {
				return nil, err
			}
		}
	}
	// "additionalProperties": true is what a schema without it means: a
	// free-form object (metadata) says it in fewer bytes.
	if v, ok := o.vals["additionalProperties"]; ok && string(bytes.TrimSpace(v)) == "true" {
		delete(o.vals, "additionalProperties")
		o.keys = slices.DeleteFunc(o.keys, func(k string) bool { return k == "additionalProperties" })
	}
	return json.Marshal(o)
}

func canonical(v any) string {
	b, _ := json.Marshal(v) // maps marshal with sorted keys
	return string(b)
}

func copyMap(m map[string]any) map[string]any {
	var out map[string]any
	_ = json.Unmarshal([]byte(canonical(m)), &out)
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// bounds declares limits that mcp-go's schema generator cannot read from Go
// struct tags (it reads descriptions and enums only), so that the input
// schema states every constraint and validated answers them in one place.
// A path is an argument name, or "tasks[].title" for a field of an array's
// items. An unknown path panics at start-up: it is a programming error.
func bounds(b map[string]map[string]any) mcp.ToolOption {
	return func(t *mcp.Tool) {
		if _, ok := builtFor(t.Name); ok {
			return // already in the built schema
		}
		doc, err := parseOrdered(t.RawInputSchema)
		if err != nil {
			panic(fmt.Sprintf("tools: the input schema of %s: %v", t.Name, err))
		}
		for _, path := range slices.Sorted(maps.Keys(b)) {
			if err := doc.setAt(strings.Split(path, "."), b[path]); err != nil {
				panic(fmt.Sprintf("tools: bounds of %s, %s: %v", t.Name, path, err))
			}
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			panic(fmt.Sprintf("tools: the input schema of %s: %v", t.Name, err))
		}
		t.RawInputSchema = raw
	}
}

// ordered is a JSON object that keeps its keys' order, so that a schema
// edited by bounds lists its arguments as the Go struct does.
type ordered struct {
	keys []string
	vals map[string]json.RawMessage
}

func parseOrdered(raw []byte) (*ordered, error) {
	o := &ordered{vals: map[string]json.RawMessage{}}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := o.vals[key]; !dup {
			o.keys = append(o.keys, key)
		}
		o.vals[key] = v
	}
	return o, nil
}

func (o *ordered) set(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = b
	return nil
}

// setAt sets kv on the property schema at path.
func (o *ordered) setAt(path []string, kv map[string]any) error {
	if len(path) == 0 {
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			if err := o.set(k, kv[k]); err != nil {
				return err
			}
		}
		return nil
	}
	name, items := strings.CutSuffix(path[0], "[]")
	props, err := o.child("properties")
	if err != nil {
		return err
	}
	prop, err := props.child(name)
	if err != nil {
		return err
	}
	target := prop
	if items {
		if target, err = prop.child("items"); err != nil {
			return err
		}
	}
	if err := target.setAt(path[1:], kv); err != nil {
		return err
	}
	if items {
		if err := prop.set("items", target); err != nil {
			return err
		}
	}
	if err := props.set(name, prop); err != nil {
		return err
	}
	return o.set("properties", props)
}

func (o *ordered) child(key string) (*ordered, error) {
	raw, ok := o.vals[key]
	if !ok {
		return nil, fmt.Errorf("no %q", key)
	}
	return parseOrdered(raw)
}

func (o *ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// summarised lists, per tool, the nested records whose fields an output
// schema names in a few words instead of typing one by one: the metric and
// setting records of the two ops tools, which a person or an agent reads
// rather than a program, and which cost every agent 2.5 KB of tools/list on
// every session (issue 14). The answers are unchanged, each record's fields
// are listed in docs/users/context-and-toolsets.md (a test holds the list to
// the Go types), and the task tools, whose answers agents act on, keep every
// field typed. A path is property names, with "[]" for an array's items.
var summarised = map[string]map[string]string{
	"pool_status": {
		"workspaces[].pools[]":   "A pool's state and metrics",
		"workspaces[].mirrors[]": "A task mirror's state and lag",
	},
	"workspace_info": {
		"backends[]":       "A backend and its state",
		"operational_pool": "The SQLite pool's settings",
		"paths":            "Where the project's data lives",
	},
}

// summariseRecords replaces the records summarised names for tool with an
// object described in words.
func summariseRecords(tool string, root map[string]any) {
	for path, description := range summarised[tool] {
		record := recordAt(tool, root, path)
		clear(record)
		record["type"] = "object"
		record["description"] = description
	}
}

// recordAt is the schema at path (see summarised) in an output schema.
func recordAt(tool string, root map[string]any, path string) map[string]any {
	node := root
	for _, step := range strings.Split(path, ".") {
		name, isArray := strings.CutSuffix(step, "[]")
		props, _ := node["properties"].(map[string]any)
		if node, _ = props[name].(map[string]any); node == nil {
			panic(fmt.Sprintf("tools: %s's output schema has no %s", tool, path))
		}
		if isArray {
			if node, _ = node["items"].(map[string]any); node == nil {
				panic(fmt.Sprintf("tools: %s's output schema: %s is not an array", tool, path))
			}
		}
	}
	return node
}
