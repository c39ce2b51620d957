package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

func busySnapshot() Snapshot {
	long := "/home/someone/work/" + strings.Repeat("very-long-folder-name/", 6) + "project"
	return Snapshot{
		Source: "http://127.0.0.1:8765/mcp", Taken: time.Date(2026, 11, 27, 9, 1, 2, 0, time.UTC),
		Workspaces: []WorkspaceStatus{{Root: long, Open: true, Pools: []tools.PoolView{
			{Name: "sqlite.writer", State: "healthy", Total: 1, InUse: 1, Max: 1, Waiting: 31, Acquires: 1234567, Timeouts: 12},
			{Name: "sqlite.readers", State: "degraded", Total: 5, InUse: 3, Idle: 2, Max: 8, Acquires: 99, LastError: "a\x1b[2Jvery " + strings.Repeat("long ", 30)},
			{Name: "chroma", State: "healthy", Total: 12, InUse: 12, Max: 10, OverflowInUse: 2, Acquires: 5},
			{Name: "neo4j", State: "not configured", Note: "the graph tools are not configured: set NEO4J_URI " + strings.Repeat("and more ", 10)},
		}, Mirrors: []map[string]any{{"name": "chroma", "state": "healthy", "lag_seconds": 1.5, "pending": 3}}}},
	}
}

// Every line fits the width, the table has its header, and control
// characters in an error text never reach the terminal.
func TestRenderFitsTheWidth(t *testing.T) {
	for _, width := range []int{80, 100, 60} {
		lines := render(busySnapshot(), width, 2*time.Second)
		text := strings.Join(lines, "\n")
		for i, l := range lines {
			if n := utf8.RuneCountInString(l); n > width {
				t.Errorf("width %d: line %d has %d columns: %q", width, i, n, l)
			}
		}
		for _, want := range []string{"POOL", "STATE", "IN/IDLE/MAX", "sqlite.writer", "every 2s", "MIRROR", "lag_seconds=1.5", "folder-name/project (pools open)"} {
			if !strings.Contains(text, want) {
				t.Errorf("width %d: %q missing from\n%s", width, want, text)
			}
		}
		if strings.ContainsRune(text, 0x1b) {
			t.Errorf("width %d: an escape character from the data reached the output", width)
		}
	}
}

func TestUsageBarShowsBusyIdleFreeAndOverflow(t *testing.T) {
	cases := []struct {
		p    tools.PoolView
		want string
	}{
		{tools.PoolView{InUse: 0, Idle: 0, Max: 10}, "[..........]"},
		{tools.PoolView{InUse: 3, Idle: 2, Max: 10}, "[###--.....]"},
		{tools.PoolView{InUse: 1, Idle: 0, Max: 100}, "[#.........]"}, // one busy connection stays visible
		{tools.PoolView{InUse: 1, Idle: 0, Max: 1}, "[##########]"},
		{tools.PoolView{InUse: 12, Idle: 0, Max: 10}, "[#########+]"},
	}
	for _, c := range cases {
		if got := usageBar(c.p, 10); got != c.want {
			t.Errorf("%d busy %d idle of %d: %s, want %s", c.p.InUse, c.p.Idle, c.p.Max, got, c.want)
		}
	}
}

func TestCompactFitsItsColumn(t *testing.T) {
	for n, want := range map[int64]string{7: "7", 12345: "12345", 1234567: "1.2M", 123456789: "123M"} {
		if got := compact(n, 5); got != want {
			t.Errorf("compact(%d, 5) = %q, want %q", n, got, want)
		}
	}
}

