package neo4j_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func keys(ns []neo4j.Neighbor) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Node.Key
	}
	return out
}

func TestResolveSaysHowWithoutTouchingAnything(t *testing.T) {
	layout := workspace.LayoutFor(filepath.Join(t.TempDir(), "never-created"))
	opts := neo4j.Options{Workspace: layout.Root, Layout: layout, Settings: workspace.Defaults().DatabasePools.Graph}

	mode, reason := neo4j.Resolve(opts)
	if mode != neo4j.ModeNone || !strings.Contains(reason, "NEO4J_URI") || !strings.Contains(reason, "neo4j_command") {
		t.Errorf("nothing configured: %s %q", mode, reason)
	}
	_, err := neo4j.Open(context.Background(), opts)
	wantKind(t, err, neo4j.KindNotConfigured, "the graph tools are not configured", "NEO4J_URI", "backends.neo4j_command")

	opts.Backends.Neo4jCommand = []string{"neo4j", "console", "{port}"}
	if mode, reason := neo4j.Resolve(opts); mode != neo4j.ModeNone || !strings.Contains(reason, "absolute path") {
		t.Errorf("relative command: %s %q", mode, reason)
	}
	opts.Backends.Neo4jCommand = []string{"/bin/sh", "-c", "sleep 1"}
	if mode, reason := neo4j.Resolve(opts); mode != neo4j.ModeNone || !strings.Contains(reason, "{port}") {
		t.Errorf("command without {port}: %s %q", mode, reason)
	}
	opts.Backends.Neo4jCommand = []string{"/bin/sh", "-c", "exec server --port {port}"}
	mode, reason = neo4j.Resolve(opts)
	if mode != neo4j.ModeManaged || !strings.Contains(reason, filepath.Join(layout.Databases, "neo4j")) {
		t.Errorf("managed: %s %q", mode, reason)
	}

	opts.Backends.Neo4jURI = "neo4j://user:hunter2@db.internal:7687"
	opts.Backends.Neo4jPassword = "s3cret-pw"
	mode, reason = neo4j.Resolve(opts)
	if mode != neo4j.ModeShared || !strings.Contains(reason, "neo4j://db.internal:7687") ||
		!strings.Contains(reason, neo4j.ProjectID(layout.Root)) || !strings.Contains(reason, "raw Cypher off") {
		t.Errorf("shared: %s %q", mode, reason)
	}
	if strings.Contains(reason, "hunter2") || strings.Contains(reason, "s3cret") {
		t.Errorf("the reason shows a credential: %q", reason)
	}
	opts.Backends.Neo4jDedicatedProjects = []string{layout.Root}
	if _, reason := neo4j.Resolve(opts); !strings.Contains(reason, "raw Cypher allowed") {
		t.Errorf("dedicated: %q", reason)
	}
	if _, err := os.Stat(layout.Root); !os.IsNotExist(err) {
		t.Errorf("Resolve and a refused Open created %s: %v", layout.Root, err)
	}

	off := false
	opts.Settings.Enabled = &off
	_, err = neo4j.Open(context.Background(), opts)
	wantKind(t, err, neo4j.KindNotConfigured, "database_pools.graph.enabled")
}

func TestProjectIDIsStableAndDistinct(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	id := neo4j.ProjectID(a)
	if len(id) != 24 || id != neo4j.ProjectID(a+"/") || id != neo4j.ProjectID(link) || id == neo4j.ProjectID(b) {
		t.Errorf("ProjectID: a %s, a/ %s, link %s, b %s", id, neo4j.ProjectID(a+"/"), neo4j.ProjectID(link), neo4j.ProjectID(b))
	}
}

