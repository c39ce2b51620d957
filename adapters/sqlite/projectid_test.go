package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// openIdentified opens the store at path with the id file's id and root label given.
func openIdentified(t *testing.T, path, fileID, root string) *sqlite.Store {
	t.Helper()
	o := options(path)
	o.ProjectID, o.Workspace = fileID, root
	s, err := sqlite.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// A new database takes the id file's id; once it has one it keeps it, whatever
// a later file says; without a valid file id it makes a valid one.
func TestTheDatabaseKeepsTheProjectIDItWasFirstGiven(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tasks.db")
	first := workspace.NewProjectID()
	if s := openIdentified(t, path, first, dir); s.ProjectID() != first {
		t.Fatalf("a new database's id = %q, want the file's %q", s.ProjectID(), first)
	}
	if s := openIdentified(t, path, workspace.NewProjectID(), dir); s.ProjectID() != first {
		t.Fatalf("re-opened with another file id: %q, want the database's %q", s.ProjectID(), first)
	}
	for _, bad := range []string{"", "prj_XYZ", "prj_0123456789abcdef0", "../../etc/passwd"} {
		s := openIdentified(t, filepath.Join(t.TempDir(), "tasks.db"), bad, dir)
		if !workspace.ValidProjectID(s.ProjectID()) || s.ProjectID() == bad {
			t.Errorf("file id %q: the database took %q; want a fresh valid id", bad, s.ProjectID())
		}
	}
}

// The root is a label: re-opened from another path, the database records the
// new one and keeps its id.
func TestTheProjectRootIsALabelThatFollowsTheProject(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	id := openIdentified(t, path, "", "/old/checkout").ProjectID()
	if got := openIdentified(t, path, "", "/new/checkout").ProjectID(); got != id {
		t.Fatalf("id changed with the root: %q -> %q", id, got)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var root string
	if err := db.QueryRow(`SELECT root FROM project`).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if root != "/new/checkout" {
		t.Fatalf("root label = %q, want /new/checkout", root)
	}
}

// Stores opening a new project at once, each with an id of its own making,
// agree on one.
func TestStoresOpeningANewProjectAtOnceAgreeOnItsID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o := options(path)
			o.ProjectID = workspace.NewProjectID()
			s, err := sqlite.Open(context.Background(), o)
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			ids[i] = s.ProjectID()
			_ = s.Close(context.Background())
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] || !workspace.ValidProjectID(ids[i]) {
			t.Fatalf("ids = %v: want one valid id for all", ids)
		}
	}
}
