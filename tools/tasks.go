package tools

import (
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/authctx"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const workspaceDoc = "Any absolute path inside the project (optional). Without it: the client's roots, then TASK_ORCHESTRATOR_WORKSPACE, then the server's working directory."

// ---- shapes ----

// TaskResult is the answer of task_create, task_update and task_dependency.
type TaskResult struct {
	Task work.Task `json:"task"`
}

// ClaimResult is task_claim's answer; Task is null when nothing is ready.
type ClaimResult struct {
	Task *work.Task `json:"task"`
}

// ListResult is task_list's answer.
type ListResult struct {
	Tasks      []work.Task `json:"tasks"`
	NextCursor string      `json:"next_cursor" jsonschema:"Empty at the end"`
}

// CompleteResult is task_complete's answer.
type CompleteResult struct {
	Task      work.Task `json:"task"`
	Unblocked []string  `json:"unblocked" jsonschema:"Ids of tasks that became ready"`
}

// DeleteResult is task_delete's answer.
type DeleteResult struct {
	Deleted []string `json:"deleted"`
}

// ---- arguments ----

type taskCreateArgs struct {
	Workspace   string         `json:"workspace,omitempty"`
	Title       string         `json:"title" jsonschema:"Short title"`
	Description string         `json:"description,omitempty" jsonschema:"What to do and when it is done"`
	ParentID    string         `json:"parent_id,omitempty" jsonschema:"Parent task id"`
	DependsOn   []string       `json:"depends_on,omitempty" jsonschema:"Ids of tasks to complete first"`
	Priority    string         `json:"priority,omitempty" jsonschema:"enum=low,enum=medium,enum=high,enum=critical"`
	Labels      []string       `json:"labels,omitempty" jsonschema:"Labels ([A-Za-z0-9_.:-])"`
	Role        string         `json:"role,omitempty" jsonschema:"Role that should do it (e.g. reviewer)"`
	Metadata    map[string]any `json:"metadata,omitempty" jsonschema:"Free-form JSON object"`
}

type taskGetArgs struct {
	Workspace string `json:"workspace,omitempty"`
	ID        string `json:"id" jsonschema:"Task id"`
}

type taskListArgs struct {
	Workspace string   `json:"workspace,omitempty"`
	Status    []string `json:"status,omitempty" jsonschema:"Only tasks in these statuses"`
	ParentID  string   `json:"parent_id,omitempty" jsonschema:"Only direct subtasks of this task"`
	Label     string   `json:"label,omitempty" jsonschema:"Only tasks with this label"`
	Assignee  string   `json:"assignee,omitempty" jsonschema:"Only tasks assigned to this agent"`
	Role      string   `json:"role,omitempty" jsonschema:"Only tasks for this role"`
	Ready     bool     `json:"ready,omitempty" jsonschema:"Only tasks task_claim could hand out"`
	Text      string   `json:"text,omitempty" jsonschema:"Full-text search of title and description"`
	Limit     *int     `json:"limit,omitempty" jsonschema:"Page size (default 50)"`
	Cursor    string   `json:"cursor,omitempty" jsonschema:"next_cursor from the previous page"`
}

type taskUpdateArgs struct {
	Workspace   string         `json:"workspace,omitempty"`
	ID          string         `json:"id" jsonschema:"Task id"`
	Version     int64          `json:"version,omitempty" jsonschema:"The version you read: refused if changed since"`
	Title       *string        `json:"title,omitempty"`
	Description *string        `json:"description,omitempty"`
	Status      *string        `json:"status,omitempty" jsonschema:"New status"`
	Priority    *string        `json:"priority,omitempty" jsonschema:"low, medium, high or critical"`
	Labels      []string       `json:"labels,omitempty" jsonschema:"Replaces the labels (pass [] to clear)"`
	Role        *string        `json:"role,omitempty" jsonschema:"Empty string clears it"`
	Assignee    *string        `json:"assignee,omitempty" jsonschema:"Empty string clears it"`
	ParentID    *string        `json:"parent_id,omitempty" jsonschema:"Empty string makes it a top-level task"`
	Metadata    map[string]any `json:"metadata,omitempty" jsonschema:"Replaces the metadata object"`
	Summary     *string        `json:"summary,omitempty"`
	Agent       string         `json:"agent,omitempty" jsonschema:"Your agent name; required on a claimed task"`
}

type taskClaimArgs struct {
	Workspace string   `json:"workspace,omitempty"`
	Agent     string   `json:"agent,omitempty" jsonschema:"Your agent name"`
	Role      string   `json:"role,omitempty" jsonschema:"Takes tasks of this role or of none (without it: of none)"`
	Labels    []string `json:"labels,omitempty" jsonschema:"Only tasks with all these labels"`
	// LeaseSeconds is a pointer so that 0 is refused rather than taken for "absent".
	LeaseSeconds *int `json:"lease_seconds,omitempty" jsonschema:"Lease length in seconds (default tasks.lease_seconds, 900)"`
}

type artifactArg struct {
	Name    string `json:"name" jsonschema:"File name (no folders), e.g. report.md"`
	Content string `json:"content" jsonschema:"File content (text)"`
}

type taskCompleteArgs struct {
	Workspace string       `json:"workspace,omitempty"`
	ID        string       `json:"id" jsonschema:"Task id"`
	Summary   string       `json:"summary,omitempty" jsonschema:"What was done, for the next agents"`
	Outcome   string       `json:"outcome,omitempty" jsonschema:"enum=completed,enum=failed"`
	Agent     string       `json:"agent,omitempty" jsonschema:"Your agent name; required on a claimed task"`
	Artifact  *artifactArg `json:"artifact,omitempty" jsonschema:"A file kept with the task"`
}

type taskDeleteArgs struct {
	Workspace string `json:"workspace,omitempty"`
	ID        string `json:"id" jsonschema:"Task id"`
	Cascade   bool   `json:"cascade,omitempty" jsonschema:"Also delete its subtasks"`
}

type taskDependencyArgs struct {
	Workspace string `json:"workspace,omitempty"`
	Action    string `json:"action" jsonschema:"enum=add,enum=remove"`
	ID        string `json:"id" jsonschema:"The task that waits"`
	DependsOn string `json:"depends_on" jsonschema:"The task it waits for"`
}

// ---- helpers ----

func required(name, v string) error {
	if strings.TrimSpace(v) == "" {
		return badArg("argument %q is required", name)
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkID(name, id string) error {
	if err := required(name, id); err != nil {
		return err
	}
	if !idPattern.MatchString(id) {
		return badArg("argument %q: %q is not a task id (ids look like tsk_0123abcd…; list them with task_list)", name, truncate(id, 80))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func metadataJSON(m map[string]any) (json.RawMessage, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, badArg("argument \"metadata\" could not be encoded as JSON: %v", err)
	}
	return b, nil
}

// withStore resolves the workspace and borrows its task store for fn.
func withStore[T any](ctx context.Context, c *call, ws string, fn func(work.Store, workspace.Layout) (T, error)) (T, error) {
	var layout workspace.Layout
	get := func(ctx context.Context, root workspace.Root) (work.Store, func(), error) {
		store, l, release, err := c.deps.taskStore(ctx, root)
		layout = l
		return store, release, err
	}
	return withBackend(ctx, c, ws, get, func(s work.Store) (T, error) { return fn(s, layout) })
}

func describe(t work.Task) string {
	return fmt.Sprintf("%s %q [%s, %s, v%d]", t.ID, t.Title, t.Status, t.Priority, t.Version)
}

// ---- tools ----

func taskCreate(d *Deps) server.ServerTool {
	tool := newTool("task_create", "Create task",
		"Create a task; parent_id makes it a subtask, depends_on names tasks to complete first. For many tasks use task_plan.",
		additiveWrite, inputSchema[taskCreateArgs](), outputSchema[TaskResult](),
		bounds(map[string]map[string]any{"title": {"maxLength": 500}, "description": {"maxLength": 20000}, "labels": {"maxItems": 32}, "depends_on": {"maxItems": 100}}))
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskCreateArgs) (any, string, error) {
		if err := required("title", a.Title); err != nil {
			return nil, "", err
		}
		meta, err := metadataJSON(a.Metadata)
		if err != nil {
			return nil, "", err
		}
		actor, _ := authctx.Agent(ctx) // the history names a named token's agent as the creator
		t, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (work.Task, error) {
			return s.Create(ctx, work.NewTask{
				Title: a.Title, Description: a.Description, ParentID: a.ParentID, DependsOn: a.DependsOn,
				Priority: a.Priority, Labels: a.Labels, Role: a.Role, Metadata: meta,
				Actor: actor,
			})
		})
		if err != nil {
			return nil, "", err
		}
		return TaskResult{Task: t}, "Created " + describe(t), nil
	})}
}

