package integration

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// readResource reads uri and decodes its one JSON text content into out.
func (p *proc) readResource(ctx context.Context, uri string, out any) error {
	p.t.Helper()
	req := mcp.ReadResourceRequest{}
	req.Params.URI = uri
	res, err := p.c.ReadResource(ctx, req)
	if err != nil {
		return err
	}
	if len(res.Contents) != 1 {
		p.t.Fatalf("%s: %d contents, want 1", uri, len(res.Contents))
	}
	tc, ok := res.Contents[0].(mcp.TextResourceContents)
	if !ok {
		p.t.Fatalf("%s: content is %T, want text", uri, res.Contents[0])
	}
	if tc.MIMEType != "application/json" || tc.URI != uri {
		p.t.Fatalf("%s: content has uri %q mime %q", uri, tc.URI, tc.MIMEType)
	}
	return json.Unmarshal([]byte(tc.Text), out)
}

type openTasksDoc struct {
	Root  string `json:"root"`
	Tasks []struct {
		ID        string   `json:"id"`
		Title     string   `json:"title"`
		Status    string   `json:"status"`
		DependsOn []string `json:"depends_on"`
	} `json:"tasks"`
	Truncated bool `json:"truncated"`
}

func TestResourcesOpenTasksAndPools(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	project := newProject(t)
	other := newProject(t)
	p := start(t, procOpts{dir: project, protocol: "2025-11-25"})

	list, err := p.c.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range list.Resources {
		uris = append(uris, r.URI)
	}
	for _, want := range []string{"task-orchestrator://tasks/open", "task-orchestrator://pools/status"} {
		if !slices.Contains(uris, want) {
			t.Fatalf("resources/list = %v, missing %s", uris, want)
		}
	}
	tl, err := p.c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.ResourceTemplates) != 9 {
		t.Fatalf("resources/templates/list gave %d templates, want 9 (open tasks, pools, a task and an artifact, each URL-encoded and plain, and an artifact range)", len(tl.ResourceTemplates))
	}

	// Three tasks in the project (one finished), one in another project.
	var a, b, c struct {
		Task struct {
			ID string `json:"id"`
		} `json:"task"`
	}
	p.ok(ctx, "task_create", map[string]any{"title": "design the schema"}, &a)
	p.ok(ctx, "task_create", map[string]any{"title": "write the migration", "depends_on": []string{a.Task.ID}}, &b)
	p.ok(ctx, "task_create", map[string]any{"title": "already done"}, &c)
	p.ok(ctx, "task_update", map[string]any{"id": c.Task.ID, "version": 1, "status": "cancelled"}, nil)
	p.ok(ctx, "task_create", map[string]any{"title": "other project's task", "workspace": other}, nil)

	var doc openTasksDoc
	if err := p.readResource(ctx, "task-orchestrator://tasks/open", &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Root != project {
		t.Fatalf("open tasks of %s, want the server's project %s", doc.Root, project)
	}
	got := map[string]string{}
	for _, tk := range doc.Tasks {
		got[tk.ID] = tk.Title
		if tk.ID == b.Task.ID && !slices.Equal(tk.DependsOn, []string{a.Task.ID}) {
			t.Fatalf("dependencies of %s = %v, want [%s]", b.Task.ID, tk.DependsOn, a.Task.ID)
		}
	}
	if len(got) != 2 || got[a.Task.ID] == "" || got[b.Task.ID] == "" || doc.Truncated {
		t.Fatalf("open tasks = %+v, want exactly the two unfinished tasks of this project", doc)
	}

	// The template names another project explicitly.
	var od openTasksDoc
	if err := p.readResource(ctx, "task-orchestrator://tasks/open?workspace="+url.QueryEscape(other), &od); err != nil {
		t.Fatal(err)
	}
	if od.Root != other || len(od.Tasks) != 1 || od.Tasks[0].Title != "other project's task" {
		t.Fatalf("open tasks of the other project = %+v", od)
	}

	var pools struct {
		Root  string `json:"root"`
		Open  bool   `json:"open"`
		Pools []struct {
			Backend string `json:"backend"`
			InUse   int    `json:"in_use"`
		} `json:"pools"`
	}
	if err := p.readResource(ctx, "task-orchestrator://pools/status", &pools); err != nil {
		t.Fatal(err)
	}
	if pools.Root != project || !pools.Open || len(pools.Pools) == 0 {
		t.Fatalf("pool status resource = %+v", pools)
	}
	for _, pl := range pools.Pools {
		if pl.InUse != 0 {
			t.Fatalf("pool %s has %d in use after every call returned", pl.Backend, pl.InUse)
		}
	}

	// A workspace that is not a project directory is a clear error, not a panic.
	req := mcp.ReadResourceRequest{}
	req.Params.URI = "task-orchestrator://tasks/open?workspace=" + url.QueryEscape("/nonexistent/dir/for/sure")
	if _, err := p.c.ReadResource(ctx, req); err == nil || !strings.Contains(err.Error(), "/nonexistent/dir/for/sure") {
		t.Fatalf("reading a missing workspace: err = %v, want an error naming it", err)
	}
}

func TestPromptPlanWork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := start(t, procOpts{dir: newProject(t)})

	list, err := p.c.ListPrompts(ctx, mcp.ListPromptsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Prompts) != 1 || list.Prompts[0].Name != "plan_work" {
		t.Fatalf("prompts/list = %+v, want plan_work", list.Prompts)
	}
	get := func(args map[string]string) (*mcp.GetPromptResult, error) {
		req := mcp.GetPromptRequest{}
		req.Params.Name = "plan_work"
		req.Params.Arguments = args
		return p.c.GetPrompt(ctx, req)
	}
	res, err := get(map[string]string{"goal": "add CSV export to the reports page", "agents": "3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 {
		t.Fatalf("%d messages, want 1", len(res.Messages))
	}
	tc, ok := res.Messages[0].Content.(mcp.TextContent)
	if !ok {
		t.Fatalf("message content is %T", res.Messages[0].Content)
	}
	for _, want := range []string{"add CSV export to the reports page", "task_create", "depends_on", "task_claim", "task_complete", "3 agents"} {
		if !strings.Contains(tc.Text, want) {
			t.Fatalf("prompt text lacks %q:\n%s", want, tc.Text)
		}
	}
	for _, bad := range []struct {
		args map[string]string
		want string
	}{
		{map[string]string{}, "needs a goal"},
		{map[string]string{"goal": "x", "agents": "0"}, "agents must be"},
		{map[string]string{"goal": "x", "agents": "many"}, "agents must be"},
		{map[string]string{"goal": "x", "workspace": "relative/path"}, "absolute path"},
		{map[string]string{"goal": "x", "colour": "red"}, "no argument"},
		{map[string]string{"goal": strings.Repeat("é", 4001)}, "keep it under"},
	} {
		if _, err := get(bad.args); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("plan_work %v: err = %v, want one saying %q", bad.args, err, bad.want)
		}
	}
}
