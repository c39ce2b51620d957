//go:build unix

package workspace_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// The id file round-trips; none is "" without error; new ids are valid and
// differ.
func TestProjectIDFileRoundTrips(t *testing.T) {
	l := newLayout(t)
	if id, err := workspace.ReadProjectID(l); id != "" || err != nil {
		t.Fatalf("no file: %q, %v; want \"\", nil", id, err)
	}
	a, b := workspace.NewProjectID(), workspace.NewProjectID()
	if !workspace.ValidProjectID(a) || a == b {
		t.Fatalf("NewProjectID gave %q and %q", a, b)
	}
	if err := workspace.WriteProjectID(l, a); err != nil {
		t.Fatal(err)
	}
	if id, err := workspace.ReadProjectID(l); id != a || err != nil {
		t.Fatalf("read back %q, %v; want %q", id, err, a)
	}
	fi, err := os.Stat(filepath.Join(l.Dir, workspace.ProjectIDFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("id file mode %v (%v), want 0600", fi.Mode(), err)
	}
	if err := workspace.WriteProjectID(l, "prj_nothex"); err == nil {
		t.Fatal("WriteProjectID wrote an invalid id")
	}
}

// What a repository put in the id file is untrusted: anything but one id is
// refused with a sentence; a link or a FIFO is never followed or waited on,
// and writing the id replaces a link instead of writing through it.
func TestProjectIDFileFromTheRepositoryIsUntrusted(t *testing.T) {
	l := newLayout(t)
	path := filepath.Join(l.Dir, workspace.ProjectIDFile)
	writeFile(t, path, "prj_0123456789abcdef\nprj_fedcba9876543210\n")
	_, err := workspace.ReadProjectID(l)
	var bad *workspace.BadProjectIDError
	want := `.task_orchestrator/project_id holds "prj_0123456789abcdef\nprj…", which is not a project id (prj_ and 16 hex digits); ` +
		`delete the file and the server writes the project's id back from its task database`
	if !errors.As(err, &bad) || err.Error() != want {
		t.Fatalf("two ids: %v; want %q", err, want)
	}

	victim := filepath.Join(tempDir(t), "victim")
	writeFile(t, victim, "prj_0123456789abcdef\n")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if _, err := workspace.ReadProjectID(l); !errors.Is(err, workspace.ErrUnsafeFile) {
		t.Fatalf("a link: %v; want ErrUnsafeFile", err)
	}
	id := workspace.NewProjectID()
	if err := workspace.WriteProjectID(l, id); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "prj_0123456789abcdef\n" {
		t.Fatalf("the link's target was written: %q", b)
	}
	if got, err := workspace.ReadProjectID(l); got != id || err != nil {
		t.Fatalf("after replacing the link: %q, %v", got, err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, path)
	if _, err := workspace.ReadProjectID(l); !errors.Is(err, workspace.ErrUnsafeFile) || !strings.Contains(err.Error(), "FIFO") {
		t.Fatalf("a FIFO: %v; want ErrUnsafeFile naming the FIFO", err)
	}
}
