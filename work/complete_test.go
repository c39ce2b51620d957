package work_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// project is a real project folder with a real task store and its artifact files.
type project struct {
	layout workspace.Layout
	store  *sqlite.Store
	files  workspace.ArtifactFiles
}

func newProject(t *testing.T) project {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	layout, err := workspace.Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(layout.Databases, "tasks.db"), Workspace: dir,
		Settings: workspace.Defaults().DatabasePools.Operational, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return project{layout: layout, store: s, files: workspace.ArtifactFiles{Layout: layout, MaxBytes: 1 << 20}}
}

func (p project) create(t *testing.T, nt work.NewTask) work.Task {
	t.Helper()
	task, err := p.store.Create(context.Background(), nt)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// artifactFiles lists the files in the task's artifact folder (none if it is missing).
func (p project) artifactFiles(t *testing.T, id string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(p.layout.Artifacts, id))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func wantMessage(t *testing.T, err error, kind clienterr.Kind, want string) {
	t.Helper()
	if !clienterr.IsKind(err, kind) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v; want %s saying %q", err, kind, want)
	}
}

func TestCompleteWithArtifactKeepsTheFileAndItsRow(t *testing.T) {
	p := newProject(t)
	ctx := context.Background()
	task := p.create(t, work.NewTask{Title: "write the report"})
	done, _, err := work.CompleteWithArtifact(ctx, p.store, p.files, task.ID, work.Completion{Summary: "done"},
		&work.ArtifactInput{Name: "report.md", Content: []byte("# report\n")})
	if err != nil || done.Status != work.Completed {
		t.Fatalf("complete: %+v, %v", done, err)
	}
	det, err := p.store.Get(ctx, task.ID)
	if err != nil || len(det.Artifacts) != 1 {
		t.Fatalf("artifacts %+v, %v", det.Artifacts, err)
	}
	a := det.Artifacts[0]
	if a.Name != "report.md" || a.Size != 9 || a.Path != ".task_orchestrator/artifacts/"+task.ID+"/report.md" {
		t.Fatalf("artifact row %+v", a)
	}
	data, total, err := p.files.Read(task.ID, "report.md", 2, 3)
	if err != nil || string(data) != "rep" || total != 9 {
		t.Fatalf("read back a range: %q of %d, %v", data, total, err)
	}
	if got := p.artifactFiles(t, task.ID); len(got) != 1 || got[0] != "report.md" {
		t.Fatalf("files in the task's folder: %v (temporary files must be gone)", got)
	}
}

func TestCompleteWithArtifactWritesNothingForATaskThatCannotBeCompleted(t *testing.T) {
	p := newProject(t)
	ctx := context.Background()
	art := func() *work.ArtifactInput { return &work.ArtifactInput{Name: "out.txt", Content: []byte("x")} }

	// Already completed.
	done := p.create(t, work.NewTask{Title: "done"})
	if _, _, err := p.store.Complete(ctx, done.ID, work.Completion{Summary: "ok"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := work.CompleteWithArtifact(ctx, p.store, p.files, done.ID, work.Completion{Summary: "again"}, art())
	wantMessage(t, err, clienterr.InvalidTransition, "task "+done.ID+" is completed; only a pending or in_progress task can be completed")

	// A parent with an open subtask: refused before the file is written.
	parent := p.create(t, work.NewTask{Title: "parent"})
	child := p.create(t, work.NewTask{Title: "child", ParentID: parent.ID})
	_, _, err = work.CompleteWithArtifact(ctx, p.store, p.files, parent.ID, work.Completion{Summary: "early"}, art())
	wantMessage(t, err, clienterr.InvalidTransition, "task "+parent.ID+" has 1 open subtask ("+child.ID+"), so it cannot be completed; "+
		"complete or cancel them first; failing or cancelling "+parent.ID+" leaves them as they are")

	// Unknown task.
	_, _, err = work.CompleteWithArtifact(ctx, p.store, p.files, "tsk_00000000000000ff", work.Completion{}, art())
	wantMessage(t, err, clienterr.NotFound, "tsk_00000000000000ff")

	for _, id := range []string{done.ID, parent.ID, "tsk_00000000000000ff"} {
		if got := p.artifactFiles(t, id); len(got) != 0 {
			t.Fatalf("task %s: files were written for a refused completion: %v", id, got)
		}
	}
}

func TestCompleteWithArtifactNeverOverwritesAnArtifact(t *testing.T) {
	p := newProject(t)
	ctx := context.Background()
	task := p.create(t, work.NewTask{Title: "t"})
	if _, err := p.files.Write(task.ID, "notes.md", []byte("first")); err != nil {
		t.Fatal(err)
	}
	_, _, err := work.CompleteWithArtifact(ctx, p.store, p.files, task.ID, work.Completion{Summary: "s"},
		&work.ArtifactInput{Name: "notes.md", Content: []byte("second")})
	wantMessage(t, err, clienterr.InvalidArgument,
		`artifact "notes.md" already exists for task `+task.ID+"; choose another name (artifacts are never overwritten)")
	if b, _ := os.ReadFile(filepath.Join(p.layout.Artifacts, task.ID, "notes.md")); string(b) != "first" {
		t.Fatalf("the artifact was overwritten: %q", b)
	}
	if got, _ := p.store.Get(ctx, task.ID); got.Task.Status != work.Pending {
		t.Fatalf("task is %s after a refused completion", got.Task.Status)
	}
	// Write itself refuses an existing name (a race past Exists).
	if _, err := p.files.Write(task.ID, "notes.md", []byte("third")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Write over an existing artifact: %v, want an fs.ErrExist", err)
	}
}

func TestCompleteWithArtifactRemovesTheFileWhenTheRowIsRefused(t *testing.T) {
	p := newProject(t)
	ctx := context.Background()
	task := p.create(t, work.NewTask{Title: "t"})
	// A summary over the store's limit passes every check made before the
	// write and is refused by the store: the file must not stay.
	_, _, err := work.CompleteWithArtifact(ctx, p.store, p.files, task.ID, work.Completion{Summary: strings.Repeat("s", 1<<20)},
		&work.ArtifactInput{Name: "out.txt", Content: []byte("x")})
	if !clienterr.IsKind(err, clienterr.InvalidArgument) {
		t.Fatalf("an oversized summary: %v", err)
	}
	if got := p.artifactFiles(t, task.ID); len(got) != 0 {
		t.Fatalf("the artifact of a refused completion stayed: %v", got)
	}
}

func TestCompleteWithArtifactMayFailAParentWithOpenSubtasks(t *testing.T) {
	p := newProject(t)
	ctx := context.Background()
	parent := p.create(t, work.NewTask{Title: "parent"})
	child := p.create(t, work.NewTask{Title: "child", ParentID: parent.ID})
	failed, _, err := work.CompleteWithArtifact(ctx, p.store, p.files, parent.ID, work.Completion{Summary: "gave up", Outcome: "failed"},
		&work.ArtifactInput{Name: "why.md", Content: []byte("blocked upstream")})
	if err != nil || failed.Status != work.Failed {
		t.Fatalf("failing a parent: %+v, %v", failed, err)
	}
	if got := p.artifactFiles(t, parent.ID); len(got) != 1 || got[0] != "why.md" {
		t.Fatalf("files of the failed parent: %v", got)
	}
	if c, _ := p.store.Get(ctx, child.ID); c.Task.Status != work.Pending {
		t.Fatalf("the subtask is %s; failing its parent leaves it as it is", c.Task.Status)
	}
}
