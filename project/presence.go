package project

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Presence: every server process that opens a project registers itself in
// .task_orchestrator/processes/<pid>.json (0600, opened without following
// links) and holds an exclusive flock on that file while the project is open,
// so status can tell which processes use the project. The file is removed on
// a clean close; a killed process's file stays, the kernel drops its lock, and
// the next process that opens the project removes it. Registration happens
// once per project open and once per backend opened, never per tool call.

// ProcessEntry is the content of one presence file.
type ProcessEntry struct {
	PID      int    `json:"pid"`
	PIDStart uint64 `json:"pid_start"` // /proc/PID/stat field 22
	BootID   string `json:"boot_id"`
	// Transport is how the process serves MCP: "stdio", or "http ADDR".
	Transport string `json:"transport,omitempty"`
	Opened    string `json:"opened"` // RFC 3339: when it opened the project
	// Backends are those it has opened for the project.
	Backends []string `json:"backends,omitempty"`
}

// ProcessesDir is the folder of a project's presence files.
func ProcessesDir(l workspace.Layout) string { return filepath.Join(l.Dir, "processes") }

const maxPresenceFile = 4 << 10

// presence is this process's registrations, by project root (a root evicted
// and reopened at once has two Projects for a moment: the file goes with the
// last). mu is held while a presence file is written or removed: only when a
// project or a backend opens or closes.
var presence struct {
	mu     sync.Mutex
	byRoot map[string]*registration
}

type registration struct {
	refs  int
	f     *os.File // holds the flock
	entry ProcessEntry
}

// announce registers p's process in p's presence file (the first time) and
// adds backend to it. A failure is logged, never returned: status is a view.
func (p *Project) announce(backend string) {
	presence.mu.Lock()
	defer presence.mu.Unlock()
	if presence.byRoot == nil {
		presence.byRoot = make(map[string]*registration)
	}
	root := p.root.Path
	reg := presence.byRoot[root]
	if reg == nil {
		e := ProcessEntry{PID: os.Getpid(), BootID: managed.BootID(), Transport: p.reg.cfg.Transport,
			Opened: time.Now().UTC().Format(time.RFC3339)}
		e.PIDStart, _ = managed.ProcessStart(e.PID)
		f, err := register(p.layout, e)
		if err != nil {
			p.reg.log.Warn("cannot register this server process in the project (status will not list it)", "workspace", root,
				"err", workspace.UnsafeFileMessage(err))
			return
		}
		reg = &registration{f: f, entry: e}
		presence.byRoot[root] = reg
	}
	if !p.present {
		p.present = true
		reg.refs++
	}
	if !slices.Contains(reg.entry.Backends, backend) {
		reg.entry.Backends = append(reg.entry.Backends, backend)
		if err := writeEntry(reg.f, reg.entry); err != nil {
			p.reg.log.Warn("cannot update this server process's presence file", "workspace", root, "err", err)
		}
	}
}

// withdraw removes p's registration; the file goes with the last Project of
// its root in this process.
func (p *Project) withdraw() {
	presence.mu.Lock()
	defer presence.mu.Unlock()
	if !p.present {
		return
	}
	p.present = false
	reg := presence.byRoot[p.root.Path]
	if reg == nil {
		return
	}
	if reg.refs--; reg.refs > 0 {
		return
	}
	delete(presence.byRoot, p.root.Path)
	// Remove before unlocking: no reader sees our file unlocked.
	if err := workspace.RemoveProjectFile(p.layout, entryPath(p.layout, reg.entry.PID)); err != nil {
		p.reg.log.Warn("cannot remove this server process's presence file", "workspace", p.root.Path, "err", err)
	}
	_ = reg.f.Close() // releases the flock
}

func entryPath(l workspace.Layout, pid int) string {
	return filepath.Join(ProcessesDir(l), strconv.Itoa(pid)+".json")
}