// Two projects merge the same (label, key) on one shared server: neither sees
// the other's node, properties, neighbours or schema, and deleting one's node
// leaves the other's.
func TestSharedServerIsolatesProjects(t *testing.T) {
	ctx := context.Background()
	la, lb := project(t), project(t)
	a, b := open(t, sharedOptions(la, false)), open(t, sharedOptions(lb, false))
	if in := a.Info(); in.Mode != neo4j.ModeShared || in.ProjectID != neo4j.ProjectID(la.Root) || in.RawCypher || in.URI != neo4jURI {
		t.Errorf("Info = %+v", in)
	}

	na := merge(t, a, "File", "main.go", map[string]any{"owner": "ada", "lines": 120})
	nb := merge(t, b, "File", "main.go", map[string]any{"owner": "bob"})
	if na.Properties["owner"] != "ada" || nb.Properties["owner"] != "bob" || nb.Properties["lines"] != nil {
		t.Fatalf("merge results: A %v, B %v", na.Properties, nb.Properties)
	}
	for _, leak := range []string{"_project", "_pk", "key"} {
		if _, ok := na.Properties[leak]; ok {
			t.Errorf("the node shows %s among its properties: %v", leak, na.Properties)
		}
	}
	merge(t, a, "Component", "parser", map[string]any{"lang": "go"})
	relate(t, a, neo4j.NodeRef{Label: "File", Key: "main.go"}, neo4j.NodeRef{Label: "Component", Key: "parser"}, "PART_OF",
		map[string]any{"since": 2024})

	// Two nodes on the server, one per project.
	rows := adminRun(t, "MATCH (n:File {key: 'main.go'}) WHERE n._project IN $ps RETURN n._project AS p, n.owner AS o ORDER BY o",
		map[string]any{"ps": []string{neo4j.ProjectID(la.Root), neo4j.ProjectID(lb.Root)}})
	if len(rows) != 2 || rows[0]["p"] != neo4j.ProjectID(la.Root) || rows[1]["p"] != neo4j.ProjectID(lb.Root) {
		t.Fatalf("nodes on the server: %v", rows)
	}

	from := neo4j.NodeRef{Label: "File", Key: "main.go"}
	nsA, _, err := a.Neighbors(ctx, neo4j.NeighborsRequest{From: from, Depth: 2})
	if err != nil || len(nsA) != 1 || nsA[0].Node.Key != "parser" || nsA[0].Node.Properties["lang"] != "go" {
		t.Fatalf("A's neighbours = %+v, %v", nsA, err)
	}
	nsB, _, err := b.Neighbors(ctx, neo4j.NeighborsRequest{From: from, Depth: 2})
	if err != nil || len(nsB) != 0 {
		t.Fatalf("B's neighbours = %+v, %v; want none", nsB, err)
	}
	// B cannot reach A's component, nor relate to it.
	_, _, err = b.Neighbors(ctx, neo4j.NeighborsRequest{From: neo4j.NodeRef{Label: "Component", Key: "parser"}})
	wantKind(t, err, neo4j.KindNotFound, "parser")
	_, err = b.MergeRelationship(ctx, from, neo4j.NodeRef{Label: "Component", Key: "parser"}, "PART_OF", nil)
	wantKind(t, err, neo4j.KindNotFound, "parser")

	scA, err := a.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scB, err := b.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(scA.Labels, []string{"Component", "File"}) || !slices.Equal(scA.RelationshipTypes, []string{"PART_OF"}) ||
		!slices.Equal(scA.PropertyKeys, []string{"key", "lang", "lines", "owner", "since"}) {
		t.Errorf("A's schema = %+v", scA)
	}
	if !slices.Equal(scB.Labels, []string{"File"}) || len(scB.RelationshipTypes) != 0 ||
		!slices.Equal(scB.PropertyKeys, []string{"key", "owner"}) {
		t.Errorf("B's schema = %+v (shows A's graph?)", scB)
	}

	n, err := a.DeleteNode(ctx, from)
	if err != nil || n != 1 {
		t.Fatalf("DeleteNode(A's main.go) = %d, %v; want 1 relationship removed", n, err)
	}
	nb = merge(t, b, "File", "main.go", nil)
	if nb.Properties["owner"] != "bob" {
		t.Fatalf("deleting A's node touched B's: %v", nb.Properties)
	}
	_, err = a.DeleteNode(ctx, from)
	wantKind(t, err, neo4j.KindNotFound, "main.go")
}

