package project_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// newRoot is a fresh project folder.
func newRoot(t *testing.T) workspace.Root {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return workspace.Root{Path: dir, Source: "test"}
}

func newProjects(t *testing.T, cfg project.RegistryConfig) *project.Registry {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	if cfg.Server.DatabasePools.Operational.MaxConnections == 0 {
		cfg.Server = workspace.Defaults()
	}
	r := project.NewRegistry(cfg)
	t.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			t.Errorf("Registry.Close: %v", err)
		}
	})
	return r
}

func acquire(t *testing.T, r *project.Registry, root workspace.Root) (*project.Project, func()) {
	t.Helper()
	p, release, err := r.Acquire(context.Background(), root)
	if err != nil {
		t.Fatalf("Acquire(%s): %v", root.Path, err)
	}
	return p, release
}

func TestTasksOpensOneStoreUnderConcurrentFirstCalls(t *testing.T) {
	r := newProjects(t, project.RegistryConfig{})
	p, release := acquire(t, r, newRoot(t))
	defer release()
	const callers = 32
	got := make([]work.Store, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = p.Tasks(context.Background()) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("caller %d got another task store than caller 0: the backend was opened twice", i)
		}
	}
	if p.Syncer() == nil {
		t.Fatal("the task store opened without its mirror syncer")
	}
	if !r.Open(p.Root().Path, project.BackendOperational) || r.Open(p.Root().Path, project.BackendGraph) {
		t.Fatal("Open should report the task store open and the graph store not opened")
	}
}

