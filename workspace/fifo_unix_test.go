//go:build unix

package workspace_test

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// mkfifo makes a named pipe where the project config belongs.
func mkfifoConfig(t *testing.T, l workspace.Layout) string {
	t.Helper()
	path := filepath.Join(l.Configs, "config.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
