package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

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

// defaultToolsBudget bounds the default set-up's tools/list result JSON.
// The target is 20,000 (see docs/users/context-and-toolsets.md for
// why 17 tools with their output schemas cannot reach it); lower this as
// the schemas get leaner.
const defaultToolsBudget = 34000

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
			[]string{"task_create", "task_plan", "task_graph", "task_reconcile", "pool_status"}, []string{"vector_query", "graph_query", "task_similar", "task_link"}},
		{"default, every backend", procOpts{dir: project, env: allBackends, args: []string{"--toolsets", "default"}},
			[]string{"task_create", "vector_query", "graph_query", "task_similar", "task_link"}, nil},
		{"server.toolsets [tasks]", procOpts{dir: project, env: noBackends, globalConfig: `{"server":{"toolsets":["tasks"]}}`},
			[]string{"task_create", "task_history"}, []string{"task_graph", "pool_status"}},
		{"--toolsets all", procOpts{dir: project, env: noBackends, args: []string{"--toolsets", "all"}},
			[]string{"vector_query", "graph_query", "task_link"}, nil},
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
		// Issue 14's target is 20,000 bytes; the descriptions and output
		// schemas are not slimmed yet (43,036 bytes measured), so this holds
		// the line against growth until they are.
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
	want := `--toolsets names the toolset "bogus", which does not exist; use some of tasks, coordination, ops, vector, graph, all, default`
	if !strings.Contains(string(out), want) {
		t.Fatalf("output %q lacks %q", out, want)
	}
}
