package integration

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// BenchmarkMirrors times task_create and task_update with the task mirrors
// off (no Chroma, no Neo4j configured), on (both configured, the syncer
// delivering every change) and down (both configured, neither answering: the
// syncer keeps every change and retries with backoff), in the same run, one
// server process for each. "down" isolates the path: it has the outbox and a
// syncer but no delivery work competing for the CPU.
// The sync must never sit on a task call's path: a call only writes its
// outbox row and wakes the syncer. drain-ms is how long after the last call
// the mirrors had everything (on only).
//
//	IT_NO_RACE=1 go test ./integration -run '^$' -bench Mirrors -benchtime 2000x -count 6 | benchstat -col /mirrors -
func BenchmarkMirrors(b *testing.B) {
	ctx := context.Background()
	type server struct {
		p       *proc
		project string
	}
	servers := map[string]server{}
	for _, mode := range []string{"off", "on", "down"} {
		project := newProject(b)
		env := []string{"CHROMA_URL=", "NEO4J_URI=", "TASK_ORCHESTRATOR_CHROMA_COMMAND=", "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER="}
		switch mode {
		case "on":
			env = append(remoteEnv(chromaURL(b)), sharedNeo4jEnv(b)...)
		case "down":
			closed := freePort(b) // nothing listens there
			env = append(remoteEnv(fmt.Sprintf("http://127.0.0.1:%d", closed)),
				fmt.Sprintf("NEO4J_URI=bolt://127.0.0.1:%d", closed), "NEO4J_USERNAME=neo4j", "NEO4J_PASSWORD=unused")
		}
		p := start(b, procOpts{dir: project, env: env, fast: true})
		p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "warm-up"}, nil)
		m := mirrors(b, ctx, p, project)
		for _, name := range []string{"vector", "graph"} {
			want := map[string]string{"off": "not configured", "on": "ok", "down": "retrying"}[mode]
			st := m[name].State
			if st != want && !(mode != "off" && (st == "reconciling" || st == "starting")) {
				b.Fatalf("mirrors=%s: the %s mirror is %+v, want %s", mode, name, m[name], want)
			}
		}
		servers[mode] = server{p, project}
	}
	for _, tool := range []string{"task_create", "task_update"} {
		for _, mode := range []string{"off", "on", "down"} {
			s := servers[mode]
			var target taskOut
			s.p.ok(ctx, "task_create", map[string]any{"workspace": s.project, "title": "updated by the benchmark"}, &target)
			b.Run(fmt.Sprintf("tool=%s/mirrors=%s", tool, mode), func(b *testing.B) {
				lat := make([]time.Duration, b.N)
				cpu0 := cpuTime(s.p.cmd.Process.Pid)
				b.ResetTimer()
				t0 := time.Now()
				for i := range b.N {
					req := mcp.CallToolRequest{}
					req.Params.Name = tool
					if tool == "task_create" {
						req.Params.Arguments = map[string]any{"workspace": s.project, "title": fmt.Sprintf("bench %d", i),
							"description": "a task written by the mirror benchmark", "labels": []string{"bench"}}
					} else {
						req.Params.Arguments = map[string]any{"workspace": s.project, "id": target.Task.ID,
							"title": fmt.Sprintf("updated %d", i)}
					}
					c0 := time.Now()
					res, err := s.p.c.CallTool(ctx, req)
					lat[i] = time.Since(c0)
					if err != nil || res.IsError {
						b.Fatalf("%s: %v %s", tool, err, text(res))
					}
				}
				elapsed := time.Since(t0)
				b.StopTimer()
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				if mode == "on" {
					took, _ := waitConverged(b, ctx, s.p, s.project, 2*time.Minute)
					b.ReportMetric(float64(took.Milliseconds()), "drain-ms")
				}
				// The server process's own CPU (calls plus, when on, the syncer's
				// share until drained), per call; Chroma and Neo4j are other processes.
				b.ReportMetric(float64((cpuTime(s.p.cmd.Process.Pid)-cpu0).Microseconds())/float64(b.N), "server-cpu-µs/op")
			})
		}
	}
}

// cpuTime is the user+system CPU a process has used so far (Linux /proc; 0
// elsewhere).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at ") ".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}
