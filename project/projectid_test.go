package project_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// openProjectID opens root's task store in a registry of its own, closes it,
// and returns the store's project id and what the id file then holds.
func openProjectID(t *testing.T, root workspace.Root) (id, file string) {
	t.Helper()
	r := project.NewRegistry(project.RegistryConfig{Logger: discard, Server: workspace.Defaults()})
	p, release, err := r.Acquire(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Tasks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id = s.ProjectID()
	release()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(workspace.LayoutFor(root.Path).Dir, workspace.ProjectIDFile))
	if err != nil {
		t.Fatalf("the id file: %v", err)
	}
	return id, string(b)
}

// Opening a project's task store gives it a stable id and writes the id file;
// the database decides: a deleted file is written back, a file with anything
// else (garbage, or another project's id) is replaced by the database's id.
func TestTheProjectIDFileFollowsTheTaskDatabase(t *testing.T) {
	root := newRoot(t)
	id, file := openProjectID(t, root)
	if !workspace.ValidProjectID(id) || file != id+"\n" {
		t.Fatalf("first open: id %q, file %q", id, file)
	}
	path := filepath.Join(workspace.LayoutFor(root.Path).Dir, workspace.ProjectIDFile)
	// A file that holds the id, with or without its newline, is left as it is.
	if err := os.WriteFile(path, []byte(id), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, file := openProjectID(t, root); got != id || file != id {
		t.Errorf("the id without a newline: id %q, file %q; want both %q, the file untouched", got, file, id)
	}
	for name, content := range map[string]*string{
		"deleted":       nil,
		"garbage":       ptr("not an id at all\x00"),
		"another id":    ptr(workspace.NewProjectID() + "\n"),
		"empty":         ptr(""),
		"two ids":       ptr(id + "\n" + workspace.NewProjectID() + "\n"),
		"upper-case id": ptr("PRJ_0123456789ABCDEF"),
	} {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if content != nil {
			if err := os.WriteFile(path, []byte(*content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if got, file := openProjectID(t, root); got != id || file != id+"\n" {
			t.Errorf("%s: id %q, file %q; want %q kept and written", name, got, file, id)
		}
	}
}

func ptr[T any](v T) *T { return &v }