func taskGet(d *Deps) server.ServerTool {
	tool := newTool("task_get", "Get task",
		"One task with its subtasks, dependents and artifacts.",
		readHints, inputSchema[taskGetArgs](), outputSchema[work.TaskDetail]())
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskGetArgs) (any, string, error) {
		if err := checkID("id", a.ID); err != nil {
			return nil, "", err
		}
		det, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (work.TaskDetail, error) {
			return s.Get(ctx, a.ID)
		})
		if err != nil {
			return nil, "", err
		}
		return det, fmt.Sprintf("%s; %d subtasks, %d dependents, %d artifacts", describe(det.Task), len(det.Subtasks), len(det.Dependents), len(det.Artifacts)), nil
	})}
}

func taskList(d *Deps) server.ServerTool {
	tool := newTool("task_list", "List tasks",
		"List the tasks that match every filter given, oldest first. Pages with next_cursor.",
		readHints, inputSchema[taskListArgs](), outputSchema[ListResult](),
		bounds(map[string]map[string]any{"limit": {"minimum": 1, "maximum": 200}, "text": {"maxLength": 1000}}))
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskListArgs) (any, string, error) {
		limit := 0
		if a.Limit != nil {
			if *a.Limit < 1 || *a.Limit > 200 {
				return nil, "", badArg("argument \"limit\" must be between 1 and 200, not %d", *a.Limit)
			}
			limit = *a.Limit
		}
		type page struct {
			tasks []work.Task
			next  string
		}
		p, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (page, error) {
			ts, next, err := s.List(ctx, work.Filter{
				Status: a.Status, ParentID: a.ParentID, Label: a.Label, Assignee: a.Assignee, Role: a.Role,
				Ready: a.Ready, Text: a.Text, Limit: limit, Cursor: a.Cursor,
			})
			return page{ts, next}, err
		})
		if err != nil {
			return nil, "", err
		}
		if p.tasks == nil {
			p.tasks = []work.Task{}
		}
		text := fmt.Sprintf("%d tasks", len(p.tasks))
		if p.next != "" {
			text += " (more: pass next_cursor)"
		}
		return ListResult{Tasks: p.tasks, NextCursor: p.next}, text, nil
	})}
}

