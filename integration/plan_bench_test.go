package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// BenchmarkPlan100 lays out a plan of 100 tasks, each depending on the one
// before it, over stdio, two ways in the same run: one task_plan call
// (mode=plan) versus 100 task_create calls, each naming the id the previous
// one returned (mode=create). One op is a whole plan of 100. Each mode has
// its own server process and project; server-cpu-µs/op is that process's
// CPU (Linux /proc) per plan.
//
//	IT_NO_RACE=1 go test ./integration -run '^$' -bench Plan100 -benchtime 20x -count 6 | benchstat -col /mode -
func BenchmarkPlan100(b *testing.B) {
	ctx := context.Background()
	const n = 100
	for _, mode := range []string{"plan", "create"} {
		project := newProject(b)
		p := start(b, procOpts{dir: project, fast: true})
		p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "warm-up"}, nil)
		b.Run("mode="+mode, func(b *testing.B) {
			call := func(name string, args map[string]any) *mcp.CallToolResult {
				req := mcp.CallToolRequest{}
				req.Params.Name = name
				req.Params.Arguments = args
				res, err := p.c.CallTool(ctx, req)
				if err != nil || res.IsError {
					b.Fatalf("%s: %v %s", name, err, text(res))
				}
				return res
			}
			cpu0 := cpuTime(p.cmd.Process.Pid)
			calls := 0
			b.ResetTimer()
			t0 := time.Now()
			for i := range b.N {
				switch mode {
				case "plan":
					tasks := make([]map[string]any, n)
					for k := range n {
						tasks[k] = map[string]any{"ref": fmt.Sprintf("p%d-t%d", i, k), "title": fmt.Sprintf("plan %d step %d", i, k),
							"description": "a step of a benchmark plan", "labels": []string{"bench"}}
						if k > 0 {
							tasks[k]["depends_on"] = []string{fmt.Sprintf("p%d-t%d", i, k-1)}
						}
					}
					var out planOut
					decode(b, call("task_plan", map[string]any{"workspace": project, "tasks": tasks}), &out)
					calls++
					if len(out.IDs) != n {
						b.Fatalf("task_plan created %d tasks, want %d", len(out.IDs), n)
					}
				case "create":
					prev := ""
					for k := range n {
						args := map[string]any{"workspace": project, "title": fmt.Sprintf("plan %d step %d", i, k),
							"description": "a step of a benchmark plan", "labels": []string{"bench"}}
						if prev != "" {
							args["depends_on"] = []string{prev}
						}
						var out taskOut
						decode(b, call("task_create", args), &out)
						calls++
						prev = out.Task.ID
					}
				}
			}
			elapsed := time.Since(t0)
			b.StopTimer()
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "tasks/s")
			b.ReportMetric(float64((cpuTime(p.cmd.Process.Pid)-cpu0).Microseconds())/float64(b.N), "server-cpu-µs/op")
		})
		p.close()
	}
}
