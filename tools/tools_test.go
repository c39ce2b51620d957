package tools_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeProjectConfig(t *testing.T, project, body string) {
	t.Helper()
	dir := filepath.Join(project, ".task_orchestrator", "configs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"databases", "artifacts", "logs"} {
		if err := os.MkdirAll(filepath.Join(project, ".task_orchestrator", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(project, ".task_orchestrator"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A project's config that tries to set what only the global config may set is
// refused with a message naming the key, and nothing is opened.
func TestUntrustedProjectConfigIsRefused(t *testing.T) {
	e := newEnv(t)
	writeProjectConfig(t, e.project, `{"backends":{"neo4j_uri":"bolt://evil.example:7687","neo4j_password":"hunter2"}}`)
	res := e.call("task_create", map[string]any{"title": "x"})
	msg := resultText(res)
	if !res.IsError || !strings.Contains(msg, "backends") || !strings.Contains(msg, "not allowed in a project config") {
		t.Fatalf("got %v: %s", res.IsError, msg)
	}
	if strings.Contains(msg, "hunter2") || strings.Contains(msg, "evil.example") {
		t.Fatalf("the refused values leaked into the error: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(e.project, ".task_orchestrator", "databases", "tasks.db")); !os.IsNotExist(err) {
		t.Fatalf("the database was opened despite the refused config")
	}
}

// A project may turn the task backend off; the tools then say how to turn it back on.
func TestProjectCanTurnTheTaskBackendOff(t *testing.T) {
	e := newEnv(t)
	writeProjectConfig(t, e.project, `{"database_pools":{"operational":{"enabled":false}}}`)
	res := e.call("task_list", map[string]any{})
	if msg := resultText(res); !res.IsError || !strings.Contains(msg, "enabled") {
		t.Fatalf("got %v: %s", res.IsError, msg)
	}
	var info struct {
		Backends []struct {
			Backend string `json:"backend"`
			Enabled bool   `json:"enabled"`
		} `json:"backends"`
	}
	e.ok("workspace_info", map[string]any{}, &info)
	if info.Backends[0].Backend != "operational" || info.Backends[0].Enabled {
		t.Fatalf("workspace_info backends = %+v", info.Backends)
	}
}

// A project's own pool tuning applies to the pools created for it.
func TestProjectPoolTuningApplies(t *testing.T) {
	e := newEnv(t)
	writeProjectConfig(t, e.project, `{"database_pools":{"operational":{"max_connections":3,"min_connections":1}}}`)
	e.ok("task_create", map[string]any{"title": "x"}, nil)
	var st struct {
		Workspaces []struct {
			Pools []struct {
				Name string `json:"name"`
				Max  int    `json:"max"`
			} `json:"pools"`
		} `json:"workspaces"`
	}
	e.ok("pool_status", map[string]any{}, &st)
	found := false
	for _, p := range st.Workspaces[0].Pools {
		if p.Name == "sqlite.readers" {
			found = true
			if p.Max != 3 {
				t.Fatalf("readers max = %d, want the project's 3", p.Max)
			}
		}
	}
	if !found {
		t.Fatalf("no sqlite.readers pool in %+v", st)
	}
}

// Without a workspace argument or roots, the resolver's working directory decides;
// pool_status and workspace_info never open or create anything.
func TestStatusToolsCreateNothing(t *testing.T) {
	e := newEnv(t)
	var info struct {
		Root        string `json:"root"`
		Source      string `json:"source"`
		Initialized bool   `json:"initialized"`
	}
	e.ok("workspace_info", map[string]any{}, &info)
	if info.Root != e.project || info.Source != "cwd" || info.Initialized {
		t.Fatalf("workspace_info = %+v", info)
	}
	var st struct {
		Workspaces []struct {
			Open bool `json:"open"`
		} `json:"workspaces"`
	}
	e.ok("pool_status", map[string]any{}, &st)
	if st.Workspaces[0].Open {
		t.Fatalf("pool_status reports open pools before any task call")
	}
	if _, err := os.Stat(filepath.Join(e.project, ".task_orchestrator")); !os.IsNotExist(err) {
		t.Fatalf("a read-only status tool created .task_orchestrator")
	}
}
