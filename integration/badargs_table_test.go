package integration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// clientLeaks are what a tool error must never show: Go value dumps, Go type
// names, source paths, the validator's name or a schema URL.
var clientLeaks = regexp.MustCompile(`&\{|\bint64\b|\bfloat64\b|\[\]string|\[\]any|map\[|json\.Number|interface \{|\.go:|jsonschema|file://|mem:///|\*big\.Rat|goroutine |panic`)

// checkClientSentence fails when msg leaks internals or is not one line.
func checkClientSentence(t *testing.T, msg string) {
	t.Helper()
	if l := clientLeaks.FindString(msg); l != "" {
		t.Errorf("the error leaks %q: %s", l, msg)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("the error is not one sentence: %q", msg)
	}
}

func schemaOf(t *testing.T, tool mcp.Tool) map[string]any {
	t.Helper()
	raw := []byte(tool.RawInputSchema)
	if len(raw) == 0 {
		var err error
		if raw, err = json.Marshal(tool.InputSchema); err != nil {
			t.Fatal(err)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func typesOf(p map[string]any) []string {
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

func acceptable(p map[string]any) any {
	if enum, ok := p["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	ts := typesOf(p)
	if len(ts) == 0 {
		return "x"
	}
	switch ts[0] {
	case "integer", "number":
		return 1
	case "boolean":
		return true
	case "array":
		return []any{}
	case "object":
		obj := map[string]any{}
		props, _ := p["properties"].(map[string]any)
		req, _ := p["required"].([]any)
		for _, r := range req {
			sub, _ := props[r.(string)].(map[string]any)
			obj[r.(string)] = acceptable(sub)
		}
		return obj
	}
	return "x"
}

// Over the real binary (stdio, or HTTP with IT_TRANSPORT=http): for every
// tool it lists, a missing required argument, an unknown one, a wrong-typed
// one and a value outside an enum each get a tool error naming the argument,
// in one sentence with no Go dump; a sample is checked word for word.
func TestBadArgsTableOverTheBinary(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	list, err := p.c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tools) < 10 {
		t.Fatalf("only %d tools listed", len(list.Tools))
	}
	n := 0
	for _, tool := range list.Tools {
		schema := schemaOf(t, tool)
		props, _ := schema["properties"].(map[string]any)
		req, _ := schema["required"].([]any)
		base := map[string]any{}
		if _, ok := props["workspace"]; ok {
			base["workspace"] = project
		}
		for _, r := range req {
			sub, _ := props[r.(string)].(map[string]any)
			base[r.(string)] = acceptable(sub)
		}
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for x, y := range base {
				m[x] = y
			}
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
			return m
		}
		type bad struct {
			what, arg, prefix string
			args              map[string]any
		}
		var cases []bad
		if len(req) > 0 {
			name := req[0].(string)
			cases = append(cases, bad{"missing " + name, name, fmt.Sprintf("argument %q is required: pass it as ", name), with(name, nil)})
		}
		cases = append(cases, bad{"unknown", "bogus_arg", `unknown argument "bogus_arg"; this tool accepts: `, with("bogus_arg", 1)})
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		sort.Strings(names)
		wrongDone := false
		for _, name := range names {
			pr, _ := props[name].(map[string]any)
			ts := typesOf(pr)
			if len(ts) == 0 {
				continue
			}
			if !wrongDone && !slices.Contains(ts, "string") {
				wrongDone = true
				cases = append(cases, bad{"wrong type " + name, name, fmt.Sprintf("argument %q must be ", name), with(name, "oops")})
			}
			if _, ok := pr["enum"]; ok {
				cases = append(cases, bad{"enum " + name, name, fmt.Sprintf("argument %q must be one of ", name), with(name, "not-a-choice")})
			}
		}
		if !wrongDone && len(names) > 0 {
			cases = append(cases, bad{"wrong type " + names[0], names[0], fmt.Sprintf("argument %q must be ", names[0]), with(names[0], 42)})
		}
		for _, c := range cases {
			n++
			t.Run(tool.Name+"/"+c.what, func(t *testing.T) {
				res := p.call(ctx, tool.Name, c.args)
				msg := text(res)
				if !res.IsError {
					t.Fatalf("%s(%v) succeeded: %s", tool.Name, c.args, msg)
				}
				if !strings.HasPrefix(msg, c.prefix) || !strings.Contains(msg, `"`+c.arg+`"`) {
					t.Errorf("got  %q\nwant it to start with %q", msg, c.prefix)
				}
				checkClientSentence(t, msg)
			})
		}
	}
	t.Logf("%d bad calls over %d tools", n, len(list.Tools))

	ws := project
	whole := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"task_create", map[string]any{"workspace": ws}, `argument "title" is required: pass it as a string`},
		{"task_create", map[string]any{"workspace": ws, "title": 42}, `argument "title" must be a string, not the number 42`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "priority": "urgent"}, `argument "priority" must be one of low, medium, high or critical, not the string "urgent"; pass one of those`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "bogus": 1}, `unknown argument "bogus"; this tool accepts: depends_on, description, labels, metadata, parent_id, priority, role, title, workspace`},
		{"task_list", map[string]any{"workspace": ws, "limit": "ten"}, `argument "limit" must be an integer, not the string "ten"`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "depends_on": []any{"a", "b", 7}}, `argument "depends_on[2]" must be a string, not the number 7`},
	}
	for _, c := range whole {
		res := p.call(ctx, c.tool, c.args)
		if got := text(res); !res.IsError || got != c.want {
			t.Errorf("%s(%v):\ngot  %q (isError %v)\nwant %q", c.tool, c.args, got, res.IsError, c.want)
		}
	}
}