// The uniqueness constraint on (_project, key) is created on the first use
// of a label, once for every project, and it holds.
func TestSharedConstraintIsCreatedOnceAndHolds(t *testing.T) {
	label := randomName("Once")
	t.Cleanup(func() {
		adminRun(t, "DROP CONSTRAINT "+"task_orchestrator_"+label+"_project_key IF EXISTS", nil)
	})
	la, lb := project(t), project(t)
	a, b := open(t, sharedOptions(la, false)), open(t, sharedOptions(lb, false))
	merge(t, a, label, "k1", nil)
	merge(t, a, label, "k2", nil)
	merge(t, b, label, "k1", nil)
	b2 := open(t, sharedOptions(lb, false)) // another store of B (another process, say)
	merge(t, b2, label, "k3", nil)

	rows := adminRun(t, "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties WHERE $l IN labelsOrTypes RETURN *",
		map[string]any{"l": label})
	if len(rows) != 1 {
		t.Fatalf("constraints on %s: %v; want exactly one", label, rows)
	}
	c := rows[0]
	if c["name"] != "task_orchestrator_"+label+"_project_key" || c["type"] != "UNIQUENESS" ||
		!slices.Equal(c["properties"].([]any), []any{"_project", "key"}) {
		t.Errorf("constraint = %v", c)
	}
	// It holds: a second node with A's (_project, key) is refused by the server.
	_, err := a.Write(context.Background(), "RETURN 1", nil) // raw Cypher is off here (shared, not dedicated)
	wantKind(t, err, neo4j.KindForbidden)
	d := project(t)
	dedicated := open(t, sharedOptions(d, true))
	_, err = dedicated.Write(context.Background(), "CREATE (:"+label+" {_project: $p, key: 'k1'})",
		map[string]any{"p": neo4j.ProjectID(la.Root)})
	wantKind(t, err, neo4j.KindQuery, "uniqueness constraint")
	if got := adminRun(t, "MATCH (n:"+label+") RETURN count(n) AS c", nil)[0]["c"]; got != int64(4) {
		t.Errorf("%d %s nodes, want 4", got, label)
	}
}

// Raw Cypher cannot be confined to one project on a shared server: refused
// unless the server is dedicated to the project (its root, symlinks resolved).
func TestRawCypherOnASharedServerOnlyWhenDedicated(t *testing.T) {
	ctx := context.Background()
	layout := project(t)
	s := open(t, sharedOptions(layout, false))
	for name, run := range map[string]func() (neo4j.Result, error){
		"Query": func() (neo4j.Result, error) { return s.Query(ctx, "MATCH (n) RETURN count(n) AS n", nil) },
		"Write": func() (neo4j.Result, error) { return s.Write(ctx, "CREATE (n:Sneaky) RETURN n", nil) },
	} {
		_, err := run()
		wantKind(t, err, neo4j.KindForbidden, "raw Cypher cannot be confined to one project",
			"backends.neo4j_dedicated_projects", "global config")
		if name == "Write" && len(adminRun(t, "MATCH (n:Sneaky) RETURN n", nil)) != 0 {
			t.Errorf("a refused Write created a node")
		}
	}

	// Dedicated through a symlink to the root: allowed.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(layout.Root, link); err != nil {
		t.Fatal(err)
	}
	opts := sharedOptions(layout, false)
	opts.Backends.Neo4jDedicatedProjects = []string{"/somewhere/else", link}
	d := open(t, opts)
	if !d.Info().RawCypher {
		t.Errorf("Info().RawCypher = false for a dedicated project")
	}
	res, err := d.Query(ctx, "RETURN $x + 1 AS y", map[string]any{"x": float64(41)})
	if err != nil || len(res.Rows) != 1 || res.Rows[0]["y"] != int64(42) {
		t.Fatalf("Query on a dedicated server = %+v, %v", res, err)
	}
}

