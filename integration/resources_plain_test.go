package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// A resource address may carry ?workspace= with the path written plainly, as
// a person types it (task-orchestrator://tasks/open?workspace=/home/u/p), not
// only URL-encoded: with a space or a non-ASCII letter in it, and after other
// query values. Every template answers for that project, and the contents
// carry the address as the client sent it.
func TestResourceTemplatesTakeAPlainWorkspacePath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	here := newProject(t)
	other := filepath.Join(newProject(t), "Jane Doe", "Projekt ü")
	if err := os.MkdirAll(filepath.Join(other, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := start(t, procOpts{dir: here})
	var made struct {
		Task struct {
			ID string `json:"id"`
		} `json:"task"`
	}
	p.ok(ctx, "task_create", map[string]any{"workspace": other, "title": "in the other project"}, &made)
	id := made.Task.ID
	p.ok(ctx, "task_complete", map[string]any{"workspace": other, "id": id, "summary": "done",
		"artifact": map[string]any{"name": "notes.md", "content": "hello from the other project"}}, nil)

	for _, uri := range []string{
		"task-orchestrator://tasks/open?workspace=" + here,
		"task-orchestrator://tasks/open?workspace=" + other,
		"task-orchestrator://tasks/open?workspace=" + other + "/",
		"task-orchestrator://pools/status?workspace=" + other,
		"task-orchestrator://tasks/" + id + "?workspace=" + other,
	} {
		var doc map[string]any
		if err := p.readResource(ctx, uri, &doc); err != nil { // readResource checks the contents' uri is uri
			t.Errorf("%s: %v", uri, err)
		}
	}
	var open openTasksDoc
	if err := p.readResource(ctx, "task-orchestrator://tasks/open?workspace="+other, &open); err != nil || open.Root != other {
		t.Errorf("open tasks of %q: root %q, %v", other, open.Root, err)
	}
	for _, uri := range []string{
		"task-orchestrator://tasks/" + id + "/artifacts/notes.md?workspace=" + other,
		"task-orchestrator://tasks/" + id + "/artifacts/notes.md?workspace=" + other + "&offset=6",
		"task-orchestrator://tasks/" + id + "/artifacts/notes.md?offset=6&length=4&workspace=" + other,
	} {
		req := mcp.ReadResourceRequest{}
		req.Params.URI = uri
		res, err := p.c.ReadResource(ctx, req)
		if err != nil {
			t.Errorf("%s: %v", uri, err)
			continue
		}
		if c, ok := res.Contents[0].(mcp.TextResourceContents); !ok || c.URI != uri {
			t.Errorf("%s: contents %+v", uri, res.Contents[0])
		}
	}
}
