package tools

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func errorText(t *testing.T, root string, err error) string {
	t.Helper()
	d := &Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	res := toolErrorIn(d, "task_list", root, err)
	if !res.IsError || len(res.Content) != 1 {
		t.Fatalf("toolError gave %+v", res)
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		t.Fatalf("toolError gave %T", res.Content[0])
	}
	return tc.Text
}

// unsafeFile stands for an error type another package adds: it reaches the
// client by having a ClientMessage method, with no change to toolError.
type unsafeFile struct{ path string }

func (e *unsafeFile) Error() string { return "unsafe file " + e.path }
func (e *unsafeFile) ClientMessage() string {
	return e.path + " is a symlink; replace it with a regular file"
}

func TestToolErrorShowsAClientMessageFromAnyPackageWithProjectRelativePaths(t *testing.T) {
	err := fmt.Errorf("workspace /p: open the operational backend: %w", &unsafeFile{"/p/.task_orchestrator/databases/tasks.db"})
	if got, want := errorText(t, "/p", err), ".task_orchestrator/databases/tasks.db is a symlink; replace it with a regular file"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestToolErrorListsEachRefusalReasonWithoutTheWrapping(t *testing.T) {
	joined := errors.Join(
		fmt.Errorf("%w: /home/u/my proj/.task_orchestrator is a symlink; replace it", workspace.ErrBadLayout),
		fmt.Errorf("%w: /home/u/my proj/.task_orchestrator/logs is not a folder; move it away", workspace.ErrBadLayout),
	)
	err := fmt.Errorf("workspace /home/u/my proj: open the graph backend: %w", joined)
	want := "this project's data folder cannot be used:\n- .task_orchestrator is a symlink; replace it\n- .task_orchestrator/logs is not a folder; move it away"
	if got := errorText(t, "/home/u/my proj", err); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Without the root (an error before the project was resolved), paths to
	// a data folder are still shortened.
	one := fmt.Errorf("%w: /srv/a/.task_orchestrator/configs/config.json is not a regular file", workspace.ErrConfigFileRefused)
	if got, want := errorText(t, "", one), "the project config was refused: .task_orchestrator/configs/config.json is not a regular file"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A sentinel added to refusals reaches the client the same way.
func TestToolErrorRefusalsAreExtendedByAddingASentinel(t *testing.T) {
	errNew := errors.New("new refusal")
	err := fmt.Errorf("wrapped: %w", fmt.Errorf("%w: /p/.task_orchestrator/x is wrong; fix it", errNew))
	if got := errorText(t, "/p", err); !strings.HasPrefix(got, "internal error in task_list (ref ") {
		t.Fatalf("an unlisted error should stay internal, got %q", got)
	}
	saved := refusals
	t.Cleanup(func() { refusals = saved })
	refusals = append(refusals, refusal{errNew, "the thing was refused"})
	if got, want := errorText(t, "/p", err), "the thing was refused: .task_orchestrator/x is wrong; fix it"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// 96,000 unknown keys once made a 38.9 MB tool error: the first ten
// problems are listed, the rest counted, and the whole is at most 4 KiB.
func TestToolErrorCapsAHostileConfigsErrorAt4KiB(t *testing.T) {
	ve := &workspace.ValidationError{File: "/p/.task_orchestrator/configs/config.json"}
	for i := range 5000 {
		ve.Violations = append(ve.Violations, workspace.Violation{Path: fmt.Sprintf("database_pools.k%d", i), Rule: "unknown key"})
	}
	got := errorText(t, "/p", fmt.Errorf("workspace /p: open: %w", ve))
	if len(got) > maxClientMessage || !strings.Contains(got, "\n- .task_orchestrator/configs/config.json: database_pools.k9: unknown key\n… and 4990 more") {
		t.Fatalf("%d bytes:\n%s", len(got), got)
	}
	long := &userError{msg: strings.Repeat("é", 5000)}
	if got := errorText(t, "", long); len(got) > maxClientMessage || !strings.HasSuffix(got, "(cut: the message was too long)") {
		t.Fatalf("a long message was not cut to %d bytes on a character boundary: %d bytes, %q…", maxClientMessage, len(got), got[len(got)-40:])
	}
}

// A file the server may not touch is the user's to fix, not an internal error.
func TestToolErrorNamesAFileThatPermissionsKeepTheServerFrom(t *testing.T) {
	err := fmt.Errorf("project config /p/.task_orchestrator/configs/config.json: %w",
		&fs.PathError{Op: "lstat", Path: "/p/.task_orchestrator/configs/config.json", Err: fs.ErrPermission})
	want := "the server may not read .task_orchestrator/configs/config.json (permission denied); give the user running the server access to it"
	if got := errorText(t, "/p", err); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
