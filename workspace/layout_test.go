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

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func layoutDirs(l workspace.Layout) []string {
	return []string{l.Dir, l.Databases, l.Artifacts, l.Configs, l.Logs}
}

// withUmask runs f under umask mask. The umask is process-wide, so tests
// using it must not be parallel.
func withUmask(t *testing.T, mask int, f func()) {
	t.Helper()
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

func TestLayoutForPlacesEverythingUnderDotTaskOrchestrator(t *testing.T) {
	l := workspace.LayoutFor("/p")
	want := workspace.Layout{Root: "/p", Dir: "/p/.task_orchestrator", Databases: "/p/.task_orchestrator/databases",
		Artifacts: "/p/.task_orchestrator/artifacts", Configs: "/p/.task_orchestrator/configs", Logs: "/p/.task_orchestrator/logs"}
	if l != want {
		t.Fatalf("LayoutFor = %+v, want %+v", l, want)
	}
}

func TestEnsureCreatesEveryFolderWithMode0700WhateverTheUmask(t *testing.T) {
	for _, mask := range []int{0o022, 0o277, 0o000} {
		withUmask(t, mask, func() {
			root := tempDir(t)
			l, err := workspace.Ensure(root)
			if err != nil {
				t.Fatalf("umask %04o: %v", mask, err)
			}
			for _, d := range layoutDirs(l) {
				fi, err := os.Lstat(d)
				if err != nil {
					t.Fatal(err)
				}
				if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
					t.Fatalf("umask %04o: %s mode %v, want a 0700 folder", mask, d, fi.Mode())
				}
			}
		})
	}
}

func TestEnsureIsIdempotentAndKeepsExistingData(t *testing.T) {
	root := tempDir(t)
	l, err := workspace.Ensure(root)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(l.Databases, "tasks.db"), "data")
	if _, err := workspace.Ensure(root); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(l.Databases, "tasks.db")); err != nil || string(b) != "data" {
		t.Fatalf("existing data changed: %q, %v", b, err)
	}
}

func TestValidateRejectsASymlinkedSubfolder(t *testing.T) {
	root, outside := tempDir(t), tempDir(t)
	l, err := workspace.Ensure(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(l.Logs); err != nil {
		t.Fatal(err)
	}
	symlink(t, outside, l.Logs)
	err = l.Validate()
	if !errors.Is(err, workspace.ErrBadLayout) || !strings.Contains(err.Error(), l.Logs) || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("Validate error = %v, want ErrBadLayout naming %s as a symlink", err, l.Logs)
	}
	if _, err := workspace.Ensure(root); !errors.Is(err, workspace.ErrBadLayout) {
		t.Fatalf("Ensure over a symlinked subfolder: error = %v, want ErrBadLayout", err)
	}
}

func TestEnsureNeverCreatesOrChmodsThroughASymlinkedDataFolder(t *testing.T) {
	root, outside := tempDir(t), tempDir(t)
	if err := os.Chmod(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, outside, filepath.Join(root, workspace.DirName))
	if _, err := workspace.Ensure(root); !errors.Is(err, workspace.ErrBadLayout) {
		t.Fatalf("Ensure error = %v, want ErrBadLayout", err)
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("Ensure created %v in the symlink's target", entries)
	}
	if fi, _ := os.Stat(outside); fi.Mode().Perm() != 0o755 {
		t.Fatalf("Ensure chmodded the symlink's target to %v", fi.Mode().Perm())
	}
}

func TestValidateReportsEveryProblemWithTheFix(t *testing.T) {
	root := tempDir(t)
	l, err := workspace.Ensure(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(l.Configs, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(l.Logs); err != nil {
		t.Fatal(err)
	}
	writeFile(t, l.Logs, "not a folder")
	err = l.Validate()
	if !errors.Is(err, workspace.ErrBadLayout) {
		t.Fatalf("Validate error = %v, want ErrBadLayout", err)
	}
	msg := err.Error()
	for _, want := range []string{l.Configs, "writable by group or others", "chmod 700 " + l.Configs, l.Logs, "not a folder"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("Validate error %q does not mention %q", msg, want)
		}
	}
}

func TestValidateReportsAMissingFolder(t *testing.T) {
	l := workspace.LayoutFor(tempDir(t))
	if err := l.Validate(); !errors.Is(err, workspace.ErrBadLayout) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Validate of an absent layout: %v, want ErrBadLayout and fs.ErrNotExist", err)
	}
}

func TestValidateRejectsAFolderOwnedBySomeoneElse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	root := tempDir(t)
	l, err := workspace.Ensure(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(l.Artifacts, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	if err := l.Validate(); !errors.Is(err, workspace.ErrBadLayout) || !strings.Contains(err.Error(), "user id 4242") {
		t.Fatalf("Validate error = %v, want ErrBadLayout naming owner 4242", err)
	}
}

func TestEnsureRefusesAMissingRoot(t *testing.T) {
	root := filepath.Join(tempDir(t), "gone")
	if _, err := workspace.Ensure(root); !errors.Is(err, workspace.ErrBadLayout) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Ensure(missing) error = %v, want ErrBadLayout wrapping fs.ErrNotExist", err)
	}
	if _, err := os.Lstat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Ensure created the missing root")
	}
}

func TestWriteArtifactModesIgnoreTheUmask(t *testing.T) {
	withUmask(t, 0o277, func() {
		l, err := workspace.Ensure(tempDir(t))
		if err != nil {
			t.Fatal(err)
		}
		a, err := workspace.WriteArtifact(l, "T1", "out.txt", []byte("x"), 10)
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]fs.FileMode{a.Path: 0o600, filepath.Dir(a.Path): 0o700} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Fatalf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
			}
		}
	})
}