func TestDisabledBackendIsRefusedWithASentence(t *testing.T) {
	root := newRoot(t)
	cfgDir := filepath.Join(root.Path, ".task_orchestrator", "configs")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"database_pools":{"operational":{"enabled":false}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newProjects(t, project.RegistryConfig{})
	p, release := acquire(t, r, root)
	defer release()
	_, err := p.Tasks(context.Background())
	var ce interface{ ClientMessage() string }
	if !errors.As(err, &ce) {
		t.Fatalf("Tasks = %v, want an error meant for the client", err)
	}
	want := "the task tools are turned off for this project: its .task_orchestrator/configs/config.json sets database_pools.operational.enabled to false; remove that line to turn them back on"
	if ce.ClientMessage() != want {
		t.Fatalf("message %q\nwant %q", ce.ClientMessage(), want)
	}
}

// TestEvictedProjectStopsItsSyncerAndRefusesBorrows: once the registry lets
// go of a project, what the project started cannot reopen its backends.
func TestEvictedProjectStopsItsSyncerAndRefusesBorrows(t *testing.T) {
	r := newProjects(t, project.RegistryConfig{MaxWorkspaces: 1})
	a, releaseA := acquire(t, r, newRoot(t))
	if _, err := a.Tasks(context.Background()); err != nil {
		t.Fatal(err)
	}
	releaseA()
	_, releaseB := acquire(t, r, newRoot(t))
	defer releaseB()
	if a.Syncer() != nil {
		t.Fatal("the evicted project's mirror syncer is still running")
	}
	if r.Syncer(a.Root().Path) != nil {
		t.Fatal("the registry still finds the evicted project's syncer")
	}
	if _, err := a.BorrowTasks(context.Background()); !errors.Is(err, project.ErrProjectClosing) {
		t.Fatalf("borrow from an evicted project = %v, want it refused", err)
	}
}

func TestBackendsShareTheProjectLog(t *testing.T) {
	r := newProjects(t, project.RegistryConfig{})
	p, release := acquire(t, r, newRoot(t))
	defer release()
	if _, err := p.Tasks(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.Logger() != p.Logger() {
		t.Fatal("the project made two loggers")
	}
	p.Logger().Info("after the store", "mark", "second")
	b := readLog(t, p, "server.log")
	if !strings.Contains(b, `"msg":"backend opened"`) || !strings.Contains(b, `"mark":"second"`) {
		t.Fatalf("server.log lacks the store's record or the later one:\n%s", b)
	}
}

// TestLogFollowsARotationByAnotherProcess: another server process on the
// project moved server.log to server.log.1; this one writes to the new
// server.log, not on into the rotated file.
func TestLogFollowsARotationByAnotherProcess(t *testing.T) {
	project.SetLogLimits(t, 10<<20, 0)
	r := newProjects(t, project.RegistryConfig{})
	p, release := acquire(t, r, newRoot(t))
	defer release()
	ensure(t, p)
	p.Logger().Info("before", "mark", "one")
	logs := p.Layout().Logs
	if err := os.Rename(filepath.Join(logs, "server.log"), filepath.Join(logs, "server.log.1")); err != nil {
		t.Fatal(err)
	}
	p.Logger().Info("after", "mark", "two")
	if b := readLog(t, p, "server.log"); !strings.Contains(b, `"mark":"two"`) || strings.Contains(b, `"mark":"one"`) {
		t.Fatalf("server.log after the rotation:\n%s", b)
	}
	if b := readLog(t, p, "server.log.1"); strings.Contains(b, `"mark":"two"`) {
		t.Fatalf("a record went into the rotated file:\n%s", b)
	}
}

func TestLogRotatesWhenFull(t *testing.T) {
	project.SetLogLimits(t, 512, 0)
	r := newProjects(t, project.RegistryConfig{})
	p, release := acquire(t, r, newRoot(t))
	defer release()
	ensure(t, p)
	for range 20 {
		p.Logger().Info("filling the log", "pad", strings.Repeat("x", 64))
	}
	p.Logger().Info("last", "mark", "end")
	if b := readLog(t, p, "server.log"); len(b) > 1024 || !strings.Contains(b, `"mark":"end"`) {
		t.Fatalf("server.log is %d bytes (want rotated below 1 KiB, ending with the last record)", len(b))
	}
	if b := readLog(t, p, "server.log.1"); !strings.Contains(b, "filling the log") {
		t.Fatal("server.log.1 does not hold the rotated records")
	}
}

// TestLogRefusesALinkedFile: a server.log planted as a link is never written
// through; the project logs to stderr only.
func TestLogRefusesALinkedFile(t *testing.T) {
	root := newRoot(t)
	logs := filepath.Join(root.Path, ".task_orchestrator", "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(logs, "server.log")); err != nil {
		t.Fatal(err)
	}
	r := newProjects(t, project.RegistryConfig{})
	p, release := acquire(t, r, root)
	defer release()
	p.Logger().Info("must not reach the victim")
	if b, _ := os.ReadFile(victim); len(b) != 0 {
		t.Fatalf("the log wrote through a planted link: %q", b)
	}
}

func readLog(t *testing.T, p *project.Project, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.Layout().Logs, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ensure makes the project's .task_orchestrator folders, as opening a backend does.
func ensure(t *testing.T, p *project.Project) {
	t.Helper()
	if _, err := workspace.Ensure(p.Root().Path); err != nil {
		t.Fatal(err)
	}
}

// TestStressProjectsOpenAndEvictUnderLoad: many calls over more projects than
// max_workspaces, with the janitor running; run with -race. Every call gets a
// working task store, and Close leaves nothing open (goleak checks the
// syncers and pool monitors).
func TestStressProjectsOpenAndEvictUnderLoad(t *testing.T) {
	r := newProjects(t, project.RegistryConfig{MaxWorkspaces: 1, IdleTimeout: time.Millisecond})
	roots := []workspace.Root{newRoot(t), newRoot(t), newRoot(t)}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for j := range 5 {
				p, release, err := r.Acquire(context.Background(), roots[(i+j)%len(roots)])
				if err != nil {
					t.Error(err)
					return
				}
				s, err := p.Tasks(context.Background())
				if err == nil {
					_, _, err = s.List(context.Background(), sqlite.Filter{})
				}
				release()
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
