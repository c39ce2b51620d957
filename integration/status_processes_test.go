package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// statusProcesses is what status --workspace --json says of a project's
// server processes and managed servers.
type statusProcesses struct {
	Workspaces []struct {
		Processes []struct {
			PID       int      `json:"pid"`
			Live      bool     `json:"live"`
			Gone      string   `json:"gone"`
			Transport string   `json:"transport"`
			Backends  []string `json:"backends"`
			Owns      []string `json:"owns"`
		} `json:"processes"`
		Ignored []struct {
			File string `json:"file"`
			Why  string `json:"why"`
		} `json:"ignored_process_files"`
		Managed []struct {
			Kind       string `json:"kind"`
			PID        int    `json:"pid"`
			OwnerPID   int    `json:"owner_pid"`
			OwnerAlive bool   `json:"owner_alive"`
			Ignored    string `json:"ignored"`
		} `json:"managed_servers"`
	} `json:"workspaces"`
}

func readStatusProcesses(t *testing.T, project string) (statusProcesses, string) {
	t.Helper()
	out, stderr, code := runCLI(t, project, nil, "status", "--workspace", project, "--json")
	var s statusProcesses
	if err := json.Unmarshal([]byte(out), &s); err != nil || len(s.Workspaces) != 1 {
		t.Fatalf("status --json (exit %d): %v\n%s\n%s", code, err, out, stderr)
	}
	return s, out
}

func livePIDs(s statusProcesses) []int {
	var pids []int
	for _, p := range s.Workspaces[0].Processes {
		if p.Live {
			pids = append(pids, p.PID)
		}
	}
	slices.Sort(pids)
	return pids
}

// Two real server processes on one project: status --workspace lists both,
// says which owns the managed Chroma, stops listing a SIGKILLed one as live,
// and ignores planted presence files (a link, a 0644 file, the pid of another
// program) without signalling that program.
func TestStatusListsTheServerProcessesOfAProjectAndTheOwnerOfItsChroma(t *testing.T) {
	project := newProject(t)
	env := managedEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	a := start(t, procOpts{dir: project, env: env})
	a.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "from a"}, nil)
	doc := func(id string) map[string]any {
		return map[string]any{"workspace": project, "collection": "notes",
			"documents": []map[string]any{{"id": id, "text": "note " + id}}}
	}
	a.ok(ctx, "vector_upsert", doc("a"), nil) // a starts the managed Chroma and owns it
	b := start(t, procOpts{dir: project, env: env})
	b.ok(ctx, "task_list", map[string]any{"workspace": project, "limit": 1}, nil)
	b.ok(ctx, "vector_upsert", doc("b"), nil) // b attaches to it
	pa, pb := a.cmd.Process.Pid, b.cmd.Process.Pid

	// Planted entries.
	dir := filepath.Join(project, ".task_orchestrator", "processes")
	if err := os.MkdirAll(dir, 0o700); err != nil { // made by the server itself on this branch
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	sp := sleep.Process.Pid
	entry := func(pid int) []byte {
		return fmt.Appendf(nil, `{"pid": %d, "pid_start": %d, "boot_id": %q, "transport": "stdio", "opened": "2026-12-04T10:00:00Z"}`,
			pid, procStart(t, pid), bootID(t))
	}
	elsewhere := filepath.Join(t.TempDir(), "entry.json")
	if err := os.WriteFile(elsewhere, entry(sp), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, "2.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "3.json"), entry(sp), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "3.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(sp)+".json"), entry(sp), 0o600); err != nil {
		t.Fatal(err)
	}

	s, out := readStatusProcesses(t, project)
	if got, want := livePIDs(s), []int{min(pa, pb), max(pa, pb)}; !slices.Equal(got, want) {
		t.Fatalf("live server processes %v, want %v (a and b)\n%s", got, want, out)
	}
	ws := s.Workspaces[0]
	for _, p := range ws.Processes {
		if !slices.Contains(p.Backends, "vector") || !slices.Contains(p.Backends, "operational") {
			t.Errorf("pid %d: backends %v, want operational and vector", p.PID, p.Backends)
		}
		if !overHTTP && p.Transport != "stdio" {
			t.Errorf("pid %d: transport %q, want stdio", p.PID, p.Transport)
		}
		if owns := strings.Join(p.Owns, ","); (p.PID == pa) != (owns == "chroma") {
			t.Errorf("pid %d owns %q; a (%d) owns chroma, b nothing", p.PID, owns, pa)
		}
	}
	if len(ws.Managed) != 1 || ws.Managed[0].Kind != "chroma" || ws.Managed[0].OwnerPID != pa || !ws.Managed[0].OwnerAlive || ws.Managed[0].PID <= 0 {
		t.Errorf("managed servers %+v, want chroma owned by a (%d)", ws.Managed, pa)
	}
	why := map[string]string{}
	for _, i := range ws.Ignored {
		why[filepath.Base(i.File)] = i.Why
	}
	for name, want := range map[string]string{"2.json": "link", "3.json": "mode 644", strconv.Itoa(sp) + ".json": "holds no lock"} {
		if !strings.Contains(why[name], want) {
			t.Errorf("planted %s: ignored because %q, want %q\n%s", name, why[name], want, out)
		}
	}
	text, _, _ := runCLI(t, project, nil, "status", "--workspace", project, "--width", "120")
	for _, want := range []string{"server processes on this project: 2 running",
		fmt.Sprintf("managed chroma: pid %d", ws.Managed[0].PID), fmt.Sprintf("owned by server process %d", pa)} {
		if !strings.Contains(text, want) {
			t.Errorf("status text lacks %q:\n%s", want, text)
		}
	}

	// SIGKILL b: it is no longer listed as live.
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return !procAlive(pb) }, "the killed process to be gone")
	s, out = readStatusProcesses(t, project)
	if got := livePIDs(s); !slices.Equal(got, []int{pa}) {
		t.Fatalf("after SIGKILL of %d: live %v, want only %d\n%s", pb, got, pa, out)
	}
	if st := procStart(t, sp); st == 0 {
		t.Errorf("the planted pid's program (sleep %d) is no longer running", sp)
	}
	if strings.Contains(strings.ToLower(out), "secret") {
		t.Errorf("status --json shows a secret field:\n%s", out)
	}
}

// procStart is field 22 of /proc/PID/stat (0 when pid is not running).
func procStart(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

func bootID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
