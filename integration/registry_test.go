package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// With max_workspaces 2, a third project evicts the least recently used one:
// its pools are closed (WAL checkpointed) and reopen on its next call.
func TestLeastRecentlyUsedProjectIsEvicted(t *testing.T) {
	a, b, c := newProject(t), newProject(t), newProject(t)
	p := start(t, procOpts{dir: t.TempDir(), env: []string{"TASK_ORCHESTRATOR_MAX_WORKSPACES=2"}})
	ctx := ctxT(t)
	for _, proj := range []string{a, b, c} {
		p.ok(ctx, "task_create", map[string]any{"workspace": proj, "title": "in " + filepath.Base(proj)}, nil)
	}
	var st struct {
		Workspaces []struct {
			Root string `json:"root"`
		} `json:"workspaces"`
	}
	p.ok(ctx, "pool_status", map[string]any{"all": true}, &st)
	var open []string
	for _, w := range st.Workspaces {
		open = append(open, w.Root)
	}
	if len(open) != 2 || strings.Contains(strings.Join(open, " "), a) {
		t.Fatalf("open projects = %v, want %s and %s (%s evicted)", open, b, c, a)
	}
	if !walCheckpointed(a) {
		t.Fatalf("the evicted project's WAL was not checkpointed: its pools were not closed")
	}
	var l listOut
	p.ok(ctx, "task_list", map[string]any{"workspace": a}, &l)
	if len(l.Tasks) != 1 {
		t.Fatalf("after eviction project A lists %d tasks, want 1", len(l.Tasks))
	}
	log, err := os.ReadFile(filepath.Join(a, ".task_orchestrator", "logs", "server.log"))
	if err != nil || !strings.Contains(string(log), "backend opened") {
		t.Fatalf("project log file: %v\n%s", err, log)
	}
}
