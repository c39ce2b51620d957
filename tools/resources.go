package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Resource addresses. The plain URIs are about the project the server picks
// for the client (its roots, TASK_ORCHESTRATOR_WORKSPACE, its working
// directory); the templates name the project explicitly.
const (
	ResourceOpenTasks         = "task-orchestrator://tasks/open"
	ResourcePoolStatus        = "task-orchestrator://pools/status"
	ResourceOpenTasksTemplate = "task-orchestrator://tasks/open{?workspace}"
	ResourcePoolsTemplate     = "task-orchestrator://pools/status{?workspace}"
)

// maxResourceTasks bounds the open-tasks resource; the rest is reachable with task_list.
const maxResourceTasks = 200

// OpenTask is one unfinished task as the open-tasks resource shows it.
type OpenTask struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Status    string   `json:"status"`
	Priority  string   `json:"priority"`
	Labels    []string `json:"labels"`
	Role      *string  `json:"role,omitempty"`
	Assignee  *string  `json:"assignee,omitempty"`
	ParentID  *string  `json:"parent_id,omitempty"`
	DependsOn []string `json:"depends_on"`
	Version   int64    `json:"version"`
}

// OpenTasksResource is the content of the open-tasks resource.
type OpenTasksResource struct {
	Root  string     `json:"root"`
	Tasks []OpenTask `json:"tasks"`
	// Truncated is set when the project has more open tasks than the resource
	// lists; task_list with a cursor pages through all of them.
	Truncated bool   `json:"truncated"`
	Note      string `json:"note,omitempty"`
}

// Resources returns the resources and resource templates of this server.
func Resources(d *Deps) ([]server.ServerResource, []server.ServerResourceTemplate) {
	openTasks := func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return d.readResource(ctx, req, d.openTasks)
	}
	pools := func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return d.readResource(ctx, req, func(ctx context.Context, root workspace.Root) (any, error) {
			return d.workspacePools(ctx, root.Path), nil
		})
	}
	openDesc := "The project's unfinished tasks (pending, in progress, blocked), oldest first, with their dependencies: what an agent should look at before planning or claiming work."
	poolDesc := "The project's connection pools (SQLite, Chroma, Neo4j) as pool_status shows them. Reading it never opens a pool."
	res := []server.ServerResource{
		{Resource: mcp.NewResource(ResourceOpenTasks, "Open tasks", mcp.WithResourceDescription(openDesc), mcp.WithMIMEType("application/json")), Handler: openTasks},
		{Resource: mcp.NewResource(ResourcePoolStatus, "Pool status", mcp.WithResourceDescription(poolDesc), mcp.WithMIMEType("application/json")), Handler: pools},
	}
	tpl := []server.ServerResourceTemplate{
		{Template: mcp.NewResourceTemplate(ResourceOpenTasksTemplate, "Open tasks of a project",
			mcp.WithTemplateDescription(openDesc+" workspace: any absolute path inside the project."), mcp.WithTemplateMIMEType("application/json")), Handler: openTasks},
		{Template: mcp.NewResourceTemplate(ResourcePoolsTemplate, "Pool status of a project",
			mcp.WithTemplateDescription(poolDesc+" workspace: any absolute path inside the project."), mcp.WithTemplateMIMEType("application/json")), Handler: pools},
	}
	return res, tpl
}

// readResource resolves the project a resource read is about and renders what
// build returns as JSON. Errors name the fix, as tool errors do.
func (d *Deps) readResource(ctx context.Context, req mcp.ReadResourceRequest, build func(context.Context, workspace.Root) (any, error)) ([]mcp.ResourceContents, error) {
	ctx = pooling.WithHolder(ctx, "resource "+req.Params.URI)
	root, err := d.resourceWorkspace(ctx, req)
	if err != nil {
		return nil, d.resourceError(req.Params.URI, err)
	}
	out, err := build(ctx, root)
	if err != nil {
		return nil, d.resourceError(req.Params.URI, err)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", req.Params.URI, err)
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "application/json", Text: string(b)}}, nil
}

// resourceWorkspace resolves the project: the template's workspace, else the
// client's roots (asked on pre-2026 sessions; a 2026-07-28 read carries no
// way to ask, so it falls back like a client without roots), else the
// environment and the working directory.
func (d *Deps) resourceWorkspace(ctx context.Context, req mcp.ReadResourceRequest) (workspace.Root, error) {
	if ws := resourceArg(req, "workspace"); ws != "" {
		return d.Resolver.Resolve(ws, nil)
	}
	var uris []string
	if clientHasRoots(ctx) && !server.IsModernRequest(ctx) {
		var err error
		if uris, err = d.legacyRoots(ctx); err != nil {
			return workspace.Root{}, err
		}
	}
	return d.Resolver.Resolve("", uris)
}

// resourceArg returns a template variable (mcp-go puts them in Arguments).
func resourceArg(req mcp.ReadResourceRequest, name string) string {
	switch v := req.Params.Arguments[name].(type) {
	case string:
		return strings.TrimSpace(v)
	case []string:
		if len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
	}
	return ""
}

// resourceError turns a failure into an error message an agent can act on,
// with the same sanitizing as tool errors.
func (d *Deps) resourceError(uri string, err error) error {
	res := toolError(d, "resource "+uri, err)
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			return errors.New(t.Text)
		}
	}
	return fmt.Errorf("reading %s failed", uri)
}

// openTasks lists the project's unfinished tasks. It opens the task store
// (creating .task_orchestrator/ like any task call would).
func (d *Deps) openTasks(ctx context.Context, root workspace.Root) (any, error) {
	store, _, release, err := d.taskStore(ctx, root)
	if err != nil {
		return nil, err
	}
	defer release()
	out := OpenTasksResource{Root: root.Path, Tasks: []OpenTask{}}
	f := sqlite.Filter{Status: []string{"pending", "in_progress", "blocked"}, Limit: maxResourceTasks}
	page, next, err := store.List(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, t := range page {
		out.Tasks = append(out.Tasks, OpenTask{
			ID: t.ID, Title: t.Title, Status: string(t.Status), Priority: t.Priority, Labels: t.Labels,
			Role: t.Role, Assignee: t.Assignee, ParentID: t.ParentID, DependsOn: t.DependsOn, Version: t.Version,
		})
	}
	if next != "" {
		// A cursor only says there may be more: look one task further.
		f.Cursor, f.Limit = next, 1
		more, _, err := store.List(ctx, f)
		if err != nil {
			return nil, err
		}
		out.Truncated = len(more) > 0
	}
	if out.Truncated {
		out.Note = fmt.Sprintf("only the first %d open tasks are listed; page through the rest with task_list (status filter and cursor)", maxResourceTasks)
	}
	return out, nil
}