// Merge, neighbours (depth, types, direction, limit) and delete, round trip.
func TestMergeNeighborsDeleteRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t, sharedOptions(project(t), false))
	ref := func(k string) neo4j.NodeRef { return neo4j.NodeRef{Label: "Mod", Key: k} }
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		merge(t, s, "Mod", k, map[string]any{"name": strings.ToUpper(k)})
	}
	// a -USES-> b -USES-> c -USES-> f ; a -OWNS-> d ; e -USES-> a
	relate(t, s, ref("a"), ref("b"), "USES", nil)
	relate(t, s, ref("b"), ref("c"), "USES", nil)
	relate(t, s, ref("c"), ref("f"), "USES", nil)
	relate(t, s, ref("a"), ref("d"), "OWNS", nil)
	relate(t, s, ref("e"), ref("a"), "USES", nil)

	// Merge again: properties set, kept, removed (null); one node, one relationship.
	n := merge(t, s, "Mod", "a", map[string]any{"tags": []any{"x", "y"}, "name": nil, "weight": 1.5, "count": float64(3)})
	if _, ok := n.Properties["name"]; ok || n.Properties["weight"] != 1.5 || n.Properties["count"] != int64(3) ||
		!slices.Equal(n.Properties["tags"].([]any), []any{"x", "y"}) || n.Key != "a" || n.Label != "Mod" ||
		!slices.Equal(n.Labels, []string{"Mod"}) {
		t.Errorf("merged node = %+v", n)
	}
	r := relate(t, s, ref("a"), ref("b"), "USES", map[string]any{"strength": 2})
	if r.Type != "USES" || r.From != ref("a") || r.To != ref("b") || r.Properties["strength"] != int64(2) {
		t.Errorf("relationship = %+v", r)
	}
	sc, err := s.Schema(ctx)
	if err != nil || !slices.Equal(sc.RelationshipTypes, []string{"OWNS", "USES"}) {
		t.Errorf("schema = %+v, %v", sc, err)
	}

	cases := []struct {
		name string
		req  neo4j.NeighborsRequest
		want []string
	}{
		{"depth 1 both ways", neo4j.NeighborsRequest{From: ref("a")}, []string{"b", "d", "e"}},
		{"depth 2 out", neo4j.NeighborsRequest{From: ref("a"), Depth: 2, Direction: "out"}, []string{"b", "d", "c"}},
		{"depth 3 out", neo4j.NeighborsRequest{From: ref("a"), Depth: 3, Direction: "out"}, []string{"b", "d", "c", "f"}},
		{"in", neo4j.NeighborsRequest{From: ref("a"), Depth: 5, Direction: "in"}, []string{"e"}},
		{"types", neo4j.NeighborsRequest{From: ref("a"), Depth: 5, Types: []string{"OWNS"}}, []string{"d"}},
		{"two types", neo4j.NeighborsRequest{From: ref("b"), Depth: 2, Types: []string{"OWNS", "USES"}, Direction: "in"}, []string{"a", "e"}},
		{"limit keeps the nearest", neo4j.NeighborsRequest{From: ref("a"), Depth: 5, Direction: "out", Limit: 2}, []string{"b", "d"}},
		{"unknown type", neo4j.NeighborsRequest{From: ref("a"), Types: []string{"NEVER"}}, []string{}},
	}
	for _, tc := range cases {
		ns, _, err := s.Neighbors(ctx, tc.req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := keys(ns); !slices.Equal(got, tc.want) {
			t.Errorf("%s: neighbours %v, want %v", tc.name, got, tc.want)
		}
	}
	ns, _, err := s.Neighbors(ctx, neo4j.NeighborsRequest{From: ref("a"), Depth: 3, Direction: "out"})
	if err != nil {
		t.Fatal(err)
	}
	f := ns[3]
	if f.Node.Key != "f" || f.Distance != 3 || !slices.Equal(f.Via, []string{"USES", "USES", "USES"}) || f.Node.Properties["name"] != "F" {
		t.Errorf("f = %+v", f)
	}
	if ns[0].Distance != 1 || !slices.Equal(ns[0].Via, []string{"USES"}) {
		t.Errorf("b = %+v", ns[0])
	}

	removed, err := s.DeleteNode(ctx, ref("a"))
	if err != nil || removed != 3 {
		t.Fatalf("DeleteNode(a) = %d, %v; want 3 relationships removed", removed, err)
	}
	ns, _, err = s.Neighbors(ctx, neo4j.NeighborsRequest{From: ref("b"), Depth: 5})
	if err != nil || !slices.Equal(keys(ns), []string{"c", "f"}) {
		t.Errorf("after deleting a, b's neighbours = %v, %v", keys(ns), err)
	}
	_, err = s.DeleteNode(ctx, ref("a"))
	wantKind(t, err, neo4j.KindNotFound, `"a"`, "graph_merge_node")
	_, _, err = s.Neighbors(ctx, neo4j.NeighborsRequest{From: ref("a")})
	wantKind(t, err, neo4j.KindNotFound, `"a"`)
}

