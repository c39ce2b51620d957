package sqlite_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func options(path string) sqlite.Options {
	return sqlite.Options{
		Path:      path,
		Workspace: filepath.Dir(path),
		Settings:  workspace.Defaults().DatabasePools.Operational,
		Logger:    slog.New(slog.DiscardHandler),
	}
}

// openStore opens a store on a new file in t.TempDir and closes it at cleanup.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "tasks.db"))
}

func openAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), options(path))
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustCreate(t testing.TB, s *sqlite.Store, nt sqlite.NewTask) sqlite.Task {
	t.Helper()
	task, err := s.Create(context.Background(), nt)
	if err != nil {
		t.Fatalf("Create(%+v): %v", nt, err)
	}
	return task
}

func mustGet(t testing.TB, s *sqlite.Store, id string) sqlite.TaskDetail {
	t.Helper()
	d, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return d
}

func dump(t testing.TB, s *sqlite.Store) string {
	t.Helper()
	d, err := s.Dump(context.Background())
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

func wantKind(t testing.TB, err error, k sqlite.Kind) *sqlite.Error {
	t.Helper()
	if !sqlite.IsKind(err, k) {
		t.Fatalf("error = %v (%T), want kind %s", err, err, k)
	}
	var e *sqlite.Error
	_ = errorsAs(err, &e)
	if e.Msg == "" {
		t.Fatalf("error of kind %s has no message", k)
	}
	return e
}
