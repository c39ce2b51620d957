package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
