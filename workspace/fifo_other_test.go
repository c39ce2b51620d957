//go:build !unix

package workspace_test

import (
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// mkfifo skips: there are no named pipes in the file system here.
func mkfifoConfig(t *testing.T, _ workspace.Layout) string {
	t.Skip("no named pipes in this file system")
	return ""
}
