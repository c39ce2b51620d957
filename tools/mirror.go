package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
)

type taskReconcileArgs struct {
	Workspace string `json:"workspace,omitempty"`
	Mirror    string `json:"mirror,omitempty" jsonschema:"vector, graph or all (default)"`
}

// ReconcileResult is task_reconcile's answer.
type ReconcileResult struct {
	Mirrors []mirror.ReconcileResult `json:"mirrors"`
}

func taskReconcile(d *Deps) server.ServerTool {
	tool := newTool("task_reconcile", "Rebuild the task mirrors",
		"Rebuild the Chroma and/or Neo4j mirror of the tasks from SQLite. Safe while agents work. Rarely needed: mirrors follow every change and repair themselves at start-up.",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: vectorOpenWorld(d) || graphOpenWorld(d)},
		inputSchema[taskReconcileArgs](), outputSchema[ReconcileResult]())
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
				if r.Detail != "" {
					parts[len(parts)-1] += " (" + r.Detail + ")"
				}
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
