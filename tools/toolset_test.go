package tools_test

import (
	"slices"
	"testing"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func selected(t *testing.T, readOnly bool, choice []string, cfg workspace.Config) []string {
	t.Helper()
	s := server.NewMCPServer("t", "0")
	names := tools.New(&tools.Deps{}).RegisterSelected(s, readOnly, choice, cfg)
	if len(s.ListTools()) != len(names) {
		t.Fatalf("registered %d tools but returned %d names", len(s.ListTools()), len(names))
	}
	return names
}

func TestToolsetsFollowTheConfiguredBackends(t *testing.T) {
	none := workspace.Defaults()
	both := workspace.Defaults()
	both.Backends.ChromaURL = "http://127.0.0.1:1"
	both.Backends.Neo4jURI = "bolt://127.0.0.1:1"
	all := selected(t, false, []string{"all"}, none)
	cases := []struct {
		name     string
		readOnly bool
		choice   []string
		cfg      workspace.Config
		count    int
		has      []string
		lacks    []string
	}{
		{"default, no backends", false, nil, none, 16, []string{"task_graph", "pool_status", "task_plan"}, []string{"task_similar", "task_link", "task_reconcile", "vector_query", "graph_query"}},
		{"default, both backends", false, []string{"default"}, both, len(all), []string{"task_similar", "task_link", "vector_query", "graph_write"}, nil},
		{"only Chroma", false, nil, func() workspace.Config { c := none; c.Backends.ChromaCommand = "chroma"; return c }(), 16 + 8, []string{"task_similar", "task_reconcile", "vector_upsert"}, []string{"task_link", "graph_query"}},
		{"only Neo4j", false, nil, func() workspace.Config { c := none; c.Backends.Neo4jURI = "bolt://127.0.0.1:1"; return c }(), 16 + 9, []string{"task_link", "task_reconcile", "graph_query"}, []string{"task_similar", "vector_query"}},
		{"explicit vector without Chroma", false, []string{"tasks", "vector"}, none, 13 + 6, []string{"vector_query"}, []string{"task_graph", "pool_status"}},
		{"explicit coordination is whole", false, []string{"coordination"}, none, 13 + 4, []string{"task_similar", "task_link"}, []string{"pool_status"}},
		{"read-only default", true, nil, none, 0, []string{"task_get", "task_graph"}, []string{"task_create", "task_reconcile"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := selected(t, c.readOnly, c.choice, c.cfg)
			if c.count > 0 && len(got) != c.count {
				t.Errorf("%d tools listed, want %d: %v", len(got), c.count, got)
			}
			for _, h := range c.has {
				if !slices.Contains(got, h) {
					t.Errorf("%s is not listed: %v", h, got)
				}
			}
			for _, l := range c.lacks {
				if slices.Contains(got, l) {
					t.Errorf("%s is listed: %v", l, got)
				}
			}
		})
	}
}

func TestUnknownToolsetIsASentence(t *testing.T) {
	err := workspace.CheckToolsets("--toolsets", []string{"tasks", "vectors"})
	want := `--toolsets names the toolset "vectors", which does not exist; use some of tasks, coordination, ops, vector, graph, all, default, dynamic`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
