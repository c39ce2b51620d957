package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// benchEnv is a project with 20 pending tasks; it returns the first one's id.
func benchEnv(b *testing.B) (*env, string) {
	e := newEnvWith(b, false)
	var created struct {
		Task struct {
			ID string `json:"id"`
		} `json:"task"`
	}
	e.ok("task_create", map[string]any{"title": "seed", "description": "a task to read", "labels": []string{"bench"}}, &created)
	for i := range 19 {
		e.ok("task_create", map[string]any{"title": fmt.Sprintf("open %d", i), "labels": []string{"bench"}}, nil)
	}
	return e, created.Task.ID
}

// BenchmarkInProcess measures a tool call without a transport: handler,
// argument validation, workspace resolution, pool, SQLite and rendering (and
// mcp-go's in-process client and server around them). task_list reads a page
// of 20 pending tasks; task_claim_complete is one claim and one complete of a
// task created outside the timer (two calls per op).
func BenchmarkInProcess(b *testing.B) {
	e, seeded := benchEnv(b)
	b.Run("task_get", func(b *testing.B) {
		args := map[string]any{"workspace": e.project, "id": seeded}
		for b.Loop() {
			if res := e.call("task_get", args); res.IsError {
				b.Fatal(resultText(res))
			}
		}
	})
	b.Run("task_list_20", func(b *testing.B) {
		args := map[string]any{"workspace": e.project, "status": []string{"pending"}, "limit": 20}
		for b.Loop() {
			if res := e.call("task_list", args); res.IsError {
				b.Fatal(resultText(res))
			}
		}
	})
	b.Run("task_create", func(b *testing.B) {
		args := map[string]any{"workspace": e.project, "title": "bench", "labels": []string{"bench"}}
		for b.Loop() {
			if res := e.call("task_create", args); res.IsError {
				b.Fatal(resultText(res))
			}
		}
	})
	b.Run("task_claim_complete", func(b *testing.B) {
		claim := map[string]any{"workspace": e.project, "agent": "bench-agent", "labels": []string{"claimable"}}
		for b.Loop() {
			b.StopTimer()
			var t struct {
				Task struct {
					ID string `json:"id"`
				} `json:"task"`
			}
			e.ok("task_create", map[string]any{"workspace": e.project, "title": "to claim", "labels": []string{"claimable"}, "priority": "critical"}, &t)
			b.StartTimer()
			if res := e.call("task_claim", claim); res.IsError {
				b.Fatal(resultText(res))
			}
			if res := e.call("task_complete", map[string]any{"workspace": e.project, "id": t.Task.ID, "agent": "bench-agent", "summary": "done"}); res.IsError {
				b.Fatal(resultText(res))
			}
		}
	})
}

// BenchmarkServerSide is the server's whole share of a call and nothing of a
// client's: mcp-go's HandleMessage on the request's bytes (parsing,
// validation, the handler, the store) and the response marshalled as the
// stdio transport writes it. Its allocations are the server's per call.
func BenchmarkServerSide(b *testing.B) {
	e, seeded := benchEnv(b)
	ws, _ := json.Marshal(e.project)
	calls := []struct{ name, args string }{
		{"task_get", `{"workspace":` + string(ws) + `,"id":"` + seeded + `"}`},
		{"task_list_20", `{"workspace":` + string(ws) + `,"status":["pending"],"limit":20}`},
		{"task_create", `{"workspace":` + string(ws) + `,"title":"bench","labels":["bench"]}`},
	}
	ctx := context.Background()
	for _, c := range calls {
		tool := strings.TrimSuffix(c.name, "_20")
		msg := []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + c.args + `}}`)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp := e.srv.HandleMessage(ctx, msg)
				out, err := json.Marshal(resp)
				if err != nil || bytes.Contains(out, []byte(`"isError":true`)) {
					b.Fatalf("%s: %v %s", tool, err, out)
				}
			}
		})
	}
}
