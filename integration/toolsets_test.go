package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// withAllToolsets gives the other tests every tool, as they had before
// toolsets: they call vector_* and graph_* with and without backends. A test
// that chooses toolsets itself (by flag or by server.toolsets) is left alone.
func withAllToolsets(o procOpts) []string {
	if strings.Contains(o.globalConfig, `"toolsets"`) || slices.ContainsFunc(o.args, func(a string) bool { return strings.HasPrefix(a, "--toolsets") }) {
		return o.args
	}
	return append([]string{"--toolsets", "all"}, o.args...)
}

// defaultToolsBudget bounds the default set-up's tools/list result JSON:
// issue 14's target (docs/users/context-and-toolsets.md says how it is met).
const defaultToolsBudget = 20000

// noBackends clears every variable that would configure Chroma or Neo4j.
var noBackends = []string{"CHROMA_URL=", "NEO4J_URI=", "TASK_ORCHESTRATOR_CHROMA_COMMAND=", "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER="}

// listTools returns the tool names and the byte size of the tools/list result JSON.
func listTools(t *testing.T, o procOpts) ([]string, int) {
	t.Helper()
	p := start(t, o)
	res, err := p.c.ListTools(ctxT(t), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	sort.Strings(names)
	return names, len(b)
}

// The default set-up with no backends stays within defaultToolsBudget bytes
// of tools/list, and toolsets list what the table says. Logs the
// measured table (bytes, and tokens at 4 bytes a token).
func TestToolsetsListWhatIsChosenAndTheDefaultFitsTheBudget(t *testing.T) {
	project := newProject(t)
	closed := strconv.Itoa(freePort(t))
	allBackends := []string{"CHROMA_URL=http://127.0.0.1:" + closed, "NEO4J_URI=bolt://127.0.0.1:" + closed,
		"NEO4J_USERNAME=neo4j", "NEO4J_PASSWORD=unused", "TASK_ORCHESTRATOR_CHROMA_COMMAND=", "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER="}
	cases := []struct {
		name  string
		o     procOpts
		has   []string
		lacks []string
	}{
		{"default, no backends", procOpts{dir: project, env: noBackends, args: []string{"--toolsets", "default"}},
			[]string{"task_create", "task_plan", "task_graph", "pool_status", "workspace_info"}, []string{"vector_query", "graph_query", "task_similar", "task_link", "task_reconcile"}},
		{"default, every backend", procOpts{dir: project, env: allBackends, args: []string{"--toolsets", "default"}},
			[]string{"task_create", "vector_query", "graph_query", "task_similar", "task_link", "task_reconcile"}, nil},
		{"server.toolsets [tasks]", procOpts{dir: project, env: noBackends, globalConfig: `{"server":{"toolsets":["tasks"]}}`},
			[]string{"task_create", "task_history"}, []string{"task_graph", "pool_status"}},
		{"--toolsets all", procOpts{dir: project, env: noBackends, args: []string{"--toolsets", "all"}},
			[]string{"vector_query", "graph_query", "task_link"}, nil},
		{"--toolsets dynamic", procOpts{dir: project, env: noBackends, args: []string{"--toolsets", "dynamic"}},
			[]string{"task_create", "toolset_enable"}, []string{"task_graph", "pool_status"}},
	}
	for _, set := range []string{"tasks", "coordination", "ops", "vector", "graph"} {
		cases = append(cases, struct {
			name  string
			o     procOpts
			has   []string
			lacks []string
		}{"--toolsets " + set, procOpts{dir: project, env: noBackends, args: []string{"--toolsets", set}}, []string{"task_get"}, nil})
	}
	var table strings.Builder
	table.WriteString("| set-up | tools | bytes | tokens |\n|---|---|---|---|\n")
	for _, c := range cases {
		names, n := listTools(t, c.o)
		fmt.Fprintf(&table, "| %s | %d | %d | %d |\n", c.name, len(names), n, n/4)
		for _, h := range c.has {
			if !slices.Contains(names, h) {
				t.Errorf("%s: %s is not listed (listed: %v)", c.name, h, names)
			}
		}
		for _, l := range c.lacks {
			if slices.Contains(names, l) {
				t.Errorf("%s: %s is listed but should not be", c.name, l)
			}
		}
		if c.name == "default, no backends" && n > defaultToolsBudget {
			t.Errorf("the default set-up with no backends lists %d bytes of tools, over the budget of %d", n, defaultToolsBudget)
		}
	}
	t.Logf("tools/list result JSON\n%s", table.String())
}

// An unknown toolset stops the server at start with a sentence naming it.
func TestUnknownToolsetIsRefusedWithASentence(t *testing.T) {
	cmd := exec.Command(binPath, "--toolsets", "tasks,bogus")
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the server started with an unknown toolset: %s", out)
	}
	want := `--toolsets names the toolset "bogus", which does not exist; use some of tasks, coordination, ops, vector, graph, all, default, dynamic`
	if !strings.Contains(string(out), want) {
		t.Fatalf("output %q lacks %q", out, want)
	}
}