// pool_status's mirrors section is read as a list or as one object per name,
// and an unexpected shape leaves the pools readable.
func TestMirrorListReadsEitherShape(t *testing.T) {
	for doc, want := range map[string]string{
		`{"mirrors": [{"name": "neo4j", "state": "healthy", "lag_ms": 40}]}`:     "lag_ms=40",
		`{"mirrors": {"chroma": {"state": "behind", "lag_seconds": 12}}}`:        "lag_seconds=12",
		`{"mirrors": "not what status expects", "workspaces": [{"root": "/p"}]}`: "",
	} {
		var wire struct {
			Mirrors    MirrorList        `json:"mirrors"`
			Workspaces []WorkspaceStatus `json:"workspaces"`
		}
		if err := json.Unmarshal([]byte(doc), &wire); err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		text := strings.Join(render(Snapshot{Mirrors: wire.Mirrors}, 80, 0), "\n")
		if want != "" && (!strings.Contains(text, want) || !strings.Contains(text, "MIRROR")) {
			t.Errorf("%s rendered as\n%s", doc, text)
		}
		if want == "" && strings.Contains(text, "MIRROR") {
			t.Errorf("%s: an unreadable mirrors section was rendered", doc)
		}
	}
}

// status --workspace lists the live server processes, marks the owner of each
// managed server, shows gone and ignored entries, and never a secret.
func TestRenderListsProcessesAndOwners(t *testing.T) {
	live := func(pid int, backends ...string) project.ProcessStatus {
		return project.ProcessStatus{Live: true, ProcessEntry: project.ProcessEntry{PID: pid, Transport: "stdio", Opened: "2026-12-04T10:00:00Z", Backends: backends}}
	}
	ws := WorkspaceStatus{Root: "/p", FromFiles: true,
		Processes: []ProcessView{
			{ProcessStatus: live(4100, "operational", "vector"), Owns: []string{"chroma"}},
			{ProcessStatus: live(4200, "operational")},
			{ProcessStatus: project.ProcessStatus{ProcessEntry: project.ProcessEntry{PID: 4300}, Gone: "ended without closing the project (killed?)"}},
		},
		ManagedServers: []ManagedView{
			{Announcement: managed.Announcement{Kind: "chroma", PID: 5100, Port: 41234, OwnerPID: 4100, OwnerAlive: true}},
			{Announcement: managed.Announcement{Kind: "neo4j"}, Ignored: "the discovery file has mode 644, not 600"},
		},
		IgnoredProcessFiles: []project.IgnoredEntry{{File: ".task_orchestrator/processes/2.json", Why: "is a symbolic link"}},
	}
	text := strings.Join(render(Snapshot{Workspaces: []WorkspaceStatus{ws}}, 100, 0), "\n")
	for _, want := range []string{
		"server processes on this project: 2 running",
		"4100", "operational,vector", "chroma",
		"pid 4300: gone",
		"managed chroma: pid 5100 on 127.0.0.1:41234, owned by server process 4100",
		"managed neo4j: announcement ignored: the discovery file has mode 644",
		"ignored .task_orchestrator/processes/2.json: is a symbolic link",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("%q missing from\n%s", want, text)
		}
	}
	var owner string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "4100 ") {
			owner = l
		}
		if strings.HasPrefix(strings.TrimSpace(l), "4200 ") && strings.HasSuffix(l, "chroma") {
			t.Errorf("pid 4200 shown as an owner: %q", l)
		}
	}
	if !strings.HasSuffix(owner, "chroma") {
		t.Errorf("the owner's row %q does not say it owns chroma", owner)
	}
	b, _ := json.Marshal(ws)
	for _, key := range []string{`"processes"`, `"owns":["chroma"]`, `"owner_pid":4100`, `"managed_servers"`, `"ignored_process_files"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("--json lacks %s: %s", key, b)
		}
	}
	if strings.Contains(string(b), "secret") {
		t.Errorf("--json has a secret field: %s", b)
	}
	none := strings.Join(render(Snapshot{Workspaces: []WorkspaceStatus{{Root: "/p", FromFiles: true}}}, 80, 0), "\n")
	if !strings.Contains(none, "server processes on this project: none running") {
		t.Errorf("no processes rendered as\n%s", none)
	}
}