// register creates this process's presence file, locked, after removing the
// files of processes that ended without closing the project.
func register(l workspace.Layout, e ProcessEntry) (*os.File, error) {
	dir := ProcessesDir(l)
	if err := workspace.EnsureProjectDir(l, dir); err != nil {
		return nil, err
	}
	removeStale(l)
	f, err := workspace.OpenProjectFile(l, entryPath(l, e.PID), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// A status probe holds a shared lock for microseconds: retry briefly.
	for i := 0; ; i++ {
		ok, err := lockEntry(f)
		if err == nil && ok {
			break
		}
		if err != nil || i == 200 {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %v", entryPath(l, e.PID), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := writeEntry(f, e); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

func writeEntry(f *os.File, e ProcessEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(b)))
}

// removeStale removes the presence files of processes that ended without
// closing the project: files of ours (regular, 0600) that no process holds
// locked and whose pid is gone (or is another process now). Anything else is
// left alone.
func removeStale(l workspace.Layout) {
	names, _ := os.ReadDir(ProcessesDir(l))
	for i, n := range names {
		if i == 1000 {
			break
		}
		pid, ok := entryPID(n.Name())
		if !ok || pid == os.Getpid() {
			continue
		}
		if s := readEntry(l, n.Name()); s.stale {
			_ = workspace.RemoveProjectFile(l, entryPath(l, pid))
		}
	}
}

// entryPID reads the pid in a presence file's name ("<pid>.json").
func entryPID(name string) (int, bool) {
	s, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(s)
	return pid, err == nil && pid > 1 && strconv.Itoa(pid) == s
}

// ProcessStatus is one presence file as status shows it.
type ProcessStatus struct {
	ProcessEntry
	// Live: its process holds the file's lock and runs with the start time it recorded.
	Live bool `json:"live"`
	// Gone says why an entry of ours is not live (its process ended without closing the project).
	Gone string `json:"gone,omitempty"`
}

// IgnoredEntry is a file in the processes folder that status did not trust.
type IgnoredEntry struct {
	File string `json:"file"`
	Why  string `json:"why"`
}

type entryState struct {
	entry   ProcessEntry
	live    bool
	stale   bool   // ours, unlocked, its process gone: removable
	ignored string // why the file is not trusted
}

// readEntry reads and verifies one presence file. It is untrusted (a cloned
// repository may carry one): it must be a regular file (no link is followed),
// ours, mode 0600, name the pid of its file name, and be held locked by a
// process that runs with the recorded start time, this boot. Nothing it names
// is ever signalled.
func readEntry(l workspace.Layout, name string) entryState {
	pid, ok := entryPID(name)
	if !ok {
		return entryState{ignored: "not a presence file name (<pid>.json)"}
	}
	f, err := workspace.OpenProjectFile(l, entryPath(l, pid), os.O_RDONLY, 0)
	if err != nil {
		var ue *workspace.UnsafeFileError
		if errors.As(err, &ue) {
			return entryState{ignored: ue.Why}
		}
		return entryState{ignored: "cannot be read"}
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil || !fi.Mode().IsRegular():
		return entryState{ignored: "not a regular file"}
	case !ownedByUs(fi):
		return entryState{ignored: "belongs to another user"}
	case fi.Mode().Perm() != 0o600:
		return entryState{ignored: fmt.Sprintf("has mode %o, not 600 (not written by a server process)", fi.Mode().Perm())}
	}
	held, lockable := heldByAnother(f)
	var s entryState
	for try := 0; ; try++ { // a process may be writing it this very moment
		b, err := io.ReadAll(io.LimitReader(f, maxPresenceFile))
		s.entry = ProcessEntry{}
		if err == nil && json.Unmarshal(b, &s.entry) == nil {
			break
		}
		if try == 3 || !held {
			return entryState{ignored: "not valid JSON"}
		}
		time.Sleep(10 * time.Millisecond)
		_, _ = f.Seek(0, io.SeekStart)
	}
	e := s.entry
	if e.PID != pid {
		return entryState{ignored: fmt.Sprintf("names pid %d, not the pid of its name", e.PID)}
	}
	boot := managed.BootID()
	start, running := managed.ProcessStart(pid)
	same := running && e.BootID == boot && start == e.PIDStart
	if boot == "" { // no /proc here: the lock alone tells
		same = held
	}
	switch {
	case held && same:
		s.live = true
	case !held && lockable && !same:
		s.stale = true
	case !held && lockable:
		return entryState{ignored: fmt.Sprintf("pid %d runs but holds no lock on the file (not a server process of this project)", pid)}
	default:
		return entryState{ignored: fmt.Sprintf("locked, but pid %d is not the process that wrote it", pid)}
	}
	return s
}

// ReadProcesses lists the server processes registered in the project: the
// live ones, and the entries of processes that ended without closing it
// (Live false, Gone set); files it does not trust are returned as ignored.
// It only reads (and, on Unix, probes the files' locks for an instant).
func ReadProcesses(l workspace.Layout) ([]ProcessStatus, []IgnoredEntry, error) {
	// The folder must be a real folder (no link on the way or at its end).
	fi, err := workspace.CheckProjectFile(l, ProcessesDir(l))
	var ue *workspace.UnsafeFileError
	switch {
	case err == nil && fi == nil:
		return nil, nil, nil
	case err == nil:
		return nil, nil, &workspace.UnsafeFileError{Path: workspace.DirName + "/processes", Why: "is a file, not a folder", Dir: true}
	case !errors.As(err, &ue) || !strings.HasPrefix(ue.Why, "is a folder"):
		return nil, nil, err
	}
	names, err := os.ReadDir(ProcessesDir(l))
	if err != nil {
		return nil, nil, err
	}
	var out []ProcessStatus
	var ignored []IgnoredEntry
	for i, n := range names {
		if i == 1000 {
			ignored = append(ignored, IgnoredEntry{File: "…", Why: fmt.Sprintf("%d more files not read", len(names)-i)})
			break
		}
		rel := filepath.ToSlash(filepath.Join(workspace.DirName, "processes", n.Name()))
		s := readEntry(l, n.Name())
		switch {
		case s.ignored != "":
			ignored = append(ignored, IgnoredEntry{File: rel, Why: s.ignored})
		case s.live:
			out = append(out, ProcessStatus{ProcessEntry: s.entry, Live: true})
		default:
			out = append(out, ProcessStatus{ProcessEntry: s.entry,
				Gone: "ended without closing the project (killed?); its file is removed by the next process that opens the project"})
		}
	}
	return out, ignored, nil
}
