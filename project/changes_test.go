package project_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// The watcher hears of changes written by another store on the same SQLite
// file (another process, in production), runs only while watched, and stops
// when the last watcher leaves or the project closes.
func TestWatchChangesSeesAnotherStoresWrites(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	ctx := context.Background()
	r := project.NewRegistry(project.RegistryConfig{Logger: discard, Server: workspace.Defaults()})
	root := newRoot(t)
	p, release := acquire(t, r, root)
	if _, err := p.Tasks(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(p.Layout().Databases, "tasks.db"), Workspace: root.Path, Settings: workspace.Defaults().DatabasePools.Operational})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)

	var mu sync.Mutex
	var seen []string
	cancel, err := p.WatchChanges(ctx, func(ids []string) {
		mu.Lock()
		seen = append(seen, ids...)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	task, err := other.Create(ctx, sqlite.NewTask{Title: "from elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	eventually(t, "the watcher reports the other store's task", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(seen, task.ID)
	})
	t.Logf("noticed %v after the other store's write (poll every %v)", time.Since(written).Round(time.Millisecond), project.ChangePoll)

	// The last watcher leaving stops the goroutine; a second cancel is a no-op.
	cancel()
	cancel()
	release()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_ = other.Close(ctx)
	goleak.VerifyNone(t, ignore)
}

// Closing the project stops a watcher nobody cancelled.
func TestWatchChangesStopsWithItsProject(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	ctx := context.Background()
	r := project.NewRegistry(project.RegistryConfig{Logger: discard, Server: workspace.Defaults()})
	p, release := acquire(t, r, newRoot(t))
	cancel, err := p.WatchChanges(ctx, func([]string) {})
	if err != nil {
		t.Fatal(err)
	}
	release()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
	cancel() // after the close: a no-op
	if _, err := p.WatchChanges(ctx, func([]string) {}); err == nil {
		t.Fatal("WatchChanges on a closed project succeeded")
	}
}
