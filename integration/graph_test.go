package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shared Neo4j comes from integration/test-all.sh; without it the graph
// tests fail: they never skip.
func neo4jEnvVar(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the tests with `bash integration/test-all.sh`, which fetches and starts Neo4j", name)
	}
	return v
}

func sharedNeo4jEnv(t testing.TB) []string {
	return []string{
		"NEO4J_URI=" + neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_URI"),
		"NEO4J_USERNAME=neo4j",
		"NEO4J_PASSWORD=" + neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD"),
	}
}

func jsonConfig(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type nodeOut struct {
	Node struct {
		Label      string         `json:"label"`
		Key        string         `json:"key"`
		Properties map[string]any `json:"properties"`
	} `json:"node"`
}

type cypherOut struct {
	Columns   []string         `json:"columns"`
	Rows      []map[string]any `json:"rows"`
	Truncated bool             `json:"truncated"`
}

// Two projects write the same (label, key) to one shared Neo4j through one MCP
// server: each sees only its own node, neighbours and schema, and raw Cypher
// is refused because a shared server cannot confine it to one project.
func TestGraphProjectsAreIsolatedOnASharedServer(t *testing.T) {
	a, b := newProject(t), newProject(t)
	p := start(t, procOpts{dir: t.TempDir(), env: sharedNeo4jEnv(t)})
	ctx := ctxT(t)
	var na, nb nodeOut
	p.ok(ctx, "graph_merge_node", map[string]any{"workspace": a, "label": "File", "key": "main.go", "properties": map[string]any{"owner": "ada"}}, &na)
	p.ok(ctx, "graph_merge_node", map[string]any{"workspace": b, "label": "File", "key": "main.go", "properties": map[string]any{"owner": "bob"}}, &nb)
	p.ok(ctx, "graph_merge_node", map[string]any{"workspace": a, "label": "Component", "key": "parser"}, nil)
	p.ok(ctx, "graph_merge_relationship", map[string]any{"workspace": a, "from": map[string]any{"label": "File", "key": "main.go"},
		"to": map[string]any{"label": "Component", "key": "parser"}, "type": "PART_OF"}, nil)
	if na.Node.Properties["owner"] != "ada" || nb.Node.Properties["owner"] != "bob" {
		t.Fatalf("merge results: A %v, B %v", na.Node.Properties, nb.Node.Properties)
	}
	for _, leak := range []string{"_project", "_pk"} {
		if _, ok := na.Node.Properties[leak]; ok {
			t.Fatalf("the node shows the internal property %s", leak)
		}
	}
	var nbA, nbB struct {
		Neighbors []struct {
			Node struct {
				Key string `json:"key"`
			} `json:"node"`
		} `json:"neighbors"`
	}
	p.ok(ctx, "graph_neighbors", map[string]any{"workspace": a, "label": "File", "key": "main.go", "depth": 2}, &nbA)
	p.ok(ctx, "graph_neighbors", map[string]any{"workspace": b, "label": "File", "key": "main.go", "depth": 2}, &nbB)
	if len(nbA.Neighbors) != 1 || nbA.Neighbors[0].Node.Key != "parser" || len(nbB.Neighbors) != 0 {
		t.Fatalf("neighbours: A %+v, B %+v", nbA.Neighbors, nbB.Neighbors)
	}
	var schB struct {
		Labels            []string `json:"labels"`
		RelationshipTypes []string `json:"relationship_types"`
	}
	p.ok(ctx, "graph_schema", map[string]any{"workspace": b}, &schB)
	if strings.Contains(strings.Join(schB.Labels, ","), "Component") || len(schB.RelationshipTypes) != 0 {
		t.Fatalf("project B's schema shows project A's graph: %+v", schB)
	}
	for _, tool := range []string{"graph_query", "graph_write"} {
		res := p.call(ctx, tool, map[string]any{"workspace": a, "cypher": "MATCH (n) RETURN count(n) AS n"})
		if msg := text(res); !res.IsError || !strings.Contains(msg, "neo4j_dedicated_projects") {
			t.Fatalf("%s on a shared server: %v %q", tool, res.IsError, msg)
		}
	}
	var del struct {
		RelationshipsRemoved int `json:"relationships_removed"`
	}
	p.ok(ctx, "graph_delete_node", map[string]any{"workspace": a, "label": "File", "key": "main.go"}, &del)
	if del.RelationshipsRemoved != 1 {
		t.Fatalf("deleting A's main.go removed %d relationships, want 1", del.RelationshipsRemoved)
	}
	p.ok(ctx, "graph_merge_node", map[string]any{"workspace": b, "label": "File", "key": "main.go"}, &nb)
	if nb.Node.Properties["owner"] != "bob" {
		t.Fatalf("deleting A's node touched B's: %v", nb.Node.Properties)
	}
	// Clean up what this test wrote on the shared server.
	p.ok(ctx, "graph_delete_node", map[string]any{"workspace": a, "label": "Component", "key": "parser"}, nil)
	p.ok(ctx, "graph_delete_node", map[string]any{"workspace": b, "label": "File", "key": "main.go"}, nil)
	if strings.Contains(p.stderr.String(), neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD")) {
		t.Fatalf("the Neo4j password reached the server log")
	}
}

// A shared server dedicated to a project (global config) lets that project run
// raw Cypher, behind the read-only guard that Neo4j's own plan decides.
func TestGraphReadOnlyGuardOnADedicatedServer(t *testing.T) {
	project := newProject(t)
	cfg := jsonConfig(t, map[string]any{"backends": map[string]any{"neo4j_dedicated_projects": []string{project}}})
	p := start(t, procOpts{dir: project, env: sharedNeo4jEnv(t), globalConfig: cfg})
	ctx := ctxT(t)
	var w cypherOut
	p.ok(ctx, "graph_write", map[string]any{"workspace": project, "cypher": "CREATE (n:GuardTest {name: $name}) RETURN n.name AS name", "params": map[string]any{"name": "g1"}}, &w)
	if len(w.Rows) != 1 || w.Rows[0]["name"] != "g1" {
		t.Fatalf("graph_write rows = %v", w.Rows)
	}
	var q cypherOut
	p.ok(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "MATCH (n:GuardTest) WHERE n.name = $name RETURN n.name AS name", "params": map[string]any{"name": "g1"}}, &q)
	if len(q.Rows) != 1 {
		t.Fatalf("graph_query rows = %v", q.Rows)
	}
	refused := []string{
		"CREATE (n:GuardTest {name: 'sneaky'}) RETURN n",
		"MATCH (n:GuardTest) SET n.x = 1 RETURN n",
		"MATCH (n:GuardTest) DETACH DELETE n",
		"MERGE (n:GuardTest {name: 'm'}) RETURN n",
		"LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line",
		"load csv from 'file:///etc/hostname' as l return l",
		"CALL dbms.listConfig() YIELD name RETURN name",
	}
	for _, cy := range refused {
		res := p.call(ctx, "graph_query", map[string]any{"workspace": project, "cypher": cy})
		if msg := text(res); !res.IsError || !(strings.Contains(msg, "not_read_only") || strings.Contains(msg, "query_error")) {
			t.Errorf("graph_query(%q) was not refused: %v %q", cy, res.IsError, truncate(msg, 300))
		}
	}
	p.ok(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "MATCH (n:GuardTest) RETURN count(n) AS c"}, &q)
	if c, _ := q.Rows[0]["c"].(float64); c != 1 {
		t.Fatalf("a refused statement changed the graph: %v GuardTest nodes", q.Rows[0]["c"])
	}
	// A parameter of the wrong type is the server's clear error, not a crash.
	res := p.call(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "MATCH (n:GuardTest) RETURN n LIMIT $n", "params": map[string]any{"n": "ten"}})
	if msg := text(res); !res.IsError || !strings.Contains(msg, "query_error") {
		t.Errorf("LIMIT with a string parameter: %v %q", res.IsError, truncate(msg, 300))
	}
	p.ok(ctx, "graph_write", map[string]any{"workspace": project, "cypher": "MATCH (n:GuardTest) DETACH DELETE n"}, nil)
}

