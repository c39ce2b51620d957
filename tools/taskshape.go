package tools

import (
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// The task's shape (eighteen fields, about 800 bytes of schema) is the answer
// of most task tools. task_get's output schema states it whole; every other
// tool's says "as task_get's task", because tools/list
// is read by the agent's model on every session and the same eight hundred
// bytes eight times over tell it nothing new (issue 14). The answers are not
// changed: a tool that returns a task returns all of it.

// taskShapeOwner is the one tool whose output schema lists the task's fields.
const taskShapeOwner = "task_get"

// sharedTaskDescription replaces the task's fields in the other tools.
const sharedTaskDescription = "As task_get's task"

// taskShapeKey is the canonical JSON of the task's fields and required list,
// as they stand in a lean output schema.
var taskShapeKey = sync.OnceValue(func() string {
	root := openOutputSchema(fixOutputSchema(mcp.NewTool("task_shape", outputSchema[TaskResult]())))
	task, _ := root["properties"].(map[string]any)["task"].(map[string]any)
	if task == nil {
		panic("tools: TaskResult has no task property")
	}
	return shapeKey(task)
})

// shapeKey is the canonical form of an object schema's fields: its properties
// and required list (not its type, which says whether it may be null).
func shapeKey(n map[string]any) string {
	return canonical(map[string]any{"properties": n["properties"], "required": n["required"]})
}

// shareTaskShape replaces every full task shape in root (a lean output
// schema being built for tool) with a pointer to task_get's, keeping the
// node's type (a task that may be null stays nullable). It reports how many
// it replaced.
func shareTaskShape(tool string, root map[string]any) int {
	if tool == taskShapeOwner {
		return 0
	}
	key := taskShapeKey()
	n := 0
	var walk func(node any) any
	walk = func(node any) any {
		switch m := node.(type) {
		case map[string]any:
			if _, ok := m["properties"]; ok && shapeKey(m) == key {
				n++
				out := map[string]any{"description": sharedTaskDescription, "type": m["type"]}
				if out["type"] == nil {
					out["type"] = "object"
				}
				return out
			}
			for k, v := range m {
				m[k] = walk(v)
			}
		case []any:
			for i, v := range m {
				m[i] = walk(v)
			}
		}
		return node
	}
	walk(root)
	return n
}
