package chroma_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// managedOptions runs the project's own Chroma from the pinned executable.
func managedOptions(layout workspace.Layout) chroma.Options {
	return chroma.Options{
		Workspace:  layout.Root,
		Layout:     layout,
		Settings:   workspace.Defaults().DatabasePools.Vector,
		Backends:   workspace.Backends{ChromaCommand: chromaCommand, ChromaStartTimeout: 60},
		Embeddings: lexicalEmbeddings,
		Logger:     quiet,
	}
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestManagedServerKeepsTheProjectsDataAndPersistsAcrossRestarts(t *testing.T) {
	layout := project(t)
	opts := managedOptions(layout)
	var reports []string
	ctx := progress.With(context.Background(), func(msg string, _, _ float64) { reports = append(reports, msg) })

	s, err := chroma.Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	info := s.Info()
	dataDir := filepath.Join(layout.Databases, "chroma")
	if info.Mode != chroma.ModeManaged || info.DataDir != dataDir || info.PID <= 0 || !strings.HasPrefix(info.URL, "http://127.0.0.1:") {
		t.Errorf("Info = %+v, want a managed server on 127.0.0.1 with data in %s", info, dataDir)
	}
	if len(reports) == 0 || !strings.Contains(reports[0], "starting the project's Chroma server") {
		t.Errorf("progress while starting = %q", reports)
	}
	if _, err := s.Upsert(ctx, "notes", docs(5, "m")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "chroma.sqlite3")); err != nil {
		t.Errorf("the server's data is not under %s: %v", dataDir, err)
	}
	if _, err := os.Stat(filepath.Join(layout.Logs, "chroma.log")); err != nil {
		t.Errorf("no server log in %s: %v", layout.Logs, err)
	}
	// The server dies: the next call waits for the supervisor's restart
	// (through the pool's Open hook) instead of failing.
	if err := syscall.Kill(info.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, chroma.GetRequest{Collection: "notes"})
	if err != nil || len(got) != 5 {
		t.Fatalf("after the server was killed Get = %d documents, %v; want 5", len(got), err)
	}
	if newPID := s.Info().PID; newPID == info.PID || newPID <= 0 {
		t.Errorf("pid after the restart = %d (was %d)", newPID, info.PID)
	}
	pid := s.Info().PID
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !processGone(pid) {
		t.Fatalf("chroma (pid %d) still runs after Close", pid)
	}

	s2, err := chroma.Open(ctx, opts)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer func() {
		pid := s2.Info().PID
		if err := s2.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if !processGone(pid) {
			t.Errorf("chroma (pid %d) still runs after Close", pid)
		}
	}()
	if s2.Info().PID == pid {
		t.Errorf("the second Open reused pid %d", pid)
	}
	got, err = s2.Get(ctx, chroma.GetRequest{Collection: "notes"})
	if err != nil || len(got) != 5 {
		t.Fatalf("after a restart Get = %d documents, %v; want 5", len(got), err)
	}
	m, err := s2.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "m document number 2", NResults: 1})
	if err != nil || len(m) != 1 || m[0].ID != "m-002" {
		t.Errorf("after a restart Query = %+v, %v", m, err)
	}
}