// toolNames lists the names in a tools/list of c.
func toolNames(t *testing.T, c interface {
	ListTools(context.Context, mcp.ListToolsRequest) (*mcp.ListToolsResult, error)
}) []string {
	t.Helper()
	res, err := c.ListTools(ctxT(t), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	sort.Strings(names)
	return names
}

// In dynamic mode the server lists the tasks toolset and toolset_enable;
// enabling a toolset adds its tools to this client's tools/list and sends
// notifications/tools/list_changed (protocol 2025-11-25).
func TestDynamicToolsetsEnableOneForTheClient(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: noBackends, args: []string{"--toolsets", "dynamic"}, protocol: "2025-11-25"})
	var changed atomic.Int32
	p.c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/tools/list_changed" {
			changed.Add(1)
		}
	})
	names := toolNames(t, p.c)
	if !slices.Contains(names, "toolset_enable") || !slices.Contains(names, "task_claim") || slices.Contains(names, "pool_status") || slices.Contains(names, "task_graph") {
		t.Fatalf("dynamic mode lists %v; want the tasks toolset and toolset_enable only", names)
	}

	var out struct {
		Toolsets []struct {
			Name   string   `json:"name"`
			Tools  []string `json:"tools"`
			Listed bool     `json:"listed"`
		} `json:"toolsets"`
		Enabled []string `json:"enabled"`
	}
	p.ok(ctxT(t), "toolset_enable", map[string]any{}, &out)
	if len(out.Enabled) != 0 || len(out.Toolsets) == 0 {
		t.Fatalf("toolset_enable without enable = %+v; want the toolsets listed and nothing enabled", out)
	}
	for _, s := range out.Toolsets {
		if s.Listed {
			t.Errorf("toolset %s is reported listed before any was enabled", s.Name)
		}
	}

	p.ok(ctxT(t), "toolset_enable", map[string]any{"enable": "ops"}, &out)
	slices.Sort(out.Enabled)
	if !slices.Equal(out.Enabled, []string{"pool_status", "workspace_info"}) {
		t.Fatalf("enabling ops added %v; want pool_status and workspace_info", out.Enabled)
	}
	deadline := time.Now().Add(5 * time.Second)
	for changed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if changed.Load() == 0 {
		t.Error("no notifications/tools/list_changed within 5 s of enabling ops")
	}
	if names := toolNames(t, p.c); !slices.Contains(names, "pool_status") || slices.Contains(names, "task_graph") {
		t.Fatalf("after enabling ops tools/list is %v; want pool_status and still no task_graph", names)
	}
	p.ok(ctxT(t), "pool_status", map[string]any{}, nil)

	// Enabling it again adds nothing; a name that is not a toolset is refused with a sentence.
	p.ok(ctxT(t), "toolset_enable", map[string]any{"enable": "ops"}, &out)
	if len(out.Enabled) != 0 {
		t.Errorf("enabling ops twice added %v the second time", out.Enabled)
	}
	res := p.call(ctxT(t), "toolset_enable", map[string]any{"enable": "tasks_all"})
	want := `argument "enable" must be one of coordination, ops, vector or graph, not the string "tasks_all"; pass one of those`
	if !res.IsError || text(res) != want {
		t.Fatalf("toolset_enable {enable: tasks_all} = %q (error %v); want %q", text(res), res.IsError, want)
	}
}

// Over Streamable HTTP the enabled toolset is the calling session's own: a
// second client of the same server still sees the small list.
func TestDynamicToolsetsAreEnabledPerHTTPSession(t *testing.T) {
	project := newProject(t)
	h := startHTTPServer(t, procOpts{dir: project, env: noBackends, args: []string{"--toolsets", "dynamic"}, globalConfig: noHTTPLimits}, project, "")
	c1, err := h.connect(t, "2025-11-25", nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := h.connect(t, "2025-11-25", nil)
	if err != nil {
		t.Fatal(err)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "toolset_enable"
	req.Params.Arguments = map[string]any{"enable": "coordination"}
	res, err := c1.CallTool(ctxT(t), req)
	if err != nil || res.IsError {
		t.Fatalf("toolset_enable: %v %v", err, res)
	}
	if names := toolNames(t, c1); !slices.Contains(names, "task_graph") {
		t.Fatalf("client 1 enabled coordination but lists %v", names)
	}
	if names := toolNames(t, c2); slices.Contains(names, "task_graph") {
		t.Fatalf("client 2 lists task_graph, enabled only by client 1: %v", names)
	}
}