// Bad graph input gets a clear tool error.
func TestGraphBadInput(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: sharedNeo4jEnv(t)})
	ctx := ctxT(t)
	ws := project
	cases := []struct {
		name, tool string
		args       map[string]any
		want       string
	}{
		{"label with a space", "graph_merge_node", map[string]any{"workspace": ws, "label": "Bad Label", "key": "k"}, "label"},
		{"label injection", "graph_merge_node", map[string]any{"workspace": ws, "label": "A` DETACH DELETE n //", "key": "k"}, "label"},
		{"internal label", "graph_merge_node", map[string]any{"workspace": ws, "label": "_Secret", "key": "k"}, "label"},
		{"empty key", "graph_merge_node", map[string]any{"workspace": ws, "label": "File", "key": ""}, "key"},
		{"nested property", "graph_merge_node", map[string]any{"workspace": ws, "label": "File", "key": "k", "properties": map[string]any{"a": map[string]any{"b": 1}}}, "propert"},
		{"bad property key", "graph_merge_node", map[string]any{"workspace": ws, "label": "File", "key": "k", "properties": map[string]any{"a b": 1}}, "propert"},
		{"relationship to a missing node", "graph_merge_relationship", map[string]any{"workspace": ws, "from": map[string]any{"label": "File", "key": "nope1"},
			"to": map[string]any{"label": "File", "key": "nope2"}, "type": "USES"}, "nope1"},
		{"bad relationship type", "graph_merge_relationship", map[string]any{"workspace": ws, "from": map[string]any{"label": "File", "key": "a"},
			"to": map[string]any{"label": "File", "key": "b"}, "type": "USES-IT"}, "type"},
		{"depth too large", "graph_neighbors", map[string]any{"workspace": ws, "label": "File", "key": "a", "depth": 9}, "depth"},
		{"depth of 50", "graph_neighbors", map[string]any{"workspace": ws, "label": "File", "key": "a", "depth": 50}, "depth"},
		{"type injection", "graph_neighbors", map[string]any{"workspace": ws, "label": "File", "key": "a", "types": []string{"X]->() DETACH DELETE n //"}}, "type"},
		{"relationship type injection", "graph_merge_relationship", map[string]any{"workspace": ws, "from": map[string]any{"label": "File", "key": "a"},
			"to": map[string]any{"label": "File", "key": "b"}, "type": "X]->(m) DELETE m //"}, "type"},
		{"unknown start node", "graph_neighbors", map[string]any{"workspace": ws, "label": "File", "key": "no-such-node"}, "no-such-node"},
		{"depth of the wrong type", "graph_neighbors", map[string]any{"workspace": ws, "label": "File", "key": "a", "depth": "two"}, "depth"},
		{"properties of the wrong type", "graph_merge_node", map[string]any{"workspace": ws, "label": "File", "key": "k", "properties": "owner=ada"}, "properties"},
		{"bad direction", "graph_neighbors", map[string]any{"workspace": ws, "label": "File", "key": "a", "direction": "up"}, "direction"},
		{"delete a missing node", "graph_delete_node", map[string]any{"workspace": ws, "label": "File", "key": "never-there"}, "never-there"},
		{"empty cypher", "graph_query", map[string]any{"workspace": ws, "cypher": "  "}, "cypher"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := p.call(ctx, tc.tool, tc.args)
			msg := text(res)
			if !res.IsError {
				t.Fatalf("succeeded: %s", truncate(msg, 300))
			}
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.want)) {
				t.Errorf("error %q does not mention %q", truncate(msg, 300), tc.want)
			}
		})
	}
}

