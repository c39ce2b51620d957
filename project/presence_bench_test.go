package project_test

import (
	"context"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// BenchmarkOpenAndCloseAProjectsTaskStore is the cost of a project's open
// and close (the task store: SQLite, the syncer, and the presence file),
// the path presence registration adds to; a tool call pays none of it.
func BenchmarkOpenAndCloseAProjectsTaskStore(b *testing.B) {
	root, err := workspaceRoot(b)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r := project.NewRegistry(project.RegistryConfig{Logger: discard, Server: workspace.Defaults()})
		p, release, err := r.Acquire(context.Background(), root)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Tasks(context.Background()); err != nil {
			b.Fatal(err)
		}
		release()
		if err := r.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadProcesses is what status --workspace spends reading the
// presence files of a project with one live process.
func BenchmarkReadProcesses(b *testing.B) {
	root, err := workspaceRoot(b)
	if err != nil {
		b.Fatal(err)
	}
	r := project.NewRegistry(project.RegistryConfig{Logger: discard, Server: workspace.Defaults()})
	defer r.Close(context.Background())
	p, release, err := r.Acquire(context.Background(), root)
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	if _, err := p.Tasks(context.Background()); err != nil {
		b.Fatal(err)
	}
	l := workspace.LayoutFor(root.Path)
	for b.Loop() {
		if ps, _, err := project.ReadProcesses(l); err != nil || len(ps) != 1 {
			b.Fatal(ps, err)
		}
	}
}

func workspaceRoot(b *testing.B) (workspace.Root, error) {
	return workspace.Root{Path: b.TempDir(), Source: "test"}, nil
}
