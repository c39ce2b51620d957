package workspace_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func TestSanitizeArtifactName(t *testing.T) {
	tests := []struct {
		name     string
		wantRule string // "" = accepted unchanged
	}{
		{"report.md", ""},
		{"final report (v2).txt", ""},
		{"résumé-日本語.pdf", ""},
		{"a..b", ""},
		{"x.", ""},
		{strings.Repeat("n", 255), ""},
		{"../x", `contains / or \`},
		{"/etc/passwd", `contains / or \`},
		{"a/b", `contains / or \`},
		{`a\b`, `contains / or \`},
		{"..", "is not a file name"},
		{".", "is not a file name"},
		{".hidden", `starts with "."`},
		{"a\x00b", "control character"},
		{"line\nbreak", "control character"},
		{"del\x7f", "control character"},
		{"c1\u0085", "control character"},
		{"bad\xffutf8", "not valid UTF-8"},
		{"", "is empty"},
		{strings.Repeat("n", 300), "300 bytes long, over the 255-byte limit"},
	}
	for _, tt := range tests {
		got, err := workspace.SanitizeArtifactName(tt.name)
		if tt.wantRule == "" {
			if err != nil || got != tt.name {
				t.Errorf("SanitizeArtifactName(%q) = %q, %v; want it accepted unchanged", tt.name, got, err)
			}
			continue
		}
		if !errors.Is(err, workspace.ErrBadArtifactName) {
			t.Errorf("SanitizeArtifactName(%q) error = %v, want ErrBadArtifactName", tt.name, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tt.wantRule) || !strings.Contains(msg, `such as "report.md"`) {
			t.Errorf("SanitizeArtifactName(%q) error %q should say %q and give an example", tt.name, msg, tt.wantRule)
		}
		if got != "" {
			t.Errorf("SanitizeArtifactName(%q) returned %q with an error", tt.name, got)
		}
	}
}

func newLayout(t testing.TB) workspace.Layout {
	t.Helper()
	l, err := workspace.Ensure(tempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestWriteArtifactStoresTheContent(t *testing.T) {
	l := newLayout(t)
	content := []byte("# Result\nall good\n")
	a, err := workspace.WriteArtifact(l, "task_01-A", "result.md", content, 1024)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	want := workspace.Artifact{Name: "result.md", Path: filepath.Join(l.Artifacts, "task_01-A", "result.md"), Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
	if a != want {
		t.Fatalf("WriteArtifact = %+v, want %+v", a, want)
	}
	if b, err := os.ReadFile(a.Path); err != nil || string(b) != string(content) {
		t.Fatalf("file holds %q, %v", b, err)
	}
	if fi, _ := os.Stat(a.Path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Dir(a.Path)); fi.Mode().Perm() != 0o700 {
		t.Fatalf("task folder mode %v, want 0700", fi.Mode().Perm())
	}
}

func TestWriteArtifactRejectsBadNamesAndTaskIDs(t *testing.T) {
	l := newLayout(t)
	for _, name := range []string{"../escape", "/etc/passwd", ".hidden"} {
		if _, err := workspace.WriteArtifact(l, "T1", name, []byte("x"), 10); !errors.Is(err, workspace.ErrBadArtifactName) {
			t.Errorf("name %q: error = %v, want ErrBadArtifactName", name, err)
		}
	}
	for _, id := range []string{"", "..", "../T1", "a/b", "sp ace", "ünï", strings.Repeat("x", 65)} {
		if _, err := workspace.WriteArtifact(l, id, "ok.txt", []byte("x"), 10); !errors.Is(err, workspace.ErrBadTaskID) {
			t.Errorf("task id %q: error = %v, want ErrBadTaskID", id, err)
		}
	}
	if _, err := workspace.WriteArtifact(l, strings.Repeat("x", 64), "ok.txt", []byte("x"), 10); err != nil {
		t.Errorf("64-character task id rejected: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(l.Root))
	if len(entries) != 1 {
		t.Fatalf("something was written beside the project: %v", entries)
	}
}

func TestWriteArtifactRefusesContentOverTheLimit(t *testing.T) {
	l := newLayout(t)
	_, err := workspace.WriteArtifact(l, "T1", "big.bin", make([]byte, 101), 100)
	if !errors.Is(err, workspace.ErrArtifactTooLarge) {
		t.Fatalf("error = %v, want ErrArtifactTooLarge", err)
	}
	for _, s := range []string{"101 bytes", "limit of 100 bytes", "security.max_artifact_bytes"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not mention %q", err, s)
		}
	}
	if _, err := os.Lstat(filepath.Join(l.Artifacts, "T1")); err == nil {
		t.Fatal("a refused artifact still created its task folder")
	}
	if _, err := workspace.WriteArtifact(l, "T1", "exact.bin", make([]byte, 100), 100); err != nil {
		t.Fatalf("content exactly at the limit: %v", err)
	}
}

func TestWriteArtifactRefusesASymlinkedTaskFolder(t *testing.T) {
	l := newLayout(t)
	outside := tempDir(t)
	symlink(t, outside, filepath.Join(l.Artifacts, "T1"))
	_, err := workspace.WriteArtifact(l, "T1", "loot.txt", []byte("x"), 10)
	if !errors.Is(err, workspace.ErrUnsafeArtifactPath) || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("error = %v, want ErrUnsafeArtifactPath about a symlink", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("wrote %v outside the project", entries)
	}
}

func TestWriteArtifactRefusesASymlinkedTarget(t *testing.T) {
	l := newLayout(t)
	victim := filepath.Join(tempDir(t), "victim.txt")
	writeFile(t, victim, "original")
	mkdirs(t, l.Artifacts, "T1")
	symlink(t, victim, filepath.Join(l.Artifacts, "T1", "out.txt"))
	_, err := workspace.WriteArtifact(l, "T1", "out.txt", []byte("overwritten"), 100)
	if !errors.Is(err, workspace.ErrUnsafeArtifactPath) {
		t.Fatalf("error = %v, want ErrUnsafeArtifactPath", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "original" {
		t.Fatalf("symlink target changed to %q", b)
	}
}

func TestWriteArtifactRefusesASymlinkedArtifactsFolder(t *testing.T) {
	l := newLayout(t)
	outside := tempDir(t)
	if err := os.Remove(l.Artifacts); err != nil {
		t.Fatal(err)
	}
	symlink(t, outside, l.Artifacts)
	if _, err := workspace.WriteArtifact(l, "T1", "out.txt", []byte("x"), 10); !errors.Is(err, workspace.ErrUnsafeArtifactPath) {
		t.Fatalf("error = %v, want ErrUnsafeArtifactPath", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("wrote %v outside the project", entries)
	}
}

func TestWriteArtifactReplacesAnEarlierVersionAtomically(t *testing.T) {
	l := newLayout(t)
	first, err := workspace.WriteArtifact(l, "T1", "plan.md", []byte("version one"), 100)
	if err != nil {
		t.Fatal(err)
	}
	// A reader holding the old file sees it whole: the new version arrives by rename, not by rewriting in place.
	reader, err := os.Open(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	second, err := workspace.WriteArtifact(l, "T1", "plan.md", []byte("v2"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if old, _ := io.ReadAll(reader); string(old) != "version one" {
		t.Fatalf("open reader saw %q: the file was rewritten in place", old)
	}
	if b, _ := os.ReadFile(second.Path); string(b) != "v2" || second.Size != 2 || second.SHA256 == first.SHA256 {
		t.Fatalf("after replace: %q, %+v", b, second)
	}
	entries, err := os.ReadDir(filepath.Dir(second.Path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "plan.md" {
		t.Fatalf("task folder holds %v, want only plan.md (no temporary files)", entries)
	}
}

func BenchmarkWriteArtifact4KiB(b *testing.B) {
	l := newLayout(b)
	content := make([]byte, 4096)
	for b.Loop() {
		if _, err := workspace.WriteArtifact(l, "T1", "out.bin", content, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}
