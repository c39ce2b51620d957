package tools

import (
	"context"
	"fmt"
	"sync"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// PlanResult is task_plan's answer.
type PlanResult struct {
	IDs   map[string]string `json:"ids" jsonschema:"ref -> task id"`
	Tasks []PlannedTask     `json:"tasks"`
}

// PlannedTask is a created task in compact form.
type PlannedTask struct {
	ID        string   `json:"id"`
	Ref       string   `json:"ref"`
	Title     string   `json:"title"`
	ParentID  *string  `json:"parent_id"`
	DependsOn []string `json:"depends_on"`
}

type planTaskArg struct {
	Ref         string         `json:"ref" jsonschema:"Your name for it in this plan (e.g. api-2), used by parent and depends_on; not shaped like a task id"`
	Title       string         `json:"title" jsonschema:"Short title"`
	Description string         `json:"description,omitempty" jsonschema:"What to do and when it is done"`
	Parent      string         `json:"parent,omitempty" jsonschema:"Ref or existing task id: makes this its subtask"`
	DependsOn   []string       `json:"depends_on,omitempty" jsonschema:"Refs or existing task ids to complete first"`
	Priority    string         `json:"priority,omitempty" jsonschema:"enum=low,enum=medium,enum=high,enum=critical"`
	Labels      []string       `json:"labels,omitempty" jsonschema:"Labels"`
	Role        string         `json:"role,omitempty" jsonschema:"Role that should do it"`
	Metadata    map[string]any `json:"metadata,omitempty" jsonschema:"Free-form JSON object"`
}

type taskPlanArgs struct {
	Workspace string        `json:"workspace,omitempty"`
	Tasks     []planTaskArg `json:"tasks" jsonschema:"The plan, 1 to 500 tasks, in any order"`
	Agent     string        `json:"agent,omitempty" jsonschema:"Your agent name, for the history"`
}

// progressEvery is how many tasks pass between two progress notifications
// (at least one in twenty of the plan, and the last always).
func progressEvery(total int) int { return max(1, total/20) }

func taskPlan(d *Deps) server.ServerTool {
	tool := newTool("task_plan", "Plan tasks in one call",
		"Create up to 500 tasks in one call, all or nothing, linked by your own refs; returns ref -> id.",
		additiveWrite, inputSchema[taskPlanArgs](), outputSchema[PlanResult](),
		bounds(map[string]map[string]any{"tasks[].title": {"maxLength": 500}, "tasks[].description": {"maxLength": 20000}, "tasks[].labels": {"maxItems": 32}}))
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskPlanArgs) (any, string, error) {
		if len(a.Tasks) == 0 {
			return nil, "", badArg("argument \"tasks\" is empty: pass the plan's tasks, each with a ref and a title")
		}
		if len(a.Tasks) > work.MaxPlanTasks {
			return nil, "", badArg("argument \"tasks\" holds %d tasks; a plan holds at most %d, so split it (later plans may name tasks of earlier ones by id)", len(a.Tasks), work.MaxPlanTasks)
		}
		agent, err := agentArg(ctx, a.Agent, false)
		if err != nil {
			return nil, "", err
		}
		plan := make([]work.PlanTask, len(a.Tasks))
		for i, t := range a.Tasks {
			meta, err := metadataJSON(t.Metadata)
			if err != nil {
				return nil, "", badArg("argument \"tasks[%d].metadata\" could not be encoded as JSON", i)
			}
			plan[i] = work.PlanTask{
				Ref: t.Ref, Title: t.Title, Description: t.Description, Parent: t.Parent, DependsOn: t.DependsOn,
				Priority: t.Priority, Labels: t.Labels, Role: t.Role, Metadata: meta,
			}
		}
		var mu sync.Mutex
		sent := 0
		report := func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			if done < total && done-sent < progressEvery(total) {
				return
			}
			sent = done
			progress.Report(ctx, "planning tasks", float64(done), float64(total))
		}
		res, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (work.PlanResult, error) {
			return work.Plan(ctx, s, plan, agent, report)
		})
		if err != nil {
			return nil, "", err
		}
		out := compactPlan(res)
		return out, fmt.Sprintf("Planned %d tasks in one call", len(out.Tasks)), nil
	})}
}

// compactPlan is the answer's form of what a plan created.
func compactPlan(res work.PlanResult) PlanResult {
	refOf := make(map[string]string, len(res.IDs))
	for ref, id := range res.IDs {
		refOf[id] = ref
	}
	out := PlanResult{IDs: res.IDs, Tasks: make([]PlannedTask, 0, len(res.Tasks))}
	if out.IDs == nil {
		out.IDs = map[string]string{}
	}
	for _, t := range res.Tasks {
		deps := t.DependsOn
		if deps == nil {
			deps = []string{}
		}
		out.Tasks = append(out.Tasks, PlannedTask{ID: t.ID, Ref: refOf[t.ID], Title: t.Title, ParentID: t.ParentID, DependsOn: deps})
	}
	return out
}
