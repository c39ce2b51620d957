package tools

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// errWorkspaceClosing stops a syncer from reopening backends of a workspace
// the registry is closing (its task store is about to stop the syncer).
var errWorkspaceClosing = errors.New("the workspace is closing")

// vectorMirror says whether the project's tasks are mirrored into Chroma:
// the vector tools are on, Chroma is reachable or startable, and an embedding
// provider is configured (the mirror has no vectors of its own to send).
func (d *Deps) vectorMirror(root string, layout workspace.Layout, cfg workspace.Config) (bool, string) {
	if !cfg.DatabasePools.Vector.IsEnabled() {
		return false, "database_pools.vector.enabled is false in the project's config"
	}
	if mode, reason := chroma.Resolve(d.chromaOptions(root, layout, cfg, nil)); mode == chroma.ModeNone {
		return false, reason
	}
	if strings.TrimSpace(d.Config.Embeddings.Provider) == "" {
		return false, "no embedding provider is configured (embeddings.provider in the global config): the task mirror needs one to embed task text"
	}
	return true, ""
}

// graphMirror says whether the project's tasks are mirrored into Neo4j.
func (d *Deps) graphMirror(root string, layout workspace.Layout, cfg workspace.Config) (bool, string) {
	if !cfg.DatabasePools.Graph.IsEnabled() {
		return false, "database_pools.graph.enabled is false in the project's config"
	}
	if mode, reason := neo4j.Resolve(d.neo4jOptions(root, layout, cfg, nil)); mode == neo4j.ModeNone {
		return false, reason
	}
	return true, ""
}

// mirrorBorrow lends a backend to the syncer for one batch, unless the
// registry has already let go of the workspace.
func mirrorBorrow[T any](d *Deps, root workspace.Root, get func(context.Context, workspace.Root) (T, func(), error)) mirror.Borrow[T] {
	return func(ctx context.Context) (T, func(), error) {
		var zero T
		if !slices.Contains(d.Registry.Workspaces(), root.Path) {
			return zero, nil, errWorkspaceClosing
		}
		return get(ctx, root)
	}
}

// startSyncer starts the mirror syncer of a task store that just opened and
// returns how to stop it (before the store closes).
func (d *Deps) startSyncer(store *sqlite.Store, root workspace.Root, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) func(context.Context) error {
	var targets []mirror.Target
	skipped := map[string]string{}
	if ok, why := d.vectorMirror(root.Path, layout, cfg); ok {
		targets = append(targets, mirror.VectorTarget{Borrow: mirrorBorrow(d, root, d.vectorStore)})
	} else {
		skipped[mirror.Vector] = why
	}
	if ok, why := d.graphMirror(root.Path, layout, cfg); ok {
		targets = append(targets, mirror.GraphTarget{Borrow: mirrorBorrow(d, root, d.graphStore)})
	} else {
		skipped[mirror.Graph] = why
	}
	sy := mirror.Start(mirror.Config{Store: store, Targets: targets, Skipped: skipped, Logger: logger})
	store.OnOutbox(sy.Wake)
	d.syncersMu.Lock()
	if d.syncers == nil {
		d.syncers = map[string]*mirror.Syncer{}
	}
	d.syncers[root.Path] = sy
	d.syncersMu.Unlock()
	return func(ctx context.Context) error {
		store.OnOutbox(nil)
		d.syncersMu.Lock()
		if d.syncers[root.Path] == sy {
			delete(d.syncers, root.Path)
		}
		d.syncersMu.Unlock()
		return sy.Stop(ctx)
	}
}

// syncer returns the mirror syncer of an open workspace, or nil.
func (d *Deps) syncer(root string) *mirror.Syncer {
	d.syncersMu.Lock()
	defer d.syncersMu.Unlock()
	return d.syncers[root]
}

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
		_, _, release, err := d.taskStore(ctx, root)
		if err != nil {
			return nil, "", err
		}
		defer release()
		sy := d.syncer(root.Path)
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
