//go:build unix

package sqlite_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// project makes a project with its layout and returns the path of its tasks.db.
func project(t *testing.T) (workspace.Layout, string) {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := workspace.Ensure(root)
	if err != nil {
		t.Fatal(err)
	}
	return l, filepath.Join(l.Databases, "tasks.db")
}

// otherDB is a real database of another project, with one task in it, closed.
func otherDB(t *testing.T) (path string, before []byte) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "other", "tasks.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), options(path))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, sqlite.NewTask{Title: "the other project's secret task"})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, before
}

func wantRefusal(t *testing.T, err error, rel, why string) {
	t.Helper()
	if !errors.Is(err, workspace.ErrUnsafeFile) {
		t.Fatalf("Open error = %v, want ErrUnsafeFile", err)
	}
	want := rel + " " + why + "; a project's data files must be regular files inside the project"
	if msg := workspace.UnsafeFileMessage(err); !strings.HasPrefix(msg, want) {
		t.Fatalf("message = %q, want it to start %q", msg, want)
	}
}

func TestOpenRefusesASymlinkedDatabaseAndLeavesItsTargetAlone(t *testing.T) {
	other, before := otherDB(t)
	_, path := project(t)
	if err := os.Symlink(other, path); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), options(path))
	wantRefusal(t, err, ".task_orchestrator/databases/tasks.db", "is a symbolic link")
	after, _ := os.ReadFile(other)
	if string(after) != string(before) {
		t.Fatal("the other project's database changed")
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Lstat(other + suffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was created beside the link's target: %v", suffix, err)
		}
	}
}

func TestOpenCreatesNothingAtADanglingLinksTarget(t *testing.T) {
	target := filepath.Join(t.TempDir(), "elsewhere", "tasks.db")
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		t.Fatal(err)
	}
	_, path := project(t)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), options(path))
	wantRefusal(t, err, ".task_orchestrator/databases/tasks.db", "is a symbolic link")
	if entries, _ := os.ReadDir(filepath.Dir(target)); len(entries) != 0 {
		t.Fatalf("files were created at the link's target: %v", entries)
	}
}

func TestOpenRefusesASymlinkedWALOrSHM(t *testing.T) {
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		t.Run(suffix, func(t *testing.T) {
			victim := filepath.Join(t.TempDir(), "victim")
			if err := os.WriteFile(victim, []byte("untouched"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, path := project(t)
			if err := os.Symlink(victim, path+suffix); err != nil {
				t.Fatal(err)
			}
			_, err := sqlite.Open(context.Background(), options(path))
			wantRefusal(t, err, ".task_orchestrator/databases/tasks.db"+suffix, "is a symbolic link")
			if b, _ := os.ReadFile(victim); string(b) != "untouched" {
				t.Fatalf("the link's target was written: %q", b)
			}
		})
	}
}

func TestOpenRefusesAFIFODatabaseWithoutBlocking(t *testing.T) {
	_, path := project(t)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		s, err := sqlite.Open(context.Background(), options(path))
		if s != nil {
			_ = s.Close(context.Background())
		}
		done <- err
	}()
	select {
	case err := <-done:
		wantRefusal(t, err, ".task_orchestrator/databases/tasks.db", "is a named pipe (FIFO), not a regular file")
	case <-time.After(20 * time.Second):
		if w, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("Open blocked on a FIFO")
	}
}

func TestALinkPutBesideAnOpenDatabaseIsRefusedToTheNextOpener(t *testing.T) {
	_, path := project(t)
	s := openAt(t, path)
	mustCreate(t, s, sqlite.NewTask{Title: "before"})
	// Another process opening the project meanwhile must see the link.
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + "-shm"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path+"-shm"); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), options(path))
	wantRefusal(t, err, ".task_orchestrator/databases/tasks.db-shm", "is a symbolic link")
}

func TestDatabaseWALAndSHMAre0600AndAnOlder0644DatabaseIsNarrowed(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	_, path := project(t)
	s := openAt(t, path)
	mustCreate(t, s, sqlite.NewTask{Title: "one"})
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("tasks.db%s: mode %04o, want 0600", suffix, fi.Mode().Perm())
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A database left 0644 by an older version is narrowed when opened.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path)
	if got := len(dump(t, s2)); got == 0 {
		t.Fatal("the task is gone after reopening")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("reopened tasks.db: mode %04o, want 0600", fi.Mode().Perm())
	}
}

func TestADatabaseSwappedForALinkDuringTheOpenIsRefusedAfterIt(t *testing.T) {
	other, before := otherDB(t)
	_, path := project(t)
	s := openAt(t, path) // tasks.db exists, ours
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The writer and the readers open concurrently: swap once, and in one
	// step (a link renamed over the file), so no open ever finds the name
	// missing — that would be an ordinary open failure, not the swap.
	var swap sync.Once
	sqlite.SetHookAfterCheck(func() {
		swap.Do(func() {
			if err := os.Symlink(other, path+".link"); err != nil {
				t.Error(err)
			}
			if err := os.Rename(path+".link", path); err != nil {
				t.Error(err)
			}
		})
	})
	defer sqlite.SetHookAfterCheck(nil)
	_, err := sqlite.Open(context.Background(), options(path))
	// The pool may try the open again after the first refusal; that try finds
	// the link before opening. Either way the refusal names the link.
	msg := workspace.UnsafeFileMessage(err)
	if !errors.Is(err, workspace.ErrUnsafeFile) || !(strings.HasPrefix(msg,
		".task_orchestrator/databases/tasks.db was replaced by a symbolic link while it was being opened; ") ||
		strings.HasPrefix(msg, ".task_orchestrator/databases/tasks.db is a symbolic link; ")) {
		t.Fatalf("Open error = %v (cause: %v), want the swap refused", err, errors.Unwrap(err))
	}
	if after, _ := os.ReadFile(other); string(after) != string(before) {
		t.Fatal("the other project's database changed")
	}
	// What a swap in that window can still do: SQLite's open may leave an
	// empty -wal or -shm beside the target before the check refuses it.
	for _, suffix := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(other + suffix); err == nil {
			t.Logf("left beside the target: tasks.db%s (%d bytes)", suffix, fi.Size())
		}
	}
}
