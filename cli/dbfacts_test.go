package cli

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// doctor and status read a project's tasks.db themselves: a cloned
// repository's tasks.db (or -wal) that is a link to another project's
// database is refused, and the database it points to is neither read nor
// given a -wal or -shm of its own.
func TestDoctorAndStatusRefuseALinkedTasksDB(t *testing.T) {
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE secret(x TEXT); INSERT INTO secret VALUES ('the other project')"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	for _, link := range []string{"tasks.db", "tasks.db-wal"} {
		t.Run(link, func(t *testing.T) {
			l, err := workspace.Ensure(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(l.Databases, "tasks.db")
			if link != "tasks.db" {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(other, filepath.Join(l.Databases, link)); err != nil {
				t.Fatal(err)
			}
			_, err = readDBFacts(context.Background(), path, true)
			if !errors.Is(err, workspace.ErrUnsafeFile) {
				t.Fatalf("readDBFacts through a linked %s: %v, want the unsafe-file refusal", link, err)
			}
			for _, sfx := range []string{"-wal", "-shm"} {
				if _, err := os.Lstat(other + sfx); err == nil {
					t.Errorf("%s was created beside the other project's database", filepath.Base(other+sfx))
				}
			}
		})
	}
}
