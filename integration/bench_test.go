package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// End-to-end calls through the real binary over stdio from the mcp-go client:
// calls per second, p50/p99 latency and the server process's CPU per call
// (cpu-µs/call, from /proc), one at a time and with 16 in flight, beside the
// floor (integration/floor: a trivial mcp-go stdio server whose one tool
// returns a constant) in the same run, so that each figure of the server is
// read as a ratio to floor/inflight-N (issue 17). task_list lists 20 pending
// tasks. Run with IT_NO_RACE=1 so that the binaries are built without the
// race detector:
//
//	IT_NO_RACE=1 go test -run '^$' -bench Stdio -benchtime 1000x -count 6 ./integration/
func BenchmarkStdio(b *testing.B) {
	if overHTTP {
		b.Skip("a stdio benchmark (IT_TRANSPORT=http)")
	}
	ctx := context.Background()
	floorPD := prepare(b, procOpts{dir: newProject(b), bin: floorBin(b)})
	if err := floorPD.launch(); err != nil {
		b.Fatal(err)
	}
	floor := floorPD.p
	project := newProject(b)
	p := start(b, procOpts{dir: project, fast: true})
	var seed []string
	for i := range 20 {
		var t taskOut
		p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": fmt.Sprintf("seed %d", i), "description": "a task to read"}, &t)
		seed = append(seed, t.Task.ID)
	}
	var listed listOut
	p.ok(ctx, "task_list", map[string]any{"workspace": project, "status": []string{"pending"}, "limit": 20}, &listed)
	if len(listed.Tasks) != 20 {
		b.Fatalf("task_list answered %d tasks, want 20", len(listed.Tasks))
	}

	// In this order: task_list before task_create adds to the project.
	scenarios := []struct {
		name, tool string
		p          *proc
		args       func(i int64) map[string]any
	}{
		{"floor", "echo", floor, func(int64) map[string]any {
			return map[string]any{"workspace": project, "id": seed[0]}
		}},
		{"task_get", "task_get", p, func(int64) map[string]any {
			return map[string]any{"workspace": project, "id": seed[0]}
		}},
		{"task_list", "task_list", p, func(int64) map[string]any {
			return map[string]any{"workspace": project, "status": []string{"pending"}, "limit": 20}
		}},
		{"task_create", "task_create", p, func(i int64) map[string]any {
			return map[string]any{"workspace": project, "title": fmt.Sprintf("bench %d", i), "labels": []string{"bench"}}
		}},
	}
	for _, sc := range scenarios {
		for i := range 200 { // warm-up
			sc.p.ok(ctx, sc.tool, sc.args(int64(-1-i)), nil)
		}
		for _, inflight := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/inflight-%d", sc.name, inflight), func(b *testing.B) {
				lat := make([]time.Duration, b.N)
				var next atomic.Int64
				var wg sync.WaitGroup
				var failed atomic.Int64
				pid := sc.p.cmd.Process.Pid
				b.ResetTimer()
				cpu0 := cpuTime(pid)
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
							req.Params.Name = sc.tool
							req.Params.Arguments = sc.args(i)
							t0 := time.Now()
							res, err := sc.p.c.CallTool(ctx, req)
							lat[i] = time.Since(t0)
							if err != nil || res.IsError {
								failed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				cpu := cpuTime(pid) - cpu0
				b.StopTimer()
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d calls failed", n)
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				// The server process's own CPU per call, in 10 ms ticks: read it
				// with -benchtime 1000x or more.
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
			})
		}
	}
}

var floorOnce struct {
	sync.Once
	path string
	err  error
}

// floorBin builds integration/floor once, beside the server binary, the
// same way (without the race detector under IT_NO_RACE).
func floorBin(t testing.TB) string {
	floorOnce.Do(func() {
		floorOnce.path = filepath.Join(filepath.Dir(binPath), "floor")
		build := exec.Command("go", "build", "-race", "-o", floorOnce.path, "./floor")
		if os.Getenv("IT_NO_RACE") != "" {
			build = exec.Command("go", "build", "-o", floorOnce.path, "./floor")
		}
		if out, err := build.CombinedOutput(); err != nil {
			floorOnce.err = fmt.Errorf("building the floor: %v\n%s", err, out)
		}
	})
	if floorOnce.err != nil {
		t.Fatal(floorOnce.err)
	}
	return floorOnce.path
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
