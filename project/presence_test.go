package project_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// A process that opens a project is listed as live, with what it opened,
// until the project closes; then its presence file is gone.
func TestOpeningAProjectRegistersTheProcessUntilItCloses(t *testing.T) {
	root := newRoot(t)
	r := newProjects(t, project.RegistryConfig{Transport: "stdio"})
	p, release := acquire(t, r, root)
	defer release()
	layout := workspace.LayoutFor(root.Path)
	if ps, _, _ := project.ReadProcesses(layout); len(ps) != 0 {
		t.Fatalf("a project with no backend open lists processes: %+v", ps)
	}
	if _, err := p.Tasks(context.Background()); err != nil {
		t.Fatal(err)
	}
	ps, ignored, err := project.ReadProcesses(layout)
	if err != nil || len(ignored) != 0 || len(ps) != 1 {
		t.Fatalf("ReadProcesses = %+v, ignored %+v, %v; want this process", ps, ignored, err)
	}
	e := ps[0]
	if !e.Live || e.PID != os.Getpid() || e.Transport != "stdio" || strings.Join(e.Backends, ",") != workspace.BackendOperational || e.Opened == "" {
		t.Fatalf("entry %+v", e)
	}
	fi, err := os.Lstat(filepath.Join(project.ProcessesDir(layout), strconv.Itoa(os.Getpid())+".json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("presence file: %v, %v; want mode 600", fi, err)
	}
	release()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ps, _, _ := project.ReadProcesses(layout); len(ps) != 0 {
		t.Fatalf("after Close: %+v", ps)
	}
	if _, err := os.Lstat(filepath.Join(project.ProcessesDir(layout), strconv.Itoa(os.Getpid())+".json")); !os.IsNotExist(err) {
		t.Fatalf("the presence file outlived Close: %v", err)
	}
}

// Planted presence files (a link, a 0644 file, a file naming another live
// program) are ignored with a reason and left alone, and that program is not
// signalled; the file of a process that ended is shown as gone and removed by
// the next process that opens the project.
func TestPresenceIgnoresPlantedFilesAndCleansStaleOnes(t *testing.T) {
	root := newRoot(t)
	layout, err := workspace.Ensure(root.Path)
	if err != nil {
		t.Fatal(err)
	}
	dir := project.ProcessesDir(layout)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	entry := func(pid int) []byte {
		start, _ := managed.ProcessStart(pid)
		b, _ := json.Marshal(project.ProcessEntry{PID: pid, PIDStart: start, BootID: managed.BootID(), Transport: "stdio", Opened: "2026-12-04T10:00:00Z"})
		return b
	}
	sp := sleep.Process.Pid
	write := func(name string, b []byte, perm os.FileMode) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(t.TempDir(), "target.json")
	if err := os.WriteFile(target, entry(sp), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "2.json")); err != nil {
		t.Fatal(err)
	}
	write("3.json", entry(3), 0o644)
	write(strconv.Itoa(sp)+".json", entry(sp), 0o600) // a live program, but it holds no lock
	write(strconv.Itoa(ended.Process.Pid)+".json", entry(ended.Process.Pid), 0o600)

	ps, ignored, err := project.ReadProcesses(layout)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Live || ps[0].PID != ended.Process.Pid || ps[0].Gone == "" {
		t.Fatalf("processes %+v; want only the ended one, as gone", ps)
	}
	why := map[string]string{}
	for _, i := range ignored {
		why[filepath.Base(i.File)] = i.Why
	}
	for name, want := range map[string]string{"2.json": "link", "3.json": "mode 644", strconv.Itoa(sp) + ".json": "holds no lock"} {
		if !strings.Contains(why[name], want) {
			t.Errorf("%s: ignored because %q, want %q (all: %+v)", name, why[name], want, ignored)
		}
	}

	r := newProjects(t, project.RegistryConfig{})
	p, release := acquire(t, r, root)
	defer release()
	if _, err := p.Tasks(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, strconv.Itoa(ended.Process.Pid)+".json")); !os.IsNotExist(err) {
		t.Errorf("the ended process's file was not removed by the next opener: %v", err)
	}
	for _, name := range []string{"2.json", "3.json", strconv.Itoa(sp) + ".json"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s was not left alone: %v", name, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != string(entry(sp)) {
		t.Errorf("the link's target was changed")
	}
	if st, ok := managed.ProcessStart(sp); !ok || st == 0 {
		t.Errorf("sleep %d is no longer running", sp)
	}
}

// A processes folder planted as a link is never written through: the task
// store still opens (registration is only for status), nothing appears at the
// link's target, and ReadProcesses refuses the folder with a sentence.
func TestPresenceRefusesALinkedProcessesFolder(t *testing.T) {
	root := newRoot(t)
	layout, err := workspace.Ensure(root.Path)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, project.ProcessesDir(layout)); err != nil {
		t.Fatal(err)
	}
	r := newProjects(t, project.RegistryConfig{})
	p, release := acquire(t, r, root)
	defer release()
	if _, err := p.Tasks(context.Background()); err != nil {
		t.Fatalf("a linked processes folder stopped the task store: %v", err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("%d files written through the link", len(entries))
	}
	_, _, err = project.ReadProcesses(layout)
	if err == nil || !strings.Contains(err.Error(), ".task_orchestrator/processes is a symbolic link") {
		t.Errorf("ReadProcesses of a linked folder: %v", err)
	}
}
