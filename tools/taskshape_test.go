package tools_test

import (
	"encoding/json"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// task_get's output schema lists every field of a task; the other tools that
// answer with a task say so in one line instead of repeating the fields.
func TestOnlyTaskGetListsTheTaskFields(t *testing.T) {
	schemas := map[string]map[string]any{}
	for _, st := range tools.New(&tools.Deps{}).Tools(false) {
		b, err := json.Marshal(st.Tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		schemas[st.Tool.Name] = m
	}
	defs, _ := schemas["task_get"]["$defs"].(map[string]any)
	task, _ := defs["task"].(map[string]any)
	props, _ := task["properties"].(map[string]any)
	for _, f := range []string{"id", "title", "status", "priority", "assignee", "lease_expires_at", "version", "metadata"} {
		if _, ok := props[f]; !ok {
			t.Errorf("task_get's task lists no %q: %v", f, props)
		}
	}
	for _, name := range []string{"task_create", "task_update", "task_claim", "task_complete", "task_heartbeat", "task_release", "task_dependency"} {
		p, _ := schemas[name]["properties"].(map[string]any)
		got, _ := p["task"].(map[string]any)
		if got["description"] != "As task_get's task" || got["properties"] != nil {
			t.Errorf("%s's task = %v, want the one-line reference to task_get's task", name, got)
		}
	}
	// task_claim's task is null when nothing is ready: the reference keeps that.
	p, _ := schemas["task_claim"]["properties"].(map[string]any)
	if ty, _ := json.Marshal(p["task"].(map[string]any)["type"]); string(ty) != `["null","object"]` {
		t.Errorf("task_claim's task type = %s, want [\"null\",\"object\"]", ty)
	}
	items, _ := schemas["task_list"]["properties"].(map[string]any)["tasks"].(map[string]any)["items"].(map[string]any)
	if items["description"] != "As task_get's task" {
		t.Errorf("task_list's items = %v, want the reference to task_get's task", items)
	}
}
