package tools

import (
	"context"
	"log/slog"
	"sync"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Backend names, as pool_status and workspace_info show them.
const (
	BackendOperational = workspace.BackendOperational
	BackendVector      = workspace.BackendVector
	BackendGraph       = workspace.BackendGraph
)

// Deps is what every handler needs: where projects are, how they are
// configured, and the registry of open projects.
type Deps struct {
	Projects *project.Registry
	Resolver *workspace.Resolver
	// Config is the server-wide configuration (defaults < global file < env).
	// It must be the one Projects was made with.
	Config workspace.Config
	// ConfigFiles are the global files that Config was read from.
	ConfigFiles []string
	Logger      *slog.Logger
	Version     string
	ReadOnly    bool
	// ClientLog sends a call's warnings to its client (nil = none are sent).
	ClientLog *ClientLog

	rootsMu    sync.Mutex
	rootsCache map[string][]string // legacy session id -> root URIs
}

func (d *Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// project leases the open project at root; release ends the lease.
func (d *Deps) project(ctx context.Context, root workspace.Root) (*project.Project, func(), error) {
	return d.Projects.Acquire(ctx, root)
}

// withProject leases the project at root and asks it for one store.
func withProject[T any](ctx context.Context, d *Deps, root workspace.Root, get func(*project.Project, context.Context) (T, error)) (T, func(), error) {
	var zero T
	p, release, err := d.project(ctx, root)
	if err != nil {
		return zero, nil, err
	}
	s, err := get(p, ctx)
	if err != nil {
		release()
		return zero, nil, err
	}
	return s, release, nil
}

// taskStore returns the workspace's task store and layout.
func (d *Deps) taskStore(ctx context.Context, root workspace.Root) (work.Store, workspace.Layout, func(), error) {
	s, release, err := withProject(ctx, d, root, (*project.Project).Tasks)
	return s, workspace.LayoutFor(root.Path), release, err
}

// vectorStore returns the workspace's vector store, starting or connecting to Chroma on first use.
func (d *Deps) vectorStore(ctx context.Context, root workspace.Root) (*chroma.Store, func(), error) {
	return withProject(ctx, d, root, (*project.Project).Vectors)
}

// graphStore returns the workspace's graph store, starting or connecting to Neo4j on first use.
func (d *Deps) graphStore(ctx context.Context, root workspace.Root) (*neo4j.Store, func(), error) {
	return withProject(ctx, d, root, (*project.Project).Graph)
}

// projectConfig layers the project's own config file over the server's. The
// outcome, a refusal included, is validated once per version of the file.
func (d *Deps) projectConfig(layout workspace.Layout) (workspace.Config, string, error) {
	return d.Projects.ProjectConfig(layout)
}

// chromaOptions says how this project reaches Chroma (for Resolve: opens nothing).
func (d *Deps) chromaOptions(root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) chroma.Options {
	return d.Projects.ChromaOptions(root, layout, cfg, logger)
}

// neo4jOptions says how this project reaches Neo4j (for Resolve: opens nothing).
func (d *Deps) neo4jOptions(root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) neo4j.Options {
	return d.Projects.Neo4jOptions(root, layout, cfg, logger)
}