// A neo4j:// (routing) URI works as well as bolt:// against a single server.
func TestGraphRoutingSchemeWorks(t *testing.T) {
	project := newProject(t)
	env := sharedNeo4jEnv(t)
	env[0] = "NEO4J_URI=" + strings.Replace(neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_URI"), "bolt://", "neo4j://", 1)
	p := start(t, procOpts{dir: project, env: env})
	ctx := ctxT(t)
	var n nodeOut
	p.ok(ctx, "graph_merge_node", map[string]any{"workspace": project, "label": "Routed", "key": "r1", "properties": map[string]any{"via": "neo4j"}}, &n)
	if n.Node.Properties["via"] != "neo4j" {
		t.Fatalf("merge over neo4j:// returned %+v", n.Node)
	}
	p.ok(ctx, "graph_delete_node", map[string]any{"workspace": project, "label": "Routed", "key": "r1"}, nil)
}

// A managed Neo4j per project: started on the first graph call with its data
// under the project, raw Cypher allowed (the graph is the project's own), data
// kept across restarts of the MCP server, and no Java process left behind.
func TestGraphManagedServerPerProject(t *testing.T) {
	project := newProject(t)
	script, err := filepath.Abs("neo4j.sh")
	if err != nil {
		t.Fatal(err)
	}
	neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_LIB") // the jars are fetched by test-all.sh
	cfg := jsonConfig(t, map[string]any{"backends": map[string]any{
		"neo4j_command": []string{script, "run", "{data_dir}", "{port}", "{password}"}, "neo4j_start_timeout": 240}})
	env := []string{"NEO4J_URI="}
	ctx := ctxT(t)
	p := start(t, procOpts{dir: project, env: env, globalConfig: cfg})
	t0 := time.Now()
	p.ok(ctx, "graph_merge_node", map[string]any{"workspace": project, "label": "Decision", "key": "use-neo4j", "properties": map[string]any{"why": "cypher"}}, nil)
	t.Logf("first graph call (starting Neo4j for the project) took %v", time.Since(t0))
	dataDir := filepath.Join(project, ".task_orchestrator", "databases", "neo4j")
	if fi, err := os.Stat(dataDir); err != nil || !fi.IsDir() {
		t.Fatalf("managed Neo4j data is not under the project: %v", err)
	}
	var q cypherOut
	p.ok(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "MATCH (d:Decision) RETURN d.key AS key, d.why AS why"}, &q)
	if len(q.Rows) != 1 || q.Rows[0]["why"] != "cypher" {
		t.Fatalf("graph_query on the managed server: %+v", q.Rows)
	}
	p.close()
	waitFor(t, 60*time.Second, func() bool { return javaProcesses(dataDir) == 0 }, "the managed Neo4j to stop with the MCP server")

	p2 := start(t, procOpts{dir: project, env: env, globalConfig: cfg})
	p2.ok(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "MATCH (d:Decision {key: 'use-neo4j'}) RETURN d.why AS why"}, &q)
	if len(q.Rows) != 1 || q.Rows[0]["why"] != "cypher" {
		t.Fatalf("after a restart: %+v", q.Rows)
	}
	p2.close()
	waitFor(t, 60*time.Second, func() bool { return javaProcesses(dataDir) == 0 }, "the managed Neo4j to stop again")
}

// javaProcesses counts live processes whose command line names dataDir.
func javaProcesses(dataDir string) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), dataDir) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
			continue
		}
		n++
	}
	return n
}
