//go:build unix

package workspace_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// refusal checks that err is ErrUnsafeFile with exactly the sentence a client sees.
func refusal(t *testing.T, err error, rel, why string) {
	t.Helper()
	if !errors.Is(err, workspace.ErrUnsafeFile) {
		t.Fatalf("error = %v, want ErrUnsafeFile", err)
	}
	want := rel + " " + why + "; a project's data "
	if msg := workspace.UnsafeFileMessage(err); !strings.HasPrefix(msg, want) || strings.Contains(msg, "/tmp") {
		t.Fatalf("message = %q, want it to start %q and hold no absolute path", msg, want)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenProjectFileRefusesASymlinkAndWritesNothingThroughIt(t *testing.T) {
	l := newLayout(t)
	outside := filepath.Join(tempDir(t), "victim.log")
	writeFile(t, outside, "untouched\n")
	log := filepath.Join(l.Logs, "server.log")
	symlink(t, outside, log)

	_, err := workspace.OpenProjectFile(l, log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	refusal(t, err, ".task_orchestrator/logs/server.log", "is a symbolic link")
	if b, _ := os.ReadFile(outside); string(b) != "untouched\n" {
		t.Fatalf("the link's target was changed: %q", b)
	}
}

func TestOpenProjectFileRefusesALinkInsideTheProjectToo(t *testing.T) {
	l := newLayout(t)
	inside := filepath.Join(l.Root, "notes.txt")
	writeFile(t, inside, "mine\n")
	symlink(t, "../../notes.txt", filepath.Join(l.Databases, "tasks.db"))
	_, err := workspace.OpenProjectFile(l, filepath.Join(l.Databases, "tasks.db"), os.O_RDWR|os.O_CREATE, 0o600)
	refusal(t, err, ".task_orchestrator/databases/tasks.db", "is a symbolic link")
}

func TestOpenProjectFileCreatesNothingAtADanglingLinksTarget(t *testing.T) {
	l := newLayout(t)
	target := filepath.Join(tempDir(t), "created-here.db")
	symlink(t, target, filepath.Join(l.Databases, "tasks.db"))
	_, err := workspace.OpenProjectFile(l, filepath.Join(l.Databases, "tasks.db"), os.O_RDWR|os.O_CREATE, 0o600)
	refusal(t, err, ".task_orchestrator/databases/tasks.db", "is a symbolic link")
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the dangling link's target was created: %v", err)
	}
}

func TestOpenProjectFileRefusesAFIFOWithoutBlocking(t *testing.T) {
	l := newLayout(t)
	p := filepath.Join(l.Configs, "config.json")
	mkfifo(t, p)
	for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_APPEND | os.O_CREATE, os.O_RDWR | os.O_CREATE} {
		done := make(chan error, 1)
		go func() {
			f, err := workspace.OpenProjectFile(l, p, flag, 0o600)
			if f != nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			refusal(t, err, ".task_orchestrator/configs/config.json", "is a named pipe (FIFO), not a regular file")
		case <-time.After(10 * time.Second):
			// Unblock the open (a writer) so the goroutine ends, then fail.
			if w, err := os.OpenFile(p, os.O_RDWR, 0); err == nil {
				w.Close()
			}
			<-done
			t.Fatalf("flag %#x: opening a FIFO blocked", flag)
		}
	}
}

func TestOpenProjectFileRefusesAFolderAndASocket(t *testing.T) {
	l := newLayout(t)
	dir := filepath.Join(l.Logs, "server.log")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := workspace.OpenProjectFile(l, dir, os.O_RDONLY, 0)
	refusal(t, err, ".task_orchestrator/logs/server.log", "is a folder, not a regular file")

	sock := filepath.Join(l.Databases, "tasks.db-shm")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Skipf("cannot bind a unix socket here: %v", err)
	}
	_, err = workspace.CheckProjectFile(l, sock)
	refusal(t, err, ".task_orchestrator/databases/tasks.db-shm", "is a socket, not a regular file")
	_, err = workspace.OpenProjectFile(l, sock, os.O_RDWR, 0)
	refusal(t, err, ".task_orchestrator/databases/tasks.db-shm", "is a socket, not a regular file")
}

func TestOpenProjectFileRefusesASymlinkedFolderOnTheWay(t *testing.T) {
	l := newLayout(t)
	elsewhere := tempDir(t)
	symlink(t, elsewhere, filepath.Join(l.Databases, "chroma"))
	_, err := workspace.OpenProjectFile(l, filepath.Join(l.Databases, "chroma", "chroma.log"), os.O_CREATE|os.O_WRONLY, 0o600)
	refusal(t, err, ".task_orchestrator/databases/chroma", "is a symbolic link")
	err = workspace.EnsureProjectDir(l, filepath.Join(l.Databases, "chroma"))
	refusal(t, err, ".task_orchestrator/databases/chroma", "is a symbolic link")
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("something was created through the link: %v", entries)
	}
}

