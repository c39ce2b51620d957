package workspace_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func artifactFiles(t *testing.T) workspace.ArtifactFiles {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	layout, err := workspace.Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	return workspace.ArtifactFiles{Layout: layout, MaxBytes: 1 << 10}
}

func TestArtifactFilesWriteReadAndRemove(t *testing.T) {
	af := artifactFiles(t)
	rec, err := af.Write("tsk_1", "notes.md", []byte("0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Path != ".task_orchestrator/artifacts/tsk_1/notes.md" || rec.Size != 10 || len(rec.SHA256) != 64 || rec.CreatedAt.IsZero() {
		t.Fatalf("record %+v", rec)
	}
	if fi, err := os.Stat(filepath.Join(af.Layout.Artifacts, "tsk_1", "notes.md")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, %v", fi, err)
	}
	for _, c := range []struct {
		offset, length int64
		want           string
	}{{0, 0, "0123456789"}, {3, 4, "3456"}, {8, 100, "89"}, {10, 1, ""}, {50, 0, ""}} {
		data, total, err := af.Read("tsk_1", "notes.md", c.offset, c.length)
		if err != nil || string(data) != c.want || total != 10 {
			t.Errorf("Read(%d, %d) = %q of %d, %v; want %q", c.offset, c.length, data, total, err, c.want)
		}
	}
	if ok, err := af.Exists("tsk_1", "notes.md"); !ok || err != nil {
		t.Fatalf("Exists after Write: %v, %v", ok, err)
	}
	if _, err := af.Write("tsk_1", "notes.md", []byte("again")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("a second Write of the name: %v; want fs.ErrExist", err)
	}
	if err := af.Remove(rec); err != nil {
		t.Fatal(err)
	}
	if ok, _ := af.Exists("tsk_1", "notes.md"); ok {
		t.Fatal("the artifact is still there after Remove")
	}
	if err := af.Remove(rec); err != nil {
		t.Fatalf("removing a file already gone: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(af.Layout.Artifacts, "tsk_1"))
	if len(ents) != 0 {
		t.Fatalf("left in the task folder: %v (temporary files must not stay)", ents)
	}
}

func TestArtifactFilesRefuseLinks(t *testing.T) {
	af := artifactFiles(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(af.Layout.Artifacts, "tsk_1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link.md")); err != nil {
		t.Fatal(err)
	}
	if data, _, err := af.Read("tsk_1", "link.md", 0, 0); !errors.Is(err, workspace.ErrUnsafeFile) {
		t.Fatalf("Read through a link: %q, %v; want an unsafe-file refusal", data, err)
	}
	if ok, err := af.Exists("tsk_1", "link.md"); !ok || err != nil {
		t.Fatalf("a link counts as an existing name (never replaced): %v, %v", ok, err)
	}
	// A linked task folder is refused too.
	if err := os.Symlink(t.TempDir(), filepath.Join(af.Layout.Artifacts, "tsk_2")); err != nil {
		t.Fatal(err)
	}
	if _, err := af.Write("tsk_2", "a.md", []byte("x")); !errors.Is(err, workspace.ErrUnsafeArtifactPath) {
		t.Fatalf("Write into a linked task folder: %v", err)
	}
	if _, _, err := af.Read("tsk_2", "a.md", 0, 0); !errors.Is(err, workspace.ErrUnsafeFile) {
		t.Fatalf("Read from a linked task folder: %v", err)
	}
}

func TestArtifactFilesRefuseBadNamesAndOversizedContent(t *testing.T) {
	af := artifactFiles(t)
	if _, err := af.Write("tsk_1", "../x", []byte("x")); !errors.Is(err, workspace.ErrBadArtifactName) {
		t.Fatalf("a name with a slash: %v", err)
	}
	if _, _, err := af.Read("../tsk", "a.md", 0, 0); !errors.Is(err, workspace.ErrBadTaskID) {
		t.Fatalf("a bad task id: %v", err)
	}
	if _, err := af.Write("tsk_1", "big.bin", make([]byte, 2<<10)); !errors.Is(err, workspace.ErrArtifactTooLarge) {
		t.Fatalf("content over MaxBytes: %v", err)
	}
}
