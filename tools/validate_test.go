package tools_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// badArgCase is one generated bad call: the argument it is about and the
// start of the sentence the answer must begin with.
type badArgCase struct {
	tool, name string
	args       map[string]any
	arg        string // the argument the message must name
	prefix     string // what the message must start with
}

func inputSchema(t testing.TB, tool mcp.Tool) map[string]any {
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

func schemaTypes(p map[string]any) []string {
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

// validValue is a value p accepts (nested required fields filled in).
func validValue(p map[string]any) any {
	if enum, ok := p["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	ts := schemaTypes(p)
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
		for _, r := range requiredOf(p) {
			name := r.(string)
			sub, _ := props[name].(map[string]any)
			obj[name] = validValue(sub)
		}
		return obj
	}
	return "x"
}

func requiredOf(p map[string]any) []any {
	r, _ := p["required"].([]any)
	return r
}

func baseArgs(schema map[string]any, project string) map[string]any {
	args := map[string]any{}
	props, _ := schema["properties"].(map[string]any)
	if _, ok := props["workspace"]; ok {
		args["workspace"] = project
	}
	for _, r := range requiredOf(schema) {
		sub, _ := props[r.(string)].(map[string]any)
		args[r.(string)] = validValue(sub)
	}
	return args
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

// badArgCases generates, from each tool's own input schema, a call for every
// kind of mistake the schema can say: a missing required argument, a wrong
// type, an out-of-range number, a too long string, too many items, a value
// outside an enum, and an unknown argument.
func badArgCases(t testing.TB, all []mcp.Tool, project string) []badArgCase {
	var cases []badArgCase
	for _, tool := range all {
		schema := inputSchema(t, tool)
		props, _ := schema["properties"].(map[string]any)
		base := baseArgs(schema, project)
		add := func(name string, args map[string]any, arg, prefix string) {
			cases = append(cases, badArgCase{tool: tool.Name, name: tool.Name + "/" + name, args: args, arg: arg, prefix: prefix})
		}
		for _, r := range requiredOf(schema) {
			name := r.(string)
			add("missing "+name, with(base, name, nil), name, fmt.Sprintf("argument %q is required: pass it as ", name))
		}
		add("unknown argument", with(base, "bogus_arg", "x"), "bogus_arg", `unknown argument "bogus_arg"; this tool accepts: `)
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			p, _ := props[name].(map[string]any)
			ts := schemaTypes(p)
			if len(ts) == 0 {
				continue
			}
			wrong := any(42)
			if slices.Contains(ts, "string") {
				wrong = 42
			} else {
				wrong = "oops"
			}
			add("wrong type "+name, with(base, name, wrong), name, fmt.Sprintf("argument %q must be ", name))
			if _, ok := p["enum"]; ok {
				add("enum "+name, with(base, name, "not-a-choice"), name, fmt.Sprintf("argument %q must be one of ", name))
			}
			lo, hasLo := p["minimum"].(float64)
			hi, hasHi := p["maximum"].(float64)
			switch {
			case hasLo && hasHi: // the whole range in one sentence
				want := fmt.Sprintf("argument %q must be between %v and %v, not ", name, lo, hi)
				add("below minimum "+name, with(base, name, lo-1), name, want+fmt.Sprint(lo-1))
				add("above maximum "+name, with(base, name, hi+1), name, want+fmt.Sprint(hi+1))
			case hasLo:
				add("below minimum "+name, with(base, name, lo-1), name, fmt.Sprintf("argument %q must be at least ", name))
			case hasHi:
				add("above maximum "+name, with(base, name, hi+1), name, fmt.Sprintf("argument %q must be at most ", name))
			}
			if m, ok := p["maxLength"].(float64); ok {
				add("too long "+name, with(base, name, strings.Repeat("y", int(m)+1)), name, fmt.Sprintf("argument %q is ", name))
			}
			if m, ok := p["maxItems"].(float64); ok {
				items := make([]any, int(m)+1)
				for i := range items {
					items[i] = validValue(mapOf(p["items"]))
				}
				add("too many items "+name, with(base, name, items), name, fmt.Sprintf("argument %q lists ", name))
			}
		}
	}
	return cases
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }

// leaks are what a message for the client must never contain: Go value
// dumps, Go type names, source paths, the validator's name or its schema URL.
var leaks = regexp.MustCompile(`&\{|\bint64\b|\bfloat64\b|\[\]string|\[\]any|map\[|json\.Number|interface \{|\.go:|jsonschema|file://|mem:///|\*big\.Rat`)

func checkSentence(t *testing.T, msg, arg string) {
	t.Helper()
	checkQuotedName(t, msg, arg)
	checkNoLeak(t, msg)
}

func checkQuotedName(t *testing.T, msg, arg string) {
	t.Helper()
	if !strings.Contains(msg, `"`+arg+`"`) {
		t.Errorf("the message does not name %q: %s", arg, msg)
	}
}

func checkNoLeak(t *testing.T, msg string) {
	t.Helper()
	if l := leaks.FindString(msg); l != "" {
		t.Errorf("the message leaks %q: %s", l, msg)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("the message is not one sentence: %q", msg)
	}
}

// Every tool answers every kind of bad argument its schema can describe with a
// tool error: one sentence naming the argument, with no Go dump in it.
func TestBadArgsOfEveryToolGetOneSentence(t *testing.T) {
	e := newEnv(t)
	var all []mcp.Tool
	for _, st := range tools.New(e.deps).Tools(false) {
		all = append(all, st.Tool)
	}
	cases := badArgCases(t, all, e.project)
	if len(cases) < 3*len(all) {
		t.Fatalf("only %d cases for %d tools", len(cases), len(all))
	}
	kinds := map[string]int{}
	for _, tc := range cases {
		kinds[strings.SplitN(strings.SplitN(tc.name, "/", 2)[1], " ", 2)[0]]++
		t.Run(tc.name, func(t *testing.T) {
			res := e.call(tc.tool, tc.args)
			msg := resultText(res)
			if !res.IsError {
				t.Fatalf("%s(%v) succeeded: %s", tc.tool, tc.args, msg)
			}
			if !strings.HasPrefix(msg, tc.prefix) {
				t.Errorf("got  %q\nwant it to start with %q", msg, tc.prefix)
			}
			checkSentence(t, msg, tc.arg)
		})
	}
	// Out-of-range values, the whole sentence: the input schemas declare
	// their bounds (tools' bounds option), so the validator answers them.
	labels := make([]string, 40)
	for i := range labels {
		labels[i] = fmt.Sprintf("l%d", i)
	}
	for _, tc := range []struct {
		badArgCase
		want string
	}{
		{badArgCase{tool: "task_list", name: "task_list/range limit -1", args: map[string]any{"workspace": e.project, "limit": -1}, arg: "limit"},
			`argument "limit" must be between 1 and 200, not -1`},
		{badArgCase{tool: "task_list", name: "task_list/range limit 1000", args: map[string]any{"workspace": e.project, "limit": 1000}, arg: "limit"},
			`argument "limit" must be between 1 and 200, not 1000`},
		{badArgCase{tool: "task_history", name: "task_history/range limit 0", args: map[string]any{"workspace": e.project, "id": "tsk_x", "limit": 0}, arg: "limit"},
			`argument "limit" must be between 1 and 200, not 0`},
		{badArgCase{tool: "task_create", name: "task_create/range title too long", args: map[string]any{"workspace": e.project, "title": strings.Repeat("t", 600)}, arg: "title"},
			`argument "title" is 600 characters long; the limit is 500, so shorten it`},
		{badArgCase{tool: "task_create", name: "task_create/range too many labels", args: map[string]any{"workspace": e.project, "title": "t", "labels": labels}, arg: "labels"},
			`argument "labels" lists 40 items; the limit is 32, so send fewer`},
		{badArgCase{tool: "task_claim", name: "task_claim/range lease_seconds -5", args: map[string]any{"workspace": e.project, "agent": "a", "lease_seconds": -5}, arg: "lease_seconds"},
			`argument "lease_seconds" must be between 1 and 86400, not -5`},
		{badArgCase{tool: "task_plan", name: "task_plan/range title of a task too long", args: map[string]any{"workspace": e.project, "tasks": []any{map[string]any{"ref": "a", "title": strings.Repeat("t", 501)}}}, arg: "tasks[0].title"},
			`argument "tasks[0].title" is 501 characters long; the limit is 500, so shorten it`},
	} {
		kinds["range"]++
		t.Run(tc.name, func(t *testing.T) {
			res := e.call(tc.tool, tc.args)
			if msg := resultText(res); !res.IsError || msg != tc.want {
				t.Errorf("%s: got %q (isError %v)\nwant %q", tc.name, msg, res.IsError, tc.want)
			}
		})
	}
	for _, k := range []string{"missing", "unknown", "wrong", "enum"} {
		if kinds[k] == 0 {
			t.Errorf("no %q case was generated", k)
		}
	}
	t.Logf("%d cases over %d tools: %v", len(cases), len(all), kinds)
}

// The whole sentence, for a sample of every kind.
func TestBadArgsSentencesInFull(t *testing.T) {
	e := newEnv(t)
	ws := e.project
	long := strings.Repeat("z", 500)
	cases := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"task_create", map[string]any{"workspace": ws}, `argument "title" is required: pass it as a string`},
		{"task_create", map[string]any{"workspace": ws, "title": 42}, `argument "title" must be a string, not the number 42`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "priority": "urgent"}, `argument "priority" must be one of low, medium, high or critical, not the string "urgent"; pass one of those`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "bogus": 1}, `unknown argument "bogus"; this tool accepts: depends_on, description, labels, metadata, parent_id, priority, role, title, workspace`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "labels": "a,b"}, `argument "labels" must be an array, not the string "a,b"`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "depends_on": []any{"a", "b", 7}}, `argument "depends_on[2]" must be a string, not the number 7`},
		{"task_list", map[string]any{"workspace": ws, "limit": "ten"}, `argument "limit" must be an integer, not the string "ten"`},
		{"task_list", map[string]any{"workspace": ws, "limit": 2.5}, `argument "limit" must be an integer, not the number 2.5`},
		{"task_delete", map[string]any{"workspace": ws, "id": "x", "cascade": "yes"}, `argument "cascade" must be a boolean, not the string "yes"`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "priority": long}, `argument "priority" must be one of low, medium, high or critical, not the string "` + strings.Repeat("z", 60) + `…"; pass one of those`},
	}
	for _, tc := range cases {
		res := e.call(tc.tool, tc.args)
		if got := resultText(res); !res.IsError || got != tc.want {
			t.Errorf("%s(%v):\ngot  %q (isError %v)\nwant %q", tc.tool, tc.args, got, res.IsError, tc.want)
		}
	}
}

// A nested argument is named by its path.
func TestBadNestedArgNamesItsPath(t *testing.T) {
	e := newEnv(t)
	res := e.call("task_complete", map[string]any{"workspace": e.project, "id": "x", "artifact": map[string]any{"name": 5, "content": "x"}})
	want := `argument "artifact.name" must be a string, not the number 5`
	if got := resultText(res); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