// Bad input is refused before anything reaches the server, with the field at fault.
func TestBadInputIsRefusedWithTheFieldAtFault(t *testing.T) {
	ctx := context.Background()
	layout := project(t)
	s := open(t, sharedOptions(layout, false))
	node := func(label, key string, props map[string]any) func() error {
		return func() error { _, err := s.MergeNode(ctx, neo4j.NodeRef{Label: label, Key: key}, props); return err }
	}
	ok := neo4j.NodeRef{Label: "File", Key: "k"}
	cases := []struct {
		name, field string
		call        func() error
	}{
		{"label with a space", "label", node("Bad Label", "k", nil)},
		{"label injection", "label", node("A` DETACH DELETE n //", "k", nil)},
		{"label injection 2", "label", node("A}) MATCH (m) DETACH DELETE m //", "k", nil)},
		{"internal label", "label", node("_Secret", "k", nil)},
		{"empty label", "label", node("", "k", nil)},
		{"label too long", "label", node(strings.Repeat("L", 65), "k", nil)},
		{"label starting with a digit", "label", node("1File", "k", nil)},
		{"empty key", "key", node("File", "", nil)},
		{"key too long", "key", node("File", strings.Repeat("k", neo4j.MaxKeyLength+1), nil)},
		{"nested property", "properties.a", node("File", "k", map[string]any{"a": map[string]any{"b": 1}})},
		{"array of objects", "properties.a[0]", node("File", "k", map[string]any{"a": []any{map[string]any{}}})},
		{"nested array", "properties.a[1]", node("File", "k", map[string]any{"a": []any{"x", []any{"y"}}})},
		{"mixed array", "properties.a[1]", node("File", "k", map[string]any{"a": []any{"x", 1.0}})},
		{"null in an array", "properties.a[0]", node("File", "k", map[string]any{"a": []any{nil}})},
		{"property named key", "properties.key", node("File", "k", map[string]any{"key": "other"})},
		{"internal property", "properties._project", node("File", "k", map[string]any{"_project": "someone-else"})},
		{"bad property name", "properties.a b", node("File", "k", map[string]any{"a b": 1})},
		{"bad relationship type", "type", func() error {
			_, err := s.MergeRelationship(ctx, ok, ok, "USES-IT", nil)
			return err
		}},
		{"relationship type injection", "type", func() error {
			_, err := s.MergeRelationship(ctx, ok, ok, "R]->(b) DETACH DELETE b //", nil)
			return err
		}},
		{"bad from label", "from.label", func() error {
			_, err := s.MergeRelationship(ctx, neo4j.NodeRef{Label: "x y", Key: "k"}, ok, "USES", nil)
			return err
		}},
		{"depth 50", "depth", func() error {
			_, _, err := s.Neighbors(ctx, neo4j.NeighborsRequest{From: ok, Depth: 50})
			return err
		}},
		{"negative depth", "depth", func() error {
			_, _, err := s.Neighbors(ctx, neo4j.NeighborsRequest{From: ok, Depth: -1})
			return err
		}},
		{"limit too large", "limit", func() error {
			_, _, err := s.Neighbors(ctx, neo4j.NeighborsRequest{From: ok, Limit: 1001})
			return err
		}},
		{"bad direction", "direction", func() error {
			_, _, err := s.Neighbors(ctx, neo4j.NeighborsRequest{From: ok, Direction: "up"})
			return err
		}},
		{"bad type filter", "types[1]", func() error {
			_, _, err := s.Neighbors(ctx, neo4j.NeighborsRequest{From: ok, Types: []string{"OK", "NOT|OK"}})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := wantKind(t, tc.call(), neo4j.KindInvalid)
			if e.Field != tc.field {
				t.Errorf("field = %q, want %q (message %q)", e.Field, tc.field, e.Msg)
			}
		})
	}
	// A relationship to a node that does not exist names it.
	merge(t, s, "File", "exists", nil)
	_, err := s.MergeRelationship(ctx, neo4j.NodeRef{Label: "File", Key: "exists"}, neo4j.NodeRef{Label: "File", Key: "nope2"}, "USES", nil)
	e := wantKind(t, err, neo4j.KindNotFound, "nope2", "graph_merge_node")
	if e.Field != "to" {
		t.Errorf("field = %q, want to", e.Field)
	}
	_, err = s.MergeRelationship(ctx, neo4j.NodeRef{Label: "File", Key: "nope1"}, neo4j.NodeRef{Label: "File", Key: "nope2"}, "USES", nil)
	wantKind(t, err, neo4j.KindNotFound, "nope1", "nope2")
	// Nothing but the one good node was written.
	if c := adminRun(t, "MATCH (n) WHERE n._project = $p RETURN count(n) AS c",
		map[string]any{"p": neo4j.ProjectID(layout.Root)})[0]["c"]; c != int64(1) {
		t.Errorf("%v nodes in the project after refused input, want 1", c)
	}
	if c := adminRun(t, "MATCH (n:Secret) RETURN count(n) AS c", nil)[0]["c"]; c != int64(0) {
		t.Errorf("an injection created nodes")
	}
}
