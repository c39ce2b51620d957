package tools_test

import (
	"testing"
)

// BenchmarkInProcess measures a tool call without a transport: handler,
// schema validation, workspace resolution, pool and SQLite.
func BenchmarkInProcess(b *testing.B) {
	e := newEnvWith(b, false)
	var created struct {
		Task struct {
			ID string `json:"id"`
		} `json:"task"`
	}
	e.ok("task_create", map[string]any{"title": "seed"}, &created)
	b.Run("task_get", func(b *testing.B) {
		args := map[string]any{"workspace": e.project, "id": created.Task.ID}
		for b.Loop() {
			if res := e.call("task_get", args); res.IsError {
				b.Fatal(resultText(res))
			}
		}
	})
	b.Run("task_create", func(b *testing.B) {
		args := map[string]any{"workspace": e.project, "title": "bench"}
		for b.Loop() {
			if res := e.call("task_create", args); res.IsError {
				b.Fatal(resultText(res))
			}
		}
	})
}
