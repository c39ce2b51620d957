package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// logHandles counts the server process's open descriptors on the project's
// server.log (Linux: /proc/PID/fd).
func logHandles(t *testing.T, pid int, project string) int {
	t.Helper()
	want := filepath.Join(project, ".task_orchestrator", "logs", "server.log")
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading the server's descriptors: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && target == want {
			n++
		}
	}
	return n
}

// TestProjectOneLogHandleForEveryBackend: the task, vector and graph stores of
// one project write to one handle on its server.log, not one each, and every
// backend's records land in it.
func TestProjectOneLogHandleForEveryBackend(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Fatal("this test reads /proc/PID/fd (Linux)")
	}
	project := newProject(t)
	env := append(sharedNeo4jEnv(t), remoteEnv(chromaURL(t))...)
	p := start(t, procOpts{dir: project, env: env})
	ctx := ctxT(t)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "one log"}, nil)
	p.ok(ctx, "graph_merge_node", map[string]any{"workspace": project, "label": "File", "key": "main.go"}, nil)
	p.ok(ctx, "vector_upsert", map[string]any{"workspace": project, "collection": "notes",
		"documents": []map[string]any{{"id": "n1", "text": "one handle for every backend"}}}, nil)
	if n := logHandles(t, p.cmd.Process.Pid, project); n != 1 {
		t.Fatalf("the server holds %d handles on the project's server.log after using three backends, want 1", n)
	}
	b, err := os.ReadFile(filepath.Join(project, ".task_orchestrator", "logs", "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{`"backend":"operational"`, `"backend":"graph"`, `"backend":"vector"`} {
		if !strings.Contains(string(b), `"msg":"backend opened"`) || !strings.Contains(string(b), backend) {
			t.Errorf("server.log has no \"backend opened\" record with %s:\n%s", backend, tail(string(b), 2000))
		}
	}
}
