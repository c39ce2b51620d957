package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// A global config with a bad value does not stop the server: a client shows
// only "Connection closed" for a server that exits at start. It initializes,
// lists its tools, and answers every tool call (and resource read) with the
// problems as doctor words them: the key, the line, the file and the fix.
func TestBrokenGlobalConfigStartsAndAnswersEveryCallWithTheProblems(t *testing.T) {
	project := newProject(t)
	cfg := filepath.Join(t.TempDir(), "config.json")
	doc := "{\n  \"server\": {\n    \"max_workspaces\": 0\n  }\n}\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, procOpts{dir: project, args: []string{"--config", cfg}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	tl, err := p.c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	if len(tl.Tools) == 0 {
		t.Fatal("tools/list is empty")
	}

	want := "The global configuration is not valid, so this server runs no tool until it is fixed and the server restarted " +
		"(mcp-task-orchestrator doctor checks it): server.max_workspaces = 0: must be between 1 and 1000 (line 3, column 5); " +
		"fix: edit " + cfg + " line 3: max_workspaces must be between 1 and 1000."
	calls := map[string]map[string]any{
		"task_list":   {"workspace": project},
		"task_create": {"workspace": project, "title": "x"},
		"pool_status": {},
	}
	for name, args := range calls {
		res := callTool(t, p, name, args)
		if !res.IsError || text(res) != want {
			t.Errorf("%s: error %v\n got %q\nwant %q", name, res.IsError, text(res), want)
		}
	}
	req := mcp.ReadResourceRequest{}
	req.Params.URI = "task-orchestrator://tasks/open?workspace=" + project
	if _, err := p.c.ReadResource(ctx, req); err == nil || !strings.HasSuffix(err.Error(), ": "+want) {
		t.Errorf("resources/read: %v\nwant %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(project, ".task_orchestrator", "tasks.db")); err == nil {
		t.Error("a tool call on a broken config created the project's database")
	}
}