func taskUpdate(d *Deps) server.ServerTool {
	tool := newTool("task_update", "Update task",
		"Change a task's fields or status (transitions are checked); pass version to refuse a stale write.",
		hints{readOnly: false, destructive: true, idempotent: false, openWorld: false},
		inputSchema[taskUpdateArgs](), outputSchema[TaskResult](),
		bounds(map[string]map[string]any{"title": {"maxLength": 500}, "description": {"maxLength": 20000}, "summary": {"maxLength": 20000}, "labels": {"maxItems": 32}}))
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskUpdateArgs) (any, string, error) {
		if err := checkID("id", a.ID); err != nil {
			return nil, "", err
		}
		if a.Version < 0 {
			return nil, "", badArg("argument \"version\" must be the positive version you read (or omitted), not %d", a.Version)
		}
		meta, err := metadataJSON(a.Metadata)
		if err != nil {
			return nil, "", err
		}
		agent, err := agentArg(ctx, a.Agent, false)
		if err != nil {
			return nil, "", err
		}
		p := work.Patch{
			Title: a.Title, Description: a.Description, Status: a.Status, Priority: a.Priority,
			Role: a.Role, Assignee: a.Assignee, ParentID: a.ParentID, Metadata: meta, Summary: a.Summary,
			Agent: agent,
		}
		if a.Labels != nil {
			labels := a.Labels
			p.Labels = &labels
		}
		if p.Title == nil && p.Description == nil && p.Status == nil && p.Priority == nil && p.Labels == nil &&
			p.Role == nil && p.Assignee == nil && p.ParentID == nil && p.Metadata == nil && p.Summary == nil {
			return nil, "", badArg("nothing to update: pass at least one of title, description, status, priority, labels, role, assignee, parent_id, metadata, summary")
		}
		var note string
		t, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (work.Task, error) {
			t, err := s.Update(ctx, a.ID, a.Version, p)
			if err == nil && (t.Status == work.Failed || t.Status == work.Cancelled) && p.Status != nil {
				note = subtasksNote(ctx, s, t)
			}
			return t, err
		})
		if err != nil {
			return nil, "", err
		}
		return TaskResult{Task: t}, "Updated " + describe(t) + note, nil
	})}
}

