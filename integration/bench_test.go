package integration

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// End-to-end calls through the real binary over stdio from the mcp-go client:
// calls per second and p50/p99 latency, one at a time and with 16 in flight.
// Run with IT_NO_RACE=1 so that the binary is built without the race detector.
func BenchmarkStdio(b *testing.B) {
	project := newProject(b)
	p := start(b, procOpts{dir: project, fast: true})
	ctx := context.Background()
	var seed taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "seed", "description": "a task to read"}, &seed)

	calls := map[string]func(i int64) map[string]any{
		"task_get": func(int64) map[string]any {
			return map[string]any{"workspace": project, "id": seed.Task.ID}
		},
		"task_create": func(i int64) map[string]any {
			return map[string]any{"workspace": project, "title": fmt.Sprintf("bench %d", i), "labels": []string{"bench"}}
		},
	}
	for _, tool := range []string{"task_get", "task_create"} {
		for _, inflight := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/inflight-%d", tool, inflight), func(b *testing.B) {
				args := calls[tool]
				lat := make([]time.Duration, b.N)
				var next atomic.Int64
				var wg sync.WaitGroup
				var failed atomic.Int64
				b.ResetTimer()
				start := time.Now()
				for range inflight {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1) - 1
							if i >= int64(b.N) {
								return
							}
							req := mcp.CallToolRequest{}
							req.Params.Name = tool
							req.Params.Arguments = args(i)
							t0 := time.Now()
							res, err := p.c.CallTool(ctx, req)
							lat[i] = time.Since(t0)
							if err != nil || res.IsError {
								failed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d calls failed", n)
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			})
		}
	}
}

// BenchmarkManagedChromaColdStart times a project's first vector call in managed
// mode: starting Chroma for the project, waiting for its heartbeat, creating the
// database state, and answering. Run with -benchtime 3x: each iteration is a new
// project and a new server.
func BenchmarkManagedChromaColdStart(b *testing.B) {
	env := managedEnv(b)
	ctx := context.Background()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		project := newProject(b)
		p := start(b, procOpts{dir: project, env: env, fast: true})
		b.StartTimer()
		t0 := time.Now()
		p.ok(ctx, "vector_collections", map[string]any{"workspace": project}, nil)
		total += time.Since(t0)
		b.StopTimer()
		p.close()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-call")
}
