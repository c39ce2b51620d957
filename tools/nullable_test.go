package tools_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// nullTypes lists, by path, every "type" under schema that is a list naming
// "null" and that skip does not excuse.
func nullTypes(path string, node any, skip func(path string, required bool) bool, required bool) []string {
	n, ok := node.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	if ts, ok := n["type"].([]any); ok && slices.Contains(ts, any("null")) && !skip(path, required) {
		out = append(out, fmt.Sprintf("%s: %v", path, ts))
	}
	req := map[string]bool{}
	if r, ok := n["required"].([]any); ok {
		for _, name := range r {
			req[fmt.Sprint(name)] = true
		}
	}
	if props, ok := n["properties"].(map[string]any); ok {
		for name, p := range props {
			out = append(out, nullTypes(path+"."+name, p, skip, req[name])...)
		}
	}
	if defs, ok := n["$defs"].(map[string]any); ok {
		for name, d := range defs {
			out = append(out, nullTypes(path+".$defs."+name, d, skip, true)...)
		}
	}
	if items, ok := n["items"]; ok {
		out = append(out, nullTypes(path+"[]", items, skip, true)...)
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf"} {
		if alts, ok := n[key].([]any); ok {
			for i, a := range alts {
				out = append(out, nullTypes(fmt.Sprintf("%s.%s[%d]", path, key, i), a, skip, required)...)
			}
		}
	}
	return out
}

// No argument of any tool is typed as a list with "null" in it: such unions
// are warned about by the MCP Inspector and handled badly by some clients,
// and an optional argument is simply left out.
func TestNoInputSchemaTypeListsNull(t *testing.T) {
	for _, st := range tools.New(&tools.Deps{}).Tools(false) {
		var schema map[string]any
		if err := json.Unmarshal(st.Tool.RawInputSchema, &schema); err != nil {
			t.Fatalf("%s: %v", st.Tool.Name, err)
		}
		never := func(string, bool) bool { return false }
		for _, bad := range nullTypes(st.Tool.Name, schema, never, true) {
			t.Errorf("input schema %s: a type list with null; write the plain type", bad)
		}
	}
}

// An output property keeps "null" in its type only where the answer can
// really hold a null: a required property (its Go field has no omitempty,
// so nil is sent as null) or an array's item. An omitted one is plain.
func TestOutputSchemaNullOnlyWhereTheAnswerSendsNull(t *testing.T) {
	for _, st := range tools.New(&tools.Deps{}).Tools(false) {
		raw, err := json.Marshal(st.Tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		var schema map[string]any
		if err := json.Unmarshal(raw, &schema); err != nil {
			t.Fatal(err)
		}
		sentAsNull := func(_ string, required bool) bool { return required }
		for _, bad := range nullTypes(st.Tool.Name, schema, sentAsNull, true) {
			t.Errorf("output schema %s: an omitted property typed with null; it is never sent as null", bad)
		}
	}
}

// A null argument is an absent one, as it was when the schemas said
// ["null", …]: optional arguments given null are left unset (top level and
// inside a plan's tasks), a required one given null is answered "is
// required", and a null inside an array is still a wrong value.
func TestNullArgumentIsTakenForAbsent(t *testing.T) {
	e := newEnv(t)
	var created tools.TaskResult
	e.ok("task_create", map[string]any{"workspace": e.project, "title": "keep me", "labels": nil, "depends_on": nil, "role": nil, "parent_id": nil}, &created)
	if created.Task.Title != "keep me" || len(created.Task.Labels) != 0 || created.Task.Role != nil || created.Task.ParentID != nil {
		t.Fatalf("task_create with null optionals made %+v", created.Task)
	}
	// workspace null: the server's own default workspace (the env's project).
	e.ok("task_list", map[string]any{"workspace": nil, "status": nil, "limit": nil, "cursor": nil, "ready": nil}, nil)

	var updated tools.TaskResult
	e.ok("task_update", map[string]any{"workspace": e.project, "id": created.Task.ID, "title": nil, "role": nil, "summary": "s",
		"labels": nil, "metadata": nil, "version": nil}, &updated)
	if updated.Task.Title != "keep me" || updated.Task.Role != nil || updated.Task.Summary == nil || *updated.Task.Summary != "s" {
		t.Fatalf("task_update with null fields changed what it should leave alone: %+v", updated.Task)
	}

	var plan tools.PlanResult
	e.ok("task_plan", map[string]any{"workspace": e.project, "tasks": []any{
		map[string]any{"ref": "a", "title": "first", "labels": nil, "depends_on": nil},
	}}, &plan)
	if len(plan.Tasks) != 1 {
		t.Fatalf("task_plan with null fields in a task made %+v", plan)
	}

	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"task_get", map[string]any{"workspace": e.project, "id": nil}, `argument "id" is required: pass it as a string`},
		{"task_plan", map[string]any{"workspace": e.project, "tasks": []any{map[string]any{"ref": "a", "title": nil}}},
			`argument "tasks[0].title" is required: pass it as a string`},
		{"task_create", map[string]any{"workspace": e.project, "title": "t", "labels": []any{"a", nil}},
			`argument "labels[1]" must be a string, not null`},
	} {
		res := e.call(tc.tool, tc.args)
		if got := resultText(res); !res.IsError || got != tc.want {
			t.Errorf("%s(%v) = %q (isError %v), want %q", tc.tool, tc.args, got, res.IsError, tc.want)
		}
	}
}
