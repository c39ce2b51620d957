package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
)

type taskReconcileArgs struct {
	Workspace string `json:"workspace,omitempty" jsonschema:"Any absolute path inside the project (optional)"`
	Mirror    string `json:"mirror,omitempty" jsonschema:"Which mirror to rebuild: vector, graph or all (default all)"`
}

// ReconcileResult is task_reconcile's answer.
type ReconcileResult struct {
	Mirrors []mirror.ReconcileResult `json:"mirrors"`
}

func taskReconcile(d *Deps) server.ServerTool {
	tool := newTool("task_reconcile", "Rebuild the task mirrors",
		"Rebuild the vector (Chroma collection \"tasks\") and/or graph (Neo4j :Task nodes) mirror of this project's tasks from SQLite, the source of truth: every task is written again and mirror entries of deleted tasks are removed. Safe to run while agents work (changes made meanwhile are delivered right after) and to repeat. Reports progress. Normally not needed: the mirrors follow every task change by themselves, and rebuild themselves at start-up when found empty or stale.",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: vectorOpenWorld(d) || graphOpenWorld(d)},
		mcp.WithInputSchema[taskReconcileArgs](), mcp.WithOutputSchema[ReconcileResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskReconcileArgs) (any, string, error) {
		var names []string
		switch a.Mirror {
		case "", "all":
		case mirror.Vector, mirror.Graph:
			names = []string{a.Mirror}
		default:
			return nil, "", badArg("mirror %q is not one of: vector, graph, all", truncate(a.Mirror, 40))
		}
		root, err := c.workspace(ctx, a.Workspace)
		if err != nil {
			return nil, "", err
		}
		// Opening the task store starts its syncer.
		p, release, err := d.project(ctx, root)
		if err != nil {
			return nil, "", err
		}
		defer release()
		if _, err := p.Tasks(ctx); err != nil {
			return nil, "", err
		}
		sy := p.Syncer()
		if sy == nil {
			return nil, "", fmt.Errorf("the mirror syncer of %s is not running (the workspace is closing); retry", root.Path)
		}
		results, err := sy.Reconcile(ctx, names)
		if err != nil {
			return nil, "", err
		}
		res := ReconcileResult{Mirrors: results}
		var parts []string
		var failed []string
		for _, r := range results {
			switch r.State {
			case "done":
				parts = append(parts, fmt.Sprintf("%s: %d tasks written, %d stale entries removed", r.Mirror, r.Tasks, r.Removed))
			case "failed":
				failed = append(failed, fmt.Sprintf("%s: %s", r.Mirror, r.Error))
			default:
				parts = append(parts, fmt.Sprintf("%s: %s (%s)", r.Mirror, r.State, r.Detail))
			}
		}
		if len(failed) > 0 {
			return nil, "", &userError{msg: "rebuilding the mirror failed — " + strings.Join(failed, "; ") +
				". The mirror keeps retrying by itself; pool_status shows its state. Run task_reconcile again once the server is reachable."}
		}
		return res, "Rebuilt from SQLite: " + strings.Join(parts, "; "), nil
	})}
}