func taskClaim(d *Deps) server.ServerTool {
	tool := newTool("task_claim", "Claim next task",
		"Atomically take the best ready task for your role and labels (highest priority, then oldest), under a lease until lease_expires_at. No two agents get the same task; null when none is ready.",
		additiveWrite, inputSchema[taskClaimArgs](), outputSchema[ClaimResult](),
		bounds(map[string]map[string]any{"lease_seconds": {"minimum": 1, "maximum": 86400}, "labels": {"maxItems": 32}}))
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskClaimArgs) (any, string, error) {
		agent, err := agentArg(ctx, a.Agent, true)
		if err != nil {
			return nil, "", err
		}
		lease, err := leaseArg(d, a.LeaseSeconds)
		if err != nil {
			return nil, "", err
		}
		t, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (*work.Task, error) {
			return s.Claim(ctx, work.ClaimRequest{Agent: agent, Role: a.Role, Labels: a.Labels, Lease: time.Duration(lease) * time.Second})
		})
		if err != nil {
			return nil, "", err
		}
		if t == nil {
			return ClaimResult{}, "No ready task matches; nothing was claimed", nil
		}
		return ClaimResult{Task: t}, "Claimed " + describe(*t) + leaseText(*t), nil
	})}
}

func taskComplete(d *Deps) server.ServerTool {
	tool := newTool("task_complete", "Complete task",
		"Finish a task (completed or failed) with a summary and an optional artifact file; returns the tasks it made ready.",
		additiveWrite, inputSchema[taskCompleteArgs](), outputSchema[CompleteResult](),
		bounds(map[string]map[string]any{"summary": {"maxLength": 20000}}))
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskCompleteArgs) (any, string, error) {
		if err := checkID("id", a.ID); err != nil {
			return nil, "", err
		}
		outcome := a.Outcome
		if outcome == "" {
			outcome = "completed"
		}
		if outcome != "completed" && outcome != "failed" {
			return nil, "", badArg("argument \"outcome\" must be completed or failed, not %q", truncate(outcome, 40))
		}
		agent, err := agentArg(ctx, a.Agent, false)
		if err != nil {
			return nil, "", err
		}
		var name string
		if a.Artifact != nil {
			n, err := workspace.SanitizeArtifactName(a.Artifact.Name)
			if err != nil {
				return nil, "", &userError{msg: "argument \"artifact.name\": " + err.Error()}
			}
			name = n
			limit := d.Config.Security.MaxArtifactBytes
			if int64(len(a.Artifact.Content)) > limit {
				return nil, "", badArg("argument \"artifact.content\" is %d bytes; the limit is %d bytes (security.max_artifact_bytes in the global config)", len(a.Artifact.Content), limit)
			}
		}
		var note string
		res, err := withStore(ctx, c, a.Workspace, func(s work.Store, layout workspace.Layout) (CompleteResult, error) {
			comp := work.Completion{Summary: a.Summary, Outcome: outcome, Agent: agent}
			var art *work.ArtifactInput
			if a.Artifact != nil {
				art = &work.ArtifactInput{Name: name, Content: []byte(a.Artifact.Content)}
			}
			files := workspace.ArtifactFiles{Layout: layout, MaxBytes: d.Config.Security.MaxArtifactBytes}
			t, unblocked, err := work.CompleteWithArtifact(ctx, s, files, a.ID, comp, art)
			if err != nil {
				return CompleteResult{}, err
			}
			if t.Status == work.Failed {
				note = subtasksNote(ctx, s, t)
			}
			if unblocked == nil {
				unblocked = []string{}
			}
			return CompleteResult{Task: t, Unblocked: unblocked}, nil
		})
		if err != nil {
			return nil, "", err
		}
		text := fmt.Sprintf("%s %s", strings.ToUpper(outcome[:1])+outcome[1:], describe(res.Task)) + note
		if len(res.Unblocked) > 0 {
			text += "; now ready: " + strings.Join(res.Unblocked, ", ")
		}
		return res, text, nil
	})}
}

