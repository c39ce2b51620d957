package tools_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// mcp-go skips output validation, silently, for a schema that does not
// compile; so every lean output schema must compile, $refs included.
func TestLeanOutputSchemasCompile(t *testing.T) {
	for _, st := range tools.New(&tools.Deps{}).Tools(false) {
		raw, err := json.Marshal(st.Tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := compileSchema(st.Tool.Name, raw); err != nil {
			t.Errorf("the output schema of %s does not compile: %v", st.Tool.Name, err)
		}
		if strings.Contains(string(raw), `"additionalProperties":false`) {
			t.Errorf("the output schema of %s still closes an object: %s", st.Tool.Name, raw)
		}
	}
}

// task_get's task, subtasks and dependents share one definition, and the
// reference is followed: a subtask without an id is refused.
func TestTaskGetOutputSchemaDefinesTheTaskOnce(t *testing.T) {
	var get []byte
	for _, st := range tools.New(&tools.Deps{}).Tools(false) {
		if st.Tool.Name == "task_get" {
			get, _ = json.Marshal(st.Tool.OutputSchema)
		}
	}
	if n := strings.Count(string(get), `"lease_expires_at"`); n != 2 { // once in properties, once in required
		t.Fatalf("task_get's output schema spells the task's shape out %d times, want once:\n%s", n/2, get)
	}
	if !strings.Contains(string(get), `"$ref":"#/$defs/task"`) {
		t.Fatalf("task_get's output schema does not refer to #/$defs/task:\n%s", get)
	}
	s, err := compileSchema("task_get", get)
	if err != nil {
		t.Fatal(err)
	}
	task := map[string]any{"id": "tsk_0123456789abcdef", "title": "t", "description": "", "status": "pending", "priority": "medium",
		"labels": nil, "role": nil, "assignee": nil, "parent_id": nil, "depends_on": nil, "version": 1,
		"created_at": "2026-12-05T00:00:00Z", "updated_at": "2026-12-05T00:00:00Z", "started_at": nil, "completed_at": nil,
		"lease_expires_at": nil, "summary": nil, "metadata": map[string]any{}}
	good := map[string]any{"task": task, "subtasks": []any{task}, "dependents": nil, "artifacts": nil}
	if err := s.Validate(roundTrip(t, good)); err != nil {
		t.Fatalf("a whole task_get result is refused: %v", err)
	}
	sub := map[string]any{}
	for k, v := range task {
		if k != "id" {
			sub[k] = v
		}
	}
	bad := map[string]any{"task": task, "subtasks": []any{sub}, "dependents": nil, "artifacts": nil}
	if err := s.Validate(roundTrip(t, bad)); err == nil {
		t.Fatal("a subtask without an id passed task_get's output schema: the $ref is not followed")
	}
}

func compileSchema(name string, raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	url := "mem:///out/" + name + ".json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