func TestOpenProjectFileCreates0600AndNarrowsAnOlder0644File(t *testing.T) {
	l := newLayout(t)
	fresh := filepath.Join(l.Databases, "tasks.db")
	withUmask(t, 0, func() {
		f, err := workspace.OpenProjectFile(l, fresh, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	})
	old := filepath.Join(l.Databases, "old.db")
	writeFile(t, old, "x")
	if err := os.Chmod(old, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := workspace.OpenProjectFile(l, old, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, p := range []string{fresh, old} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

func TestCheckProjectFileAcceptsARegularOrMissingFile(t *testing.T) {
	l := newLayout(t)
	p := filepath.Join(l.Databases, "tasks.db")
	if fi, err := workspace.CheckProjectFile(l, p); fi != nil || err != nil {
		t.Fatalf("missing file: %v, %v; want nil, nil", fi, err)
	}
	writeFile(t, p, "x")
	if fi, err := workspace.CheckProjectFile(l, p); err != nil || fi == nil || !fi.Mode().IsRegular() {
		t.Fatalf("regular file: %v, %v", fi, err)
	}
	if _, err := workspace.OpenProjectFile(l, filepath.Join(l.Root, "..", "x"), os.O_RDONLY, 0); err == nil || errors.Is(err, workspace.ErrUnsafeFile) {
		t.Fatalf("a path outside the project: %v, want a plain error", err)
	}
}

func TestCheckProjectTreeRefusesALinkDeepInside(t *testing.T) {
	l := newLayout(t)
	data := filepath.Join(l.Databases, "neo4j")
	if err := workspace.EnsureProjectDir(l, filepath.Join(data, "data", "databases")); err != nil {
		t.Fatal(err)
	}
	if err := workspace.CheckProjectTree(l, data); err != nil {
		t.Fatalf("a clean tree: %v", err)
	}
	symlink(t, "/etc", filepath.Join(data, "data", "databases", "neo4j"))
	err := workspace.CheckProjectTree(l, data)
	refusal(t, err, ".task_orchestrator/databases/neo4j/data/databases/neo4j", "is a symbolic link inside a managed server's data folder")
}

func TestRemoveStaleTempsRemovesOnlyOldRegularTemporaryFiles(t *testing.T) {
	l := newLayout(t)
	if _, err := workspace.WriteArtifact(l, "t1", "report.md", []byte("kept"), 1<<20); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(l.Artifacts, "t1")
	old := time.Now().Add(-time.Hour)
	stale := filepath.Join(dir, ".tmp-STALE")
	live := filepath.Join(dir, ".tmp-LIVE")
	writeFile(t, stale, "half")
	writeFile(t, live, "being written")
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(tempDir(t), "victim")
	writeFile(t, outside, "x")
	if err := os.Chtimes(outside, old, old); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, ".tmp-LINK")
	symlink(t, outside, link)

	n, err := workspace.RemoveStaleTemps(l, workspace.StaleTempAge)
	if err != nil || n != 1 {
		t.Fatalf("RemoveStaleTemps = %d, %v; want 1, nil", n, err)
	}
	for p, want := range map[string]bool{stale: false, live: true, link: true, outside: true, filepath.Join(dir, "report.md"): true} {
		_, err := os.Lstat(p)
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v", p, got, want)
		}
	}
}

func TestEnsureRemovesStaleTemporaryArtifacts(t *testing.T) {
	l := newLayout(t)
	stale := filepath.Join(l.Artifacts, "t1", ".tmp-STALE")
	writeFile(t, stale, "half")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(l.Artifacts, "t1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := workspace.Ensure(l.Root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale temporary file still there: %v", err)
	}
}

func TestWriteArtifactRefusesAFIFOTarget(t *testing.T) {
	l := newLayout(t)
	if err := os.Mkdir(filepath.Join(l.Artifacts, "t1"), 0o700); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, filepath.Join(l.Artifacts, "t1", "report.md"))
	_, err := workspace.WriteArtifact(l, "t1", "report.md", []byte("x"), 1<<20)
	if !errors.Is(err, workspace.ErrUnsafeArtifactPath) {
		t.Fatalf("error = %v, want ErrUnsafeArtifactPath", err)
	}
}