func taskDelete(d *Deps) server.ServerTool {
	tool := newTool("task_delete", "Delete task",
		"Delete a task and its artifacts (cascade=true: with its subtree). Dependencies on it are removed.",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: false},
		inputSchema[taskDeleteArgs](), outputSchema[DeleteResult]())
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskDeleteArgs) (any, string, error) {
		if err := checkID("id", a.ID); err != nil {
			return nil, "", err
		}
		ids, err := withStore(ctx, c, a.Workspace, func(s work.Store, layout workspace.Layout) ([]string, error) {
			ids, err := s.Delete(ctx, a.ID, a.Cascade)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				if idPattern.MatchString(id) {
					if err := os.RemoveAll(filepath.Join(layout.Artifacts, id)); err != nil {
						c.log().Warn("could not remove a deleted task's artifacts", "task", id, "err", err)
					}
				}
			}
			return ids, nil
		})
		if err != nil {
			return nil, "", err
		}
		if ids == nil {
			ids = []string{}
		}
		return DeleteResult{Deleted: ids}, fmt.Sprintf("Deleted %d task(s): %s", len(ids), strings.Join(ids, ", ")), nil
	})}
}

func taskDependency(d *Deps) server.ServerTool {
	tool := newTool("task_dependency", "Add or remove a dependency",
		"Make a task wait for another (add) or stop waiting (remove). Cycles are refused.",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: false},
		inputSchema[taskDependencyArgs](), outputSchema[TaskResult]())
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskDependencyArgs) (any, string, error) {
		if a.Action != "add" && a.Action != "remove" {
			return nil, "", badArg("argument \"action\" must be add or remove, not %q", truncate(a.Action, 40))
		}
		if err := checkID("id", a.ID); err != nil {
			return nil, "", err
		}
		if err := checkID("depends_on", a.DependsOn); err != nil {
			return nil, "", err
		}
		t, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (work.Task, error) {
			if a.Action == "add" {
				return s.AddDependency(ctx, a.ID, a.DependsOn)
			}
			return s.RemoveDependency(ctx, a.ID, a.DependsOn)
		})
		if err != nil {
			return nil, "", err
		}
		verb := "now depends on"
		if a.Action == "remove" {
			verb = "no longer depends on"
		}
		return TaskResult{Task: t}, fmt.Sprintf("%s %s %s", describe(t), verb, a.DependsOn), nil
	})}
}

// subtasksNote says what failing or cancelling a parent did to its open
// subtasks (nothing: they stay as they are), so the agent is not left to
// guess. "" when t has none, or when they cannot be read.
func subtasksNote(ctx context.Context, s work.Store, t work.Task) string {
	det, err := s.Get(ctx, t.ID)
	if err != nil {
		return ""
	}
	open := 0
	for _, sub := range det.Subtasks {
		if sub.Status.IsOpen() {
			open++
		}
	}
	if open == 0 {
		return ""
	}
	return fmt.Sprintf("; its %d open subtask(s) stay as they are: cancel them with task_update, or delete the subtree with task_delete cascade=true", open)
}
