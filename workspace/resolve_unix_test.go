//go:build unix

package workspace_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Devices, FIFOs and sockets are refused as workspace paths, whichever
// folder they are in; a regular file still resolves from its folder.
func TestFindRootRefusesDevicesFIFOsAndSocketsButNotRegularFiles(t *testing.T) {
	short, err := os.MkdirTemp("", "ws") // a socket path must stay under ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	proj := project(t, short, "p")
	fifo := filepath.Join(proj, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(proj, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	regular := filepath.Join(proj, "README.md")
	writeFile(t, regular, "x")
	r := &workspace.Resolver{Home: filepath.Join(short, "home")}

	for _, tt := range []struct{ path, kind string }{
		{"/dev/null", "a character device"},
		{fifo, "a named pipe (FIFO)"},
		{sock, "a socket"},
	} {
		root, _, err := r.FindRoot(tt.path)
		if !errors.Is(err, workspace.ErrBadPath) {
			t.Fatalf("FindRoot(%s) = %q, %v; want ErrBadPath", tt.path, root, err)
		}
		if msg := err.Error(); !strings.Contains(msg, tt.path) || !strings.Contains(msg, "is "+tt.kind) || !strings.Contains(msg, "pass a project folder") {
			t.Fatalf("error %q should name %s, say it is %s and what to do", msg, tt.path, tt.kind)
		}
	}
	root, marker, err := r.FindRoot(regular)
	if err != nil || root != resolved(t, proj) || marker != ".git" {
		t.Fatalf("FindRoot(a regular file) = %q, %q, %v; want the project %s", root, marker, err, proj)
	}
}
